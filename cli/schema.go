package cli

import (
	"errors"

	"github.com/flintboot/flint/config"
)

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
