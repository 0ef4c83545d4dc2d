package accounts

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func seedRoot(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"etc/passwd": stdPasswd, "etc/shadow": stdShadow, "etc/group": stdGroup, "etc/gshadow": stdGshadow,
		"etc/login.defs": "UID_MIN 1000\nUID_MAX 60000\nUSERGROUPS_ENAB yes\nPASS_MAX_DAYS 99999\n",
	}
	for k, v := range files {
		must(t, os.MkdirAll(filepath.Join(dir, filepath.Dir(k)), 0o755))
		must(t, os.WriteFile(filepath.Join(dir, k), []byte(v), 0o644))
	}
	return dir
}

func readAll(t *testing.T, dir string) string {
	var b strings.Builder
	for _, f := range dbFiles {
		c, _ := os.ReadFile(filepath.Join(dir, "etc", f))
		b.WriteString(f + ":\n" + string(c))
	}
	ents, _ := os.ReadDir(filepath.Join(dir, "etc"))
	for _, e := range ents {
		b.WriteString(" " + e.Name())
	}
	return b.String()
}

func TestApplyLocks(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root: make test runs the unit tier as root")
	}
	ops := []Op{uadd(User{Name: "lockme", NoCreateHome: true})}
	t.Run("stale lock of a dead process is taken over", func(t *testing.T) {
		dir := seedRoot(t)
		// a pid that is certainly not running: above pid_max
		must(t, os.WriteFile(filepath.Join(dir, "etc/passwd.lock"), []byte("4194999\x00"), 0o600))
		if _, err := Apply(context.Background(), dir, time.Now(), ops, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Lstat(filepath.Join(dir, "etc/passwd.lock")); !os.IsNotExist(err) {
			t.Fatal("passwd.lock left behind")
		}
		b, _ := os.ReadFile(filepath.Join(dir, "etc/passwd"))
		if !strings.Contains(string(b), "lockme:x:1000:1000") {
			t.Fatalf("passwd:\n%s", b)
		}
	})
	for name, content := range map[string]string{
		"lock of a live process is refused": strconv.Itoa(os.Getppid()) + "\x00",
		"lock without a pid is refused":     "",
		"lock with garbage is refused":      "not-a-pid",
	} {
		t.Run(name, func(t *testing.T) {
			dir := seedRoot(t)
			must(t, os.WriteFile(filepath.Join(dir, "etc/group.lock"), []byte(content), 0o600))
			before := readAll(t, dir)
			if _, err := Apply(context.Background(), dir, time.Now(), ops, nil); err == nil || !strings.Contains(err.Error(), "group.lock") {
				t.Fatalf("err = %v, want a refusal naming group.lock", err)
			}
			// nothing changed but the lckpwdf file
			after := strings.Replace(readAll(t, dir), " .pwd.lock", "", 1)
			if after != before {
				t.Fatalf("root changed:\n%s\n---\n%s", before, after)
			}
		})
	}
	t.Run("lckpwdf lock held elsewhere", func(t *testing.T) {
		dir := seedRoot(t)
		fd, err := unix.Open(filepath.Join(dir, "etc/.pwd.lock"), unix.O_RDWR|unix.O_CREAT, 0o600)
		must(t, err)
		defer unix.Close(fd)
		// an open-file-description lock conflicts with flint's POSIX lock
		// even inside one process
		fl := unix.Flock_t{Type: unix.F_WRLCK}
		must(t, unix.FcntlFlock(uintptr(fd), unix.F_OFD_SETLK, &fl))
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		before := readAll(t, dir)
		if _, err := Apply(ctx, dir, time.Now(), ops, nil); err == nil {
			t.Fatal("Apply took the accounts while .pwd.lock was held")
		}
		if readAll(t, dir) != before {
			t.Fatal("root changed")
		}
	})
}

