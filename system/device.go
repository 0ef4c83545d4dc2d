package system

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/flintboot/flint/log"
)

// DefaultDeviceTimeout is the documented bound of one wait for a device
// node (docs/disks.md): systemd's default device timeout
// (DefaultDeviceTimeoutSec=90s), which bounds the reference's waits too.
const DefaultDeviceTimeout = 90 * time.Second

// DeviceWait waits for device nodes to appear. The zero value polls every
// 10ms and logs progress every 5s to nowhere.
type DeviceWait struct {
	Log      *log.Logger
	Poll     time.Duration // how often the path is checked (0: 10ms)
	Progress time.Duration // how often "still waiting" is logged (0: 5s)
	// Reason says what needs the device ("disk to partition", "LUKS
	// volume root"); it is part of every log line and error.
	Reason string
}

func (w DeviceWait) what(path string) string {
	if w.Reason == "" {
		return "device " + path
	}
	return "device " + path + " (" + w.Reason + ")"
}

// For waits up to timeout (0: DefaultDeviceTimeout) for path (e.g.
// /dev/disk/by-label/X) to exist and returns it with symlinks resolved
// (e.g. /dev/vda1). A path that exists already returns at once, logged at
// debug. Otherwise it logs one line naming the device, the reason and the
// limit, a progress line every Progress, and the outcome with the time
// waited.
func (w DeviceWait) For(ctx context.Context, path string, timeout time.Duration) (string, error) {
	if timeout <= 0 {
		timeout = DefaultDeviceTimeout
	}
	l := w.Log
	what := w.what(path)
	if p, err := filepath.EvalSymlinks(path); err == nil {
		l.Debugf("%s is present as %s", what, p)
		return p, nil
	}
	pollEvery, progressEvery := w.Poll, w.Progress
	if pollEvery <= 0 {
		pollEvery = 10 * time.Millisecond
	}
	if progressEvery <= 0 {
		progressEvery = 5 * time.Second
	}
	start := time.Now()
	l.Info("waiting up to %s for %s", timeout, what)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	poll := time.NewTicker(pollEvery)
	defer poll.Stop()
	progress := time.NewTicker(progressEvery)
	defer progress.Stop()
	for {
		select {
		case <-ctx.Done():
			waited := time.Since(start).Round(time.Millisecond)
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				l.Error("%s did not appear within %s", what, waited)
				return "", fmt.Errorf("%s did not appear within %s: %w", what, waited, ctx.Err())
			}
			return "", fmt.Errorf("waiting for %s (%s): %w", what, waited, ctx.Err())
		case <-progress.C:
			l.Info("still waiting for %s (%s of %s)", what, time.Since(start).Round(time.Second), timeout)
		case <-poll.C:
			p, err := filepath.EvalSymlinks(path)
			if err == nil {
				l.Info("%s appeared as %s after %s", what, p, time.Since(start).Round(time.Millisecond))
				return p, nil
			}
		}
	}
}

// DefaultSettleTimeout is the documented bound of one wait for udev
// (docs/disks.md).
const DefaultSettleTimeout = 30 * time.Second

// DefaultUdevControl is udevd's control socket: it exists while udevd runs.
const DefaultUdevControl = "/run/udev/control"

// Udev waits for udev to process changed devices. The zero value uses
// DefaultSettleTimeout and DefaultUdevControl and logs nowhere.
type Udev struct {
	Log     *log.Logger
	Timeout time.Duration // bound of one Settle (0: DefaultSettleTimeout)
	Control string        // udevd's control socket ("": DefaultUdevControl)
}

