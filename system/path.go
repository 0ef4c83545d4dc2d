package system

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// MaxSymlinks is how many symbolic links one SecureJoin may expand before it
// fails with ELOOP, like the kernel's limit.
const MaxSymlinks = 40

// SecureJoin resolves p inside root as if root were the filesystem root (as
// a chroot would): symlinks in p, absolute or relative, are followed and
// interpreted relative to root, ".." at root stays at root, and the result
// never leaves root. The last component is not followed (like lstat); use
// SecureJoinFollow to follow it too.
//
// Resolution is done in Go by reading the tree under root (Lstat and
// Readlink), so it works for planning on paths that do not exist yet:
// missing components (and everything after them) are appended lexically. A
// path that expands more than MaxSymlinks links fails with an error wrapping
// syscall.ELOOP ("too many levels of symbolic links").
//
// The result is only as good as the moment it was computed: a process that
// can change the tree under root between SecureJoin and the use of its
// result can redirect the use. flint runs alone on a root it owns.
func SecureJoin(root, p string) (string, error) { return SecureJoinIn(osTree{}, root, p, false) }

// SecureJoinFollow is SecureJoin that also follows a symlink in the last
// component.
func SecureJoinFollow(root, p string) (string, error) {
	return SecureJoinIn(osTree{}, root, p, true)
}

// Tree is what SecureJoinIn reads of the tree under root, by host path: the
// files stage's planner answers from its cache, so that each path is
// looked at once however many entries share it.
type Tree interface {
	// IsSymlink reports whether full is a symbolic link; a missing path, or
	// one below a non-directory, is not (the rest is then lexical).
	IsSymlink(full string) (bool, error)
	Readlink(full string) (string, error)
}

type osTree struct{}

func (osTree) IsSymlink(full string) (bool, error) {
	fi, err := os.Lstat(full)
	switch {
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR):
		return false, nil
	case err != nil:
		return false, err
	}
	return fi.Mode()&fs.ModeSymlink != 0, nil
}

func (osTree) Readlink(full string) (string, error) { return os.Readlink(full) }

// CachedTree is the os Tree that remembers what it has read: for callers
// that resolve many paths in a root that does not change meanwhile (the
// accounts writer while it plans). The zero value is not ready; use
// NewCachedTree.
type CachedTree struct {
	links map[string]bool
	dests map[string]string
}

// NewCachedTree returns an empty CachedTree.
func NewCachedTree() *CachedTree {
	return &CachedTree{links: map[string]bool{}, dests: map[string]string{}}
}

// IsSymlink is osTree's, remembered (errors other than "missing" are not).
func (c *CachedTree) IsSymlink(full string) (bool, error) {
	if l, ok := c.links[full]; ok {
		return l, nil
	}
	l, err := osTree{}.IsSymlink(full)
	if err == nil {
		c.links[full] = l
	}
	return l, err
}

// Readlink is os.Readlink, remembered when it succeeds.
func (c *CachedTree) Readlink(full string) (string, error) {
	if d, ok := c.dests[full]; ok {
		return d, nil
	}
	d, err := os.Readlink(full)
	if err == nil {
		c.dests[full] = d
	}
	return d, err
}

// SecureJoinIn is SecureJoin (followLast: SecureJoinFollow) reading the
// tree through t.
func SecureJoinIn(t Tree, root, p string, followLast bool) (string, error) {
	if root == "" {
		root = "/"
	}
	root = filepath.Clean(root)
	if strings.IndexByte(p, 0) >= 0 || strings.IndexByte(root, 0) >= 0 {
		return "", &fs.PathError{Op: "resolve in root " + root, Path: p, Err: syscall.EINVAL}
	}
	host := func(rel string) string {
		switch {
		case rel == "":
			return root
		case root == "/":
			return rel
		}
		return root + rel
	}
	// resolved is always "" (root itself) or "/a/b" without "." or "..".
	resolved := ""
	pending := p
	links := 0
	for pending != "" {
		var comp string
		slash := false
		if i := strings.IndexByte(pending, '/'); i >= 0 {
			comp, pending, slash = pending[:i], pending[i+1:], true
		} else {
			comp, pending = pending, ""
		}
		switch comp {
		case "", ".":
			continue
		case "..":
			if i := strings.LastIndexByte(resolved, '/'); i >= 0 {
				resolved = resolved[:i]
			}
			continue
		}
		next := resolved + "/" + comp
		// The last component is the one with nothing after it; "x/" and
		// "x/." name the directory x refers to and therefore follow x.
		if pending == "" && !slash && !followLast {
			resolved = next
			break
		}
		full := host(next)
		link, err := t.IsSymlink(full)
		if err != nil {
			return "", fmt.Errorf("resolving %q in %q: %w", p, root, err)
		}
		if !link {
			// a directory, a file, or nothing yet: the rest is lexical
			// where nothing is; ".." later on still cannot climb above root
			resolved = next
			continue
		}
		links++
		if links > MaxSymlinks {
			return "", &fs.PathError{Op: "resolve in root " + root, Path: p, Err: syscall.ELOOP}
		}
		target, err := t.Readlink(full)
		if err != nil {
			return "", fmt.Errorf("resolving %q in %q: %w", p, root, err)
		}
		if strings.HasPrefix(target, "/") {
			resolved = ""
		}
		if pending != "" {
			pending = target + "/" + pending
		} else {
			pending = target
		}
	}
	return host(resolved), nil
}

// WriteFileAtomic writes r to path atomically: it writes a temporary file
// beside path, sets mode (exactly, not filtered by umask), fsyncs it,
// renames it over path and fsyncs the directory. On error path is left as it
// was and the temporary file is removed. The parent directory must exist.
func WriteFileAtomic(path string, r io.Reader, mode os.FileMode) error {
	if err := replaceFile(path, r, mode, true); err != nil {
		return err
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// replaceFile writes r to a temporary file beside path, sets mode,
// fsyncs it when durable, and renames it over path. On error path is
// left as it was and the temporary file is removed.
func replaceFile(path string, r io.Reader, mode os.FileMode, durable bool) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".flint-tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err = io.Copy(f, r); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = f.Chmod(mode); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if durable {
		if err = f.Sync(); err != nil {
			return fmt.Errorf("writing %s: fsync: %w", path, err)
		}
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}
