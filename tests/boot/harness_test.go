// Package boot holds flint's real boot tests: a dracut/systemd initramfs
// built from the unpacked Debian kernel (tests/deps/kernel.sh) with the
// 30flint module and the flint binary, booted under QEMU (TCG). flint runs
// its stages from the initramfs units, the initramfs switches root into a
// small ext4 root, and that root's /sbin/init checks what flint wrote and
// prints a marker on the serial console.
//
// The dracut tree is a private copy of /usr/lib/dracut (nothing on the host
// changes) and the build ignores the host's dracut configuration
// (--conf /dev/null --confdir <empty>), see E2E-NOTES §6 and §9.3.
package boot

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flintboot/flint/tests/vm"
)

var (
	workDir string // shared by every test of this run

	imageOnce sync.Once
	imagePath string
	imageErr  error

	// One QEMU at a time (2 cores on CI).
	qemuMu sync.Mutex
)

func TestMain(m *testing.M) {
	d, err := os.MkdirTemp("", "flint-boot-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	workDir = d
	code := m.Run()
	if os.Getenv("FLINT_BOOT_KEEP") == "" {
		os.RemoveAll(d)
	} else {
		fmt.Fprintln(os.Stderr, "kept", d)
	}
	os.Exit(code)
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the boot tests need root (dracut, mkfs); run them as root like make test does")
	}
}

func repoRoot() string {
	wd, _ := os.Getwd()
	return filepath.Clean(filepath.Join(wd, "..", ".."))
}

func run(t testing.TB, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, vm.Tail(string(out), 40))
	}
	return string(out)
}

// image returns the dracut initramfs shared by all boot tests, building it
// on first use: flint (static), a private dracut tree with modules.d/30flint
// and the network trimmed to virtio_net.
func image(t *testing.T) string {
	t.Helper()
	requireRoot(t)
	imageOnce.Do(func() { imagePath, imageErr = buildImage() })
	if imageErr != nil {
		t.Fatal(imageErr)
	}
	return imagePath
}

func buildImage() (string, error) {
	_, modDir, kver, err := vm.Kernel()
	if err != nil {
		return "", err
	}
	if _, err := exec.LookPath("dracut"); err != nil {
		return "", fmt.Errorf("dracut not installed (make deps): %w", err)
	}
	dir := filepath.Join(workDir, "dracut")
	base := filepath.Join(dir, "base")
	conf := filepath.Join(dir, "conf.d")
	if err := os.MkdirAll(conf, 0o755); err != nil {
		return "", err
	}
	start := time.Now()
	// flint itself, static
	flint := filepath.Join(dir, "flint")
	build := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-o", flint, "./cmd/flint")
	build.Dir = repoRoot()
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build flint: %v\n%s", err, out)
	}
	if out, err := exec.Command("cp", "-a", "/usr/lib/dracut", base).CombinedOutput(); err != nil {
		return "", fmt.Errorf("copy dracut: %v\n%s", err, out)
	}
	// 30flint from the repository, plus the binary
	mod := filepath.Join(base, "modules.d", "30flint")
	if err := os.MkdirAll(mod, 0o755); err != nil {
		return "", err
	}
	src := filepath.Join(repoRoot(), "dracut", "30flint")
	ents, err := os.ReadDir(src)
	if err != nil {
		return "", err
	}
	for _, e := range ents {
		if e.IsDir() || strings.HasSuffix(e.Name(), ".go") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			return "", err
		}
		mode := os.FileMode(0o644)
		if fi, _ := e.Info(); fi != nil && fi.Mode()&0o111 != 0 || strings.HasSuffix(e.Name(), ".sh") || e.Name() == "flint-generator" {
			mode = 0o755
		}
		if err := os.WriteFile(filepath.Join(mod, e.Name()), b, mode); err != nil {
			return "", err
		}
	}
	if out, err := exec.Command("cp", flint, filepath.Join(mod, "flint")).CombinedOutput(); err != nil {
		return "", fmt.Errorf("%v: %s", err, out)
	}
	// Only virtio_net instead of every wired NIC driver (E2E-NOTES §9.3).
	knm := filepath.Join(base, "modules.d", "90kernel-network-modules", "module-setup.sh")
	b, err := os.ReadFile(knm)
	if err != nil {
		return "", err
	}
	patched := strings.Replace(string(b), "installkernel() {\n",
		"installkernel() {\n    if [[ -n ${FLINT_NET_DRIVERS-} ]]; then hostonly='' instmods $FLINT_NET_DRIVERS; return 0; fi\n", 1)
	if patched == string(b) {
		return "", fmt.Errorf("cannot patch %s", knm)
	}
	if err := os.WriteFile(knm, []byte(patched), 0o755); err != nil {
		return "", err
	}
	dracutArgs := []string{"--conf", "/dev/null", "--confdir", conf,
		"--force", "--no-hostonly", "--no-hostonly-cmdline", "--kver", kver, "--kmoddir", modDir,
		"--modules", "bash systemd systemd-initrd dracut-systemd kernel-modules udev-rules base fs-lib rootfs-block flint network systemd-networkd",
		"--drivers", "virtio_pci virtio_blk virtio_net virtio_rng virtio_console qemu_fw_cfg crc32c_generic",
		"--filesystems", "ext4", "--compress", "gzip -1"}
	// The image is cached by the hash of everything that goes into it
	// (dracut takes seconds alone, minutes on a busy machine).
	h := sha256.New()
	fmt.Fprintln(h, kver, strings.Join(dracutArgs, " "), patched)
	filepath.Walk(mod, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			fmt.Fprintln(h, p[len(mod):], fi.Mode())
			if b, err := os.ReadFile(p); err == nil {
				h.Write(b)
			}
		}
		return nil
	})
	cacheDir := filepath.Join(vm.CacheDir(), "boot")
	cached := filepath.Join(cacheDir, fmt.Sprintf("dracut-%x.img", h.Sum(nil)[:12]))
	if _, err := os.Stat(cached); err == nil {
		fmt.Fprintf(os.Stderr, "boot: cached dracut image %s\n", cached)
		return cached, nil
	}
	out := filepath.Join(dir, "initramfs.img")
	cmd := exec.Command("dracut", append(dracutArgs, out)...)
	cmd.Env = append(os.Environ(), "dracutbasedir="+base, "FLINT_NET_DRIVERS=virtio_net", "TMPDIR="+dir)
	if o, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("dracut: %v\n%s", err, vm.Tail(string(o), 40))
	}
	fi, err := os.Stat(out)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(os.Stderr, "boot: dracut image %s (%.1f MB) built in %s\n", out, float64(fi.Size())/1e6, time.Since(start).Round(100*time.Millisecond))
	// keep only the newest image in the cache
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

