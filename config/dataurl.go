package config

import (
	"encoding/base64"
	"strings"

	"github.com/vincent-petithory/dataurl"
)

// DecodeDataURL decodes an RFC 2397 data URL: the one decoder of flint
// (validation, the files stage, the fetcher). The common forms (percent-
// encoded or base64 data) are decoded here in one pass; anything this does
// not take is left to the dataurl package, whose lexer runs a goroutine
// per URL (too slow for thousands of files).
func DecodeDataURL(raw string) ([]byte, error) {
	if b, ok := fastData(raw); ok {
		return b, nil
	}
	d, err := dataurl.DecodeString(raw)
	if err != nil {
		return nil, err
	}
	return d.Data, nil
}

func fastData(raw string) ([]byte, bool) {
	rest, ok := strings.CutPrefix(raw, "data:")
	if !ok {
		return nil, false
	}
	meta, data, ok := strings.Cut(rest, ",")
	if !ok || strings.ContainsAny(meta, " \t\r\n\"%") {
		return nil, false
	}
	b64 := false
	if m, ok := strings.CutSuffix(meta, ";base64"); ok {
		b64, meta = true, m
	}
	if strings.Contains(meta, ";") || strings.Count(meta, "/") > 1 || (meta != "" && !strings.Contains(meta, "/")) {
		return nil, false // parameters or odd media types: the full parser
	}
	if b64 {
		for i := 0; i < len(data); i++ {
			c := data[i]
			if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=') {
				return nil, false
			}
		}
		out := make([]byte, base64.StdEncoding.DecodedLen(len(data)))
		n, err := base64.StdEncoding.Decode(out, []byte(data))
		if err != nil {
			return nil, false
		}
		return out[:n], true
	}
	out, ok := unescapeData(data)
	if !ok {
		return nil, false
	}
	return out, true
}

// unescapeData percent-decodes s; a malformed escape or a byte outside
// printable ASCII is not taken.
func unescapeData(s string) ([]byte, bool) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e {
			return nil, false
		}
		if c != '%' {
			out = append(out, c)
			continue
		}
		if i+2 >= len(s) {
			return nil, false
		}
		h, l := unhex(s[i+1]), unhex(s[i+2])
		if h < 0 || l < 0 {
			return nil, false
		}
		out = append(out, byte(h<<4|l))
		i += 2
	}
	return out, true
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
