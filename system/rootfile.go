package system

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"syscall"

	"golang.org/x/sys/unix"
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
	real, err := placeInRoot(root, p)
	if err != nil {
		return err
	}
	return WriteFileAtomic(real, r, mode)
}

// placeInRoot resolves p inside root for writing: a directory there is
// refused, missing leading directories are created 0755.
func placeInRoot(root, p string) (string, error) {
	real, err := SecureJoin(root, p)
	if err != nil {
		return "", err
	}
	if fi, err := os.Lstat(real); err == nil && fi.IsDir() {
		return "", fmt.Errorf("writing %s: %w (a directory)", p, ErrNotRegular)
	}
	if err := os.MkdirAll(filepath.Dir(real), 0o755); err != nil {
		return "", err
	}
	return real, nil
}

// RootFile is one file for WriteFilesInRoot.
type RootFile struct {
	Path string // inside the root
	Data []byte
	Mode os.FileMode
}

// WriteFilesInRoot writes each file inside root as WriteInRoot does, but
// makes them durable together: one syncfs of each filesystem they are on
// once all are renamed into place, instead of an fsync of every file and
// of its directory (one journal commit where there would be two per
// file). Until it returns, a crash may leave any of them old or empty,
// never half-replaced. It stops at the first failure.
func WriteFilesInRoot(root string, files []RootFile) error {
	var dirs []string
	for _, f := range files {
		real, err := placeInRoot(root, f.Path)
		if err != nil {
			return err
		}
		if err := replaceFile(real, bytes.NewReader(f.Data), f.Mode, false); err != nil {
			return err
		}
		if d := filepath.Dir(real); !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	for _, d := range dirs {
		if err := Syncfs(d); err != nil {
			return err
		}
	}
	return nil
}

// Syncfs flushes the filesystem that holds dir (syncfs(2)): everything
// written to it, in one journal commit.
func Syncfs(dir string) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("flushing the filesystem of %s: %w", dir, err)
	}
	defer unix.Close(fd)
	if err := unix.Syncfs(fd); err != nil {
		return fmt.Errorf("flushing the filesystem of %s: %w", dir, err)
	}
	return nil
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
