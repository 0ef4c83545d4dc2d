package config

import (
	"bytes"
	"encoding/json"
	"net/url"
	"reflect"
	"strings"
)

// RedactedMarker replaces every secret value in a redacted config.
const RedactedMarker = "<redacted>"

// Redacted returns a deep copy of cfg fit for logs, error output, result
// files and failure summaries: every field tagged secret in types.go is
// replaced (see the tag values there). Password hashes, header values, unit
// and drop-in bodies and custom clevis configs become RedactedMarker; every
// URL (resource sources, proxies, tang servers) loses its userinfo, query
// and fragment, and a data: URL is reduced to its media type; hashes of
// secret bodies (key files, data: URLs) become RedactedMarker. Empty values
// stay empty. cfg is not modified.
func Redacted(cfg Config) Config {
	out := reflect.New(reflect.TypeOf(cfg)).Elem()
	redactValue(out, reflect.ValueOf(cfg), "", false)
	return out.Interface().(Config)
}

// RedactedJSON is the JSON text of Redacted(cfg), on one line, with the
// marker written as it is (no HTML escaping).
func RedactedJSON(cfg Config) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(Redacted(cfg)); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// RedactURL returns raw fit for logs: no userinfo, no query, no fragment;
// a data: URL keeps only its media type ("data:text/plain,<redacted>");
// text that does not parse as a URL is RedactedMarker.
func RedactURL(raw string) string {
	if raw == "" {
		return ""
	}
	if len(raw) >= 5 && strings.EqualFold(raw[:5], "data:") {
		mt := raw[5:]
		if i := strings.IndexAny(mt, ",;"); i >= 0 {
			mt = mt[:i]
		} else {
			mt = ""
		}
		if strings.ContainsAny(mt, " \t\r\n") || len(mt) > 127 {
			mt = ""
		}
		return "data:" + mt + "," + RedactedMarker
	}
	u, err := url.Parse(raw)
	if err != nil {
		return RedactedMarker
	}
	u.User = nil
	u.RawQuery = ""
	u.ForceQuery = false
	u.Fragment = ""
	u.RawFragment = ""
	return u.String()
}

func isDataURL(s string) bool { return len(s) >= 5 && strings.EqualFold(s[:5], "data:") }

// redactValue copies src into dst, redacting leaves by tag (the secret tag
// of the field holding them). secretBody tells whether the resource being
// copied has a secret body, which makes its "digest" leaves secret.
func redactValue(dst, src reflect.Value, tag string, secretBody bool) {
	switch src.Kind() {
	case reflect.Pointer:
		if src.IsNil() {
			return
		}
		n := reflect.New(src.Type().Elem())
		redactValue(n.Elem(), src.Elem(), tag, secretBody)
		dst.Set(n)
	case reflect.Slice:
		if src.IsNil() {
			return
		}
		n := reflect.MakeSlice(src.Type(), src.Len(), src.Len())
		for i := 0; i < src.Len(); i++ {
			redactValue(n.Index(i), src.Index(i), tag, secretBody)
		}
		dst.Set(n)
	case reflect.String:
		dst.SetString(redactString(src.String(), tag, secretBody))
	case reflect.Struct:
		t := src.Type()
		// a resource whose source is a data: URL carries its body in
		// the config: the body, and so any hash of it, is secret
		body := secretBody
		for i := 0; i < t.NumField(); i++ {
			if t.Field(i).Tag.Get("secret") == "url" && isDataURL(stringOf(src.Field(i))) {
				body = true
			}
		}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			ftag := f.Tag.Get("secret")
			fbody := body || ftag == "key"
			redactValue(dst.Field(i), src.Field(i), ftag, fbody)
		}
	default:
		dst.Set(src)
	}
}

func stringOf(v reflect.Value) string {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return ""
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.String {
		return ""
	}
	return v.String()
}

func redactString(s, tag string, secretBody bool) string {
	if s == "" {
		return s
	}
	switch tag {
	case "true":
		return RedactedMarker
	case "url":
		return RedactURL(s)
	case "digest":
		if secretBody {
			return RedactedMarker
		}
	}
	return s
}
