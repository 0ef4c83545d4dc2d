package providers

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func setCmdline(t *testing.T, env *Env, s string) {
	t.Helper()
	if err := os.WriteFile(env.CmdlinePath, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeUserIgn(t *testing.T, dir, content string) string {
	t.Helper()
	os.MkdirAll(dir, 0o755)
	p := filepath.Join(dir, "user.ign")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func dataURL(s string) string { return "data:;base64," + base64.StdEncoding.EncodeToString([]byte(s)) }

func TestAcquirePrecedence(t *testing.T) {
	const cmdCfg, etcCfg, usrCfg = `{"ignition":{"version":"3.0.0"}}`, `{"ignition":{"version":"3.1.0"}}`, `{"ignition":{"version":"3.2.0"}}`
	env := testEnv(t, "", 5*time.Second)
	ctx := ctxT(t, 20*time.Second)

	// nothing anywhere: metal has no config
	raw, src, _, err := Acquire(ctx, env, "metal")
	if !errors.Is(err, ErrNoConfig) || src != "platform:metal" || raw != nil {
		t.Fatalf("metal: %q %q %v", raw, src, err)
	}
	// user.ign: /etc beats /usr
	writeUserIgn(t, env.SystemConfigDirs[2], usrCfg)
	etc := writeUserIgn(t, env.SystemConfigDirs[1], etcCfg)
	raw, src, _, err = Acquire(ctx, env, "pxe")
	if err != nil || string(raw) != etcCfg || src != "system:"+etc {
		t.Fatalf("user.ign: %q %q %v", raw, src, err)
	}
	// the command line beats user.ign
	setCmdline(t, env, "root=/dev/sda ignition.config.url="+dataURL(cmdCfg))
	raw, src, _, err = Acquire(ctx, env, "metal")
	if err != nil || string(raw) != cmdCfg || src != "cmdline:data:,<redacted>" {
		t.Fatalf("cmdline: %q %q %v", raw, src, err)
	}
	// a cloud-config from any source is "no config"
	setCmdline(t, env, "flatcar.config.url="+dataURL("#cloud-config\nhostname: x\n"))
	if _, _, _, err = Acquire(ctx, env, "metal"); !errors.Is(err, ErrNoConfig) {
		t.Fatalf("cloud-config: %v", err)
	}
	// a failing command line URL is an error, not a fall-through
	setCmdline(t, env, "ignition.config.url=http://127.0.0.1:1/x.ign")
	if _, _, _, err = Acquire(ctxT(t, 3*time.Second), env, "metal"); err == nil || errors.Is(err, ErrNoConfig) {
		t.Fatalf("unreachable cmdline URL: %v", err)
	}
	// unknown platform
	setCmdline(t, env, "quiet")
	os.RemoveAll(env.SystemConfigDirs[1])
	os.RemoveAll(env.SystemConfigDirs[2])
	if _, _, _, err = Acquire(ctx, env, "nosuchcloud"); !errors.Is(err, ErrUnknownPlatform) {
		t.Fatalf("unknown platform: %v", err)
	}
	// device without path
	setCmdline(t, env, "ignition.config.device=cfg")
	if _, _, _, err = Acquire(ctx, env, "metal"); err == nil || !strings.Contains(err.Error(), "together") {
		t.Fatalf("device without path: %v", err)
	}
	setCmdline(t, env, "ignition.config.device=a/b ignition.config.path=/x")
	if _, _, _, err = Acquire(ctx, env, "metal"); err == nil || !strings.Contains(err.Error(), "single path component") {
		t.Fatalf("label with slash: %v", err)
	}
}

func TestCmdlineDeviceTimesOut(t *testing.T) {
	env := testEnv(t, "", time.Second)
	imageEnv(t, env)
	env.Timeouts = map[string]time.Duration{"cmdline.device": 100 * time.Millisecond}
	setCmdline(t, env, "ignition.config.device=nothere ignition.config.path=/c.ign")
	_, _, _, err := Acquire(ctxT(t, 10*time.Second), env, "metal")
	if err == nil || errors.Is(err, ErrNoConfig) || !strings.Contains(err.Error(), "nothere") {
		t.Fatalf("got %v", err)
	}
}

// requireRoot fails (never skips) when the test cannot do what CI does as root.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root (loop devices and mount(2)); CI runs it as root")
	}
}

// TestCmdlineDeviceLoopMounted uses the production path end to end: a real
// ext4 filesystem labelled on a loop device, found by scanning
// /sys/class/block and probing superblocks, mounted read-only with
// mount(2), read, unmounted.
func TestCmdlineDeviceLoopMounted(t *testing.T) {
	requireRoot(t)
	const cfg = `{"ignition":{"version":"3.4.0"},"passwd":{}}`
	// unique per run: other engineers' loop devices may carry labels too
	label := fmt.Sprintf("flc%d", time.Now().UnixNano()%1e9)
	img := ext4Image(t, label, map[string]string{"flint/user.ign": cfg})
	out, err := exec.Command("losetup", "--find", "--show", "--read-only", img).Output()
	if err != nil {
		t.Fatalf("losetup: %v", err)
	}
	loop := strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command("losetup", "-d", loop).Run() })

	env := testEnv(t, "", 5*time.Second)
	env.SysRoot = ""
	env.FindLabel, env.FindFSType, env.Mount, env.Unmount = nil, nil, nil, nil
	env.fill()
	setCmdline(t, env, "ignition.config.device="+label+" ignition.config.path=/flint/user.ign")
	raw, src, _, err := Acquire(ctxT(t, 30*time.Second), env, "metal")
	if err != nil || string(raw) != cfg {
		t.Fatalf("got %q from %s: %v", raw, src, err)
	}
	if dev, _ := env.FindLabel(label); dev != loop {
		t.Errorf("label %s found on %q, want %s", label, dev, loop)
	}
}
