package providers

import "context"

// powervs (IBM Power Virtual Server): the config-2 drive's
// /openstack/latest/user_data; waits for the drive indefinitely.
type powervs struct{}

func (powervs) Name() string { return "powervs" }

func (powervs) Fetch(ctx context.Context, env *Env) ([]byte, error) {
	env.fill()
	return fetchDrive(ctx, env, configDrive, env.timeout("powervs.drive", 0))
}
