// Package accounts writes users and groups in-process into a target root's
// /etc/passwd, shadow, group and gshadow (and subuid/subgid), the way the
// shadow suite's useradd, usermod, userdel, groupadd, groupmod, groupdel,
// chpasswd and chgpasswd leave them when run with --root: the same entries,
// the same id allocation from the root's login.defs, the same home
// directories from /etc/skel, the same lock protocol. What it does not
// model it reports (Txn.Unmodelled) so the caller can use the tools instead.
//
// A Txn is planned in memory (nothing on disk changes) and then applied
// under the shadow locks: every file is written to "<file>+", the old file
// copied to "<file>-", and the new one renamed into place, all files only
// after every change of the run succeeded in memory and every home was
// created. A failure before the renames leaves all files as they were.
package accounts

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// A table is one colon-separated database file. Lines the writer does not
// change are written back byte for byte, as commonio does; a line that does
// not parse as an entry (comments, blank lines, NIS lines) is kept in place
// and is invisible to lookups.
type table struct {
	rel     string // e.g. "etc/passwd"
	nfields int
	lines   []*entry
	present bool // the file exists
	changed bool
	raw     []byte
	st      fs.FileInfo
	// ids counts, per numeric field asked for by usedIDs, how many
	// entries carry each id; add, appendEnd, remove and set keep it
	// current, so that adding N accounts reads the table once, not N times
	ids map[int]map[int64]int
}

// entry is one line. f is nil for a line that did not parse.
type entry struct {
	raw     string
	f       []string
	changed bool
}

func (e *entry) line() string {
	if e.changed {
		return strings.Join(e.f, ":")
	}
	return e.raw
}

// parse reads b as a table whose entries have n fields. valid decides
// whether a split line is an entry (numeric fields and so on).
func parseTable(rel string, b []byte, n int, valid func([]string) bool) *table {
	t := &table{rel: rel, nfields: n, raw: b}
	s := string(b)
	s = strings.TrimSuffix(s, "\n")
	if len(b) == 0 {
		return t
	}
	for _, l := range strings.Split(s, "\n") {
		e := &entry{raw: l}
		if l != "" && l[0] != '+' && l[0] != '-' {
			f := strings.Split(l, ":")
			if valid(f) {
				e.f = f
			}
		}
		t.lines = append(t.lines, e)
	}
	return t
}

func (t *table) find(name string) *entry {
	for _, e := range t.lines {
		if e.f != nil && e.f[0] == name {
			return e
		}
	}
	return nil
}

// add inserts a new entry before the first NIS line, as commonio does.
func (t *table) add(f []string) *entry {
	e := &entry{f: f, changed: true}
	t.changed = true
	t.track(f, 1)
	for i, l := range t.lines {
		if l.f == nil && l.raw != "" && (l.raw[0] == '+' || l.raw[0] == '-') {
			t.lines = append(t.lines[:i], append([]*entry{e}, t.lines[i:]...)...)
			return e
		}
	}
	t.lines = append(t.lines, e)
	return e
}

// appendEnd adds an entry at the very end (commonio_append, subordinate ids).
func (t *table) appendEnd(f []string) {
	t.lines = append(t.lines, &entry{f: f, changed: true})
	t.changed = true
	t.track(f, 1)
}

func (t *table) remove(e *entry) {
	for i, l := range t.lines {
		if l == e {
			t.lines = append(t.lines[:i], t.lines[i+1:]...)
			t.changed = true
			t.track(e.f, -1)
			return
		}
	}
}

func (t *table) set(e *entry, i int, v string) {
	if e.f[i] == v && e.changed {
		return
	}
	if e.f[i] == v {
		return
	}
	if m, ok := t.ids[i]; ok {
		count(m, e.f[i], -1)
		count(m, v, 1)
	}
	e.f[i] = v
	e.changed = true
	t.changed = true
}

