package vm

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

//go:embed guest/init
var guestInit []byte

//go:embed guest/udevadm
var guestUdevadm []byte

// InitramfsOptions selects what goes into a test initramfs besides the fixed base
// (busybox, the disk tools with their libraries, the kernel modules, /init).
type InitramfsOptions struct {
	// FlintBinary is a host path to a static flint binary; it becomes /usr/bin/flint.
	FlintBinary string
	// ExtraFiles maps guest paths to host files (mode kept from the host file).
	ExtraFiles map[string]string
	// Clevis adds bash, curl, jose, luksmeta, pwmake, tpm2-tools and the clevis
	// scripts (E2E-NOTES §9.5) so that a guest script can bind and unlock with
	// tang, tpm2 and sss.
	Clevis bool
}

// Modules is the load order used by the guest /init. crc32c_generic must come first:
// libcrc32c has only a softdep on it, which busybox modprobe ignores.
var Modules = []string{
	"crc32c_generic", "crc32c_intel",
	"virtio_pci", "virtio_blk", "virtio_rng", "virtio_net", "qemu_fw_cfg",
	"dm_mod", "dm_crypt", "md_mod", "linear", "raid0", "raid1", "raid10", "raid456",
	"vfat", "nls_cp437", "nls_ascii", "nls_iso8859_1", "nls_utf8",
	"ext4", "xfs", "btrfs",
	"xts", "aesni_intel", "algif_skcipher", "loop",
}

// baseTools go to /usr/sbin with their libraries (resolved on the host through PATH).
var baseTools = []string{
	"sgdisk", "sfdisk", "partx", "blockdev", "lsblk", "findmnt", "losetup",
	"cryptsetup", "dmsetup", "mdadm", "wipefs", "blkid", "mount", "umount",
	"mkfs.ext4", "mke2fs", "e2fsck", "fsck.ext4", "tune2fs", "e2label", "dumpe2fs", "debugfs",
	"mkfs.xfs", "xfs_admin", "xfs_db", "mkfs.fat", "mkfs.vfat", "fatlabel", "fsck.fat",
	"mkfs.btrfs", "btrfs", "btrfstune", "mkswap", "swaplabel",
	"useradd", "usermod", "userdel", "groupadd", "groupmod", "groupdel", "chpasswd", "chgpasswd",
}

// clevisELF are binaries of the clevis route that go to /usr/bin.
var clevisELF = []string{"bash", "curl", "jose", "luksmeta", "pwmake", "tpm2",
	"clevis-encrypt-sss", "clevis-decrypt-sss"}

var clevisScripts = []string{"clevis", "clevis-decrypt",
	"clevis-luks-bind", "clevis-luks-unlock", "clevis-luks-list", "clevis-luks-pass",
	"clevis-luks-unbind", "clevis-luks-regen", "clevis-luks-common-functions",
	"clevis-encrypt-tang", "clevis-decrypt-tang", "clevis-encrypt-tpm2", "clevis-decrypt-tpm2",
	"clevis-encrypt-null", "clevis-decrypt-null"}

var tpm2Links = []string{"tpm2_createprimary", "tpm2_create", "tpm2_createpolicy", "tpm2_load",
	"tpm2_unseal", "tpm2_flushcontext", "tpm2_pcrread", "tpm2_getrandom", "tpm2_pcrextend"}

const hostPath = "/usr/sbin:/usr/bin:/sbin:/bin"

// baseVersion changes whenever the layout of the base archive changes (cache key).
const baseVersion = "flint-vm-base-3"

