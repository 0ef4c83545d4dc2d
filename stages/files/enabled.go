package files

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/flintboot/flint/config"
)

// This file decides, in-process, what `systemctl --root ROOT is-enabled`
// reports for a system unit and which links `systemctl --root ROOT
// disable` removes, following systemd's install logic (unit search path,
// aliases, masks, .wants/.requires/.upholds links, [Install] sections
// merged with drop-ins, templates and instances). It is checked against
// the real systemctl on prepared roots (enabled_test.go).

// unitSearchPath is systemd's system unit search path, highest priority
// first (systemd-analyze unit-paths), inside the root.
var unitSearchPath = []string{
	"/etc/systemd/system.control",
	"/run/systemd/system.control",
	"/run/systemd/transient",
	"/run/systemd/generator.early",
	"/etc/systemd/system",
	"/etc/systemd/system.attached",
	"/run/systemd/system",
	"/run/systemd/system.attached",
	"/run/systemd/generator",
	"/usr/local/lib/systemd/system",
	"/lib/systemd/system",
	"/usr/lib/systemd/system",
	"/run/systemd/generator.late",
}

const (
	persistentConfig = "/etc/systemd/system"
	runtimeConfig    = "/run/systemd/system"
	transientDir     = "/run/systemd/transient"
)

var generatorDirs = []string{"/run/systemd/generator", "/run/systemd/generator.early", "/run/systemd/generator.late"}

var unitSuffixes = []string{".service", ".socket", ".device", ".mount", ".automount", ".swap", ".target", ".path", ".timer", ".slice", ".scope"}

// validUnitName is a loose check: a known unit type suffix and a
// non-empty stem.
func validUnitName(n string) bool {
	for _, s := range unitSuffixes {
		if strings.HasSuffix(n, s) && len(n) > len(s) && !strings.ContainsRune(n, '/') {
			return true
		}
	}
	return false
}

func isTemplate(n string) bool {
	at := strings.IndexByte(n, '@')
	dot := strings.LastIndexByte(n, '.')
	return at > 0 && dot == at+1
}

func isInstance(n string) bool {
	_, _, ok := splitInstance(n)
	return ok
}

// templateOf returns "foo@.service" for "foo@bar.service" ("" if n is no
// instance).
func templateOf(n string) string {
	t, _, ok := splitInstance(n)
	if !ok {
		return ""
	}
	return t
}

// installInfo is a unit as systemd's install logic sees it.
type installInfo struct {
	name     string
	path     string // root-relative path of the unit file loaded
	masked   bool
	wantedBy []string
	reqBy    []string
	aliases  []string
	also     []string
	defInst  string
}

func (i *installInfo) hasRules() bool {
	return len(i.aliases)+len(i.wantedBy)+len(i.reqBy) > 0
}

// unitRoot looks at units inside one root.
type unitRoot struct {
	root string
	// cache, when set, remembers directory listings and link targets
	// between the is-enabled checks of one units phase (50 disabled units
	// read the same 13 search directories 100 times over); whoever changes
	// the root tells it through changed.
	cache *unitCache
}

type unitCache struct {
	dirs  map[string]dirListing
	links map[string]linkTarget
}

type dirListing struct {
	ents []fs.DirEntry
	err  error
}

type linkTarget struct {
	dest string
	err  error
}

func newUnitCache() *unitCache {
	return &unitCache{dirs: map[string]dirListing{}, links: map[string]linkTarget{}}
}

// readDir is os.ReadDir of a host path, through the cache.
func (u unitRoot) readDir(p string) ([]fs.DirEntry, error) {
	if u.cache == nil {
		return os.ReadDir(p)
	}
	p = filepath.Clean(p)
	if d, ok := u.cache.dirs[p]; ok {
		return d.ents, d.err
	}
	ents, err := os.ReadDir(p)
	u.cache.dirs[p] = dirListing{ents, err}
	return ents, err
}

