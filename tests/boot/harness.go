// Package boot is flint's real boot harness: a dracut/systemd initramfs
// with the 30flint module and the flint binary (built by tests/vm's
// BuildDracutInitramfs, the one dracut image builder, and cached here by
// the hash of everything that goes into it), booted under QEMU (TCG) with
// the unpacked Debian kernel of tests/deps/kernel.sh. flint runs its stages
// from the initramfs units, the initramfs switches root into a small ext4
// root made on the host, and that root's /sbin/init reports on the serial
// console.
//
// The tests of this package and `make demo` (examples/demo) use it.
// Everything here is test tooling: it runs tools directly and needs root.
package boot

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/flintboot/flint/tests/vm"
)

// RepoRoot is the repository's top directory, found from the working
// directory (a test runs in its package directory, the demo anywhere in
// the tree).
func RepoRoot() (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && bytes.Contains(b, []byte("module github.com/flintboot/flint\n")) {
			return d, nil
		}
		p := filepath.Dir(d)
		if p == d {
			return "", errors.New("not inside the flint repository")
		}
		d = p
	}
}

// BuildFlint builds a static flint into dir and returns its path.
func BuildFlint(dir string) (string, error) {
	repo, err := RepoRoot()
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "flint")
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-o", out, "./cmd/flint")
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build flint: %v\n%s", err, b)
	}
	return out, nil
}

// dracutOptions is what the boot initramfs holds besides 30flint: the
// systemd initrd, networking (systemd-networkd, virtio_net) for config and
// report URLs, virtio-serial for the journal ports, ext4.
func dracutOptions(module string) vm.DracutOptions {
	return vm.DracutOptions{
		ModuleDirs:  []string{module},
		Modules:     []string{"flint", "network", "systemd-networkd"},
		Drivers:     []string{"virtio_net", "virtio_console"},
		Filesystems: []string{"ext4"},
	}
}

// Initramfs returns the dracut image with the repository's dracut/30flint
// and the given flint binary, from the cache when an image of the same
// inputs was built before (dracut takes a minute or more under load).
// progress, when set, is told what happens.
func Initramfs(work, flint string, progress func(string)) (string, error) {
	if progress == nil {
		progress = func(string) {}
	}
	repo, err := RepoRoot()
	if err != nil {
		return "", err
	}
	_, _, kver, err := vm.Kernel()
	if err != nil {
		return "", err
	}
	// 30flint with the binary in it: module-setup.sh installs $moddir/flint
	mod := filepath.Join(work, "30flint")
	if err := os.MkdirAll(mod, 0o755); err != nil {
		return "", err
	}
	src := filepath.Join(repo, "dracut", "30flint")
	ents, err := os.ReadDir(src)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "flint-boot-image-2 %s %+v\n", kver, dracutOptions(""))
	// the builder itself is part of the key
	if b, err := os.ReadFile(filepath.Join(repo, "tests", "vm", "dracut.go")); err == nil {
		h.Write(b)
	}
	if out, err := exec.Command("dracut", "--version").CombinedOutput(); err == nil {
		h.Write(out)
	}
	var names []string
	for _, e := range ents {
		if !e.IsDir() && !strings.HasSuffix(e.Name(), ".go") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	copyFile := func(from, to string, mode os.FileMode) error {
		b, err := os.ReadFile(from)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s %o %d\n", filepath.Base(to), mode, len(b))
		h.Write(b)
		return os.WriteFile(to, b, mode)
	}
	for _, n := range names {
		mode := os.FileMode(0o644)
		if fi, err := os.Stat(filepath.Join(src, n)); err == nil && fi.Mode()&0o111 != 0 || strings.HasSuffix(n, ".sh") || n == "flint-generator" {
			mode = 0o755
		}
		if err := copyFile(filepath.Join(src, n), filepath.Join(mod, n), mode); err != nil {
			return "", err
		}
	}
	if err := copyFile(flint, filepath.Join(mod, "flint"), 0o755); err != nil {
		return "", err
	}
	cacheDir := filepath.Join(vm.CacheDir(), "boot")
	cached := filepath.Join(cacheDir, fmt.Sprintf("dracut-%x.img", h.Sum(nil)[:12]))
	if _, err := os.Stat(cached); err == nil {
		progress("cached dracut image " + cached)
		return cached, nil
	}
	progress("building the dracut initramfs (a minute or two; cached afterwards)")
	start := time.Now()
	out := filepath.Join(work, "initramfs.img")
	if err := vm.BuildDracutInitramfs(dracutOptions(mod), out); err != nil {
		return "", err
	}
	fi, err := os.Stat(out)
	if err != nil {
		return "", err
	}
	progress(fmt.Sprintf("dracut image built in %s (%.1f MB)", time.Since(start).Round(100*time.Millisecond), float64(fi.Size())/1e6))
	// keep only the newest image
	if old, _ := filepath.Glob(filepath.Join(cacheDir, "dracut-*.img")); len(old) > 0 {
		for _, o := range old {
			os.Remove(o)
		}
	}
	if err := os.MkdirAll(cacheDir, 0o755); err == nil {
		if b, err := os.ReadFile(out); err == nil && os.WriteFile(cached+".tmp", b, 0o644) == nil {
			os.Rename(cached+".tmp", cached)
		}
	}
	return out, nil
}

