package providers

import (
	"bytes"
	"context"
	"errors"
	"time"
)

// proxmoxve: the cidata drive's /user-data, else its /vendor-data; a file
// that is empty or a "#cloud-config" document is skipped. No drive within
// 30s means no user config.
type proxmoxve struct{}

func (proxmoxve) Name() string { return "proxmoxve" }

func (proxmoxve) Fetch(ctx context.Context, env *Env) ([]byte, error) {
	env.fill()
	dev, _, err := waitLabel(ctx, env, noCloudDrive.labels, env.timeout("proxmoxve.drive", 30*time.Second))
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			env.Log.Info("proxmoxve: no cidata drive appeared, continuing without user config")
			return nil, ErrNoConfig
		}
		return nil, err
	}
	for _, p := range []string{"user-data", "vendor-data"} {
		b, _, err := readFromDevice(ctx, env, dev, "", p)
		if errors.Is(err, errFileMissing) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if len(bytes.TrimSpace(b)) == 0 || bytes.HasPrefix(b, []byte("#cloud-config\n")) {
			env.Log.Info("proxmoxve: skipping %s (empty or cloud-config)", p)
			continue
		}
		return b, nil
	}
	return nil, ErrNoConfig
}