// rootInit is /sbin/init of the test root: it checks what the first-boot
// config (firstBootConfig) wrote and prints one marker line.
const rootInit = `#!/bin/sh
export PATH=/bin:/sbin
mount -t proc proc /proc 2>/dev/null
read up _ </proc/uptime
m=""
[ "$(cat /etc/flint-test/hello.txt 2>/dev/null)" = "hello from flint" ] || m="$m hello"
grep -q '^flinttest:x:4242:' /etc/passwd || m="$m user"
[ -d /home/flinttest ] || m="$m home"
grep -q 'ssh-ed25519 AAAAflinttest' /home/flinttest/.ssh/authorized_keys.d/flint /home/flinttest/.ssh/authorized_keys 2>/dev/null || m="$m sshkey"
grep -q 'ExecStart=/bin/true' /etc/systemd/system/flint-test.service 2>/dev/null || m="$m unit"
grep -q '^enable flint-test.service' /etc/systemd/system-preset/20-flint.preset 2>/dev/null || m="$m preset"
[ -s /etc/.flint-result.json ] || m="$m result"
[ -e /etc/.flint-in-progress ] && m="$m stamp-left"
[ -e /etc/flint-test/second.txt ] && m="$m second-boot-ran"
[ -d /var/data ] || m="$m mountpoint"
echo "FLINT-ROOT-INIT uptime=$up root=$(grep ' / ' /proc/mounts | head -n 1 | cut -d' ' -f1,3) missing=${m:-none}" >/dev/console
sync
poweroff -f
`

