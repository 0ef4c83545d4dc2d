package config

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/coreos/go-semver/semver"
	"github.com/coreos/vcontext/path"
	"github.com/coreos/vcontext/report"
	"github.com/coreos/vcontext/tree"
)

// Document is a JSON text parsed once, remembering where every key and
// value is. It is what both the 3.x parser and the legacy (spec 1/2.x)
// parser decode from, so that their reports carry the same positions.
type Document struct {
	d *jdoc
}

// ReadDocument parses raw JSON. A syntax error gives ErrInvalid and a
// report entry with its line and column.
func ReadDocument(raw []byte) (*Document, Report, error) {
	d, err := parseJSON(raw)
	if err != nil {
		var r Report
		if se := (*SyntaxError)(nil); errors.As(err, &se) {
			tmp := &jdoc{src: string(raw)}
			off := se.Offset
			if off > int64(len(raw)) {
				off = int64(len(raw))
			}
			r.Entries = append(r.Entries, report.Entry{
				Kind: report.Error, Message: se.Msg, Context: path.New("json"),
				Marker: tree.Marker{StartP: tmp.pos(int32(off))},
			})
		}
		return nil, r, ErrInvalid
	}
	return &Document{d: d}, Report{}, nil
}

// Decode decodes the document into v, a pointer to a tree of structs with
// `json` (and optionally `since`) tags, under the rules of the declared
// version ver (see decode.go). It returns the keys it did not decode exactly
// and, as error entries with path and position, the values of the wrong
// JSON type; any of those makes the config invalid.
func (doc *Document) Decode(v any, ver semver.Version) ([]UnusedKey, Report) {
	d := newDecoder(doc.d, ver)
	d.value(0, reflect.ValueOf(v).Elem())
	if len(d.typeErrs) > 0 {
		return d.unused, d.typeErrorReport()
	}
	return d.unused, Report{}
}

// Notes reports what the text itself does that a reader may not expect,
// as warnings with path and position: a key repeated in one object (the
// last one wins) and invalid UTF-8 (replaced by U+FFFD).
func (doc *Document) Notes() Report {
	d := doc.d
	var r Report
	if d.dups == 0 && d.bad == 0 {
		return r
	}
	d.tree()
	const most = 50
	dups, bad := 0, 0
	var p []any // the path of the node walked; for a member it ends with its key
	keyPath := func(k string) path.ContextPath {
		return path.New("json", append(append([]any{}, p[:len(p)-1]...), tree.Key(Printable(k)))...)
	}
	var walk func(i int32)
	walk = func(i int32) {
		n := &d.nodes[i]
		if d.isMember(i) {
			k := d.keyText(i)
			if n.flags&fDupKey != 0 {
				if dups++; dups <= most {
					r.Entries = append(r.Entries, report.Entry{Kind: report.Warn,
						Message: fmt.Sprintf("duplicate key %s; the last one wins", strconv.Quote(k)),
						Context: keyPath(k), Marker: tree.Marker{StartP: d.pos(d.keyOff(i))}})
				}
			}
			if n.flags&fKeyBad != 0 {
				if bad++; bad <= most {
					r.Entries = append(r.Entries, report.Entry{Kind: report.Warn,
						Message: "invalid UTF-8 in a key; replaced by U+FFFD",
						Context: keyPath(k), Marker: tree.Marker{StartP: d.pos(d.keyOff(i))}})
				}
			}
		}
		if n.flags&fBad != 0 && n.kind == jString {
			if bad++; bad <= most {
				r.Entries = append(r.Entries, report.Entry{Kind: report.Warn,
					Message: "invalid UTF-8 in a string; replaced by U+FFFD",
					Context: path.New("json", append([]any{}, p...)...),
					Marker:  tree.Marker{StartP: d.pos(n.off)}})
			}
		}
		if n.kind != jObject && n.kind != jArray {
			return
		}
		j := 0
		for c := d.next(i, 0); c != 0; c = d.nodes[c].next {
			if n.kind == jObject {
				p = append(p, Printable(d.keyText(c)))
			} else {
				p = append(p, j)
			}
			walk(c)
			p = p[:len(p)-1]
			j++
		}
	}
	walk(0)
	if dups > most {
		r.Entries = append(r.Entries, report.Entry{Kind: report.Warn, Context: path.New("json"),
			Message: fmt.Sprintf("%d more duplicate keys not listed", dups-most)})
	}
	if bad > most {
		r.Entries = append(r.Entries, report.Entry{Kind: report.Warn, Context: path.New("json"),
			Message: fmt.Sprintf("%d more strings with invalid UTF-8 not listed", bad-most)})
	}
	return r
}

