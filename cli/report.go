package cli

import (
	"errors"
	"flag"
	"fmt"

	"github.com/flintboot/flint/stages/report"
	"github.com/flintboot/flint/system"
)

// status, analyze and collect-logs: what happened on first boot
// (stages/report, docs/status.md).

// reportFlags parses --root, --live and the command's own flags.
func reportFlags(e *Env, name string, own func(*flag.FlagSet)) (*flag.FlagSet, report.Options, error) {
	fs := newFlags(e, name)
	o := report.Options{Paths: system.PathsFromEnv()}
	fs.StringVar(&o.Root, "root", "/", "target root: / on the machine, /sysroot in the initramfs, or a mounted image")
	fs.Var(&o.Live, "live", "also read the running machine's run directory, command line and journal (default with --root / or /sysroot)")
	own(fs)
	err := parseFlags(fs, e.Args)
	return fs, o, err
}

// runStatus: flint status [--root DIR] [--format text|json] [--wait]
func runStatus(e *Env) error {
	var format string
	var wait bool
	fs, o, err := reportFlags(e, "status", func(fs *flag.FlagSet) {
		fs.StringVar(&format, "format", "text", "output format: text or json")
		fs.BoolVar(&wait, "wait", false, "wait while a first boot is in progress")
	})
	if err != nil {
		return err
	}
	if fs.NArg() != 0 || format != "text" && format != "json" {
		return UsageError(errors.New("usage: flint status [--root DIR] [--format text|json] [--wait]"))
	}
	st, err := report.Check(e.Ctx, o, wait)
	if st == nil {
		return &ExitError{Code: ExitFailure, Err: err}
	}
	report.PrintStatus(e.Stdout, e.Stderr, st, format == "json")
	return statusExit(st.Status)
}

// runAnalyze: flint analyze blame|show [--root DIR]
func runAnalyze(e *Env) error {
	fs, o, err := reportFlags(e, "analyze", func(*flag.FlagSet) {})
	if err != nil {
		return err
	}
	if fs.NArg() != 1 || fs.Arg(0) != "blame" && fs.Arg(0) != "show" {
		return UsageError(errors.New("expected blame or show"))
	}
	if err := report.Analyze(e.Stdout, o, fs.Arg(0) == "blame"); err != nil {
		return &ExitError{Code: ExitFailure, Err: err}
	}
	return nil
}

// runCollectLogs: flint collect-logs [--root DIR] [-o FILE|-]
func runCollectLogs(e *Env) error {
	var out string
	fs, o, err := reportFlags(e, "collect-logs", func(fs *flag.FlagSet) {
		fs.StringVar(&out, "o", "", "output file (default flint-logs-<time>.tar.gz; - for stdout)")
	})
	if err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return UsageError(fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	if err := report.CollectTo(e.Ctx, out, e.Stdout, e.Stderr, report.CollectOptions{Options: o, Version: Version}); err != nil {
		return &ExitError{Code: ExitFailure, Err: err}
	}
	return nil
}
