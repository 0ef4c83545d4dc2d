// Package vm is the QEMU end-to-end harness for flint's boot-level tests.
//
// It boots the Debian kernel unpacked by tests/deps/kernel.sh under QEMU software
// emulation (TCG; KVM does not work on the CI machines) with a hand-made busybox
// initramfs that holds flint (/usr/bin/flint), the real disk tools (/usr/sbin) and the
// kernel modules they need. Each boot runs one shell script, passed through fw_cfg
// (opt/flint/test.sh), with `sh -e`; the guest reports the script's exit code on the
// serial console and through isa-debug-exit. Host-side helpers read the resulting disk
// images without kernel support for GPT, device-mapper, md or vfat.
//
// Everything here is test code: it runs tools directly and needs root.
package vm

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// CacheDir is the root of the test cache: $FLINT_TEST_CACHE, or /var/cache/flint-test.
func CacheDir() string {
	if d := os.Getenv("FLINT_TEST_CACHE"); d != "" {
		return d
	}
	return "/var/cache/flint-test"
}

// ErrNoKernel means tests/deps/kernel.sh has not been run (or was interrupted).
var ErrNoKernel = errors.New("VM test kernel missing: run make deps (tests/deps/kernel.sh)")

// Kernel returns the unpacked Debian kernel made by tests/deps/kernel.sh: the vmlinuz
// path, the modules directory (.../lib/modules/KVER, with modules.dep) and the ABI name.
func Kernel() (vmlinuz, modulesDir, kver string, err error) {
	root := filepath.Join(CacheDir(), "kernel")
	b, err := os.ReadFile(filepath.Join(root, "KVER"))
	if err != nil {
		return "", "", "", fmt.Errorf("%w: %v", ErrNoKernel, err)
	}
	kver = strings.TrimSpace(string(b))
	vmlinuz = filepath.Join(root, "boot", "vmlinuz-"+kver)
	modulesDir = filepath.Join(root, "lib", "modules", kver)
	for _, p := range []string{vmlinuz, filepath.Join(modulesDir, "modules.dep")} {
		if _, err := os.Stat(p); err != nil {
			return "", "", "", fmt.Errorf("%w: %v", ErrNoKernel, err)
		}
	}
	return vmlinuz, modulesDir, kver, nil
}