// RootOptions describe the ext4 root image the initramfs switches into.
type RootOptions struct {
	Dir   string            // where to build it
	Init  string            // /sbin/init (a busybox sh script)
	Files map[string]string // guest path -> host file (e.g. /usr/bin/flint)
}

// rootApplets are the busybox applets of the root.
var rootApplets = []string{"sh", "mount", "echo", "cat", "poweroff", "sync", "grep", "head", "cut", "ls", "sed", "stat", "find", "sort", "tail"}

// MakeRoot builds a 64 MiB ext4 image labelled flintroot: busybox,
// /etc/os-release (systemd refuses to switch into a root without it), a
// minimal passwd/group/shadow with a wheel group, the init script and the
// extra files.
func MakeRoot(o RootOptions) (string, error) {
	tree := filepath.Join(o.Dir, "tree")
	for _, d := range []string{"bin", "sbin", "etc", "proc", "sys", "dev", "run", "tmp", "home", "root", "usr/bin", "usr/share/zoneinfo"} {
		if err := os.MkdirAll(filepath.Join(tree, d), 0o755); err != nil {
			return "", err
		}
	}
	bb, err := exec.LookPath("busybox")
	if err != nil {
		return "", fmt.Errorf("busybox-static not installed: %w", err)
	}
	files := map[string]string{
		"etc/os-release":         "ID=flint-test\nNAME=\"flint boot test root\"\n",
		"etc/passwd":             "root:x:0:0:root:/root:/bin/sh\n",
		"etc/group":              "root:x:0:\nwheel:x:10:\nusers:x:100:\n",
		"etc/shadow":             "root:*:19000:0:99999:7:::\n",
		"etc/gshadow":            "root:*::\nwheel:*::\nusers:*::\n",
		"usr/share/zoneinfo/UTC": "TZif2\n",
		"sbin/init":              o.Init,
	}
	for p, c := range files {
		mode := os.FileMode(0o644)
		if p == "sbin/init" {
			mode = 0o755
		}
		if strings.Contains(p, "shadow") {
			mode = 0o600
		}
		if err := os.WriteFile(filepath.Join(tree, p), []byte(c), mode); err != nil {
			return "", err
		}
	}
	extra := map[string]string{"/bin/busybox": bb}
	for g, h := range o.Files {
		extra[g] = h
	}
	for g, h := range extra {
		b, err := os.ReadFile(h)
		if err != nil {
			return "", err
		}
		p := filepath.Join(tree, g)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o755); err != nil {
			return "", err
		}
	}
	for _, a := range rootApplets {
		if err := os.Symlink("busybox", filepath.Join(tree, "bin", a)); err != nil {
			return "", err
		}
	}
	img := filepath.Join(o.Dir, "root.img")
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", "-L", "flintroot", "-d", tree, img, "64M").CombinedOutput(); err != nil {
		return "", fmt.Errorf("mkfs.ext4 -d: %v: %s", err, out)
	}
	return img, nil
}

