package providers

import (
	"context"
	"fmt"
	"strings"

	"github.com/flintboot/flint/resource"
)

// akamai (Linode): the metadata service wants a token (PUT /v1/token with
// an expiry header), then hands out base64 user data, possibly gzipped.
type akamai struct{}

func (akamai) Name() string { return "akamai" }

func (akamai) Fetch(ctx context.Context, env *Env) ([]byte, error) {
	tok, err := env.Fetcher.FetchBytes(ctx, resource.Source{
		URL:     env.endpoint("http://169.254.169.254/v1/token"),
		Method:  "PUT",
		Headers: []resource.Header{{Name: "Metadata-Token-Expiry-Seconds", Value: "300"}},
	}, 4096)
	if err != nil {
		return nil, fmt.Errorf("akamai: getting metadata token: %w", err)
	}
	b, err := fetchHTTP(ctx, env, get(env.endpoint("http://169.254.169.254/v1/user-data"),
		resource.Header{Name: "Metadata-Token", Value: strings.TrimSpace(string(tok))}), notFoundIsEmpty)
	if err != nil {
		return nil, err
	}
	out, err := DecodeAkamai(b)
	if err != nil {
		return nil, err
	}
	return nonEmpty(out)
}

// DecodeAkamai decodes Akamai user data: base64, then gunzip when the
// result is gzip data.
func DecodeAkamai(b []byte) ([]byte, error) {
	out, err := decodeBase64(b)
	if err != nil {
		return nil, fmt.Errorf("akamai user data: %w", err)
	}
	if isGzip(out) {
		if out, err = gunzip(out); err != nil {
			return nil, fmt.Errorf("akamai user data: %w", err)
		}
	}
	return out, nil
}
