package stages

import (
	"context"
	"fmt"
	"time"

	"github.com/flintboot/flint/log"
)

// PlanStage asks st for its plan, logging how long planning took. Nothing
// on the machine changes. The error names the stage.
func PlanStage(ctx context.Context, c *Context, st Stage) (Plan, error) {
	p, err := plan(ctx, c, st)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", st.Name(), err)
	}
	return p, nil
}

func plan(ctx context.Context, c *Context, st Stage) (Plan, error) {
	start := time.Now()
	p, err := st.Plan(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("planning: %w", err)
	}
	c.Log.With(st.Name()).Debugf("planned %d actions in %s", len(p.Actions()), time.Since(start).Round(time.Millisecond))
	return p, nil
}

// RunStage plans st, logs every action, then applies the plan. It logs one
// line with the stage's duration and appends a StageRecord to c.State. The
// error it returns names the stage; the log line and the record, which are
// the stage's own already, do not repeat it.
func RunStage(ctx context.Context, c *Context, st Stage) error {
	if c.State == nil {
		c.State = &State{}
	}
	l := c.Log.With(st.Name())
	start := time.Now()
	rec := StageRecord{Name: st.Name(), Started: start.UTC()}
	l.StageStarted()
	err := planAndApply(ctx, c, st, l, &rec)
	d := time.Since(start)
	rec.DurationMS = d.Milliseconds()
	if err != nil {
		rec.Status = "failed"
		rec.Error = RedactText(err.Error())
		l.StageFailed(d, rec.Error)
	} else {
		rec.Status = "succeeded"
		l.StageFinished(d, rec.Actions)
	}
	rec.OpSummary = c.Log.TakeOps() // issue 15: the stage's operations, for flint analyze
	c.State.Stages = append(c.State.Stages, rec)
	if err != nil {
		return fmt.Errorf("%s: %w", st.Name(), err)
	}
	return nil
}

func planAndApply(ctx context.Context, c *Context, st Stage, l *log.Logger, rec *StageRecord) error {
	p, err := plan(ctx, c, st)
	if err != nil {
		return err
	}
	acts := p.Actions()
	rec.Actions = len(acts)
	for _, a := range acts {
		l.Debugf("plan: %s", a)
	}
	return p.Apply(ctx, c)
}

// String renders an action as one plan line.
func (a Action) String() string {
	s := fmt.Sprintf("%-16s %s", a.Op, a.Target)
	if a.Detail != "" {
		s += "  (" + a.Detail + ")"
	}
	return s
}

// Actions is a ready-made Plan: a list of actions and one function that
// applies them.
type Actions struct {
	List []Action
	Do   func(ctx context.Context, c *Context) error
}

// Actions implements Plan.
func (a *Actions) Actions() []Action { return a.List }

// Apply implements Plan.
func (a *Actions) Apply(ctx context.Context, c *Context) error {
	if a.Do == nil {
		return nil
	}
	return a.Do(ctx, c)
}

// Noop is the plan of a stage with nothing to do.
var Noop Plan = &Actions{}
