package system

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
)

// ErrNotFound is wrapped by lookups that find no such user or group
// (including when the root has no passwd or group file at all).
var ErrNotFound = errors.New("not found")

// PasswdEntry is one /etc/passwd line.
type PasswdEntry struct {
	Name  string
	UID   int
	GID   int
	Gecos string
	Home  string
	Shell string
}

// GroupEntry is one /etc/group line.
type GroupEntry struct {
	Name    string
	GID     int
	Members []string
}

// ParsePasswd reads passwd(5) lines. Blank lines, comments ("#") and NIS
// compat lines ("+…", "-…") are skipped; so are malformed lines (wrong field
// count, non-numeric ids), which the C library ignores as well.
func ParsePasswd(r io.Reader) ([]PasswdEntry, error) {
	var out []PasswdEntry
	err := scanDB(r, func(f []string) {
		if len(f) != 7 {
			return
		}
		uid, err1 := strconv.Atoi(f[2])
		gid, err2 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil || uid < 0 || gid < 0 {
			return
		}
		out = append(out, PasswdEntry{Name: f[0], UID: uid, GID: gid, Gecos: f[4], Home: f[5], Shell: f[6]})
	})
	return out, err
}

// ParseGroup reads group(5) lines with the same tolerance as ParsePasswd.
func ParseGroup(r io.Reader) ([]GroupEntry, error) {
	var out []GroupEntry
	err := scanDB(r, func(f []string) {
		if len(f) != 4 {
			return
		}
		gid, err := strconv.Atoi(f[2])
		if err != nil || gid < 0 {
			return
		}
		var members []string
		for _, m := range strings.Split(f[3], ",") {
			if m = strings.TrimSpace(m); m != "" {
				members = append(members, m)
			}
		}
		out = append(out, GroupEntry{Name: f[0], GID: gid, Members: members})
	})
	return out, err
}

func scanDB(r io.Reader, fn func([]string)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" || line[0] == '#' || line[0] == '+' || line[0] == '-' {
			continue
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		f := strings.Split(line, ":")
		if f[0] == "" {
			continue
		}
		fn(f)
	}
	return sc.Err()
}

// readDB opens <root>/etc/<name> (resolved inside root). A missing file
// yields no entries.
func readDB(root, name string) (io.ReadCloser, error) {
	p, err := SecureJoinFollow(root, "/etc/"+name)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return io.NopCloser(strings.NewReader("")), nil
		}
		return nil, err
	}
	return f, nil
}

// ReadPasswd parses <root>/etc/passwd; a missing file gives no entries.
func ReadPasswd(root string) ([]PasswdEntry, error) {
	f, err := readDB(root, "passwd")
	if err != nil {
		return nil, fmt.Errorf("reading passwd in %s: %w", root, err)
	}
	defer f.Close()
	e, err := ParsePasswd(f)
	if err != nil {
		return nil, fmt.Errorf("reading passwd in %s: %w", root, err)
	}
	return e, nil
}

// ReadGroup parses <root>/etc/group; a missing file gives no entries.
func ReadGroup(root string) ([]GroupEntry, error) {
	f, err := readDB(root, "group")
	if err != nil {
		return nil, fmt.Errorf("reading group in %s: %w", root, err)
	}
	defer f.Close()
	e, err := ParseGroup(f)
	if err != nil {
		return nil, fmt.Errorf("reading group in %s: %w", root, err)
	}
	return e, nil
}

// LookupUser finds name in <root>/etc/passwd. The first matching line wins,
// as with getpwnam. A missing user wraps ErrNotFound.
func LookupUser(root, name string) (uid, gid int, home string, err error) {
	entries, err := ReadPasswd(root)
	if err != nil {
		return 0, 0, "", err
	}
	for _, e := range entries {
		if e.Name == name {
			return e.UID, e.GID, e.Home, nil
		}
	}
	return 0, 0, "", fmt.Errorf("user %q in %s: %w", name, root, ErrNotFound)
}

// LookupGroup finds name in <root>/etc/group; a missing group wraps
// ErrNotFound.
func LookupGroup(root, name string) (gid int, err error) {
	entries, err := ReadGroup(root)
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		if e.Name == name {
			return e.GID, nil
		}
	}
	return 0, fmt.Errorf("group %q in %s: %w", name, root, ErrNotFound)
}
