package providers

import "context"

// aliyun (Alibaba Cloud): user data from the metadata service; 404 = none.
type aliyun struct{}

func (aliyun) Name() string { return "aliyun" }

func (aliyun) Fetch(ctx context.Context, env *Env) ([]byte, error) {
	return fetchHTTP(ctx, env, get(env.endpoint("http://100.100.100.200/latest/user-data")), notFoundIsEmpty)
}
