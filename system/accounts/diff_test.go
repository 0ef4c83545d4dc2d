package accounts

// Differential tests: for each base root and each config, the real shadow
// tools (useradd, usermod, userdel, groupadd, groupmod, groupdel,
// chgpasswd with --root, run with the flags Ignition passes) provision one
// copy of the root and the writer another; the account files, the
// subordinate id files, lastlog/faillog, mail spools and every home tree
// (paths, types, modes, owners, contents, link targets, file mtimes) must
// come out the same. The tools run with /proc bind-mounted into the root:
// without it shadow 4.13's copy_tree stops at the first skel
// subdirectory (it sets modes through /proc/self/fd). A config the tools
// refuse must be refused by the writer too, with the root left untouched.

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func sp(s string) *string { return &s }
func ip(i int) *int       { return &i }

type base struct {
	name  string
	files map[string]string // path → contents; "dir/" makes a directory
	setup func(t *testing.T, dir string)
	// each: run on each copy of the root (mounts)
	each func(t *testing.T, dir string)
}

const stdPasswd = "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\ncore:x:500:500:Core:/home/core:/bin/bash\nolduser:x:600:600::/home/olduser:/bin/sh\n"
const stdShadow = "root:*:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\ncore:*:19000:0:99999:7:::\nolduser:!:19000:0:99999:7:::\n"
const stdGroup = "root:x:0:\ndaemon:x:1:\nwheel:x:10:root\nmail:x:8:\nusers:x:100:\ncore:x:500:\nolduser:x:600:\noldgroup:x:700:olduser\n"
const stdGshadow = "root:*::\ndaemon:*::\nwheel:*::root\nmail:*::\nusers:*::\ncore:!::\nolduser:!::\noldgroup:!::olduser\n"

const fedoraDefs = `MAIL_DIR	/var/spool/mail
UMASK		022
HOME_MODE	0700
PASS_MAX_DAYS	99999
PASS_MIN_DAYS	0
PASS_WARN_AGE	7
UID_MIN                  1000
UID_MAX                 60000
SYS_UID_MIN               201
SYS_UID_MAX               999
SUB_UID_MIN		   524288
SUB_UID_MAX		600100000
SUB_UID_COUNT		    65536
GID_MIN                  1000
GID_MAX                 60000
SYS_GID_MIN               201
SYS_GID_MAX               999
SUB_GID_MIN		   524288
SUB_GID_MAX		600100000
SUB_GID_COUNT		    65536
CREATE_HOME	yes
USERGROUPS_ENAB yes
ENCRYPT_METHOD YESCRYPT
`

func std(extra map[string]string) map[string]string {
	m := map[string]string{
		"etc/passwd": stdPasswd, "etc/shadow": stdShadow, "etc/group": stdGroup, "etc/gshadow": stdGshadow,
		"etc/skel/.bashrc": "# bashrc\n", "etc/skel/.profile": "# profile\n",
		"home/core/.bashrc": "core's\n", "home/olduser/notes": "old\n",
	}
	for k, v := range extra {
		if v == "<delete>" {
			delete(m, k)
			continue
		}
		m[k] = v
	}
	return m
}

