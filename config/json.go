package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// A small JSON parser that keeps the byte offset of every key and value, so
// that every report entry can carry a line and column. It follows RFC 8259
// and encoding/json's leniencies: invalid UTF-8 is replaced by U+FFFD and
// repeated keys are kept in order (the decoder applies them in turn, so the
// last one wins); both are remembered so that they can be reported.
//
// The tree is flat, to keep a large config cheap: every value is one 12-byte
// jnode in one slice, in document order, so a container's first child
// follows it and each child links to the next. A node holds only where its
// value (and key) starts: ends are found again in the text, and strings and
// numbers are not copied out of it, the decoder reads them from it
// (unescaping only the strings that need it).

type jkind uint8

const (
	jNull jkind = iota
	jBool
	jNumber
	jString
	jArray
	jObject
)

// jsonType names a JSON type the way messages say it ("a string").
func (k jkind) jsonType() string {
	return [...]string{"null", "a boolean", "a number", "a string", "an array", "an object"}[k]
}

const (
	fTrue   uint8 = 1 << iota // a boolean that is true
	fEsc                      // the string value has escapes
	fBad                      // the string value has invalid UTF-8
	fKeyEsc                   // the member's key has escapes
	fKeyBad                   // the member's key has invalid UTF-8
	fDupKey                   // the member's key repeats an earlier one in the same object
	fKids                     // a container with at least one child
)

type jnode struct {
	off  int32 // the value's first byte
	next int32 // the next child of the same container; 0 for the last
	// keyGap: a member's value starts keyGap bytes after its key's
	// opening quote (keyGapLong: see jdoc.longKeys); 0 outside objects
	keyGap uint16
	kind   jkind
	flags  uint8
}

const keyGapLong = 0xffff

// jdoc is a parsed JSON text. Node 0 is the top-level value.
type jdoc struct {
	src        string
	nodes      []jnode
	longKeys   map[int32]int32 // node → key offset, for keyGapLong
	dups, bad  int             // how many repeated keys and invalid UTF-8 strings
	lineStarts []int32         // built on first use
}

// SyntaxError is a JSON syntax error at a byte offset.
type SyntaxError struct {
	Msg    string
	Offset int64
}

func (e *SyntaxError) Error() string { return e.Msg }

type jparser struct {
	d     *jdoc
	src   string
	pos   int
	depth int
	seen  map[string]struct{}
}

const maxDepth = 10000

func parseJSON(raw []byte) (*jdoc, error) {
	if len(raw) > math.MaxInt32-1 {
		return nil, &SyntaxError{Msg: "config too large", Offset: 0}
	}
	d := &jdoc{src: string(raw)}
	if err := d.parse(); err != nil {
		return nil, err
	}
	return d, nil
}

// parse builds the node index of d.src.
func (d *jdoc) parse() error {
	d.dups, d.bad, d.longKeys = 0, 0, nil
	// Each value but the top-level one follows a '{', '[' or ','; reserve
	// that many nodes so the slice does not grow while parsing.
	est := strings.Count(d.src, ",") + strings.Count(d.src, "{") + strings.Count(d.src, "[") + 1
	d.nodes = make([]jnode, 0, est)
	p := jparser{d: d, src: d.src}
	p.skipWS()
	if _, err := p.value(-1, 0); err != nil {
		return err
	}
	p.skipWS()
	if p.pos < len(p.src) {
		return p.errorf("invalid character %s after top-level value", quoteChar(p.src[p.pos]))
	}
	return nil
}

// tree makes sure the node index is there: compact drops it while a
// decoded config is validated, and it is rebuilt from the text when a
// position is asked for afterwards.
func (d *jdoc) tree() *jdoc {
	if d.nodes == nil {
		if err := d.parse(); err != nil {
			panic("config: text that parsed once does not parse again: " + err.Error())
		}
	}
	return d
}

// compact drops the node index (the text, which the decoded strings point
// into, stays).
func (d *jdoc) compact() { d.nodes = nil }

func (p *jparser) errorf(format string, args ...any) error {
	return &SyntaxError{Msg: fmt.Sprintf(format, args...), Offset: int64(p.pos)}
}

func (p *jparser) eof() error {
	return &SyntaxError{Msg: "unexpected end of JSON input", Offset: int64(len(p.src))}
}

func quoteChar(c byte) string {
	if c == '\'' {
		return `'\''`
	}
	if c == '"' {
		return `'"'`
	}
	s := strconv.Quote(string(rune(c)))
	return "'" + s[1:len(s)-1] + "'"
}

