package host

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Accounts through `flint apply`: written in-process (one commit for the
// stage), the shadow tools only where the root asks for what the writer
// does not model.
func TestPasswdAccounts(t *testing.T) { runCases(t, accountCases()) }

const acctHash = "$6$acctsalt$ACCTSECRETHASH"

func accountCases() []tc {
	unchanged := func(t *testing.T, r *root) {
		wantFile(t, r, "/etc/passwd", "root:x:0:0:root:/root:/bin/bash\nbin:x:2:2:bin:/bin:/usr/sbin/nologin\ncore:x:500:500:CoreOS Admin:/home/core:/bin/bash\nolduser:x:600:600::/home/olduser:/bin/sh\n", 0o644, 0, 0)
		wantFile(t, r, "/etc/group", "root:x:0:\nbin:x:2:\nwheel:x:10:root\ndocker:x:999:\ncore:x:500:\nolduser:x:600:\noldgroup:x:700:\n", 0o644, 0, 0)
		wantFile(t, r, "/etc/shadow", "root:*:19000:0:99999:7:::\nbin:*:19000:0:99999:7:::\ncore:*:19000:0:99999:7:::\nolduser:*:19000:0:99999:7:::\n", 0o600, 0, 0)
		wantFile(t, r, "/etc/gshadow", "root:*::\nbin:*::\nwheel:*::root\ndocker:!::\ncore:!::\nolduser:!::\noldgroup:!::\n", 0o600, 0, 0)
		wantMissing(t, r, "/home/ok")
		wantMissing(t, r, "/etc/passwd-")
		wantMissing(t, r, "/etc/.pwd.lock")
	}
	return []tc{
		// a refusal anywhere leaves every account file as it was, and no
		// home behind: the whole stage's accounts are one commit
		{name: "accounts.all-or-nothing", passwd: true, negative: true, errHas: "nosuchgroup",
			config: passwd(`"groups":[{"name":"newg"}],"users":[{"name":"ok","passwordHash":"` + acctHash + `"},{"name":"bad","groups":["nosuchgroup"]}]`),
			check: func(t *testing.T, r *root) {
				unchanged(t, r)
				if strings.Contains(r.out, "ACCTSECRETHASH") {
					t.Fatalf("hash in the output:\n%s", r.out)
				}
			}},
		{name: "accounts.uid-taken", passwd: true, negative: true, errHas: "UID 600",
			config: passwd(`"users":[{"name":"ok"},{"name":"dup","uid":600}]`),
			check:  unchanged},
		{name: "accounts.userdel-not-owner", min: "3.2.0", passwd: true, negative: true, errHas: "not owned",
			setup:  func(t *testing.T, r *root) { must(t, os.Chown(r.p("/home/olduser"), 0, 0)) },
			config: passwd(`"users":[{"name":"ok"},{"name":"olduser","shouldExist":false}]`),
			check:  unchanged},
		// what useradd would leave: user group with the uid's number, the
		// aging of login.defs, skel copied, backups of the old files
		{name: "accounts.in-process", min: "3.2.0", passwd: true,
			setup: func(t *testing.T, r *root) {
				writeFile(t, r, "/etc/skel/.bashrc", "# rc\n", 0o644)
				mkdir(t, r, "/etc/skel/.config")
				writeFile(t, r, "/etc/subuid", "", 0o644)
				writeFile(t, r, "/etc/subgid", "", 0o644)
			},
			config: passwd(`"groups":[{"name":"devs","gid":3000}],"users":[{"name":"dev","passwordHash":"` + acctHash + `","groups":["devs","wheel"]},{"name":"core","groups":["docker"]},{"name":"olduser","shouldExist":false}]`),
			check: func(t *testing.T, r *root) {
				if l := passwdLine(t, r, "/etc/passwd", "dev"); l != "dev:x:1000:1000::/home/dev:/bin/sh" && l != "dev:x:1000:1000::/home/dev:/bin/bash" {
					t.Fatalf("passwd line %q", l)
				}
				if l := passwdLine(t, r, "/etc/shadow", "dev"); !regexp.MustCompile(`^dev:\$6\$acctsalt\$ACCTSECRETHASH:\d+:0:99999:7:::$`).MatchString(l) {
					t.Fatalf("shadow line %q", l)
				}
				if l := passwdLine(t, r, "/etc/group", "devs"); l != "devs:x:3000:dev" {
					t.Fatalf("group line %q", l)
				}
				if l := passwdLine(t, r, "/etc/gshadow", "dev"); l != "dev:!::" {
					t.Fatalf("gshadow line %q", l)
				}
				if l := passwdLine(t, r, "/etc/group", "docker"); l != "docker:x:999:core" {
					t.Fatalf("docker %q", l)
				}
				wantFile(t, r, "/etc/subuid", "dev:100000:65536\n", 0o644, 0, 0)
				wantDir(t, r, "/home/dev", 0o755, 1000, 1000)
				wantFile(t, r, "/home/dev/.bashrc", "# rc\n", 0o644, 1000, 1000)
				wantDir(t, r, "/home/dev/.config", 0o755, 1000, 1000)
				wantMissing(t, r, "/home/olduser")
				if l := passwdLine(t, r, "/etc/passwd", "olduser"); l != "" {
					t.Fatalf("olduser still there: %q", l)
				}
				wantContains(t, r, "/etc/passwd-", "olduser:x:600")
				if strings.Contains(r.out, "ACCTSECRETHASH") || strings.Contains(r.out, "shadow tools") {
					t.Fatalf("unexpected output:\n%s", r.out)
				}
			}},
		// nsswitch with another source: the tools, with the reason logged,
		// and the hash still only on chpasswd's stdin
		{name: "accounts.tools-fallback", passwd: true,
			setup: func(t *testing.T, r *root) {
				writeFile(t, r, "/etc/nsswitch.conf", "passwd: files sss\ngroup: files sss\n", 0o644)
			},
			config: passwd(`"users":[{"name":"viatools","passwordHash":"` + acctHash + `"}]`),
			check: func(t *testing.T, r *root) {
				if !strings.Contains(r.out, "using the shadow tools: nsswitch.conf lists account sources other than files (passwd: sss, group: sss)") {
					t.Fatalf("no fallback reason in the log:\n%s", r.out)
				}
				if l := passwdLine(t, r, "/etc/shadow", "viatools"); !strings.HasPrefix(l, "viatools:"+acctHash+":") {
					t.Fatalf("shadow line %q", l)
				}
				if strings.Contains(r.out, "ACCTSECRETHASH") {
					t.Fatalf("hash in the output:\n%s", r.out)
				}
			}},
	}
}

// TestPasswdNoProcesses runs `flint apply` of accounts under strace and
// requires that no process other than flint itself is started.
func TestPasswdNoProcesses(t *testing.T) {
	if _, err := exec.LookPath("strace"); err != nil {
		t.Fatal("strace is needed (tests/deps/files.txt)")
	}
	base, err := os.MkdirTemp(fsRoots["ext4"], "acct-strace-")
	must(t, err)
	defer os.RemoveAll(base)
	r := &root{dir: filepath.Join(base, "root"), version: "3.4.0"}
	must(t, os.MkdirAll(r.dir, 0o755))
	seedPasswd(t, r.dir)
	cfg := expand(passwd(`"groups":[{"name":"g1"},{"name":"docker","gid":999}],"users":[{"name":"a","passwordHash":"`+acctHash+`","groups":["g1"],"sshAuthorizedKeys":["`+key1+`"]},{"name":"core","shell":"/bin/sh"},{"name":"olduser","shouldExist":false}]`), r)
	cfgPath := filepath.Join(base, "c.ign")
	must(t, os.WriteFile(cfgPath, []byte(cfg), 0o600))
	trace := filepath.Join(base, "trace")
	cmd := exec.Command("strace", "-f", "-qq", "-e", "trace=execve,execveat", "-o", trace, flintBin, "apply", "--root", r.dir, cfgPath)
	cmd.Env = append(os.Environ(), "FLINT_RUN_DIR="+filepath.Join(base, "run"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("flint apply: %v\n%s", err, out)
	}
	b, err := os.ReadFile(trace)
	must(t, err)
	var execs []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, "execve") && !strings.Contains(l, flintBin) {
			execs = append(execs, l)
		}
	}
	if len(execs) > 0 {
		t.Fatalf("flint apply of accounts started processes:\n%s", strings.Join(execs, "\n"))
	}
	if strings.Contains(string(b), "ACCTSECRETHASH") {
		t.Fatal("the hash reached an argv")
	}
	if l := passwdLine(t, r, "/etc/passwd", "a"); !strings.HasPrefix(l, "a:x:1000:") {
		t.Fatalf("passwd line %q", l)
	}
}

