package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/flintboot/flint/config"
	"github.com/flintboot/flint/log"
	"github.com/flintboot/flint/providers"
	"github.com/flintboot/flint/resource"
	"github.com/flintboot/flint/stages"
	"github.com/flintboot/flint/stages/engine"
	"github.com/flintboot/flint/stages/files"
	"github.com/flintboot/flint/system"
)

// `flint run` is what the initramfs units call, one stage per process:
//
//	flint run --stage S --platform P [--root /sysroot] [--config-cache PATH]
//	          [--state-file PATH] [--neednet PATH] [--fetch-timeout 2m] [--log-to-stdout]
//
// Ignition's single-dash spellings (-stage=files, -platform qemu, ...) work
// too. The fetch stages (fetch-offline, fetch) acquire the user config
// (kernel command line, then user.ign in the system directories, then the
// platform), render its references, cache the rendered user config
// (0600, atomically) and merge it over the base configs; the later stages
// read the cache. fetch-offline creates the need-network flag instead of
// failing when the config or its resources need the network. The state
// file carries what one stage leaves for the next.
//
// On failure flint prints one paragraph (stage, operation, error, and the
// command for the full log) to stderr and to <run dir>/failure.txt, which
// flint-failure.service shows on the console in the emergency target.
//
// First boot in progress: the mount stage (the first stage that sees the
// target root) writes the stamp InProgressStamp into the target root
// before it changes anything there; a successful files stage removes it.
// The stamp records the boot id. When the mount or files stage finds a
// stamp left by another boot, a first boot was interrupted half way (power
// loss, reset, a crash after the disks were partitioned and formatted) and
// the disks may be half-provisioned: flint refuses to run again unless the
// kernel command line has flint.rerun=force. The disks stage, which may
// repartition and reformat, checks first: when root= names a device that
// exists already it looks for the stamp on a read-only mount of it. The stamp lives on the target
// root because that is the one place that survives a reboot, belongs to
// the machine being provisioned and goes away when the disks stage
// re-creates the root filesystem (a clean re-provisioning).

// InProgressStamp is the first-boot-in-progress stamp, relative to the
// target root.
const InProgressStamp = "/etc/.flint-in-progress"

// RerunForceArg on the kernel command line overrides the stamp check.
const RerunForceArg = "flint.rerun=force"

// FailureFile is the failure summary's name in the run directory.
const FailureFile = "failure.txt"

const defaultFetchTimeout = 2 * time.Minute

type runFlags struct {
	stage, platform, root           string
	configCache, stateFile, neednet string
	fetchTimeout                    time.Duration
	logToStdout, debug              bool
}

