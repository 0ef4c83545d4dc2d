package cli

import (
	"errors"
	"fmt"
	"os"

	"github.com/flintboot/flint/log"
	"github.com/flintboot/flint/stages/engine"
	"github.com/flintboot/flint/system"
)

// applyFlags are shared by apply and plan.
type applyFlags struct {
	root, platform             string
	offline, ignoreUnsupported bool
	allStages, baseConfigs     bool
	debug                      bool
}

func parseApplyFlags(e *Env, name string) (*applyFlags, engine.Options, error) {
	fs := newFlags(e, name)
	f := &applyFlags{}
	fs.StringVar(&f.root, "root", "/", "target root directory")
	fs.StringVar(&f.platform, "platform", "", "platform id for base.platform.d (with --base-configs)")
	fs.BoolVar(&f.offline, "offline", false, "fail if the config needs the network")
	fs.BoolVar(&f.ignoreUnsupported, "ignore-unsupported", false, "skip disks, raid, luks, filesystems and kernelArguments instead of failing")
	fs.BoolVar(&f.allStages, "all-stages", false, "also run the kargs, disks, mount and umount stages (real devices)")
	fs.BoolVar(&f.baseConfigs, "base-configs", false, "merge the config over the system base configs (base.d, base.platform.d)")
	fs.BoolVar(&f.debug, "debug", false, "log debug messages")
	if err := parseFlags(fs, e.Args); err != nil {
		return nil, engine.Options{}, err
	}
	if fs.NArg() != 1 {
		return nil, engine.Options{}, UsageError(errors.New("expected exactly one CONFIG or -"))
	}
	if f.root == "" {
		return nil, engine.Options{}, UsageError(errors.New("--root must not be empty"))
	}
	if st, err := os.Stat(f.root); err != nil || !st.IsDir() {
		return nil, engine.Options{}, &ExitError{Code: ExitFailure, Err: fmt.Errorf("root %s is not a directory", f.root)}
	}
	raw, err := readInput(e, fs.Arg(0))
	if err != nil {
		return nil, engine.Options{}, &ExitError{Code: ExitFailure, Err: err}
	}
	l := log.New(e.Stderr)
	if !f.debug {
		l.SetLevel(log.LevelInfo)
	}
	o := engine.Options{Root: f.root, Raw: raw, Source: fs.Arg(0), Offline: f.offline,
		IgnoreUnsupported: f.ignoreUnsupported, AllStages: f.allStages, Platform: f.platform, Log: l,
		Paths: system.PathsFromEnv(), Version: Version}
	if f.baseConfigs {
		o.BaseDirs = o.Paths.ConfigDirs()
	}
	return f, o, nil
}

// runApply: flint apply [--root DIR] [--offline] [--ignore-unsupported]
// [--all-stages] [--base-configs] CONFIG|-
func runApply(e *Env) error {
	_, o, err := parseApplyFlags(e, "apply")
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
