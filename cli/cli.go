// Package cli is flint's command line: one binary, one subcommand table.
// Each subcommand parses its flags, calls one function of stages/ or
// config/, and maps the outcome to the exit-code table (in this file).
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strconv"
	"syscall"

	"github.com/flintboot/flint/config"
	"github.com/flintboot/flint/log"
	"github.com/flintboot/flint/providers"
	"github.com/flintboot/flint/stages/report"
)

// memoryLimit is the Go runtime's soft memory limit for a flint process.
const memoryLimit = 192 << 20

// Version is set at build time with -ldflags "-X github.com/flintboot/flint/cli.Version=...".
var Version = "0.1.0-dev"

// Env is what a subcommand gets: its arguments and the standard streams.
type Env struct {
	Ctx    context.Context
	Args   []string
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

type command struct {
	name, summary string
	run           func(e *Env) error
}

// commands is the subcommand table.
func commands() []command {
	return []command{
		{"apply", "provision a root: flint apply [--root DIR] [--offline] [--ignore-unsupported] [--all-stages] CONFIG|-", runApply},
		{"plan", "print what apply would do, change nothing: flint plan [--root DIR] CONFIG|-", runPlan},
		{"run", "run one provisioning stage (what the initramfs units call): flint run --stage S --platform P [--root /sysroot]", runRun},
		{"validate", "validate a config: flint validate [--strict] [--format text|json] FILE|-", runValidate},
		{"translate", "translate a config to spec 3: flint translate [--to 3.x.0] FILE|-", runTranslate},
		{"version", "print flint's version", runVersion},
		{"rmcfg", "delete the config from the hypervisor: flint rmcfg --platform ID", runRmcfg},
		{"schema", "print the JSON Schema of a spec version: flint schema VERSION", runSchema},
		{"status", "what happened on first boot, one line: flint status [--root DIR] [--format text|json] [--wait]", runStatus},
		{"analyze", "per-operation timings of the first boot: flint analyze blame|show [--root DIR]", runAnalyze},
		{"collect-logs", "a tarball for a bug report, secrets redacted: flint collect-logs [--root DIR] [-o FILE]", runCollectLogs},
	}
}

// aliases maps argv[0] names to subcommands (ignition-validate drop-in).
var aliases = map[string]string{"ignition-validate": "validate", "flint-validate": "validate"}

// Run runs flint with the given argv. SIGINT and SIGTERM cancel ctx, so
// whatever runs cleans up (temporary files, child processes) and returns.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if os.Getenv("GOMEMLIMIT") == "" {
		// collect harder near the configs' 128 MiB budget instead of letting
		// the heap double past it (an initramfs has little RAM to spare)
		debug.SetMemoryLimit(memoryLimit)
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	e := &Env{Ctx: ctx, Stdin: stdin, Stdout: stdout, Stderr: stderr}
	name, rest := "", args
	if len(args) > 0 {
		name, rest = aliases[filepath.Base(args[0])], args[1:]
	}
	if name == "" {
		if len(rest) == 0 {
			usage(stderr)
			return UsageError(errors.New("no command given"))
		}
		name, rest = rest[0], rest[1:]
	}
	switch name {
	case "-h", "--help", "help":
		usage(stdout)
		return nil
	case "-version", "--version":
		name = "version"
	}
	for _, c := range commands() {
		if c.name != name {
			continue
		}
		e.Args = rest
		err := c.run(e)
		var ee *ExitError
		if err != nil && ExitCode(err) != ExitOK && !(errors.As(err, &ee) && ee.Err == nil) {
			fmt.Fprintf(stderr, "flint %s: %v\n", name, err)
		}
		return err
	}
	usage(stderr)
	return UsageError(fmt.Errorf("unknown command %q", name))
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: flint COMMAND [ARGS]\n\ncommands:")
	cs := commands()
	sort.Slice(cs, func(i, j int) bool { return cs[i].name < cs[j].name })
	for _, c := range cs {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
}

// newFlags returns a FlagSet that reports errors as usage errors.
func newFlags(e *Env, name string) *flag.FlagSet {
	fs := flag.NewFlagSet("flint "+name, flag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	return fs
}

// parseFlags parses args, allowing flags after positional arguments too.
func parseFlags(fs *flag.FlagSet, args []string) error {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return &ExitError{Code: ExitOK}
			}
			return &ExitError{Code: ExitUsage}
		}
		if args = fs.Args(); len(args) == 0 {
			break
		}
		pos, args = append(pos, args[0]), args[1:]
		if len(args) == 0 {
			break
		}
	}
	return fs.Parse(append([]string{"--"}, pos...))
}

// oneInput parses the flags and reads the one FILE or - (stdin) argument.
func oneInput(e *Env, fs *flag.FlagSet, what string) ([]byte, error) {
	if err := parseFlags(fs, e.Args); err != nil {
		return nil, err
	}
	if fs.NArg() != 1 {
		return nil, UsageError(fmt.Errorf("expected exactly one %s or -", what))
	}
	var raw []byte
	var err error
	if fs.Arg(0) == "-" {
		raw, err = io.ReadAll(e.Stdin)
	} else {
		raw, err = os.ReadFile(fs.Arg(0))
	}
	if err != nil {
		return nil, &ExitError{Code: ExitFailure, Err: err}
	}
	return raw, nil
}

func runVersion(e *Env) error {
	if err := parseFlags(newFlags(e, "version"), e.Args); err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "flint %s\n", Version)
	return nil
}

// logger returns a logger writing to w, at debug level only when asked.
func logger(w io.Writer, debug bool) *log.Logger {
	l := log.New(w)
	if !debug {
		l.SetLevel(log.LevelInfo)
	}
	return l
}

// The exit-code table: every exit status flint uses, in one place.
const (
	ExitOK      = 0 // success; `validate`: valid (warnings allowed unless --strict)
	ExitFailure = 1 // a stage failed, the config is invalid, or a command failed
	ExitUsage   = 2 // bad command line: unknown command or flag, missing argument
	ExitSetup   = 3 // flint could not start its work: state file, fetcher or cache setup failed

	// `flint status` (these never change; scripts rely on them)
	ExitStatusFailed  = 4 // the first boot failed, or an earlier one was interrupted
	ExitStatusRunning = 5 // a first boot is in progress
	ExitStatusNotRun  = 6 // flint has not provisioned this machine
)

// ExitError carries an exit code through an error chain.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return "exit status " + strconv.Itoa(e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// UsageError marks a bad command line.
func UsageError(err error) error { return &ExitError{Code: ExitUsage, Err: err} }

// ExitCode maps an error returned by Run to the process exit status.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return ExitFailure
}

// statusExit is `flint status`'s exit code for an outcome (done: 0).
func statusExit(o report.Outcome) error {
	if code := map[report.Outcome]int{report.Failed: ExitStatusFailed, report.Running: ExitStatusRunning, report.NotRun: ExitStatusNotRun}[o]; code != 0 {
		return &ExitError{Code: code}
	}
	return nil
}

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

// runSchema prints the JSON Schema (draft 2020-12) of one spec version.
func runSchema(e *Env) error {
	fs := newFlags(e, "schema")
	if err := parseFlags(fs, e.Args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return UsageError(errors.New("expected exactly one spec VERSION, e.g. 3.6.0"))
	}
	out, err := config.JSONSchema(fs.Arg(0))
	if err != nil {
		return UsageError(err)
	}
	_, err = e.Stdout.Write(out)
	return err
}
