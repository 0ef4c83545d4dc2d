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
	data, b64, ok := splitData(raw)
	if !ok {
		return nil, false
	}
	if b64 {
		out := make([]byte, base64.StdEncoding.DecodedLen(len(data)))
		n, err := base64.StdEncoding.Decode(out, []byte(data))
		if err != nil {
			return nil, false
		}
		return out[:n], true
	}
	return unescapeData(data, true)
}

// splitData returns the data of a data URL in a form fastData decodes:
// no parameters, at most one media type, base64 data only of base64
// characters.
func splitData(raw string) (data string, b64, ok bool) {
	rest, ok := strings.CutPrefix(raw, "data:")
	if !ok {
		return "", false, false
	}
	meta, data, ok := strings.Cut(rest, ",")
	if !ok || strings.ContainsAny(meta, " \t\r\n\"%") {
		return "", false, false
	}
	if m, ok := strings.CutSuffix(meta, ";base64"); ok {
		b64, meta = true, m
	}
	if strings.Contains(meta, ";") || strings.Count(meta, "/") > 1 || (meta != "" && !strings.Contains(meta, "/")) {
		return "", false, false // parameters or odd media types: the full parser
	}
	if b64 {
		for i := 0; i < len(data); i++ {
			c := data[i]
			if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=') {
				return "", false, false
			}
		}
	}
	return data, b64, true
}

// CheckDataURL reports whether DecodeDataURL takes raw, without keeping
// the decoded bytes when the fast form applies (validation walks every
// inline file of a config, and the files stage decodes each again).
func CheckDataURL(raw string) error {
	if data, b64, ok := splitData(raw); ok {
		if b64 {
			ok = padded(data)
		} else {
			_, ok = unescapeData(data, false)
		}
		if ok {
			return nil
		}
	}
	_, err := DecodeDataURL(raw)
	return err
}

// padded reports whether base64 characters s are what the padded
// standard encoding decodes: whole quanta of four, '=' only as the last
// one or two characters.
func padded(s string) bool {
	n := len(s)
	if n%4 != 0 {
		return false
	}
	if i := strings.IndexByte(s, '='); i >= 0 {
		return i >= n-2 && (i == n-1 || s[n-1] == '=')
	}
	return true
}

// unescapeData percent-decodes s; a malformed escape or a byte outside
// printable ASCII is not taken. With keep false it only checks (nil out).
func unescapeData(s string, keep bool) ([]byte, bool) {
	var out []byte
	if keep {
		out = make([]byte, 0, len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e {
			return nil, false
		}
		if c == '%' {
			if i+2 >= len(s) {
				return nil, false
			}
			h, l := unhex(s[i+1]), unhex(s[i+2])
			if h < 0 || l < 0 {
				return nil, false
			}
			c = byte(h<<4 | l)
			i += 2
		}
		if keep {
			out = append(out, c)
		}
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
