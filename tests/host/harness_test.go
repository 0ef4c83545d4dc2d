package host

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/coreos/go-semver/semver"
	"github.com/flintboot/flint/config"
)

// tc is one black-box case. Config may use $version, $http (host:port of
// the HTTP server), $tftp and $canary (a unique name for escape checks).
type tc struct {
	name     string
	min, max string // spec range; "" = 3.0.0 / newest
	config   string
	passwd   bool     // seed /etc/passwd, group, shadow, gshadow, login.defs
	fs       []string // extra filesystems to run on besides ext4
	env      []string
	args     []string
	setup    func(t *testing.T, r *root)
	check    func(t *testing.T, r *root)
	// negative cases: apply must fail, output must contain errHas
	negative bool
	errHas   string
}

// root is one case's scratch root on a loop filesystem. outside is a
// sibling directory that must never change; canary names a host path
// that must never appear.
type root struct {
	dir, outside, base string
	version            string
	canary             string
	dev                string // a loop device the case made ($dev)
	out                string
}

func (r *root) p(rel string) string { return filepath.Join(r.dir, rel) }

func randHex() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func versionsFrom(min, max string) []string {
	lo := semver.New("3.0.0")
	if min != "" {
		lo = semver.New(min)
	}
	var out []string
	for _, v := range config.Versions {
		if v.Version.LessThan(*lo) {
			continue
		}
		if max != "" && semver.New(max).LessThan(v.Version) {
			continue
		}
		out = append(out, v.Version.String())
	}
	return out
}

func runCases(t *testing.T, cases []tc) {
	names := map[string]bool{}
	for _, c := range cases {
		if names[c.name] {
			t.Fatalf("duplicate case %s", c.name)
		}
		names[c.name] = true
	}
	for _, c := range cases {
		c := c
		for _, fsType := range append([]string{"ext4"}, c.fs...) {
			for _, v := range versionsFrom(c.min, c.max) {
				v, fsType := v, fsType
				t.Run(c.name+"/"+fsType+"/"+v, func(t *testing.T) {
					t.Parallel()
					runCase(t, c, fsType, v)
				})
			}
		}
	}
}

func seedPasswd(t *testing.T, dir string) {
	files := map[string]string{
		"etc/passwd":  "root:x:0:0:root:/root:/bin/bash\nbin:x:2:2:bin:/bin:/usr/sbin/nologin\ncore:x:500:500:CoreOS Admin:/home/core:/bin/bash\nolduser:x:600:600::/home/olduser:/bin/sh\n",
		"etc/group":   "root:x:0:\nbin:x:2:\nwheel:x:10:root\ndocker:x:999:\ncore:x:500:\nolduser:x:600:\noldgroup:x:700:\n",
		"etc/shadow":  "root:*:19000:0:99999:7:::\nbin:*:19000:0:99999:7:::\ncore:*:19000:0:99999:7:::\nolduser:*:19000:0:99999:7:::\n",
		"etc/gshadow": "root:*::\nbin:*::\nwheel:*::root\ndocker:!::\ncore:!::\nolduser:!::\noldgroup:!::\n",
	}
	for p, s := range files {
		mode := os.FileMode(0o644)
		if strings.Contains(p, "shadow") {
			mode = 0o600
		}
		must(t, os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755))
		must(t, os.WriteFile(filepath.Join(dir, p), []byte(s), mode))
	}
	defs, err := os.ReadFile("/etc/login.defs")
	must(t, err)
	must(t, os.WriteFile(filepath.Join(dir, "etc/login.defs"), defs, 0o644))
	for _, d := range []string{"home/core", "home/olduser", "root"} {
		must(t, os.MkdirAll(filepath.Join(dir, d), 0o755))
	}
	must(t, os.Chown(filepath.Join(dir, "home/core"), 500, 500))
	must(t, os.Chown(filepath.Join(dir, "home/olduser"), 600, 600))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func expand(s string, r *root) string {
	return strings.NewReplacer("$version", r.version, "$http", httpAddr, "$tftp", tftpAddr, "$canary", r.canary, "$outside", r.outside, "$dev", r.dev).Replace(s)
}

