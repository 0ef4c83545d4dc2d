package providers

import (
	"context"
	"fmt"

	"github.com/flintboot/flint/resource"
)

// oraclecloud: base64 user data from the OCI IMDSv2 endpoint, which wants
// "Authorization: Bearer Oracle"; 429 is retried; 404 = none.
type oraclecloud struct{}

func (oraclecloud) Name() string { return "oraclecloud" }

func (oraclecloud) Fetch(ctx context.Context, env *Env) ([]byte, error) {
	src := get(env.endpoint("http://169.254.169.254/opc/v2/instance/metadata/user_data"),
		resource.Header{Name: "Authorization", Value: "Bearer Oracle"})
	src.RetryCodes = []int{429}
	b, err := fetchHTTP(ctx, env, src, notFoundIsEmpty)
	if err != nil {
		return nil, err
	}
	out, err := decodeBase64(b)
	if err != nil {
		return nil, fmt.Errorf("oraclecloud user data: %w", err)
	}
	return nonEmpty(out)
}
