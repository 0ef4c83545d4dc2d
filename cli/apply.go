package cli

import (
	"bufio"
	"errors"

	"github.com/flintboot/flint/resource"
	"github.com/flintboot/flint/stages/engine"
	"github.com/flintboot/flint/system"
)

// applyOptions parses the flags apply and plan share:
// [--root DIR] [--platform ID] [--offline] [--ignore-unsupported]
// [--all-stages] [--base-configs] [--debug] CONFIG|-
func applyOptions(e *Env, name string) (engine.Options, error) {
	fs := newFlags(e, name)
	o := engine.Options{Paths: system.PathsFromEnv(), Version: Version}
	var baseConfigs, debug bool
	fs.StringVar(&o.Root, "root", "/", "target root directory")
	fs.StringVar(&o.Platform, "platform", "", "platform id for base.platform.d (with --base-configs)")
	fs.BoolVar(&o.Offline, "offline", false, "fail if the config needs the network")
	fs.BoolVar(&o.IgnoreUnsupported, "ignore-unsupported", false, "skip disks, raid, luks, filesystems and kernelArguments instead of failing")
	fs.BoolVar(&o.AllStages, "all-stages", false, "also run the kargs, disks, mount and umount stages (real devices)")
	fs.BoolVar(&baseConfigs, "base-configs", false, "merge the config over the system base configs (base.d, base.platform.d)")
	fs.BoolVar(&debug, "debug", false, "log debug messages")
	fs.DurationVar(&o.Fetch.Limit, "resource-timeout", resource.DefaultApplyLimit, "give up on a resource after this long, retries included (0: never)")
	raw, err := oneInput(e, fs, "CONFIG")
	if err != nil {
		return o, err
	}
	if o.Root == "" {
		return o, UsageError(errors.New("--root must not be empty"))
	}
	o.Raw, o.Source = raw, fs.Arg(0)
	o.Log = logger(e.Stderr, debug)
	if baseConfigs {
		o.BaseDirs = o.Paths.ConfigDirs()
	}
	return o, nil
}

// runApply provisions a root directory (or, with --all-stages, real
// devices) with a config.
func runApply(e *Env) error {
	o, err := applyOptions(e, "apply")
	if err != nil {
		return err
	}
	if o.Log.UseProgressLine() { // stderr is a terminal
		defer o.Log.EndProgress()
	}
	if err := engine.Apply(e.Ctx, o); err != nil {
		return &ExitError{Code: ExitFailure, Err: err}
	}
	o.Log.Info("flint apply finished successfully")
	return nil
}

// runPlan prints every action apply would take and changes nothing.
func runPlan(e *Env) error {
	o, err := applyOptions(e, "plan")
	if err != nil {
		return err
	}
	plans, err := engine.Plan(e.Ctx, o)
	// one write per buffer, not two per action (20,000 entries: 40,000 writes)
	w := bufio.NewWriterSize(e.Stdout, 64<<10)
	engine.PrintPlan(w, plans)
	w.Flush()
	if err != nil {
		return &ExitError{Code: ExitFailure, Err: err}
	}
	return nil
}
