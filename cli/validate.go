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
	var rpt config.Report
	perr := config.ErrEmpty // white space only is no config at all, as an empty file is
	if !config.IsBlank(raw) {
		_, rpt, perr = legacy.ParseAny(raw)
	}
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
