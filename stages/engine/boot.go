package engine

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/flintboot/flint/config"
	"github.com/flintboot/flint/log"
	"github.com/flintboot/flint/providers"
	"github.com/flintboot/flint/resource"
	"github.com/flintboot/flint/stages"
	"github.com/flintboot/flint/stages/fetch"
	"github.com/flintboot/flint/stages/files"
	"github.com/flintboot/flint/stages/report/post"
	"github.com/flintboot/flint/system"
)

// FailureFile is the failure summary's name in the run directory, shown on
// the console by flint-failure.service in the emergency target.
const FailureFile = "failure.txt"

// RunOptions are one `flint run --stage S` invocation: what the initramfs
// units call, one stage per process.
type RunOptions struct {
	Stage    string
	Platform string // canonical platform id
	Root     string
	// ConfigCache, StateFile and NeedNet default to the Paths' locations.
	ConfigCache, StateFile, NeedNet string
	// FetchTimeout bounds the initial fetch of the user config.
	FetchTimeout time.Duration
	Paths        system.Paths
	Version      string
	Log          *log.Logger
	// Stderr receives the failure summary.
	Stderr io.Writer
}

// SetupError is a failure to start the work at all (state file, fetcher):
// the cli maps it to its own exit code.
type SetupError struct{ Err error }

func (e *SetupError) Error() string { return e.Err.Error() }
func (e *SetupError) Unwrap() error { return e.Err }

// Run runs one stage of the first boot:
//
//   - load the state the earlier stages left (stage records, LUKS keys);
//   - set up the fetcher, with the platform's credentials where it has any;
//   - acquire the config: fetch-offline and fetch find, render and cache
//     the user config (fetch-offline creates the need-network flag instead
//     of failing when the config needs the network); the later stages read
//     the cache and merge it over the base configs again;
//   - the interrupted-first-boot guard around disks, mount and files;
//   - plan and apply the stage; after files, write the result files and
//     clear the in-progress stamp;
//   - report the outcome to the platform (where it has a status hook), save
//     the state, and on failure print the one-paragraph summary to Stderr and
//     <run dir>/failure.txt.
func Run(ctx context.Context, o RunOptions) error {
	if o.ConfigCache == "" {
		o.ConfigCache = o.Paths.ConfigCache()
	}
	if o.StateFile == "" {
		o.StateFile = o.Paths.StateFile()
	}
	if o.NeedNet == "" {
		o.NeedNet = o.Paths.NeedNetFlag()
	}
	o.Log = o.Log.WithStage(o.Stage) // FLINT_STAGE on every journal entry
	st, err := Lookup(o.Stage)
	if err != nil {
		return &SetupError{err}
	}
	state, err := stages.LoadState(o.StateFile)
	if err != nil {
		return &SetupError{err}
	}
	offline := o.Stage == "fetch-offline"
	fetcher, err := resource.New(resource.Options{Offline: offline, Log: o.Log})
	if err != nil {
		return &SetupError{fmt.Errorf("creating fetcher: %w", err)}
	}
	runner := system.NewRunner(o.Log, providers.Tools(system.ToolsFromEnv()))
	c := &stages.Context{Root: o.Root, Platform: o.Platform, Log: o.Log, State: state, Fetcher: fetcher,
		Runner: runner, Paths: o.Paths, AuthorizedKeysFragment: files.DefaultAuthorizedKeysFragment(), Version: o.Version}
	env := providers.NewEnv(fetcher, runner, o.Log)

	start := time.Now()
	ran := false // the stage itself ran and recorded its outcome
	err = prepareBoot(ctx, c, env, o)
	if err == nil && (o.Stage == "fetch-offline" || o.Stage == "fetch") {
		// issue 15: the redacted effective config, for flint collect-logs
		if serr := stages.SaveRedactedConfig(o.Paths, c.Config); serr != nil {
			o.Log.Warn("%v", serr)
		}
	}
	if err == nil {
		ran = true
		err = runStageOfBoot(ctx, c, st, o)
	}
	rec := stages.StageRecord{Name: o.Stage, Status: "succeeded", Started: start.UTC()}
	if errors.Is(err, errNeedNet) {
		err = writeNeedNet(o.NeedNet, o.Log)
	} else if err != nil {
		rec.Status, rec.Error = "failed", stages.RedactText(err.Error())
	}
	if !ran {
		// acquisition or the guard decided before the stage ran
		rec.DurationMS = time.Since(start).Milliseconds()
		rec.OpSummary = o.Log.TakeOps()
		state.Stages = append(state.Stages, rec)
	}
	reportStatus(ctx, env, o, err)
	if serr := state.Save(o.StateFile); serr != nil {
		o.Log.Error("%v", serr)
		if err == nil {
			err = serr
		}
	}
	d := time.Since(start).Round(time.Millisecond)
	summary := ""
	if err != nil {
		o.Log.Crit("flint run --stage %s failed after %s", o.Stage, d)
		summary = reportFailure(o, err)
	} else {
		o.Log.Info("flint run --stage %s finished successfully in %s", o.Stage, d)
	}
	// issue 15: the opt-in report to flint.report.url, bounded by post.Bound
	if u := post.URL(readCmdline(o.Paths)); u != "" && (err != nil || o.Stage == post.LastStage) {
		post.Send(ctx, post.Options{URL: u, Root: o.Root, Paths: o.Paths, Platform: o.Platform, Version: o.Version,
			State: state, Stage: o.Stage, Failure: summary, Log: o.Log})
	}
	return err
}