func runRun(e *Env) error {
	paths := system.PathsFromEnv()
	fs := newFlags(e, "run")
	f := &runFlags{}
	fs.StringVar(&f.stage, "stage", "", "stage to run: "+strings.Join(engine.Names(), ", "))
	fs.StringVar(&f.platform, "platform", "", "platform id (e.g. qemu, metal, aws)")
	fs.StringVar(&f.platform, "oem", "", "alias of --platform (old Flatcar spelling)")
	fs.StringVar(&f.root, "root", "/", "target root")
	fs.StringVar(&f.configCache, "config-cache", paths.ConfigCache(), "rendered user config cache")
	fs.StringVar(&f.stateFile, "state-file", paths.StateFile(), "state passed between stages")
	fs.StringVar(&f.neednet, "neednet", paths.NeedNetFlag(), "flag file created when networking is needed")
	fs.DurationVar(&f.fetchTimeout, "fetch-timeout", defaultFetchTimeout, "total time for the initial config fetch")
	fs.BoolVar(&f.logToStdout, "log-to-stdout", false, "log to stdout instead of the journal")
	fs.BoolVar(&f.debug, "debug", false, "log debug messages too")
	if err := parseFlags(fs, e.Args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return UsageError(fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	if f.stage == "" || f.platform == "" {
		return UsageError(errors.New("--stage and --platform are required"))
	}
	if _, err := engine.Lookup(f.stage); err != nil {
		return UsageError(err)
	}
	platform, err := providers.Canonical(f.platform)
	if err != nil {
		return UsageError(fmt.Errorf("%s is not a valid platform", f.platform))
	}

	l := log.New(e.Stderr)
	if f.logToStdout {
		l = log.New(e.Stdout)
	} else {
		l.UseJournal()
	}
	if !f.debug {
		l.SetLevel(log.LevelInfo)
	}
	log.SetDefault(l)
	stages.Version = Version

	r := &stageRun{f: f, platform: platform, paths: paths, log: l, stderr: e.Stderr}
	start := time.Now()
	err = r.run(e.Ctx)
	d := time.Since(start).Round(time.Millisecond)
	if err != nil {
		var ee *ExitError
		if errors.As(err, &ee) && ee.Code == ExitSetup {
			l.Crit("%s: %v", f.stage, ee.Err)
			fmt.Fprintf(e.Stderr, "flint: %s: %v\n", f.stage, ee.Err)
			return &ExitError{Code: ExitSetup}
		}
		l.Crit("flint run --stage %s failed after %s", f.stage, d)
		r.reportFailure(err)
		return &ExitError{Code: ExitFailure}
	}
	l.Info("flint run --stage %s finished successfully in %s", f.stage, d)
	return nil
}

type stageRun struct {
	f        *runFlags
	platform string
	paths    system.Paths
	log      *log.Logger
	stderr   io.Writer
}

// stageError marks where a stage failed, for the failure summary.
type stageError struct {
	op  string // what flint was doing, e.g. "acquiring the config"
	err error
}

func (e *stageError) Error() string { return e.op + ": " + e.err.Error() }
func (e *stageError) Unwrap() error { return e.err }

func (r *stageRun) run(ctx context.Context) error {
	f := r.f
	state, err := stages.LoadState(f.stateFile)
	if err != nil {
		return &ExitError{Code: ExitSetup, Err: err}
	}
	offline := f.stage == "fetch-offline"
	fetcher, err := resource.New(resource.Options{Offline: offline})
	if err != nil {
		return &ExitError{Code: ExitSetup, Err: fmt.Errorf("creating fetcher: %w", err)}
	}
	runner := system.NewRunner(r.log, providers.Tools(system.ToolsFromEnv()))
	c := &stages.Context{Ctx: ctx, Root: f.root, Platform: r.platform, Log: r.log, State: state,
		Fetcher: fetcher, Runner: runner, Paths: r.paths, AuthorizedKeysFragment: files.DefaultAuthorizedKeysFragment()}

	// The state is saved whatever happens: the result file and a later
	// `flint status` read the stage records.
	defer func() {
		if serr := state.Save(f.stateFile); serr != nil {
			r.log.Error("%v", serr)
		}
	}()

	needNet := false
	if f.stage == "fetch-offline" || f.stage == "fetch" {
		needNet, err = r.acquire(ctx, c)
	} else {
		err = r.loadCache(ctx, c)
	}
	if err != nil {
		state.Stages = append(state.Stages, stages.StageRecord{Name: f.stage, Status: "failed",
			Started: time.Now().UTC(), Error: redactText(err.Error())})
		return err
	}
	if needNet {
		state.Stages = append(state.Stages, stages.StageRecord{Name: f.stage, Status: "succeeded", Started: time.Now().UTC()})
		return r.writeNeedNet()
	}

	switch f.stage {
	case "disks":
		if err := r.earlyGuard(c); err != nil {
			return err
		}
	case "mount", "files":
		if err := r.guard(c); err != nil {
			return err
		}
	}
	if err := engine.RunStage(c, f.stage); err != nil {
		return err
	}
	if f.stage == "fetch-offline" && f.neednet != r.paths.NeedNetFlag() {
		// the stage writes the default flag; honour --neednet too
		if _, err := os.Stat(r.paths.NeedNetFlag()); err == nil {
			if err := r.writeNeedNet(); err != nil {
				return err
			}
		}
	}
	if f.stage == "files" {
		if err := clearStamp(f.root); err != nil {
			return &stageError{op: "removing the first-boot-in-progress stamp", err: err}
		}
	}
	return nil
}

// acquire finds, renders and caches the user config (fetch stages). It
// reports needNet when fetch-offline found that the network is needed.
func (r *stageRun) acquire(ctx context.Context, c *stages.Context) (needNet bool, err error) {
	f := r.f
	if f.stage == "fetch" {
		if _, err := os.Stat(f.configCache); err == nil {
			r.log.Info("config already cached at %s", f.configCache)
			return false, r.loadCache(ctx, c)
		}
	}
	env := providers.NewEnv(c.Fetcher, c.Runner)
	fctx, cancel := context.WithTimeout(ctx, f.fetchTimeout)
	raw, source, err := providers.Acquire(fctx, env, r.platform)
	cancel()
	switch {
	case errors.Is(err, providers.ErrNeedNet) && f.stage == "fetch-offline":
		r.log.Info("the config source %s needs the network", orPlatform(source, r.platform))
		return true, nil
	case errors.Is(err, providers.ErrNoConfig):
		r.log.Info("no user config from %s: using the base configs only", orPlatform(source, r.platform))
		raw, err = nil, nil
	case err != nil:
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("unable to fetch the config in time (%s): %w", f.fetchTimeout, err)
		}
		return false, &stageError{op: "fetching the config from " + orPlatform(source, r.platform), err: err}
	}
	a, err := stages.Acquire(ctx, stages.AcquireOptions{Raw: raw, Source: source, Parse: parseAny,
		Fetcher: c.Fetcher, BaseDirs: stages.SystemConfigDirs(r.paths), Platform: r.platform, Log: r.log})
	if err != nil {
		if errors.Is(err, resource.ErrNeedNet) && f.stage == "fetch-offline" {
			r.log.Info("a config referenced by %s needs the network", source)
			return true, nil
		}
		return false, &stageError{op: "reading the config from " + orPlatform(source, r.platform), err: err}
	}
	if err := stages.WriteCache(f.configCache, a.User); err != nil {
		return false, &stageError{op: "caching the config", err: err}
	}
	c.Config = a.Effective
	c.UserConfigProvided = a.UserProvided
	c.State.FetchedConfigs = a.Fetched
	return false, nil
}

// loadCache reads the cached user config and merges it over the base
// configs again (they live in the initramfs and do not change).
func (r *stageRun) loadCache(ctx context.Context, c *stages.Context) error {
	raw, err := os.ReadFile(r.f.configCache)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			err = fmt.Errorf("%s does not exist: the fetch-offline or fetch stage must run first", r.f.configCache)
		}
		return &stageError{op: "reading the cached config", err: err}
	}
	a, err := stages.Acquire(ctx, stages.AcquireOptions{Raw: raw, Source: r.f.configCache, Parse: config.Parse,
		Fetcher: c.Fetcher, BaseDirs: stages.SystemConfigDirs(r.paths), Platform: r.platform, Log: r.log})
	if err != nil {
		return &stageError{op: "reading the cached config", err: err}
	}
	c.Config = a.Effective
	for _, fc := range c.State.FetchedConfigs {
		if fc.Kind == "user" {
			c.UserConfigProvided = true
		}
	}
	return nil
}

