package stages

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/flintboot/flint/system"
)

// IgnitionResultFile is Ignition's result file, written alongside flint's
// own so tools that read it keep working.
const IgnitionResultFile = "/etc/.ignition-result.json"

// Result is the content of the result files. The first four fields are
// Ignition's; the rest are flint's (the Ignition file omits them).
type Result struct {
	ProvisioningBootID string          `json:"provisioningBootID"`
	ProvisioningDate   string          `json:"provisioningDate"`
	UserConfigProvided bool            `json:"userConfigProvided"`
	PreviousReport     json.RawMessage `json:"previousReport,omitempty"`
	Version            string          `json:"flintVersion,omitempty"`
	Platform           string          `json:"platform,omitempty"`
	Stages             []StageRecord   `json:"stages,omitempty"`
}

// WriteResult writes <root>/etc/.flint-result.json (Paths.ResultFile) with
// the stage records (a failed one included) and, when every recorded stage
// succeeded, <root>/etc/.ignition-result.json with Ignition's fields, both
// 0600, atomically and durable together (one syncfs). An existing file becomes the new
// file's previousReport, with a warning that provisioning ran before; a
// symlink or other non-regular file there is never read through (it is
// replaced). An empty Paths.ResultFile disables both.
func WriteResult(c *Context) error {
	if c.Paths.ResultFile == "" {
		return nil
	}
	base := Result{
		ProvisioningBootID: c.Paths.BootID(),
		ProvisioningDate:   time.Now().UTC().Format(time.RFC3339),
		UserConfigProvided: c.UserConfigProvided,
	}
	var stagesDone []StageRecord
	if c.State != nil {
		stagesDone = c.State.Stages
	}
	warned := false
	files := []struct {
		path  string
		flint bool
	}{{c.Paths.ResultFile, true}, {IgnitionResultFile, false}}
	for _, s := range stagesDone {
		if s.Status != "succeeded" {
			// Ignition writes its file only after a successful boot
			files = files[:1]
		}
	}
	var out []system.RootFile
	for _, f := range files {
		r := base
		if f.flint {
			r.Version, r.Platform, r.Stages = c.Version, c.Platform, stagesDone
		}
		old, err := system.ReadInRoot(c.Root, f.path)
		switch {
		case err == nil && json.Valid(old):
			r.PreviousReport = json.RawMessage(old)
			if !warned {
				c.Log.Warn("provisioning has already run on this system (%s exists); keeping its report as previousReport", f.path)
				warned = true
			}
		case errors.Is(err, system.ErrNotRegular):
			c.Log.Warn("%s is not a regular file: replacing it without reading it", f.path)
		case err != nil && !errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("reading previous result %s: %w", f.path, err)
		}
		raw, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return err
		}
		out = append(out, system.RootFile{Path: f.path, Data: append(raw, '\n'), Mode: 0o600})
	}
	if err := system.WriteFilesInRoot(c.Root, out); err != nil {
		return fmt.Errorf("writing the result files: %w", err)
	}
	return nil
}