// prepareBoot acquires the config into c and runs the interrupted-first-
// boot guard, everything before the stage itself.
func prepareBoot(ctx context.Context, c *stages.Context, env *providers.Env, o RunOptions) error {
	fetching := o.Stage == "fetch-offline" || o.Stage == "fetch"
	if !fetching && !exists(o.ConfigCache) {
		return cacheMissing(o.ConfigCache)
	}
	if o.Stage != "fetch-offline" {
		configureFetcher(ctx, env, o.Platform, c.Fetcher, o.Log)
	}
	a := &acquisition{src: ConfigSource{Platform: o.Platform, FetchTimeout: o.FetchTimeout}, fetcher: c.Fetcher, env: env,
		baseDirs: o.Paths.ConfigDirs(), log: o.Log, cache: o.ConfigCache, needNetOK: o.Stage == "fetch-offline"}
	acq, err := a.acquire(ctx)
	if err != nil {
		return err
	}
	c.Config = acq.Effective
	c.UserConfigProvided = acq.UserProvided
	if a.fromProvider {
		c.State.ProviderFiles = nil
		for _, f := range a.providerFiles {
			c.State.ProviderFiles = append(c.State.ProviderFiles, stages.ProviderFile{Path: f.Path, Mode: uint32(f.Mode.Perm()), Data: f.Data})
		}
	}
	if o.Stage == "files" {
		addProviderFiles(c)
	}
	if fetching {
		c.State.FetchedConfigs = acq.Fetched
	} else {
		for _, fc := range c.State.FetchedConfigs {
			if fc.Kind == "user" {
				c.UserConfigProvided = true
			}
		}
	}
	g := &guard{c: c, stage: o.Stage, cmdline: readCmdline(o.Paths)}
	switch o.Stage {
	case "disks":
		return g.early(ctx)
	case "mount", "files":
		return g.check()
	}
	return nil
}

// addProviderFiles appends the files the platform handed over at fetch
// time to the config's files, as Ignition does with its provider output
// files: data URLs, overwritten if present.
func addProviderFiles(c *stages.Context) {
	for _, f := range c.State.ProviderFiles {
		src := "data:;base64," + base64.StdEncoding.EncodeToString(f.Data)
		mode := int(f.Mode)
		overwrite := true
		c.Config.Storage.Files = append(c.Config.Storage.Files, config.File{
			Node:          config.Node{Path: f.Path, Overwrite: &overwrite},
			FileEmbedded1: config.FileEmbedded1{Contents: config.Resource{Source: &src}, Mode: &mode},
		})
	}
}

