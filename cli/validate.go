package cli

import (
	"encoding/json"
	"fmt"

	"github.com/flintboot/flint/config"
	"github.com/flintboot/flint/config/legacy"
)

// runValidate: flint validate [--strict] [--format text|json] FILE|-
func runValidate(e *Env) error {
	fs := newFlags(e, "validate")
	strict := fs.Bool("strict", false, "treat warnings as errors")
	format := fs.String("format", "text", "output format: text or json")
	raw, err := oneInput(e, fs, "FILE")
	if err != nil {
		return err
	}
	if *format != "text" && *format != "json" {
		return UsageError(fmt.Errorf("unknown format %q", *format))
	}
	_, rpt, perr := legacy.ParseAny(raw) // white space only is no config (empty), as an empty file is
	valid := perr == nil && !rpt.IsFatal() && !(*strict && config.HasWarnings(rpt))
	if *format == "json" {
		enc := json.NewEncoder(e.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(config.NewReportJSON(valid, rpt, perr)); err != nil {
			return err
		}
	} else {
		for _, en := range rpt.Entries {
			fmt.Fprintln(e.Stdout, en.String())
		}
		if perr != nil && len(rpt.Entries) == 0 {
			fmt.Fprintf(e.Stdout, "couldn't parse config: %v\n", perr)
		}
	}
	if !valid {
		return &ExitError{Code: ExitFailure}
	}
	return nil
}

// runTranslate prints a config (spec 1, 2.x or 3.x) as a 3.x config of the
// requested version, or refuses with the path and reason when that version
// cannot say the same thing.
func runTranslate(e *Env) error {
	fs := newFlags(e, "translate")
	to := fs.String("to", config.MaxStable.String(), "target spec version (3.x.0)")
	raw, err := oneInput(e, fs, "FILE")
	if err != nil {
		return err
	}
	res, err := legacy.ParseAnyResult(raw)
	if printReport(e, res.Report); err != nil {
		if len(res.Report.Entries) == 0 {
			fmt.Fprintf(e.Stderr, "couldn't parse config: %v\n", err)
		}
		return &ExitError{Code: ExitFailure}
	}
	out, rpt, err := legacy.Render(res, *to)
	if printReport(e, rpt); err != nil {
		if len(rpt.Entries) == 0 {
			return &ExitError{Code: ExitFailure, Err: err}
		}
		return &ExitError{Code: ExitFailure}
	}
	_, err = e.Stdout.Write(out)
	return err
}

func printReport(e *Env, rpt config.Report) {
	for _, en := range rpt.Entries {
		fmt.Fprintln(e.Stderr, en.String())
	}
}
