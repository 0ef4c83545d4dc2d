package config

import (
	"math"
	"reflect"
	"strconv"
	"strings"

	"github.com/coreos/go-semver/semver"
	"github.com/coreos/vcontext/path"
	"github.com/coreos/vcontext/report"
	"github.com/coreos/vcontext/tree"
)

// The decoder turns the position-aware JSON tree into a typed tree (flint's
// Config, or the legacy package's spec 1/2.x types) under the rules of one
// declared spec version, in one pass:
//   - keys the version does not have (`since` tag newer than the version,
//     or unknown altogether) are not decoded and are returned as UnusedKeys;
//   - keys match struct fields exactly or, failing that, case-insensitively,
//     like encoding/json (an UnusedKey is still returned for a non-exact
//     match, as the reference warns about it);
//   - repeated keys are applied in order, decoding into what is already
//     there (so the last one wins);
//   - values of the wrong JSON type are collected as errors naming the JSON
//     path and the JSON type expected; any of them makes the config invalid.
//
// Supported field kinds: string, int, bool, pointers, slices, structs
// (embedded ones are flattened) and RawValue.

type fieldPlan struct {
	name  string
	lower string
	index []int
	since *semver.Version // nil: in every version
}

type structPlan struct {
	fields []fieldPlan
	exact  map[string]int
}

// RawValue takes any JSON value: its type and, for strings and numbers, its
// text. A field of this type never has a type error.
type RawValue struct {
	Kind string // "null", "boolean", "number", "string", "array", "object"
	Text string
}

// UnusedKey is an object key that was not decoded into a field of exactly
// its name.
type UnusedKey struct {
	// Path is the key's JSON path; its last element is a tree.Key. Keys are
	// made printable (see Printable).
	Path path.ContextPath
	Pos  *tree.Pos
	// Key is the key as written (made printable).
	Key string
	// Fold is the field the key matched only case-insensitively (and was
	// decoded into, unless Since is set or the key is not allowed there);
	// "" for an exact match or none.
	Fold string
	// Since is the version that added the field the key names, when it is
	// newer than the declared version (the key was not decoded).
	Since string
	// Hint is the JSON path of the known key nearest to an unknown one.
	Hint string
	// notHere: the key exists, but not at this place in the declared
	// version (3.0's compression outside file contents).
	notHere bool
}

type pathElem struct {
	name string // a field name, or "" for an array index
	idx  int
}

type typeError struct {
	path     []any
	expected string
	found    jkind
	detail   string
	off      int32
}

type decoder struct {
	doc   *jdoc
	ver   semver.Version
	plans map[reflect.Type]*structPlan
	// compressionInFilesOnly: 3.0 has Resource.compression only in file
	// contents and appends.
	compressionInFilesOnly bool
	inFile                 bool
	path                   []pathElem
	typeErrs               []typeError
	unused                 []UnusedKey
}

const maxTypeErrors = 100

var (
	typResource = reflect.TypeOf(Resource{})
	typFile     = reflect.TypeOf(File{})
	typRaw      = reflect.TypeOf(RawValue{})
)

func newDecoder(doc *jdoc, ver semver.Version) *decoder {
	if doc != nil {
		doc.tree()
	}
	return &decoder{doc: doc, ver: ver, plans: map[reflect.Type]*structPlan{}}
}

func (d *decoder) planFor(t reflect.Type) *structPlan {
	if p, ok := d.plans[t]; ok {
		return p
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
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" || name == "-" {
				continue
			}
			fp := fieldPlan{name: name, lower: strings.ToLower(name), index: idx}
			if s := f.Tag.Get("since"); s != "" {
				fp.since = semver.New(s)
			}
			sp.exact[name] = len(sp.fields)
			sp.fields = append(sp.fields, fp)
		}
	}
	walk(t, nil)
	d.plans[t] = sp
	return sp
}

func (d *decoder) has(f *fieldPlan) bool {
	return f.since == nil || !d.ver.LessThan(*f.since)
}

// jsonPath returns the current path in vcontext's form.
func (d *decoder) jsonPath(extra int) []any {
	p := make([]any, 0, len(d.path)+extra)
	for _, e := range d.path {
		if e.name != "" {
			p = append(p, e.name)
		} else {
			p = append(p, e.idx)
		}
	}
	return p
}

func (d *decoder) typeErr(i int32, expected, detail string) {
	if len(d.typeErrs) >= maxTypeErrors {
		return
	}
	n := &d.doc.nodes[i]
	d.typeErrs = append(d.typeErrs, typeError{path: d.jsonPath(0), expected: expected, found: n.kind, detail: detail, off: n.off})
}

