package config

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"hash"
	"io"
	"strings"
)

// Contents that live in the config itself (data: URLs) can be checked
// before anything is written: a wrong hash, broken gzip or a CA bundle
// without a certificate would only fail in apply otherwise. The reference
// leaves all of these to its run time; flint refuses them in validate
// (docs/validation.md).

// maxInlineInflate bounds how much a gzip data: URL is inflated while
// validating (a gzip bomb inside a config stops here; apply streams it).
const maxInlineInflate = 256 << 20

var (
	ErrInlineHashMismatch = errors.New("the data: URL's contents do not match verification.hash")
	ErrInlineGzip         = errors.New("the data: URL's contents are not valid gzip")
	ErrCANoCertificate    = errors.New("certificate authority bundle holds no PEM certificate")
)

// inlineContents decodes a data: source (nil when s is not one).
func inlineContents(s *string) ([]byte, bool) {
	if s == nil || !strings.HasPrefix(*s, "data:") {
		return nil, false
	}
	d, err := DecodeDataURL(*s)
	if err != nil {
		return nil, false // reported by the URL rule
	}
	return d, true
}

// inline checks a resource whose contents are in the config: the
// decompressed contents against the hash, and that gzip inflates.
func (v *validator) inline(r *Resource, p []any) {
	if r.Verification.Hash == nil && (r.Compression == nil || *r.Compression != "gzip") {
		return
	}
	data, ok := inlineContents(r.Source)
	if !ok {
		return
	}
	var src io.Reader = bytes.NewReader(data)
	if r.Compression != nil && *r.Compression == "gzip" {
		zr, err := gzip.NewReader(src)
		if err != nil {
			v.errIn(ErrInlineGzip, p, "source")
			return
		}
		src = io.LimitReader(zr, maxInlineInflate)
	}
	var h hash.Hash = nopHash{}
	want := ""
	if r.Verification.Hash != nil {
		fn, sum, _ := strings.Cut(*r.Verification.Hash, "-")
		switch {
		case fn == "sha512" && len(sum) == 128:
			h = sha512.New()
		case fn == "sha256" && len(sum) == 64:
			h = sha256.New()
		default:
			return // malformed: reported by the hash rule
		}
		want = strings.ToLower(sum)
	}
	n, err := io.Copy(h, src)
	switch {
	case err != nil:
		v.errIn(ErrInlineGzip, p, "source")
	case n == maxInlineInflate:
		// too large to check here; apply verifies while streaming
	case want != "" && hex.EncodeToString(h.Sum(nil)) != want:
		v.errIn(ErrInlineHashMismatch, p, "verification", "hash")
	}
}

type nopHash struct{ io.Writer }

func (nopHash) Write(b []byte) (int, error) { return len(b), nil }
func (nopHash) Sum(b []byte) []byte         { return b }
func (nopHash) Reset()                      {}
func (nopHash) Size() int                   { return 0 }
func (nopHash) BlockSize() int              { return 1 }

// caContents checks a certificate authority whose bundle is in the config
// (or empty): it must hold at least one PEM certificate.
func (v *validator) caContents(r *Resource, p []any) {
	var data []byte
	switch {
	case r.Source == nil || *r.Source == "":
		if v.ver.RequiredSources {
			return // reported as "source is required"
		}
	default:
		var ok bool
		if data, ok = inlineContents(r.Source); !ok {
			return // remote: checked when fetched
		}
		if r.Compression != nil && *r.Compression == "gzip" {
			zr, err := gzip.NewReader(bytes.NewReader(data))
			if err != nil {
				return // reported by inline
			}
			if data, err = io.ReadAll(io.LimitReader(zr, maxInlineInflate)); err != nil {
				return
			}
		}
	}
	for rest := data; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if _, err := x509.ParseCertificate(b.Bytes); err == nil {
			return
		}
	}
	v.errIn(ErrCANoCertificate, p, "source")
}
