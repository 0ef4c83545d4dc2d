package providers

import (
	"context"
	"net"
	"os"
	"testing"
	"time"

	"github.com/flintboot/flint/resource"
	"github.com/flintboot/flint/tests/testpeer"
)

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

// startIMDS runs the EC2 metadata peer (AWS's amazon-ec2-metadata-mock,
// tests/peers/imds) with a mock JSON config and peer flags and returns its
// base URL.
func startIMDS(t *testing.T, configJSON string, flags ...string) string {
	t.Helper()
	cfg := t.TempDir() + "/aemm.json"
	if err := os.WriteFile(cfg, []byte(configJSON), 0o644); err != nil {
		t.Fatal(err)
	}
	return testpeer.Start(t, testpeer.IMDS, append([]string{"-config", cfg}, flags...)...).URL
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