func (r *stageRun) writeNeedNet() error {
	if err := os.MkdirAll(filepath.Dir(r.f.neednet), 0o755); err != nil {
		return &stageError{op: "creating the need-network flag", err: err}
	}
	if err := os.WriteFile(r.f.neednet, nil, 0o644); err != nil {
		return &stageError{op: "creating the need-network flag", err: err}
	}
	r.log.Info("created %s: networking is needed for the fetch stage", r.f.neednet)
	return nil
}

func orPlatform(source, platform string) string {
	if source != "" {
		return source
	}
	return "platform " + platform
}

// stamp is the content of InProgressStamp.
type stamp struct {
	BootID  string `json:"bootId"`
	Started string `json:"started"`
	Stage   string `json:"stage"`
	Version string `json:"flintVersion,omitempty"`
}

// ErrInterrupted is returned when a stamp from another boot is found.
var ErrInterrupted = errors.New("an earlier first boot was interrupted")

// guard checks the first-boot-in-progress stamp and (re)writes it for this
// boot before the mount or files stage changes the root.
func (r *stageRun) guard(c *stages.Context) error {
	boot := bootID()
	old, err := readStamp(c.Root)
	if err != nil {
		return &stageError{op: "checking for an interrupted first boot", err: err}
	}
	if old != nil && old.BootID != boot {
		if cmdlineHas(RerunForceArg) {
			r.log.Warn("%s: ignoring the stamp of an interrupted first boot (boot %s, started %s, stage %s)",
				RerunForceArg, old.BootID, old.Started, old.Stage)
		} else {
			return &stageError{op: "checking for an interrupted first boot", err: interruptedError(old)}
		}
	}
	s := stamp{BootID: boot, Started: time.Now().UTC().Format(time.RFC3339), Stage: r.f.stage, Version: Version}
	if old != nil && old.BootID == boot {
		s.Started = old.Started
	}
	if err := writeStamp(c.Root, s); err != nil {
		return &stageError{op: "writing the first-boot-in-progress stamp", err: err}
	}
	return nil
}

