package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/coreos/vcontext/path"
	"github.com/coreos/vcontext/tree"
)

// The decoder turns the position-aware JSON tree into the typed Config under
// the rules of one declared spec version, in one pass:
//   - keys the version does not have (since tag newer than the version, or
//     unknown altogether) are "Unused key" warnings and are not decoded;
//   - keys match struct fields exactly or, failing that, case-insensitively,
//     like encoding/json (the warning is still given for a non-exact match,
//     as the reference does);
//   - repeated keys are applied in order, decoding into what is already
//     there (so the last one wins);
//   - type mismatches are collected with their offsets; any of them makes
//     the config invalid, like a JSON syntax error.

type fieldPlan struct {
	name   string
	lower  string
	index  []int
	since  int
	secret string
}

type structPlan struct {
	fields []fieldPlan
	exact  map[string]int
}

var plans sync.Map // reflect.Type -> *structPlan

func planFor(t reflect.Type) *structPlan {
	if p, ok := plans.Load(t); ok {
		return p.(*structPlan)
	}
	sp := &structPlan{exact: map[string]int{}}
	var walk func(t reflect.Type, prefix []int)
	walk = func(t reflect.Type, prefix []int) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			idx := append(append([]int{}, prefix...), i)
			if f.Anonymous {
				walk(f.Type, idx)
				continue
			}
			tag := f.Tag.Get("json")
			name, _, _ := strings.Cut(tag, ",")
			if name == "" || name == "-" {
				continue
			}
			sp.exact[name] = len(sp.fields)
			sp.fields = append(sp.fields, fieldPlan{
				name: name, lower: strings.ToLower(name), index: idx,
				since: mustSince(f.Tag.Get("since")), secret: f.Tag.Get("secret"),
			})
		}
	}
	walk(t, nil)
	plans.Store(t, sp)
	return sp
}

// TypeError is a JSON value of the wrong type for its field.
type TypeError struct {
	JSONKind string
	Field    string
	GoType   string
	Offset   int64
}

func (e *TypeError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("cannot unmarshal %s into Go value of type %s", e.JSONKind, e.GoType)
	}
	return fmt.Sprintf("cannot unmarshal %s into Go struct field %s of type %s", e.JSONKind, e.Field, e.GoType)
}

type unusedKey struct {
	path   []any
	key    string
	keyOff int32
	hint   string
	note   string
}

type decoder struct {
	ver      int // index into Versions
	typeErrs []*TypeError
	unused   []unusedKey
	path     []any
	inFile   bool
}

var (
	typResource = reflect.TypeOf(Resource{})
	typFile     = reflect.TypeOf(File{})
)

func (d *decoder) typeErr(n *jnode, t reflect.Type) {
	var parts []string
	for _, p := range d.path {
		if s, ok := p.(string); ok {
			parts = append(parts, s)
		}
	}
	kind := n.kind.String()
	if n.kind == jNumber {
		kind = "number " + n.s
	}
	d.typeErrs = append(d.typeErrs, &TypeError{JSONKind: kind, Field: strings.Join(parts, "."), GoType: t.String(), Offset: int64(n.off)})
}

func (d *decoder) value(n *jnode, v reflect.Value) {
	t := v.Type()
	if n.kind == jNull {
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
			v.SetZero()
		}
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		d.value(n, v.Elem())
	case reflect.String:
		if n.kind != jString {
			d.typeErr(n, t)
			return
		}
		v.SetString(n.s)
	case reflect.Int:
		if n.kind != jNumber {
			d.typeErr(n, t)
			return
		}
		i, err := strconv.ParseInt(n.s, 10, 64)
		if err != nil || v.OverflowInt(i) {
			d.typeErr(n, t)
			return
		}
		v.SetInt(i)
	case reflect.Bool:
		if n.kind != jBool {
			d.typeErr(n, t)
			return
		}
		v.SetBool(n.b)
	case reflect.Slice:
		if n.kind != jArray {
			d.typeErr(n, t)
			return
		}
		d.slice(n, v)
	case reflect.Struct:
		if n.kind != jObject {
			d.typeErr(n, t)
			return
		}
		d.object(n, v)
	default:
		panic("config: unsupported kind " + t.Kind().String())
	}
}

