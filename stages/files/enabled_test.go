package files

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// A prepared root: files (path → contents) and links (path → target).
type unitFixture struct {
	files map[string]string
	links map[string]string
	names []string // units to ask about
}

const lib = "/usr/lib/systemd/system/"
const etc = "/etc/systemd/system/"

func wanted(t string) string {
	return "[Unit]\nDescription=x\n[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=" + t + "\n"
}

const static = "[Unit]\nDescription=x\n[Service]\nExecStart=/bin/true\n"

func fixtures() map[string]unitFixture {
	return map[string]unitFixture{
		"mixed": {
			files: map[string]string{
				lib + "a.service":             wanted("multi-user.target"),
				lib + "b.service":             static,
				lib + "c.service":             static + "[Install]\nAlso=a.service\n",
				lib + "d.service":             wanted("multi-user.target") + "Alias=dd.service\n",
				lib + "e@.service":            wanted("getty.target") + "DefaultInstance=x\n",
				lib + "f@.service":            wanted("multi-user.target"),
				lib + "g.service":             "",
				lib + "h.service":             static + "[Install]\nRequiredBy=x.target\n",
				lib + "i.service":             static,
				lib + "v.service":             wanted("multi-user.target"),
				lib + "r.service":             wanted("multi-user.target"),
				lib + "u.service":             static + "[Install]\nUpheldBy=multi-user.target\n",
				"/opt/l.service":              wanted("multi-user.target"),
				etc + "i.service.d/inst.conf": "[Install]\nWantedBy=multi-user.target\n",
				etc + "b.service.d/x.conf":    "[Service]\nEnvironment=A=1\n",
			},
			links: map[string]string{
				etc + "multi-user.target.wants/a.service":               lib + "a.service",
				etc + "dd.service":                                      lib + "d.service",
				etc + "multi-user.target.wants/d.service":               lib + "d.service",
				etc + "getty.target.wants/e@x.service":                  lib + "e@.service",
				etc + "multi-user.target.wants/f@1.service":             lib + "f@.service",
				etc + "m.service":                                       "/dev/null",
				lib + "multi-user.target.wants/v.service":               "../v.service",
				etc + "x.target.requires/h.service":                     lib + "h.service",
				"/run/systemd/system/multi-user.target.wants/r.service": lib + "r.service",
				etc + "l.service":                                       "/opt/l.service",
				etc + "multi-user.target.upholds/u.service":             lib + "u.service",
			},
			names: []string{"a.service", "b.service", "c.service", "d.service", "dd.service", "e@.service", "e@x.service",
				"e@y.service", "f@.service", "f@1.service", "f@2.service", "g.service", "h.service", "i.service", "m.service",
				"v.service", "r.service", "l.service", "u.service", "nosuch.service", "nosuch@1.service"},
		},
		"etc-units": {
			files: map[string]string{
				etc + "a.service":                 wanted("multi-user.target"),
				etc + "b.service":                 wanted("multi-user.target"),
				etc + "t.timer":                   "[Timer]\nOnCalendar=daily\n[Install]\nWantedBy=timers.target\n",
				etc + "s.socket":                  "[Socket]\nListenStream=1234\n[Install]\nWantedBy=sockets.target\nAlias=s2.socket\n",
				lib + "a.service":                 static,
				"/lib/systemd/system/old.service": wanted("multi-user.target"),
			},
			links: map[string]string{
				etc + "multi-user.target.wants/a.service":        "../a.service",
				etc + "timers.target.wants/t.timer":              etc + "t.timer",
				etc + "s2.socket":                                "s.socket",
				etc + "multi-user.target.wants/old.service":      "/lib/systemd/system/old.service",
				etc + "multi-user.target.wants/.hidden.service":  etc + "b.service",
				etc + "multi-user.target.wants/dangling.service": "/nowhere/dangling.service",
			},
			names: []string{"a.service", "b.service", "t.timer", "s.socket", "s2.socket", "old.service", "dangling.service"},
		},
		"templates": {
			files: map[string]string{
				lib + "w@.service":  wanted("multi-user.target"),
				lib + "n@.service":  static,
				lib + "z@.service":  wanted("multi-user.target") + "DefaultInstance=def\n",
				etc + "w@a.service": wanted("multi-user.target"),
			},
			links: map[string]string{
				etc + "multi-user.target.wants/w@b.service":     lib + "w@.service",
				etc + "multi-user.target.wants/w@c.service":     lib + "w@.service",
				lib + "multi-user.target.wants/n@v.service":     "../n@.service",
				etc + "multi-user.target.wants/z@other.service": lib + "z@.service",
			},
			names: []string{"w@.service", "w@a.service", "w@b.service", "w@c.service", "w@d.service", "n@.service", "n@v.service",
				"n@w.service", "z@.service", "z@def.service", "z@other.service"},
		},
		"merged-usr": {
			files: map[string]string{
				lib + "x.service": wanted("multi-user.target"),
				lib + "y.service": wanted("multi-user.target") + "Alias=yy.service\n",
				lib + "z.socket":  "[Socket]\nListenStream=1\n[Install]\nWantedBy=sockets.target\nAlso=x.service\n",
			},
			links: map[string]string{
				"/lib": "usr/lib",
				etc + "multi-user.target.wants/x.service": "/lib/systemd/system/x.service",
				etc + "yy.service":                        "/lib/systemd/system/y.service",
				lib + "sockets.target.wants/z.socket":     "../z.socket",
			},
			names: []string{"x.service", "y.service", "yy.service", "z.socket"},
		},
		"empty": {names: []string{"a.service", "a@b.service"}},
	}
}

