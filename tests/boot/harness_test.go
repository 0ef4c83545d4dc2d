package boot

import (
	"context"
	"errors"
	"fmt"
	"os"
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
	flintPath string
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

// image returns the dracut initramfs shared by all boot tests (Initramfs:
// tests/vm's builder, cached), building flint and the image on first use.
func image(t *testing.T) string {
	t.Helper()
	requireRoot(t)
	imageOnce.Do(func() {
		dir := filepath.Join(workDir, "image")
		if imageErr = os.MkdirAll(dir, 0o755); imageErr != nil {
			return
		}
		if flintPath, imageErr = BuildFlint(dir); imageErr != nil {
			return
		}
		imagePath, imageErr = Initramfs(dir, flintPath, func(s string) { fmt.Fprintln(os.Stderr, "boot:", s) })
	})
	if imageErr != nil {
		t.Fatal(imageErr)
	}
	return imagePath
}

// rootInit is /sbin/init of the test root: it checks what the first-boot
// config (firstBootConfig) wrote, prints `flint status` and `flint analyze
// blame` from the provisioned root, and prints one marker line.
const rootInit = `#!/bin/sh
export PATH=/bin:/sbin:/usr/bin
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
st=$(flint status); rc=$?
echo "FLINT-STATUS rc=$rc $st" >/dev/console
flint analyze blame 2>&1 | sed 's/^/FLINT-BLAME /' >/dev/console
echo "FLINT-ROOT-INIT uptime=$up root=$(grep ' / ' /proc/mounts | head -n 1 | cut -d' ' -f1,3) missing=${m:-none}" >/dev/console
sync
poweroff -f
`

// makeRoot builds the test root (MakeRoot) with rootInit and flint in it.
func makeRoot(t *testing.T) string {
	t.Helper()
	image(t)
	img, err := MakeRoot(RootOptions{Dir: t.TempDir(), Init: rootInit, Files: map[string]string{"/usr/bin/flint": flintPath}})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// machine is one dracut boot of a test.
type machine struct {
	Cmdline string            // appended to the base command line
	Disks   []string          // raw images: vda, vdb, ...
	FwCfg   map[string]string // fw_cfg name -> host file
	Net     bool              // virtio-net on QEMU user networking; else -nic none
	Timeout time.Duration     // default 4 minutes
}

type bootResult struct {
	Serial      string
	Journal     string // what the guest wrote to the org.flintboot.journal port
	JournalJSON string // ... to org.flintboot.journal.json
	Logs        []byte // ... to org.flintboot.collect-logs (a tar.gz)
	Duration    time.Duration
}

// boot runs m and returns the serial console and the ports.
func (m machine) boot(t *testing.T) bootResult {
	t.Helper()
	img := image(t)
	vmlinuz, _, _, err := vm.Kernel()
	if err != nil {
		t.Fatal(err)
	}
	qemuMu.Lock()
	defer qemuMu.Unlock()
	var r *Result
	for attempt := 1; ; attempt++ {
		r, err = Machine{Kernel: vmlinuz, Initramfs: img, Cmdline: m.Cmdline + " " + os.Getenv("FLINT_BOOT_CMDLINE"),
			Disks: m.Disks, FwCfg: m.FwCfg, Net: m.Net, Timeout: m.Timeout}.Boot(context.Background(), t.TempDir())
		// A guest that timed out before its initramfs printed a single
		// status line never ran flint (nor touched its disks): the
		// emulator stalled, which a busy shared host does now and then.
		// That one case boots again, once; any other failure is flint's.
		if attempt == 1 && errors.Is(err, ErrTimeout) && r != nil && !reachedUserspace(r.Serial) {
			t.Logf("the guest printed nothing past its firmware before timing out (an emulator stall, before flint could run): booting once more")
			continue
		}
		break
	}
	if r != nil {
		if path := os.Getenv("FLINT_BOOT_SERIAL_DIR"); path != "" {
			os.WriteFile(filepath.Join(path, strings.ReplaceAll(t.Name(), "/", "_")+".log"), []byte(r.Serial), 0o644)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("boot took %s", r.Duration.Round(100*time.Millisecond))
	return bootResult{Serial: r.Serial, Journal: string(r.Ports[Ports[0]]), JournalJSON: string(r.Ports[Ports[1]]),
		Logs: r.Ports[Ports[2]], Duration: r.Duration}
}

// reachedUserspace: the initramfs's systemd printed at least one status
// line (BaseCmdline has systemd.show_status=1).
func reachedUserspace(serial string) bool {
	for _, mark := range []string{"Welcome to", "Reached target", "flint"} {
		if strings.Contains(serial, mark) {
			return true
		}
	}
	return false
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
