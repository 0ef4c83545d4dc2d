package providers

import "context"

// hetzner: user data from the Hetzner Cloud metadata service; 404 = none.
type hetzner struct{}

func (hetzner) Name() string { return "hetzner" }

func (hetzner) Fetch(ctx context.Context, env *Env) ([]byte, error) {
	return fetchHTTP(ctx, env, get(env.endpoint("http://169.254.169.254/hetzner/v1/userdata")), notFoundIsEmpty)
}
