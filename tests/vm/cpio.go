package vm

import (
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
)

// cpioTree is an in-memory description of an initramfs archive: guest path (no leading
// slash) to entry. Parent directories are added automatically.
type cpioTree map[string]cpioEntry

type cpioEntry struct {
	mode uint32 // permission bits
	kind byte   // 'd', 'f', 'l'
	src  string // host file for 'f' when data is nil
	data []byte // content for 'f', or link target for 'l'
}

func clean(p string) string { return strings.TrimPrefix(path.Clean("/"+p), "/") }

func (t cpioTree) dir(p string) {
	p = clean(p)
	for p != "" && p != "." {
		if e, ok := t[p]; ok && e.kind == 'd' {
			return
		}
		t[p] = cpioEntry{kind: 'd', mode: 0o755}
		p = path.Dir(p)
		if p == "." {
			return
		}
	}
}

func (t cpioTree) parent(p string) {
	if d := path.Dir(p); d != "." && d != "/" {
		t.dir(d)
	}
}

// file adds a host file under guest path p.
func (t cpioTree) file(p, src string, mode uint32) {
	p = clean(p)
	t.parent(p)
	t[p] = cpioEntry{kind: 'f', src: src, mode: mode}
}

// bytes adds a file with the given content.
func (t cpioTree) bytes(p string, data []byte, mode uint32) {
	p = clean(p)
	t.parent(p)
	t[p] = cpioEntry{kind: 'f', data: data, mode: mode}
}

// symlink adds a symbolic link p -> target.
func (t cpioTree) symlink(p, target string) {
	p = clean(p)
	t.parent(p)
	t[p] = cpioEntry{kind: 'l', data: []byte(target), mode: 0o777}
}

// write emits the tree as one "newc" cpio archive (parents before children).
func (t cpioTree) write(w io.Writer) error {
	names := make([]string, 0, len(t))
	for n := range t {
		names = append(names, n)
	}
	sort.Strings(names)
	sort.SliceStable(names, func(i, j int) bool { return depthLess(names[i], names[j]) })
	cw := &cpioWriter{w: w}
	ino := uint32(100)
	for _, n := range names {
		e := t[n]
		ino++
		var mode uint32
		var data []byte
		switch e.kind {
		case 'd':
			mode = 0o040000 | e.mode
		case 'l':
			mode = 0o120000 | e.mode
			data = e.data
		case 'f':
			mode = 0o100000 | e.mode
			data = e.data
			if data == nil {
				b, err := os.ReadFile(e.src)
				if err != nil {
					return fmt.Errorf("initramfs: read %s for %s: %w", e.src, n, err)
				}
				data = b
			}
		}
		if err := cw.entry(n, mode, ino, data); err != nil {
			return err
		}
	}
	if err := cw.entry("TRAILER!!!", 0, 0, nil); err != nil {
		return err
	}
	return cw.err
}

// depthLess orders by number of path components, so that parents always come first.
func depthLess(a, b string) bool {
	return strings.Count(a, "/") < strings.Count(b, "/")
}

type cpioWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *cpioWriter) put(b []byte) {
	if c.err != nil {
		return
	}
	k, err := c.w.Write(b)
	c.n += int64(k)
	c.err = err
}

func (c *cpioWriter) pad() {
	if r := c.n % 4; r != 0 {
		c.put(make([]byte, 4-r))
	}
}

func (c *cpioWriter) entry(name string, mode, ino uint32, data []byte) error {
	nlink := uint32(1)
	if mode&0o170000 == 0o040000 {
		nlink = 2
	}
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		ino, mode, 0, 0, nlink, 0, len(data), 0, 0, 0, 0, len(name)+1, 0)
	c.put([]byte(hdr))
	c.put(append([]byte(name), 0))
	c.pad()
	c.put(data)
	c.pad()
	return c.err
}
