package host

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// loopDevice makes an ext4 image on the case's filesystem and attaches it.
func loopDevice(t *testing.T, r *root) string {
	t.Helper()
	img := filepath.Join(r.base, "dev.img")
	f, err := os.Create(img)
	must(t, err)
	must(t, f.Truncate(64<<20))
	f.Close()
	out, err := exec.Command("losetup", "--find", "--show", img).Output()
	must(t, err)
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command("losetup", "-d", dev).Run() })
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", "-L", "DATA", dev).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v: %s", err, out)
	}
	return dev
}

// TestAllStages runs disks (reusing a formatted loop device), mount, files
// and umount with `flint apply --all-stages`.
func TestAllStages(t *testing.T) {
	runCases(t, []tc{
		{name: "users.add.mountpoint", passwd: true, args: []string{"--all-stages"},
			setup: func(t *testing.T, r *root) {
				r.dev = loopDevice(t, r)
			},
			config: `{"ignition":{"version":"$version"},"storage":{"filesystems":[{"device":"$dev","format":"ext4","path":"/home/tester/mnt","label":"DATA"}],
			  "files":[{"path":"/home/tester/mnt/onfs","contents":{"source":"data:,x"}}]},
			  "passwd":{"users":[{"name":"tester","uid":1234,"homeDir":"/home/tester"}]}}`,
			check: func(t *testing.T, r *root) {
				wantDir(t, r, "/home/tester/mnt", 0o755, 0, 0) // the mountpoint under the fs
				wantMissing(t, r, "/home/tester/mnt/onfs")     // the file went onto the filesystem
				mnt := filepath.Join(r.base, "check")
				must(t, os.MkdirAll(mnt, 0o755))
				if out, err := exec.Command("mount", r.dev, mnt).CombinedOutput(); err != nil {
					t.Fatalf("mount: %v: %s", err, out)
				}
				defer exec.Command("umount", mnt).Run()
				fi, err := os.Stat(mnt)
				must(t, err)
				if fi.Mode().Perm() != 0o700 {
					t.Fatalf("fs root mode %v", fi.Mode())
				}
				wantMeta(t, "fs root", fi, 0, 1234, -1)
				b, err := os.ReadFile(filepath.Join(mnt, "onfs"))
				if err != nil || string(b) != "x" {
					t.Fatalf("file on the mounted fs: %q %v", b, err)
				}
			}},
	})
}
