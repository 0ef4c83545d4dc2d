package cli

import (
	"errors"
	"fmt"

	"github.com/flintboot/flint/log"
	"github.com/flintboot/flint/providers"
	"github.com/flintboot/flint/resource"
)

// runRmcfg deletes the config from the hypervisor after provisioning
// (vmware, virtualbox), like Ignition's ignition-rmcfg.
func runRmcfg(e *Env) error {
	fs := newFlags(e, "rmcfg")
	platform := fs.String("platform", "", "platform id (vmware, virtualbox)")
	if err := parseFlags(fs, e.Args); err != nil {
		return err
	}
	if *platform == "" || fs.NArg() != 0 {
		return UsageError(errors.New("usage: flint rmcfg --platform ID"))
	}
	p, err := providers.Lookup(*platform)
	if err != nil {
		return UsageError(err)
	}
	d, ok := p.(providers.ConfigDeleter)
	if !ok {
		return fmt.Errorf("cannot delete config on this platform (%s)", p.Name())
	}
	l := log.New(e.Stderr)
	f, err := resource.New(resource.Options{Log: l})
	if err != nil {
		return &ExitError{Code: ExitSetup, Err: err}
	}
	if err := d.DelConfig(e.Ctx, providers.NewEnv(f, nil, l)); err != nil {
		return fmt.Errorf("deleting config on %s: %w", p.Name(), err)
	}
	fmt.Fprintf(e.Stdout, "config deleted on %s\n", p.Name())
	return nil
}
