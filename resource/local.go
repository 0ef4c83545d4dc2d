package resource

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/flintboot/flint/config"
	"github.com/flintboot/flint/log"
)

// dataOpener decodes an RFC 2397 URL (base64 or percent-encoded). The
// content lives in the config already, so decoding it in memory is fine.
func dataOpener(raw string) (opener, error) {
	d, err := config.DecodeDataURL(raw)
	if err != nil {
		return nil, fmt.Errorf("decoding data URL: %w", err)
	}
	return func(context.Context, int) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(d)), nil
	}, nil
}

func openLocal(p string) (io.ReadCloser, error) {
	fh, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, p)
	}
	if err != nil {
		return nil, err
	}
	return fh, nil
}

// fileOpener reads file:///abs/path.
func fileOpener(u *url.URL) (opener, error) {
	if u.Host != "" || u.Opaque != "" || !path.IsAbs(u.Path) {
		return nil, errors.New("path is not absolute")
	}
	p := u.Path
	return func(context.Context, int) (io.ReadCloser, error) { return openLocal(p) }, nil
}

// oemOpener reads oem:///path from the lookaside directory or, when the
// file is not there, from the OEM partition mounted read-only for the
// duration of the read.
func oemOpener(opts Options, u *url.URL) (opener, error) {
	if u.Host != "" || u.Opaque != "" || !path.IsAbs(u.Path) {
		return nil, errors.New("path is not absolute")
	}
	rel := path.Clean(u.Path)
	return func(context.Context, int) (io.ReadCloser, error) {
		look := filepath.Join(opts.OEMLookasideDir, rel)
		if fh, err := os.Open(look); err == nil {
			return fh, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return openOnOEMPartition(opts.logger(), opts.OEMDevice, rel)
	}, nil
}

type mountedFile struct {
	*os.File
	dir string
	log *log.Logger
}

func (m *mountedFile) Close() error {
	err := m.File.Close()
	if uerr := unix.Unmount(m.dir, 0); uerr != nil {
		m.log.Warn("unmounting OEM partition from %s: %v", m.dir, uerr)
		return errors.Join(err, fmt.Errorf("unmounting %s: %w", m.dir, uerr))
	}
	os.Remove(m.dir)
	return err
}

// openOnOEMPartition mounts dev read-only (ext4, then btrfs) in a private
// temporary directory and opens rel there; closing unmounts.
func openOnOEMPartition(lg *log.Logger, dev, rel string) (io.ReadCloser, error) {
	if _, err := os.Stat(dev); err != nil {
		return nil, fmt.Errorf("%w: OEM device %s: %w", ErrNotFound, dev, err)
	}
	dir, err := os.MkdirTemp("", "flint-oem-")
	if err != nil {
		return nil, fmt.Errorf("creating OEM mount point: %w", err)
	}
	var merr error
	mounted := false
	for _, fstype := range []string{"ext4", "btrfs"} {
		if err := unix.Mount(dev, dir, fstype, unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
			merr = errors.Join(merr, fmt.Errorf("mounting %s as %s: %w", dev, fstype, err))
			continue
		}
		lg.Info("mounted OEM partition %s (%s) read-only at %s", dev, fstype, dir)
		mounted = true
		break
	}
	if !mounted {
		os.Remove(dir)
		return nil, merr
	}
	fh, err := openLocal(filepath.Join(dir, rel))
	if err != nil {
		unix.Unmount(dir, 0)
		os.Remove(dir)
		return nil, err
	}
	return &mountedFile{File: fh.(*os.File), dir: dir, log: lg}, nil
}
