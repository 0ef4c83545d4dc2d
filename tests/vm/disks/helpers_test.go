// Package disks_test holds the VM scenarios of the disks stage: each boot
// runs the real flint binary in the guest (`flint run --stage disks`, and
// the mount, files and umount stages where a scenario needs them) on
// configs passed through fw_cfg, checks the result in the guest, and the
// test checks the disk images on the host; a second boot re-opens what the
// first created.
package disks_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
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
	flint  string
	err    error
	images map[bool]string
	mu     sync.Mutex
}

// flintBinary builds ./cmd/flint statically, once.
func flintBinary(t *testing.T) string {
	t.Helper()
	requireRoot(t)
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "flint-disks-vm-")
		if built.err != nil {
			return
		}
		built.flint, built.err = vm.BuildFlint(built.dir)
		built.images = map[bool]string{}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.flint
}

// initramfs returns the test initramfs with flint at /usr/bin/flint (with
// clevis, tpm2-tools and friends when clevis is set).
func initramfs(t *testing.T, clevis bool) string {
	t.Helper()
	bin := flintBinary(t)
	built.mu.Lock()
	defer built.mu.Unlock()
	if p, ok := built.images[clevis]; ok {
		return p
	}
	p := filepath.Join(built.dir, fmt.Sprintf("initramfs-clevis-%v.img", clevis))
	if err := vm.BuildInitramfs(vm.InitramfsOptions{Clevis: clevis, FlintBinary: bin}, p); err != nil {
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

// guestLib is sourced by every guest script. apply NAME runs the disks
// stage of the real binary on config NAME (fw_cfg opt/flint/NAME, handed
// over as the config cache the fetch stage would have written) and expects
// success; refuse NAME MSG expects failure with MSG. The stage logs at
// debug to /tmp/NAME.out: every planned action as "plan: OP TARGET", every
// command as "running: …"; its state goes to /tmp/NAME.state.
const guestLib = `
FW=/sys/firmware/qemu_fw_cfg/by_name/opt/flint
cfg() { cat $FW/$1/raw >/tmp/$1.json; echo /tmp/$1.json; }
stage() {
	flint run --stage disks --platform qemu --config-cache "$(cfg $1)" --state-file /tmp/$1.state \
		--log-to-stdout --debug >/tmp/$1.out 2>&1
}
apply() {
	echo "== flint run --stage disks: $1"
	rm -f /tmp/$1.state
	if ! stage $1; then tail -60 /tmp/$1.out; echo "FAIL: $1 failed"; return 1; fi
	grep -E 'disks: plan: |flint run --stage' /tmp/$1.out
}
refuse() {
	echo "== flint run --stage disks: $1 (must fail with: $2)"
	if stage $1; then tail -40 /tmp/$1.out; echo "FAIL: $1 succeeded"; return 1; fi
	grep -F -- "$2" /tmp/$1.out || { tail -30 /tmp/$1.out; echo "FAIL: $1: wrong error"; return 1; }
	nowrite $1
}
# run $1 ran no command that writes to a device
nowrite() {
	if grep 'running: ' /tmp/$1.out | grep -v -- '--pretend' | grep -qE 'running: (sgdisk|mkfs|mkswap|wipefs|mdadm|partx|cryptsetup .?luksFormat|zkey)'; then
		grep 'running: ' /tmp/$1.out; echo "FAIL: $1 wrote to a device"; return 1
	fi
}
# no planned action may start with $2 in run $1
noplan() { if grep -q "disks: plan: $2" /tmp/$1.out; then echo "FAIL: $1 planned $2"; return 1; fi; }
hasplan() { grep -q "disks: plan: $2" /tmp/$1.out || { echo "FAIL: $1 did not plan $2"; return 1; }; }
state() { tr -d ' \n' </tmp/$1.state; }
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