func debianDefs(t *testing.T) string {
	b, err := os.ReadFile("/etc/login.defs")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func stdOwners(t *testing.T, dir string) {
	chown(t, dir, "home/core", 500, 500)
	chown(t, dir, "home/core/.bashrc", 500, 500)
	chown(t, dir, "home/olduser", 600, 600)
	chown(t, dir, "home/olduser/notes", 600, 600)
}

func chown(t *testing.T, dir, rel string, uid, gid int) {
	t.Helper()
	if err := os.Lchown(filepath.Join(dir, rel), uid, gid); err != nil {
		t.Fatal(err)
	}
}

func bases(t *testing.T) []base {
	deb := debianDefs(t)
	return []base{
		{name: "debian", files: std(map[string]string{"etc/login.defs": deb}), setup: stdOwners},
		{name: "fedora", files: std(map[string]string{"etc/login.defs": fedoraDefs,
			"etc/default/useradd": "GROUP=100\nHOME=/home\nINACTIVE=-1\nEXPIRE=\nSHELL=/bin/bash\nSKEL=/etc/skel\nCREATE_MAIL_SPOOL=yes\n",
			"etc/subuid":          "", "etc/subgid": "", "var/spool/mail/": ""}),
			setup: func(t *testing.T, dir string) { stdOwners(t, dir); chown(t, dir, "var/spool/mail", 0, 8) }},
		{name: "existing-users-homes", files: std(map[string]string{"etc/login.defs": deb,
			"etc/passwd":  stdPasswd + "ex1:x:1000:1000::/home/ex1:/bin/bash\nex2:x:1003:1003::/home/ex2:/bin/bash\nex3:x:1001:100::/home/ex3:/bin/bash\n",
			"etc/shadow":  stdShadow + "ex1:$6$e1:19500:0:99999:7:::\nex2:*:19500:0:99999:7:::\nex3:*:19500:0:99999:7:::\n",
			"etc/group":   stdGroup + "ex1:x:1000:\nex2:x:1003:ex1\nteam:x:1010:ex1,ex2,ex3\n",
			"etc/gshadow": stdGshadow + "ex1:!::\nex2:!::ex1\nteam:!:ex1:ex1,ex2,ex3\n",
			"etc/subuid":  "ex2:231072:65536\nex1:100000:65536\n", "etc/subgid": "ex1:100000:65536\nex2:165536:65536\n",
			"home/ex1/.bashrc": "ex1\n", "home/ex1/.config/x": "cfg\n", "home/ex2/f": "2\n", "var/mail/ex1": "mail\n"}),
			setup: func(t *testing.T, dir string) {
				stdOwners(t, dir)
				for _, p := range []string{"home/ex1", "home/ex1/.bashrc", "home/ex1/.config", "home/ex1/.config/x", "var/mail/ex1"} {
					chown(t, dir, p, 1000, 1000)
				}
				chown(t, dir, "home/ex2", 1003, 1003)
				chown(t, dir, "home/ex2/f", 1003, 0)
			}},
		{name: "subuid-custom-range", files: std(map[string]string{
			"etc/login.defs": deb + "\nSUB_UID_MIN 200000\nSUB_UID_MAX 400000\nSUB_UID_COUNT 1000\nSUB_GID_COUNT 0\n",
			"etc/subuid":     "x:200000:500\ny:201000:10000\n#comment\n", "etc/subgid": "x:100000:65536\n"}), setup: stdOwners},
		{name: "unusual-uid-range", files: std(map[string]string{
			"etc/login.defs": "UID_MIN 5000\nUID_MAX 5010\nGID_MIN 7000\nGID_MAX 7100\nSYS_UID_MIN 300\nSYS_UID_MAX 310\nSYS_GID_MIN 300\nSYS_GID_MAX 320\nUSERGROUPS_ENAB yes\nPASS_MAX_DAYS 90\nPASS_MIN_DAYS 1\n",
			"etc/passwd":     stdPasswd + "hi:x:5008:7000::/home/hi:/bin/sh\nsy:x:305:305::/:/bin/false\n",
			"etc/group":      stdGroup + "hi:x:7000:\nsy:x:305:\n"}), setup: stdOwners},
		{name: "full-range", files: std(map[string]string{
			"etc/login.defs": "UID_MIN 2000\nUID_MAX 2002\nGID_MIN 2000\nGID_MAX 2010\nSYS_UID_MIN 900\nSYS_UID_MAX 902\nUSERGROUPS_ENAB yes\n",
			"etc/passwd":     stdPasswd + "a1:x:2000:2000::/h:/bin/sh\na3:x:2002:2000::/h:/bin/sh\ns1:x:902:100::/:/bin/sh\ns2:x:900:100::/:/bin/sh\n"}), setup: stdOwners},
		{name: "skel-nested", files: std(map[string]string{"etc/login.defs": deb,
			"etc/skel/.config/app/conf": "k=v\n", "etc/skel/.config/empty/": "", "etc/skel/bin/run": "#!/bin/sh\n",
			"etc/skel/private/secret": "s\n", "etc/skel/.local/share/x": "x\n"}),
			setup: func(t *testing.T, dir string) {
				stdOwners(t, dir)
				s := filepath.Join(dir, "etc/skel")
				must(t, os.Symlink(".bashrc", filepath.Join(s, "rel-link")))
				must(t, os.Symlink("/etc/skel/.profile", filepath.Join(s, "abs-into-skel")))
				must(t, os.Symlink("/usr/share/doc", filepath.Join(s, "abs-out")))
				must(t, os.Link(filepath.Join(s, ".bashrc"), filepath.Join(s, "hard")))
				must(t, syscall.Mkfifo(filepath.Join(s, "fifo"), 0o640))
				must(t, os.Chmod(filepath.Join(s, "bin/run"), 0o755))
				must(t, os.Chmod(filepath.Join(s, "private"), 0o700))
				must(t, os.Chmod(filepath.Join(s, ".config"), 0o2750))
				old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
				must(t, os.Chtimes(filepath.Join(s, ".config/app/conf"), old, old))
			}},
		{name: "umask077-no-home-mode", files: std(map[string]string{"etc/login.defs": "UMASK 077\nUSERGROUPS_ENAB yes\nPASS_MAX_DAYS 99999\nMAIL_DIR /var/mail\n",
			"var/mail/": ""}), setup: stdOwners},
		{name: "usergroups-no", files: std(map[string]string{"etc/login.defs": strings.Replace(deb, "USERGROUPS_ENAB yes", "USERGROUPS_ENAB no", 1),
			"etc/default/useradd": "GROUP=users\nHOME=/srv/home\nSHELL=/bin/sh\nINACTIVE=30\nEXPIRE=2031-05-06\n"}), setup: stdOwners},
		{name: "no-shadow-files", files: std(map[string]string{"etc/login.defs": deb,
			"etc/passwd": strings.ReplaceAll(stdPasswd, ":x:", ":*:"), "etc/shadow": "<delete>", "etc/gshadow": "<delete>",
			"etc/group": strings.ReplaceAll(stdGroup, ":x:", ":!:")}), setup: stdOwners},
		{name: "messy-files", files: std(map[string]string{"etc/login.defs": deb,
			"etc/passwd":  "# comment\nroot:x:0:0:root:/root:/bin/bash\n\nbroken line\ncore:x:500:500:Core:/home/core:/bin/bash\nolduser:x:600:600::/home/olduser:/bin/sh",
			"etc/gshadow": "root:*::\nwheel:*::root\ncore:!::\n", "etc/subuid": "", "etc/subgid": ""}),
			setup: func(t *testing.T, dir string) {
				stdOwners(t, dir)
				must(t, os.Chmod(filepath.Join(dir, "etc/shadow"), 0))
				chown(t, dir, "etc/shadow", 0, 42)
				must(t, os.Chmod(filepath.Join(dir, "etc/gshadow"), 0o640))
			}},
		{name: "no-skel", files: std(map[string]string{"etc/login.defs": deb, "etc/skel/.bashrc": "<delete>", "etc/skel/.profile": "<delete>"}),
			setup: stdOwners},
		// /srv is another filesystem: moving a home there copies it
		{name: "home-across-filesystems", files: std(map[string]string{"etc/login.defs": deb, "srv/": ""}), setup: stdOwners,
			each: func(t *testing.T, dir string) {
				p := filepath.Join(dir, "srv")
				if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", p).CombinedOutput(); err != nil {
					t.Fatalf("mount tmpfs: %v %s", err, out)
				}
				t.Cleanup(func() { exec.Command("umount", "-l", p).Run() })
			}},
		{name: "logs-and-mail", files: std(map[string]string{"etc/login.defs": deb,
			"etc/default/useradd": "CREATE_MAIL_SPOOL=yes\n", "var/mail/olduser": "m\n", "var/log/": ""}),
			setup: func(t *testing.T, dir string) {
				stdOwners(t, dir)
				chown(t, dir, "var/mail/olduser", 600, 8)
				ll := bytes.Repeat([]byte{7}, lastlogRec*1100)
				must(t, os.WriteFile(filepath.Join(dir, "var/log/lastlog"), ll, 0o664))
				must(t, os.WriteFile(filepath.Join(dir, "var/log/faillog"), bytes.Repeat([]byte{9}, faillogRec*700), 0o644))
			}},
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

type dcase struct {
	name string
	ops  []Op
	// only: run on these bases only (nil: all)
	only []string
	// fails: the tools refuse (on the bases listed; "*" all)
	fails []string
}

func uadd(u User) Op   { return Op{Kind: "useradd", User: u} }
func umod(u User) Op   { return Op{Kind: "usermod", User: u} }
func udel(n string) Op { return Op{Kind: "userdel", User: User{Name: n}} }
func gadd(g Group) Op  { return Op{Kind: "groupadd", Group: g} }
func gmod(g Group) Op  { return Op{Kind: "groupmod", Group: g} }
func gdel(n string) Op { return Op{Kind: "groupdel", Group: Group{Name: n}} }

func cases() []dcase {
	return []dcase{
		{name: "add-basic", ops: []Op{
			gadd(Group{Name: "g1"}), gadd(Group{Name: "sysg", System: true}), gadd(Group{Name: "g2", GID: ip(4321), PasswordHash: sp("$6$grp$hash")}),
			uadd(User{Name: "alice", PasswordHash: sp("$6$salt$alicehash")}),
			uadd(User{Name: "bob", NoCreateHome: true}),
			uadd(User{Name: "svc", System: true, NoCreateHome: true}),
			uadd(User{Name: "carol", UID: ip(5005), Gecos: sp("Carol C"), Shell: sp("/bin/sh"), Groups: []string{"wheel", "g1", "users"}, PasswordHash: sp("")}),
		}, fails: []string{"full-range"}},
		{name: "add-primary-nogroup-system-home", ops: []Op{
			uadd(User{Name: "dave", PrimaryGroup: sp("users"), Groups: []string{"wheel", "10"}}),
			uadd(User{Name: "erin", NoUserGroup: true, HomeDir: sp("/var/lib/erin")}),
			uadd(User{Name: "fred", System: true, NoLogInit: true}),
			uadd(User{Name: "gina", UID: ip(600), NoCreateHome: true}),
		}, fails: []string{"*"}}, // uid 600 is olduser's
		{name: "add-primary-nogroup-system-home-ok", ops: []Op{
			uadd(User{Name: "dave", PrimaryGroup: sp("users"), Groups: []string{"wheel", "10"}}),
			uadd(User{Name: "erin", NoUserGroup: true, HomeDir: sp("/var/lib/erin")}),
			uadd(User{Name: "fred", System: true, NoLogInit: true}),
			uadd(User{Name: "gina", UID: ip(650), NoCreateHome: true, PrimaryGroup: sp("700")}),
			uadd(User{Name: "hank", UID: ip(2001), Groups: []string{"oldgroup"}}),
		}, fails: []string{"full-range"}},
		{name: "modify", ops: []Op{
			umod(User{Name: "core", Gecos: sp("Changed"), Shell: sp("/bin/sh"), Groups: []string{"wheel", "users"}, PasswordHash: sp("$6$new$corehash")}),
			umod(User{Name: "olduser", Groups: []string{"users"}, PasswordHash: sp("")}),
			umod(User{Name: "root"}),
		}},
		{name: "modify-ids-and-move", ops: []Op{
			gadd(Group{Name: "newprim", GID: ip(4444)}),
			umod(User{Name: "core", UID: ip(4500), PrimaryGroup: sp("newprim"), HomeDir: sp("/home/core2")}),
			umod(User{Name: "olduser", UID: ip(4600)}),
		}},
		{name: "delete", ops: []Op{
			udel("olduser"), gdel("oldgroup"),
		}},
		{name: "delete-then-add", ops: []Op{
			gdel("oldgroup"), udel("olduser"), uadd(User{Name: "newbie", Groups: []string{"users"}}),
		}},
		{name: "groupmod", ops: []Op{
			gmod(Group{Name: "core", GID: ip(5500)}), gmod(Group{Name: "wheel", PasswordHash: sp("$6$w$wheelhash")}),
			gmod(Group{Name: "users", GID: ip(100)}),
		}},
		{name: "refused-missing-group", ops: []Op{
			gadd(Group{Name: "ok1"}), uadd(User{Name: "zed", Groups: []string{"nosuchgroup"}}),
		}, fails: []string{"*"}},
		{name: "refused-gid-taken", ops: []Op{gadd(Group{Name: "dup", GID: ip(10)})}, fails: []string{"*"}},
		{name: "refused-primary-group-delete", ops: []Op{gdel("core")}, fails: []string{"*"}},
		// usermod fails after writing the files; the writer before
		{name: "move-home-missing-parent", only: []string{"debian"}, fails: []string{"*"}, ops: []Op{
			umod(User{Name: "core", HomeDir: sp("/srv/core"), UID: ip(4700)}),
		}},
		{name: "move-home-to-srv", only: []string{"home-across-filesystems"}, ops: []Op{
			umod(User{Name: "core", HomeDir: sp("/srv/core"), UID: ip(4700)}),
			umod(User{Name: "olduser", HomeDir: sp("/srv/old")}),
		}},
		{name: "existing-users", only: []string{"existing-users-homes"}, ops: []Op{
			uadd(User{Name: "new1", Groups: []string{"team"}}),
			umod(User{Name: "ex1", UID: ip(1200), Groups: []string{"wheel"}}),
			udel("ex2"),
			umod(User{Name: "ex3", PrimaryGroup: sp("team"), HomeDir: sp("/home/ex3-moved")}),
		}},
		{name: "range-exhausted", only: []string{"full-range"}, ops: []Op{
			uadd(User{Name: "n1", NoUserGroup: true, NoCreateHome: true}),
			uadd(User{Name: "s3", System: true, NoUserGroup: true, NoCreateHome: true}),
		}},
		{name: "range-exhausted-fails", only: []string{"full-range"}, ops: []Op{
			uadd(User{Name: "n1", NoUserGroup: true, NoCreateHome: true}),
			uadd(User{Name: "s3", System: true, NoUserGroup: true, NoCreateHome: true}),
			uadd(User{Name: "s4", System: true, NoUserGroup: true, NoCreateHome: true}),
		}, fails: []string{"*"}},
		{name: "range-exhausted-normal", only: []string{"full-range"}, ops: []Op{
			uadd(User{Name: "n1", NoUserGroup: true, NoCreateHome: true}),
			uadd(User{Name: "n2", NoUserGroup: true, NoCreateHome: true}),
		}, fails: []string{"*"}},
		{name: "many", ops: manyOps(12, 6), fails: []string{"full-range"}},
	}
}

func manyOps(users, groups int) []Op {
	var ops []Op
	for i := 0; i < groups; i++ {
		ops = append(ops, gadd(Group{Name: fmt.Sprintf("mg%d", i), System: i%2 == 1}))
	}
	for i := 0; i < users; i++ {
		u := User{Name: fmt.Sprintf("mu%d", i), Groups: []string{fmt.Sprintf("mg%d", i%groups)}, PasswordHash: sp(fmt.Sprintf("$6$s%d$h", i))}
		u.System = i%4 == 3
		u.NoCreateHome = i%3 == 2
		ops = append(ops, uadd(u))
	}
	return ops
}

func applies(list []string, b string) bool {
	for _, x := range list {
		if x == "*" || x == b {
			return true
		}
	}
	return false
}

func TestDifferential(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root: make test runs the unit tier as root")
	}
	for _, tool := range []string{"useradd", "usermod", "userdel", "groupadd", "groupmod", "groupdel", "chgpasswd", "unshare"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not installed (tests/deps: passwd, util-linux): %v", tool, err)
		}
	}
	n := 0
	for _, b := range bases(t) {
		for _, c := range cases() {
			if c.only != nil && !applies(c.only, b.name) {
				continue
			}
			b, c := b, c
			n++
			t.Run(b.name+"/"+c.name, func(t *testing.T) { runDiff(t, b, c) })
		}
	}
	t.Logf("%d root×config pairs", n)
}