// usedIDs returns the ids in field (a numeric one) of the table's
// entries, each with the number of entries that carry it (an unparsable
// field counts as 0, as before). The map is the table's own, kept
// current as entries change: read it, never write it.
func (t *table) usedIDs(field int) map[int64]int {
	if m, ok := t.ids[field]; ok {
		return m
	}
	m := map[int64]int{}
	for _, e := range t.lines {
		if e.f != nil {
			count(m, e.f[field], 1)
		}
	}
	if t.ids == nil {
		t.ids = map[int]map[int64]int{}
	}
	t.ids[field] = m
	return m
}

// track counts entry fields f in (d 1) or out (d -1) of the id counts.
func (t *table) track(f []string, d int) {
	if f == nil {
		return
	}
	for field, m := range t.ids {
		count(m, f[field], d)
	}
}

func count(m map[int64]int, id string, d int) {
	v, _ := strconv.ParseInt(id, 10, 64)
	if m[v] += d; m[v] <= 0 {
		delete(m, v)
	}
}

func (t *table) bytes() []byte {
	var b bytes.Buffer
	for _, e := range t.lines {
		b.WriteString(e.line())
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// duplicates returns a name that has more than one entry, if any
// (commonio refuses to update such a name).
func (t *table) duplicates() string {
	seen := map[string]bool{}
	for _, e := range t.lines {
		if e.f == nil {
			continue
		}
		if seen[e.f[0]] {
			return e.f[0]
		}
		seen[e.f[0]] = true
	}
	return ""
}

func (t *table) hasNIS() bool {
	for _, e := range t.lines {
		if e.raw != "" && (e.raw[0] == '+' || e.raw[0] == '-') {
			return true
		}
	}
	return false
}

func isID(s string) bool {
	if s == "" || len(s) > 10 {
		return false
	}
	v, err := strconv.ParseUint(s, 10, 32)
	return err == nil && v <= 0xffffffff
}

func validPasswd(f []string) bool {
	return len(f) == 7 && f[0] != "" && isID(f[2]) && isID(f[3])
}

func validGroup(f []string) bool { return len(f) == 4 && f[0] != "" && isID(f[2]) }

func validShadow(f []string) bool {
	if len(f) != 9 || f[0] == "" {
		return false
	}
	for _, v := range f[2:8] {
		if v != "" {
			if _, err := strconv.ParseInt(v, 10, 64); err != nil {
				return false
			}
		}
	}
	return true
}

func validGshadow(f []string) bool { return len(f) == 4 && f[0] != "" }

func validSub(f []string) bool { return len(f) == 3 && f[0] != "" && isID(f[1]) && isID(f[2]) }

func atoi(s string) int {
	v, _ := strconv.ParseUint(s, 10, 32)
	return int(v)
}

// list splits a member list; empty items are dropped.
func list(s string) []string {
	var out []string
	for _, m := range strings.Split(s, ",") {
		if m != "" {
			out = append(out, m)
		}
	}
	return out
}

func hasMember(s, name string) bool {
	for _, m := range list(s) {
		if m == name {
			return true
		}
	}
	return false
}

func addMember(s, name string) string {
	if hasMember(s, name) {
		return s
	}
	if s == "" {
		return name
	}
	return strings.Join(append(list(s), name), ",")
}

func delMember(s, name string) string {
	var out []string
	for _, m := range list(s) {
		if m != name {
			out = append(out, m)
		}
	}
	return strings.Join(out, ",")
}

// readTable reads <root>/<rel> without following a symlink at the last
// component (commonio opens with O_NOFOLLOW).
func readTable(root, rel string, n int, valid func([]string) bool) (*table, error) {
	p := filepath.Join(root, rel)
	fi, err := os.Lstat(p)
	if err != nil {
		if os.IsNotExist(err) {
			return &table{rel: rel, nfields: n}, nil
		}
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("/%s is not a regular file", rel)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	t := parseTable(rel, b, n, valid)
	t.present = true
	t.st = fi
	return t, nil
}
