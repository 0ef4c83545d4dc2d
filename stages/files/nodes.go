package files

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/flintboot/flint/config"
	"github.com/flintboot/flint/stages"
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

// planner simulates the root while planning: what exists now, overlaid
// with what earlier planned entries remove and create.
type planner struct {
	root    string
	removed []string        // real paths removed recursively (overwrite)
	created map[string]kind // real paths the plan creates
	users   map[string]bool // users the plan creates
	groups  map[string]bool // groups the plan creates
}

func newPlanner(c *stages.Context) *planner {
	root := c.Root
	if root == "" {
		root = "/"
	}
	return &planner{root: filepath.Clean(root), created: map[string]kind{}, users: map[string]bool{}, groups: map[string]bool{}}
}

func under(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, dir+"/")
}

// state returns what will be at real when the plan reaches it.
func (s *planner) state(real string) (kind, fs.FileInfo) {
	if k, ok := s.created[real]; ok {
		return k, nil
	}
	for _, r := range s.removed {
		if under(real, r) {
			return kMissing, nil
		}
	}
	for dir := filepath.Dir(real); under(dir, s.root) && dir != s.root; dir = filepath.Dir(dir) {
		if k, ok := s.created[dir]; ok && k != kDir {
			return kMissing, nil
		}
	}
	fi, err := os.Lstat(real)
	if err != nil {
		return kMissing, nil
	}
	return kindOf(fi.Mode()), fi
}