// BuildInitramfs writes a bootable initramfs to out. It is a cached, gzip-compressed base
// archive (busybox, tools, libraries, modules; E2E-NOTES §2, §9.5) followed by an
// uncompressed archive with /init, the helpers, flint and opts.ExtraFiles; the kernel
// unpacks both. The base is rebuilt only when its inputs change.
func BuildInitramfs(opts InitramfsOptions, out string) error {
	base, err := baseArchive(opts.Clevis)
	if err != nil {
		return err
	}
	ov := cpioTree{}
	ov.bytes("init", guestInit, 0o755)
	// mkdevlinks (./tests/vm/mkdevlinks) makes the /dev/disk links udev
	// would: the guest has no udev.
	helper, err := buildStatic("./tests/vm/mkdevlinks", out+".mkdevlinks")
	if err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	defer os.Remove(helper)
	ov.file("usr/sbin/mkdevlinks", helper, 0o755)
	ov.bytes("usr/sbin/udevadm", guestUdevadm, 0o755)
	ov.bytes("etc/flint-test/modules", []byte(strings.Join(Modules, "\n")+"\n"), 0o644)
	if opts.FlintBinary != "" {
		if err := checkStatic(opts.FlintBinary); err != nil {
			return err
		}
		ov.file("usr/bin/flint", opts.FlintBinary, 0o755)
	}
	for g, h := range opts.ExtraFiles {
		st, err := os.Stat(h)
		if err != nil {
			return fmt.Errorf("initramfs: extra file %s: %w", g, err)
		}
		ov.file(g, h, uint32(st.Mode().Perm()))
	}

	tmp := out + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	defer os.Remove(tmp)
	bf, err := os.Open(base)
	if err != nil {
		f.Close()
		return fmt.Errorf("initramfs: %w", err)
	}
	_, err = io.Copy(f, bf)
	bf.Close()
	if err == nil {
		// The kernel accepts zero padding between archives; align to 4 bytes.
		if off, _ := f.Seek(0, io.SeekCurrent); off%4 != 0 {
			_, err = f.Write(make([]byte, 4-off%4))
		}
	}
	if err == nil {
		w := bufio.NewWriterSize(f, 1<<20)
		if err = ov.write(w); err == nil {
			err = w.Flush()
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("initramfs: write %s: %w", out, err)
	}
	return os.Rename(tmp, out)
}

func checkStatic(p string) error {
	f, err := elf.Open(p)
	if err != nil {
		return fmt.Errorf("initramfs: flint binary %s: %w", p, err)
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return fmt.Errorf("initramfs: flint binary %s is dynamically linked; build it with CGO_ENABLED=0", p)
		}
	}
	return nil
}

// baseArchive returns the path of the cached base archive, building it when needed.
func baseArchive(clevis bool) (string, error) {
	_, modDir, kver, err := Kernel()
	if err != nil {
		return "", err
	}
	tree, inputs, err := baseTree(clevis, modDir, kver)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintln(h, baseVersion, kver, clevis, strings.Join(Modules, ","))
	for _, in := range inputs {
		st, err := os.Stat(in)
		if err != nil {
			return "", fmt.Errorf("initramfs: %w", err)
		}
		fmt.Fprintln(h, in, st.Size(), st.ModTime().UnixNano())
	}
	dir := filepath.Join(CacheDir(), "initramfs")
	path := filepath.Join(dir, "base-"+hex.EncodeToString(h.Sum(nil))[:16]+".cpio.gz")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("initramfs: %w", err)
	}
	stage, err := os.MkdirTemp(dir, "modules-")
	if err != nil {
		return "", fmt.Errorf("initramfs: %w", err)
	}
	defer os.RemoveAll(stage)
	if err := addModules(tree, modDir, kver, stage); err != nil {
		return "", err
	}
	f, err := os.CreateTemp(dir, "base-*.tmp")
	if err != nil {
		return "", fmt.Errorf("initramfs: %w", err)
	}
	defer os.Remove(f.Name())
	zw, _ := gzip.NewWriterLevel(f, gzip.BestSpeed)
	bw := bufio.NewWriterSize(zw, 1<<20)
	err = tree.write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = zw.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err != nil {
		return "", fmt.Errorf("initramfs: write base: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return "", fmt.Errorf("initramfs: %w", err)
	}
	return path, nil
}

