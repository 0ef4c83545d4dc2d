package engine

import (
	"github.com/flintboot/flint/stages"
	"github.com/flintboot/flint/stages/disks"
)

// disksStage is the disks stage from stages/disks.
func disksStage() stages.Stage { return disks.New() }
