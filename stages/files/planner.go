package files

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/flintboot/flint/system"
	"golang.org/x/sys/unix"
)

type kind int

const (
	kMissing kind = iota
	kFile
	kDir
	kSymlink
	kOther
)

func (k kind) String() string {
	return [...]string{"nothing", "a file", "a directory", "a symbolic link", "a special file"}[k]
}

func kindOf(m fs.FileMode) kind {
	switch {
	case m.IsRegular():
		return kFile
	case m.IsDir():
		return kDir
	case m&fs.ModeSymlink != 0:
		return kSymlink
	}
	return kOther
}

// diskEntry is what lstat found before the plan changes anything.
type diskEntry struct {
	k  kind
	fi fs.FileInfo // nil when missing
}

// dirInfo is what a new node inherits from the directory it is created
// in: the group (setgid directories hand theirs down), whether a default
// ACL makes the creation mode unpredictable, and the filesystem.
type dirInfo struct {
	gid    int
	setgid bool
	acl    bool
	dev    uint64
}

// planner simulates the root while planning: what exists now (each path
// looked at once), overlaid with what earlier planned entries remove and
// create. Every lookup is O(depth): nothing is a list scanned per entry.
type planner struct {
	root    string
	removed map[string]bool // real paths removed recursively (overwrite)
	created map[string]kind // real paths the plan creates
	newDirs map[string]dirInfo
	disk    map[string]diskEntry
	dirs    map[string]dirInfo // on-disk directories looked at
	devDir  map[uint64]string  // one on-disk directory per filesystem seen
	links   *system.CachedTree // readlink cache (its IsSymlink is not used: lstat above knows more)
	users   map[string]bool    // users the plan creates
	groups  map[string]bool    // groups the plan creates
	euid    int
	egid    int
}

func newPlanner(root string) *planner {
	if root == "" {
		root = "/"
	}
	return &planner{root: filepath.Clean(root), removed: map[string]bool{}, created: map[string]kind{},
		newDirs: map[string]dirInfo{}, disk: map[string]diskEntry{}, dirs: map[string]dirInfo{},
		devDir: map[uint64]string{}, links: system.NewCachedTree(), users: map[string]bool{}, groups: map[string]bool{},
		euid: os.Geteuid(), egid: os.Getegid()}
}

func under(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, dir+"/") || dir == "/"
}

// above reports whether a is a proper ancestor of p below root.
func (s *planner) inside(p string) bool { return p != s.root && under(p, s.root) }

func (s *planner) lstat(p string) diskEntry {
	if e, ok := s.disk[p]; ok {
		return e
	}
	var e diskEntry
	// below a missing path or a non-directory nothing can exist
	if d := cleanDir(p); d != p {
		if pe, ok := s.disk[d]; ok && (pe.k == kMissing || pe.k == kFile || pe.k == kOther) {
			s.disk[p] = e
			return e
		}
	}
	if fi, err := os.Lstat(p); err == nil {
		e = diskEntry{kindOf(fi.Mode()), fi}
	}
	s.disk[p] = e
	return e
}

// resolve returns where cfgPath lands inside the root (the last component
// not followed), as system.SecureJoin does, but over the planner's lstat
// cache: each path is looked at once however many entries share it.
func (s *planner) resolve(cfgPath string) (string, error) {
	return system.SecureJoinIn(plannerTree{s}, s.root, cfgPath, false)
}

// plannerTree is the planner's cache as system.SecureJoinIn reads it.
type plannerTree struct{ s *planner }

func (t plannerTree) IsSymlink(full string) (bool, error)  { return t.s.lstat(full).k == kSymlink, nil }
func (t plannerTree) Readlink(full string) (string, error) { return t.s.links.Readlink(full) }

// state returns what will be at real when the plan reaches it, and the
// on-disk info when that is what is there.
func (s *planner) state(real string) (kind, fs.FileInfo) {
	if k, ok := s.created[real]; ok {
		return k, nil
	}
	for a := real; s.inside(a); a = cleanDir(a) {
		if s.removed[a] {
			return kMissing, nil
		}
		if a != real {
			if k, ok := s.created[a]; ok && k != kDir {
				return kMissing, nil
			}
		}
	}
	e := s.lstat(real)
	return e.k, e.fi
}

// onDisk reports whether real is a directory the plan finds on disk and
// leaves in place.
func (s *planner) onDiskDir(real string) bool {
	if _, ok := s.newDirs[real]; ok {
		return false
	}
	k, fi := s.state(real)
	return k == kDir && (fi != nil || real == s.root)
}

