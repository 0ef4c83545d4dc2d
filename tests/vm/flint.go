package vm

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// BuildFlint builds the flint binary (./cmd/flint of this module) statically
// into dir and returns its path: what the guest runs as /usr/bin/flint.
func BuildFlint(dir string) (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		return "", fmt.Errorf("finding the module root: %w", err)
	}
	root := strings.TrimSpace(string(out))
	bin := filepath.Join(dir, "flint")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "./cmd/flint")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/flint: %v\n%s", err, out)
	}
	return bin, nil
}