// makeRoot builds a 64 MiB ext4 image labelled flintroot holding busybox,
// /etc/os-release (systemd refuses to switch into a root without it), a
// minimal passwd/group/shadow and rootInit.
func makeRoot(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	for _, d := range []string{"bin", "sbin", "etc", "proc", "sys", "dev", "run", "tmp", "home", "root"} {
		if err := os.MkdirAll(filepath.Join(tree, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	run(t, "", nil, "cp", "/bin/busybox", filepath.Join(tree, "bin", "busybox"))
	for _, a := range []string{"sh", "mount", "echo", "cat", "poweroff", "sync", "grep", "head", "cut", "ls"} {
		if err := os.Symlink("busybox", filepath.Join(tree, "bin", a)); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		"etc/os-release": "ID=flint-test\nNAME=\"flint boot test root\"\n",
		"etc/passwd":     "root:x:0:0:root:/root:/bin/sh\n",
		"etc/group":      "root:x:0:\nusers:x:100:\n",
		"etc/shadow":     "root:*:19000:0:99999:7:::\n",
		"etc/gshadow":    "root:*::\nusers:*::\n",
		"sbin/init":      rootInit,
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
			t.Fatal(err)
		}
	}
	img := filepath.Join(dir, "root.img")
	run(t, "", nil, "mkfs.ext4", "-q", "-F", "-L", "flintroot", "-d", tree, img, "64M")
	return img
}

// machine is one dracut boot.
type machine struct {
	Cmdline string            // appended to the base command line
	Disks   []string          // raw images: vda, vdb, ...
	FwCfg   map[string]string // fw_cfg name -> host file
	Net     bool              // virtio-net on QEMU user networking; else -nic none
	Timeout time.Duration     // default 4 minutes
}

type bootResult struct {
	Serial   string
	Journal  string // what the guest wrote to the org.flintboot.journal port
	Duration time.Duration
}

const baseCmdline = "console=ttyS0 panic=-1 quiet loglevel=4 rd.shell=0 rd.emergency=poweroff systemd.show_status=1 rd.udev.log_level=3"

// boot runs m and returns the serial console; QEMU ends when the guest
// powers off (the root's init, or dracut's emergency with rd.emergency=poweroff).
func (m machine) boot(t *testing.T) bootResult {
	t.Helper()
	img := image(t)
	vmlinuz, _, _, err := vm.Kernel()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	journal := filepath.Join(dir, "journal.txt")
	args := []string{
		"-machine", "q35,accel=tcg", "-cpu", "max", "-smp", "2", "-m", "1024",
		"-nographic", "-no-reboot", "-serial", "mon:stdio",
		"-kernel", vmlinuz, "-initrd", img, "-append", baseCmdline + " " + m.Cmdline + " " + os.Getenv("FLINT_BOOT_CMDLINE"),
		"-device", "virtio-rng-pci",
		"-device", "virtio-serial-pci",
		"-chardev", "file,id=fj,path=" + journal,
		"-device", "virtserialport,chardev=fj,name=org.flintboot.journal",
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
	for k, v := range m.FwCfg {
		args = append(args, "-fw_cfg", fmt.Sprintf("name=%s,file=%s", k, v))
	}
	timeout := m.Timeout
	if timeout == 0 {
		timeout = 4 * time.Minute
	}
	qemuMu.Lock()
	defer qemuMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
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
			serial.WriteString(strings.TrimRight(sc.Text(), "\r") + "\n")
		}
		io.Copy(io.Discard, pr)
	}()
	start := time.Now()
	err = cmd.Run()
	dur := time.Since(start)
	pw.Close()
	<-done
	res := bootResult{Serial: serial.String(), Duration: dur}
	if b, rerr := os.ReadFile(journal); rerr == nil {
		res.Journal = string(b)
	}
	if path := os.Getenv("FLINT_BOOT_SERIAL_DIR"); path != "" {
		os.WriteFile(filepath.Join(path, strings.ReplaceAll(t.Name(), "/", "_")+".log"), serial.Bytes(), 0o644)
	}
	if ctx.Err() != nil {
		t.Fatalf("VM timed out after %s; serial tail:\n%s", timeout, vm.Tail(res.Serial, 60))
	}
	if err != nil {
		t.Fatalf("qemu: %v; serial tail:\n%s", err, vm.Tail(res.Serial, 60))
	}
	t.Logf("boot took %s", dur.Round(100*time.Millisecond))
	return res
}

var rootInitRe = regexp.MustCompile(`FLINT-ROOT-INIT uptime=([0-9.]+) root=(.*) missing=(.*)`)

// rootMarker returns the root init's report (uptime and missing items), or
// ok=false when the machine never reached the real root.
func rootMarker(serial string) (uptime float64, root, missing string, ok bool) {
	mm := rootInitRe.FindStringSubmatch(serial)
	if mm == nil {
		return 0, "", "", false
	}
	uptime, _ = strconv.ParseFloat(mm[1], 64)
	return uptime, mm[2], strings.TrimSpace(mm[3]), true
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