func (p *jparser) skipWS() {
	for p.pos < len(p.src) {
		switch p.src[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// value parses one value and appends its node; key is the offset of the
// member key it belongs to (-1 outside objects).
func (p *jparser) value(key int32, kflags uint8) (int32, error) {
	if p.pos >= len(p.src) {
		return 0, p.eof()
	}
	idx := int32(len(p.d.nodes))
	n := jnode{off: int32(p.pos), flags: kflags}
	if key >= 0 {
		if gap := p.pos - int(key); gap < keyGapLong {
			n.keyGap = uint16(gap)
		} else {
			n.keyGap = keyGapLong
			if p.d.longKeys == nil {
				p.d.longKeys = map[int32]int32{}
			}
			p.d.longKeys[idx] = key
		}
	}
	p.d.nodes = append(p.d.nodes, n)
	var err error
	switch c := p.src[p.pos]; {
	case c == '{':
		return idx, p.container(idx, jObject)
	case c == '[':
		return idx, p.container(idx, jArray)
	case c == '"':
		var fl uint8
		fl, err = p.str()
		p.d.nodes[idx].kind = jString
		p.d.nodes[idx].flags |= fl
		if fl&fBad != 0 {
			p.d.bad++
		}
	case c == '-' || (c >= '0' && c <= '9'):
		err = p.number()
		p.d.nodes[idx].kind = jNumber
	case c == 't':
		err = p.literal("true")
		p.d.nodes[idx].kind = jBool
		p.d.nodes[idx].flags |= fTrue
	case c == 'f':
		err = p.literal("false")
		p.d.nodes[idx].kind = jBool
	case c == 'n':
		err = p.literal("null")
	default:
		return 0, p.errorf("invalid character %s looking for beginning of value", quoteChar(c))
	}
	if err != nil {
		return 0, err
	}
	return idx, nil
}

func (p *jparser) literal(lit string) error {
	for i := 0; i < len(lit); i++ {
		if p.pos >= len(p.src) {
			return p.eof()
		}
		if p.src[p.pos] != lit[i] {
			return p.errorf("invalid character %s in literal %s (expecting %s)", quoteChar(p.src[p.pos]), lit, quoteChar(lit[i]))
		}
		p.pos++
	}
	return nil
}

func (p *jparser) number() error {
	d := p.src
	if d[p.pos] == '-' {
		p.pos++
	}
	digits := func() int {
		n := 0
		for p.pos < len(d) && d[p.pos] >= '0' && d[p.pos] <= '9' {
			p.pos++
			n++
		}
		return n
	}
	if p.pos >= len(d) {
		return p.eof()
	}
	if d[p.pos] == '0' {
		p.pos++
	} else if d[p.pos] >= '1' && d[p.pos] <= '9' {
		digits()
	} else {
		return p.errorf("invalid character %s in numeric literal", quoteChar(d[p.pos]))
	}
	if p.pos < len(d) && d[p.pos] == '.' {
		p.pos++
		if p.pos >= len(d) {
			return p.eof()
		}
		if digits() == 0 {
			return p.errorf("invalid character %s after decimal point in numeric literal", quoteChar(d[p.pos]))
		}
	}
	if p.pos < len(d) && (d[p.pos] == 'e' || d[p.pos] == 'E') {
		p.pos++
		if p.pos < len(d) && (d[p.pos] == '+' || d[p.pos] == '-') {
			p.pos++
		}
		if p.pos >= len(d) {
			return p.eof()
		}
		if digits() == 0 {
			return p.errorf("invalid character %s in exponent of numeric literal", quoteChar(d[p.pos]))
		}
	}
	return nil
}

// str checks a string literal and steps over it; it reports whether the
// literal has escapes (fEsc) or invalid UTF-8 (fBad).
func (p *jparser) str() (uint8, error) {
	d := p.src
	p.pos++ // opening quote
	start := p.pos
	var fl uint8
	high := false
	for p.pos < len(d) {
		c := d[p.pos]
		switch {
		case c == '"':
			if high && !utf8.ValidString(d[start:p.pos]) {
				fl |= fBad
			}
			p.pos++
			return fl, nil
		case c < 0x20:
			return 0, p.errorf("invalid character %s in string literal", quoteChar(c))
		case c == '\\':
			fl |= fEsc
			p.pos++
			if p.pos >= len(d) {
				return 0, p.eof()
			}
			switch e := d[p.pos]; e {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				p.pos++
			case 'u':
				p.pos++
				for i := 0; i < 4; i++ {
					if p.pos >= len(d) {
						return 0, p.eof()
					}
					if !isHex(d[p.pos]) {
						return 0, p.errorf("invalid character %s in \\u hexadecimal character escape", quoteChar(d[p.pos]))
					}
					p.pos++
				}
			default:
				return 0, p.errorf("invalid character %s in string escape code", quoteChar(e))
			}
		default:
			if c >= 0x80 {
				high = true
			}
			p.pos++
		}
	}
	return 0, p.eof()
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func (p *jparser) enter() error {
	if p.depth++; p.depth > maxDepth {
		return p.errorf("exceeded max depth")
	}
	return nil
}

// link makes child the next sibling of prev, the previous child of
// container idx (-1: child is the first).
func (p *jparser) link(idx, prev, child int32) {
	if prev >= 0 {
		p.d.nodes[prev].next = child
	} else {
		p.d.nodes[idx].flags |= fKids
	}
}

// container parses an object or an array (kind) whose opening bracket is
// at p.pos, into node idx.
func (p *jparser) container(idx int32, kind jkind) error {
	p.d.nodes[idx].kind = kind
	closer, what := byte(']'), "array element"
	if kind == jObject {
		closer, what = '}', "object key:value pair"
	}
	p.pos++
	if err := p.enter(); err != nil {
		return err
	}
	defer func() { p.depth-- }()
	p.skipWS()
	if p.pos >= len(p.src) {
		return p.eof()
	}
	if p.src[p.pos] == closer {
		p.pos++
		return nil
	}
	prev := int32(-1)
	for {
		p.skipWS()
		key, kfl := int32(-1), uint8(0)
		if kind == jObject {
			var err error
			if key, kfl, err = p.key(); err != nil {
				return err
			}
		}
		v, err := p.value(key, kfl)
		if err != nil {
			return err
		}
		p.link(idx, prev, v)
		prev = v
		p.skipWS()
		if p.pos >= len(p.src) {
			return p.eof()
		}
		switch p.src[p.pos] {
		case ',':
			p.pos++
		case closer:
			p.pos++
			if kind == jObject {
				p.markDups(idx)
			}
			return nil
		default:
			return p.errorf("invalid character %s after %s", quoteChar(p.src[p.pos]), what)
		}
	}
}

// key parses a member's key and the colon after it; it returns the key's
// offset and its flags as a member's (fKeyEsc, fKeyBad).
func (p *jparser) key() (int32, uint8, error) {
	if p.pos >= len(p.src) {
		return 0, 0, p.eof()
	}
	if p.src[p.pos] != '"' {
		return 0, 0, p.errorf("invalid character %s looking for beginning of object key string", quoteChar(p.src[p.pos]))
	}
	koff := int32(p.pos)
	fl, err := p.str()
	if err != nil {
		return 0, 0, err
	}
	if fl&fBad != 0 {
		p.d.bad++
	}
	p.skipWS()
	if p.pos >= len(p.src) {
		return 0, 0, p.eof()
	}
	if p.src[p.pos] != ':' {
		return 0, 0, p.errorf("invalid character %s after object key", quoteChar(p.src[p.pos]))
	}
	p.pos++
	p.skipWS()
	return koff, fl << 2, nil // fEsc→fKeyEsc, fBad→fKeyBad
}

// markDups flags every member of object idx whose key an earlier member
// already has.
func (p *jparser) markDups(idx int32) {
	d := p.d
	n := d.count(idx, 17)
	if n < 2 {
		return
	}
	if n <= 16 {
		for i := d.next(idx, 0); i != 0; i = d.nodes[i].next {
			ki := d.keyText(i)
			for j := idx + 1; j != i; j = d.nodes[j].next {
				if d.keyText(j) == ki {
					d.nodes[i].flags |= fDupKey
					d.dups++
					break
				}
			}
		}
		return
	}
	if p.seen == nil {
		p.seen = make(map[string]struct{}, n)
	}
	clear(p.seen)
	for m := d.next(idx, 0); m != 0; m = d.nodes[m].next {
		k := d.keyText(m)
		if _, dup := p.seen[k]; dup {
			d.nodes[m].flags |= fDupKey
			d.dups++
		}
		p.seen[k] = struct{}{}
	}
}

// ---- reading the tree ------------------------------------------------------

// next returns the child of container i after child c (c 0: the first
// child); 0 when there is none.
func (d *jdoc) next(i, c int32) int32 {
	if c == 0 {
		if d.nodes[i].flags&fKids == 0 {
			return 0
		}
		return i + 1
	}
	return d.nodes[c].next
}

// count returns the number of children of container i, or most if it has
// more.
func (d *jdoc) count(i int32, most int) int {
	n := 0
	for c := d.next(i, 0); c != 0 && n < most; c = d.nodes[c].next {
		n++
	}
	return n
}

// child returns the k-th child of container i, or 0.
func (d *jdoc) child(i int32, k int) int32 {
	if k < 0 {
		return 0
	}
	c := d.next(i, 0)
	for ; c != 0 && k > 0; k-- {
		c = d.nodes[c].next
	}
	return c
}

// strEnd returns one past the closing quote of the string literal at off.
func (d *jdoc) strEnd(off int32) int32 {
	s := d.src
	i := int(off) + 1
	for {
		j := strings.IndexByte(s[i:], '"')
		i += j
		bs := 0
		for k := i - 1; s[k] == '\\'; k-- {
			bs++
		}
		i++
		if bs%2 == 0 {
			return int32(i)
		}
	}
}

// keyOff returns the offset of member node i's key (its opening quote).
func (d *jdoc) keyOff(i int32) int32 {
	n := &d.nodes[i]
	if n.keyGap == keyGapLong {
		return d.longKeys[i]
	}
	return n.off - int32(n.keyGap)
}

// isMember tells whether node i is an object member (has a key).
func (d *jdoc) isMember(i int32) bool { return d.nodes[i].keyGap != 0 }

// text returns the string a literal (with its quotes) stands for: the text
// itself when it has neither escapes nor invalid UTF-8, else its decoded
// copy.
func (d *jdoc) text(off, end int32, esc, bad bool) string {
	s := d.src[off+1 : end-1]
	if !esc && !bad {
		return s
	}
	return unescape(s)
}

// str returns the value of string node i.
func (d *jdoc) str(i int32) string {
	n := &d.nodes[i]
	return d.text(n.off, d.strEnd(n.off), n.flags&fEsc != 0, n.flags&fBad != 0)
}

// keyText returns the key of member node i.
func (d *jdoc) keyText(i int32) string {
	n := &d.nodes[i]
	k := d.keyOff(i)
	return d.text(k, d.strEnd(k), n.flags&fKeyEsc != 0, n.flags&fKeyBad != 0)
}

// literal returns the text of number node i.
func (d *jdoc) literal(i int32) string {
	s := d.src
	start := int(d.nodes[i].off)
	j := start
	for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '-' || s[j] == '+' || s[j] == '.' || s[j] == 'e' || s[j] == 'E') {
		j++
	}
	return s[start:j]
}

// member returns the last member of object i with exactly this key, or -1.
func (d *jdoc) member(i int32, key string) int32 {
	r := int32(-1)
	for c := d.next(i, 0); c != 0; c = d.nodes[c].next {
		if d.keyText(c) == key {
			r = c
		}
	}
	return r
}

// unescape decodes a string literal's body (already checked by the
// parser); invalid UTF-8 bytes become U+FFFD one by one, as encoding/json
// does.
func unescape(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			e := s[i+1]
			i += 2
			switch e {
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				r := hex4(s[i:])
				i += 4
				if utf16.IsSurrogate(r) {
					if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' && isHex4(s[i+2:i+6]) {
						if dec := utf16.DecodeRune(r, hex4(s[i+2:])); dec != utf8.RuneError {
							b.WriteRune(dec)
							i += 6
							continue
						}
					}
					r = utf8.RuneError
				}
				b.WriteRune(r)
			default: // '"', '\\', '/'
				b.WriteByte(e)
			}
		case c < utf8.RuneSelf:
			b.WriteByte(c)
			i++
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			b.WriteRune(r) // RuneError for an invalid byte
			i += size
		}
	}
	return b.String()
}

func isHex4(s string) bool {
	return len(s) >= 4 && isHex(s[0]) && isHex(s[1]) && isHex(s[2]) && isHex(s[3])
}

func hex4(s string) rune {
	var r rune
	for i := 0; i < 4; i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		default:
			r = r<<4 | rune(c-'A'+10)
		}
	}
	return r
}
