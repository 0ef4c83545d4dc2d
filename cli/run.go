package cli

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/flintboot/flint/providers"
	"github.com/flintboot/flint/stages/engine"
	"github.com/flintboot/flint/system"
)

// runRun is what the initramfs units call, one stage per process:
//
//	flint run --stage S --platform P [--root /sysroot] [--config-cache PATH]
//	          [--state-file PATH] [--neednet PATH] [--fetch-timeout 2m] [--log-to-stdout]
//
// Ignition's single-dash spellings (-stage=files, -platform qemu, ...) work
// too. The first-boot flow itself is engine.Run.
func runRun(e *Env) error {
	paths := system.PathsFromEnv()
	fs := newFlags(e, "run")
	o := engine.RunOptions{Paths: paths, Version: Version, Stderr: e.Stderr}
	var logToStdout, debug bool
	fs.StringVar(&o.Stage, "stage", "", "stage to run: "+strings.Join(engine.Names(), ", "))
	fs.StringVar(&o.Platform, "platform", "", "platform id (e.g. qemu, metal, aws)")
	fs.StringVar(&o.Platform, "oem", "", "alias of --platform (old Flatcar spelling)")
	fs.StringVar(&o.Root, "root", "/", "target root")
	fs.StringVar(&o.ConfigCache, "config-cache", paths.ConfigCache(), "rendered user config cache")
	fs.StringVar(&o.StateFile, "state-file", paths.StateFile(), "state passed between stages")
	fs.StringVar(&o.NeedNet, "neednet", paths.NeedNetFlag(), "flag file created when networking is needed")
	fs.DurationVar(&o.FetchTimeout, "fetch-timeout", 2*time.Minute, "total time for the initial config fetch")
	fs.BoolVar(&logToStdout, "log-to-stdout", false, "log to stdout instead of the journal")
	fs.BoolVar(&debug, "debug", false, "log debug messages too")
	if err := parseFlags(fs, e.Args); err != nil {
		return err
	}
	switch {
	case fs.NArg() != 0:
		return UsageError(fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	case o.Stage == "" || o.Platform == "":
		return UsageError(errors.New("--stage and --platform are required"))
	}
	if _, err := engine.Lookup(o.Stage); err != nil {
		return UsageError(err)
	}
	platform, err := providers.Canonical(o.Platform)
	if err != nil {
		return UsageError(fmt.Errorf("%s is not a valid platform (platforms: %s)", o.Platform, strings.Join(providers.IDs(), ", ")))
	}
	o.Platform = platform
	// the journal when there is one (unless --log-to-stdout), else stdout
	if o.Log = logger(e.Stdout, debug); !logToStdout && o.Log.UseJournal() {
		o.Log.Debugf("logging to the journal")
	}
	err = engine.Run(e.Ctx, o)
	var se *engine.SetupError
	switch {
	case errors.As(err, &se):
		o.Log.Crit("%s: %v", o.Stage, se.Err)
		fmt.Fprintf(e.Stderr, "flint: %s: %v\n", o.Stage, se.Err)
		return &ExitError{Code: ExitSetup}
	case err != nil:
		return &ExitError{Code: ExitFailure} // engine.Run printed the summary
	}
	return nil
}
