package cli

import (
	"github.com/flintboot/flint/stages/engine"
)

// runPlan: flint plan [--root DIR] [apply's flags] CONFIG|- prints every
// action apply would take and changes nothing.
func runPlan(e *Env) error {
	_, o, err := parseApplyFlags(e, "plan")
	if err != nil {
		return err
	}
	plans, err := engine.Plan(e.Ctx, o)
	engine.PrintPlan(e.Stdout, plans)
	if err != nil {
		return &ExitError{Code: ExitFailure, Err: err}
	}
	return nil
}