func makeBase(t *testing.T, b base, dir string) {
	var keys []string
	for k := range b.files {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p := filepath.Join(dir, k)
		if strings.HasSuffix(k, "/") {
			must(t, os.MkdirAll(p, 0o755))
			continue
		}
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		mode := os.FileMode(0o644)
		if strings.Contains(k, "shadow") {
			mode = 0o640
		}
		must(t, os.WriteFile(p, []byte(b.files[k]), mode))
		must(t, os.Chmod(p, mode))
	}
	must(t, os.MkdirAll(filepath.Join(dir, "root"), 0o700))
	if b.setup != nil {
		b.setup(t, dir)
	}
}

func runDiff(t *testing.T, b base, c dcase) {
	top := t.TempDir()
	must(t, os.Chmod(top, 0o755))
	toolRoot, flintRoot := filepath.Join(top, "tools"), filepath.Join(top, "flint")
	makeBase(t, b, toolRoot)
	out, err := exec.Command("cp", "-a", toolRoot, flintRoot).CombinedOutput()
	if err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	if b.each != nil {
		b.each(t, toolRoot)
		b.each(t, flintRoot)
	}
	before := snapshot(t, flintRoot, false)
	toolErr := runTools(t, toolRoot, c.ops)
	_, flintErr := Apply(context.Background(), flintRoot, time.Now(), c.ops, nil)
	wantFail := applies(c.fails, b.name)
	if (toolErr != nil) != wantFail {
		t.Fatalf("tools: err=%v, case expects failure=%v", toolErr, wantFail)
	}
	if toolErr != nil {
		if flintErr == nil {
			t.Fatalf("the tools refused (%v) but the writer did not", toolErr)
		}
		if d := diffSnap(before, snapshot(t, flintRoot, false)); d != "" {
			t.Fatalf("the writer failed (%v) but changed the root:\n%s", flintErr, d)
		}
		return
	}
	if flintErr != nil {
		t.Fatalf("the tools succeeded, the writer failed: %v", flintErr)
	}
	tools, flint := snapshot(t, toolRoot, true), snapshot(t, flintRoot, true)
	if d := diffSnap(tools, flint); d != "" {
		t.Fatalf("tools and writer differ (- tools, + flint):\n%s", d)
	}
	// the backups hold the files as they were before the run (the tools:
	// before their last call)
	for _, f := range dbFiles {
		if bk, err := os.ReadFile(filepath.Join(flintRoot, "etc", f+"-")); err == nil {
			if orig, ok := b.files["etc/"+f]; ok && string(bk) != orig {
				t.Errorf("/etc/%s- is not the file before the run", f)
			}
		}
	}
}

