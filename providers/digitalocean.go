package providers

import "context"

// digitalocean: user data from the droplet metadata service. Unlike most
// platforms a 404 is an error, not "no user data".
type digitalocean struct{}

func (digitalocean) Name() string { return "digitalocean" }

func (digitalocean) Fetch(ctx context.Context, env *Env) ([]byte, error) {
	return fetchHTTP(ctx, env, get(env.endpoint("http://169.254.169.254/metadata/v1/user-data")), notFoundIsError)
}
