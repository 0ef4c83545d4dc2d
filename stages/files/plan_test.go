package files

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flintboot/flint/config"
	"github.com/flintboot/flint/resource"
	"github.com/flintboot/flint/stages"
	"github.com/flintboot/flint/system"
)

func planFor(t *testing.T, root, storage string) (*plan, error) {
	t.Helper()
	raw := `{"ignition":{"version":"3.4.0"},` + storage + `}`
	cfg, rpt, err := config.Parse([]byte(raw))
	if err != nil {
		t.Fatalf("config: %v\n%s", err, rpt.String())
	}
	c := &stages.Context{Root: root, Config: cfg}
	pl, err := New().Plan(context.Background(), c)
	if err != nil {
		return nil, err
	}
	return pl.(*plan), nil
}

func actions(p *plan) string {
	var s []string
	for _, a := range p.acts {
		s = append(s, a.Op+" "+a.Target)
	}
	return strings.Join(s, "\n")
}

func mkroot(t *testing.T, files map[string]string, links map[string]string, dirs ...string) string {
	root := t.TempDir()
	for _, d := range dirs {
		must(t, os.MkdirAll(root+d, 0o755))
	}
	for p, c := range files {
		must(t, os.MkdirAll(filepath.Dir(root+p), 0o755))
		must(t, os.WriteFile(root+p, []byte(c), 0o644))
	}
	for p, tg := range links {
		must(t, os.MkdirAll(filepath.Dir(root+p), 0o755))
		must(t, os.Symlink(tg, root+p))
	}
	return root
}

func TestPlanNodeConflicts(t *testing.T) {
	root := mkroot(t, map[string]string{"/etc/f": "x", "/a/file": "y"}, map[string]string{"/l": "/etc/f", "/esc": "/"}, "/d")
	for _, tc := range []struct{ cfg, err string }{
		{`"storage":{"files":[{"path":"/etc/f","contents":{"source":"data:,n"}}]}`, "a file exists there already and overwrite is false"},
		{`"storage":{"files":[{"path":"/d"}]}`, "a directory exists there and overwrite is false"},
		{`"storage":{"directories":[{"path":"/etc/f"}]}`, "a file exists there and overwrite is false"},
		{`"storage":{"files":[{"path":"/a/file/x"}]}`, "leading component /a/file is a file, not a directory"},
		{`"storage":{"links":[{"path":"/l","target":"/other"}]}`, `a symbolic link to "/etc/f" exists there and overwrite is false`},
		{`"storage":{"links":[{"path":"/h","target":"/nope","hard":true}]}`, "hard link target /nope does not exist"},
		{`"storage":{"links":[{"path":"/h","target":"/d","hard":true}]}`, "hard link target /d is a directory"},
	} {
		_, err := planFor(t, root, tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: error %v, want %q", tc.cfg, err, tc.err)
		}
	}
}

