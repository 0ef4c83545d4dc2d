package providers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/flintboot/flint/system"
)

// qemu: on x86 and arm the config is a fw_cfg blob, under Flatcar's key
// opt/org.flatcar-linux/config or the CoreOS key opt/com.coreos/config
// (first that exists wins; neither = no config). On s390x and ppc64le it is
// a virtio block device with serial "ignition", waited for up to 5 minutes.
type qemu struct{}

func (qemu) Name() string { return "qemu" }

// fwCfgKeys are the fw_cfg names tried, in order.
func fwCfgKeys() []string { return []string{"opt/org.flatcar-linux/config", "opt/com.coreos/config"} }

// fwCfgDir is the sysfs directory of fw_cfg entries by name; tests point
// $FLINT_FW_CFG_DIR (or Env.SysRoot) elsewhere.
func fwCfgDir(env *Env) string {
	if d := env.getenv("FLINT_FW_CFG_DIR"); d != "" {
		return d
	}
	return env.sysPath("/sys/firmware/qemu_fw_cfg/by_name")
}

func (q qemu) Fetch(ctx context.Context, env *Env) ([]byte, error) {
	env.fill()
	if runtime.GOARCH == "s390x" || runtime.GOARCH == "ppc64le" {
		return q.fetchBlock(ctx, env)
	}
	dir := fwCfgDir(env)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		// the qemu_fw_cfg module may not be loaded yet
		if _, err := env.Runner.Run(ctx, system.Cmd{Name: system.ToolModprobe, Args: []string{"qemu_fw_cfg"}}); err != nil {
			env.Log.Warn("qemu: loading qemu_fw_cfg: %v", err)
		}
	}
	return readFwCfg(env, dir)
}

// readFwCfg reads the first config blob present under dir (the by_name
// directory): <dir>/<key>/raw, checking its length against <key>/size.
func readFwCfg(env *Env, dir string) ([]byte, error) {
	for _, k := range fwCfgKeys() {
		kd := filepath.Join(dir, k)
		szb, err := os.ReadFile(filepath.Join(kd, "size"))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("qemu: reading fw_cfg %s size: %w", k, err)
		}
		size, err := strconv.ParseInt(strings.TrimSpace(string(szb)), 0, 64)
		if err != nil {
			return nil, fmt.Errorf("qemu: fw_cfg %s size %q: %w", k, strings.TrimSpace(string(szb)), err)
		}
		if size > MaxConfigSize {
			return nil, fmt.Errorf("qemu: fw_cfg %s is %d bytes, more than %d", k, size, MaxConfigSize)
		}
		if size > 512<<10 {
			env.Log.Warn("qemu: fw_cfg config is %d bytes; reading a large blob through fw_cfg is slow", size)
		}
		done := env.Log.Op("qemu: reading fw_cfg %s (%d bytes)", k, size)
		b, err := readCapped(filepath.Join(kd, "raw"))
		if err == nil && int64(len(b)) != size {
			err = fmt.Errorf("read %d bytes, size says %d", len(b), size)
		}
		done(err)
		if err != nil {
			return nil, fmt.Errorf("qemu: reading fw_cfg %s: %w", k, err)
		}
		return nonEmpty(b)
	}
	env.Log.Info("qemu: no fw_cfg config (%s)", strings.Join(fwCfgKeys(), ", "))
	return nil, ErrNoConfig
}

// fetchBlock reads /dev/disk/by-id/virtio-ignition (s390x, ppc64le).
func (qemu) fetchBlock(ctx context.Context, env *Env) ([]byte, error) {
	env.Log.Warn("qemu: reading the config from a virtio block device is experimental on %s", runtime.GOARCH)
	if _, err := env.Runner.Run(ctx, system.Cmd{Name: system.ToolModprobe, Args: []string{"virtio_blk"}}); err != nil {
		env.Log.Warn("qemu: loading virtio_blk: %v", err)
	}
	dev := env.sysPath("/dev/disk/by-id/virtio-ignition")
	limit := env.timeout("qemu.block", 5*time.Minute)
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		b, err := readCapped(dev)
		if err == nil {
			return nonEmpty(bytes.TrimRight(b, "\x00"))
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("qemu: %w", err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("qemu: %s did not appear within %s: %w", dev, limit, ctx.Err())
		case <-time.After(5 * time.Second):
		}
	}
}
