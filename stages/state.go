package stages

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/flintboot/flint/config"
	"github.com/flintboot/flint/log"
	"github.com/flintboot/flint/system"
)

// FetchedConfig is one config acquisition used: the user config, a base
// fragment or a referenced (merge/replace) config.
type FetchedConfig struct {
	Kind       string `json:"kind"`   // "user", "base", "platform-base"
	Source     string `json:"source"` // redacted URL or path
	Referenced bool   `json:"referenced"`
	SHA512     string `json:"sha512,omitempty"`
}

// StageRecord is one stage run, kept in the state and the result file.
// The embedded log.OpSummary holds the stage's operations (every log.Op
// of the stage's process since the previous stage, bounded: the slowest
// ones and per-kind totals), for `flint analyze`.
type StageRecord struct {
	Name       string    `json:"name"`
	Status     string    `json:"status"` // "succeeded", "failed"
	Started    time.Time `json:"started"`
	DurationMS int64     `json:"durationMs"`
	Actions    int       `json:"actions"`
	Error      string    `json:"error,omitempty"`
	log.OpSummary
}

// LoadState reads the state file; a missing file is an empty state.
func LoadState(path string) (*State, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &State{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("loading state: %w", err)
	}
	var s State
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("loading state %s: %w", path, err)
	}
	return &s, nil
}

// Save writes the state file atomically with mode 0600, creating its
// directory (0700) when missing.
func (s *State) Save(path string) error {
	raw, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("saving state: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("saving state: %w", err)
	}
	if err := system.WriteFileAtomic(path, bytes.NewReader(raw), 0o600); err != nil {
		return fmt.Errorf("saving state: %w", err)
	}
	return nil
}

// RedactedConfigFile is the effective config with every secret redacted
// (config.RedactedJSON), in the run directory: written by the fetch stages
// after acquisition, read by `flint collect-logs`.
const RedactedConfigFile = "config.redacted.json"

// SaveRedactedConfig writes cfg, redacted, to <run dir>/RedactedConfigFile
// (0600, like the cache it is made from).
func SaveRedactedConfig(p system.Paths, cfg config.Config) error {
	raw, err := config.RedactedJSON(cfg)
	if err != nil {
		return fmt.Errorf("saving the redacted config: %w", err)
	}
	if err := os.MkdirAll(p.RunDir, 0o700); err != nil {
		return fmt.Errorf("saving the redacted config: %w", err)
	}
	return system.WriteFileAtomic(filepath.Join(p.RunDir, RedactedConfigFile), bytes.NewReader(append(raw, '\n')), 0o600)
}
