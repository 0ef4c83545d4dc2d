package providers

import "context"

// upcloud: user data from the UpCloud metadata service; 404 = none.
type upcloud struct{}

func (upcloud) Name() string { return "upcloud" }

func (upcloud) Fetch(ctx context.Context, env *Env) ([]byte, error) {
	return fetchHTTP(ctx, env, get(env.endpoint("http://169.254.169.254/metadata/v1/user_data")), notFoundIsEmpty)
}
