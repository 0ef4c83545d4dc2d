package config

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/coreos/go-semver/semver"
	"github.com/coreos/vcontext/path"
	"github.com/coreos/vcontext/report"
)

func entryAt(r Report, kind report.Kind, p string) *report.Entry {
	for i := range r.Entries {
		if r.Entries[i].Kind == kind && r.Entries[i].Context.String() == p {
			return &r.Entries[i]
		}
	}
	return nil
}

// The flat tree decodes strings the way encoding/json does: escapes,
// surrogate pairs, lone surrogates and invalid UTF-8 bytes (each becomes
// U+FFFD).
func TestStringsDecodeLikeEncodingJSON(t *testing.T) {
	for _, lit := range []string{
		`"plain"`, `"a\"b\\c\/d\b\f\n\r\t"`, `"\u00e9\u20ac"`, `"\ud83d\ude00"`, `"\ud83d"`, `"\ude00x"`,
		`"\ud83dx\u0041"`, "\"caf\xe9\"", "\"\xff\xfe\"", "\"ok \xe2\x82\"", `"\u0000"`, "\"\xed\xa0\x80\"",
	} {
		raw := []byte(`{"k":` + lit + `}`)
		var want map[string]string
		if err := json.Unmarshal(raw, &want); err != nil {
			t.Fatalf("%s: %v", lit, err)
		}
		doc, r, err := ReadDocument(raw)
		if err != nil {
			t.Fatalf("%s: %v %v", lit, err, r)
		}
		var got struct {
			K string `json:"k"`
		}
		if _, r := doc.Decode(&got, MaxVersion); len(r.Entries) > 0 {
			t.Fatalf("%s: %v", lit, r)
		}
		if got.K != want["k"] {
			t.Errorf("%s: got %q, encoding/json %q", lit, got.K, want["k"])
		}
	}
}

func TestSyntaxErrorsLikeEncodingJSON(t *testing.T) {
	for _, in := range []string{``, ` `, `{`, `{"a"`, `{"a":}`, `{"a":1,}`, `[1,]`, `"\x"`, `"\u12g4"`, `01`, `1.`, `-`, `1e`, `tru`, `nul`, `{"a":1}}`, "\"a\x01\"", `{1:2}`} {
		_, _, err := ReadDocument([]byte(in))
		jerr := json.Unmarshal([]byte(in), new(any))
		if (err == nil) != (jerr == nil) {
			t.Errorf("%q: flint %v, encoding/json %v", in, err, jerr)
		}
	}
}

func TestNotes(t *testing.T) {
	var big strings.Builder
	big.WriteString(`{"ignition":{"version":"3.4.0"},"x":{`)
	for i := 0; i < 40; i++ { // more keys than the pairwise check handles
		fmt.Fprintf(&big, `"k%d":1,`, i)
	}
	big.WriteString("\"k7\":2},\n \"caf\xe9\":[\"\xff\"]}")
	doc, _, err := ReadDocument([]byte(big.String()))
	if err != nil {
		t.Fatal(err)
	}
	r := doc.Notes()
	if e := entryAt(r, report.Warn, "$.x.k7"); e == nil || !strings.Contains(e.Message, `duplicate key "k7"`) || e.Marker.StartP.Line != 1 {
		t.Errorf("no duplicate-key warning at $.x.k7:\n%v", r)
	}
	if e := entryAt(r, report.Warn, "$.caf\uFFFD"); e == nil || e.Marker.StartP.Line != 2 || e.Marker.StartP.Column != 2 {
		t.Errorf("no invalid-UTF-8 warning for the key:\n%v", r)
	}
	if e := entryAt(r, report.Warn, "$.caf\uFFFD.0"); e == nil || e.Marker.StartP.Column != 10 {
		t.Errorf("no invalid-UTF-8 warning for the value:\n%v", r)
	}
	if len(r.Entries) != 3 {
		t.Errorf("want 3 notes:\n%v", r)
	}
}

func TestTypeErrorsAllReportedWithPaths(t *testing.T) {
	_, r, err := Parse([]byte(`{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":1,"mode":"x","overwrite":"no","user":[]}]},"systemd":"u"}`))
	if err != ErrInvalid {
		t.Fatal(err)
	}
	want := map[string]string{
		"$.storage.files.0.path":      "expected a string, found a number",
		"$.storage.files.0.mode":      "expected an integer, found a string",
		"$.storage.files.0.overwrite": "expected a boolean, found a string",
		"$.storage.files.0.user":      "expected an object, found an array",
		"$.systemd":                   "expected an object, found a string",
	}
	for p, msg := range want {
		if e := entryAt(r, report.Error, p); e == nil || e.Message != msg || e.Marker.StartP == nil {
			t.Errorf("want %q at %s:\n%v", msg, p, r)
		}
	}
}