func (d *decoder) slice(n *jnode, v reflect.Value) {
	old := v.Len()
	if len(n.elems) == 0 {
		v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		return
	}
	if len(n.elems) > old {
		nv := reflect.MakeSlice(v.Type(), len(n.elems), len(n.elems))
		reflect.Copy(nv, v)
		v.Set(nv)
	} else {
		v.SetLen(len(n.elems))
	}
	for i, e := range n.elems {
		d.path = append(d.path, i)
		d.value(e, v.Index(i))
		d.path = d.path[:len(d.path)-1]
	}
}

func (d *decoder) object(n *jnode, v reflect.Value) {
	t := v.Type()
	sp := planFor(t)
	wasFile := d.inFile
	if t == typFile {
		d.inFile = true
	}
	for _, m := range n.members {
		fi, exact := sp.exact[m.key]
		if !exact {
			fi = -1
			lk := strings.ToLower(m.key)
			for j := range sp.fields {
				if sp.fields[j].lower == lk {
					fi = j
					break
				}
			}
		}
		usable := fi >= 0 && sp.fields[fi].since <= d.ver
		if usable && t == typResource && sp.fields[fi].name == "compression" && !d.inFile && !Versions[d.ver].CompressionEverywhere {
			usable = false
		}
		if !exact || !usable {
			u := unusedKey{path: append([]any{}, d.path...), key: m.key, keyOff: m.keyOff}
			if fi >= 0 && exact && sp.fields[fi].since > d.ver {
				u.note = "needs spec version " + Versions[sp.fields[fi].since].Version.String() + " or newer"
			} else if fi >= 0 && exact {
				u.note = "needs spec version 3.1.0 or newer here"
			} else {
				u.hint = d.hint(sp, m.key)
			}
			d.unused = append(d.unused, u)
		}
		if !usable {
			continue
		}
		f := &sp.fields[fi]
		d.path = append(d.path, f.name)
		fv := v.FieldByIndex(f.index)
		d.value(m.val, fv)
		d.path = d.path[:len(d.path)-1]
	}
	d.inFile = wasFile
}

// hint suggests the known key nearest to an unknown one.
func (d *decoder) hint(sp *structPlan, key string) string {
	best, bestDist := "", 3
	lk := strings.ToLower(key)
	for _, f := range sp.fields {
		if f.since > d.ver {
			continue
		}
		dist := editDistance(lk, f.lower)
		if dist < bestDist && (dist < len(key)/2+1) {
			best, bestDist = f.name, dist
		}
	}
	if best == "" || best == key {
		return ""
	}
	p := path.New("json", append(append([]any{}, d.path...), best)...)
	return p.String()
}

func editDistance(a, b string) int {
	if a == b {
		return 0
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// locator maps report paths to positions in the source.
type locator struct {
	root       *jnode
	lineStarts []int
}

func newLocator(raw []byte, root *jnode) *locator {
	ls := []int{0}
	for i, c := range raw {
		if c == '\n' {
			ls = append(ls, i+1)
		}
	}
	return &locator{root: root, lineStarts: ls}
}

func (l *locator) pos(off int32) *tree.Pos {
	o := int(off)
	lo, hi := 0, len(l.lineStarts)-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if l.lineStarts[mid] <= o {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return &tree.Pos{Index: int64(o), Line: int64(lo + 1), Column: int64(o - l.lineStarts[lo] + 1)}
}

// find returns the offset of the deepest node along p.
func (l *locator) find(p path.ContextPath) int32 {
	n := l.root
	off := n.off
	for _, c := range p.Path {
		switch c := c.(type) {
		case string:
			if n.kind != jObject {
				return off
			}
			next := n.get(c)
			if next == nil {
				return off
			}
			n, off = next, next.off
		case tree.Key:
			if n.kind != jObject {
				return off
			}
			found := false
			for i := range n.members {
				if n.members[i].key == string(c) {
					off, found = n.members[i].keyOff, true
				}
			}
			if !found {
				return off
			}
			return off
		case int:
			if n.kind != jArray || c < 0 || c >= len(n.elems) {
				return off
			}
			n = n.elems[c]
			off = n.off
		default:
			return off
		}
	}
	return off
}
