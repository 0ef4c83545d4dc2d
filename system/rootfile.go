package system

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// flint's own files inside the target root (the result files, the
// first-boot-in-progress stamp) follow the rule config paths follow: the
// path is resolved inside the root (SecureJoin), and the last component is
// never followed. A symlink planted there is neither read through nor
// written through; writing replaces the link itself.

// ReadInRoot reads the regular file p inside root. A missing file is
// reported with an error wrapping fs.ErrNotExist; a symlink or any other
// non-regular file at p is refused with an error wrapping ErrNotRegular.
func ReadInRoot(root, p string) ([]byte, error) {
	real, err := SecureJoin(root, p)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(real, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, err
		}
		if fi, lerr := os.Lstat(real); lerr == nil && !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("%s: %w (%s)", p, ErrNotRegular, fi.Mode().Type())
		}
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w (%s)", p, ErrNotRegular, fi.Mode().Type())
	}
	return io.ReadAll(f)
}

// ErrNotRegular: a path flint owns holds a symlink, a directory or a
// special file instead of a regular file.
var ErrNotRegular = fmt.Errorf("not a regular file")

// WriteInRoot writes r to p inside root atomically (see WriteFileAtomic),
// creating missing leading directories 0755. A symlink at p is replaced,
// never followed.
func WriteInRoot(root, p string, r io.Reader, mode os.FileMode) error {
	real, err := SecureJoin(root, p)
	if err != nil {
		return err
	}
	if fi, err := os.Lstat(real); err == nil && fi.IsDir() {
		return fmt.Errorf("writing %s: %w (a directory)", p, ErrNotRegular)
	}
	if err := os.MkdirAll(filepath.Dir(real), 0o755); err != nil {
		return err
	}
	return WriteFileAtomic(real, r, mode)
}

// RemoveInRoot removes p inside root (the entry itself, whatever it is but
// a directory); a missing p is not an error.
func RemoveInRoot(root, p string) error {
	real, err := SecureJoin(root, p)
	if err != nil {
		return err
	}
	if err := os.Remove(real); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}
