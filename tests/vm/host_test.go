package vm_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/flintboot/flint/tests/vm"
)

// TestHostHelpers checks the host-side readers on an image made on the host.
func TestHostHelpers(t *testing.T) {
	requireRoot(t)
	img := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 64<<20); err != nil {
		t.Fatal(err)
	}
	if _, err := vm.PartitionTable(img); err == nil {
		t.Error("PartitionTable of a blank image did not fail")
	}
	if out, err := runCmd("sgdisk", "-n1:0:+10M", "-t1:8300", "-c1:my root",
		"-u1:6E3CB1F0-2E4F-4B8A-9C55-4B3E2A1D0C01", "-A1:set:2", "-n2:0:0", "-t2:EF00", "-c2:ESP", img); err != nil {
		t.Fatalf("sgdisk: %v\n%s", err, out)
	}
	parts, err := vm.PartitionTable(img)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 2 {
		t.Fatalf("got %d partitions", len(parts))
	}
	p := parts[0]
	if p.Number != 1 || p.Start != 2048 || p.Size != 20480 || p.Name != "my root" || p.SectorSize != 512 ||
		p.TypeGUID != "0FC63DAF-8483-4772-8E79-3D69D8477DE4" || p.GUID != "6E3CB1F0-2E4F-4B8A-9C55-4B3E2A1D0C01" ||
		p.Attributes != "0000000000000004" {
		t.Errorf("partition 1: %+v", p)
	}
	if q := parts[1]; q.Start != 22528 || q.Start+q.Size != 131072-33 || q.TypeGUID != "C12A7328-F81F-11D2-BA4B-00A0C93EC93B" {
		t.Errorf("partition 2 (fill): %+v", q)
	}
	// ext4 inside partition 1, labelled with a space.
	if out, err := runCmd("mkfs.ext4", "-q", "-F", "-L", "a b", "-E", "offset=1048576", img, "10M"); err != nil {
		t.Fatalf("mkfs: %v\n%s", err, out)
	}
	pr, err := vm.ProbeRange(img, p.Offset(), p.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if pr.Type != "ext4" || pr.Label != "a b" || len(pr.UUID) != 36 {
		t.Errorf("probe: %+v", pr)
	}
	if pr, err := vm.Probe(img, parts[1].Offset()); err != nil || pr.Type != "" {
		t.Errorf("probe of an empty partition: %+v, %v", pr, err)
	}
	if _, err := vm.ReadExt4File(img, p.Offset(), "/nothing"); err == nil {
		t.Error("ReadExt4File of a missing file did not fail")
	}
	if err := vm.LUKSTestKey(img, p.Offset(), p.Bytes(), img); err == nil {
		t.Error("LUKSTestKey on ext4 did not fail")
	}
}

// TestKernelMissing: without kernel.sh's cache, Kernel fails and says what to run.
func TestKernelMissing(t *testing.T) {
	t.Setenv("FLINT_TEST_CACHE", t.TempDir())
	if _, _, _, err := vm.Kernel(); !errors.Is(err, vm.ErrNoKernel) {
		t.Fatalf("got %v", err)
	}
	if err := vm.BuildInitramfs(vm.InitramfsOptions{}, filepath.Join(t.TempDir(), "x")); !errors.Is(err, vm.ErrNoKernel) {
		t.Fatalf("BuildInitramfs: got %v", err)
	}
}
