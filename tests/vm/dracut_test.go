package vm_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flintboot/flint/tests/vm"
)

// TestBootDracutSwitchRoot: a dracut/systemd initramfs finds root=LABEL=flintroot on a
// host-made ext4 image, switches root, and the root's /sbin/init reports the verdict.
func TestBootDracutSwitchRoot(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	start := time.Now()
	initrd := filepath.Join(dir, "dracut.img")
	if err := vm.BuildDracutInitramfs(vm.DracutOptions{}, initrd); err != nil {
		t.Fatal(err)
	}
	t.Logf("dracut initramfs built in %s", time.Since(start).Round(time.Millisecond))
	root := filepath.Join(dir, "root.img")
	script := `
grep -q '^/dev/vda / ext4 ro' /proc/mounts
test "$(cat /proc/1/comm)" = init
grep -q '^ID=flint-test' /etc/os-release
`
	if err := vm.BuildRootImage(vm.RootOptions{Script: script}, root); err != nil {
		t.Fatal(err)
	}
	m := &vm.Machine{
		Initramfs: initrd,
		Disks:     []vm.Disk{{Serial: "root", Path: root}},
		Cmdline:   vm.DracutCmdline + " root=LABEL=flintroot",
		Timeout:   4 * time.Minute,
	}
	res := boot(t, "dracut-switch-root", m)
	if !strings.Contains(res.Serial, "FLINT-ROOT-INIT pid=1 ") {
		t.Errorf("the root's init did not run as PID 1")
	}
	t.Logf("root init reached at guest uptime %.2fs", res.Marks["root-init"])
}
