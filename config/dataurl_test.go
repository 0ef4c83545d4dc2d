package config

import (
	"bytes"
	"errors"
	"net/url"
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

// TestCheckDataURLMatchesDecode: the check validation uses agrees with
// the decoder on every base64 and percent-encoded body up to five
// characters (and a few of eight) over an alphabet that reaches each rule (padding anywhere,
// bad and good escapes, bytes outside printable ASCII).
func TestCheckDataURLMatchesDecode(t *testing.T) {
	bodies := []string{"", "AAAAAA==", "AAAAAAA=", "AAAA=AAA", "AAA=AAAA", "AAAAAA=A", "AA%41AA%"}
	for n := 1; n <= 4; n++ {
		next := bodies
		for _, b := range bodies {
			if len(b) != n-1 {
				continue
			}
			for _, c := range "Ab+=%4g \x7f" {
				next = append(next, b+string(c))
			}
		}
		bodies = next
	}
	for _, b := range bodies {
		for _, pre := range []string{"data:,", "data:;base64,", "data:text/plain;base64,", "data:text/plain,"} {
			u := pre + b
			_, derr := DecodeDataURL(u)
			if cerr := CheckDataURL(u); (cerr == nil) != (derr == nil) {
				t.Fatalf("%q: CheckDataURL %v, DecodeDataURL %v", u, cerr, derr)
			}
		}
	}
}

// TestValidateURLDataFastPath: ValidateURL answers for data URLs exactly
// as it does through url.Parse.
func TestValidateURLDataFastPath(t *testing.T) {
	slow := func(s string, schemes map[string]bool) error {
		u, err := url.Parse(s)
		if err != nil {
			return ErrInvalidURL
		}
		if !schemes[u.Scheme] {
			return ErrInvalidScheme
		}
		if u.Scheme == "data" {
			_, err := DecodeDataURL(s)
			return err
		}
		return nil
	}
	noData := map[string]bool{"http": true}
	for _, s := range []string{"data:,abc", "data:;base64,YQ==", "data:;base64,YQ=", "data:,a%zz", "data:,a\x01",
		"data:,a#frag", "data:,a#%zz", "data:/x,abc", "data:text/plain,a?b", "data:,a b", "data:?x,y", "data:"} {
		for _, sc := range []map[string]bool{nil, noData} {
			want := slow(s, sc)
			if sc == nil {
				want = slow(s, Versions[len(Versions)-1].Schemes)
			}
			got := ValidateURL(s, sc)
			if (got == nil) != (want == nil) || got != nil && !errors.Is(got, want) && got.Error() != want.Error() {
				t.Errorf("%q: fast %v, slow %v", s, got, want)
			}
		}
	}
}
