package vm_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/flintboot/flint/tests/vm"
)

// requireRoot fails (never skips): CI runs this package as root after `make deps`.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the VM tests need root (losetup, the kernel cache): run them through `make test` as root")
	}
	if _, _, _, err := vm.Kernel(); err != nil {
		t.Fatalf("%v — run make deps", err)
	}
}

var (
	shared struct {
		once      sync.Once
		dir       string
		flint     string
		standin   bool
		initramfs string
		err       error
	}
)

// testInitramfs builds flint and the test initramfs once per test binary.
func testInitramfs(t *testing.T) string {
	t.Helper()
	requireRoot(t)
	shared.once.Do(func() {
		shared.dir, shared.err = os.MkdirTemp("", "flint-vm-test-")
		if shared.err != nil {
			return
		}
		start := time.Now()
		shared.flint, shared.standin, shared.err = buildFlint(shared.dir)
		if shared.err != nil {
			return
		}
		t.Logf("flint binary built in %s (stand-in: %v)", time.Since(start).Round(time.Millisecond), shared.standin)
		start = time.Now()
		shared.initramfs = filepath.Join(shared.dir, "initramfs.img")
		shared.err = vm.BuildInitramfs(vm.InitramfsOptions{FlintBinary: shared.flint}, shared.initramfs)
		t.Logf("initramfs built in %s", time.Since(start).Round(time.Millisecond))
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.initramfs
}

func TestMain(m *testing.M) {
	rc := m.Run()
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	os.Exit(rc)
}

// buildFlint builds ./cmd/flint statically. Until cmd/flint exists it builds a tiny
// static stand-in that answers "version", so that the harness itself is exercised.
func buildFlint(dir string) (bin string, standin bool, err error) {
	bin = filepath.Join(dir, "flint")
	root, err := filepath.Abs("../..")
	if err != nil {
		return "", false, err
	}
	src := "./cmd/flint"
	if _, err := os.Stat(filepath.Join(root, "cmd", "flint")); err != nil {
		standin = true
		root = filepath.Join(dir, "standin")
		src = "."
		if err := os.MkdirAll(root, 0o755); err != nil {
			return "", false, err
		}
		main := "package main\n\nimport (\n\t\"fmt\"\n\t\"os\"\n)\n\nfunc main() {\n" +
			"\tif len(os.Args) > 1 && os.Args[1] == \"version\" {\n\t\tfmt.Println(\"flint stand-in\")\n\t\treturn\n\t}\n" +
			"\tfmt.Fprintln(os.Stderr, \"flint stand-in: unsupported\")\n\tos.Exit(2)\n}\n"
		if err := os.WriteFile(filepath.Join(root, "main.go"), []byte(main), 0o644); err != nil {
			return "", false, err
		}
		if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module standin\n\ngo 1.26\n"), 0o644); err != nil {
			return "", false, err
		}
	}
	cmd := exec.Command("go", "build", "-o", bin, src)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", false, &buildError{out: string(out), err: err}
	}
	return bin, standin, nil
}

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string { return "go build flint: " + e.err.Error() + "\n" + e.out }

// boot runs m and fails the test unless the guest script passed; it logs the timings.
func boot(t *testing.T, name string, m *vm.Machine) *vm.Result {
	t.Helper()
	if m.SerialLog == "" {
		m.SerialLog = filepath.Join(t.TempDir(), name+".serial.log")
	}
	withConsole(m)
	res, err := m.Run(context.Background())
	if err != nil {
		t.Fatalf("boot %s: %v", name, err)
	}
	logTimes(t, name, res)
	return res
}

func logTimes(t *testing.T, name string, res *vm.Result) {
	t.Helper()
	t.Logf("boot %s: wall %.1fs; guest uptime: init %.2fs, modules %.2fs, test-start %.2fs, result %.2fs",
		name, res.Duration.Seconds(), res.Marks["init"], res.Marks["modules"], res.Marks["test-start"], res.Marks["result"])
}

func fmtSscan(s string, v *int64) (int, error) { return fmt.Sscan(s, v) }

func runCmd(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}

// withConsole streams the serial console to stderr when FLINT_VM_CONSOLE is set.
func withConsole(m *vm.Machine) {
	if os.Getenv("FLINT_VM_CONSOLE") != "" {
		m.Console = os.Stderr
	}
}