// earlyGuard runs before the disks stage, which may repartition and
// reformat: when the kernel's root= names a device that exists already, it
// mounts it read-only on a scratch directory and looks for a stamp from
// another boot. A root that does not exist yet (the config creates it) or
// cannot be mounted is left to the check in the mount stage.
func (r *stageRun) earlyGuard(c *stages.Context) error {
	dev := rootDevice(cmdlineArgs())
	if dev == "" {
		return nil
	}
	if _, err := os.Stat(dev); err != nil {
		r.log.Info("root device %s not present yet: the interrupted-first-boot check waits for the mount stage", dev)
		return nil
	}
	info, err := system.Probe(c.Ctx, c.Runner, dev)
	if err != nil || info.Type == "" {
		return nil
	}
	opts := []string{"ro"}
	switch info.Type {
	case "ext4", "ext3", "ext2":
		opts = append(opts, "noload") // no journal replay on a read-only look
	case "xfs":
		opts = append(opts, "norecovery")
	case "btrfs":
	default:
		return nil // swap, LUKS, RAID members...: not a root to look into
	}
	dir := filepath.Join(r.paths.RunDir, "rootcheck")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return &stageError{op: "checking for an interrupted first boot", err: err}
	}
	if err := system.Mount(c.Ctx, c.Runner, dev, dir, info.Type, opts); err != nil {
		r.log.Warn("cannot look into %s for an interrupted first boot (%v): the mount stage checks again", dev, err)
		return nil
	}
	old, rerr := readStamp(dir)
	if uerr := system.Unmount(c.Ctx, dir); uerr != nil {
		return &stageError{op: "checking for an interrupted first boot", err: uerr}
	}
	os.Remove(dir)
	if rerr != nil {
		return &stageError{op: "checking for an interrupted first boot", err: rerr}
	}
	if old != nil && old.BootID != bootID() {
		if cmdlineHas(RerunForceArg) {
			return nil // logged by the mount stage's check
		}
		return &stageError{op: "checking for an interrupted first boot", err: interruptedError(old)}
	}
	return nil
}

// rootDevice maps the kernel's root= argument to a device path:
// LABEL=, UUID=, PARTLABEL=, PARTUUID= or /dev/...; "" for anything else
// (nfs, tmpfs, none).
func rootDevice(args []string) string {
	v := ""
	for _, a := range args {
		if strings.HasPrefix(a, "root=") {
			v = strings.TrimPrefix(a, "root=")
		}
	}
	for prefix, dir := range map[string]string{"LABEL=": "by-label", "UUID=": "by-uuid",
		"PARTLABEL=": "by-partlabel", "PARTUUID=": "by-partuuid"} {
		if strings.HasPrefix(v, prefix) {
			name := strings.TrimPrefix(v, prefix)
			if name == "" || strings.Contains(name, "/") {
				return ""
			}
			if prefix == "UUID=" || prefix == "PARTUUID=" {
				name = strings.ToLower(name)
			}
			return "/dev/disk/" + dir + "/" + name
		}
	}
	if strings.HasPrefix(v, "/dev/") {
		return v
	}
	return ""
}

func interruptedError(old *stamp) error {
	return fmt.Errorf("%w: boot %s started provisioning at %s and stopped during the %s stage (%s is still there); "+
		"its disks may be half-provisioned, so flint will not run again. Re-provision from a clean disk image, "+
		"or boot once with %s on the kernel command line to run the stages anyway",
		ErrInterrupted, old.BootID, old.Started, old.Stage, InProgressStamp, RerunForceArg)
}