// checkParents fails when a leading component will be a non-directory.
func (s *planner) checkParents(real, cfgPath string) error {
	for dir := filepath.Dir(real); dir != s.root && under(dir, s.root); dir = filepath.Dir(dir) {
		k, _ := s.state(dir)
		switch k {
		case kMissing:
			continue
		case kDir:
			return nil
		default:
			return fmt.Errorf("%s: leading component %s is %s, not a directory", cfgPath, s.rel(dir), k)
		}
	}
	return nil
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

// owner is a user or group given by id or by name.
type owner struct {
	id   *int
	name *string
}

func (o owner) set() bool { return o.id != nil || o.name != nil }

func (o owner) String() string {
	if o.id != nil {
		return fmt.Sprint(*o.id)
	}
	if o.name != nil {
		return *o.name
	}
	return ""
}

type node struct {
	kind      kind // what to create: kFile, kDir, kSymlink; hard links: kOther
	hard      bool
	cfgPath   string
	real      string
	remove    bool // overwrite: remove what is there first
	keep      bool // keep the existing node (only owner/mode/appends)
	noop      bool // nothing to do at all
	user      owner
	group     owner
	mode      *int
	contents  config.Resource
	appends   []config.Resource
	target    string // symlink target (verbatim) or hard link target (real)
	staged    map[int]*prefetch
	sourceArg *prefetch
}

// sortNodes orders entries like the reference: by depth, shallow first,
// keeping config order among equals; hard links last.
func sortNodes(ns []*node) {
	depth := func(p string) int { return strings.Count(path.Clean(p), "/") }
	sort.SliceStable(ns, func(i, j int) bool {
		if ns[i].hard != ns[j].hard {
			return !ns[i].hard
		}
		return depth(ns[i].cfgPath) < depth(ns[j].cfgPath)
	})
}

func (p *plan) planNodes(ctx context.Context, c *stages.Context, cfg *config.Config) error {
	var ns []*node
	for i := range cfg.Storage.Files {
		f := &cfg.Storage.Files[i]
		ns = append(ns, &node{kind: kFile, cfgPath: f.Path, remove: isTrue(f.Overwrite), user: owner{f.User.ID, f.User.Name},
			group: owner{f.Group.ID, f.Group.Name}, mode: f.Mode, contents: f.Contents, appends: f.Append})
	}
	for i := range cfg.Storage.Directories {
		d := &cfg.Storage.Directories[i]
		ns = append(ns, &node{kind: kDir, cfgPath: d.Path, remove: isTrue(d.Overwrite), user: owner{d.User.ID, d.User.Name},
			group: owner{d.Group.ID, d.Group.Name}, mode: d.Mode})
	}
	for i := range cfg.Storage.Links {
		l := &cfg.Storage.Links[i]
		n := &node{kind: kSymlink, hard: isTrue(l.Hard), cfgPath: l.Path, remove: isTrue(l.Overwrite),
			user: owner{l.User.ID, l.User.Name}, group: owner{l.Group.ID, l.Group.Name}}
		if l.Target != nil {
			n.target = *l.Target
		}
		if n.hard {
			n.kind = kOther
			if n.user.set() || n.group.set() {
				c.Log.Warn("%s: user/group ignored for hard link", l.Path)
			}
		}
		ns = append(ns, n)
	}
	sortNodes(ns)
	seen := map[string]string{}
	for _, n := range ns {
		real, err := system.SecureJoin(p.st.root, n.cfgPath)
		if err != nil {
			return fmt.Errorf("resolving %s: %w", n.cfgPath, err)
		}
		if real == p.st.root {
			return fmt.Errorf("%s: refusing to replace the root directory", n.cfgPath)
		}
		if other, ok := seen[real]; ok {
			return fmt.Errorf("%s and %s resolve to the same path %s", other, n.cfgPath, p.st.rel(real))
		}
		seen[real] = n.cfgPath
		n.real = real
		if err := p.planNode(ctx, c, n); err != nil {
			return err
		}
	}
	p.nodes = ns
	return nil
}

func isTrue(b *bool) bool { return b != nil && *b }

func (p *plan) planOwner(n *node) error {
	if n.user.name != nil {
		if _, _, _, err := system.LookupUser(p.st.root, *n.user.name); err != nil && !p.st.users[*n.user.name] {
			return fmt.Errorf("%s: user %q: %w", n.cfgPath, *n.user.name, err)
		}
	}
	if n.group.name != nil {
		if _, err := system.LookupGroup(p.st.root, *n.group.name); err != nil && !p.st.groups[*n.group.name] && !p.st.users[*n.group.name] {
			return fmt.Errorf("%s: group %q: %w", n.cfgPath, *n.group.name, err)
		}
	}
	return nil
}

func (p *plan) planNode(ctx context.Context, c *stages.Context, n *node) error {
	s := p.st
	rel := n.cfgPath
	if err := s.checkParents(n.real, rel); err != nil {
		return err
	}
	if err := p.planOwner(n); err != nil {
		return err
	}
	cur, fi := s.state(n.real)
	if n.remove && cur != kMissing {
		p.add("remove", rel, "overwrite: replacing "+cur.String())
		s.removed = append(s.removed, n.real)
		cur = kMissing
	}
	own := ownerDetail(n)
	switch {
	case n.kind == kFile:
		switch {
		case cur == kMissing:
			d := "empty"
			if hasSource(n.contents) {
				d = "contents from " + sourceDesc(n.contents)
			}
			p.add("write-file", rel, joinDetail(d, appendDetail(n), modeDetail(n.mode, 0o644), own))
		case cur != kFile:
			return fmt.Errorf("%s: %s exists there and overwrite is false", rel, cur)
		case hasSource(n.contents):
			return fmt.Errorf("%s: a file exists there already and overwrite is false", rel)
		default:
			n.keep = true
			p.add("keep-file", rel, joinDetail("existing contents kept", appendDetail(n), modeDetail(n.mode, -1), own))
		}
		for i, a := range append([]config.Resource{n.contents}, n.appends...) {
			if needsPrefetch(a) {
				pf := p.addPrefetch(a, rel)
				if n.staged == nil {
					n.staged = map[int]*prefetch{}
				}
				n.staged[i] = pf
			}
		}
		s.created[n.real] = kFile
	case n.kind == kDir:
		switch cur {
		case kMissing:
			p.add("mkdir", rel, joinDetail(modeDetail(n.mode, 0o755), own))
		case kDir:
			n.keep = true
			if n.mode == nil && !n.user.set() && !n.group.set() {
				n.noop = true
				p.add("keep-dir", rel, "exists")
			} else {
				p.add("keep-dir", rel, joinDetail("exists", modeDetail(n.mode, -1), own))
			}
		default:
			return fmt.Errorf("%s: %s exists there and overwrite is false", rel, cur)
		}
		if cur == kMissing {
			s.created[n.real] = kDir
		}
	case !n.hard:
		switch cur {
		case kMissing:
			p.add("symlink", rel, joinDetail("-> "+n.target, own))
			s.created[n.real] = kSymlink
		case kSymlink:
			if fi == nil {
				return fmt.Errorf("%s: a link is created there by this config already", rel)
			}
			t, err := os.Readlink(n.real)
			if err != nil {
				return fmt.Errorf("%s: %w", rel, err)
			}
			if t != n.target {
				return fmt.Errorf("%s: a symbolic link to %q exists there and overwrite is false", rel, t)
			}
			n.noop = true
			p.add("keep-symlink", rel, "-> "+n.target)
		default:
			return fmt.Errorf("%s: %s exists there and overwrite is false", rel, cur)
		}
	default: // hard link
		tp := n.target
		if !path.IsAbs(tp) {
			tp = path.Join(path.Dir(n.cfgPath), tp)
		}
		treal, err := system.SecureJoin(s.root, tp)
		if err != nil {
			return fmt.Errorf("%s: resolving hard link target %s: %w", rel, n.target, err)
		}
		tk, tfi := s.state(treal)
		switch tk {
		case kMissing:
			return fmt.Errorf("%s: hard link target %s does not exist", rel, n.target)
		case kDir:
			return fmt.Errorf("%s: hard link target %s is a directory", rel, n.target)
		}
		n.target = treal
		switch cur {
		case kMissing:
			p.add("hardlink", rel, "=> "+n.targetRel(s))
			s.created[n.real] = tk
		default:
			if fi != nil && tfi != nil && os.SameFile(fi, tfi) {
				n.noop = true
				p.add("keep-hardlink", rel, "=> "+n.targetRel(s))
				break
			}
			return fmt.Errorf("%s: %s exists there that is not a hard link to %s, and overwrite is false", rel, cur, n.targetRel(s))
		}
	}
	return nil
}

func (n *node) targetRel(s *planner) string { return s.rel(n.target) }

func sourceDesc(r config.Resource) string {
	if r.Source == nil {
		return ""
	}
	return redact(*r.Source)
}

func appendDetail(n *node) string {
	if len(n.appends) == 0 {
		return ""
	}
	var s []string
	for _, a := range n.appends {
		s = append(s, sourceDesc(a))
	}
	return "append " + strings.Join(s, ", ")
}

func modeDetail(m *int, def int) string {
	if m != nil {
		return fmt.Sprintf("mode %04o", *m)
	}
	if def < 0 {
		return ""
	}
	return fmt.Sprintf("mode %04o", def)
}

func ownerDetail(n *node) string {
	if !n.user.set() && !n.group.set() {
		return ""
	}
	return "owner " + n.user.String() + ":" + n.group.String()
}

func joinDetail(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, ", ")
}