func (d *decoder) value(i int32, v reflect.Value) {
	n := &d.doc.nodes[i]
	t := v.Type()
	if t.Kind() == reflect.Struct && t == typRaw {
		rv := RawValue{Kind: strings.TrimPrefix(strings.TrimPrefix(n.kind.jsonType(), "an "), "a ")}
		switch n.kind {
		case jString:
			rv.Text = d.doc.str(i)
		case jNumber:
			rv.Text = d.doc.literal(i)
		}
		v.Set(reflect.ValueOf(rv))
		return
	}
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
		d.value(i, v.Elem())
	case reflect.String:
		if n.kind != jString {
			d.typeErr(i, "a string", "")
			return
		}
		v.SetString(d.doc.str(i))
	case reflect.Int:
		if n.kind != jNumber {
			d.typeErr(i, "an integer", "")
			return
		}
		lit := d.doc.literal(i)
		x, err := strconv.ParseInt(lit, 10, 64)
		if err != nil || v.OverflowInt(x) {
			if len(lit) > 32 {
				lit = lit[:32] + "…"
			}
			d.typeErr(i, "an integer", lit)
			return
		}
		v.SetInt(x)
	case reflect.Bool:
		if n.kind != jBool {
			d.typeErr(i, "a boolean", "")
			return
		}
		v.SetBool(n.flags&fTrue != 0)
	case reflect.Slice:
		if n.kind != jArray {
			d.typeErr(i, "an array", "")
			return
		}
		d.slice(i, v)
	case reflect.Struct:
		if n.kind != jObject {
			d.typeErr(i, "an object", "")
			return
		}
		d.object(i, v)
	default:
		panic("config: unsupported kind " + t.Kind().String())
	}
}

func (d *decoder) slice(i int32, v reflect.Value) {
	n := d.doc.count(i, math.MaxInt)
	if n == 0 {
		v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		return
	}
	if n > v.Len() {
		nv := reflect.MakeSlice(v.Type(), n, n)
		reflect.Copy(nv, v)
		v.Set(nv)
	} else {
		v.SetLen(n)
	}
	d.path = append(d.path, pathElem{})
	j := 0
	for e := d.doc.next(i, 0); e != 0; e = d.doc.nodes[e].next {
		d.path[len(d.path)-1].idx = j
		d.value(e, v.Index(j))
		j++
	}
	d.path = d.path[:len(d.path)-1]
}

func (d *decoder) object(i int32, v reflect.Value) {
	t := v.Type()
	sp := d.planFor(t)
	wasFile := d.inFile
	if t == typFile {
		d.inFile = true
	}
	for m := d.doc.next(i, 0); m != 0; m = d.doc.nodes[m].next {
		key := d.doc.keyText(m)
		fi, exact := sp.exact[key]
		if !exact {
			fi = -1
			lk := strings.ToLower(key)
			for j := range sp.fields {
				if sp.fields[j].lower == lk {
					fi = j
					break
				}
			}
		}
		usable := fi >= 0 && d.has(&sp.fields[fi])
		notHere := usable && d.compressionInFilesOnly && t == typResource && !d.inFile && sp.fields[fi].name == "compression"
		if notHere {
			usable = false
		}
		if !exact || !usable {
			d.unusedKey(m, key, sp, fi, usable, notHere)
		}
		if !usable {
			continue
		}
		f := &sp.fields[fi]
		d.path = append(d.path, pathElem{name: f.name})
		d.value(m, v.FieldByIndex(f.index))
		d.path = d.path[:len(d.path)-1]
	}
	d.inFile = wasFile
}

func (d *decoder) unusedKey(m int32, key string, sp *structPlan, fi int, usable, notHere bool) {
	pk := Printable(key)
	u := UnusedKey{
		Path: path.New("json", append(d.jsonPath(1), tree.Key(pk))...),
		Key:  pk, notHere: notHere,
		Pos: d.doc.pos(d.doc.keyOff(m)),
	}
	if fi >= 0 {
		f := &sp.fields[fi]
		if !usable && !notHere {
			u.Since = f.since.String()
		}
		if f.name != key {
			u.Fold = f.name
		}
	}
	if fi < 0 || u.Fold != "" {
		u.Hint = d.hint(sp, key)
	}
	d.unused = append(d.unused, u)
}

// hint suggests the known key nearest to an unknown one.
func (d *decoder) hint(sp *structPlan, key string) string {
	best, bestDist := "", 3
	lk := strings.ToLower(key)
	for i := range sp.fields {
		f := &sp.fields[i]
		if !d.has(f) {
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
	return path.New("json", append(d.jsonPath(1), best)...).String()
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

// typeErrorReport turns the type errors into report entries.
func (d *decoder) typeErrorReport() Report {
	var r Report
	for _, e := range d.typeErrs {
		msg := "expected " + e.expected + ", found " + e.found.jsonType()
		if e.detail != "" {
			msg = "expected " + e.expected + ", found " + e.detail
		}
		r.Entries = append(r.Entries, report.Entry{
			Kind: report.Error, Message: msg, Context: path.New("json", e.path...),
			Marker: tree.Marker{StartP: d.doc.pos(e.off)},
		})
	}
	if len(d.typeErrs) >= maxTypeErrors {
		r.Entries = append(r.Entries, report.Entry{Kind: report.Error, Context: path.New("json"),
			Message: "too many type errors; the rest are not reported"})
	}
	return r
}
