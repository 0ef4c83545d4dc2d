package engine

import (
	"github.com/flintboot/flint/stages"
	"github.com/flintboot/flint/stages/disks"
)

// disksStage is the disks stage (stages/disks, written separately). Until
// it is wired in, a placeholder refuses configs that need it.
func disksStage() stages.Stage { return disks.New() }

type pendingDisks struct{}

func (pendingDisks) Name() string { return "disks" }

func (pendingDisks) Plan(c *stages.Context) (stages.Plan, error) {
	s := c.Config.Storage
	if len(s.Disks)+len(s.Raid)+len(s.Luks)+len(s.Filesystems) == 0 {
		return stages.Noop, nil
	}
	return nil, errDisksPending
}

var errDisksPending = stagesError("the disks stage is not built into this flint")

type stagesError string

func (e stagesError) Error() string { return string(e) }
