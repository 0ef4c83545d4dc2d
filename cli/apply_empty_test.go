package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An empty or white-space-only config is no config: validate and apply
// refuse it alike, and apply writes nothing. (Empty user data from a
// platform still means "no user config": providers' ErrNoConfig.)
func TestApplyEmptyConfigs(t *testing.T) {
	for name, body := range map[string]string{"empty": "", "blank": " \n\t\r\n"} {
		p := filepath.Join(t.TempDir(), name+".ign")
		os.WriteFile(p, []byte(body), 0o644)
		out, _, vcode := flint(t, "validate", p)
		root := t.TempDir()
		_, e, acode := flint(t, "apply", "--root", root, p)
		if vcode != ExitFailure || acode != ExitFailure || !strings.Contains(out, "not a config (empty)") || !strings.Contains(e, "not a config (empty)") {
			t.Errorf("%s: validate %d %q, apply %d %q", name, vcode, out, acode, e)
		}
		if ents, _ := os.ReadDir(root); len(ents) != 0 {
			t.Errorf("%s: apply wrote %v", name, ents)
		}
	}
}