// mayExist reports whether host path p can exist: false only when the
// cached listing of its directory lacks it, or that directory is missing
// (an is-enabled check looks for each unit and its drop-in directories
// in 13 search directories, most of which hold neither). Without a
// cache it is always true.
func (u unitRoot) mayExist(p string) bool {
	if u.cache == nil {
		return true
	}
	dir, name := filepath.Split(filepath.Clean(p))
	ents, err := u.readDir(dir)
	if err != nil {
		return !errors.Is(err, fs.ErrNotExist)
	}
	i := sort.Search(len(ents), func(i int) bool { return ents[i].Name() >= name })
	return i < len(ents) && ents[i].Name() == name
}

// readlink is os.Readlink of a host path, through the cache.
func (u unitRoot) readlink(p string) (string, error) {
	if u.cache == nil {
		return os.Readlink(p)
	}
	p = filepath.Clean(p)
	if l, ok := u.cache.links[p]; ok {
		return l.dest, l.err
	}
	dest, err := os.Readlink(p)
	u.cache.links[p] = linkTarget{dest, err}
	return dest, err
}

// changed forgets what the cache knows about a host path that was
// removed or changed in a way not told by added: its link target, its own
// listing and its directory's.
func (c *unitCache) changed(p string) {
	if c == nil {
		return
	}
	p = filepath.Clean(p)
	delete(c.links, p)
	delete(c.dirs, p)
	delete(c.dirs, filepath.Dir(p))
}

// added tells the cache that p now exists with type typ (0: a regular
// file, fs.ModeDir, fs.ModeSymlink): the directory's cached listing gains
// or updates its entry, in name order as os.ReadDir gives it, instead of
// being read again (each unit written would otherwise make the next
// is-enabled check list /etc/systemd/system once more).
func (c *unitCache) added(p string, typ fs.FileMode) {
	if c == nil {
		return
	}
	p = filepath.Clean(p)
	delete(c.links, p)
	delete(c.dirs, p)
	dir, name := filepath.Split(p)
	dir = filepath.Clean(dir)
	d, ok := c.dirs[dir]
	if !ok {
		return
	}
	if d.err != nil {
		delete(c.dirs, dir) // the directory exists now
		return
	}
	i := sort.Search(len(d.ents), func(i int) bool { return d.ents[i].Name() >= name })
	e := cachedEntry{name: name, typ: typ & fs.ModeType}
	if i < len(d.ents) && d.ents[i].Name() == name {
		d.ents[i] = e
		return
	}
	ents := make([]fs.DirEntry, 0, len(d.ents)+1)
	ents = append(append(append(ents, d.ents[:i]...), e), d.ents[i:]...)
	c.dirs[dir] = dirListing{ents: ents}
}

// cachedEntry is a directory entry the cache added itself; enabled.go
// only asks entries for their name and type.
type cachedEntry struct {
	name string
	typ  fs.FileMode
}

func (e cachedEntry) Name() string      { return e.name }
func (e cachedEntry) IsDir() bool       { return e.typ.IsDir() }
func (e cachedEntry) Type() fs.FileMode { return e.typ }
func (e cachedEntry) Info() (fs.FileInfo, error) {
	return nil, errors.New("no file info for a cached entry")
}

func (u unitRoot) abs(p string) string {
	if u.root == "/" {
		return p
	}
	return u.root + p
}

// chase resolves p (root-relative) through symlinks inside the root and
// returns the root-relative result; missing components are appended.
func (u unitRoot) chase(p string) string {
	for range 40 {
		dir := path.Dir(p)
		// resolve the directory part first
		rd := u.chaseDir(dir)
		p = path.Join(rd, path.Base(p))
		t, err := u.readlink(u.abs(p))
		if err != nil {
			return p
		}
		if !path.IsAbs(t) {
			t = path.Join(path.Dir(p), t)
		}
		p = path.Clean(t)
	}
	return p
}

