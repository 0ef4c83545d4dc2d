package disks

import (
	"context"
	"io"
	"sync"

	"github.com/flintboot/flint/log"
	"github.com/flintboot/flint/system"
)

func logDiscard() *log.Logger { return log.New(io.Discard) }

// recording runs every command for real through r and notes the tool
// names, so that a test can tell what planning and applying ran.
type recording struct {
	r     system.Runner
	mu    sync.Mutex
	tools []string
}

func (w *recording) Run(ctx context.Context, c system.Cmd) (system.Result, error) {
	w.mu.Lock()
	w.tools = append(w.tools, c.Name)
	w.mu.Unlock()
	return w.r.Run(ctx, c)
}

// take returns the tools run since the last take.
func (w *recording) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	t := w.tools
	w.tools = nil
	return t
}
