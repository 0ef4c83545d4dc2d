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
	return buildStatic("./cmd/flint", filepath.Join(dir, "flint"))
}

// buildStatic builds the package pkg (relative to the module root) as a
// static binary at bin.
func buildStatic(pkg, bin string) (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		return "", fmt.Errorf("finding the module root: %w", err)
	}
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, pkg)
	cmd.Dir = strings.TrimSpace(string(out))
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin, nil
}
