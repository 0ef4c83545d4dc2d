package providers

import "context"

// vultr: user data from the Vultr metadata service; 404 = none.
type vultr struct{}

func (vultr) Name() string { return "vultr" }

func (vultr) Fetch(ctx context.Context, env *Env) ([]byte, error) {
	return fetchHTTP(ctx, env, get(env.endpoint("http://169.254.169.254/user-data/user-data")), notFoundIsEmpty)
}
