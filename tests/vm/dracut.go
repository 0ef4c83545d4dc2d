package vm

import (
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// DracutCmdline is what a dracut/systemd boot should add to Machine.Cmdline: no shell,
// power off on emergency (assert a marker or use the isa-debug-exit verdict; QEMU's rc
// is then 0, which Run reports as "no verdict").
const DracutCmdline = "rd.shell=0 rd.emergency=poweroff systemd.show_status=1 rd.udev.log_level=3"

// DracutOptions selects the content of a dracut/systemd initramfs (E2E-NOTES §6, §9.3).
type DracutOptions struct {
	// ModuleDirs are extra dracut module directories (e.g. the repository's dracut/30flint)
	// copied into the private modules.d under their base names.
	ModuleDirs []string
	// Modules are dracut modules added to the base list (bash systemd systemd-initrd
	// dracut-systemd kernel-modules udev-rules base fs-lib rootfs-block dm crypt),
	// e.g. "flint", "mdraid", "clevis", "network", "systemd-networkd".
	Modules []string
	// Drivers are kernel modules added to virtio_pci virtio_blk virtio_rng qemu_fw_cfg
	// crc32c_generic (plus virtio_net when NetDrivers is empty and "network" is listed).
	Drivers []string
	// Filesystems default to ext4 vfat xfs btrfs.
	Filesystems []string
	// Install lists host binaries/files for dracut --install (same path in the image).
	Install []string
	// FlintBinary, when set, becomes /usr/bin/flint.
	FlintBinary string
	// ExtraFiles maps guest paths to host files (dracut --include).
	ExtraFiles map[string]string
	// NetDrivers replaces dracut's "every wired NIC driver" (233 modules, +16 MB) with
	// this list; default virtio_net.
	NetDrivers []string
}

var dracutBaseModules = []string{"bash", "systemd", "systemd-initrd", "dracut-systemd", "kernel-modules",
	"udev-rules", "base", "fs-lib", "rootfs-block", "dm", "crypt"}

// BuildDracutInitramfs builds a dracut/systemd initramfs for the cached kernel with a
// private copy of /usr/lib/dracut (nothing on the host is changed) and with the host's
// dracut configuration ignored (--conf /dev/null, empty --confdir).
func BuildDracutInitramfs(opts DracutOptions, out string) error {
	_, modDir, kver, err := Kernel()
	if err != nil {
		return err
	}
	if _, err := exec.LookPath("dracut"); err != nil {
		return fmt.Errorf("dracut not installed (run make deps): %w", err)
	}
	tmp, err := os.MkdirTemp("", "flint-dracut-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	base := filepath.Join(tmp, "base")
	if out, err := exec.Command("cp", "-a", "/usr/lib/dracut", base).CombinedOutput(); err != nil {
		return fmt.Errorf("copy /usr/lib/dracut: %w: %s", err, out)
	}
	netDrivers := opts.NetDrivers
	if len(netDrivers) == 0 {
		netDrivers = []string{"virtio_net"}
	}
	knm := filepath.Join(base, "modules.d", "90kernel-network-modules", "module-setup.sh")
	if b, err := os.ReadFile(knm); err == nil {
		s := strings.Replace(string(b), "installkernel() {\n",
			"installkernel() {\n    hostonly='' instmods "+strings.Join(netDrivers, " ")+"\n    return 0\n", 1)
		if s == string(b) {
			return fmt.Errorf("dracut: cannot patch %s", knm)
		}
		if err := os.WriteFile(knm, []byte(s), 0o755); err != nil {
			return err
		}
	}
	for _, d := range opts.ModuleDirs {
		dst := filepath.Join(base, "modules.d", filepath.Base(d))
		if out, err := exec.Command("cp", "-a", d, dst).CombinedOutput(); err != nil {
			return fmt.Errorf("copy dracut module %s: %w: %s", d, err, out)
		}
	}
	confdir := filepath.Join(tmp, "conf.d")
	if err := os.Mkdir(confdir, 0o755); err != nil {
		return err
	}
	drivers := append([]string{"virtio_pci", "virtio_blk", "virtio_rng", "qemu_fw_cfg", "crc32c_generic"}, opts.Drivers...)
	fss := opts.Filesystems
	if len(fss) == 0 {
		fss = []string{"ext4", "vfat", "xfs", "btrfs"}
	}
	args := []string{"--conf", "/dev/null", "--confdir", confdir, "--force", "--no-hostonly", "--no-hostonly-cmdline",
		"--kver", kver, "--kmoddir", modDir,
		"--modules", strings.Join(append(append([]string{}, dracutBaseModules...), opts.Modules...), " "),
		"--drivers", strings.Join(drivers, " "), "--filesystems", strings.Join(fss, " "),
		"--compress", "gzip -1"}
	if len(opts.Install) > 0 {
		args = append(args, "--install", strings.Join(opts.Install, " "))
	}
	if opts.FlintBinary != "" {
		if err := checkStatic(opts.FlintBinary); err != nil {
			return err
		}
		args = append(args, "--include", opts.FlintBinary, "/usr/bin/flint")
	}
	guests := make([]string, 0, len(opts.ExtraFiles))
	for g := range opts.ExtraFiles {
		guests = append(guests, g)
	}
	sort.Strings(guests)
	for _, g := range guests {
		args = append(args, "--include", opts.ExtraFiles[g], g)
	}
	args = append(args, out)
	cmd := exec.Command("dracut", args...)
	cmd.Env = append(os.Environ(), "dracutbasedir="+base, "TMPDIR="+tmp)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("dracut: %w:\n%s", err, Tail(string(b), 30))
	}
	return nil
}

// RootOptions describes a minimal root filesystem image made on the host (no loop
// device, no mount): busybox, /etc/os-release (systemd refuses a root without it) and
// a /sbin/init that runs Script with `sh -e` and reports the verdict like the test
// initramfs (FLINT-TEST-RESULT marker, isa-debug-exit).
type RootOptions struct {
	Label      string            // ext4 label, default "flintroot"
	Size       int64             // bytes, default 64 MiB
	Script     string            // run by /sbin/init; "" = just pass
	ExtraFiles map[string]string // guest path -> host file
}

//go:embed guest/root-init
var guestRootInit []byte

// BuildRootImage writes an ext4 image for switch-root tests to out.
func BuildRootImage(opts RootOptions, out string) error {
	if opts.Label == "" {
		opts.Label = "flintroot"
	}
	if opts.Size == 0 {
		opts.Size = 64 << 20
	}
	tmp, err := os.MkdirTemp("", "flint-root-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	tree := filepath.Join(tmp, "tree")
	bb, err := exec.LookPath("busybox")
	if err != nil {
		return fmt.Errorf("busybox-static not installed: %w", err)
	}
	write := func(p string, b []byte, mode os.FileMode) error {
		p = filepath.Join(tree, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		return os.WriteFile(p, b, mode)
	}
	for _, d := range []string{"proc", "sys", "dev", "run", "tmp", "etc", "root", "mnt", "usr/bin", "usr/sbin"} {
		if err := os.MkdirAll(filepath.Join(tree, d), 0o755); err != nil {
			return err
		}
	}
	b, err := os.ReadFile(bb)
	if err != nil {
		return err
	}
	if err := write("bin/busybox", b, 0o755); err != nil {
		return err
	}
	list, err := exec.Command(bb, "--list-full").Output()
	if err != nil {
		return fmt.Errorf("busybox --list-full: %w", err)
	}
	for _, l := range strings.Fields(string(list)) {
		if l == "bin/busybox" || l == "sbin/init" || l == "linuxrc" {
			continue
		}
		p := filepath.Join(tree, l)
		os.MkdirAll(filepath.Dir(p), 0o755)
		rel, _ := filepath.Rel(filepath.Dir("/"+l), "/bin/busybox")
		if err := os.Symlink(rel, p); err != nil && !os.IsExist(err) {
			return err
		}
	}
	files := map[string][]byte{
		"sbin/init":              guestRootInit,
		"etc/os-release":         []byte("ID=flint-test\nNAME=\"flint test root\"\n"),
		"etc/passwd":             []byte("root:x:0:0:root:/root:/bin/sh\n"),
		"etc/group":              []byte("root:x:0:\n"),
		"etc/flint-test/test.sh": []byte(opts.Script + "\n"),
	}
	for p, c := range files {
		mode := os.FileMode(0o644)
		if p == "sbin/init" {
			mode = 0o755
		}
		if err := write(p, c, mode); err != nil {
			return err
		}
	}
	for g, h := range opts.ExtraFiles {
		st, err := os.Stat(h)
		if err != nil {
			return fmt.Errorf("root extra file %s: %w", g, err)
		}
		c, err := os.ReadFile(h)
		if err != nil {
			return err
		}
		if err := write(strings.TrimPrefix(g, "/"), c, st.Mode().Perm()); err != nil {
			return err
		}
	}
	os.Remove(out)
	if o, err := exec.Command("mkfs.ext4", "-q", "-F", "-L", opts.Label, "-d", tree, out,
		fmt.Sprintf("%dk", opts.Size>>10)).CombinedOutput(); err != nil {
		return fmt.Errorf("mkfs.ext4 -d: %w: %s", err, o)
	}
	return nil
}
