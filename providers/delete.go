package providers

import (
	"context"
	"fmt"

	"github.com/flintboot/flint/log"
	"github.com/flintboot/flint/resource"
)

// DeleteConfig removes the config from the hypervisor of platform after
// provisioning (vmware, virtualbox), like Ignition's ignition-rmcfg. An id
// not in the table wraps ErrUnknownPlatform; a platform that cannot do it
// wraps ErrNotSupported.
func DeleteConfig(ctx context.Context, platform string, l *log.Logger) error {
	p, err := Lookup(platform)
	if err != nil {
		return err
	}
	d, ok := p.(ConfigDeleter)
	if !ok {
		return fmt.Errorf("cannot delete config on this platform (%s): %w", p.Name(), ErrNotSupported)
	}
	f, err := resource.New(resource.Options{Log: l})
	if err != nil {
		return err
	}
	if err := d.DelConfig(ctx, NewEnv(f, nil, l)); err != nil {
		return fmt.Errorf("deleting config on %s: %w", p.Name(), err)
	}
	return nil
}