// A failure after the homes were started (here: the second home's parent
// is a file) undoes the first home and leaves every file as it was.
func TestApplyRollsBack(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root: make test runs the unit tier as root")
	}
	dir := seedRoot(t)
	must(t, os.MkdirAll(filepath.Join(dir, "home"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "srv"), []byte("a file"), 0o644))
	before := readAll(t, dir)
	ops := []Op{
		gadd(Group{Name: "g"}),
		uadd(User{Name: "first", PasswordHash: sp("$6$s$ROLLBACKSECRET")}),
		uadd(User{Name: "second", HomeDir: sp("/srv/second")}),
	}
	_, err := Apply(context.Background(), dir, time.Now(), ops, nil)
	if err == nil {
		t.Fatal("Apply succeeded")
	}
	if strings.Contains(err.Error(), "ROLLBACKSECRET") {
		t.Fatalf("hash in the error: %v", err)
	}
	if after := strings.Replace(readAll(t, dir), " .pwd.lock", "", 1); after != before {
		t.Fatalf("files changed:\n%s\n---\n%s", before, after)
	}
	if _, err := os.Lstat(filepath.Join(dir, "home/first")); !os.IsNotExist(err) {
		t.Fatal("the first home was left behind")
	}
}

func TestCheckName(t *testing.T) {
	for _, ok := range []string{"core", "a.b", "_x", "x-y", "A1", "machine$", "1abc", strings.Repeat("a", 32)} {
		if err := CheckName("user", ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "-x", "+x", "~x", "a b", "a:b", "a,b", "a\nb", "123", ".", "..", "é", "a@b", "$", "a$b", strings.Repeat("a", 33), "a\x00"} {
		if err := CheckName("user", bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestNssOther(t *testing.T) {
	for in, want := range map[string]string{
		"passwd: files\ngroup: files\n":                            "",
		"passwd: compat\nhosts: files dns\n":                       "",
		"passwd: files systemd # comment\n":                        "passwd: systemd",
		"passwd:     files [NOTFOUND=return] sss\nshadow: files\n": "passwd: sss",
		"group: files altfiles\n":                                  "group: altfiles",
	} {
		if got := nssOther([]byte(in)); got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
}

// An account without an id never takes the id a later account of the same
// config asks for (shadow-utils, one call at a time, would refuse the later
// one as "UID 1000 is not unique"); otherwise allocation is shadow's.
func TestReservedIDs(t *testing.T) {
	dir := seedRoot(t)
	uid, gid := 1000, 1001
	ops := []Op{
		{Kind: "useradd", User: User{Name: "auto", NoCreateHome: true}},
		{Kind: "groupadd", Group: Group{Name: "later", GID: &gid}},
		{Kind: "useradd", User: User{Name: "fixed", UID: &uid, NoCreateHome: true}},
	}
	if _, err := Apply(context.Background(), dir, time.Now(), ops, nil); err != nil {
		t.Fatal(err)
	}
	pw, _ := os.ReadFile(filepath.Join(dir, "etc/passwd"))
	for _, want := range []string{"auto:x:1001:", "fixed:x:1000:"} {
		if !strings.Contains(string(pw), want) {
			t.Errorf("passwd lacks %q:\n%s", want, pw)
		}
	}
}

// TestFingerprint: taking the shadow locks leaves the loaded files'
// fingerprint as it was (Apply then keeps the plan it made before
// locking); a file rewritten or created changes it (Apply plans again).
func TestFingerprint(t *testing.T) {
	etc := filepath.Join(t.TempDir(), "etc")
	os.MkdirAll(etc, 0o755)
	os.WriteFile(filepath.Join(etc, "passwd"), []byte("root:x:0:0::/root:/bin/sh\n"), 0o644)
	before := fingerprint(etc)
	l, err := lockAll(context.Background(), etc, dbFiles)
	if err != nil {
		t.Fatal(err)
	}
	if got := fingerprint(etc); got != before {
		t.Errorf("locking changed the fingerprint:\n%s\n%s", before, got)
	}
	l.release()
	tmp := filepath.Join(etc, "passwd+")
	os.WriteFile(tmp, []byte("root:x:0:0::/root:/bin/sh\n"), 0o644)
	os.Rename(tmp, filepath.Join(etc, "passwd"))
	if fingerprint(etc) == before {
		t.Error("passwd replaced (same contents, new inode): fingerprint unchanged")
	}
	after := fingerprint(etc)
	os.WriteFile(filepath.Join(etc, "subuid"), nil, 0o644)
	if fingerprint(etc) == after {
		t.Error("subuid created: fingerprint unchanged")
	}
}