// TestPasswdPlanIDs: `flint plan` shows each account action with the ids
// it will allocate, and never the hash.
func TestPasswdPlanIDs(t *testing.T) {
	base, err := os.MkdirTemp(fsRoots["ext4"], "acct-plan-")
	must(t, err)
	defer os.RemoveAll(base)
	r := &root{dir: filepath.Join(base, "root"), version: "3.4.0"}
	must(t, os.MkdirAll(r.dir, 0o755))
	seedPasswd(t, r.dir)
	cfg := expand(passwd(`"groups":[{"name":"g1"},{"name":"docker","gid":998}],"users":[{"name":"a","passwordHash":"`+acctHash+`","groups":["g1"]},{"name":"s","system":true,"noCreateHome":true},{"name":"core","uid":501},{"name":"olduser","shouldExist":false}]`), r)
	cfgPath := filepath.Join(base, "c.ign")
	must(t, os.WriteFile(cfgPath, []byte(cfg), 0o600))
	before := snapshot(t, r.dir)
	cmd := exec.Command(flintBin, "plan", "--root", r.dir, cfgPath)
	cmd.Env = append(os.Environ(), "FLINT_RUN_DIR="+filepath.Join(base, "run"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("flint plan: %v\n%s", err, out)
	}
	for _, want := range []string{
		"groupadd         g1  (gid 1000)",
		"groupmod         docker  (gid 999 -> 998)",
		"useradd          a  (uid 1000, gid 1001, new group a (gid 1001), groups g1, home /home/a",
		"useradd          s  (uid 499, gid 499, new group s (gid 499)",
		"usermod          core  (uid 500 -> 501)",
		"userdel          olduser  (uid 600, group olduser (gid 600), remove home /home/olduser)",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "ACCTSECRETHASH") {
		t.Fatalf("plan shows the hash:\n%s", out)
	}
	if !equalSnap(before, snapshot(t, r.dir)) {
		t.Fatal("flint plan changed the root")
	}
}
