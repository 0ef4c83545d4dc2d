package disks

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/flintboot/flint/config"
	"github.com/flintboot/flint/stages"
	"github.com/flintboot/flint/system"
)

func i64(v int64) *int64 { return &v }

func TestSgdiskArgs(t *testing.T) {
	ops := &sgdiskOps{zap: true, deletes: []int{2, 3}, creates: []partSpec{
		{Number: 1, Start: i64(2048), Size: i64(4096), Label: ptr("ro:ot"), TypeGUID: ptr("0fc63daf-8483-4772-8e79-3d69d8477de4"), GUID: ptr("a55d1811-a796-494b-922d-3003e62a6d23")},
		{Number: 4},
		{Number: 5, Start: i64(0), Size: i64(0)},
	}, infos: []int{4}}
	want := []string{"--zap-all", "--delete=2", "--delete=3",
		"--new=1:2048:+4096", "--change-name=1:ro:ot", "--typecode=1:0FC63DAF-8483-4772-8E79-3D69D8477DE4",
		"--partition-guid=1:A55D1811-A796-494B-922D-3003E62A6D23",
		"--new=4:0:0", "--new=5:0:0", "--info=4"}
	if got := ops.args(); !reflect.DeepEqual(got, want) {
		t.Fatalf("args:\n got %q\nwant %q", got, want)
	}
}

func TestParsePretend(t *testing.T) {
	out := `Creating new GPT entries in memory.
Partition GUID code: 0FC63DAF-8483-4772-8E79-3D69D8477DE4 (Linux filesystem)
Partition unique GUID: A55D1811-A796-494B-922D-3003E62A6D23
First sector: 22528 (at 11.0 MiB)
Last sector: 63487 (at 31.0 MiB)
Partition size: 40960 sectors (20.0 MiB)
Attribute flags: 0000000000000000
Partition name: ''
Partition GUID code: 0FC63DAF-8483-4772-8E79-3D69D8477DE4 (Linux filesystem)
Partition unique GUID: 02B29FCA-1724-4357-940C-EFE23589861D
First sector: 63488 (at 31.0 MiB)
Last sector: 204766 (at 100.0 MiB)
Partition size: 141279 sectors (69.0 MiB)
Attribute flags: 0000000000000000
Partition name: 'First sector: 1'
`
	got, err := parsePretend([]byte(out), []int{2, 3})
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]dims{2: {22528, 40960}, 3: {63488, 141279}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v want %v", got, want)
	}
	if _, err := parsePretend([]byte(out), []int{2}); err == nil {
		t.Fatal("extra block accepted")
	}
	if _, err := parsePretend([]byte("Partition #4 does not exist.\n"), []int{4}); err == nil || !strings.Contains(err.Error(), "partition 4") {
		t.Fatalf("missing partition: %v", err)
	}
	if _, err := parsePretend([]byte("Partition GUID code: X\nFirst sector: 5 (at 1)\n"), []int{1}); err == nil {
		t.Fatal("truncated block accepted")
	}
}

