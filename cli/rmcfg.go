package cli

import (
	"errors"
	"fmt"

	"github.com/flintboot/flint/providers"
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
	err := providers.DeleteConfig(e.Ctx, *platform, logger(e.Stderr, false))
	if errors.Is(err, providers.ErrUnknownPlatform) {
		return UsageError(err)
	}
	if err == nil {
		fmt.Fprintf(e.Stdout, "config deleted on %s\n", *platform)
	}
	return err
}