// ids resolves owners against the target root's passwd and group files,
// read once per apply (after the passwd step changed them).
type ids struct {
	users  map[string]int
	groups map[string]int
}

func loadIDs(root string) (*ids, error) {
	pw, err := system.ReadPasswd(root)
	if err != nil {
		return nil, err
	}
	gr, err := system.ReadGroup(root)
	if err != nil {
		return nil, err
	}
	x := &ids{users: map[string]int{}, groups: map[string]int{}}
	for _, e := range pw {
		if _, ok := x.users[e.Name]; !ok {
			x.users[e.Name] = e.UID
		}
	}
	for _, e := range gr {
		if _, ok := x.groups[e.Name]; !ok {
			x.groups[e.Name] = e.GID
		}
	}
	return x, nil
}

// resolve returns uid, gid for n; -1 means "leave as it is".
func (x *ids) resolve(n *node, root string) (int, int, error) {
	uid, gid := -1, -1
	if n.user.id != nil {
		uid = *n.user.id
	} else if n.user.name != nil {
		u, ok := x.users[*n.user.name]
		if !ok {
			return 0, 0, fmt.Errorf("user %q not found in %s/etc/passwd: %w", *n.user.name, root, system.ErrNotFound)
		}
		uid = u
	}
	if n.group.id != nil {
		gid = *n.group.id
	} else if n.group.name != nil {
		g, ok := x.groups[*n.group.name]
		if !ok {
			return 0, 0, fmt.Errorf("group %q not found in %s/etc/group: %w", *n.group.name, root, system.ErrNotFound)
		}
		gid = g
	}
	return uid, gid, nil
}

func (p *plan) applyNodes(ctx context.Context, c *stages.Context) error {
	if len(p.nodes) == 0 {
		return nil
	}
	x, err := loadIDs(p.st.root)
	if err != nil {
		return err
	}
	l := c.Log.With("files")
	for _, n := range p.nodes {
		if n.noop {
			continue
		}
		what := map[kind]string{kFile: "writing file", kDir: "creating directory", kSymlink: "creating link", kOther: "creating hard link"}[n.kind]
		done := l.Op("%s %q", what, n.cfgPath)
		err := p.applyNode(ctx, c, n, x)
		done(err)
		if err != nil {
			return fmt.Errorf("%s %s: %w", what, n.cfgPath, err)
		}
	}
	return nil
}

