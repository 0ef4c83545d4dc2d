package disks

import (
	"io"

	"github.com/flintboot/flint/log"
)

func logDiscard() *log.Logger { return log.New(io.Discard) }
