package cli

import (
	"encoding/json"
	"flag"
	"fmt"
	"time"

	"github.com/flintboot/flint/stages/report"
	"github.com/flintboot/flint/system"
)

// runStatus: flint status [--root DIR] [--format text|json] [--wait]
//
// One line (or one JSON object) and an exit code per outcome: ExitOK done,
// ExitStatusFailed, ExitStatusRunning, ExitStatusNotRun.
func runStatus(e *Env) error {
	fs := newFlags(e, "status")
	where := reportFlags(fs)
	format := fs.String("format", "text", "output format: text or json")
	wait := fs.Bool("wait", false, "wait while a first boot is in progress")
	if err := parseFlags(fs, e.Args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return UsageError(fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	if *format != "text" && *format != "json" {
		return UsageError(fmt.Errorf("--format must be text or json, not %q", *format))
	}
	o := where()
	var st *report.Status
	var err error
	if *wait {
		st, err = report.Wait(e.Ctx, o, 500*time.Millisecond)
	} else {
		st, err = report.Check(o)
	}
	if st == nil {
		return &ExitError{Code: ExitFailure, Err: err}
	}
	if *format == "json" {
		b, _ := json.MarshalIndent(st, "", "  ")
		fmt.Fprintln(e.Stdout, string(b))
	} else {
		fmt.Fprintln(e.Stdout, st.Line())
		for _, w := range st.Warnings {
			fmt.Fprintln(e.Stderr, "warning:", w)
		}
	}
	// err is only a --wait cut short (Ctrl-C): the status printed says
	// where it stood
	return statusExit(st.Status)
}

func statusExit(o report.Outcome) error {
	code := ExitOK
	switch o {
	case report.Failed:
		code = ExitStatusFailed
	case report.Running:
		code = ExitStatusRunning
	case report.NotRun:
		code = ExitStatusNotRun
	}
	if code == ExitOK {
		return nil
	}
	return &ExitError{Code: code}
}

// reportFlags adds --root and --live to a status, analyze or collect-logs
// command line; the function it returns (called after parsing) says where
// to look.
func reportFlags(fs *flag.FlagSet) func() report.Options {
	root := fs.String("root", "/", "target root (/ on the machine, /sysroot in the initramfs, or a mounted image)")
	live := fs.Bool("live", false, "also read the running machine's run directory, kernel command line and journal (default: with --root / or /sysroot)")
	return func() report.Options {
		o := report.Options{Root: *root, Paths: system.PathsFromEnv(), Live: report.IsLive(*root)}
		fs.Visit(func(f *flag.Flag) {
			if f.Name == "live" {
				o.Live = *live
			}
		})
		return o
	}
}
