package mount

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flintboot/flint/config"
	"github.com/flintboot/flint/stages"
)

func ptr[T any](v T) *T { return &v }

func fsAt(dev, path, format string) config.Filesystem {
	return config.Filesystem{Device: dev, Path: ptr(path), Format: ptr(format)}
}

func planOf(t *testing.T, root string, fss ...config.Filesystem) (stages.Plan, error) {
	t.Helper()
	var cfg config.Config
	cfg.Storage.Filesystems = fss
	return Mount{}.Plan(context.Background(), &stages.Context{Root: root, Config: cfg, State: &stages.State{}})
}

// Nested mounts: /var first, then /var/lib/containers, whose mountpoint is
// made (and checked) in the /var filesystem once it is mounted; config
// order does not matter.
func TestPlanNestedOrder(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "var/lib/containers"), 0o755) // the root's own /var: shadowed by the mount
	p, err := planOf(t, root,
		fsAt("/dev/mapper/containers", "/var/lib/containers", "xfs"),
		fsAt("/dev/mapper/var", "/var", "ext4"),
		fsAt("/dev/vda2", "/boot/efi", "vfat"),
	)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range p.Actions() {
		got = append(got, a.Op+" "+strings.TrimPrefix(a.Target, root))
	}
	want := []string{"mount /var", "mkdir /boot", "mkdir /boot/efi", "mount /boot/efi",
		"mkdir /var/lib/containers", "mount /var/lib/containers"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("actions\n got %q\nwant %q", got, want)
	}
	for _, a := range p.Actions() {
		if a.Op == "mkdir" && strings.HasSuffix(a.Target, "containers") && !strings.Contains(a.Detail, "once /var is mounted") {
			t.Errorf("nested mkdir detail %q", a.Detail)
		}
	}
}

// A symbolic link on a mount path is refused while planning when it is in
// the tree as it stands, whether it points out of the root or not.
func TestPlanRefusesSymlinks(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	os.Symlink(outside, filepath.Join(root, "var"))
	if _, err := planOf(t, root, fsAt("/dev/x", "/var/lib", "ext4")); err == nil ||
		!strings.Contains(err.Error(), "is a symbolic link") {
		t.Fatalf("absolute link: %v", err)
	}
	root2 := t.TempDir()
	os.MkdirAll(filepath.Join(root2, "srv/real"), 0o755)
	os.Symlink("real", filepath.Join(root2, "srv/data"))
	if _, err := planOf(t, root2, fsAt("/dev/x", "/srv/data", "ext4")); err == nil || !strings.Contains(err.Error(), "srv/data is a symbolic link") {
		t.Fatalf("relative link: %v", err)
	}
	os.WriteFile(filepath.Join(root2, "file"), nil, 0o644)
	if _, err := planOf(t, root2, fsAt("/dev/x", "/file/x", "ext4")); err == nil || !strings.Contains(err.Error(), "is not a directory") {
		t.Fatalf("file: %v", err)
	}
}

// What the apply step checks after /var is mounted: a link inside the
// mounted tree that leads out of it.
func TestCheckMountPathInMountedTree(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "var"), 0o755)
	os.Symlink("../../etc", filepath.Join(root, "var/lib"))
	if _, err := checkMountPath(root, "/var/lib/containers"); err == nil || !strings.Contains(err.Error(), "var/lib is a symbolic link (to ../../etc)") {
		t.Fatalf("%v", err)
	}
	os.Remove(filepath.Join(root, "var/lib"))
	missing, err := checkMountPath(root, "/var/lib/containers")
	if err != nil || len(missing) != 2 || missing[0] != filepath.Join(root, "var/lib") {
		t.Fatalf("%q %v", missing, err)
	}
}