func (p *plan) applyNode(ctx context.Context, c *stages.Context, n *node, x *ids) error {
	root := p.st.root
	// resolve again: earlier entries may have changed the tree
	real, err := system.SecureJoin(root, n.cfgPath)
	if err != nil {
		return err
	}
	if real != n.real {
		return fmt.Errorf("path now resolves to %s instead of %s", real, n.real)
	}
	uid, gid, err := x.resolve(n, root)
	if err != nil {
		return err
	}
	if n.remove {
		if err := os.RemoveAll(real); err != nil {
			return err
		}
	}
	if err := mkdirParents(root, real); err != nil {
		return err
	}
	switch {
	case n.kind == kFile:
		return p.writeFile(ctx, c, n, real, uid, gid)
	case n.kind == kDir:
		if !n.keep {
			if err := os.Mkdir(real, 0o755); err != nil {
				return err
			}
			if uid < 0 {
				uid = 0
			}
			if gid < 0 {
				gid = 0
			}
		}
		if err := os.Lchown(real, uid, gid); err != nil {
			return err
		}
		if n.mode != nil {
			return os.Chmod(real, toMode(*n.mode))
		}
		return nil
	case !n.hard:
		if err := os.Symlink(n.target, real); err != nil {
			return err
		}
		if uid < 0 {
			uid = 0
		}
		if gid < 0 {
			gid = 0
		}
		return os.Lchown(real, uid, gid)
	default:
		// linkat without AT_SYMLINK_FOLLOW: a link to a symlink links the
		// symlink itself, never its target outside the root
		return unix.Linkat(unix.AT_FDCWD, n.target, unix.AT_FDCWD, real, 0)
	}
}

// mkdirParents creates the missing leading directories of real (0755,
// root-owned). real is already resolved inside root, so every existing
// component is a real directory; a component that turns out to be
// anything else is an error (never followed).
func mkdirParents(root, real string) error {
	dir := filepath.Dir(real)
	var missing []string
	for ; dir != root && under(dir, root); dir = filepath.Dir(dir) {
		fi, err := os.Lstat(dir)
		if err == nil {
			if !fi.IsDir() {
				return &fs.PathError{Op: "mkdir", Path: dir, Err: syscall.ENOTDIR}
			}
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		missing = append(missing, dir)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := os.Mkdir(missing[i], 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	}
	return nil
}

// writeFile writes contents and appends to a temporary file beside real,
// sets owner and mode on it and renames it into place, so readers see the
// old file or the complete new one.
func (p *plan) writeFile(ctx context.Context, c *stages.Context, n *node, real string, uid, gid int) error {
	var fi fs.FileInfo
	if n.keep {
		var err error
		if fi, err = os.Lstat(real); err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("%s is no longer a regular file", real)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if uid < 0 {
			uid = int(st.Uid)
		}
		if gid < 0 {
			gid = int(st.Gid)
		}
		if len(n.appends) == 0 {
			// nothing to write: only owner and mode
			if err := os.Lchown(real, uid, gid); err != nil {
				return err
			}
			if n.mode != nil {
				return os.Chmod(real, toMode(*n.mode))
			}
			return nil
		}
	}
	if uid < 0 {
		uid = 0
	}
	if gid < 0 {
		gid = 0
	}
	mode := os.FileMode(0o644)
	if n.mode != nil {
		mode = toMode(*n.mode)
	} else if fi != nil {
		mode = fi.Mode() & (os.ModePerm | os.ModeSetuid | os.ModeSetgid | os.ModeSticky)
	}
	dir, base := filepath.Split(real)
	tmp, err := os.CreateTemp(dir, "."+base+".flint-*")
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if n.keep {
		src, err := os.OpenFile(real, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
		if err != nil {
			return err
		}
		_, err = io.Copy(tmp, src)
		src.Close()
		if err != nil {
			return err
		}
	}
	for i, r := range append([]config.Resource{n.contents}, n.appends...) {
		if i == 0 && n.keep {
			continue
		}
		if pf := n.staged[i]; pf != nil {
			if err := pf.copyTo(tmp); err != nil {
				return err
			}
			continue
		}
		if !hasSource(r) {
			continue
		}
		if err := c.Fetcher.Fetch(ctx, stages.ToSource(r), tmp); err != nil {
			return fmt.Errorf("fetching %s: %w", sourceDesc(r), err)
		}
	}
	if err := tmp.Chown(uid, gid); err != nil {
		return err
	}
	if err := tmp.Chmod(mode); err != nil { // after chown, which clears setuid
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), real); err != nil {
		return err
	}
	ok = true
	return nil
}