func (f unitFixture) make(t *testing.T) string {
	root := t.TempDir()
	for p, c := range f.files {
		must(t, os.MkdirAll(filepath.Dir(root+p), 0o755))
		must(t, os.WriteFile(root+p, []byte(c), 0o644))
	}
	for p, tg := range f.links {
		must(t, os.MkdirAll(filepath.Dir(root+p), 0o755))
		must(t, os.Symlink(tg, root+p))
	}
	return root
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func systemctl(t *testing.T) string {
	p, err := exec.LookPath("systemctl")
	if err != nil {
		t.Fatal("systemctl is needed for the differential tests (apt package systemd, tests/deps/files.txt)")
	}
	return p
}

// realState asks systemctl; a unit that does not exist counts as
// "not-found" (systemctl fails with ENOENT).
func realState(t *testing.T, bin, root, name string) (string, bool) {
	cmd := exec.Command(bin, "--root", root, "is-enabled", name)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	s := strings.TrimSpace(out.String())
	if s == "" && strings.Contains(errb.String(), "No such file") {
		s = "not-found"
	}
	return s, err == nil
}

func TestUnitStateMatchesSystemctl(t *testing.T) {
	bin := systemctl(t)
	for fname, f := range fixtures() {
		root := f.make(t)
		for _, name := range f.names {
			want, ok := realState(t, bin, root, name)
			// uncached, and through the cache applyUnits uses (which
			// answers most lookups from directory listings)
			for _, c := range []*unitCache{nil, newUnitCache()} {
				got := unitRoot{root: root, cache: c}.unitState(name)
				if got != want {
					t.Errorf("%s: %s (cache %v): flint says %q, systemctl --root is-enabled says %q", fname, name, c != nil, got, want)
				}
				if enabledState(got) != ok {
					t.Errorf("%s: %s (cache %v): flint decides enabled=%v, systemctl exits with success=%v", fname, name, c != nil, enabledState(got), ok)
				}
			}
		}
	}
}

// tree lists every path under root with its link target.
func tree(t *testing.T, root string) []string {
	var out []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		s := strings.TrimPrefix(p, root)
		if d.Type()&fs.ModeSymlink != 0 {
			tg, _ := os.Readlink(p)
			s += " -> " + tg
		}
		out = append(out, s)
		return nil
	})
	sort.Strings(out)
	return out
}

func TestDisableMatchesSystemctl(t *testing.T) {
	bin := systemctl(t)
	for fname, f := range fixtures() {
		for _, name := range f.names {
			theirs := f.make(t)
			ours := f.make(t)
			cmd := exec.Command(bin, "--root", theirs, "disable", name)
			out, err := cmd.CombinedOutput()
			if err != nil && !strings.Contains(string(out), "No such file") && !strings.Contains(string(out), "not found") {
				t.Logf("%s: systemctl disable %s: %v: %s", fname, name, err, out)
			}
			u := unitRoot{root: ours}
			links, dirs := u.disableLinks(name)
			for _, l := range links {
				must(t, os.Remove(u.host(l)))
			}
			for _, d := range dirs {
				must(t, os.Remove(u.host(d)))
			}
			a, b := tree(t, theirs), tree(t, ours)
			if strings.Join(a, "\n") != strings.Join(b, "\n") {
				t.Errorf("%s: disable %s: trees differ\nsystemctl: %v\nflint:     %v", fname, name, a, b)
			}
		}
	}
}