// runTools runs the shadow tools for ops with Ignition's flags, in a
// private mount namespace with /proc bound into the root.
func runTools(t *testing.T, root string, ops []Op) error {
	must(t, os.MkdirAll(filepath.Join(root, "proc"), 0o555))
	for _, op := range ops {
		var runs [][]string
		var stdin string
		switch op.Kind {
		case "groupadd":
			g := op.Group
			a := []string{"groupadd", "--root", root}
			if g.GID != nil {
				a = append(a, "--gid", strconv.Itoa(*g.GID))
			}
			a = append(a, "--password", password(g.PasswordHash))
			if g.System {
				a = append(a, "--system")
			}
			runs = append(runs, append(a, g.Name))
		case "groupmod":
			g := op.Group
			if g.GID != nil {
				runs = append(runs, []string{"groupmod", "--root", root, "--gid", strconv.Itoa(*g.GID), g.Name})
			}
			if g.PasswordHash != nil && *g.PasswordHash != "" {
				runs = append(runs, []string{"chgpasswd", "--encrypted", "--root", root})
				stdin = g.Name + ":" + *g.PasswordHash + "\n"
			}
		case "groupdel":
			runs = append(runs, []string{"groupdel", "--root", root, op.Group.Name})
		case "userdel":
			runs = append(runs, []string{"userdel", "--remove", "--root", root, op.User.Name})
		case "useradd", "usermod":
			u := op.User
			add := op.Kind == "useradd"
			a := []string{op.Kind, "--root", root}
			if add {
				if set(u.HomeDir) {
					a = append(a, "--home-dir", *u.HomeDir)
				}
				if u.NoCreateHome {
					a = append(a, "--no-create-home")
				} else {
					a = append(a, "--create-home")
				}
				if u.NoUserGroup {
					a = append(a, "--no-user-group")
				}
				if u.System {
					a = append(a, "--system")
				}
				if u.NoLogInit {
					a = append(a, "--no-log-init")
				}
			} else if set(u.HomeDir) {
				a = append(a, "--home", *u.HomeDir, "--move-home")
			}
			if u.PasswordHash != nil || add {
				a = append(a, "--password", password(u.PasswordHash))
			}
			if u.UID != nil {
				a = append(a, "--uid", strconv.Itoa(*u.UID))
			}
			if set(u.Gecos) {
				a = append(a, "--comment", *u.Gecos)
			}
			if set(u.PrimaryGroup) {
				a = append(a, "--gid", *u.PrimaryGroup)
			}
			if len(u.Groups) > 0 {
				a = append(a, "--groups", strings.Join(u.Groups, ","))
			}
			if set(u.Shell) {
				a = append(a, "--shell", *u.Shell)
			}
			runs = append(runs, append(a, u.Name))
		}
		for _, r := range runs {
			args := append([]string{"-m", "--propagation", "private", "sh", "-c", `mount --bind /proc "$1/proc" && shift && exec "$@"`, "sh", root}, r...)
			cmd := exec.Command("unshare", args...)
			if r[0] == "chgpasswd" {
				cmd.Stdin = strings.NewReader(stdin)
			}
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("%s: %v: %s", strings.Join(r, " "), err, out)
			}
		}
	}
	return nil
}