func stampPath(root string) (string, error) { return system.SecureJoin(root, InProgressStamp) }

func readStamp(root string) (*stamp, error) {
	p, err := stampPath(root)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var s stamp
	if err := json.Unmarshal(b, &s); err != nil || s.BootID == "" {
		// unreadable: still a stamp, from an unknown boot
		return &stamp{BootID: "unknown", Started: "unknown", Stage: "unknown"}, nil
	}
	return &s, nil
}

func writeStamp(root string, s stamp) error {
	p, err := stampPath(root)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	b, _ := json.Marshal(s)
	return system.WriteFileAtomic(p, strings.NewReader(string(b)+"\n"), 0o644)
}

func clearStamp(root string) error {
	p, err := stampPath(root)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

func bootID() string {
	b, err := os.ReadFile(stages.BootIDFile)
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

// cmdlineArgs returns the kernel command line's arguments
// ($FLINT_KERNEL_CMDLINE_PATH overrides /proc/cmdline for tests).
func cmdlineArgs() []string {
	p := os.Getenv("FLINT_KERNEL_CMDLINE_PATH")
	if p == "" {
		p = "/proc/cmdline"
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil
	}
	return providers.SplitCmdline(string(b))
}

// cmdlineHas reports whether the kernel command line holds arg.
func cmdlineHas(arg string) bool {
	for _, a := range cmdlineArgs() {
		if a == arg {
			return true
		}
	}
	return false
}

// reportFailure prints the one-paragraph summary to stderr and writes it to
// the failure file for flint-failure.service.
func (r *stageRun) reportFailure(err error) {
	text := FailureSummary(r.f.stage, err)
	fmt.Fprint(r.stderr, text)
	p := filepath.Join(r.paths.RunDir, FailureFile)
	if merr := os.MkdirAll(r.paths.RunDir, 0o755); merr == nil {
		if werr := system.WriteFileAtomic(p, strings.NewReader(text), 0o644); werr != nil {
			r.log.Error("writing %s: %v", p, werr)
		}
	}
}

const maxSummaryPart = 400

// FailureSummary is the paragraph shown when stage failed: which stage,
// which operation, the error and where the full log is. URLs are redacted
// and every part is bounded; config bodies never reach it.
func FailureSummary(stage string, err error) string {
	op, cause := splitError(stage, err)
	var b strings.Builder
	fmt.Fprintf(&b, "flint: the %s stage failed, so this machine was not provisioned and will not boot on.\n", stage)
	if op != "" {
		fmt.Fprintf(&b, "  while: %s\n", bound(redactText(op)))
	}
	fmt.Fprintf(&b, "  error: %s\n", bound(redactText(cause)))
	b.WriteString("Read the full log with: journalctl -t flint\n")
	return b.String()
}

// splitError separates what flint was doing from the innermost cause.
func splitError(stage string, err error) (op, cause string) {
	msg := strings.TrimPrefix(err.Error(), stage+": ")
	var se *stageError
	if errors.As(err, &se) {
		if inner := se.err.Error(); strings.HasSuffix(msg, inner) {
			return se.op, inner
		}
	}
	deepest := err
	for {
		u := errors.Unwrap(deepest)
		if u == nil {
			break
		}
		deepest = u
	}
	cause = deepest.Error()
	if cause != msg && strings.HasSuffix(msg, ": "+cause) {
		return strings.TrimSuffix(msg, ": "+cause), cause
	}
	return "", msg
}

var urlRe = regexp.MustCompile(`\b(?:[a-zA-Z][a-zA-Z0-9+.-]*://|data:)[^\s"'<>]+`)

// redactText redacts every URL in s (userinfo, query, data bodies).
func redactText(s string) string {
	return urlRe.ReplaceAllStringFunc(s, func(u string) string {
		trail := ""
		for strings.HasSuffix(u, ",") || strings.HasSuffix(u, ".") || strings.HasSuffix(u, ")") || strings.HasSuffix(u, ":") {
			trail = u[len(u)-1:] + trail
			u = u[:len(u)-1]
		}
		return log.Redact(u) + trail
	})
}

func bound(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxSummaryPart {
		return s[:maxSummaryPart] + "…"
	}
	return s
}