// Compact frees the document's index of positions, keeping only its text:
// call it once the document is decoded for the last time, so that a large
// config needs less memory while it is validated. The index is rebuilt
// from the text if a position is asked for afterwards.
func (doc *Document) Compact() { doc.d.compact() }

// Locate gives every entry without a position the position of the deepest
// value along its path (a final tree.Key: the key itself), and makes every
// message and path printable.
func (doc *Document) Locate(r *Report) {
	for i := range r.Entries {
		e := &r.Entries[i]
		if e.Marker.StartP == nil && doc != nil {
			e.Marker = tree.Marker{StartP: doc.d.pos(doc.d.find(e.Context))}
		}
	}
	MakePrintable(r)
}

// MakePrintable escapes control characters and invalid UTF-8 in every
// entry's message and path, so that no raw NUL or terminal escape is ever
// printed.
func MakePrintable(r *Report) {
	for i := range r.Entries {
		e := &r.Entries[i]
		e.Message = Printable(e.Message)
		for j, c := range e.Context.Path {
			switch c := c.(type) {
			case string:
				e.Context.Path[j] = Printable(c)
			case tree.Key:
				e.Context.Path[j] = tree.Key(Printable(string(c)))
			}
		}
	}
}

// Printable returns s with every non-printable character (NUL, newline,
// terminal escapes, U+2028…) and every invalid UTF-8 byte written as a Go
// escape (\x00, \n, \u2028).
func Printable(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || !unicode.IsPrint(r) {
			q := strconv.QuoteToASCII(s[i : i+size])
			b.WriteString(q[1 : len(q)-1])
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// pos converts a byte offset into a position (1-based line and column;
// columns count bytes, as the reference does).
func (d *jdoc) pos(off int32) *tree.Pos {
	if d.lineStarts == nil {
		d.lineStarts = []int32{0}
		for i := 0; i < len(d.src); {
			j := strings.IndexByte(d.src[i:], '\n')
			if j < 0 {
				break
			}
			i += j + 1
			d.lineStarts = append(d.lineStarts, int32(i))
		}
	}
	lo, hi := 0, len(d.lineStarts)-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if d.lineStarts[mid] <= off {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return &tree.Pos{Index: int64(off), Line: int64(lo + 1), Column: int64(off-d.lineStarts[lo]) + 1}
}

// find returns the offset of the deepest value along p; a final tree.Key
// component gives the offset of that key.
func (d *jdoc) find(p path.ContextPath) int32 {
	d.tree()
	i := int32(0)
	for _, c := range p.Path {
		n := &d.nodes[i]
		switch c := c.(type) {
		case string:
			if n.kind != jObject {
				return n.off
			}
			m := d.member(i, c)
			if m < 0 {
				return n.off
			}
			i = m
		case tree.Key:
			if n.kind != jObject {
				return n.off
			}
			if m := d.member(i, string(c)); m >= 0 {
				return d.keyOff(m)
			}
			return n.off
		case int:
			if n.kind != jArray || d.child(i, c) == 0 {
				return n.off
			}
			i = d.child(i, c)
		default:
			return n.off
		}
	}
	return d.nodes[i].off
}

// mayHoldNUL reports whether a string decoded from the document can hold a
// NUL byte: only a \u0000 escape makes one (a raw NUL is a syntax error).
// Without a document (a merged config) it cannot tell, and says true.
func (d *jdoc) mayHoldNUL() bool {
	return d == nil || strings.Contains(d.src, `\u0000`)
}

// objectAt reports whether the document holds an object at p (exact keys;
// the last of repeated keys).
func (d *jdoc) objectAt(p []any) bool {
	if d == nil {
		return false
	}
	d.tree()
	i := int32(0)
	for _, c := range p {
		n := &d.nodes[i]
		switch c := c.(type) {
		case string:
			if n.kind != jObject {
				return false
			}
			if i = d.member(i, c); i < 0 {
				return false
			}
		case int:
			if n.kind != jArray {
				return false
			}
			if i = d.child(i, c); i == 0 {
				return false
			}
		default:
			return false
		}
	}
	return d.nodes[i].kind == jObject
}