// dirInfo returns the attributes of a directory that exists when the plan
// reaches it (on disk or planned).
func (s *planner) dirInfo(d string) dirInfo {
	if di, ok := s.newDirs[d]; ok {
		return di
	}
	if di, ok := s.dirs[d]; ok {
		return di
	}
	var di dirInfo
	var st unix.Stat_t
	if err := unix.Lstat(d, &st); err == nil {
		di = dirInfo{gid: int(st.Gid), setgid: st.Mode&unix.S_ISGID != 0, dev: st.Dev, acl: hasDefaultACL(d)}
		if _, ok := s.devDir[st.Dev]; !ok {
			s.devDir[st.Dev] = d
		}
	}
	s.dirs[d] = di
	return di
}

func hasDefaultACL(d string) bool {
	n, err := unix.Lgetxattr(d, "system.posix_acl_default", nil)
	return err == nil && n > 0
}

// parents returns the leading directories of real that will be missing
// when the plan reaches it, outermost first, and the directory real will
// be created in; it fails when a leading component will be a
// non-directory.
func (s *planner) parents(real, cfgPath string) ([]string, error) {
	var missing []string
	for dir := cleanDir(real); s.inside(dir); dir = cleanDir(dir) {
		k, _ := s.state(dir)
		if k == kMissing {
			missing = append(missing, dir)
			continue
		}
		if k != kDir {
			return nil, fmt.Errorf("%s: leading component %s is %s, not a directory", cfgPath, s.rel(dir), k)
		}
		break
	}
	for i, j := 0, len(missing)-1; i < j; i, j = i+1, j-1 {
		missing[i], missing[j] = missing[j], missing[i]
	}
	return missing, nil
}

// createDirs records that the plan creates dirs (outermost first, mode
// 0755, root-owned) and returns them.
func (s *planner) createDirs(dirs []string) {
	for _, d := range dirs {
		pi := s.dirInfo(cleanDir(d))
		s.created[d] = kDir
		s.newDirs[d] = dirInfo{gid: s.newGID(pi), setgid: pi.setgid, acl: pi.acl, dev: pi.dev}
	}
}

// newGID is the group a node created in a directory gets.
func (s *planner) newGID(parent dirInfo) int {
	if parent.setgid {
		return parent.gid
	}
	return s.egid
}

// storeDir is the directory a temporary file for real is created in
// before anything is changed: real's own directory when it exists and
// stays, else the nearest such ancestor (on the same filesystem, since
// everything below it is created by the plan).
func (s *planner) storeDir(real string) string {
	d := cleanDir(real)
	for s.inside(d) && !s.onDiskDir(d) {
		d = cleanDir(d)
	}
	return d
}

// checkLinks looks at the links on the way to real. A path through a
// link this plan creates, or through an on-disk link the plan removes, is
// refused: where it lands is only known once earlier entries are applied.
// The one exception: an on-disk link the plan replaces with a directory;
// the path then lands inside that new directory, and that is returned.
func (s *planner) checkLinks(real, cfgPath string) (string, error) {
	for a := cleanDir(real); s.inside(a); a = cleanDir(a) {
		if s.created[a] == kSymlink {
			return "", fmt.Errorf("%s: leading component %s is a symbolic link created by this config", cfgPath, s.rel(a))
		}
	}
	lex := filepath.Join(s.root, cfgPath)
	if lex == real {
		return real, nil // no link on the way
	}
	for a := cleanDir(lex); s.inside(a); a = cleanDir(a) {
		if isAncestor(a, real) {
			continue
		}
		// the resolution left the lexical path here: a is a link on disk
		if s.removed[a] && s.created[a] == kDir {
			return lex, nil
		}
		if _, ok := s.created[a]; ok || s.removed[a] {
			return "", fmt.Errorf("%s: leading component %s is a symbolic link this config replaces", cfgPath, s.rel(a))
		}
	}
	return real, nil
}

// isAncestor reports whether clean path a is a proper ancestor of p.
func isAncestor(a, p string) bool {
	if a == "/" {
		return p != "/" && strings.HasPrefix(p, "/")
	}
	return len(p) > len(a) && p[len(a)] == '/' && p[:len(a)] == a
}

// cleanDir is filepath.Dir of a clean path (every path the planner
// handles is joined below a cleaned root): the text before the last '/',
// without filepath.Dir's Clean, which planning thousands of entries felt.
func cleanDir(p string) string {
	i := strings.LastIndexByte(p, '/')
	switch {
	case i < 0:
		return "."
	case i == 0:
		return "/"
	}
	return p[:i]
}

func (s *planner) rel(real string) string {
	if s.root == "/" {
		return real
	}
	r := strings.TrimPrefix(real, s.root)
	if r == "" {
		return "/"
	}
	return r
}

// unixMode is a config mode (permission bits plus 04000/02000/01000) as
// the mode bits of chmod(2).
func unixMode(m int) uint32 { return uint32(m) & 0o7777 }

// statOf returns uid, gid and mode bits of an on-disk node.
func statOf(fi fs.FileInfo) (int, int, uint32) {
	st := fi.Sys().(*syscall.Stat_t)
	return int(st.Uid), int(st.Gid), st.Mode & 0o7777
}
