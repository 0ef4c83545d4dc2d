package files

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Every temporary file flint makes beside a destination is named
// ".<name>.flint-tmp-<random>" (system.WriteFileAtomic uses the same
// pattern). After a SIGKILL or a power cut such files are the only
// debris; the next run removes them from every directory its plan
// touches before it writes anything.
const tmpMarker = ".flint-tmp-"

// maxName is the longest file name Linux filesystems take.
const maxName = 255

const tmpRandLen = 10

// tmpName returns a fresh temporary name for base.
func tmpName(base string) string {
	const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
	var b [tmpRandLen]byte
	rand.Read(b[:])
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	if max := maxName - 1 - len(tmpMarker) - tmpRandLen; len(base) > max {
		base = base[:max]
	}
	return "." + base + tmpMarker + string(b[:])
}

// isTempName reports whether name is one of flint's temporary files: a
// dot file whose name ends in ".flint-tmp-" and a non-empty run of
// lower-case letters and digits.
func isTempName(name string) bool {
	if !strings.HasPrefix(name, ".") {
		return false
	}
	i := strings.LastIndex(name, tmpMarker)
	if i < 1 {
		return false
	}
	suffix := name[i+len(tmpMarker):]
	if suffix == "" {
		return false
	}
	for _, r := range suffix {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z') {
			return false
		}
	}
	return true
}

// rawFile is an open file written with plain syscalls (no *os.File: its
// poller registration costs an fcntl per file).
type rawFile struct {
	fd   int
	name string
}

func (f *rawFile) Name() string { return f.name }

func (f *rawFile) Write(b []byte) (int, error) {
	n := 0
	for n < len(b) {
		k, err := unix.Write(f.fd, b[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, &os.PathError{Op: "write", Path: f.name, Err: err}
		}
		n += k
	}
	return n, nil
}

func (f *rawFile) Close() error {
	if f.fd < 0 {
		return nil
	}
	err := unix.Close(f.fd)
	f.fd = -1
	if err != nil {
		return &os.PathError{Op: "close", Path: f.name, Err: err}
	}
	return nil
}

// openNew creates p (O_EXCL, never through a link) with perm (the process
// umask is 0 while the stage applies).
func openNew(p string, perm uint32) (*rawFile, error) {
	for {
		fd, err := unix.Open(p, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, perm)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "create", Path: p, Err: err}
		}
		return &rawFile{fd: fd, name: p}, nil
	}
}

// createTemp creates a new temporary file for base in dir with perm.
func createTemp(dir, base string, perm uint32) (*rawFile, error) {
	for try := 0; ; try++ {
		p := filepath.Join(dir, tmpName(base))
		fd, err := unix.Open(p, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, perm)
		if err == nil {
			return &rawFile{fd: fd, name: p}, nil
		}
		if errors.Is(err, unix.EINTR) || (errors.Is(err, unix.EEXIST) && try < 10) {
			continue
		}
		return nil, &os.PathError{Op: "create", Path: p, Err: err}
	}
}

// sweepTemps removes leftover temporary files in dir. It never fails:
// debris must not stop a run; what it cannot remove is logged by the
// caller through the returned error list.
func sweepTemps(dir string) (removed int, errs []error) {
	d, err := os.Open(dir)
	if err != nil {
		return 0, nil // gone or not a directory: nothing to sweep
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	for _, n := range names {
		if !isTempName(n) {
			continue
		}
		if err := unix.Unlinkat(unix.AT_FDCWD, filepath.Join(dir, n), 0); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("removing leftover %s: %w", filepath.Join(dir, n), err))
			continue
		}
		removed++
	}
	return removed, errs
}
