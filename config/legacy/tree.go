package legacy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	vpath "github.com/coreos/vcontext/path"
	"github.com/coreos/vcontext/report"
	"github.com/coreos/vcontext/tree"
)

// A position-aware view of the raw JSON: every object key and value keeps
// its byte offset, so that every report entry can carry line and column.
// It is built from encoding/json's token stream; the typed decode is done
// separately by encoding/json itself (the 2.x parsers used an
// encoding/json fork with the same key matching rules).

type node struct {
	off     int64
	kind    byte // '{', '[', 's', 'n', 'b', '0' (null)
	members []member
	elems   []*node
}

type member struct {
	key    string
	keyOff int64
	val    *node
}

// get returns the last member with exactly this key.
func (n *node) get(k string) *node {
	var r *node
	for i := range n.members {
		if n.members[i].key == k {
			r = n.members[i].val
		}
	}
	return r
}

type treeBuilder struct {
	dec  *json.Decoder
	raw  []byte
	last int64
}

// startOf finds the first byte of the next token after the decoder's last
// position (skipping whitespace and separators).
func (b *treeBuilder) startOf(from int64) int64 {
	i := from
	for i < int64(len(b.raw)) {
		switch b.raw[i] {
		case ' ', '\t', '\r', '\n', ',', ':':
			i++
		default:
			return i
		}
	}
	return i
}

const maxDepth = 10000

func buildTree(raw []byte) (*node, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	b := &treeBuilder{dec: dec, raw: raw}
	n, err := b.value(0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			return nil, &json.SyntaxError{Offset: dec.InputOffset()}
		}
		return nil, err
	}
	return n, nil
}

var errDepth = errors.New("exceeded max depth")

func (b *treeBuilder) value(depth int) (*node, error) {
	if depth > maxDepth {
		return nil, errDepth
	}
	start := b.startOf(b.dec.InputOffset())
	tok, err := b.dec.Token()
	if err != nil {
		return nil, err
	}
	n := &node{off: start}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			n.kind = '{'
			for b.dec.More() {
				koff := b.startOf(b.dec.InputOffset())
				kt, err := b.dec.Token()
				if err != nil {
					return nil, err
				}
				k, ok := kt.(string)
				if !ok {
					return nil, fmt.Errorf("object key is not a string")
				}
				v, err := b.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.members = append(n.members, member{key: k, keyOff: koff, val: v})
			}
		case '[':
			n.kind = '['
			for b.dec.More() {
				v, err := b.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.elems = append(n.elems, v)
			}
		default:
			return nil, fmt.Errorf("unexpected delimiter %q", t)
		}
		if _, err := b.dec.Token(); err != nil { // closing delimiter
			return nil, err
		}
	case string:
		n.kind = 's'
	case json.Number:
		n.kind = 'n'
	case bool:
		n.kind = 'b'
	case nil:
		n.kind = '0'
	}
	return n, nil
}

// locator turns offsets into line/column positions.
type locator struct {
	lineStarts []int64
}

func newLocator(raw []byte) *locator {
	ls := []int64{0}
	for i, c := range raw {
		if c == '\n' {
			ls = append(ls, int64(i+1))
		}
	}
	return &locator{lineStarts: ls}
}

func (l *locator) pos(off int64) *tree.Pos {
	lo, hi := 0, len(l.lineStarts)-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if l.lineStarts[mid] <= off {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return &tree.Pos{Index: off, Line: int64(lo + 1), Column: off - l.lineStarts[lo] + 1}
}

// find returns the offset of the deepest node along a report path. A final
// tree.Key component points at the key itself rather than its value.
func find(root *node, p vpath.ContextPath) int64 {
	if root == nil {
		return 0
	}
	n, off := root, root.off
	for _, c := range p.Path {
		switch c := c.(type) {
		case string:
			if n.kind != '{' {
				return off
			}
			next := n.get(c)
			if next == nil {
				return off
			}
			n, off = next, next.off
		case tree.Key:
			if n.kind != '{' {
				return off
			}
			for i := range n.members {
				if n.members[i].key == string(c) {
					off = n.members[i].keyOff
				}
			}
			return off
		case int:
			if n.kind != '[' || c < 0 || c >= len(n.elems) {
				return off
			}
			n = n.elems[c]
			off = n.off
		}
	}
	return off
}

// jsonErrorReport turns an encoding/json error into a report entry with a
// position, like the 2.x parsers' HandleParseErrors.
func jsonErrorReport(raw []byte, err error) report.Report {
	var r report.Report
	loc := newLocator(raw)
	var off int64 = -1
	msg := err.Error()
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		off = int64(len(raw))
		msg = "unexpected end of JSON input"
	}
	e := report.Entry{Kind: report.Error, Message: msg, Context: vpath.New("json")}
	if off >= 0 {
		if off > int64(len(raw)) {
			off = int64(len(raw))
		}
		e.Marker = tree.Marker{StartP: loc.pos(off)}
	}
	r.Entries = append(r.Entries, e)
	return r
}

// locate attaches positions to every entry that has none.
func locate(raw []byte, root *node, r *report.Report) {
	loc := newLocator(raw)
	for i := range r.Entries {
		e := &r.Entries[i]
		if e.Marker.StartP == nil && root != nil {
			e.Marker = tree.Marker{StartP: loc.pos(find(root, e.Context))}
		}
	}
}

func lowerEq(a, b string) bool { return strings.EqualFold(a, b) }
