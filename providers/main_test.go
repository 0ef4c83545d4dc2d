package providers

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	aemm "github.com/aws/amazon-ec2-metadata-mock/pkg/cmd/root"

	"github.com/flintboot/flint/resource"
)

// TestMain doubles as AWS's amazon-ec2-metadata-mock: when re-executed with
// FLINT_TEST_AEMM_ARGS set, the test binary runs the real mock (its own
// command, config loading and HTTP server) as a separate process on
// loopback.
func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv("FLINT_TEST_AEMM_ARGS"); ok {
		cmd := aemm.NewCmd()
		cmd.SetArgs(strings.Fields(args))
		if err := cmd.Execute(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startAEMM runs amazon-ec2-metadata-mock with a JSON config and extra
// flags and returns its base URL.
func startAEMM(t *testing.T, configJSON string, flags ...string) string {
	t.Helper()
	dir := t.TempDir()
	cfg := dir + "/aemm.json"
	if err := os.WriteFile(cfg, []byte(configJSON), 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"-n", "127.0.0.1", "-p", fmt.Sprint(port), "-c", cfg}, flags...)
	cmd := exec.Command(self, "-test.run=^$")
	cmd.Env = append(os.Environ(), "FLINT_TEST_AEMM_ARGS="+strings.Join(args, " "), "HOME="+dir)
	cmd.Dir = dir
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("ec2-metadata-mock output:\n%s", out.String())
		}
	})
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(base + "/latest/meta-data/instance-id")
		if err == nil {
			resp.Body.Close()
			return base
		}
		if time.Now().After(deadline) {
			t.Fatalf("ec2-metadata-mock did not start: %v\n%s", err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// testEnv returns an Env for tests: a fetcher with the given total timeout
// pointed at base, a scratch command line and no system dirs.
func testEnv(t *testing.T, base string, total time.Duration) *Env {
	t.Helper()
	f, err := resource.New(resource.Options{TotalTimeout: total, ResponseHeaderTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cmdline := dir + "/cmdline"
	if err := os.WriteFile(cmdline, []byte("BOOT_IMAGE=/vmlinuz root=LABEL=ROOT\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e := &Env{
		Fetcher:          f,
		MetadataBase:     base,
		CmdlinePath:      cmdline,
		SystemConfigDirs: []string{dir + "/run", dir + "/etc", dir + "/usr"},
		SysRoot:          dir + "/root",
		PollInterval:     20 * time.Millisecond,
		Getenv:           func(string) string { return "" },
	}
	e.fill()
	return e
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
