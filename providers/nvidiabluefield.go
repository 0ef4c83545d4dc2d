package providers

import (
	"bytes"
	"context"
	"fmt"

	"github.com/flintboot/flint/system"
)

// nvidiabluefield: the BlueField DPU boot FIFO exposed by mlxbf_bootctl;
// NUL bytes are stripped.
type nvidiabluefield struct{}

func (nvidiabluefield) Name() string { return "nvidiabluefield" }

func (nvidiabluefield) Fetch(ctx context.Context, env *Env) ([]byte, error) {
	env.fill()
	if _, err := env.Runner.Run(ctx, system.Cmd{Name: system.ToolModprobe, Args: []string{"mlxbf_bootctl"}}); err != nil {
		env.Log.Warn("nvidiabluefield: loading mlxbf_bootctl: %v", err)
	}
	p := env.sysPath("/sys/bus/platform/devices/MLNXBF04:00/bootfifo")
	b, err := readCapped(p)
	if err != nil {
		return nil, fmt.Errorf("nvidiabluefield: %w", err)
	}
	return nonEmpty(bytes.ReplaceAll(b, []byte{0}, nil))
}