type node struct {
	kind     string
	mode     fs.FileMode
	uid, gid uint32
	content  string
	mtime    int64
}

// snapshot records every path under root (but /proc, the backups and
// the lock leftovers). Today's day number is normalised so that runs on
// either side of midnight compare equal.
func snapshot(t *testing.T, root string, normDay bool) map[string]node {
	m := map[string]node{}
	today := strconv.FormatInt(time.Now().Unix()/86400, 10)
	yesterday := strconv.FormatInt(time.Now().Unix()/86400-1, 10)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "proc" {
			return filepath.SkipDir
		}
		if strings.HasPrefix(rel, "etc/") && strings.HasSuffix(rel, "-") {
			return nil
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		n := node{mode: fi.Mode(), uid: st.Uid, gid: st.Gid}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			n.kind = "link"
			n.content, _ = os.Readlink(p)
			n.mtime = fi.ModTime().UnixNano()
		case fi.Mode().IsRegular():
			n.kind = "file"
			b, _ := os.ReadFile(p)
			n.content = string(b)
			if normDay && strings.HasPrefix(rel, "etc/") {
				n.content = strings.ReplaceAll(n.content, ":"+yesterday+":", ":TODAY:")
				n.content = strings.ReplaceAll(n.content, ":"+today+":", ":TODAY:")
			}
			if !strings.HasPrefix(rel, "etc/") && !strings.HasPrefix(rel, "var/") {
				n.mtime = fi.ModTime().UnixNano()
			}
		case fi.IsDir():
			n.kind = "dir"
		default:
			n.kind = "other"
		}
		m[rel] = n
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func diffSnap(a, b map[string]node) string {
	var keys []string
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var out strings.Builder
	for _, k := range keys {
		x, okx := a[k]
		y, oky := b[k]
		switch {
		case !oky:
			fmt.Fprintf(&out, "- %s (%s %v %d:%d)\n", k, x.kind, x.mode, x.uid, x.gid)
		case !okx:
			fmt.Fprintf(&out, "+ %s (%s %v %d:%d)\n", k, y.kind, y.mode, y.uid, y.gid)
		case x != y:
			fmt.Fprintf(&out, "~ %s\n  - %s %v %d:%d mtime %d %q\n  + %s %v %d:%d mtime %d %q\n", k, x.kind, x.mode, x.uid, x.gid, x.mtime, trunc(x.content), y.kind, y.mode, y.uid, y.gid, y.mtime, trunc(y.content))
		}
	}
	return out.String()
}

func trunc(s string) string {
	if len(s) > 600 {
		return s[:600] + "…"
	}
	return s
}