func runCase(t *testing.T, c tc, fsType, version string) {
	base, err := os.MkdirTemp(fsRoots[fsType], strings.ReplaceAll(c.name, "/", "_")+"-")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(base) })
	r := &root{dir: filepath.Join(base, "root"), outside: filepath.Join(base, "outside"), base: base,
		version: version, canary: "flint-canary-" + randHex()}
	must(t, os.MkdirAll(r.dir, 0o755))
	must(t, os.MkdirAll(r.outside, 0o755))
	must(t, os.WriteFile(filepath.Join(r.outside, "keep"), []byte("outside"), 0o644))
	if c.passwd {
		seedPasswd(t, r.dir)
	}
	if c.setup != nil {
		c.setup(t, r)
	}
	before := snapshot(t, r.outside)
	cfg := expand(c.config, r)
	if !c.negative {
		if _, rpt, err := config.Parse([]byte(cfg)); err != nil {
			t.Fatalf("test config does not parse: %v\n%s", err, rpt.String())
		}
	}
	cfgPath := filepath.Join(base, "config.ign")
	must(t, os.WriteFile(cfgPath, []byte(cfg), 0o600))
	args := append([]string{"apply", "--root", r.dir}, c.args...)
	args = append(args, cfgPath)
	cmd := exec.Command(flintBin, args...)
	cmd.Env = append(os.Environ(), "FLINT_RUN_DIR="+filepath.Join(base, "run"))
	// base config directories live beside the root (used with --base-configs)
	cmd.Env = append(cmd.Env, "FLINT_SYSTEM_CONFIG_DIR="+filepath.Join(base, "flint-lib"), "IGNITION_SYSTEM_CONFIG_DIR="+filepath.Join(base, "ign-lib"),
		"FLINT_LOCAL_CONFIG_DIR="+filepath.Join(base, "flint-etc"), "IGNITION_SYSTEM_LOCAL_CONFIG_DIR="+filepath.Join(base, "ign-etc"),
		"IGNITION_SYSTEM_RUNTIME_CONFIG_DIR="+filepath.Join(base, "ign-run"))
	cmd.Env = append(cmd.Env, c.env...)
	out, err := cmd.CombinedOutput()
	r.out = string(out)
	if strings.Contains(r.out, "panic") {
		t.Fatalf("flint panicked:\n%s", out)
	}
	if c.negative {
		if err == nil {
			t.Fatalf("flint apply succeeded, want failure:\n%s", out)
		}
		if c.errHas != "" && !strings.Contains(r.out, c.errHas) {
			t.Fatalf("output lacks %q:\n%s", c.errHas, out)
		}
	} else if err != nil {
		t.Fatalf("flint apply: %v\n%s", err, out)
	}
	if after := snapshot(t, r.outside); !equalSnap(before, after) {
		t.Fatalf("the directory outside the root changed:\nbefore %v\nafter  %v", before, after)
	}
	for _, p := range []string{"/" + r.canary, "/tmp/" + r.canary, "/etc/" + r.canary, filepath.Join(r.base, r.canary)} {
		if _, err := os.Lstat(p); err == nil {
			t.Fatalf("a write escaped the root: %s exists", p)
		}
	}
	if c.check != nil {
		c.check(t, r)
	}
}

// snapshot records every path under dir with its type, mode, owner,
// size, mtime and contents.
func snapshot(t *testing.T, dir string) []string {
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			out = append(out, p+": "+err.Error())
			return nil
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return nil
		}
		st := fi.Sys().(*syscall.Stat_t)
		line := strings.TrimPrefix(p, dir) + " " + fi.Mode().String() + " " +
			itoa(int(st.Uid)) + ":" + itoa(int(st.Gid)) + " " + itoa(int(fi.Size())) + " " + fi.ModTime().String() + " ino" + itoa(int(st.Ino))
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			tg, _ := os.Readlink(p)
			line += " -> " + tg
		case fi.Mode().IsRegular():
			b, _ := os.ReadFile(p)
			line += " " + sha256Hex(string(b))
		}
		out = append(out, line)
		return nil
	})
	sort.Strings(out)
	return out
}

