package disks

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/flintboot/flint/config"
	"github.com/flintboot/flint/system"
)

// Every format is created (concurrently) on image files, found again and
// reused on a second run, and a wrong type is refused at planning.
func TestFilesystemsOnImages(t *testing.T) {
	sizes := map[string]int64{"ext4": 16, "xfs": 310, "btrfs": 120, "vfat": 16, "swap": 16, "none": 4}
	var cfg config.Config
	imgs := map[string]string{}
	for _, f := range []string{"ext4", "xfs", "btrfs", "vfat", "swap", "none"} {
		img := newImage(t, sizes[f])
		imgs[f] = img
		fs := config.Filesystem{Device: img, Format: ptr(f)}
		if f != "none" {
			fs.Label = ptr("L" + f)
		}
		if f == "vfat" {
			fs.UUID = ptr("1234-ABCD")
		}
		if f == "ext4" {
			fs.UUID = ptr("2d5e9b3c-9a3e-4f59-a0a4-3b3d9c1c0a11")
		}
		cfg.Storage.Filesystems = append(cfg.Storage.Filesystems, fs)
	}
	// "none" wipes what is there
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", imgs["none"]).CombinedOutput(); err != nil {
		t.Fatal(err, string(out))
	}
	cfg.Storage.Filesystems[5].WipeFilesystem = ptr(true)
	if _, err := planApply(t, cfg); err != nil {
		t.Fatal(err)
	}
	r := system.NewRunner(logDiscard(), nil)
	e := &env{run: r, log: logDiscard()}
	for f, img := range imgs {
		fi, err := probeFS(t.Context(), e, img)
		if err != nil {
			t.Fatal(err)
		}
		want := f
		if f == "none" {
			want = ""
		}
		if fi.Type != want || (f != "none" && fi.Label != "L"+f) {
			t.Errorf("%s: probed %+v", f, fi)
		}
		if f == "vfat" && fi.UUID != "1234-ABCD" || f == "ext4" && fi.UUID != "2d5e9b3c-9a3e-4f59-a0a4-3b3d9c1c0a11" {
			t.Errorf("%s: uuid %s", f, fi.UUID)
		}
	}
	// Second run: everything is reused; planning runs blkid only, applying
	// runs nothing.
	cfg.Storage.Filesystems[5].WipeFilesystem = nil
	rec := &recording{r: system.NewRunner(nil, nil)}
	c := testContext(t, cfg, rec)
	p, err := New().Plan(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range p.Actions() {
		if a.Op != "reuse-filesystem" {
			t.Errorf("second run: %v", a)
		}
	}
	for _, n := range rec.take() {
		if n != system.ToolBlkid {
			t.Errorf("planning ran %s", n)
		}
	}
	if err := p.Apply(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if l := rec.take(); len(l) != 0 {
		t.Fatalf("second run ran %q", l)
	}
	// Wrong type without wipe: refused while planning.
	cfg.Storage.Filesystems = []config.Filesystem{{Device: imgs["xfs"], Format: ptr("ext4")}}
	_, err = New().Plan(context.Background(), testContext(t, cfg, rec))
	if !errors.Is(err, ErrBadFilesystem) || !strings.Contains(err.Error(), "found xfs") {
		t.Fatalf("wrong type: %v", err)
	}
}
