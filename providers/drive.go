package providers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// errFileMissing: the drive was found and mounted but lacks the file.
var errFileMissing = errors.New("file not on config drive")

// mountRO mounts dev read-only on dir with mount(2); fstype "" is probed.
func mountRO(ctx context.Context, dev, dir, fstype string) error {
	if fstype == "" {
		info, err := ProbeDevice(dev)
		if err != nil {
			return err
		}
		fstype = info.Type
	}
	if fstype == "" {
		return fmt.Errorf("mounting %s: unknown filesystem", dev)
	}
	if err := unix.Mount(dev, dir, fstype, unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mounting %s (%s) read-only on %s: %w", dev, fstype, dir, err)
	}
	return nil
}

// waitLabel polls for a filesystem labelled with one of labels until one
// appears, ctx ends or timeout passes (0: no limit). It returns the device
// and the label that matched.
func waitLabel(ctx context.Context, env *Env, labels []string, timeout time.Duration) (dev, label string, err error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	start := time.Now()
	logged := false
	for {
		for _, l := range labels {
			d, err := env.FindLabel(l)
			if err != nil {
				return "", "", err
			}
			if d != "" {
				return d, l, nil
			}
		}
		if !logged {
			lim := "indefinitely"
			if timeout > 0 {
				lim = "up to " + timeout.String()
			}
			env.Log.Info("waiting %s for a config drive labelled %s", lim, strings.Join(labels, " or "))
			logged = true
		}
		select {
		case <-ctx.Done():
			return "", "", fmt.Errorf("no config drive labelled %s after %s: %w", strings.Join(labels, " or "), time.Since(start).Round(time.Millisecond), ctx.Err())
		case <-time.After(env.PollInterval):
		}
	}
}

// readFromDevice mounts dev read-only in a temporary directory and reads the
// first of paths that exists (errFileMissing when none does).
func readFromDevice(ctx context.Context, env *Env, dev, fstype string, paths ...string) (data []byte, which string, err error) {
	dir, err := os.MkdirTemp("", "flint-drive-")
	if err != nil {
		return nil, "", fmt.Errorf("creating mount point: %w", err)
	}
	defer os.Remove(dir)
	done := env.Log.Op("reading config drive %s", dev)
	defer func() {
		if errors.Is(err, errFileMissing) {
			done(nil)
		} else {
			done(err)
		}
	}()
	if err := env.Mount(ctx, dev, dir, fstype); err != nil {
		return nil, "", err
	}
	defer func() {
		if uerr := env.Unmount(ctx, dir); uerr != nil {
			err = errors.Join(err, uerr)
		}
	}()
	for _, p := range paths {
		b, rerr := readCapped(filepath.Join(dir, p))
		if rerr == nil {
			return b, p, nil
		}
		if !errors.Is(rerr, fs.ErrNotExist) {
			return nil, "", rerr
		}
	}
	return nil, "", fmt.Errorf("%w: %s on %s", errFileMissing, strings.Join(paths, ", "), dev)
}

// readCapped reads a file refusing more than MaxConfigSize bytes.
func readCapped(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	if len(b) > MaxConfigSize {
		return nil, fmt.Errorf("%s is larger than %d bytes", p, MaxConfigSize)
	}
	return b, nil
}

// driveSpec is one config drive layout: labels to look for and the file on it.
type driveSpec struct {
	labels []string
	path   string
}

var (
	configDrive     = driveSpec{[]string{"config-2", "CONFIG-2"}, "openstack/latest/user_data"}
	noCloudDrive    = driveSpec{[]string{"cidata", "CIDATA"}, "user-data"}
	cloudstackDrive = driveSpec{[]string{"config-2", "CONFIG-2"}, "cloudstack/userdata/user_data.txt"}
)

// fetchDrive waits for the drive (timeout 0: forever) and reads its file. A
// drive without the file means "no config".
func fetchDrive(ctx context.Context, env *Env, d driveSpec, timeout time.Duration) ([]byte, error) {
	dev, label, err := waitLabel(ctx, env, d.labels, timeout)
	if err != nil {
		return nil, err
	}
	env.Log.Info("found config drive %s (label %s)", dev, label)
	b, _, err := readFromDevice(ctx, env, dev, "", d.path)
	if errors.Is(err, errFileMissing) {
		env.Log.Info("config drive %s has no %s", dev, d.path)
		return nil, ErrNoConfig
	}
	if err != nil {
		return nil, err
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil, ErrNoConfig
	}
	return b, nil
}

// race runs branches in parallel and returns the first final answer: data,
// or ErrNoConfig (a service that says "no user data" is an answer). When
// every branch fails, the errors are joined.
func race(ctx context.Context, env *Env, branches map[string]func(context.Context) ([]byte, error)) ([]byte, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		name string
		b    []byte
		err  error
	}
	ch := make(chan result, len(branches))
	for name, fn := range branches {
		go func() {
			b, err := fn(ctx)
			ch <- result{name, b, err}
		}()
	}
	var errs []error
	for range branches {
		r := <-ch
		if r.err == nil || errors.Is(r.err, ErrNoConfig) {
			env.Log.Info("config source %s answered first", r.name)
			return r.b, r.err
		}
		errs = append(errs, fmt.Errorf("%s: %w", r.name, r.err))
	}
	return nil, errors.Join(errs...)
}
