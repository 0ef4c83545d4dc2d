package providers

import "context"

// nutanix: the config-2 drive's /openstack/latest/user_data; waits for the
// drive indefinitely.
type nutanix struct{}

func (nutanix) Name() string { return "nutanix" }

func (nutanix) Fetch(ctx context.Context, env *Env) ([]byte, error) {
	env.fill()
	return fetchDrive(ctx, env, configDrive, env.timeout("nutanix.drive", 0))
}