func (u unitRoot) chaseDir(dir string) string {
	if dir == "/" {
		return dir
	}
	parts := strings.Split(strings.TrimPrefix(dir, "/"), "/")
	cur := "/"
	for i := 0; i < len(parts); i++ {
		next := path.Join(cur, parts[i])
		t, err := u.readlink(u.abs(next))
		if err != nil {
			cur = next
			continue
		}
		if !path.IsAbs(t) {
			t = path.Join(cur, t)
		}
		cur = u.chaseDir(path.Dir(path.Clean(t)))
		cur = path.Join(cur, path.Base(path.Clean(t)))
		if i > 64 {
			break
		}
	}
	return cur
}

func inSearchPath(dir string) bool {
	for _, d := range unitSearchPath {
		if d == dir {
			return true
		}
	}
	return false
}

func isRuntime(p string) bool { return p == "/run" || strings.HasPrefix(p, "/run/") }

// load reads the unit file at p (root-relative) into i; it reports a
// symlink (with its fully resolved target) instead of following it.
func (u unitRoot) load(i *installInfo, p string) (link string, err error) {
	if !u.mayExist(u.abs(p)) {
		return "", fs.ErrNotExist
	}
	fi, err := os.Lstat(u.abs(p))
	if err != nil {
		return "", err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return u.chase(p), nil
	}
	if fi.IsDir() {
		return "", errors.New("is a directory")
	}
	if fi.Mode()&fs.ModeCharDevice != 0 || (fi.Mode().IsRegular() && fi.Size() == 0) {
		i.masked = true
		return "", nil
	}
	b, err := os.ReadFile(u.abs(p))
	if err != nil {
		return "", err
	}
	i.parseInstall(string(b))
	return "", nil
}

func (i *installInfo) parseInstall(contents string) {
	opts, err := config.ParseUnit(contents)
	if err != nil {
		return
	}
	for _, o := range opts {
		if o.Section != "Install" {
			continue
		}
		list := func(dst *[]string) {
			if strings.TrimSpace(o.Value) == "" {
				*dst = nil
				return
			}
			*dst = append(*dst, strings.Fields(o.Value)...)
		}
		switch o.Name {
		case "WantedBy":
			list(&i.wantedBy)
		case "RequiredBy":
			list(&i.reqBy)
		case "Alias":
			list(&i.aliases)
		case "Also":
			list(&i.also)
		case "DefaultInstance":
			i.defInst = strings.TrimSpace(o.Value)
		}
	}
}

// isMaskTarget reports whether a resolved link target masks the unit.
func (u unitRoot) isMaskTarget(t string) bool {
	if t == "/dev/null" {
		return true
	}
	fi, err := os.Stat(u.abs(t))
	return err == nil && (fi.Mode()&fs.ModeCharDevice != 0 || (fi.Mode().IsRegular() && fi.Size() == 0))
}

// search finds name in the search path (an instance falls back to its
// template), follows aliases and returns what it loaded. ok is false when
// the unit does not exist.
func (u unitRoot) search(name string) (*installInfo, bool) {
	i := &installInfo{name: name}
	for hops := 0; hops < 64; hops++ {
		link, found := "", false
		cands := []string{name}
		if t := templateOf(name); t != "" {
			cands = append(cands, t)
		}
	search:
		for _, c := range cands {
			for _, d := range unitSearchPath {
				p := d + "/" + c
				l, err := u.load(i, p)
				if err != nil {
					continue
				}
				i.path, link, found = p, l, true
				break search
			}
		}
		if !found {
			return nil, false
		}
		if link == "" {
			break
		}
		if u.isMaskTarget(link) {
			i.masked = true
			break
		}
		// a link: to the same name (or outside the search path) the
		// target is loaded as this unit; to another name that unit is
		// looked up instead (an alias)
		bn := path.Base(link)
		if bn == path.Base(i.path) || !inSearchPath(path.Dir(link)) {
			if _, err := u.load(i, link); err != nil {
				return nil, false
			}
			i.path = link
			break
		}
		if isInstance(i.name) && isTemplate(bn) {
			_, inst, _ := splitInstance(i.name)
			bn = strings.Replace(bn, "@.", "@"+inst+".", 1)
		}
		name = bn
		i = &installInfo{name: bn}
	}
	if i.masked {
		return i, true
	}
	u.dropins(i)
	return i, true
}

