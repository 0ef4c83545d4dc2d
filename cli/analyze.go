package cli

import (
	"errors"
	"fmt"

	"github.com/flintboot/flint/stages/report"
)

// runAnalyze: flint analyze blame|show [--root DIR]
func runAnalyze(e *Env) error {
	fs := newFlags(e, "analyze")
	where := reportFlags(fs)
	if err := parseFlags(fs, e.Args); err != nil {
		return err
	}
	if fs.NArg() != 1 || (fs.Arg(0) != "blame" && fs.Arg(0) != "show") {
		return UsageError(errors.New("expected blame or show"))
	}
	o := where()
	s, err := report.Read(o)
	if err != nil {
		return &ExitError{Code: ExitFailure, Err: err}
	}
	recs := s.Records()
	if len(recs) == 0 {
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("no stages recorded in %s: %s", o.Root, report.Evaluate(s, o).Line())}
	}
	if fs.Arg(0) == "blame" {
		report.Blame(e.Stdout, recs)
	} else {
		report.Show(e.Stdout, s, recs)
	}
	return nil
}
