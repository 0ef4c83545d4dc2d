package config

import (
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// A small JSON parser that keeps the byte offset of every key and value, so
// that every report entry can carry a line and column. It follows RFC 8259
// and encoding/json's leniencies (invalid UTF-8 is replaced by U+FFFD,
// duplicate keys are kept in order: the decoder applies them in turn, so the
// last one wins).

type jkind uint8

const (
	jNull jkind = iota
	jBool
	jNumber
	jString
	jArray
	jObject
)

func (k jkind) String() string {
	return [...]string{"null", "bool", "number", "string", "array", "object"}[k]
}

type jnode struct {
	kind    jkind
	off     int32 // offset of the value's first byte
	b       bool
	s       string // string value, or the literal text of a number
	elems   []*jnode
	members []jmember
}

type jmember struct {
	key    string
	keyOff int32
	val    *jnode
}

// get returns the member with exactly this key (the last one if repeated).
func (n *jnode) get(key string) *jnode {
	var r *jnode
	for i := range n.members {
		if n.members[i].key == key {
			r = n.members[i].val
		}
	}
	return r
}

// SyntaxError is a JSON syntax error at a byte offset.
type SyntaxError struct {
	Msg    string
	Offset int64
}

func (e *SyntaxError) Error() string { return e.Msg }

type jparser struct {
	data  []byte
	pos   int
	depth int
}

const maxDepth = 10000

func parseJSON(data []byte) (*jnode, error) {
	p := jparser{data: data}
	p.skipWS()
	n, err := p.value()
	if err != nil {
		return nil, err
	}
	p.skipWS()
	if p.pos < len(p.data) {
		return nil, p.errorf("invalid character %s after top-level value", quoteChar(p.data[p.pos]))
	}
	return n, nil
}

func (p *jparser) errorf(format string, args ...any) error {
	return &SyntaxError{Msg: fmt.Sprintf(format, args...), Offset: int64(p.pos)}
}

func (p *jparser) eof() error {
	return &SyntaxError{Msg: "unexpected end of JSON input", Offset: int64(len(p.data))}
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
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *jparser) value() (*jnode, error) {
	if p.pos >= len(p.data) {
		return nil, p.eof()
	}
	start := int32(p.pos)
	switch c := p.data[p.pos]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		return &jnode{kind: jString, off: start, s: s}, nil
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case c == 't':
		return p.literal("true", &jnode{kind: jBool, off: start, b: true})
	case c == 'f':
		return p.literal("false", &jnode{kind: jBool, off: start})
	case c == 'n':
		return p.literal("null", &jnode{kind: jNull, off: start})
	default:
		return nil, p.errorf("invalid character %s looking for beginning of value", quoteChar(c))
	}
}

func (p *jparser) literal(lit string, n *jnode) (*jnode, error) {
	for i := 0; i < len(lit); i++ {
		if p.pos >= len(p.data) {
			return nil, p.eof()
		}
		if p.data[p.pos] != lit[i] {
			return nil, p.errorf("invalid character %s in literal %s (expecting %s)", quoteChar(p.data[p.pos]), lit, quoteChar(lit[i]))
		}
		p.pos++
	}
	return n, nil
}

func (p *jparser) number() (*jnode, error) {
	start := p.pos
	d := p.data
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
		return nil, p.eof()
	}
	if d[p.pos] == '0' {
		p.pos++
	} else if d[p.pos] >= '1' && d[p.pos] <= '9' {
		digits()
	} else {
		return nil, p.errorf("invalid character %s in numeric literal", quoteChar(d[p.pos]))
	}
	if p.pos < len(d) && d[p.pos] == '.' {
		p.pos++
		if p.pos >= len(d) {
			return nil, p.eof()
		}
		if digits() == 0 {
			return nil, p.errorf("invalid character %s after decimal point in numeric literal", quoteChar(d[p.pos]))
		}
	}
	if p.pos < len(d) && (d[p.pos] == 'e' || d[p.pos] == 'E') {
		p.pos++
		if p.pos < len(d) && (d[p.pos] == '+' || d[p.pos] == '-') {
			p.pos++
		}
		if p.pos >= len(d) {
			return nil, p.eof()
		}
		if digits() == 0 {
			return nil, p.errorf("invalid character %s in exponent of numeric literal", quoteChar(d[p.pos]))
		}
	}
	return &jnode{kind: jNumber, off: int32(start), s: string(d[start:p.pos])}, nil
}