// Compact drops the index; positions asked for afterwards are the same.
func TestCompactRebuildsPositions(t *testing.T) {
	raw := []byte("{\"ignition\":{\"version\":\"3.4.0\"},\n\"storage\":{\"files\":[{\"path\":\"/a\"},\n  {\"path\":\"b\"}]}}")
	doc, _, err := ReadDocument(raw)
	if err != nil {
		t.Fatal(err)
	}
	before := doc.d.find(path.New("json", "storage", "files", 1, "path"))
	doc.Compact()
	if doc.d.nodes != nil {
		t.Fatal("index kept")
	}
	r := Report{Entries: []report.Entry{{Kind: report.Error, Message: "m", Context: path.New("json", "storage", "files", 1, "path")}}}
	doc.Locate(&r)
	p := r.Entries[0].Marker.StartP
	if int32(p.Index) != before || p.Line != 3 || p.Column != 11 {
		t.Fatalf("position %+v, want offset %d line 3 col 11", p, before)
	}
}

func TestRawValue(t *testing.T) {
	doc, _, err := ReadDocument([]byte(`{"a":"s","b":1.5e3,"c":null,"d":{},"e":[],"f":true}`))
	if err != nil {
		t.Fatal(err)
	}
	var w struct {
		A RawValue `json:"a"`
		B RawValue `json:"b"`
		C RawValue `json:"c"`
		D RawValue `json:"d"`
		E RawValue `json:"e"`
		F RawValue `json:"f"`
	}
	if _, r := doc.Decode(&w, semver.Version{}); len(r.Entries) > 0 {
		t.Fatal(r)
	}
	got := fmt.Sprint(w)
	if got != "{{string s} {number 1.5e3} {null } {object } {array } {boolean }}" {
		t.Fatal(got)
	}
}

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"plain é €": "plain é €",
		"a\x00b":    `a\x00b`,
		"tab\there": `tab\there`,
		"\x1b[2J":   `\x1b[2J`,
		"bad\xff":   `bad\xff`,
		"ls\u2028":  `ls\u2028`,
		"ok \uFFFD": "ok \uFFFD",
	} {
		if got := Printable(in); got != want {
			t.Errorf("Printable(%q) = %q, want %q", in, got, want)
		}
	}
}

// toAny rebuilds node i as encoding/json would decode it into any (with
// UseNumber).
func toAny(d *jdoc, i int32) any {
	n := &d.nodes[i]
	switch n.kind {
	case jObject:
		m := map[string]any{}
		for c := d.next(i, 0); c != 0; c = d.nodes[c].next {
			m[d.keyText(c)] = toAny(d, c)
		}
		return m
	case jArray:
		a := []any{}
		for c := d.next(i, 0); c != 0; c = d.nodes[c].next {
			a = append(a, toAny(d, c))
		}
		return a
	case jString:
		return d.str(i)
	case jNumber:
		return json.Number(d.literal(i))
	case jBool:
		return n.flags&fTrue != 0
	}
	return nil
}

// FuzzJSONLikeEncodingJSON: the position-aware parser accepts exactly what
// encoding/json accepts and reads the same values (duplicate keys: the last
// wins; invalid UTF-8: U+FFFD).
func FuzzJSONLikeEncodingJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,2.5e3,"x\u00e9\ud83d\ude00"],"b":{"c":null,"d":true,"d":false}}`, "\"\xff\\ud800\"", `[]`, `-0`, `{"":""}`, "[\"\x7f\"]"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		doc, _, err := ReadDocument(raw)
		if (err == nil) != json.Valid(raw) {
			t.Fatalf("flint %v, encoding/json valid=%v for %q", err, json.Valid(raw), raw)
		}
		if err != nil {
			return
		}
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.UseNumber()
		var want any
		if err := dec.Decode(&want); err != nil {
			t.Fatal(err)
		}
		if got := toAny(doc.d, 0); !reflect.DeepEqual(got, want) {
			t.Fatalf("got %#v, encoding/json %#v for %q", got, want, raw)
		}
	})
}

// Keys further than 64 KiB from their value, and very deep nesting.
func TestLongKeysAndDepth(t *testing.T) {
	longKey := strings.Repeat("k", 70000)
	raw := `{"ignition":{"version":"3.4.0"},"` + longKey + `":1,"storage"` + strings.Repeat(" ", 70000) + `:{"filez":[]}}`
	_, r, err := Parse([]byte(raw))
	if err != nil {
		t.Fatal(err, r)
	}
	if e := entryAt(r, report.Warn, "$."+longKey); e == nil || e.Marker.StartP.Column != 33 {
		t.Errorf("long key not reported at its position:\n%.200v", r)
	}
	if e := entryAt(r, report.Warn, "$.storage.filez"); e == nil || e.Marker.StartP.Column != int64(len(raw)-len(`"filez":[]}}`)+1) {
		t.Errorf("key after a long gap not reported at its position: %+v", e)
	}
	deep := strings.Repeat("[", 10001) + strings.Repeat("]", 10001)
	if _, r, err := ReadDocument([]byte(deep)); err != ErrInvalid || !strings.Contains(r.String(), "exceeded max depth") {
		t.Errorf("depth 10001: %v %v", err, r)
	}
	ok := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
	if _, _, err := ReadDocument([]byte(ok)); err != nil {
		t.Errorf("depth 10000: %v", err)
	}
}
