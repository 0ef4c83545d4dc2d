// Package kargs is the kargs stage: it hands kernelArguments to the
// distribution's helper (flint-kargs-helper) as --should-exist ARG and
// --should-not-exist ARG pairs. The helper edits the boot loader config
// and reboots when anything changed.
package kargs

import (
	"context"
	"fmt"
	"strings"

	"github.com/flintboot/flint/stages"
	"github.com/flintboot/flint/system"
)

// Stage is the kargs stage.
type Stage struct{}

// New returns the kargs stage.
func New() Stage { return Stage{} }

// Name implements stages.Stage.
func (Stage) Name() string { return "kargs" }

// Args returns the helper's arguments; nil when both lists are empty.
func Args(c *stages.Context) []string {
	var a []string
	for _, k := range c.Config.KernelArguments.ShouldExist {
		a = append(a, "--should-exist", string(k))
	}
	for _, k := range c.Config.KernelArguments.ShouldNotExist {
		a = append(a, "--should-not-exist", string(k))
	}
	return a
}

// Plan implements stages.Stage.
func (Stage) Plan(ctx context.Context, c *stages.Context) (stages.Plan, error) {
	args := Args(c)
	if len(args) == 0 {
		return stages.Noop, nil
	}
	return &stages.Actions{
		List: []stages.Action{{Op: "run-helper", Target: system.ToolKargsHelper, Detail: strings.Join(args, " ")}},
		Do: func(ctx context.Context, c *stages.Context) error {
			done := c.Log.With("kargs").Op("running %s with %d arguments", system.ToolKargsHelper, len(args)/2)
			_, err := c.Runner.Run(ctx, system.Cmd{Name: system.ToolKargsHelper, Args: args})
			done(err)
			if err != nil {
				return fmt.Errorf("updating kernel arguments: %w", err)
			}
			return nil
		},
	}, nil
}