// A path through an on-disk link that the config replaces by a directory
// lands in the new directory (as the reference, which resolves at write
// time).
func TestPlanThroughReplacedLink(t *testing.T) {
	root := mkroot(t, nil, map[string]string{"/esc": "/d"}, "/d")
	p, err := planFor(t, root, `"storage":{"directories":[{"path":"/esc","overwrite":true}],"files":[{"path":"/esc/x"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.nodes[1].real; got != root+"/esc/x" {
		t.Errorf("/esc/x lands at %s", got)
	}
}

func TestPlanNodeOverwriteParentsLinks(t *testing.T) {
	root := mkroot(t, map[string]string{"/etc/f": "x", "/old/sub/g": "y"}, map[string]string{"/etc/ln": "f"}, "/d")
	p, err := planFor(t, root, `"storage":{
	  "files":[{"path":"/etc/f","overwrite":true,"contents":{"source":"data:,n"}},{"path":"/new/a/b/c"},{"path":"/new/a/b/d"},
	           {"path":"/old","overwrite":true,"contents":{"source":"data:,o"}},{"path":"/etc/ln","overwrite":true,"contents":{"source":"data:,l"}}],
	  "directories":[{"path":"/d","mode":448}],
	  "links":[{"path":"/etc/hl","target":"/etc/f","hard":true},{"path":"/new/s","target":"a/b/c"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	// by depth, config order among equals, hard links last
	want := "remove /old\nwrite-file /old\nkeep-dir /d\nremove /etc/f\nwrite-file /etc/f\nremove /etc/ln\nwrite-file /etc/ln\nsymlink /new/s\nwrite-file /new/a/b/c\nwrite-file /new/a/b/d\nhardlink /etc/hl"
	if got := actions(p); got != want {
		t.Errorf("actions:\n%s\nwant:\n%s", got, want)
	}
	by := map[string]*node{}
	for _, n := range p.nodes {
		by[n.cfgPath] = n
	}
	// a file over a file or link is renamed into place; a file over a
	// directory removes it first
	if n := by["/etc/f"]; !n.replace || n.rmFirst {
		t.Errorf("/etc/f: replace %v rmFirst %v", n.replace, n.rmFirst)
	}
	if n := by["/etc/ln"]; !n.replace {
		t.Errorf("/etc/ln over a link: not replaced by rename")
	}
	if n := by["/old"]; !n.rmFirst {
		t.Errorf("/old over a directory: not removed first")
	}
	// leading directories are created once, by the first entry needing them
	if got := strings.Join(rels(root, by["/new/s"].mkdirs), " "); got != "/new" {
		t.Errorf("/new/s creates %q", got)
	}
	if got := strings.Join(rels(root, by["/new/a/b/c"].mkdirs), " "); got != "/new/a /new/a/b" {
		t.Errorf("/new/a/b/c creates %q", got)
	}
	if len(by["/new/a/b/d"].mkdirs) != 0 {
		t.Errorf("directories created twice: %v", by["/new/a/b/d"].mkdirs)
	}
	if by["/etc/hl"].target != root+"/etc/f" {
		t.Errorf("hard link target %s", by["/etc/hl"].target)
	}
	// sweeping covers the existing directories written into
	for _, d := range []string{root + "/etc", root} {
		if !p.sweep[d] {
			t.Errorf("%s is not swept for leftovers (%v)", d, p.sweep)
		}
	}
}

func rels(root string, ps []string) []string {
	var out []string
	for _, p := range ps {
		out = append(out, strings.TrimPrefix(p, root))
	}
	return out
}

// The planner looks at each path once: a deep missing tree costs no
// failing lookups below its first missing directory.
func TestPlannerLooksOnce(t *testing.T) {
	root := t.TempDir()
	s := newPlanner(root)
	for i := 0; i < 100; i++ {
		real, err := s.resolve(fmt.Sprintf("/a/b/c/f%d", i))
		must(t, err)
		s.state(real)
		s.parents(real, "x")
	}
	if n := len(s.disk); n > 110 {
		t.Errorf("%d paths looked at for 100 files in one missing directory", n)
	}
	// removed paths are a set: 20,000 lookups after 20,000 removals are fast
	for i := 0; i < 20000; i++ {
		s.removed[fmt.Sprintf("%s/o/f%d", root, i)] = true
	}
	for i := 0; i < 20000; i++ {
		if k, _ := s.state(fmt.Sprintf("%s/o/f%d/x", root, i)); k != kMissing {
			t.Fatal("below a removed path is not missing")
		}
	}
}

func TestResolveMatchesSecureJoin(t *testing.T) {
	root := mkroot(t, map[string]string{"/etc/f": "x"}, map[string]string{"/abs": "/etc", "/rel": "etc", "/up": "../../..", "/loop": "loop", "/chain": "abs"}, "/etc/d")
	for _, p := range []string{"/etc/f", "/abs/f", "/rel/d/x", "/up/etc/f", "/chain/d", "/abs", "/missing/a/b", "/etc/../abs/x", "/etc/d/", "/loop/x"} {
		s := newPlanner(root)
		got, gerr := s.resolve(p)
		want, werr := secureJoinRef(root, p)
		if got != want || (gerr == nil) != (werr == nil) {
			t.Errorf("%s: %q %v, SecureJoin %q %v", p, got, gerr, want, werr)
		}
	}
}

func TestPresetLines(t *testing.T) {
	tr, fa := true, false
	units := []config.Unit{{Name: "b.service", Enabled: &tr}, {Name: "a.service", Enabled: &fa}, {Name: "c.service"},
		{Name: "t@2.timer", Enabled: &tr}, {Name: "t@1.timer", Enabled: &tr}, {Name: "t@3.timer", Enabled: &fa}, {Name: "t@4.timer", Enabled: &fa}}
	got := strings.Join(presetLines(units, map[string]bool{"t@4.timer": true}), "|")
	if want := "disable t@.timer 4|enable b.service|enable t@.timer 1 2"; got != want {
		t.Errorf("preset lines %q, want %q", got, want)
	}
	if got := presetLines(units[1:3], nil); len(got) != 0 {
		t.Errorf("nothing enabled, nothing disabled: %v", got)
	}
}

func TestModes(t *testing.T) {
	for _, tc := range []struct {
		m    int
		unix uint32
	}{{0o644, 0o644}, {0o4755, 0o4755}, {0o2750, 0o2750}, {0o1777, 0o1777}, {0o7777, 0o7777}} {
		if got := unixMode(tc.m); got != tc.unix {
			t.Errorf("unixMode(%o) = %o", tc.m, got)
		}
	}
}

// meta.fix calls chown and chmod only when creation did not give the
// wanted owner and mode, and sets the mode after a chown that clears
// setuid/setgid.
func TestMetaFix(t *testing.T) {
	for _, tc := range []struct {
		m    meta
		want string
	}{
		{meta{uid: 0, gid: 0, mode: 0o644, cmode: 0o644}, ""},
		{meta{uid: 5, gid: 0, mode: 0o644, cmode: 0o644}, "chown"},
		{meta{uid: 0, gid: 7, cgid: 7, mode: 0o600, cmode: 0o644}, "chmod"},
		{meta{uid: 5, gid: 5, mode: 0o4755, cmode: 0o755}, "chown chmod"},
		{meta{uid: 5, gid: 5, mode: 0o2755, cmode: 0o2755}, "chown chmod"},
		{meta{uid: 0, gid: 0, mode: 0o644, cmode: 0o644, force: true}, "chmod"},
		{meta{uid: 0, gid: 0, cgid: 50, mode: 0o644, cmode: 0o644}, "chown"},
	} {
		var calls []string
		err := tc.m.fix(func(u, g int) error { calls = append(calls, "chown"); return nil },
			func(uint32) error { calls = append(calls, "chmod"); return nil })
		must(t, err)
		if got := strings.Join(calls, " "); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.m, got, tc.want)
		}
	}
}

func TestTempNames(t *testing.T) {
	n := tmpName("sshd_config")
	if !isTempName(n) || !strings.HasPrefix(n, ".sshd_config.flint-tmp-") {
		t.Errorf("tmpName %q", n)
	}
	if long := tmpName(strings.Repeat("x", 255)); len(long) > 255 || !isTempName(long) {
		t.Errorf("long name %d %q", len(long), long)
	}
	for _, s := range []string{"sshd_config", ".hidden", ".x.flint-tmp-", ".x.flint-tmp-ABC", "x.flint-tmp-abc", ".flint-fetch-1", ".x.flint-tmp-a/b"} {
		if isTempName(s) {
			t.Errorf("%q taken for a temporary file", s)
		}
	}
	if !isTempName(".passwd.flint-tmp-123456") { // system.WriteFileAtomic's
		t.Errorf("WriteFileAtomic's temporary names are not recognised")
	}
	dir := t.TempDir()
	for _, s := range []string{".a.flint-tmp-1x", "keep", ".b.flint-tmp-Z"} {
		must(t, os.WriteFile(filepath.Join(dir, s), nil, 0o644))
	}
	if n, errs := sweepTemps(dir); n != 1 || len(errs) != 0 {
		t.Errorf("sweep removed %d (%v)", n, errs)
	}
	left, _ := os.ReadDir(dir)
	if len(left) != 2 {
		t.Errorf("left %v", left)
	}
}

func TestFetchErrorNamesEntryOnce(t *testing.T) {
	e := &fetchError{path: "/etc/tok", src: "http://h/404", err: fmt.Errorf("GET http://h/404: %w", resource.ErrNotFound)}
	if got := e.Error(); got != "/etc/tok from http://h/404: resource not found" {
		t.Errorf("%q", got)
	}
	e2 := &fetchError{path: "/x", src: "http://h/y", err: fmt.Errorf("fetch canceled: GET http://h/y: dial tcp: refused")}
	if got := e2.Error(); got != "/x from http://h/y: fetch canceled: dial tcp: refused" {
		t.Errorf("%q", got)
	}
	if !errors.Is(e, resource.ErrNotFound) {
		t.Errorf("does not unwrap")
	}
}

func TestSelinuxType(t *testing.T) {
	if got := parseSelinuxType([]byte("# c\nSELINUX=enforcing\nSELINUXTYPE=targeted\n")); got != "targeted" {
		t.Errorf("%q", got)
	}
	if got := parseSelinuxType([]byte("SELINUX=disabled\n")); got != "" {
		t.Errorf("%q", got)
	}
	c := setfilesCmd("/sysroot", "/sysroot/etc/selinux/targeted/contexts/files/file_contexts", []string{"/sysroot/etc/a", "/sysroot/b"})
	if got := strings.Join(c.Args, " "); got != "-F0 -r /sysroot /sysroot/etc/selinux/targeted/contexts/files/file_contexts -f -" {
		t.Errorf("args %q", got)
	}
}

func secureJoinRef(root, p string) (string, error) { return system.SecureJoin(root, p) }

// TestCleanDirIsDir: on clean paths cleanDir is filepath.Dir, and
// isAncestor agrees with walking filepath.Dir upwards.
func TestCleanDirIsDir(t *testing.T) {
	for _, p := range []string{"/", "/a", "/a/b", "/a/b/c.txt", "mnt", "mnt/x", "tmp/root/etc/passwd", ".", "a/b"} {
		if got, want := cleanDir(p), filepath.Dir(p); got != want {
			t.Errorf("cleanDir(%q) = %q, filepath.Dir %q", p, got, want)
		}
		for _, a := range []string{"/", "/a", "/a/b", "/ab", "mnt", "tmp/root", "a"} {
			want := false
			for d := filepath.Dir(p); ; d = filepath.Dir(d) {
				if d == a && p != a {
					want = true
				}
				if d == filepath.Dir(d) {
					break
				}
			}
			if got := isAncestor(a, p); got != want {
				t.Errorf("isAncestor(%q, %q) = %v, want %v", a, p, got, want)
			}
		}
	}
}