// baseTree lays out everything but the modules; inputs are the host files whose
// size/mtime key the cache.
func baseTree(clevis bool, modDir, kver string) (cpioTree, []string, error) {
	t := cpioTree{}
	for _, d := range []string{"proc", "sys", "dev", "run", "tmp", "root", "mnt", "sysroot", "etc", "var/tmp"} {
		t.dir(d)
	}
	t.symlink("var/run", "../run")
	bb, err := exec.LookPath("busybox")
	if err != nil {
		return nil, nil, fmt.Errorf("initramfs: busybox-static not installed (run make deps): %w", err)
	}
	if err := checkStatic(bb); err != nil {
		return nil, nil, fmt.Errorf("initramfs: need busybox-static: %w", err)
	}
	inputs := []string{bb, filepath.Join(modDir, "modules.dep")}
	t.file("bin/busybox", bb, 0o755)
	list, err := exec.Command(bb, "--list-full").Output()
	if err != nil {
		return nil, nil, fmt.Errorf("initramfs: busybox --list-full: %w", err)
	}
	for _, l := range strings.Fields(string(list)) {
		if l == "bin/busybox" {
			continue
		}
		rel, _ := filepath.Rel(filepath.Dir("/"+l), "/bin/busybox")
		t.symlink(l, rel)
	}
	t.symlink("sbin/modprobe", "../bin/busybox") // the kernel's request_module() runs it
	t.bytes("etc/passwd", []byte("root:x:0:0:root:/root:/bin/sh\n"), 0o644)
	t.bytes("etc/group", []byte("root:x:0:\n"), 0o644)
	t.bytes("etc/shadow", []byte("root:*:19000:0:99999:7:::\n"), 0o600)
	t.bytes("etc/hostname", []byte("flint-test\n"), 0o644)
	t.bytes("etc/os-release", []byte("ID=flint-test\nNAME=\"flint test initramfs\"\n"), 0o644)
	for _, f := range []string{"/etc/mke2fs.conf", "/etc/login.defs"} {
		if _, err := os.Stat(f); err == nil {
			t.file(f, f, 0o644)
			inputs = append(inputs, f)
		}
	}

	libs := map[string]bool{}
	add := func(name, dir string, elfOnly bool) error {
		p, err := lookTool(name)
		if err != nil {
			return err
		}
		inputs = append(inputs, p)
		t.file(dir+"/"+name, p, 0o755)
		isELF, err := fileIsELF(p)
		if err != nil {
			return err
		}
		if !isELF {
			if elfOnly {
				return fmt.Errorf("initramfs: %s (%s) is not an ELF binary", name, p)
			}
			return nil
		}
		return lddLibs(p, libs)
	}
	for _, tool := range baseTools {
		if err := add(tool, "usr/sbin", false); err != nil { // xfs_admin is a script
			return nil, nil, err
		}
	}
	// glibc dlopen()s libgcc_s for pthread_cancel; tpm2-tools dlopen()s the device TCTI.
	extraLibs := []string{"libgcc_s.so.1"}
	if clevis {
		for _, tool := range clevisELF {
			if err := add(tool, "usr/bin", true); err != nil {
				return nil, nil, err
			}
		}
		for _, s := range clevisScripts {
			if err := add(s, "usr/bin", false); err != nil {
				return nil, nil, err
			}
		}
		for _, l := range tpm2Links {
			t.symlink("usr/bin/"+l, "tpm2")
		}
		t.symlink("bin/bash", "../usr/bin/bash") // clevis scripts start with #!/bin/bash
		extraLibs = append(extraLibs, "libtss2-tcti-device.so.0")
		for _, f := range []string{"/var/cache/cracklib/cracklib_dict.hwm", "/var/cache/cracklib/cracklib_dict.pwd",
			"/var/cache/cracklib/cracklib_dict.pwi", "/etc/security/pwquality.conf"} {
			if _, err := os.Stat(f); err != nil {
				return nil, nil, fmt.Errorf("initramfs: clevis needs %s (cracklib-runtime, libpwquality-tools): %w", f, err)
			}
			t.file(f, f, 0o644)
			inputs = append(inputs, f)
		}
	}
	for _, l := range extraLibs {
		p := filepath.Join("/usr/lib/x86_64-linux-gnu", l)
		if _, err := os.Stat(p); err != nil {
			return nil, nil, fmt.Errorf("initramfs: %w", err)
		}
		libs[p] = true
		if err := lddLibs(p, libs); err != nil {
			return nil, nil, err
		}
	}
	var libList []string
	for l := range libs {
		libList = append(libList, l)
	}
	sort.Strings(libList)
	inputs = append(inputs, libList...)
	for _, l := range libList {
		if strings.HasPrefix(l, "/lib64/") {
			t.file(l, l, 0o755)
			continue
		}
		t.file("usr/lib/x86_64-linux-gnu/"+filepath.Base(l), l, 0o755)
	}
	t.symlink("lib/x86_64-linux-gnu", "../usr/lib/x86_64-linux-gnu")
	return t, inputs, nil
}