// Ports are the virtio-serial ports of every boot; flint-failure.sh writes
// to them in the emergency target.
var Ports = []string{
	"org.flintboot.journal",      // journalctl -t flint, short-monotonic
	"org.flintboot.journal.json", // journalctl -t flint -o json
	"org.flintboot.collect-logs", // flint collect-logs --root /sysroot -o -
}

// BaseCmdline is the command line of every boot: serial console, no
// shell, power off from the emergency target, systemd's status lines.
const BaseCmdline = "console=ttyS0 panic=-1 quiet loglevel=4 rd.shell=0 rd.emergency=poweroff systemd.show_status=1 rd.udev.log_level=3"

// Machine is one dracut boot.
type Machine struct {
	Kernel, Initramfs string
	Cmdline           string            // appended to BaseCmdline
	Disks             []string          // raw images: vda, vdb, ...
	FwCfg             map[string]string // fw_cfg name -> host file
	Net               bool              // virtio-net on QEMU user networking (host at 10.0.2.2); else -nic none
	Timeout           time.Duration     // default 4 minutes
	// Console, when set, receives every serial console line as it comes.
	Console func(line string)
}

// Result is what a boot produced.
type Result struct {
	Serial   string
	Ports    map[string][]byte // what the guest wrote to each of Ports
	Duration time.Duration
}

// ErrTimeout: the guest did not power off in time.
var ErrTimeout = errors.New("VM timed out")

// Boot runs m until the guest powers off (the root's init, or dracut's
// emergency with rd.emergency=poweroff). The Result is non-nil whenever
// QEMU ran.
func (m Machine) Boot(ctx context.Context, dir string) (*Result, error) {
	args := []string{
		"-machine", "q35,accel=tcg", "-cpu", "max", "-smp", "2", "-m", "1024",
		"-nographic", "-no-reboot", "-serial", "mon:stdio",
		"-kernel", m.Kernel, "-initrd", m.Initramfs, "-append", strings.TrimSpace(BaseCmdline + " " + m.Cmdline),
		"-device", "virtio-rng-pci",
		"-device", "virtio-serial-pci",
	}
	portFiles := map[string]string{}
	for i, p := range Ports {
		f := filepath.Join(dir, fmt.Sprintf("port%d.out", i))
		os.Remove(f)
		portFiles[p] = f
		args = append(args, "-chardev", fmt.Sprintf("file,id=p%d,path=%s", i, f),
			"-device", fmt.Sprintf("virtserialport,chardev=p%d,name=%s", i, p))
	}
	for i, d := range m.Disks {
		args = append(args,
			"-drive", fmt.Sprintf("file=%s,format=raw,if=none,id=d%d,cache=unsafe", d, i),
			"-device", fmt.Sprintf("virtio-blk-pci,drive=d%d,serial=disk%d", i, i))
	}
	if m.Net {
		args = append(args, "-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0")
	} else {
		args = append(args, "-nic", "none")
	}
	keys := make([]string, 0, len(m.FwCfg))
	for k := range m.FwCfg {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "-fw_cfg", fmt.Sprintf("name=%s,file=%s", k, m.FwCfg[k]))
	}
	timeout := m.Timeout
	if timeout == 0 {
		timeout = 4 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "qemu-system-x86_64", args...)
	var serial bytes.Buffer
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.WaitDelay = 2 * time.Second
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		for sc.Scan() {
			l := strings.TrimRight(sc.Text(), "\r")
			serial.WriteString(l + "\n")
			if m.Console != nil {
				m.Console(l)
			}
		}
		io.Copy(io.Discard, pr)
	}()
	start := time.Now()
	err := cmd.Run()
	res := &Result{Duration: time.Since(start), Ports: map[string][]byte{}}
	pw.Close()
	<-done
	res.Serial = serial.String()
	for p, f := range portFiles {
		if b, rerr := os.ReadFile(f); rerr == nil {
			res.Ports[p] = b
		}
	}
	if ctx.Err() != nil {
		return res, fmt.Errorf("%w after %s; serial tail:\n%s", ErrTimeout, timeout, vm.Tail(res.Serial, 60))
	}
	if err != nil {
		return res, fmt.Errorf("qemu: %v; serial tail:\n%s", err, vm.Tail(res.Serial, 60))
	}
	return res, nil
}
