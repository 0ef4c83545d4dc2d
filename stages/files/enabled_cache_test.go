package files

import (
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// TestUnitCacheMatchesDisk changes a directory tree at random the ways the
// units phase does (files written, directories made, links made and
// removed), tells the cache as applyUnits does, and checks after every
// step that each cached listing and link target is what the disk says.
func TestUnitCacheMatchesDisk(t *testing.T) {
	root := t.TempDir()
	dirs := []string{root, filepath.Join(root, "a.wants"), filepath.Join(root, "b.d"), filepath.Join(root, "missing")}
	names := []string{"x.service", "y.service", "z.socket", "a.wants", "b.d", "0.conf"}
	c := newUnitCache()
	u := unitRoot{root: "/", cache: c}
	rng := rand.New(rand.NewPCG(1, 2))
	for step := range 3000 {
		d := dirs[rng.IntN(len(dirs))]
		p := filepath.Join(d, names[rng.IntN(len(names))])
		var what string
		switch rng.IntN(4) {
		case 0: // a file written through a temporary file renamed over p
			tmp := filepath.Join(d, ".tmp")
			if os.MkdirAll(d, 0o755) == nil {
				c.added(d, fs.ModeDir)
			}
			if fi, err := os.Lstat(p); err == nil && fi.IsDir() {
				continue
			}
			if os.WriteFile(tmp, []byte("x"), 0o644) != nil || os.Rename(tmp, p) != nil {
				continue
			}
			c.added(p, 0)
			what = "write " + p
		case 1: // a mask: a link replacing what is there
			if os.MkdirAll(d, 0o755) == nil {
				c.added(d, fs.ModeDir)
			}
			if fi, err := os.Lstat(p); err == nil && fi.IsDir() {
				continue
			}
			os.Remove(p)
			if os.Symlink("/dev/null", p) != nil {
				continue
			}
			c.added(p, fs.ModeSymlink)
			what = "mask " + p
		case 2: // a link or an empty directory removed
			if os.Remove(p) != nil {
				continue
			}
			c.changed(p)
			what = "remove " + p
		case 3: // read through the cache
			u.readDir(d)
			u.readlink(p)
			what = "read " + p
		}
		for _, dd := range dirs {
			got, gerr := u.readDir(dd)
			want, werr := os.ReadDir(dd)
			if (gerr == nil) != (werr == nil) || fmt.Sprint(entryTypes(got)) != fmt.Sprint(entryTypes(want)) {
				t.Fatalf("step %d (%s): listing of %s: cached %v (%v), disk %v (%v)", step, what, dd, entryTypes(got), gerr, entryTypes(want), werr)
			}
			for _, n := range names {
				q := filepath.Join(dd, n)
				got, gerr := u.readlink(q)
				want, werr := os.Readlink(q)
				if got != want || (gerr == nil) != (werr == nil) {
					t.Fatalf("step %d (%s): link %s: cached %q (%v), disk %q (%v)", step, what, q, got, gerr, want, werr)
				}
			}
		}
	}
}

func entryTypes(ents []fs.DirEntry) []string {
	var s []string
	for _, e := range ents {
		s = append(s, fmt.Sprintf("%s:%v", e.Name(), e.Type()))
	}
	return s
}