func TestDecideMatrix(t *testing.T) {
	tbl := &Table{SectorSize: 512, Entries: []TableEntry{
		{Number: 1, Start: 2048, Size: 2048, TypeGUID: "0FC63DAF-8483-4772-8E79-3D69D8477DE4", GUID: "11111111-1111-1111-1111-111111111111", Label: "one"},
		{Number: 2, Start: 4096, Size: 2048, TypeGUID: "0FC63DAF-8483-4772-8E79-3D69D8477DE4", GUID: "22222222-2222-2222-2222-222222222222", Label: "two"},
	}}
	cases := []struct {
		name    string
		spec    partSpec
		action  string
		err     string
		deletes []int
		creates int
	}{
		{"absent", partSpec{Number: 3}, partAbsent, "", nil, 0},
		{"create", partSpec{Number: 3, ShouldExist: true}, partCreate, "", nil, 1},
		{"exists-should-not", partSpec{Number: 1}, "", "partition 1 exists but is specified as nonexistant and wipePartitionEntry is false", nil, 0},
		{"delete", partSpec{Number: 1, Wipe: true}, partDelete, "", []int{1}, 0},
		{"keep", partSpec{Number: 1, ShouldExist: true, Label: ptr("one"), Start: i64(2048), GUID: ptr("11111111-1111-1111-1111-111111111111")}, partKeep, "", nil, 0},
		{"label-mismatch", partSpec{Number: 1, ShouldExist: true, Label: ptr("uno")}, "", `partition 1 didn't match: label did not match (specified "uno", got "one")`, nil, 0},
		{"start-mismatch", partSpec{Number: 1, ShouldExist: true, Start: i64(4096)}, "", "partition 1 didn't match: starting sector did not match (specified 4096, got 2048)", nil, 0},
		{"size-mismatch", partSpec{Number: 1, ShouldExist: true, Size: i64(4096)}, "", "partition 1 didn't match: size did not match (specified 4096, got 2048)", nil, 0},
		{"type-mismatch", partSpec{Number: 2, ShouldExist: true, TypeGUID: ptr("C12A7328-F81F-11D2-BA4B-00A0C93EC93B")}, "", `partition 2 didn't match: type GUID did not match (specified "C12A7328-F81F-11D2-BA4B-00A0C93EC93B", got "0FC63DAF-8483-4772-8E79-3D69D8477DE4")`, nil, 0},
		{"guid-case", partSpec{Number: 2, ShouldExist: true, GUID: ptr("22222222-2222-2222-2222-222222222222"), TypeGUID: ptr("0fc63daf-8483-4772-8e79-3d69d8477de4")}, partKeep, "", nil, 0},
		{"resize", partSpec{Number: 1, ShouldExist: true, Resize: true, Size: i64(8192)}, partResize, "", []int{1}, 1},
		{"resize-but-label", partSpec{Number: 1, ShouldExist: true, Resize: true, Size: i64(8192), Label: ptr("x")}, "", "partition 1 didn't match: size did not match", nil, 0},
		{"recreate", partSpec{Number: 1, ShouldExist: true, Wipe: true, Label: ptr("x")}, partRecreate, "", []int{1}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			decs, ops, err := decide(tbl, false, []partSpec{c.spec}, nil)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if decs[0].Action != c.action {
				t.Fatalf("action %s, want %s", decs[0].Action, c.action)
			}
			if !reflect.DeepEqual(ops.deletes, c.deletes) || len(ops.creates) != c.creates {
				t.Fatalf("ops %+v", ops)
			}
		})
	}
	// resize keeps everything but the size of the existing entry
	decs, _, _ := decide(tbl, false, []partSpec{{Number: 2, ShouldExist: true, Resize: true, Size: i64(100)}}, nil)
	s := decs[0].Spec
	if *s.Start != 4096 || *s.Size != 100 || *s.Label != "two" || *s.GUID != "22222222-2222-2222-2222-222222222222" {
		t.Fatalf("resize spec %+v", s)
	}
	// active partitions may be kept, never changed
	if _, _, err := decide(tbl, false, []partSpec{{Number: 1, Wipe: true}}, map[int]bool{1: true}); err == nil || !strings.Contains(err.Error(), "refusing to modify active partition 1") {
		t.Fatalf("active: %v", err)
	}
	if _, _, err := decide(tbl, false, []partSpec{{Number: 1, ShouldExist: true}}, map[int]bool{1: true}); err != nil {
		t.Fatalf("keeping an active partition: %v", err)
	}
	// wipeTable: everything is created afresh
	decs, ops, err := decide(tbl, true, []partSpec{{Number: 1, ShouldExist: true, Label: ptr("new")}}, nil)
	if err != nil || decs[0].Action != partCreate || !ops.zap {
		t.Fatalf("wipe: %v %+v %+v", err, decs, ops)
	}
}

