package system

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/flintboot/flint/log"
)

func TestParseBlkidExport(t *testing.T) {
	out := "DEVNAME=/dev/loop3\nUUID=0b5c1a8e-6f8e-4d7e-9a1e-1f2a3b4c5d6e\nBLOCK_SIZE=4096\nLABEL=my\\ disk\\$x\nTYPE=ext4\nUSAGE=filesystem\n"
	got := ParseBlkidExport([]byte(out))
	want := FsInfo{Type: "ext4", UUID: "0b5c1a8e-6f8e-4d7e-9a1e-1f2a3b4c5d6e", Label: "my disk$x"}
	if got != want {
		t.Errorf("got %+v", got)
	}
	if got := ParseBlkidExport([]byte("PTUUID=abc\nPTTYPE=gpt\n")); got != (FsInfo{PartTableType: "gpt"}) {
		t.Errorf("gpt: %+v", got)
	}
}

const sampleMountInfo = `22 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw
23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
40 22 7:3 / /mnt/my\040disk rw,noatime - ext4 /dev/loop3 rw,errors=remount-ro
41 22 7:3 /sub /srv rw master:1 shared:7 - ext4 /dev/loop3 rw
garbage line
`

func TestParseMountInfo(t *testing.T) {
	m, err := ParseMountInfo(strings.NewReader(sampleMountInfo))
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 4 {
		t.Fatalf("%d entries", len(m))
	}
	want := MountInfo{ID: 40, ParentID: 22, Major: 7, Minor: 3, Root: "/", MountPoint: "/mnt/my disk",
		Options: "rw,noatime", FSType: "ext4", Source: "/dev/loop3", SuperOptions: "rw,errors=remount-ro"}
	if m[2] != want {
		t.Errorf("got %+v", m[2])
	}
	if m[3].Root != "/sub" || m[3].FSType != "ext4" || m[3].MountPoint != "/srv" {
		t.Errorf("optional fields: %+v", m[3])
	}
}

func TestMountSyscallArgs(t *testing.T) {
	for _, c := range []struct {
		opts  []string
		flags uintptr
		data  string
		ok    bool
	}{
		{nil, 0, "", true},
		{[]string{"ro", "noatime", "nodev", ""}, unix.MS_RDONLY | unix.MS_NOATIME | unix.MS_NODEV, "", true},
		{[]string{"ro", "rw", "defaults"}, 0, "", true},
		{[]string{"noatime", "compress=zstd", "subvol=@home"}, unix.MS_NOATIME, "compress=zstd,subvol=@home", true},
		{[]string{"x-systemd.automount"}, 0, "", false},
		{[]string{"nofail"}, 0, "", false},
		{[]string{"_netdev", "ro"}, 0, "", false},
		{[]string{"loop"}, 0, "", false},
		{[]string{"bind"}, 0, "", false},
	} {
		f, d, ok := mountSyscallArgs(c.opts)
		if ok != c.ok || (ok && (f != c.flags || d != c.data)) {
			t.Errorf("%q: %#x %q %v", c.opts, f, d, ok)
		}
	}
}

// captureLog returns a buffer for a test logger.
func captureLog(t *testing.T) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	return &buf
}

func TestWaitForDevice(t *testing.T) {
	logs := captureLog(t)
	w := DeviceWait{Log: log.New(logs), Progress: 30 * time.Millisecond}

	dir := t.TempDir()
	node := filepath.Join(dir, "loop9")
	link := filepath.Join(dir, "by-label", "ROOT")
	if err := os.WriteFile(node, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(150 * time.Millisecond)
		os.MkdirAll(filepath.Dir(link), 0o755)
		os.Symlink("../loop9", link)
	}()
	got, err := w.For(context.Background(), link, 10*time.Second)
	if err != nil || got != node {
		t.Fatalf("got %q %v", got, err)
	}
	l := logs.String()
	if !strings.Contains(l, "waiting up to 10s for device "+link) || !strings.Contains(l, "still waiting for device "+link) ||
		!strings.Contains(l, "appeared as "+node) {
		t.Errorf("logs:\n%s", l)
	}
	// existing: immediate, logged at debug only
	logs.Reset()
	w.Log.SetLevel(log.LevelInfo)
	if got, err := w.For(context.Background(), link, time.Second); err != nil || got != node || logs.Len() != 0 {
		t.Errorf("existing: %q %v %q", got, err, logs.String())
	}
	// timeout, with the reason in the error
	w.Reason = "disk to partition"
	_, err = w.For(context.Background(), filepath.Join(dir, "never"), 100*time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "(disk to partition) did not appear within") {
		t.Errorf("timeout: %v", err)
	}
	// cancelled by caller
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := w.For(ctx, filepath.Join(dir, "never"), time.Minute); !errors.Is(err, context.Canceled) {
		t.Errorf("cancel: %v", err)
	}
}

