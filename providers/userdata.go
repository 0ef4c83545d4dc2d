package providers

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/flintboot/flint/log"
	"github.com/flintboot/flint/resource"
)

// endpoint returns def with scheme://host[:port] replaced by env.MetadataBase
// when that is set (tests point every platform at one loopback server).
func (e *Env) endpoint(def string) string {
	if e.MetadataBase == "" {
		return def
	}
	return rebase(e.MetadataBase, def)
}

// rebase replaces the scheme and host of u by those of base, keeping path
// and query. A malformed u is returned unchanged.
func rebase(base, u string) string {
	pu, err := url.Parse(u)
	if err != nil {
		return u
	}
	b, err := url.Parse(base)
	if err != nil || b.Host == "" {
		return u
	}
	pu.Scheme = b.Scheme
	pu.Host = b.Host
	pu.User = nil
	if prefix := strings.TrimSuffix(b.Path, "/"); prefix != "" {
		pu.Path = prefix + pu.Path
		pu.RawPath = ""
	}
	return pu.String()
}

// notFound says what a 404 from a metadata service means on a platform.
type notFound int

const (
	notFoundIsEmpty notFound = iota // 404 = no user data = ErrNoConfig
	notFoundIsError                 // 404 is an error (digitalocean, ...)
)

// fetchHTTP fetches src through the one fetcher with the size cap and maps
// a 404 as the platform wants. Empty bodies become ErrNoConfig.
func fetchHTTP(ctx context.Context, env *Env, src resource.Source, nf notFound) ([]byte, error) {
	b, err := env.Fetcher.FetchBytes(ctx, src, MaxConfigSize)
	switch {
	case err == nil:
	case errors.Is(err, resource.ErrNotFound) && nf == notFoundIsEmpty:
		env.Log.Info("%s: no user data (404)", log.Redact(src.URL))
		return nil, ErrNoConfig
	case errors.Is(err, resource.ErrTooLarge):
		return nil, fmt.Errorf("user data from %s is larger than %d bytes: %w", log.Redact(src.URL), MaxConfigSize, err)
	default:
		return nil, err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		env.Log.Info("%s: user data is empty", log.Redact(src.URL))
		return nil, ErrNoConfig
	}
	return b, nil
}

// get is a plain GET of a metadata URL with optional headers.
func get(url string, headers ...resource.Header) resource.Source {
	return resource.Source{URL: url, Headers: headers}
}

// IsCloudConfig reports whether user data is meant for cloud-init /
// coreos-cloudinit rather than flint: it starts with "#cloud-config" or
// "#!" (a script), possibly gzip-compressed. Flatcar treats such user data
// as "no config".
func IsCloudConfig(raw []byte) bool {
	b := raw
	if isGzip(b) {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return false
		}
		head := make([]byte, len("#cloud-config"))
		n, _ := io.ReadFull(zr, head)
		b = head[:n]
	}
	return bytes.HasPrefix(b, []byte("#cloud-config")) || bytes.HasPrefix(b, []byte("#!"))
}

func isGzip(b []byte) bool { return len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b }

// gunzip decompresses b, refusing output larger than MaxConfigSize.
func gunzip(b []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("decompressing gzip data: %w", err)
	}
	out, err := io.ReadAll(io.LimitReader(zr, MaxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("decompressing gzip data: %w", err)
	}
	if len(out) > MaxConfigSize {
		return nil, fmt.Errorf("decompressed data exceeds %d bytes: %w", MaxConfigSize, resource.ErrTooLarge)
	}
	return out, nil
}

// decodeBase64 accepts standard base64 with or without padding and with
// embedded line breaks (as metadata services and hypervisors hand it out).
func decodeBase64(s []byte) ([]byte, error) {
	clean := bytes.Map(func(r rune) rune {
		switch r {
		case '\n', '\r', ' ', '\t':
			return -1
		}
		return r
	}, s)
	out, err := base64.StdEncoding.DecodeString(string(clean))
	if err != nil {
		out, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(string(clean), "="))
	}
	if err != nil {
		return nil, fmt.Errorf("decoding base64: %w", err)
	}
	return out, nil
}

// nonEmpty turns empty (or whitespace-only) data into ErrNoConfig.
func nonEmpty(b []byte) ([]byte, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, ErrNoConfig
	}
	return b, nil
}
