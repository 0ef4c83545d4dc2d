package disks_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/flintboot/flint/tests/vm"
)

const (
	typeLinux = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
	typeESP   = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
	typeRAID  = "A19D880F-05FC-4D3B-A006-743F0F84911E"
	guidOne   = "6C1C9A2E-1111-4000-8000-F1A7E0000001"
	uuidXFS   = "2d5e9b3c-9a3e-4f59-a0a4-3b3d9c1c0a11"
	uuidExt4  = "2d5e9b3c-9a3e-4f59-a0a4-3b3d9c1c0a12"
	ksType0   = "316F19F9-9E0F-431E-859E-AE6908DBE8CA"
	ksType2   = "6050E8FC-1E31-473B-BCC0-714E32FCB09D"
	ksGUID1   = "53F2E871-F468-437C-B90D-F3C6409DF81A"
	ksGUID3   = "F14984BC-6F08-4885-B668-526263469A00"
)

// TestPartitionsAndFilesystems: the reference's partition cases on disk1
// (create with number 0 and fill, match, mismatch refused without writing,
// delete + recreate + resize in one sgdisk call, wipeTable), and every
// filesystem type on disk2 (create, reuse, wrong type refused, wipe,
// "none"); the reference's kitchen-sink layout on disk3 (issue 16); cex
// and a missing disk refused or reported while planning; then a second
// boot re-runs the final configs, which must change nothing and find the
// data written by the first. Every run is the real binary.
func TestPartitionsAndFilesystems(t *testing.T) {
	initrd := initramfs(t, false)
	dir := t.TempDir()
	d1 := `"/dev/disk/by-id/virtio-disk1"`
	d2 := `"/dev/disk/by-id/virtio-disk2"`
	create := `[
		{"number":1,"label":"p-one","sizeMiB":16,"typeGuid":"` + typeESP + `","guid":"` + guidOne + `"},
		{"number":2,"label":"p-two","sizeMiB":32},
		{"number":5,"label":"p-five","sizeMiB":32},
		{"label":"p-zero","sizeMiB":0}]`
	fsParts := `[
		{"number":1,"label":"fs-xfs","sizeMiB":310},
		{"number":2,"label":"fs-btrfs","sizeMiB":120},
		{"number":3,"label":"fs-ext4","sizeMiB":16},
		{"number":4,"label":"fs-vfat","sizeMiB":16,"typeGuid":"` + typeESP + `"},
		{"number":5,"label":"fs-swap","sizeMiB":16},
		{"label":"fs-none"}]`
	fss := func(vfatLabel, vfatUUID string) string {
		v := `"label":"` + vfatLabel + `"`
		if vfatUUID != "" {
			v += `,"uuid":"` + vfatUUID + `"`
		}
		return `[
		{"device":"/dev/disk/by-partlabel/fs-xfs","format":"xfs","label":"x-xfs","uuid":"` + uuidXFS + `"},
		{"device":"/dev/disk/by-partlabel/fs-btrfs","format":"btrfs","label":"b-btrfs"},
		{"device":"/dev/disk/by-partlabel/fs-ext4","format":"ext4","label":"e-ext4","uuid":"` + uuidExt4 + `","options":["-E","lazy_itable_init=1"]},
		{"device":"/dev/disk/by-partlabel/fs-vfat","format":"vfat",` + v + `},
		{"device":"/dev/disk/by-partlabel/fs-swap","format":"swap","label":"s-swap"},
		{"device":"/dev/disk/by-partlabel/fs-none","format":"none"}]`
	}
	fw := configs(t, dir, map[string]string{
		"p-create": cfg(`{"disks":[{"device":` + d1 + `,"wipeTable":true,"partitions":` + create + `}]}`),
		"p-match":  cfg(`{"disks":[{"device":` + d1 + `,"partitions":` + create + `}]}`),
		"p-neg":    cfg(`{"disks":[{"device":` + d1 + `,"partitions":[{"number":5,"label":"wrong"}]}]}`),
		"p-neg2":   cfg(`{"disks":[{"device":` + d1 + `,"partitions":[{"number":2,"shouldExist":false}]}]}`),
		"p-change": cfg(`{"disks":[{"device":` + d1 + `,"partitions":[
			{"number":1,"shouldExist":false,"wipePartitionEntry":true},
			{"number":2,"label":"p-two-new","sizeMiB":32,"wipePartitionEntry":true},
			{"number":3,"sizeMiB":64,"resize":true},
			{"number":4,"shouldExist":false}]}]}`),
		"p-wipe":   cfg(`{"disks":[{"device":` + d1 + `,"wipeTable":true,"partitions":[{"number":1,"label":"only","startMiB":0,"sizeMiB":0}]}]}`),
		"p-final":  cfg(`{"disks":[{"device":` + d1 + `,"partitions":[{"number":1,"label":"only"}]}]}`),
		"f-create": cfg(`{"disks":[{"device":` + d2 + `,"wipeTable":true,"partitions":` + fsParts + `}],"filesystems":` + fss("V-VFAT", "1234-ABCD") + `}`),
		"f-reuse":  cfg(`{"disks":[{"device":` + d2 + `,"partitions":` + fsParts + `}],"filesystems":` + fss("V-VFAT", "1234-ABCD") + `}`),
		"f-wrong":  cfg(`{"filesystems":[{"device":"/dev/disk/by-partlabel/fs-xfs","format":"ext4"}]}`),
		"f-wipe": cfg(`{"filesystems":[{"device":"/dev/disk/by-partlabel/fs-vfat","format":"vfat","label":"NEWLBL","wipeFilesystem":true},
			{"device":"/dev/disk/by-partlabel/fs-none","format":"none","wipeFilesystem":true}]}`),
		"f-final": cfg(`{"disks":[{"device":` + d2 + `,"partitions":` + fsParts + `}],"filesystems":` + fss("NEWLBL", "") + `}`),
		// Issue 16: the reference's kitchen sink (complex-mb.go) with two
		// number 0 partitions without a start: shouldExist false next to
		// start and size 0. Valid in spec 3; laid out at run time.
		"k-sink": cfg(`{"disks":[{"device":"/dev/disk/by-id/virtio-disk3","partitions":[
			{"number":1,"label":"p1","startMiB":1,"sizeMiB":32,"typeGuid":"` + ksType0 + `","guid":"` + ksGUID1 + `","wipePartitionEntry":true},
			{"number":2,"label":"dont-delete","sizeMiB":32},
			{"number":3,"label":"new-biggest","startMiB":0,"sizeMiB":0,"typeGuid":"` + ksType2 + `","guid":"` + ksGUID3 + `","wipePartitionEntry":true},
			{"label":"zero-a","sizeMiB":16},
			{"number":4,"shouldExist":false,"wipePartitionEntry":true},
			{"number":9,"shouldExist":false},
			{"label":"zero-b"}]}]}`),
		// Machine reasons found while planning, before any write.
		"x-cex":     `{"ignition":{"version":"3.5.0"},"storage":{"luks":[{"name":"sec","device":"/dev/disk/by-partlabel/only","cex":{"enabled":true},"wipeVolume":true}]}}`,
		"x-missing": cfg(`{"disks":[{"device":"/dev/disk/by-id/virtio-absent","wipeTable":true,"partitions":[{"number":1,"label":"x"}]}]}`),
	})
	script := guestLib + `
apply p-create
must "$(sysfs vda1)" "2048 32768" vda1
must "$(sysfs vda2)" "34816 65536" vda2
must "$(sysfs vda5)" "100352 65536" vda5
must "$(sysfs vda3)" "165888 358367" "vda3 (number 0, fill)"
test ! -e /sys/class/block/vda4
must "$(readlink -f /dev/disk/by-partlabel/p-zero)" /dev/vda3 "by-partlabel"
must "$(blkid -p -s PART_ENTRY_TYPE -o value /dev/vda1)" "$(echo ` + typeESP + ` | tr A-Z a-z)" "type guid"
must "$(blkid -p -s PART_ENTRY_UUID -o value /dev/vda1)" "$(echo ` + guidOne + ` | tr A-Z a-z)" "partition guid"
test "$(grep -c 'disks: plan: sgdisk' /tmp/p-create.out)" = 1

apply p-match
noplan p-match sgdisk
noplan p-match create
hasplan p-match keep-partition

dd if=/dev/vda bs=512 count=34 2>/dev/null | md5sum >/tmp/gpt.before
refuse p-neg "partition 5 didn't match: label did not match"
refuse p-neg2 "partition 2 exists but is specified as nonexistant and wipePartitionEntry is false"
dd if=/dev/vda bs=512 count=34 2>/dev/null | md5sum >/tmp/gpt.after
cmp /tmp/gpt.before /tmp/gpt.after

apply p-change
test "$(grep -c 'disks: plan: sgdisk' /tmp/p-change.out)" = 1
hasplan p-change delete-partition
hasplan p-change recreate-partition
hasplan p-change resize-partition
test ! -e /sys/class/block/vda1
must "$(sysfs vda3)" "165888 131072" "vda3 resized"
must "$(sysfs vda2)" "296960 65536" "vda2 recreated in the largest free block"
must "$(sysfs vda5)" "100352 65536" "vda5 untouched"
must "$(readlink -f /dev/disk/by-partlabel/p-two-new)" /dev/vda2 "new label"

apply p-wipe
must "$(sysfs vda1)" "2048 522207" "vda1 fills the disk"
for n in 2 3 5; do test ! -e /sys/class/block/vda$n; done

apply f-create
must "$(blkid -p -s TYPE -o value /dev/disk/by-partlabel/fs-xfs)" xfs xfs
must "$(blkid -p -s UUID -o value /dev/disk/by-label/x-xfs)" ` + uuidXFS + ` "xfs uuid"
must "$(blkid -p -s TYPE -o value /dev/disk/by-label/b-btrfs)" btrfs btrfs
must "$(blkid -p -s UUID -o value /dev/disk/by-label/e-ext4)" ` + uuidExt4 + ` "ext4 uuid"
must "$(blkid -p -s UUID -o value /dev/disk/by-label/V-VFAT)" 1234-ABCD "vfat volume id"
must "$(blkid -p -s TYPE -o value /dev/disk/by-label/s-swap)" swap swap
must "$(blkid -p -s TYPE -o value /dev/disk/by-partlabel/fs-none)" "" none
mkdir -p /mnt/e && mount -t ext4 /dev/disk/by-label/e-ext4 /mnt/e && echo first-boot >/mnt/e/marker && umount /mnt/e

apply f-reuse
noplan f-reuse mkfs
noplan f-reuse sgdisk
test "$(grep -c 'disks: plan: reuse-filesystem' /tmp/f-reuse.out)" = 6
refuse f-wrong "filesystem is not of the correct type"
mkfs.ext4 -q -F /dev/disk/by-partlabel/fs-none
apply f-wipe
must "$(blkid -p -s LABEL -o value /dev/disk/by-partlabel/fs-vfat)" NEWLBL "vfat wiped and relabelled"
must "$(blkid -p -s TYPE -o value /dev/disk/by-partlabel/fs-none)" "" "none wiped"
apply f-final

# Issue 16: disk3 as the reference's test makes its "in" disk, then its config.
sgdisk -n1:2048:+131072 -c1:p1 -t1:` + ksType0 + ` -n2:133120:+65536 -c2:dont-delete \
	-n3:198656:+65536 -c3:garbo-town -n4:395264:+65536 -c4:more-junk -n5:460800:+65536 -c5:dont-delete2 /dev/vdc >/dev/null
udevadm settle
apply k-sink
test "$(grep -c 'disks: plan: sgdisk' /tmp/k-sink.out)" = 1
hasplan k-sink 'recreate-partition *.*partition 3'
hasplan k-sink 'delete-partition *.*partition 4'
hasplan k-sink 'create-partition *.*partition 4'
must "$(sysfs vdc1)" "2048 65536" p1
must "$(sysfs vdc2)" "133120 65536" dont-delete
must "$(sysfs vdc3)" "198656 262144" "new-biggest: old 3, the gap and old 4"
must "$(sysfs vdc4)" "526336 32768" "zero-a in deleted 4's number"
must "$(sysfs vdc5)" "460800 65536" dont-delete2
must "$(readlink -f /dev/disk/by-partlabel/zero-b)" /dev/vdc6 zero-b
must "$(readlink -f /dev/disk/by-partlabel/new-biggest)" /dev/vdc3 new-biggest

# cex off s390x: refused while planning, by run and by plan, nothing written.
refuse x-cex "needs an s390x machine"
if flint plan --all-stages --root / "$(cfg x-cex)" >/tmp/x-cex.plan 2>&1; then echo "FAIL: plan accepted cex"; exit 1; fi
grep -q "needs an s390x machine" /tmp/x-cex.plan
# flint plan never waits for a device: the missing disk is reported.
flint plan --all-stages --root / "$(cfg x-missing)" >/tmp/x-missing.plan 2>&1 || { cat /tmp/x-missing.plan; exit 1; }
cat /tmp/x-missing.plan
grep -q 'wait-device *\/dev\/disk\/by-id\/virtio-absent *(not present now: would wait' /tmp/x-missing.plan
echo "first boot ok"
`
	disk1 := vm.Disk{Serial: "disk1", Size: 256 << 20, Path: filepath.Join(dir, "disk1.img")}
	disk2 := vm.Disk{Serial: "disk2", Size: 512 << 20, Path: filepath.Join(dir, "disk2.img")}
	disk3 := vm.Disk{Serial: "disk3", Size: 330 << 20, Path: filepath.Join(dir, "disk3.img")}
	m := &vm.Machine{Initramfs: initrd, Script: script, Disks: []vm.Disk{disk1, disk2, disk3}, FwCfg: fw, Timeout: 6 * time.Minute}
	res := boot(t, "partitions", m)
	if !contains(res.Serial, "first boot ok") {
		t.Fatal("no success marker")
	}

	// Host: the tables and the filesystems, read from the images.
	p1, err := vm.PartitionTable(disk1.Path)
	if err != nil {
		t.Fatal(err)
	}
	if len(p1) != 1 || p1[0].Name != "only" || p1[0].Start != 2048 || p1[0].Size != 522207 || p1[0].TypeGUID != typeLinux {
		t.Fatalf("disk1: %+v", p1)
	}
	p2, err := vm.PartitionTable(disk2.Path)
	if err != nil {
		t.Fatal(err)
	}
	if len(p2) != 6 || mustPart(t, p2, 4).TypeGUID != typeESP || mustPart(t, p2, 6).Name != "fs-none" {
		t.Fatalf("disk2: %+v", p2)
	}
	for n, want := range map[int][2]string{1: {"xfs", "x-xfs"}, 2: {"btrfs", "b-btrfs"}, 3: {"ext4", "e-ext4"}, 4: {"vfat", "NEWLBL"}, 5: {"swap", "s-swap"}, 6: {"", ""}} {
		p := mustPart(t, p2, n)
		got, err := vm.ProbeRange(disk2.Path, p.Offset(), p.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if got.Type != want[0] || got.Label != want[1] {
			t.Errorf("disk2 partition %d: %s %q, want %s %q", n, got.Type, got.Label, want[0], want[1])
		}
	}
	p3, err := vm.PartitionTable(disk3.Path)
	if err != nil {
		t.Fatal(err)
	}
	sink := map[int][3]any{1: {"p1", int64(2048), int64(65536)}, 2: {"dont-delete", int64(133120), int64(65536)},
		3: {"new-biggest", int64(198656), int64(262144)}, 4: {"zero-a", int64(526336), int64(32768)},
		5: {"dont-delete2", int64(460800), int64(65536)}, 6: {"zero-b", int64(559104), int64(675806 - 559104 + 1)}}
	if len(p3) != len(sink) {
		t.Fatalf("disk3: %+v", p3)
	}
	for n, w := range sink {
		p := mustPart(t, p3, n)
		if p.Name != w[0] || p.Start != w[1] || p.Size != w[2] {
			t.Errorf("disk3 partition %d: %q %d+%d, want %v", n, p.Name, p.Start, p.Size, w)
		}
	}
	if p := mustPart(t, p3, 3); p.TypeGUID != ksType2 || p.GUID != ksGUID3 {
		t.Errorf("new-biggest: %+v", p)
	}
	marker, err := vm.ReadExt4File(disk2.Path, mustPart(t, p2, 3).Offset(), "/marker")
	if err != nil || string(marker) != "first-boot\n" {
		t.Fatalf("marker: %q %v", marker, err)
	}

	// Second boot: the final configs again change nothing.
	script2 := guestLib + `
apply p-final
apply f-final
noplan p-final sgdisk
noplan f-final sgdisk
noplan f-final mkfs
mkdir -p /mnt/e && mount -t ext4 -o ro /dev/disk/by-label/e-ext4 /mnt/e
must "$(cat /mnt/e/marker)" first-boot marker
umount /mnt/e
echo "second boot ok"
`
	m2 := &vm.Machine{Initramfs: initrd, Script: script2, Disks: []vm.Disk{disk1, disk2, disk3}, FwCfg: fw, Timeout: 3 * time.Minute}
	res = boot(t, "partitions-again", m2)
	if !contains(res.Serial, "second boot ok") {
		t.Fatal("no success marker")
	}
}
