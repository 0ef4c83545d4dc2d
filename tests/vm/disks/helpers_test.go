// Package disks_test holds the VM scenarios of the disks stage: each boot
// runs the stage (through the test driver testdata/flint-disks, which calls
// stages/disks directly) on configs passed through fw_cfg, checks the result
// in the guest, and the test checks the disk images on the host; a second
// boot re-opens what the first created.
package disks_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/flintboot/flint/tests/vm"
)

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the VM scenarios need root: run them through `make test` as root")
	}
	if _, _, _, err := vm.Kernel(); err != nil {
		t.Fatalf("%v — run make deps", err)
	}
}

var built struct {
	once   sync.Once
	dir    string
	driver string
	err    error
	images map[bool]string
	mu     sync.Mutex
}

// driver builds testdata/flint-disks statically, once.
func driver(t *testing.T) string {
	t.Helper()
	requireRoot(t)
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "flint-disks-vm-")
		if built.err != nil {
			return
		}
		built.driver = filepath.Join(built.dir, "flint-disks")
		cmd := exec.Command("go", "build", "-o", built.driver, "./testdata/flint-disks")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("building the guest driver: %v\n%s", err, out)
		}
		built.images = map[bool]string{}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.driver
}

// initramfs returns the test initramfs with the driver at /usr/bin/flint-disks
// (with clevis, tpm2-tools and friends when clevis is set).
func initramfs(t *testing.T, clevis bool) string {
	t.Helper()
	drv := driver(t)
	built.mu.Lock()
	defer built.mu.Unlock()
	if p, ok := built.images[clevis]; ok {
		return p
	}
	p := filepath.Join(built.dir, fmt.Sprintf("initramfs-clevis-%v.img", clevis))
	err := vm.BuildInitramfs(vm.InitramfsOptions{Clevis: clevis, ExtraFiles: map[string]string{"usr/bin/flint-disks": drv}}, p)
	if err != nil {
		t.Fatal(err)
	}
	built.images[clevis] = p
	return p
}

func TestMain(m *testing.M) {
	rc := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(rc)
}

// guestLib is sourced by every guest script: run the stage on config NAME
// (fw_cfg opt/flint/NAME) and expect success, or failure with a message.
const guestLib = `
FW=/sys/firmware/qemu_fw_cfg/by_name/opt/flint
cfg() { cat $FW/$1/raw >/tmp/$1.json; echo /tmp/$1.json; }
apply() {
	echo "== flint-disks $1"
	if ! flint-disks -state /tmp/$1.state "$(cfg $1)" >/tmp/$1.out 2>/tmp/$1.err; then
		cat /tmp/$1.out; tail -40 /tmp/$1.err; echo "FAIL: $1 failed"; return 1
	fi
	cat /tmp/$1.out
}
refuse() {
	echo "== flint-disks $1 (must fail with: $2)"
	if flint-disks "$(cfg $1)" >/tmp/$1.out 2>/tmp/$1.err; then
		cat /tmp/$1.out; echo "FAIL: $1 succeeded"; return 1
	fi
	cat /tmp/$1.out
	grep -qF -- "$2" /tmp/$1.out || { tail -20 /tmp/$1.err; echo "FAIL: $1: wrong error"; return 1; }
}
# no PLAN line may start with $2 in the output of run $1
noplan() { if grep -q "^PLAN $2" /tmp/$1.out; then echo "FAIL: $1 planned $2"; return 1; fi; }
sysfs() { echo "$(cat /sys/class/block/$1/start) $(cat /sys/class/block/$1/size)"; }
must() { [ "$1" = "$2" ] || { echo "FAIL: $3: got '$1', want '$2'"; return 1; }; }
`

// configs writes each config to dir and returns the fw_cfg map.
func configs(t *testing.T, dir string, cfgs map[string]string) map[string]string {
	t.Helper()
	fw := map[string]string{}
	for name, c := range cfgs {
		var v any
		if err := json.Unmarshal([]byte(c), &v); err != nil {
			t.Fatalf("config %s is not JSON: %v\n%s", name, err, c)
		}
		p := filepath.Join(dir, name+".json")
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
		fw["opt/flint/"+name] = p
	}
	return fw
}

func boot(t *testing.T, name string, m *vm.Machine) *vm.Result {
	t.Helper()
	m.SerialLog = filepath.Join(t.TempDir(), name+".serial.log")
	if os.Getenv("FLINT_VM_CONSOLE") != "" {
		m.Console = os.Stderr
	}
	res, err := m.Run(context.Background())
	if err != nil {
		t.Fatalf("boot %s: %v", name, err)
	}
	t.Logf("boot %s: wall %.1fs, script %.1fs", name, res.Duration.Seconds(), res.Marks["result"]-res.Marks["test-start"])
	return res
}

// cfg renders a config of spec 3.4.0 around a storage section.
func cfg(storage string) string {
	return `{"ignition":{"version":"3.4.0"},"storage":` + storage + `}`
}

func mustPart(t *testing.T, parts []vm.Partition, n int) vm.Partition {
	t.Helper()
	for _, p := range parts {
		if p.Number == n {
			return p
		}
	}
	t.Fatalf("partition %d missing: %+v", n, parts)
	return vm.Partition{}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func fmtSscan(s string, v *int64) (int, error) { return fmt.Sscan(s, v) }
