// Package engine joins the stage packages: the ordered stage table, running
// one stage the way `flint run` does, and applying or planning a whole
// config against a root (`flint apply`, `flint plan`).
//
// It is a package of its own because each stage package imports stages
// for Context and Stage; the table that imports them all cannot live in
// stages itself.
package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/flintboot/flint/config"
	"github.com/flintboot/flint/log"
	"github.com/flintboot/flint/resource"
	"github.com/flintboot/flint/stages"
	"github.com/flintboot/flint/stages/fetch"
	"github.com/flintboot/flint/stages/files"
	"github.com/flintboot/flint/stages/kargs"
	"github.com/flintboot/flint/stages/mount"
	"github.com/flintboot/flint/system"
)

// Table returns every stage in the order they run during a boot.
func Table() []stages.Stage {
	return []stages.Stage{
		fetch.Stage{Offline: true},
		fetch.Stage{},
		kargs.New(),
		disksStage(),
		mount.Mount{},
		files.New(),
		mount.Umount{},
	}
}

// Names lists the stage names in order.
func Names() []string {
	var n []string
	for _, s := range Table() {
		n = append(n, s.Name())
	}
	return n
}

// Lookup returns the stage called name.
func Lookup(name string) (stages.Stage, error) {
	for _, s := range Table() {
		if s.Name() == name {
			return s, nil
		}
	}
	return nil, fmt.Errorf("unknown stage %q (stages: %s)", name, strings.Join(Names(), ", "))
}

// runStage plans and applies st, recording the outcome in c.State; after
// the files stage it writes the result files (a successful files stage
// made everything it wrote durable first; a failed one is recorded too).
func runStage(ctx context.Context, c *stages.Context, st stages.Stage) error {
	if err := stages.RunStage(ctx, c, st); err != nil {
		if st.Name() == "files" && ctx.Err() == nil {
			// a failed files stage is recorded in the result file too (flint
			// status, flint analyze); an interrupted one (SIGTERM, SIGINT)
			// leaves the root as it was, its record is in the state
			if werr := stages.WriteResult(c); werr != nil {
				c.Log.Warn("recording the failure in the result file: %v", werr)
			}
		}
		return err
	}
	if st.Name() == "files" {
		if err := stages.WriteResult(c); err != nil {
			return stages.Op("writing the result files", err)
		}
	}
	return nil
}

// Options configure Apply and Plan.
type Options struct {
	Root string
	// Raw is the config; Source names it in logs ("-" for stdin).
	Raw    []byte
	Source string
	// Offline refuses configs that need the network.
	Offline bool
	// IgnoreUnsupported skips the sections `apply` does not handle
	// (disks, raid, luks, filesystems, kernelArguments) with a warning
	// instead of failing.
	IgnoreUnsupported bool
	// AllStages runs kargs, disks, mount and umount as well: for image
	// builds with real (loop) devices.
	AllStages bool
	// BaseDirs are merged under the config (nil: none; see
	// system.Paths.ConfigDirs).
	BaseDirs []string
	Platform string
	// Runner defaults to system.NewRunner(Log, system.ToolsFromEnv()).
	Runner system.Runner
	Paths  system.Paths
	// Version is flint's version, for the result file.
	Version string
	// AuthorizedKeysFragment: nil = files.DefaultAuthorizedKeysFragment().
	AuthorizedKeysFragment *bool
	Log                    *log.Logger
	// Fetch overrides the fetcher options (tests: DialContext).
	Fetch resource.Options
}

// Unsupported lists the config sections `apply` cannot handle on a root
// directory without AllStages.
func Unsupported(cfg config.Config) []string {
	var u []string
	s := cfg.Storage
	if len(s.Disks) > 0 {
		u = append(u, "storage.disks")
	}
	if len(s.Raid) > 0 {
		u = append(u, "storage.raid")
	}
	if len(s.Luks) > 0 {
		u = append(u, "storage.luks")
	}
	if len(s.Filesystems) > 0 {
		u = append(u, "storage.filesystems")
	}
	if len(cfg.KernelArguments.ShouldExist)+len(cfg.KernelArguments.ShouldNotExist) > 0 {
		u = append(u, "kernelArguments")
	}
	return u
}

// ErrUnsupported is returned by Apply for sections it cannot apply live.
var ErrUnsupported = errors.New("cannot apply")

// prepared is an acquired config and the context to run it in.
type prepared struct {
	c      *stages.Context
	stages []stages.Stage
}