// Settle waits for udev to process devs after a change (reason says
// which), bounded by u.Timeout, and logs what it waits for and how long it
// took:
//
//   - udevd running: `udevadm trigger --settle DEVS` (udevadm has no
//     timeout for it, so under a context deadline); when that fails or
//     times out, `udevadm settle --timeout=N` with its own deadline;
//   - udevd not running (containers, udev-less initramfs images):
//     `udevadm settle --timeout=N` only, which returns at once there,
//     while trigger --settle would wait for events nobody processes;
//   - no udevadm binary: logged, nothing to wait for.
//
// An error means udev did not settle within the bound.
func (u Udev) Settle(ctx context.Context, r Runner, reason string, devs ...string) error {
	limit := u.Timeout
	if limit <= 0 {
		limit = DefaultSettleTimeout
	}
	control := u.Control
	if control == "" {
		control = DefaultUdevControl
	}
	what := "udev"
	if len(devs) > 0 {
		what += " to process " + strings.Join(devs, ", ")
	}
	if reason != "" {
		what += " (" + reason + ")"
	}
	l := u.Log
	done := l.Op("waiting up to %s for %s", limit, what)
	err := u.settle(ctx, r, l, limit, control, devs)
	done(err)
	return err
}

func (u Udev) settle(ctx context.Context, r Runner, l *log.Logger, limit time.Duration, control string, devs []string) error {
	_, cerr := os.Stat(control)
	daemon := cerr == nil
	if daemon && len(devs) > 0 {
		tctx, cancel := context.WithTimeout(ctx, limit)
		_, err := r.Run(tctx, Cmd{Name: ToolUdevadm, Args: append([]string{"trigger", "--settle"}, devs...)})
		timedOut := tctx.Err() != nil
		cancel()
		switch {
		case err == nil:
			return nil
		case errors.Is(err, ErrToolNotFound):
			l.Info("udevadm not available, not waiting for udev (%v)", err)
			return nil
		case ctx.Err() != nil:
			return err
		case timedOut:
			l.Warn("udevadm trigger --settle did not finish within %s, falling back to udevadm settle", limit)
		default:
			l.Warn("udevadm trigger --settle failed, falling back to udevadm settle: %v", err)
		}
	} else if !daemon {
		l.Debugf("udevd is not running (%s missing): udevadm settle only", control)
	}
	secs := int((limit + time.Second - 1) / time.Second)
	sctx, cancel := context.WithTimeout(ctx, limit+5*time.Second)
	defer cancel()
	_, err := r.Run(sctx, Cmd{Name: ToolUdevadm, Args: []string{"settle", fmt.Sprintf("--timeout=%d", secs)}})
	if errors.Is(err, ErrToolNotFound) {
		l.Info("udevadm not available, not waiting for udev (%v)", err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("udev did not settle within %s: %w", limit, err)
	}
	return nil
}

// UdevSettle is Udev{Log: l}.Settle for one device (dev == "": a plain
// settle).
func UdevSettle(ctx context.Context, r Runner, l *log.Logger, dev string) error {
	var devs []string
	if dev != "" {
		devs = []string{dev}
	}
	return Udev{Log: l}.Settle(ctx, r, "", devs...)
}

// FsInfo is what blkid found on a device. All fields empty means no
// signature at all.
type FsInfo struct {
	Type          string // filesystem or other superblock type (ext4, xfs, swap, crypto_LUKS, linux_raid_member…)
	UUID          string
	Label         string
	PartTableType string // gpt, dos… when the device carries a partition table
}

// ErrAmbivalentProbe: blkid found more than one signature (exit code 8).
var ErrAmbivalentProbe = errors.New("ambivalent probe: more than one signature")

// Probe reads dev's superblock with `blkid -p -o export DEV` (low-level
// probing, bypassing the blkid cache). blkid's "nothing found" (exit code 2)
// is an empty FsInfo, not an error; exit code 8 wraps ErrAmbivalentProbe.
// A device that does not exist is an error (checked with stat first, since
// blkid reports that with exit code 2 as well).
func Probe(ctx context.Context, r Runner, dev string) (FsInfo, error) {
	// blkid also exits 2 for a device it cannot open; tell them apart.
	if _, err := os.Stat(dev); err != nil {
		return FsInfo{}, fmt.Errorf("probing %s: %w", dev, err)
	}
	res, err := r.Run(ctx, Cmd{Name: ToolBlkid, Args: []string{"-p", "-o", "export", dev}})
	if err != nil {
		var xe *ExitError
		if errors.As(err, &xe) {
			switch xe.ExitCode {
			case 2:
				return FsInfo{}, nil
			case 8:
				return FsInfo{}, fmt.Errorf("probing %s: %w: %w", dev, ErrAmbivalentProbe, err)
			}
		}
		return FsInfo{}, fmt.Errorf("probing %s: %w", dev, err)
	}
	return ParseBlkidExport(res.Stdout), nil
}

// ParseBlkidExport parses `blkid -o export` output (KEY=value lines, with
// blkid's backslash escaping of shell-special characters undone).
func ParseBlkidExport(out []byte) FsInfo {
	var fi FsInfo
	for _, line := range strings.Split(string(out), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok {
			continue
		}
		v = unescapeBlkid(v)
		switch k {
		case "TYPE":
			fi.Type = v
		case "UUID":
			fi.UUID = v
		case "LABEL":
			fi.Label = v
		case "PTTYPE":
			fi.PartTableType = v
		}
	}
	return fi
}

func unescapeBlkid(v string) string {
	if !strings.Contains(v, `\`) {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) {
			i++
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

// MountInfo is one line of /proc/<pid>/mountinfo.
type MountInfo struct {
	ID, ParentID int
	Major, Minor uint32
	Root         string // root of the mount within its filesystem
	MountPoint   string
	Options      string
	FSType       string
	Source       string
	SuperOptions string
}

// ParseMountInfo parses proc_pid_mountinfo(5) text, undoing the octal
// escapes (\040 etc.) in paths.
func ParseMountInfo(r io.Reader) ([]MountInfo, error) {
	var out []MountInfo
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 10 {
			continue
		}
		sep := -1
		for i := 6; i < len(f); i++ {
			if f[i] == "-" {
				sep = i
				break
			}
		}
		if sep < 0 || sep+3 > len(f) {
			continue
		}
		var m MountInfo
		m.ID, _ = strconv.Atoi(f[0])
		m.ParentID, _ = strconv.Atoi(f[1])
		if maj, min, ok := strings.Cut(f[2], ":"); ok {
			a, _ := strconv.ParseUint(maj, 10, 32)
			b, _ := strconv.ParseUint(min, 10, 32)
			m.Major, m.Minor = uint32(a), uint32(b)
		}
		m.Root = unescapeOctal(f[3])
		m.MountPoint = unescapeOctal(f[4])
		m.Options = f[5]
		m.FSType = f[sep+1]
		m.Source = unescapeOctal(f[sep+2])
		if sep+3 < len(f) {
			m.SuperOptions = f[sep+3]
		}
		out = append(out, m)
	}
	return out, sc.Err()
}

func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Mounts returns the current mount table from Paths.MountInfo
// (FLINT_MOUNTINFO, default /proc/self/mountinfo).
func Mounts() ([]MountInfo, error) {
	p := PathsFromEnv().MountInfo
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("reading mount table: %w", err)
	}
	defer f.Close()
	m, err := ParseMountInfo(f)
	if err != nil {
		return nil, fmt.Errorf("reading mount table %s: %w", p, err)
	}
	return m, nil
}

// Kernel-understood mount flags. Any option outside this table and
// outside userspaceOnlyOptions is passed to the filesystem as data.
var mountFlags = map[string]struct {
	set  bool
	flag uintptr
}{
	"ro": {true, unix.MS_RDONLY}, "rw": {false, unix.MS_RDONLY},
	"nosuid": {true, unix.MS_NOSUID}, "suid": {false, unix.MS_NOSUID},
	"nodev": {true, unix.MS_NODEV}, "dev": {false, unix.MS_NODEV},
	"noexec": {true, unix.MS_NOEXEC}, "exec": {false, unix.MS_NOEXEC},
	"sync": {true, unix.MS_SYNCHRONOUS}, "async": {false, unix.MS_SYNCHRONOUS},
	"dirsync": {true, unix.MS_DIRSYNC},
	"mand":    {true, unix.MS_MANDLOCK}, "nomand": {false, unix.MS_MANDLOCK},
	"noatime": {true, unix.MS_NOATIME}, "atime": {false, unix.MS_NOATIME},
	"nodiratime": {true, unix.MS_NODIRATIME}, "diratime": {false, unix.MS_NODIRATIME},
	"relatime": {true, unix.MS_RELATIME}, "norelatime": {false, unix.MS_RELATIME},
	"strictatime": {true, unix.MS_STRICTATIME}, "nostrictatime": {false, unix.MS_STRICTATIME},
	"lazytime": {true, unix.MS_LAZYTIME}, "nolazytime": {false, unix.MS_LAZYTIME},
	"silent": {true, unix.MS_SILENT}, "loud": {false, unix.MS_SILENT},
	"defaults": {false, 0},
}

// mountSyscallArgs maps options to mount(2) flags and data. ok is false
// when an option needs mount(8): userspace-only options (loop, x-*,
// _netdev, nofail, user…), bind/remount/propagation requests, or anything
// mount(8) interprets itself.
func mountSyscallArgs(opts []string) (flags uintptr, data string, ok bool) {
	var rest []string
	for _, o := range opts {
		if o == "" {
			continue
		}
		if f, known := mountFlags[o]; known {
			if f.set {
				flags |= f.flag
			} else {
				flags &^= f.flag
			}
			continue
		}
		name, _, _ := strings.Cut(o, "=")
		switch {
		case strings.HasPrefix(name, "x-"), name == "loop", name == "offset", name == "sizelimit",
			name == "encryption", name == "_netdev", name == "nofail", name == "auto", name == "noauto",
			name == "user", name == "nouser", name == "users", name == "owner", name == "group",
			name == "comment", name == "helper", name == "uhelper", name == "bind", name == "rbind",
			name == "remount", name == "move", name == "shared", name == "private", name == "slave",
			name == "unbindable", name == "rshared", name == "rprivate", name == "rslave",
			name == "runbindable", name == "X-mount.mkdir", name == "nosymfollow", name == "iversion",
			name == "noiversion":
			return 0, "", false
		}
		rest = append(rest, o)
	}
	return flags, strings.Join(rest, ","), true
}

// Mount mounts dev on target. It calls mount(2) directly when fstype is a
// real type (not "" or "auto"), dev is a block device (or a pseudo source
// such as "tmpfs"/"none" for nodev filesystems) and every option is one
// the kernel understands (flags like ro/nodev/noatime become MS_* bits, the
// rest is passed as filesystem data). Otherwise — type detection, regular
// files (loop), userspace options like x-*, _netdev, nofail, bind and
// propagation requests — it runs `mount [-t TYPE] [-o OPTS] DEV TARGET`
// through r, which knows all of that.
func Mount(ctx context.Context, r Runner, l *log.Logger, dev, target, fstype string, opts []string) error {
	done := l.Op("mounting %s on %s (%s)", dev, target, fstype)
	err := mount(ctx, r, dev, target, fstype, opts)
	done(err)
	return err
}

func mount(ctx context.Context, r Runner, dev, target, fstype string, opts []string) error {
	flags, data, ok := mountSyscallArgs(opts)
	if ok && fstype != "" && fstype != "auto" {
		if fi, err := os.Stat(dev); err == nil && fi.Mode().Type()&fs.ModeDevice == 0 {
			ok = false // regular file → loop device, mount(8) sets it up
		}
	} else {
		ok = false
	}
	if ok {
		err := unix.Mount(dev, target, fstype, flags, data)
		if err == nil {
			return nil
		}
		return fmt.Errorf("mounting %s on %s (type %s): %w", dev, target, fstype, err)
	}
	args := []string{}
	if fstype != "" {
		args = append(args, "-t", fstype)
	}
	var o []string
	for _, x := range opts {
		if x != "" {
			o = append(o, x)
		}
	}
	if len(o) > 0 {
		args = append(args, "-o", strings.Join(o, ","))
	}
	args = append(args, dev, target)
	if _, err := r.Run(ctx, Cmd{Name: ToolMount, Args: args}); err != nil {
		return fmt.Errorf("mounting %s on %s: %w", dev, target, err)
	}
	return nil
}

// Unmount unmounts target with umount(2), retrying for up to a second
// while it is busy (e.g. a just-exited process still holds it).
func Unmount(ctx context.Context, target string) error {
	deadline := time.Now().Add(time.Second)
	for {
		err := unix.Unmount(target, 0)
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
			return fmt.Errorf("unmounting %s: %w", target, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("unmounting %s: %w (%w)", target, err, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
