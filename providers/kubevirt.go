package providers

import (
	"context"
	"errors"
	"fmt"
)

// kubevirt: a NoCloud drive (cidata, /user-data) or an OpenStack config
// drive (config-2, /openstack/latest/user_data), whichever appears first;
// waits until one does.
type kubevirt struct{}

func (kubevirt) Name() string { return "kubevirt" }

func (kubevirt) Fetch(ctx context.Context, env *Env) ([]byte, error) {
	env.fill()
	b, err := race(ctx, env, map[string]func(context.Context) ([]byte, error){
		"nocloud drive": func(ctx context.Context) ([]byte, error) { return fetchDrive(ctx, env, noCloudDrive, 0) },
		"config drive":  func(ctx context.Context) ([]byte, error) { return fetchDrive(ctx, env, configDrive, 0) },
	})
	if err != nil && !errors.Is(err, ErrNoConfig) {
		return nil, fmt.Errorf("kubevirt: %w", err)
	}
	return b, err
}