func prepare(ctx context.Context, o *Options) (*prepared, error) {
	if o.Root == "" {
		o.Root = "/"
	}
	root, err := filepath.Abs(o.Root)
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(root); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("root %s is not a directory", o.Root)
	}
	o.Root = root
	if o.Paths == (system.Paths{}) {
		o.Paths = system.PathsFromEnv()
	}
	if o.Runner == nil {
		o.Runner = system.NewRunner(o.Log, system.ToolsFromEnv())
	}
	fo := o.Fetch
	fo.Offline = o.Offline
	fo.Log = o.Log
	f, err := resource.New(fo)
	if err != nil {
		return nil, fmt.Errorf("creating fetcher: %w", err)
	}
	acq := &acquisition{src: ConfigSource{Platform: o.Platform, File: &stages.UserConfig{Raw: o.Raw, Source: o.Source}},
		fetcher: f, baseDirs: o.BaseDirs, log: o.Log}
	a, err := acq.acquire(ctx)
	if err != nil {
		return nil, err
	}
	cfg := a.Effective
	if o.Offline {
		if why := fetch.NeedsNetwork(cfg); len(why) > 0 {
			return nil, fmt.Errorf("config needs networking (%s) but --offline was given: %w", strings.Join(why, ", "), resource.ErrNeedNet)
		}
	}
	keys := files.DefaultAuthorizedKeysFragment()
	if o.AuthorizedKeysFragment != nil {
		keys = *o.AuthorizedKeysFragment
	}
	c := &stages.Context{Root: o.Root, Config: cfg, Platform: o.Platform, Log: o.Log, State: &stages.State{},
		Fetcher: f, Runner: o.Runner, Paths: o.Paths, AuthorizedKeysFragment: keys, UserConfigProvided: a.UserProvided,
		Version: o.Version}
	c.State.FetchedConfigs = a.Fetched
	p := &prepared{c: c}
	if o.AllStages {
		for _, s := range Table() {
			if s.Name() != "fetch-offline" {
				p.stages = append(p.stages, s)
			}
		}
		return p, nil
	}
	if u := Unsupported(cfg); len(u) > 0 {
		if !o.IgnoreUnsupported {
			return nil, fmt.Errorf("%w %s live: use --all-stages to run the kargs, disks and mount stages, or --ignore-unsupported to skip them", ErrUnsupported, strings.Join(u, ", "))
		}
		o.Log.Warn("ignoring %s (not applied live)", strings.Join(u, ", "))
		c.Config.Storage.Disks, c.Config.Storage.Raid, c.Config.Storage.Luks, c.Config.Storage.Filesystems = nil, nil, nil, nil
		c.Config.KernelArguments = config.KernelArguments{}
	}
	p.stages = []stages.Stage{fetch.Stage{}, files.New()}
	return p, nil
}

// Apply provisions o.Root with the config: fetch (references were
// rendered during acquisition), files, and with AllStages kargs, disks,
// mount and umount around it. The result files are written after files.
func Apply(ctx context.Context, o Options) error {
	p, err := prepare(ctx, &o)
	if err != nil {
		return err
	}
	c := p.c
	var umount stages.Stage
	defer func() {
		if umount != nil {
			if uerr := stages.RunStage(ctx, c, umount); uerr != nil {
				o.Log.Error("%v", uerr)
			}
		}
	}()
	for _, st := range p.stages {
		switch st.Name() {
		case "umount":
			continue
		case "mount":
			umount = mount.Umount{}
		}
		if err := runStage(ctx, c, st); err != nil {
			return err
		}
	}
	if umount != nil {
		u := umount
		umount = nil
		return stages.RunStage(ctx, c, u)
	}
	return nil
}

// StagePlan is one stage's planned actions.
type StagePlan struct {
	Stage   string
	Actions []stages.Action
}

// Plan acquires the config and asks every stage Apply would run for its
// plan. Nothing is changed on the machine.
func Plan(ctx context.Context, o Options) ([]StagePlan, error) {
	p, err := prepare(ctx, &o)
	if err != nil {
		return nil, err
	}
	var out []StagePlan
	for _, st := range p.stages {
		pl, err := stages.PlanStage(ctx, p.c, st)
		if err != nil {
			return out, err
		}
		out = append(out, StagePlan{Stage: st.Name(), Actions: pl.Actions()})
	}
	return out, nil
}

// PrintPlan writes plans as text: one header per stage, one line per action.
func PrintPlan(w io.Writer, plans []StagePlan) {
	for _, sp := range plans {
		fmt.Fprintf(w, "stage %s: %d actions\n", sp.Stage, len(sp.Actions))
		for _, a := range sp.Actions {
			fmt.Fprintf(w, "  %s\n", a)
		}
	}
}
