package providers

import "context"

// azurestack: only the OVF custom data, on a UDF or ISO9660 disc, waited
// for indefinitely.
type azurestack struct{}

func (azurestack) Name() string { return "azurestack" }

func (azurestack) Fetch(ctx context.Context, env *Env) ([]byte, error) {
	env.fill()
	return fetchAzureOVF(ctx, env, []string{"udf", "iso9660"}, env.timeout("azurestack.ovf", 0))
}