func itoa(i int) string { return strconv.Itoa(i) }

func equalSnap(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// ---- checks ----

func wantFile(t *testing.T, r *root, rel, contents string, mode os.FileMode, uid, gid int) {
	t.Helper()
	p := r.p(rel)
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatalf("%s: %v\n%s", rel, err, r.out)
	}
	if !fi.Mode().IsRegular() {
		t.Fatalf("%s is %v, want a regular file", rel, fi.Mode())
	}
	b, _ := os.ReadFile(p)
	if string(b) != contents {
		t.Fatalf("%s contents %q, want %q", rel, b, contents)
	}
	wantMeta(t, rel, fi, mode, uid, gid)
}

func wantMeta(t *testing.T, rel string, fi fs.FileInfo, mode os.FileMode, uid, gid int) {
	t.Helper()
	m := fi.Mode() & (os.ModePerm | os.ModeSetuid | os.ModeSetgid | os.ModeSticky)
	if mode != 0 && m != mode {
		t.Fatalf("%s mode %v, want %v", rel, m, mode)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if uid >= 0 && int(st.Uid) != uid {
		t.Fatalf("%s uid %d, want %d", rel, st.Uid, uid)
	}
	if gid >= 0 && int(st.Gid) != gid {
		t.Fatalf("%s gid %d, want %d", rel, st.Gid, gid)
	}
}

func wantDir(t *testing.T, r *root, rel string, mode os.FileMode, uid, gid int) {
	t.Helper()
	fi, err := os.Lstat(r.p(rel))
	if err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	if !fi.IsDir() {
		t.Fatalf("%s is %v, want a directory", rel, fi.Mode())
	}
	wantMeta(t, rel, fi, mode, uid, gid)
}

func wantSymlink(t *testing.T, r *root, rel, target string) {
	t.Helper()
	got, err := os.Readlink(r.p(rel))
	if err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	if got != target {
		t.Fatalf("%s -> %q, want %q", rel, got, target)
	}
}

func wantHardlink(t *testing.T, r *root, a, b string) {
	t.Helper()
	fa, err := os.Lstat(r.p(a))
	must(t, err)
	fb, err := os.Lstat(r.p(b))
	must(t, err)
	if !os.SameFile(fa, fb) {
		t.Fatalf("%s and %s are not hard links of one inode", a, b)
	}
}

func wantMissing(t *testing.T, r *root, rel string) {
	t.Helper()
	if _, err := os.Lstat(r.p(rel)); err == nil {
		t.Fatalf("%s exists, want it absent", rel)
	}
}

func wantContains(t *testing.T, r *root, rel string, subs ...string) {
	t.Helper()
	b, err := os.ReadFile(r.p(rel))
	if err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	for _, s := range subs {
		if !bytes.Contains(b, []byte(s)) {
			t.Fatalf("%s lacks %q:\n%s", rel, s, b)
		}
	}
}

func writeFile(t *testing.T, r *root, rel, s string, mode os.FileMode) {
	t.Helper()
	must(t, os.MkdirAll(filepath.Dir(r.p(rel)), 0o755))
	must(t, os.WriteFile(r.p(rel), []byte(s), mode))
	must(t, os.Chmod(r.p(rel), mode))
}

func mkdir(t *testing.T, r *root, rel string) {
	t.Helper()
	must(t, os.MkdirAll(r.p(rel), 0o755))
}

func symlink(t *testing.T, r *root, rel, target string) {
	t.Helper()
	must(t, os.MkdirAll(filepath.Dir(r.p(rel)), 0o755))
	must(t, os.Symlink(target, r.p(rel)))
}
