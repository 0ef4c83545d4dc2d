package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/coreos/vcontext/report"
	"github.com/flintboot/flint/config"
	"github.com/flintboot/flint/config/legacy"
)

func readInput(e *Env, name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(e.Stdin)
	}
	return os.ReadFile(name)
}

type jsonEntry struct {
	Kind    string `json:"kind"`
	Path    string `json:"path,omitempty"`
	Line    int64  `json:"line,omitempty"`
	Column  int64  `json:"column,omitempty"`
	Message string `json:"message"`
}

type jsonResult struct {
	Valid   bool        `json:"valid"`
	Version string      `json:"version,omitempty"`
	Error   string      `json:"error,omitempty"`
	Entries []jsonEntry `json:"entries"`
}

func runValidate(e *Env) error {
	fs := newFlags(e, "validate")
	strict := fs.Bool("strict", false, "treat warnings as errors")
	format := fs.String("format", "text", "output format: text or json")
	if err := parseFlags(fs, e.Args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return UsageError(errors.New("expected exactly one FILE or -"))
	}
	if *format != "text" && *format != "json" {
		return UsageError(fmt.Errorf("unknown format %q", *format))
	}
	raw, err := readInput(e, fs.Arg(0))
	if err != nil {
		return &ExitError{Code: ExitFailure, Err: err}
	}
	var rpt report.Report
	var perr error
	if config.IsBlank(raw) {
		// white space only is no config at all, as an empty file is
		perr = config.ErrEmpty
	} else {
		_, rpt, perr = legacy.ParseAny(raw)
	}
	valid := perr == nil && !rpt.IsFatal()
	warned := false
	for _, en := range rpt.Entries {
		if en.Kind == report.Warn {
			warned = true
		}
	}
	if *strict && warned {
		valid = false
	}
	if *format == "json" {
		res := jsonResult{Valid: valid, Entries: []jsonEntry{}}
		if perr != nil && len(rpt.Entries) == 0 {
			res.Error = perr.Error()
		}
		for _, en := range rpt.Entries {
			je := jsonEntry{Kind: en.Kind.String(), Message: en.Message}
			if en.Context.Len() > 0 {
				je.Path = en.Context.String()
			}
			if en.Marker.StartP != nil {
				je.Line, je.Column = en.Marker.StartP.Line, en.Marker.StartP.Column
			}
			res.Entries = append(res.Entries, je)
		}
		enc := json.NewEncoder(e.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
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
