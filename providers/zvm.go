package providers

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/flintboot/flint/system"
)

// zvm (s390x z/VM): the config is a reader spool file of type "ign": enable
// the virtual reader 000c, list the spool with vmur and receive the first
// such file.
type zvm struct{}

func (zvm) Name() string { return "zvm" }

// ParseVmurList returns the spool id of the first file whose TYPE column is
// "ign" in `vmur li` output ("" when there is none). FILE is counted from
// the left and TYPE from the right, because CLASS spans two words in the
// rows ("A PUN") but one in the header.
func ParseVmurList(out string) string {
	fileCol, typeFromEnd := -1, -1
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		if fileCol < 0 {
			for i, h := range f {
				switch h {
				case "FILE":
					fileCol = i
				case "TYPE":
					typeFromEnd = len(f) - 1 - i
				}
			}
			if fileCol < 0 || typeFromEnd < 0 {
				return ""
			}
			continue
		}
		ti := len(f) - 1 - typeFromEnd
		if ti > fileCol && fileCol < len(f) && strings.EqualFold(f[ti], "ign") {
			return f[fileCol]
		}
	}
	return ""
}

func (zvm) Fetch(ctx context.Context, env *Env) ([]byte, error) {
	env.fill()
	run := func(name string, args ...string) (system.Result, error) {
		return env.Runner.Run(ctx, system.Cmd{Name: name, Args: args})
	}
	if _, err := run(system.ToolModprobe, "vmur"); err != nil {
		env.Log.Warn("zvm: loading vmur: %v", err)
	}
	if _, err := run(system.ToolChccwdev, "-e", "000c"); err != nil {
		if _, err := run(system.ToolCioIgnore, "-r", "000c"); err != nil {
			return nil, fmt.Errorf("zvm: freeing reader 000c: %w", err)
		}
		if _, err := run(system.ToolChccwdev, "-e", "000c"); err != nil {
			return nil, fmt.Errorf("zvm: enabling reader 000c: %w", err)
		}
	}
	_ = system.UdevSettle(ctx, env.Runner, env.Log, "")
	res, err := run(system.ToolVmur, "li")
	if err != nil {
		return nil, fmt.Errorf("zvm: listing the reader: %w", err)
	}
	id := ParseVmurList(string(res.Stdout))
	if id == "" {
		env.Log.Info("zvm: no spool file of type ign")
		return nil, ErrNoConfig
	}
	dir, err := os.MkdirTemp("", "flint-zvm-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	dst := filepath.Join(dir, "config.ign")
	if _, err := run(system.ToolVmur, "re", "-f", id, dst); err != nil {
		return nil, fmt.Errorf("zvm: receiving spool file %s: %w", id, err)
	}
	b, err := readCapped(dst)
	if err != nil {
		return nil, fmt.Errorf("zvm: %w", err)
	}
	return nonEmpty(b)
}
