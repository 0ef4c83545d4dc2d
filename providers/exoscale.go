package providers

import "context"

// exoscale: user data from the CloudStack-style metadata service; 404 = none.
type exoscale struct{}

func (exoscale) Name() string { return "exoscale" }

func (exoscale) Fetch(ctx context.Context, env *Env) ([]byte, error) {
	return fetchHTTP(ctx, env, get(env.endpoint("http://169.254.169.254/1.0/user-data")), notFoundIsEmpty)
}