// runStageOfBoot plans and applies the stage, then finishes what follows
// it: the need-network flag after fetch-offline; the result files and the
// stamp's removal after files.
func runStageOfBoot(ctx context.Context, c *stages.Context, st stages.Stage, o RunOptions) error {
	if err := runStage(ctx, c, st); err != nil {
		return err
	}
	switch o.Stage {
	case "fetch-offline":
		if len(fetch.NeedsNetwork(c.Config)) > 0 {
			return errNeedNet
		}
	case "files":
		g := &guard{c: c, stage: o.Stage}
		return g.clear()
	}
	return nil
}

// configureFetcher runs the platform's hooks that prepare the fetcher:
// Init (e.g. aws: the IMDS token and the region) and ConfigureFetcher
// (aws: instance-role credentials and the S3 region; gcp: the metadata
// server's token for gs://). A failure is logged: fetches then go out
// anonymously, which works for public objects.
func configureFetcher(ctx context.Context, env *providers.Env, platform string, f *resource.Fetcher, l *log.Logger) {
	p, err := providers.Lookup(platform)
	if err != nil {
		return
	}
	if in, ok := p.(providers.Initer); ok {
		if err := in.Init(ctx, env); err != nil {
			l.Warn("%s: preparing the platform for fetching: %v", p.Name(), err)
			return
		}
	}
	fc, ok := p.(providers.FetcherConfigurer)
	if !ok {
		return
	}
	opts := f.Options()
	if err := fc.ConfigureFetcher(ctx, env, &opts); err != nil {
		l.Warn("%s: no platform credentials for the fetcher, fetching anonymously: %v", p.Name(), err)
		return
	}
	if err := f.SetOptions(opts); err != nil {
		l.Warn("%s: applying platform credentials: %v", p.Name(), err)
	}
}

// reportStatus tells the platform how the stage went, where the platform
// has a status hook (packet's phone-home), after every stage as Ignition
// does: success, or the failure with its error redacted. Failures of the
// report itself are logged, never fatal.
func reportStatus(ctx context.Context, env *providers.Env, o RunOptions, stageErr error) {
	p, err := providers.Lookup(o.Platform)
	if err != nil {
		return
	}
	sr, ok := p.(providers.StatusReporter)
	if !ok || errors.Is(stageErr, errNeedNet) {
		return
	}
	if env.Fetcher.Options().Offline {
		// fetch-offline: the platform is out of reach (Ignition tries and
		// logs the failure)
		o.Log.Debugf("%s: no status report from the %s stage (no network yet)", p.Name(), o.Stage)
		return
	}
	var redacted error
	if stageErr != nil {
		redacted = errors.New(stages.RedactText(stageErr.Error()))
	}
	if err := sr.Status(ctx, env, o.Stage, redacted); err != nil {
		o.Log.Warn("%s: reporting the %s stage to the platform: %v", p.Name(), o.Stage, err)
	}
}

func writeNeedNet(flag string, l *log.Logger) error {
	if err := os.MkdirAll(filepath.Dir(flag), 0o755); err != nil {
		return stages.Op("creating the need-network flag", err)
	}
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		return stages.Op("creating the need-network flag", err)
	}
	l.Info("created %s: networking is needed for the fetch stage", flag)
	return nil
}

// reportFailure prints the one-paragraph summary to stderr and writes it to
// the failure file for flint-failure.service; it returns the summary.
func reportFailure(o RunOptions, err error) string {
	text := stages.FailureSummary(o.Stage, err)
	if o.Stderr != nil {
		fmt.Fprint(o.Stderr, text)
	}
	p := filepath.Join(o.Paths.RunDir, FailureFile)
	if merr := os.MkdirAll(o.Paths.RunDir, 0o755); merr == nil {
		if werr := system.WriteFileAtomic(p, strings.NewReader(text), 0o644); werr != nil {
			o.Log.Error("writing %s: %v", p, werr)
		}
	}
	return text
}
