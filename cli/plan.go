package cli

import (
	"bufio"

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
	// one write per buffer, not two per action (20,000 entries: 40,000 writes)
	w := bufio.NewWriterSize(e.Stdout, 64<<10)
	engine.PrintPlan(w, plans)
	w.Flush()
	if err != nil {
		return &ExitError{Code: ExitFailure, Err: err}
	}
	return nil
}