// fakeUdevadm writes a udevadm script that appends its argv to a file and
// fails "trigger" when failTrigger is set.
func fakeUdevadm(t *testing.T, failTrigger bool) (Tools, string) {
	dir := t.TempDir()
	rec := filepath.Join(dir, "calls")
	script := "#!/bin/sh\necho \"$*\" >> " + rec + "\n"
	if failTrigger {
		script += "[ \"$1\" = trigger ] && { echo 'Failed to trigger' >&2; exit 1; }\n"
	}
	script += "exit 0\n"
	p := filepath.Join(dir, "udevadm")
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return DefaultTools().With(ToolUdevadm, p), rec
}

func TestUdevSettle(t *testing.T) {
	logs := captureLog(t)
	l := log.New(logs)
	ctx := context.Background()
	running := filepath.Join(t.TempDir(), "control") // udevd "runs" while it exists
	os.WriteFile(running, nil, 0o600)
	tools, rec := fakeUdevadm(t, false)
	if err := (Udev{Log: l, Control: running}).Settle(ctx, NewRunner(nil, tools), "test", "/dev/loop7", "/dev/loop8"); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, rec); got != "trigger --settle /dev/loop7 /dev/loop8\n" {
		t.Errorf("calls %q", got)
	}
	if !strings.Contains(logs.String(), "waiting up to 30s for udev to process /dev/loop7, /dev/loop8 (test)") ||
		!strings.Contains(logs.String(), "[finished] waiting up to 30s for udev") {
		t.Errorf("logs:\n%s", logs.String())
	}
	tools, rec = fakeUdevadm(t, true)
	if err := (Udev{Log: l, Control: running}).Settle(ctx, NewRunner(nil, tools), "", "/dev/loop7"); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, rec); got != "trigger --settle /dev/loop7\nsettle --timeout=30\n" {
		t.Errorf("fallback calls %q", got)
	}
	if !strings.Contains(logs.String(), "falling back to udevadm settle") {
		t.Errorf("logs:\n%s", logs.String())
	}
	// udevd not running: settle only (trigger --settle would wait forever)
	tools, rec = fakeUdevadm(t, false)
	if err := (Udev{Control: running + ".missing", Timeout: 2 * time.Second}).Settle(ctx, NewRunner(nil, tools), "", "/dev/loop7"); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, rec); got != "settle --timeout=2\n" {
		t.Errorf("no udevd: calls %q", got)
	}
	logs.Reset()
	missing := DefaultTools().With(ToolUdevadm, filepath.Join(t.TempDir(), "udevadm"))
	if err := UdevSettle(ctx, NewRunner(nil, missing), l, "/dev/loop7"); err != nil {
		t.Errorf("missing udevadm must be tolerated: %v", err)
	}
	if !strings.Contains(logs.String(), "udevadm not available") {
		t.Errorf("logs:\n%s", logs.String())
	}
	// A Recorder shows the command a settle without udevd issues.
	d := &Recorder{}
	if err := (Udev{Control: running + ".missing"}).Settle(ctx, d, "", "/dev/vda"); err != nil || !reflect.DeepEqual(d.Lines(), []string{"udevadm settle --timeout=30"}) {
		t.Errorf("recorded: %q %v", d.Lines(), err)
	}
}