// dropins merges the [Install] settings of the unit's drop-ins (and its
// template's), one file per name, the highest priority directory winning.
func (u unitRoot) dropins(i *installInfo) {
	names := []string{i.name + ".d"}
	if t := templateOf(i.name); t != "" {
		names = append(names, t+".d")
	}
	files := map[string]string{}
	for _, d := range unitSearchPath {
		for _, n := range names {
			dir := u.abs(d + "/" + n)
			if !u.mayExist(dir) {
				continue
			}
			ents, err := u.readDir(dir)
			if err != nil {
				continue
			}
			for _, e := range ents {
				if !strings.HasSuffix(e.Name(), ".conf") {
					continue
				}
				if _, ok := files[e.Name()]; !ok {
					files[e.Name()] = d + "/" + n + "/" + e.Name()
				}
			}
		}
	}
	keys := make([]string, 0, len(files))
	for k := range files {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if b, err := os.ReadFile(u.abs(files[k])); err == nil {
			i.parseInstall(string(b))
		}
	}
}

// knownName: is a link called name one that enabling i would create?
func (i *installInfo) knownName(name string) bool {
	if name == i.name {
		return true
	}
	if isTemplate(i.name) && i.defInst != "" && name == strings.Replace(i.name, "@.", "@"+i.defInst+".", 1) {
		return true
	}
	for _, a := range i.aliases {
		if a == name {
			return true
		}
	}
	return false
}

// findLinks scans one search directory (its .wants/.requires/.upholds
// subdirectories, then the directory itself) for links to i.
func (u unitRoot) findLinks(i *installInfo, dir string, matchName, ignoreSameName bool) (found, sameName bool) {
	ents, err := u.readDir(u.abs(dir))
	if err != nil {
		return false, false
	}
	scan := func(sub string, list []fs.DirEntry) bool {
		for _, e := range list {
			if strings.HasPrefix(e.Name(), ".") || e.Type()&fs.ModeSymlink == 0 {
				continue
			}
			dest, err := u.readlink(u.abs(sub + "/" + e.Name()))
			if err != nil {
				continue
			}
			if !path.IsAbs(dest) {
				dest = path.Join(sub, dest)
			}
			foundPath := !ignoreSameName && e.Name() == i.name
			foundDest := path.Base(dest) == i.name
			if foundPath && foundDest && sub == dir {
				sameName = true
				continue
			}
			if foundPath || foundDest {
				if !matchName || i.knownName(e.Name()) {
					return true
				}
			}
		}
		return false
	}
	for _, e := range ents {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		ext := path.Ext(e.Name())
		// (systemd 252 has no UpheldBy= in [Install], so no .upholds here)
		if ext != ".wants" && ext != ".requires" {
			continue
		}
		sub := dir + "/" + e.Name()
		list, err := u.readDir(u.abs(sub))
		if err != nil {
			continue
		}
		if scan(sub, list) {
			return true, sameName
		}
	}
	return scan(dir, ents), sameName
}

// linkState is find_symlinks_in_scope: "" when no link counts.
func (u unitRoot) linkState(i *installInfo, matchName bool) string {
	var sameConfig, sameRuntime, inRuntime, atAll, ignoreSame bool
	for _, d := range unitSearchPath {
		found, same := u.findLinks(i, d, matchName, ignoreSame)
		switch {
		case found:
			if d == persistentConfig {
				return "enabled"
			}
			if isRuntime(d) {
				inRuntime = true
			} else {
				atAll = true
			}
		case same:
			if d == persistentConfig {
				sameConfig = true
			} else if isRuntime(d) {
				sameRuntime = true
			}
		}
		if !ignoreSame && strings.HasPrefix(i.path, d+"/") {
			ignoreSame = true
		}
	}
	switch {
	case inRuntime:
		return "enabled-runtime"
	case atAll && isInstance(i.name):
		return "static"
	case sameConfig:
		return "linked"
	case sameRuntime:
		return "linked-runtime"
	}
	return ""
}

