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
	"slices"
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
	ids map[int]*idSet
	// byName is the first entry of each name, built on the first find and
	// kept current by add, appendEnd and remove (nil: not built, or
	// dropped after the lines were reordered)
	byName map[string]*entry
	// nisFrom: no NIS line ("+…", "-…") comes before lines[nisFrom], so
	// add looks for the first one from there
	nisFrom int
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
	if t.byName == nil {
		t.byName = map[string]*entry{}
		for _, e := range t.lines {
			if e.f != nil {
				if _, ok := t.byName[e.f[0]]; !ok {
					t.byName[e.f[0]] = e
				}
			}
		}
	}
	return t.byName[name]
}

// named records a new entry e in the name index; an entry of that name
// already there may now come after e, so the index is rebuilt.
func (t *table) named(e *entry) {
	if t.byName == nil {
		return
	}
	if _, ok := t.byName[e.f[0]]; ok {
		t.byName = nil
		return
	}
	t.byName[e.f[0]] = e
}

// add inserts a new entry before the first NIS line, as commonio does.
func (t *table) add(f []string) *entry {
	e := &entry{f: f, changed: true}
	t.changed = true
	t.track(f, 1)
	t.named(e)
	for i := t.nisFrom; i < len(t.lines); i++ {
		if l := t.lines[i]; l.f == nil && l.raw != "" && (l.raw[0] == '+' || l.raw[0] == '-') {
			t.lines = slices.Insert(t.lines, i, e)
			t.nisFrom = i + 1
			return e
		}
	}
	t.lines = append(t.lines, e)
	t.nisFrom = len(t.lines)
	return e
}

// appendEnd adds an entry at the very end (commonio_append, subordinate ids).
func (t *table) appendEnd(f []string) {
	e := &entry{f: f, changed: true}
	t.lines = append(t.lines, e)
	t.changed = true
	t.track(f, 1)
	if t.byName != nil {
		if _, ok := t.byName[f[0]]; !ok {
			t.byName[f[0]] = e // the last line: an entry of that name stays first
		}
	}
}

func (t *table) remove(e *entry) {
	for i, l := range t.lines {
		if l == e {
			t.lines = append(t.lines[:i], t.lines[i+1:]...)
			t.nisFrom = min(t.nisFrom, i)
			t.changed = true
			t.track(e.f, -1)
			if e.f != nil && t.byName != nil && t.byName[e.f[0]] == e {
				t.byName = nil // another entry of that name may follow
			}
			return
		}
	}
}

func (t *table) set(e *entry, i int, v string) {
	if e.f[i] == v {
		return
	}
	if ids, ok := t.ids[i]; ok {
		ids.count(e.f[i], -1)
		ids.count(v, 1)
	}
	e.f[i] = v
	e.changed = true
	t.changed = true
}

// usedIDs returns the ids in field (a numeric one) of the table's
// entries (an unparsable field counts as id 0, as shadow's atoi would).
// The set is the table's own, kept current as entries change: read it,
// never change it.
func (t *table) usedIDs(field int) *idSet {
	if s, ok := t.ids[field]; ok {
		return s
	}
	s := &idSet{n: map[int64]int{}}
	for _, e := range t.lines {
		if e.f != nil {
			s.count(e.f[field], 1)
		}
	}
	if t.ids == nil {
		t.ids = map[int]*idSet{}
	}
	t.ids[field] = s
	return s
}

// track counts entry fields f in (d 1) or out (d -1) of the id sets.
func (t *table) track(f []string, d int) {
	if f == nil {
		return
	}
	for field, s := range t.ids {
		s.count(f[field], d)
	}
}

// idSet is the ids of one field of a table: how many entries carry each,
// and those in use in order, so that allocating an id above the highest
// (or below the lowest) in a range needs no walk over every entry.
type idSet struct {
	n      map[int64]int
	sorted []int64 // the ids with n > 0, ascending
}

func (s *idSet) has(id int64) bool { return s.n[id] > 0 }

func (s *idSet) count(field string, d int) {
	id, _ := strconv.ParseInt(field, 10, 64)
	was := s.n[id]
	now := was + d
	if now <= 0 {
		delete(s.n, id)
	} else {
		s.n[id] = now
	}
	i, found := slices.BinarySearch(s.sorted, id)
	switch {
	case now > 0 && !found:
		s.sorted = slices.Insert(s.sorted, i, id)
	case now <= 0 && found:
		s.sorted = slices.Delete(s.sorted, i, i+1)
	}
}

// lowestIn and highestIn return the lowest and the highest id in use
// within [lo, hi], if any.
func (s *idSet) lowestIn(lo, hi int64) (int64, bool) {
	i, _ := slices.BinarySearch(s.sorted, lo)
	if i == len(s.sorted) || s.sorted[i] > hi {
		return 0, false
	}
	return s.sorted[i], true
}

func (s *idSet) highestIn(lo, hi int64) (int64, bool) {
	i, found := slices.BinarySearch(s.sorted, hi)
	if found {
		return hi, hi >= lo
	}
	if i == 0 || s.sorted[i-1] < lo {
		return 0, false
	}
	return s.sorted[i-1], true
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
