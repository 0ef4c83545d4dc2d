package config

import (
	"bytes"
	"testing"

	"github.com/vincent-petithory/dataurl"
)

// The in-process decoder gives what the dataurl package gives, or leaves
// the URL to it.
func TestDecodeDataMatchesDataurl(t *testing.T) {
	for _, u := range []string{
		"data:,", "data:,hello", "data:,a%20b%3Dc%0A", "data:text/plain,x%2fy", "data:;base64,aGVsbG8=",
		"data:text/plain;base64,aGVsbG8gd29ybGQ=", "data:;base64,aGVs%62G8=", "data:,100%25", "data:,%zz",
		"data:,%4", "data:text/plain;charset=utf-8,%C3%A9", "data:application/octet-stream;base64,AAECAwQ=",
		"data:,+plus+", "data:;base64,!!!", "data:,\x00nul", "data:image/svg+xml,%3Csvg%3E", "data:;base64,aGVs\nbG8=", "data:;base64,aGVsbG8", "data:;base64,aGVsbA==",
	} {
		want, werr := dataurl.DecodeString(u)
		got, gerr := DecodeDataURL(u)
		if (werr != nil) != (gerr != nil) {
			t.Errorf("%q: dataurl error %v, flint error %v", u, werr, gerr)
			continue
		}
		if werr == nil && !bytes.Equal(got, want.Data) {
			t.Errorf("%q: flint %q, dataurl %q", u, got, want.Data)
		}
	}
}
