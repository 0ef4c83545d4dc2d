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
)

// TestPartitionsAndFilesystems: the reference's partition cases on disk1
// (create with number 0 and fill, match, mismatch refused without writing,
// delete + recreate + resize in one sgdisk call, wipeTable), and every
// filesystem type on disk2 (create, reuse, wrong type refused, wipe,
// "none"); then a second boot re-runs the final configs, which must change
// nothing and find the data written by the first.
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
test "$(grep -c '^PLAN sgdisk' /tmp/p-create.out)" = 1

apply p-match
noplan p-match sgdisk
noplan p-match create
grep -q '^PLAN keep-partition' /tmp/p-match.out

dd if=/dev/vda bs=512 count=34 2>/dev/null | md5sum >/tmp/gpt.before
refuse p-neg "partition 5 didn't match: label did not match"
refuse p-neg2 "partition 2 exists but is specified as nonexistant and wipePartitionEntry is false"
dd if=/dev/vda bs=512 count=34 2>/dev/null | md5sum >/tmp/gpt.after
cmp /tmp/gpt.before /tmp/gpt.after

apply p-change
test "$(grep -c '^PLAN sgdisk' /tmp/p-change.out)" = 1
grep -q '^PLAN delete-partition' /tmp/p-change.out
grep -q '^PLAN recreate-partition' /tmp/p-change.out
grep -q '^PLAN resize-partition' /tmp/p-change.out
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
test "$(grep -c '^PLAN reuse-filesystem' /tmp/f-reuse.out)" = 6
refuse f-wrong "filesystem is not of the correct type"
mkfs.ext4 -q -F /dev/disk/by-partlabel/fs-none
apply f-wipe
must "$(blkid -p -s LABEL -o value /dev/disk/by-partlabel/fs-vfat)" NEWLBL "vfat wiped and relabelled"
must "$(blkid -p -s TYPE -o value /dev/disk/by-partlabel/fs-none)" "" "none wiped"
apply f-final
echo "first boot ok"
`
	disk1 := vm.Disk{Serial: "disk1", Size: 256 << 20, Path: filepath.Join(dir, "disk1.img")}
	disk2 := vm.Disk{Serial: "disk2", Size: 512 << 20, Path: filepath.Join(dir, "disk2.img")}
	m := &vm.Machine{Initramfs: initrd, Script: script, Disks: []vm.Disk{disk1, disk2}, FwCfg: fw, Timeout: 5 * time.Minute}
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
	m2 := &vm.Machine{Initramfs: initrd, Script: script2, Disks: []vm.Disk{disk1, disk2}, FwCfg: fw, Timeout: 3 * time.Minute}
	res = boot(t, "partitions-again", m2)
	if !contains(res.Serial, "second boot ok") {
		t.Fatal("no success marker")
	}
}