func (p *jparser) str() (string, error) {
	d := p.data
	p.pos++ // opening quote
	start := p.pos
	// fast path: no escapes, ASCII or valid UTF-8
	for p.pos < len(d) {
		c := d[p.pos]
		if c == '"' {
			s := d[start:p.pos]
			p.pos++
			if utf8.Valid(s) {
				return string(s), nil
			}
			return string([]rune(string(s))), nil // replaces invalid bytes with U+FFFD
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return "", p.errorf("invalid character %s in string literal", quoteChar(c))
		}
		p.pos++
	}
	if p.pos >= len(d) {
		return "", p.eof()
	}
	buf := make([]byte, 0, p.pos-start+16)
	buf = append(buf, d[start:p.pos]...)
	for p.pos < len(d) {
		c := d[p.pos]
		switch {
		case c == '"':
			p.pos++
			if !utf8.Valid(buf) {
				return string([]rune(string(buf))), nil
			}
			return string(buf), nil
		case c < 0x20:
			return "", p.errorf("invalid character %s in string literal", quoteChar(c))
		case c == '\\':
			p.pos++
			if p.pos >= len(d) {
				return "", p.eof()
			}
			e := d[p.pos]
			p.pos++
			switch e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, ok := p.hex4()
				if !ok {
					return "", p.errorf("invalid character %s in \\u hexadecimal character escape", quoteChar(p.cur()))
				}
				if utf16.IsSurrogate(r) {
					save := p.pos
					if p.pos+1 < len(d) && d[p.pos] == '\\' && d[p.pos+1] == 'u' {
						p.pos += 2
						r2, ok2 := p.hex4()
						if ok2 {
							if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
								buf = utf8.AppendRune(buf, dec)
								continue
							}
						}
					}
					p.pos = save
					r = utf8.RuneError
				}
				buf = utf8.AppendRune(buf, r)
			default:
				p.pos--
				return "", p.errorf("invalid character %s in string escape code", quoteChar(e))
			}
		default:
			buf = append(buf, c)
			p.pos++
		}
	}
	return "", p.eof()
}

func (p *jparser) cur() byte {
	if p.pos < len(p.data) {
		return p.data[p.pos]
	}
	return 0
}

func (p *jparser) hex4() (rune, bool) {
	if p.pos+4 > len(p.data) {
		return 0, false
	}
	var r rune
	for i := 0; i < 4; i++ {
		c := p.data[p.pos]
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
		p.pos++
	}
	return r, true
}

func (p *jparser) object() (*jnode, error) {
	n := &jnode{kind: jObject, off: int32(p.pos)}
	p.pos++
	if p.depth++; p.depth > maxDepth {
		return nil, p.errorf("exceeded max depth")
	}
	defer func() { p.depth-- }()
	p.skipWS()
	if p.pos >= len(p.data) {
		return nil, p.eof()
	}
	if p.data[p.pos] == '}' {
		p.pos++
		return n, nil
	}
	for {
		p.skipWS()
		if p.pos >= len(p.data) {
			return nil, p.eof()
		}
		if p.data[p.pos] != '"' {
			return nil, p.errorf("invalid character %s looking for beginning of object key string", quoteChar(p.data[p.pos]))
		}
		koff := int32(p.pos)
		k, err := p.str()
		if err != nil {
			return nil, err
		}
		p.skipWS()
		if p.pos >= len(p.data) {
			return nil, p.eof()
		}
		if p.data[p.pos] != ':' {
			return nil, p.errorf("invalid character %s after object key", quoteChar(p.data[p.pos]))
		}
		p.pos++
		p.skipWS()
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		n.members = append(n.members, jmember{key: k, keyOff: koff, val: v})
		p.skipWS()
		if p.pos >= len(p.data) {
			return nil, p.eof()
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case '}':
			p.pos++
			return n, nil
		default:
			return nil, p.errorf("invalid character %s after object key:value pair", quoteChar(p.data[p.pos]))
		}
	}
}

func (p *jparser) array() (*jnode, error) {
	n := &jnode{kind: jArray, off: int32(p.pos)}
	p.pos++
	if p.depth++; p.depth > maxDepth {
		return nil, p.errorf("exceeded max depth")
	}
	defer func() { p.depth-- }()
	p.skipWS()
	if p.pos >= len(p.data) {
		return nil, p.eof()
	}
	if p.data[p.pos] == ']' {
		p.pos++
		return n, nil
	}
	for {
		p.skipWS()
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		n.elems = append(n.elems, v)
		p.skipWS()
		if p.pos >= len(p.data) {
			return nil, p.eof()
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			return n, nil
		default:
			return nil, p.errorf("invalid character %s after array element", quoteChar(p.data[p.pos]))
		}
	}
}

// lineCol converts a byte offset into 1-based line and column numbers
// (columns count bytes, as the reference does).
func lineCol(data []byte, off int) (int, int) {
	if off > len(data) {
		off = len(data)
	}
	line, col := 1, 1
	for i := 0; i < off; i++ {
		col++
		if data[i] == '\n' {
			line++
			col = 1
		}
	}
	return line, col
}
