package cli

import (
	"errors"
	"fmt"

	"github.com/flintboot/flint/config"
	"github.com/flintboot/flint/config/legacy"
)

// runTranslate prints a config (spec 1, 2.x or 3.x) as a 3.x config of the
// requested version, or refuses with the path and reason when that version
// cannot say the same thing.
func runTranslate(e *Env) error {
	fs := newFlags(e, "translate")
	to := fs.String("to", config.MaxStable.String(), "target spec version (3.x.0)")
	if err := parseFlags(fs, e.Args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return UsageError(errors.New("expected exactly one FILE or -"))
	}
	raw, err := readInput(e, fs.Arg(0))
	if err != nil {
		return &ExitError{Code: ExitFailure, Err: err}
	}
	res, err := legacy.ParseAnyResult(raw)
	for _, en := range res.Report.Entries {
		fmt.Fprintln(e.Stderr, en.String())
	}
	if err != nil {
		if len(res.Report.Entries) == 0 {
			fmt.Fprintf(e.Stderr, "couldn't parse config: %v\n", err)
		}
		return &ExitError{Code: ExitFailure}
	}
	out, rpt, err := legacy.Render(res, *to)
	for _, en := range rpt.Entries {
		fmt.Fprintln(e.Stderr, en.String())
	}
	if err != nil {
		if len(rpt.Entries) == 0 {
			return &ExitError{Code: ExitFailure, Err: err}
		}
		return &ExitError{Code: ExitFailure}
	}
	_, err = e.Stdout.Write(out)
	return err
}