// The real udevadm where udevd's control socket seems present but nothing
// processes events (a container): trigger --settle never returns by
// itself; the deadline stops it, the fallback settle returns, and the whole
// wait stays within its bound.
func TestUdevSettleBoundedWithRealUdevadm(t *testing.T) {
	if _, err := exec.LookPath("udevadm"); err != nil {
		t.Fatal("udevadm not installed: run make deps")
	}
	if _, err := os.Stat(DefaultUdevControl); err == nil {
		t.Fatal("udevd runs on this machine: the test needs a host without udevd (the tiers run in containers)")
	}
	logs := captureLog(t)
	fake := filepath.Join(t.TempDir(), "control")
	os.WriteFile(fake, nil, 0o600)
	start := time.Now()
	err := (Udev{Log: log.New(logs), Control: fake, Timeout: time.Second}).Settle(context.Background(), NewRunner(nil, DefaultTools()), "bounded", "/dev/null")
	took := time.Since(start)
	if err != nil {
		t.Fatalf("settle: %v\n%s", err, logs.String())
	}
	if took > 8*time.Second {
		t.Errorf("the wait took %s, bound 1s (+2s kill grace, +settle)", took)
	}
	if !strings.Contains(logs.String(), "falling back to udevadm settle") {
		t.Errorf("logs:\n%s", logs.String())
	}
	t.Logf("bounded wait took %s", took.Round(time.Millisecond))
}

// losetupImage creates a sparse image of size MiB, attaches it and returns
// the image path and loop device; both are cleaned up.
func losetupImage(t *testing.T, mib int) (img, dev string) {
	t.Helper()
	requireRoot(t)
	img = filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, int64(mib)<<20); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("losetup", "--find", "--show", img).Output()
	if err != nil {
		t.Fatalf("losetup: %v", err)
	}
	dev = strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command("losetup", "-d", dev).Run() })
	return img, dev
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, out)
	}
}

func TestProbeLoop(t *testing.T) {
	_, dev := losetupImage(t, 32)
	r := NewRunner(log.New(&bytes.Buffer{}), DefaultTools())
	ctx := context.Background()

	fi, err := Probe(ctx, r, dev)
	if err != nil || fi != (FsInfo{}) {
		t.Fatalf("blank device: %+v %v", fi, err)
	}
	const uuid = "6a2c5f4e-1b3d-4e5f-8a9b-0c1d2e3f4a5b"
	run(t, "mkfs.ext4", "-q", "-F", "-L", "flint test$", "-U", uuid, dev)
	fi, err = Probe(ctx, r, dev)
	if err != nil || fi != (FsInfo{Type: "ext4", UUID: uuid, Label: "flint test$"}) {
		t.Fatalf("ext4: %+v %v", fi, err)
	}
	mounted, err := IsMounted(dev)
	if err != nil || mounted {
		t.Errorf("IsMounted: %v %v", mounted, err)
	}
	run(t, "wipefs", "-q", "-a", dev)
	if fi, err := Probe(ctx, r, dev); err != nil || fi != (FsInfo{}) {
		t.Errorf("after wipefs: %+v %v", fi, err)
	}
	if _, err := Probe(ctx, r, "/dev/flint-no-such-device"); err == nil {
		t.Error("probe of a missing device must fail")
	}
}

