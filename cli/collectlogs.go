package cli

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/flintboot/flint/log"
	"github.com/flintboot/flint/stages/report"
	"github.com/flintboot/flint/system"
)

// runCollectLogs: flint collect-logs [--root DIR] [-o FILE|-]
func runCollectLogs(e *Env) error {
	fs := newFlags(e, "collect-logs")
	where := reportFlags(fs)
	out := fs.String("o", "", "output file (default flint-logs-<time>.tar.gz; - for stdout)")
	if err := parseFlags(fs, e.Args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return UsageError(fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	l := log.New(e.Stderr)
	l.SetLevel(log.LevelWarning)
	o := report.CollectOptions{Options: where(),
		Runner: system.NewRunner(l, system.ToolsFromEnv()), Version: Version, Log: l}
	name := *out
	if name == "" {
		name = "flint-logs-" + time.Now().UTC().Format("20060102T150405Z") + ".tar.gz"
	}
	w := e.Stdout
	var f *os.File
	if name != "-" {
		var err error
		if f, err = os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600); err != nil {
			return &ExitError{Code: ExitFailure, Err: err}
		}
		w = f
	}
	names, err := report.Collect(e.Ctx, w, o)
	if f != nil {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return &ExitError{Code: ExitFailure, Err: err}
	}
	if name != "-" {
		fmt.Fprintf(e.Stderr, "wrote %s: %s\n", name, strings.Join(names, ", "))
	}
	return nil
}