func TestSpecsFromConfigNumberZero(t *testing.T) {
	tbl := &Table{SectorSize: 512, Entries: []TableEntry{{Number: 1, Label: "a"}, {Number: 3, Label: "c"}}}
	specs := specsFromConfig([]config.Partition{
		{Label: ptr("new1")},
		{Label: ptr("c")},
		{Number: 2, Label: ptr("b"), SizeMiB: ptr(1), StartMiB: ptr(0)},
		{Label: ptr("new2")},
	}, tbl)
	var got []int
	for _, s := range specs {
		got = append(got, s.Number)
	}
	if want := []int{2, 4, 3, 5}; !reflect.DeepEqual(got, want) {
		t.Fatalf("numbers %v, want %v", got, want)
	}
	if *specs[0].Size != 2048 || *specs[0].Start != 0 || specs[1].Start != nil {
		t.Fatalf("sectors: %+v", specs[0])
	}
	// sgdisk's --new=0 takes the lowest number free after the deletions:
	// partition 1 is deleted in this run, so the new partition is 1 (as the
	// reference's single sgdisk call makes it) and never matched against
	// the old 1.
	specs = specsFromConfig([]config.Partition{
		{Number: 1, ShouldExist: ptr(false), WipePartitionEntry: ptr(true)},
		{Label: ptr("fresh"), SizeMiB: ptr(1)},
		{Number: 9, ShouldExist: ptr(false)},
		{Label: ptr("second")},
	}, tbl)
	if specs[2].Number != 1 || !specs[2].Fresh || specs[3].Number != 2 || !specs[3].Fresh {
		t.Fatalf("after deletion: %+v", specs)
	}
	decs, ops, err := decide(tbl, false, specs, nil)
	if err != nil || decs[0].Action != partDelete || decs[2].Action != partCreate {
		t.Fatalf("decide: %v %+v", err, decs)
	}
	if got := strings.Join(ops.args(), " "); got != "--delete=1 --new=1:0:+2048 --change-name=1:fresh --new=2:0:0 --change-name=2:second" {
		t.Fatalf("sgdisk %s", got)
	}
	tbl4k := &Table{SectorSize: 4096}
	if s := specsFromConfig([]config.Partition{{Number: 1, SizeMiB: ptr(8)}}, tbl4k); *s[0].Size != 2048 {
		t.Fatalf("4k sectors: %d", *s[0].Size)
	}
}

// --- real sgdisk on image files (no kernel partitions needed) ---

func newImage(t *testing.T, mib int64) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "disk.img")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(mib << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return p
}