// TestMountUnmount runs itself again inside a private mount namespace
// (`unshare -m --propagation private`) so its mounts never reach the host.
func TestMountUnmount(t *testing.T) {
	requireRoot(t)
	if os.Getenv("FLINT_SYSTEM_TEST_MOUNTNS") != "1" {
		cmd := exec.Command("unshare", "-m", "--propagation", "private", os.Args[0],
			"-test.run=^TestMountUnmount$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), "FLINT_SYSTEM_TEST_MOUNTNS=1")
		out, err := cmd.CombinedOutput()
		t.Logf("child in private mount namespace:\n%s", out)
		if err != nil {
			t.Fatalf("child failed: %v", err)
		}
		if !strings.Contains(string(out), "--- PASS: TestMountUnmount") {
			t.Fatal("child did not run the test")
		}
		return
	}
	img, dev := losetupImage(t, 32)
	run(t, "mkfs.ext4", "-q", "-F", "-L", "mnt", dev)
	var logs bytes.Buffer
	r := NewRunner(log.New(&logs), DefaultTools())
	ctx := context.Background()
	target := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(target, 0o755); err != nil {
		t.Fatal(err)
	}

	// 1. kernel options only: mount(2), no mount(8)
	if err := Mount(ctx, r, nil, dev, target, "ext4", []string{"noatime", "nodev", "errors=remount-ro"}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "running:") {
		t.Errorf("mount(8) used for kernel options:\n%s", logs.String())
	}
	mps, err := MountPoints(dev)
	if err != nil || !slices.Contains(mps, target) {
		t.Fatalf("MountPoints: %v %v", mps, err)
	}
	mounts, _ := Mounts()
	for _, m := range mounts {
		if m.MountPoint == target && (!strings.Contains(m.Options, "noatime") || !strings.Contains(m.Options, "nodev")) {
			t.Errorf("options not applied: %+v", m)
		}
	}
	if err := os.WriteFile(filepath.Join(target, "hello"), []byte("hi"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Unmount(ctx, target); err != nil {
		t.Fatal(err)
	}
	if m, err := IsMounted(dev); err != nil || m {
		t.Errorf("still mounted: %v %v", m, err)
	}

	// 2. a userspace option: mount(8) through the runner
	if err := Mount(ctx, r, nil, dev, target, "ext4", []string{"ro", "x-flint.test=1"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "running: mount -t ext4 -o ro,x-flint.test=1 "+dev+" "+target) {
		t.Errorf("logs:\n%s", logs.String())
	}
	if b, err := os.ReadFile(filepath.Join(target, "hello")); err != nil || string(b) != "hi" {
		t.Errorf("content %q %v", b, err)
	}
	if err := os.WriteFile(filepath.Join(target, "x"), nil, 0o644); !errors.Is(err, unix.EROFS) {
		t.Errorf("ro mount writable: %v", err)
	}
	if err := Unmount(ctx, target); err != nil {
		t.Fatal(err)
	}

	// 3. a regular file (needs a loop device) and no type: mount(8) probes
	run(t, "losetup", "-d", dev)
	if err := Mount(ctx, r, nil, img, target, "", nil); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(target, "hello")); err != nil || string(b) != "hi" {
		t.Errorf("content via loop %q %v", b, err)
	}
	if err := Unmount(ctx, target); err != nil {
		t.Fatal(err)
	}

	// 4. errors carry the operation and paths
	err = Mount(ctx, r, nil, "/dev/flint-nonexistent", target, "ext4", nil)
	if err == nil || !strings.Contains(err.Error(), "/dev/flint-nonexistent") || !strings.Contains(err.Error(), target) {
		t.Errorf("bad mount: %v", err)
	}
	if err := Unmount(ctx, target); !errors.Is(err, unix.EINVAL) {
		t.Errorf("unmount of a non-mount: %v", err)
	}
}

// MountPoints (test helper) lists where block device dev (any path to it, symlinks
// resolved) is mounted, matched by device number.
func MountPoints(dev string) ([]string, error) {
	var st unix.Stat_t
	if err := unix.Stat(dev, &st); err != nil {
		return nil, &fs.PathError{Op: "stat", Path: dev, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFBLK {
		return nil, fmt.Errorf("%s is not a block device", dev)
	}
	maj, min := unix.Major(st.Rdev), unix.Minor(st.Rdev)
	mounts, err := Mounts()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range mounts {
		if m.Major == maj && m.Minor == min {
			out = append(out, m.MountPoint)
		}
	}
	return out, nil
}

// IsMounted reports whether block device dev is mounted anywhere.
func IsMounted(dev string) (bool, error) {
	m, err := MountPoints(dev)
	return len(m) > 0, err
}