func lookTool(name string) (string, error) {
	for _, d := range filepath.SplitList(hostPath) {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", fmt.Errorf("initramfs: tool %s not found in %s (run make deps)", name, hostPath)
}

func fileIsELF(p string) (bool, error) {
	f, err := os.Open(p)
	if err != nil {
		return false, fmt.Errorf("initramfs: %w", err)
	}
	defer f.Close()
	var m [4]byte
	if _, err := io.ReadFull(f, m[:]); err != nil {
		return false, nil
	}
	return bytes.Equal(m[:], []byte("\x7fELF")), nil
}

// lddLibs adds the shared libraries (and the dynamic loader) p needs to libs.
func lddLibs(p string, libs map[string]bool) error {
	out, err := exec.Command("ldd", p).CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "not a dynamic executable") {
			return nil
		}
		return fmt.Errorf("initramfs: ldd %s: %w: %s", p, err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 3 && f[1] == "=>" && strings.HasPrefix(f[2], "/"):
			libs[f[2]] = true
		case len(f) >= 1 && strings.HasPrefix(f[0], "/"):
			libs[f[0]] = true // the loader: /lib64/ld-linux-x86-64.so.2
		case len(f) >= 3 && f[1] == "=>" && f[2] == "not":
			return fmt.Errorf("initramfs: ldd %s: missing library %s", p, f[0])
		}
	}
	return nil
}

// addModules copies the closure of Modules into stage, runs depmod there and adds the
// result to the tree under lib/modules/KVER.
func addModules(t cpioTree, modDir, kver, stage string) error {
	kroot := filepath.Dir(filepath.Dir(filepath.Dir(modDir))) // .../kernel
	need := map[string]bool{}
	for _, m := range Modules {
		out, err := exec.Command("modprobe", "-d", kroot, "-S", kver, "--show-depends", m).CombinedOutput()
		if err != nil {
			return fmt.Errorf("initramfs: modprobe --show-depends %s: %w: %s", m, err, out)
		}
		found := false
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Fields(line)
			if len(f) >= 2 && f[0] == "insmod" {
				need[f[1]] = true
				found = true
			}
			if len(f) >= 2 && f[0] == "builtin" {
				found = true
			}
		}
		if !found {
			return fmt.Errorf("initramfs: module %s not found for %s", m, kver)
		}
	}
	smod := filepath.Join(stage, "lib", "modules", kver)
	copyFile := func(src, dst string) error {
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		b, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	}
	for ko := range need {
		rel, err := filepath.Rel(modDir, ko)
		if err != nil || strings.HasPrefix(rel, "..") {
			return fmt.Errorf("initramfs: module %s outside %s", ko, modDir)
		}
		if err := copyFile(ko, filepath.Join(smod, rel)); err != nil {
			return fmt.Errorf("initramfs: %w", err)
		}
	}
	for _, f := range []string{"modules.builtin", "modules.builtin.modinfo", "modules.order"} {
		if err := copyFile(filepath.Join(modDir, f), filepath.Join(smod, f)); err != nil {
			return fmt.Errorf("initramfs: %w", err)
		}
	}
	if out, err := exec.Command("depmod", "-b", stage, kver).CombinedOutput(); err != nil {
		return fmt.Errorf("initramfs: depmod: %w: %s", err, out)
	}
	return filepath.Walk(smod, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(stage, p)
		switch {
		case info.IsDir():
			t.dir(rel)
		case info.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			t.bytes(rel, b, 0o644)
		default:
			return errors.New("initramfs: unexpected file in module stage: " + p)
		}
		return nil
	})
}
