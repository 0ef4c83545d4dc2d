package providers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"cloud.google.com/go/compute/metadata"

	"github.com/flintboot/flint/resource"
)

// gcp (Google Compute Engine): the user-data instance attribute through
// cloud.google.com/go/compute/metadata (which sends Metadata-Flavor:
// Google); an undefined attribute (404) means none. ConfigureFetcher gives
// the fetcher a token source for gs:// when the default service account has
// a storage scope.
type gcp struct{}

func (gcp) Name() string { return "gcp" }

func gcpClient(env *Env) *metadata.Client {
	return metadata.NewWithOptions(&metadata.Options{Client: sdkHTTPClient(env)})
}

func (gcp) Fetch(ctx context.Context, env *Env) ([]byte, error) {
	env.fill()
	if env.Fetcher.Options().Offline {
		return nil, fmt.Errorf("gcp: %w", ErrNeedNet)
	}
	ctx, cancel := withTotal(ctx, env)
	defer cancel()
	v, err := gcpClient(env).GetWithContext(ctx, "instance/attributes/user-data")
	var nd metadata.NotDefinedError
	if errors.As(err, &nd) {
		env.Log.Info("gcp: no user-data attribute")
		return nil, ErrNoConfig
	}
	if err != nil {
		err = fmt.Errorf("gcp: fetching user-data attribute: %w", err)
		if ctx.Err() != nil {
			err = fmt.Errorf("%w: %w", resource.ErrTimeout, err)
		}
		return nil, err
	}
	if len(v) > MaxConfigSize {
		return nil, fmt.Errorf("gcp: user data is larger than %d bytes: %w", MaxConfigSize, resource.ErrTooLarge)
	}
	return nonEmpty([]byte(v))
}

// gcsScopes are the service-account scopes that allow reading objects.
var gcsScopes = []string{
	"https://www.googleapis.com/auth/devstorage.read_only",
	"https://www.googleapis.com/auth/devstorage.read_write",
	"https://www.googleapis.com/auth/devstorage.full_control",
	"https://www.googleapis.com/auth/cloud-platform",
}

// ConfigureFetcher installs GCSToken: the default service account's access
// token from the metadata server, when it has a storage scope.
func (gcp) ConfigureFetcher(ctx context.Context, env *Env, opts *resource.Options) error {
	env.fill()
	c := gcpClient(env)
	opts.GCSToken = func(ctx context.Context) (string, error) { return GCPToken(ctx, c) }
	return nil
}

// GCPToken returns the default service account's OAuth2 access token, or ""
// when the account lacks a storage scope (anonymous access).
func GCPToken(ctx context.Context, c *metadata.Client) (string, error) {
	scopes, err := c.GetWithContext(ctx, "instance/service-accounts/default/scopes")
	if err != nil {
		return "", fmt.Errorf("gcp: reading service account scopes: %w", err)
	}
	ok := false
	for _, s := range strings.Fields(scopes) {
		for _, want := range gcsScopes {
			if s == want {
				ok = true
			}
		}
	}
	if !ok {
		return "", nil
	}
	raw, err := c.GetWithContext(ctx, "instance/service-accounts/default/token")
	if err != nil {
		return "", fmt.Errorf("gcp: reading service account token: %w", err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal([]byte(raw), &tok); err != nil {
		return "", errors.New("gcp: the service account token is not a JSON object")
	}
	return tok.AccessToken, nil
}
