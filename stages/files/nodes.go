package files

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/flintboot/flint/config"
	"github.com/flintboot/flint/log"
	"github.com/flintboot/flint/stages"
	"github.com/flintboot/flint/system"
	"golang.org/x/sys/unix"
)

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
	kind     kind // what to create: kFile, kDir, kSymlink; hard links: kOther
	hard     bool
	cfgPath  string
	real     string
	remove   bool // overwrite: remove what is there first
	keep     bool // keep the existing node (only owner/mode/appends)
	noop     bool // nothing to do at all
	user     owner
	group    owner
	mode     *int
	contents config.Resource
	appends  []config.Resource
	target   string // symlink target (verbatim) or hard link target (real)

	literal  []byte // fixed contents (units, presets): no resource
	isLit    bool
	replace  bool        // an existing file or link there is replaced by rename, not removed first
	rmFirst  bool        // remove what is there before creating
	mkdirs   []string    // leading directories to create first (0755)
	fi       fs.FileInfo // the on-disk node, for keep
	cgid     int         // group the new inode gets when created (in its store directory)
	acl      bool        // a default ACL decides the creation mode: always chmod
	dev      uint64      // filesystem written to
	job      *fetchJob   // contents fetched before anything is written
	defMode  uint32      // mode when the config gives none
	fallback int         // default mode for display
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
	ns := make([]*node, 0, len(cfg.Storage.Files)+len(cfg.Storage.Directories)+len(cfg.Storage.Links))
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
	seen := make(map[string]string, len(ns))
	for _, n := range ns {
		real, err := p.st.resolve(n.cfgPath)
		if err != nil {
			return fmt.Errorf("resolving %s: %w", n.cfgPath, err)
		}
		if real, err = p.st.checkLinks(real, n.cfgPath); err != nil {
			return err
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

// prepare does what every kind of node needs: the leading directories,
// links on the way, overwrite, and where and with which group the new
// inode is created. It returns what will be at the path.
func (p *plan) prepare(n *node) (kind, fs.FileInfo, error) { return p.prepareNode(n, false) }

// prepareQuiet is prepare for the stage's own files (units, presets),
// which replace what is there without a separate plan line.
func (p *plan) prepareQuiet(n *node) (kind, fs.FileInfo, error) { return p.prepareNode(n, true) }

func (p *plan) prepareNode(n *node, quiet bool) (kind, fs.FileInfo, error) {
	s := p.st
	missing, err := s.parents(n.real, n.cfgPath)
	if err != nil {
		return 0, nil, err
	}
	cur, fi := s.state(n.real)
	if n.remove && cur != kMissing {
		if !quiet {
			p.add("remove", n.cfgPath, "overwrite: replacing "+cur.String())
		}
		if n.kind == kFile && (cur == kFile || cur == kSymlink) {
			n.replace = true // the new file is renamed over it
		} else {
			n.rmFirst = true
		}
		s.removed[n.real] = true
		delete(s.created, n.real)
		cur, fi = kMissing, nil
	}
	n.mkdirs = missing
	s.createDirs(missing)
	p.touch(s.storeDir(n.real))
	return cur, fi, nil
}

// place records the directory the new inode is created in (its own, or
// the store directory for fetched contents) for owner prediction and
// syncing.
func (p *plan) place(n *node, in string) {
	di := p.st.dirInfo(in)
	n.cgid = p.st.newGID(di)
	n.acl = di.acl
	n.dev = p.st.dirInfo(cleanDir(n.real)).dev
}

func (p *plan) planNode(ctx context.Context, c *stages.Context, n *node) error {
	s := p.st
	rel := n.cfgPath
	if err := p.planOwner(n); err != nil {
		return err
	}
	cur, fi, err := p.prepare(n)
	if err != nil {
		return err
	}
	own := ownerDetail(n)
	switch {
	case n.kind == kFile:
		n.defMode = 0o644
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
			if fi == nil {
				return fmt.Errorf("%s: a file is created there by this config already", rel)
			}
			n.keep = true
			n.fi = fi
			_, _, n.defMode = statOf(fi)
			p.add("keep-file", rel, joinDetail("existing contents kept", appendDetail(n), modeDetail(n.mode, -1), own))
		}
		fetch := false
		for _, a := range n.parts() {
			fetch = fetch || needsPrefetch(a)
		}
		in := cleanDir(n.real)
		if fetch {
			in = s.storeDir(n.real)
			p.addJob(n, in)
		}
		p.place(n, in)
		s.created[n.real] = kFile
	case n.kind == kDir:
		n.defMode = 0o755
		switch cur {
		case kMissing:
			p.add("mkdir", rel, joinDetail(modeDetail(n.mode, 0o755), own))
			s.created[n.real] = kDir
		case kDir:
			n.keep = true
			n.fi = fi
			if fi == nil {
				n.noop = true
				p.add("keep-dir", rel, "created by this config already")
				break
			}
			if n.mode == nil && !n.user.set() && !n.group.set() {
				n.noop = true
				p.add("keep-dir", rel, "exists")
			} else {
				p.add("keep-dir", rel, joinDetail("exists", modeDetail(n.mode, -1), own))
			}
		default:
			return fmt.Errorf("%s: %s exists there and overwrite is false", rel, cur)
		}
		p.place(n, cleanDir(n.real))
		if cur == kMissing {
			pi := s.dirInfo(cleanDir(n.real))
			s.newDirs[n.real] = dirInfo{gid: s.newGID(pi), setgid: pi.setgid, acl: pi.acl, dev: pi.dev}
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
		p.place(n, cleanDir(n.real))
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
			p.add("hardlink", rel, "=> "+s.rel(n.target))
			s.created[n.real] = tk
		default:
			if fi != nil && tfi != nil && os.SameFile(fi, tfi) {
				n.noop = true
				p.add("keep-hardlink", rel, "=> "+s.rel(n.target))
				break
			}
			return fmt.Errorf("%s: %s exists there that is not a hard link to %s, and overwrite is false", rel, cur, s.rel(n.target))
		}
		p.place(n, cleanDir(n.real))
	}
	return nil
}

// parts are the resources of a file in write order.
func (n *node) parts() []config.Resource {
	if n.isLit {
		return nil
	}
	if n.keep {
		return n.appends
	}
	return append([]config.Resource{n.contents}, n.appends...)
}

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

func needsIDs(ns []*node) bool {
	for _, n := range ns {
		if !n.noop && (n.user.name != nil || n.group.name != nil) {
			return true
		}
	}
	return false
}

// nodeSummary counts the nodes to write, for the log.
func (p *plan) nodeSummary() string {
	var n [5]int
	for _, x := range p.nodes {
		if !x.noop {
			n[x.kind]++
		}
	}
	var parts []string
	for _, k := range []struct {
		k        kind
		one, any string
	}{{kDir, "directory", "directories"}, {kFile, "file", "files"}, {kSymlink, "link", "links"}, {kOther, "hard link", "hard links"}} {
		if n[k.k] > 0 {
			parts = append(parts, count(n[k.k], k.one, k.any))
		}
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, ", ")
}

// count is "1 file", "2 files".
func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

var opNames = map[kind]string{kFile: "writing file", kDir: "creating directory", kSymlink: "creating link", kOther: "creating hard link"}

func (p *plan) applyNodes(ctx context.Context, c *stages.Context) error {
	if len(p.nodes) == 0 {
		return nil
	}
	x := &ids{}
	if needsIDs(p.nodes) {
		var err error
		if x, err = loadIDs(p.st.root); err != nil {
			return err
		}
	}
	l := c.Log.With("files")
	done := l.Op("writing %s", p.nodeSummary())
	err := p.applyNodeList(ctx, c, x, l)
	done(err)
	return err
}

func (p *plan) applyNodeList(ctx context.Context, c *stages.Context, x *ids, l *log.Logger) error {
	w := p.newWriter(ctx, c, l)
	defer w.close()
	for _, n := range p.nodes {
		if n.noop {
			continue
		}
		if err := ctx.Err(); err != nil {
			w.wait()
			return err
		}
		uid, gid, err := x.resolve(n, p.st.root)
		if err != nil {
			w.wait()
			return fmt.Errorf("%s %s: %w", opNames[n.kind], n.cfgPath, err)
		}
		if n.rmFirst || n.hard || n.keep {
			// removal may take in-flight files with it; hard links
			// need their targets; kept files are read
			if err := w.wait(); err != nil {
				return err
			}
		}
		if err := p.applyNode(n, uid, gid, w, l); err != nil {
			w.wait()
			return fmt.Errorf("%s %s: %w", opNames[n.kind], n.cfgPath, err)
		}
	}
	return w.wait()
}

// applyNode creates n's leading directories and n itself; file contents
// go to the writer, everything else is done here, in plan order.
func (p *plan) applyNode(n *node, uid, gid int, w *writer, l *log.Logger) error {
	if n.rmFirst {
		if err := os.RemoveAll(n.real); err != nil {
			return err
		}
	}
	for _, d := range n.mkdirs {
		if err := mkdirOnce(d, 0o755); err != nil {
			return err
		}
		p.wroteOn(d, n.dev)
	}
	var err error
	switch {
	case n.kind == kFile:
		w.submit(n, uid, gid)
		return nil
	case n.kind == kDir:
		err = p.applyDir(n, uid, gid)
	case !n.hard:
		err = p.applySymlink(n, uid, gid)
	default:
		// linkat without AT_SYMLINK_FOLLOW: a link to a symlink links the
		// symlink itself, never its target outside the root
		if err = unix.Linkat(unix.AT_FDCWD, n.target, unix.AT_FDCWD, n.real, 0); err != nil {
			err = &os.LinkError{Op: "link", Old: n.target, New: n.real, Err: err}
		} else {
			p.wroteOn(n.real, n.dev)
		}
	}
	if err == nil && l.Enabled(log.LevelDebug) {
		l.Debugf("%s %q: done", opNames[n.kind], n.cfgPath)
	}
	return err
}

// mkdirOnce creates a directory the plan found missing; one that appeared
// since is fine when it is a directory.
func mkdirOnce(d string, perm uint32) error {
	err := unix.Mkdir(d, perm)
	if err == nil {
		return nil
	}
	if errors.Is(err, unix.EEXIST) {
		if fi, lerr := os.Lstat(d); lerr == nil && fi.IsDir() {
			return nil
		}
	}
	return &os.PathError{Op: "mkdir", Path: d, Err: err}
}

// meta is what a node's inode must end up with, compared with what
// creating it gave, so chown and chmod run only when they change
// something.
type meta struct {
	uid, gid   int    // wanted (never -1)
	cuid, cgid int    // what creation gave
	mode       uint32 // wanted mode bits
	cmode      uint32 // what creation gave
	force      bool   // creation mode unknown (default ACL)
}

// fix applies m through chown and chmod functions (fd or path based).
func (m meta) fix(chown func(uid, gid int) error, chmod func(mode uint32) error) error {
	chowned := false
	if m.uid != m.cuid || m.gid != m.cgid {
		if err := chown(m.uid, m.gid); err != nil {
			return err
		}
		chowned = true
	}
	// chown clears setuid and setgid on files: set the mode after it
	if m.force || m.mode != m.cmode || (chowned && m.mode&(unix.S_ISUID|unix.S_ISGID) != 0) {
		return chmod(m.mode)
	}
	return nil
}

func (p *plan) applyDir(n *node, uid, gid int) error {
	if n.keep {
		cu, cg, cm := statOf(n.fi)
		m := meta{uid: uid, gid: gid, cuid: cu, cgid: cg, mode: cm, cmode: cm}
		if uid < 0 {
			m.uid = cu
		}
		if gid < 0 {
			m.gid = cg
		}
		if n.mode != nil {
			m.mode = unixMode(*n.mode)
		}
		if err := m.fix(func(u, g int) error { return os.Lchown(n.real, u, g) },
			func(mode uint32) error { return unix.Fchmodat(unix.AT_FDCWD, n.real, mode, 0) }); err != nil {
			return err
		}
		p.wroteOn(n.real, n.dev)
		return nil
	}
	want := uint32(0o755)
	if n.mode != nil {
		want = unixMode(*n.mode)
	}
	// mkdir honours the permission bits and the sticky bit; setgid comes
	// from a setgid parent
	created := want & 0o1777
	if p.st.dirInfo(cleanDir(n.real)).setgid {
		created |= unix.S_ISGID
	}
	if err := mkdirOnce(n.real, want&0o1777); err != nil {
		return err
	}
	m := meta{uid: max(uid, 0), gid: max(gid, 0), cuid: p.st.euid, cgid: n.cgid, mode: want, cmode: created, force: n.acl}
	if n.mode == nil {
		m.mode = created // no mode given: keep what mkdir made (as before)
	}
	if err := m.fix(func(u, g int) error { return os.Lchown(n.real, u, g) },
		func(mode uint32) error { return unix.Fchmodat(unix.AT_FDCWD, n.real, mode, 0) }); err != nil {
		return err
	}
	p.wroteOn(n.real, n.dev)
	return nil
}

func (p *plan) applySymlink(n *node, uid, gid int) error {
	if err := unix.Symlinkat(n.target, unix.AT_FDCWD, n.real); err != nil {
		return &os.LinkError{Op: "symlink", Old: n.target, New: n.real, Err: err}
	}
	if u, g := max(uid, 0), max(gid, 0); u != p.st.euid || g != n.cgid {
		if err := os.Lchown(n.real, u, g); err != nil {
			return err
		}
	}
	p.wroteOn(n.real, n.dev)
	return nil
}

// mkdirParents creates the missing leading directories of real (0755,
// root-owned). real is already resolved inside root, so every existing
// component is a real directory; a component that turns out to be
// anything else is an error (never followed). For writers outside the
// node plan (accounts, LUKS).
func mkdirParents(root, real string) error {
	dir := filepath.Dir(real)
	var missing []string
	for ; dir != root && under(dir, root); dir = filepath.Dir(dir) {
		fi, err := os.Lstat(dir)
		if err == nil {
			if !fi.IsDir() {
				return &fs.PathError{Op: "mkdir", Path: dir, Err: unix.ENOTDIR}
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
