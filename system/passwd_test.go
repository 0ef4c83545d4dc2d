package system

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const testPasswd = `# comment line
root:x:0:0:root:/root:/bin/bash

daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
+nisuser::::::
-baduser::::::
+
broken:x:notanumber:1::/:/bin/sh
short:x:5
core:x:1000:1000:CoreOS Admin,,,:/home/core:/bin/bash
dup:x:2000:2000::/first:/bin/sh
dup:x:2001:2001::/second:/bin/sh
crlf:x:3000:3000::/home/crlf:/bin/sh` + "\r\n"

const testGroup = `root:x:0:
# wheel
wheel:x:10:core,alice
+@nisgroup
docker:x:998:
bad:x:-1:
adm:x:4:syslog, core ,
`

func TestParsePasswd(t *testing.T) {
	e, err := ParsePasswd(strings.NewReader(testPasswd))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, x := range e {
		names = append(names, x.Name)
	}
	if want := []string{"root", "daemon", "core", "dup", "dup", "crlf"}; !reflect.DeepEqual(names, want) {
		t.Errorf("names %v, want %v", names, want)
	}
	if e[2] != (PasswdEntry{"core", 1000, 1000, "CoreOS Admin,,,", "/home/core", "/bin/bash"}) {
		t.Errorf("core: %+v", e[2])
	}
	if e[5].Shell != "/bin/sh" {
		t.Errorf("crlf shell %q", e[5].Shell)
	}
}

func TestParseGroup(t *testing.T) {
	g, err := ParseGroup(strings.NewReader(testGroup))
	if err != nil {
		t.Fatal(err)
	}
	if len(g) != 4 || g[1].Name != "wheel" || !reflect.DeepEqual(g[1].Members, []string{"core", "alice"}) ||
		!reflect.DeepEqual(g[3].Members, []string{"syslog", "core"}) || g[2].Members != nil {
		t.Errorf("%+v", g)
	}
}

func writeRootDB(t *testing.T, passwd, group string) string {
	t.Helper()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if passwd != "" {
		if err := os.WriteFile(filepath.Join(root, "etc/passwd"), []byte(passwd), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if group != "" {
		if err := os.WriteFile(filepath.Join(root, "etc/group"), []byte(group), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestLookups(t *testing.T) {
	root := writeRootDB(t, testPasswd, testGroup)
	uid, gid, home, err := LookupUser(root, "core")
	if err != nil || uid != 1000 || gid != 1000 || home != "/home/core" {
		t.Errorf("core: %d %d %q %v", uid, gid, home, err)
	}
	if _, _, home, _ := LookupUser(root, "dup"); home != "/first" {
		t.Errorf("first match must win, got %q", home)
	}
	for _, n := range []string{"nisuser", "+nisuser", "broken", "nobody", ""} {
		if _, _, _, err := LookupUser(root, n); !errors.Is(err, ErrNotFound) {
			t.Errorf("LookupUser(%q): %v", n, err)
		}
	}
	if n, err := LookupUID(root, 1); err != nil || n != "daemon" {
		t.Errorf("LookupUID(1) = %q %v", n, err)
	}
	if _, err := LookupUID(root, 4242); !errors.Is(err, ErrNotFound) {
		t.Errorf("LookupUID(4242): %v", err)
	}
	if g, err := LookupGroup(root, "docker"); err != nil || g != 998 {
		t.Errorf("docker: %d %v", g, err)
	}
	if _, err := LookupGroup(root, "bad"); !errors.Is(err, ErrNotFound) {
		t.Errorf("bad: %v", err)
	}
	if n, err := LookupGID(root, 10); err != nil || n != "wheel" {
		t.Errorf("gid 10: %q %v", n, err)
	}
}

func TestLookupsMissingFiles(t *testing.T) {
	root := writeRootDB(t, "", "")
	if _, _, _, err := LookupUser(root, "root"); !errors.Is(err, ErrNotFound) {
		t.Errorf("user: %v", err)
	}
	if _, err := LookupGroup(root, "root"); !errors.Is(err, ErrNotFound) {
		t.Errorf("group: %v", err)
	}
	if _, err := LookupUID(t.TempDir()+"/nonexistent", 0); !errors.Is(err, ErrNotFound) {
		t.Errorf("no root: %v", err)
	}
}

func TestLookupsStayInRoot(t *testing.T) {
	// /etc/passwd in the target is an absolute symlink: it must resolve
	// inside the target, not to the host's /etc/passwd.
	root := writeRootDB(t, "", "")
	if err := os.MkdirAll(filepath.Join(root, "usr/share/db"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "usr/share/db/passwd"), []byte("inroot:x:77:77::/x:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/usr/share/db/passwd", filepath.Join(root, "etc/passwd")); err != nil {
		t.Fatal(err)
	}
	if uid, _, _, err := LookupUser(root, "inroot"); err != nil || uid != 77 {
		t.Errorf("inroot: %d %v", uid, err)
	}
	if _, _, _, err := LookupUser(root, "root"); !errors.Is(err, ErrNotFound) {
		t.Errorf("host root user leaked in: %v", err)
	}
}

// LookupUID (test helper) returns the name of the first user with uid in
// <root>/etc/passwd, or an error wrapping ErrNotFound.
func LookupUID(root string, uid int) (string, error) {
	entries, err := ReadPasswd(root)
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		if e.UID == uid {
			return e.Name, nil
		}
	}
	return "", fmt.Errorf("uid %d in %s: %w", uid, root, ErrNotFound)
}

// LookupGID (test helper) returns the name of the first group with gid, or an error
// wrapping ErrNotFound.
func LookupGID(root string, gid int) (string, error) {
	entries, err := ReadGroup(root)
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		if e.GID == gid {
			return e.Name, nil
		}
	}
	return "", fmt.Errorf("gid %d in %s: %w", gid, root, ErrNotFound)
}
