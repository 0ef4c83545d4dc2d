package providers

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
)

// file (testing): reads $FLINT_CONFIG_FILE, else $IGNITION_CONFIG_FILE, else
// ./config.ign.
type file struct{}

func (file) Name() string { return "file" }

// FileProviderPath returns the path the file platform reads.
func FileProviderPath(env *Env) string {
	env.fill()
	if p := firstNonEmpty(env.getenv("FLINT_CONFIG_FILE"), env.getenv("IGNITION_CONFIG_FILE")); p != "" {
		return p
	}
	return filepath.Join(env.WorkDir, "config.ign")
}

func (file) Fetch(ctx context.Context, env *Env) ([]byte, error) {
	p := FileProviderPath(env)
	env.Log.Info("file platform: reading %s", p)
	b, err := readCapped(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("file platform: %w", err)
	}
	if err != nil {
		return nil, fmt.Errorf("file platform: %w", err)
	}
	return nonEmpty(b)
}