// unitState is what `systemctl --root ROOT is-enabled NAME` prints
// ("not-found" when there is no such unit).
func (u unitRoot) unitState(name string) string {
	i, ok := u.search(name)
	if !ok {
		return "not-found"
	}
	if i.masked {
		if isRuntime(path.Dir(i.path)) {
			return "masked-runtime"
		}
		return "masked"
	}
	if name != path.Base(i.path) && !isInstance(i.name) {
		return "alias"
	}
	dir := path.Dir(i.path)
	for _, g := range generatorDirs {
		if dir == g {
			return "generated"
		}
	}
	if dir == transientDir {
		return "transient"
	}
	if s := u.linkState(i, true); s != "" {
		return s
	}
	if s := u.linkState(i, false); s != "" {
		return "indirect"
	}
	if i.hasRules() {
		return "disabled"
	}
	if len(i.also) > 0 {
		return "indirect"
	}
	return "static"
}

// enabledState reports whether is-enabled would succeed (exit 0) for a
// state.
func enabledState(s string) bool {
	switch s {
	case "enabled", "enabled-runtime", "static", "indirect", "alias", "generated", "transient":
		return true
	}
	return false
}

// disableLinks returns the links (root-relative) `systemctl --root ROOT
// disable NAME` removes from the configuration directory, and the
// directories it removes because they become empty.
func (u unitRoot) disableLinks(name string) (links, dirs []string) {
	marked := map[string]bool{}
	queue := []string{name}
	done := map[string]bool{}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		if done[n] {
			continue
		}
		done[n] = true
		i, ok := u.search(n)
		if ok && i.masked {
			continue
		}
		marked[n] = true
		if ok {
			marked[i.name] = true // an alias disables what it names
			queue = append(queue, i.also...)
		}
	}
	removed := map[string]bool{}
	for restart := true; restart; {
		restart = false
		u.walkLinks(persistentConfig, func(p string) {
			if removed[p] {
				return
			}
			bn := path.Base(p)
			found := marked[bn] || (templateOf(bn) != "" && marked[templateOf(bn)])
			if !found {
				dest := u.chase(p)
				found = marked[dest] || marked[path.Base(dest)]
			}
			if !found {
				return
			}
			removed[p] = true
			links = append(links, p)
			if !marked[p] {
				marked[p] = true
				restart = true
			}
		})
	}
	sort.Strings(links)
	// parents of removed links left empty are removed, up to the
	// configuration directory
	chain := map[string]bool{}
	for _, l := range links {
		for d := path.Dir(l); strings.HasPrefix(d, persistentConfig+"/"); d = path.Dir(d) {
			chain[d] = true
		}
	}
	var remains func(dir string) bool
	remains = func(dir string) bool {
		ents, err := u.readDir(u.abs(dir))
		if err != nil {
			return true
		}
		n := 0
		for _, e := range ents {
			p := dir + "/" + e.Name()
			if e.IsDir() {
				if remains(p) {
					n++
				}
			} else if !removed[p] {
				n++
			}
		}
		if n == 0 && chain[dir] {
			dirs = append(dirs, dir)
			return false
		}
		return true
	}
	if len(links) > 0 {
		remains(persistentConfig)
	}
	return links, dirs
}

// walkLinks calls f for every link with a unit name below dir (hidden
// entries skipped, as systemd does).
func (u unitRoot) walkLinks(dir string, f func(p string)) {
	ents, err := u.readDir(u.abs(dir))
	if err != nil {
		return
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		p := dir + "/" + e.Name()
		switch {
		case e.IsDir():
			u.walkLinks(p, f)
		case e.Type()&fs.ModeSymlink != 0 && validUnitName(e.Name()):
			f(p)
		}
	}
}

// relToRoot converts a root-relative path into a host path.
func (u unitRoot) host(p string) string { return filepath.Clean(u.abs(p)) }