func sgdisk(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("sgdisk", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("sgdisk %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func testContext(t *testing.T, cfg config.Config, r system.Runner) *stages.Context {
	t.Helper()
	p := system.DefaultPaths()
	p.RunDir = t.TempDir()
	return &stages.Context{Config: cfg, Runner: r, Paths: p, State: &stages.State{}}
}

func diskConfig(dev string, wipe bool, parts ...config.Partition) config.Config {
	var c config.Config
	c.Storage.Disks = []config.Disk{{Device: dev, WipeTable: &wipe, Partitions: parts}}
	return c
}

func planApply(t *testing.T, cfg config.Config) (stages.Plan, error) {
	t.Helper()
	c := testContext(t, cfg, system.NewRunner(nil, nil))
	p, err := New().Plan(context.Background(), c)
	if err != nil {
		return nil, err
	}
	return p, p.Apply(context.Background(), c)
}

func TestImageCreateMatchResizeDelete(t *testing.T) {
	img := newImage(t, 64)
	cfg := diskConfig(img, false,
		config.Partition{Number: 1, Label: ptr("boot"), SizeMiB: ptr(8), TypeGUID: ptr("C12A7328-F81F-11D2-BA4B-00A0C93EC93B")},
		config.Partition{Number: 2, Label: ptr("root"), SizeMiB: ptr(16), GUID: ptr("6c1c9a2e-0000-4000-8000-f1a7e0000001")},
		config.Partition{Label: ptr("rest"), SizeMiB: ptr(0)}, // number 0, fill
	)
	if _, err := planApply(t, cfg); err != nil {
		t.Fatal(err)
	}
	tbl, err := ReadTable(img)
	if err != nil {
		t.Fatal(err)
	}
	want := []TableEntry{
		{Number: 1, Start: 2048, Size: 16384, TypeGUID: "C12A7328-F81F-11D2-BA4B-00A0C93EC93B", Label: "boot"},
		{Number: 2, Start: 18432, Size: 32768, TypeGUID: "0FC63DAF-8483-4772-8E79-3D69D8477DE4", GUID: "6C1C9A2E-0000-4000-8000-F1A7E0000001", Label: "root"},
		{Number: 3, Start: 51200, Size: 131072 - 51200 - 34 + 1 - 0, TypeGUID: "0FC63DAF-8483-4772-8E79-3D69D8477DE4", Label: "rest"},
	}
	checkTable(t, tbl, want)

	// Second run: everything matches, no write at all.
	p, err := planApply(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range p.Actions() {
		if a.Op == "sgdisk" || !strings.HasPrefix(a.Op, "keep") {
			t.Fatalf("second run planned %v", a)
		}
	}

	// Resize 2 to fill? No: grow 3 needs room. Shrink 3, then grow 2 in place is blocked by 3's start,
	// so resize 3 (the last) down, and delete 1 with wipePartitionEntry.
	cfg2 := diskConfig(img, false,
		config.Partition{Number: 1, ShouldExist: ptr(false), WipePartitionEntry: ptr(true)},
		config.Partition{Number: 3, SizeMiB: ptr(10), Resize: ptr(true)},
		config.Partition{Number: 4, ShouldExist: ptr(false)},
	)
	if _, err := planApply(t, cfg2); err != nil {
		t.Fatal(err)
	}
	tbl, _ = ReadTable(img)
	want[2].Size = 20480
	checkTable(t, tbl, want[1:])

	// Start 0 on a hole: the largest free block is after partition 3.
	cfg3 := diskConfig(img, false, config.Partition{Number: 5, StartMiB: ptr(0), SizeMiB: ptr(4), Label: ptr("hole")})
	if _, err := planApply(t, cfg3); err != nil {
		t.Fatal(err)
	}
	tbl, _ = ReadTable(img)
	e, ok := tbl.Entry(5)
	if !ok || e.Start != 71680 || e.Size != 8192 {
		t.Fatalf("partition 5: %+v", e)
	}
}

func checkTable(t *testing.T, tbl *Table, want []TableEntry) {
	t.Helper()
	if len(tbl.Entries) != len(want) {
		t.Fatalf("table has %d entries, want %d: %+v", len(tbl.Entries), len(want), tbl.Entries)
	}
	for i, w := range want {
		g := tbl.Entries[i]
		if w.GUID == "" {
			w.GUID = g.GUID
		}
		if g != w {
			t.Errorf("entry %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

func TestImageRefusalsBeforeAnyWrite(t *testing.T) {
	img := newImage(t, 32)
	sgdisk(t, "-n1:0:+4M", "-c1:data", "-n2:0:+4M", img)
	before, _ := os.ReadFile(img)
	for name, cfg := range map[string]config.Config{
		"mismatch":   diskConfig(img, false, config.Partition{Number: 1, Label: ptr("other")}),
		"noexist":    diskConfig(img, false, config.Partition{Number: 3, SizeMiB: ptr(1)}, config.Partition{Number: 2, ShouldExist: ptr(false)}),
		"size-nores": diskConfig(img, false, config.Partition{Number: 1, SizeMiB: ptr(8)}),
	} {
		_, err := New().Plan(context.Background(), testContext(t, cfg, system.NewRunner(nil, nil)))
		if err == nil {
			t.Fatalf("%s: planned", name)
		}
		t.Logf("%s: %v", name, err)
	}
	after, _ := os.ReadFile(img)
	if string(before) != string(after) {
		t.Fatal("the image changed")
	}
	// wipeTable replaces everything in one call
	p, err := planApply(t, diskConfig(img, true, config.Partition{Number: 1, Label: ptr("other"), SizeMiB: ptr(2)}))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, a := range p.Actions() {
		if a.Op == "sgdisk" {
			n++
			if !strings.HasPrefix(a.Detail, "--zap-all --new=1:") {
				t.Fatalf("sgdisk call %q", a.Detail)
			}
		}
	}
	if n != 1 {
		t.Fatalf("%d sgdisk calls", n)
	}
	tbl, _ := ReadTable(img)
	checkTable(t, tbl, []TableEntry{{Number: 1, Start: 2048, Size: 4096, TypeGUID: "0FC63DAF-8483-4772-8E79-3D69D8477DE4", Label: "other"}})
}

func TestReadTableMatchesSgdisk(t *testing.T) {
	img := newImage(t, 16)
	if tbl, err := ReadTable(img); err != nil || tbl.HasGPT || len(tbl.Entries) != 0 {
		t.Fatalf("empty image: %+v %v", tbl, err)
	}
	sgdisk(t, "-n1:0:+1M", "-c1:ünïcode name", "-t1:EF00", "-n7:0:0", img)
	tbl, err := ReadTable(img)
	if err != nil {
		t.Fatal(err)
	}
	if !tbl.HasGPT || len(tbl.Entries) != 2 || tbl.Entries[0].Label != "ünïcode name" || tbl.Entries[1].Number != 7 {
		t.Fatalf("%+v", tbl)
	}
	info := sgdisk(t, "-i", "7", img)
	if !strings.Contains(info, "Partition unique GUID: "+tbl.Entries[1].GUID) || !strings.Contains(info, "Last sector: 32734") {
		t.Fatalf("sgdisk says\n%s\nwe read %+v", info, tbl.Entries[1])
	}
	// Corrupt the primary header: the backup still answers.
	f, _ := os.OpenFile(img, os.O_WRONLY, 0)
	f.WriteAt([]byte("garbage!"), 512+60) // inside the CRC-covered disk GUID
	f.Close()
	tbl2, err := ReadTable(img)
	if err != nil || !reflect.DeepEqual(tbl2.Entries, tbl.Entries) {
		t.Fatalf("backup header: %v %+v", err, tbl2)
	}
}

// The reference's "complex partitioning case using MiBs" blackbox test
// (tests/positive/partitions/complex-mb.go), plus two number 0 partitions
// without a start: shouldExist false partitions next to partitions whose
// start and size are 0. Spec 3 has no validate rule against it (issue 16);
// the disks stage lays it out as Ignition's does: one --pretend for the
// zeros, the deleted partition 4's number reused by the first number 0
// partition, then one sgdisk call.
func TestKitchenSinkLikeTheReference(t *testing.T) {
	img := newImage(t, 330)
	const (
		t0 = "316F19F9-9E0F-431E-859E-AE6908DBE8CA"
		t2 = "6050E8FC-1E31-473B-BCC0-714E32FCB09D"
		g1 = "53F2E871-F468-437C-B90D-F3C6409DF81A"
		g3 = "F14984BC-6F08-4885-B668-526263469A00"
	)
	// The "in" disk: p1 64 MiB, dont-delete, garbo-town, a gap, more-junk,
	// dont-delete2, a gap (2048-sector alignment).
	sgdisk(t, "-n1:2048:+131072", "-c1:p1", "-t1:"+t0,
		"-n2:133120:+65536", "-c2:dont-delete",
		"-n3:198656:+65536", "-c3:garbo-town",
		"-n4:395264:+65536", "-c4:more-junk",
		"-n5:460800:+65536", "-c5:dont-delete2", img)
	cfg := diskConfig(img, false,
		config.Partition{Number: 1, Label: ptr("p1"), StartMiB: ptr(1), SizeMiB: ptr(32), TypeGUID: ptr(t0), GUID: ptr(g1), WipePartitionEntry: ptr(true)},
		config.Partition{Number: 2, Label: ptr("dont-delete"), SizeMiB: ptr(32)},
		config.Partition{Number: 3, Label: ptr("new-biggest"), StartMiB: ptr(0), SizeMiB: ptr(0), TypeGUID: ptr(t2), GUID: ptr(g3), WipePartitionEntry: ptr(true)},
		config.Partition{Label: ptr("zero-a"), SizeMiB: ptr(16)},
		config.Partition{Number: 4, ShouldExist: ptr(false), WipePartitionEntry: ptr(true)},
		config.Partition{Number: 9, ShouldExist: ptr(false)},
		config.Partition{Label: ptr("zero-b")},
	)
	p, err := planApply(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, a := range p.Actions() {
		if a.Op == "sgdisk" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d sgdisk writes: %v", n, p.Actions())
	}
	tbl, err := ReadTable(img)
	if err != nil {
		t.Fatal(err)
	}
	last := tbl.Sectors - 34
	type want struct {
		n           int
		label       string
		start, size int64
	}
	exp := []want{
		{1, "p1", 2048, 65536},
		{2, "dont-delete", 133120, 65536},
		{3, "new-biggest", 198656, 262144}, // old 3 + the gap + old 4
		{4, "zero-a", 526336, 32768},       // the largest free block then: after dont-delete2
		{5, "dont-delete2", 460800, 65536},
		{6, "zero-b", 559104, last - 559104 + 1},
	}
	if len(tbl.Entries) != len(exp) {
		t.Fatalf("entries %+v", tbl.Entries)
	}
	for i, w := range exp {
		e := tbl.Entries[i]
		if e.Number != w.n || e.Label != w.label || e.Start != w.start || e.Size != w.size {
			t.Errorf("entry %d: got %d %q %d+%d, want %d %q %d+%d", i, e.Number, e.Label, e.Start, e.Size, w.n, w.label, w.start, w.size)
		}
	}
	if e, _ := tbl.Entry(1); e.GUID != g1 || e.TypeGUID != t0 {
		t.Errorf("p1 guids %+v", e)
	}
	if e, _ := tbl.Entry(3); e.GUID != g3 || e.TypeGUID != t2 {
		t.Errorf("new-biggest guids %+v", e)
	}
}
