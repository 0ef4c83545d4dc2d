package disks_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flintboot/flint/tests/vm"
)

const (
	luksOpts = `["--pbkdf","pbkdf2","--pbkdf-force-iterations","1000"]`
	testKey  = "flint-test-key-0123456789"
	keyUUID  = "6c1c9a2e-2222-4000-8000-f1a7e0000002"
)

// TestRaidAndLuks: RAID1 and RAID0 with filesystems, LUKS2 with a key file
// (label, UUID, discard, open options) and with a generated key (after
// wipeVolume), the refusals (existing LUKS1, a filesystem where LUKS is
// wanted), the state handed to the files stage; the host decrypts the
// volume and reads the RAID member; a second boot re-creates the arrays
// over their members, reuses the key-file volume and finds the data.
func TestRaidAndLuks(t *testing.T) {
	initrd := initramfs(t, false)
	dir := t.TempDir()
	parts := `{"device":"/dev/disk/by-id/virtio-disk1","wipeTable":true,"partitions":[
		{"number":1,"label":"luks-key","sizeMiB":32},
		{"number":2,"label":"luks-gen","sizeMiB":32},
		{"number":3,"label":"raid1-a","sizeMiB":96,"typeGuid":"` + typeRAID + `"},
		{"number":4,"label":"raid0-a","sizeMiB":80,"typeGuid":"` + typeRAID + `"},
		{"number":5,"label":"old-luks1","sizeMiB":16}]}`
	keyvol := `{"name":"keyvol","device":"/dev/disk/by-partlabel/luks-key","keyFile":{"source":"data:,` + testKey + `"},
		"label":"keyvol-label","uuid":"` + keyUUID + `","discard":true,"openOptions":["--perf-no_read_workqueue"],"options":` + luksOpts + `}`
	all := cfg(`{
		"raid":[{"name":"mirror","level":"raid1","devices":["/dev/disk/by-partlabel/raid1-a","/dev/disk/by-id/virtio-disk2"],"options":["--assume-clean","--metadata=1.2"]},
		        {"name":"stripe","level":"raid0","devices":["/dev/disk/by-partlabel/raid0-a","/dev/disk/by-id/virtio-disk3"]}],
		"luks":[` + keyvol + `,
		        {"name":"genvol","device":"/dev/disk/by-partlabel/luks-gen","wipeVolume":true,"options":` + luksOpts + `}],
		"filesystems":[
			{"device":"/dev/mapper/keyvol","format":"ext4","label":"k-ext4"},
			{"device":"/dev/md/mirror","format":"ext4","label":"m-ext4"},
			{"device":"/dev/md/stripe","format":"btrfs","label":"s-btrfs"},
			{"device":"/dev/mapper/genvol","format":"vfat","label":"G-VFAT"}]}`)
	fw := configs(t, dir, map[string]string{
		"r-parts":   cfg(`{"disks":[` + parts + `]}`),
		"r-luks1":   cfg(`{"luks":[{"name":"old","device":"/dev/disk/by-partlabel/old-luks1","keyFile":{"source":"data:,x"},"options":` + luksOpts + `}]}`),
		"r-notluks": cfg(`{"luks":[{"name":"genvol","device":"/dev/disk/by-partlabel/luks-gen","options":` + luksOpts + `}]}`),
		"r-all":     all,
	})
	script := guestLib + `
apply r-parts
printf secret >/tmp/k1
cryptsetup luksFormat --type luks1 --batch-mode --pbkdf-force-iterations 1000 --key-file /tmp/k1 /dev/disk/by-partlabel/old-luks1
refuse r-luks1 "only LUKS2 volumes are supported"
mkfs.ext4 -q -F /dev/disk/by-partlabel/luks-gen
refuse r-notluks "volume is not of the correct type"
apply r-all
hasplan r-all 'create-raid *\/dev\/md\/mirror'
hasplan r-all wipe-volume
cat /proc/mdstat
grep -q 'md.* : active raid1 ' /proc/mdstat
grep -q 'md.* : active raid0 ' /proc/mdstat
test -b /dev/md/mirror && test -b /dev/md/stripe
mdadm --detail /dev/md/mirror | grep -q 'Raid Devices : 2'
cryptsetup status keyvol | tee /tmp/status
grep -q 'flags:.*discards' /tmp/status
grep -q 'no_read_workqueue' /tmp/status
must "$(cryptsetup luksUUID /dev/disk/by-partlabel/luks-key)" ` + keyUUID + ` "luks uuid"
must "$(blkid -p -s LABEL -o value /dev/disk/by-partlabel/luks-key)" keyvol-label "luks label"
must "$(blkid -p -s LABEL -o value /dev/mapper/keyvol)" k-ext4 "ext4 in luks"
must "$(blkid -p -s LABEL -o value /dev/md/mirror)" m-ext4 "ext4 on raid1"
must "$(blkid -p -s LABEL -o value /dev/md/stripe)" s-btrfs "btrfs on raid0"
must "$(blkid -p -s LABEL -o value /dev/mapper/genvol)" G-VFAT "vfat in luks"
state r-all; echo
K1=$(state r-all | sed -n 's/.*"keyvol":"\(\/run[^"]*\)".*/\1/p')
K2=$(state r-all | sed -n 's/.*"genvol":"\(\/run[^"]*\)".*/\1/p')
must "$(stat -c %a "$K1")" 400 "key file mode"
must "$(stat -c %a "$K2")" 400 "generated key mode"
must "$(cat "$K1")" ` + testKey + ` "fetched key"
must "$(wc -c <"$K2" | tr -d ' ')" 8192 "generated key: 4096 bytes, hex"
cryptsetup open --test-passphrase --key-file "$K2" /dev/disk/by-partlabel/luks-gen
grep -q '"luksUUIDs"' /tmp/r-all.state
grep -q "$(cryptsetup luksUUID /dev/disk/by-partlabel/luks-gen)" /tmp/r-all.state
if grep -qF "$(cut -c1-64 "$K2")" /tmp/r-all.out; then echo "FAIL: generated key in the log"; exit 1; fi
mkdir -p /mnt/k /mnt/m /mnt/s
mount -t ext4 /dev/mapper/keyvol /mnt/k && echo keyvol-1 >/mnt/k/marker && umount /mnt/k
mount -t ext4 /dev/md/mirror /mnt/m && echo mirror-1 >/mnt/m/marker && umount /mnt/m
mount -t btrfs /dev/md/stripe /mnt/s && echo stripe-1 >/mnt/s/marker && umount /mnt/s
cryptsetup close keyvol; cryptsetup close genvol
mdadm --stop /dev/md/mirror; mdadm --stop /dev/md/stripe
sync
echo "first boot ok"
`
	disk1 := vm.Disk{Serial: "disk1", Size: 320 << 20, Path: filepath.Join(dir, "disk1.img")}
	disk2 := vm.Disk{Serial: "disk2", Size: 96 << 20, Path: filepath.Join(dir, "disk2.img")}
	disk3 := vm.Disk{Serial: "disk3", Size: 80 << 20, Path: filepath.Join(dir, "disk3.img")}
	disks := []vm.Disk{disk1, disk2, disk3}
	res := boot(t, "raid-luks", &vm.Machine{Initramfs: initrd, Script: script, Disks: disks, FwCfg: fw, Timeout: 5 * time.Minute})
	if !contains(res.Serial, "first boot ok") {
		t.Fatal("no success marker")
	}

	// Host: the LUKS volume opens with the key and holds the ext4 and its marker.
	pt, err := vm.PartitionTable(disk1.Path)
	if err != nil {
		t.Fatal(err)
	}
	p1 := mustPart(t, pt, 1)
	key := filepath.Join(dir, "key")
	os.WriteFile(key, []byte(testKey), 0o600)
	if err := vm.LUKSTestKey(disk1.Path, p1.Offset(), p1.Bytes(), key); err != nil {
		t.Fatalf("key file does not open the volume: %v", err)
	}
	plain := filepath.Join(dir, "keyvol.ext4")
	if err := vm.LUKSDecrypt(disk1.Path, p1.Offset(), p1.Bytes(), key, plain); err != nil {
		t.Fatal(err)
	}
	if m, err := vm.ReadExt4File(plain, 0, "/marker"); err != nil || string(m) != "keyvol-1\n" {
		t.Fatalf("marker in the LUKS volume: %q %v", m, err)
	}
	md, err := vm.LUKSMetadata(disk1.Path, p1.Offset(), p1.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if flags, _ := md["config"].(map[string]any)["flags"].([]any); len(flags) != 2 {
		t.Errorf("persistent flags: %v", md["config"])
	}
	// The whole-disk RAID1 member: md superblock, ext4 at the data offset.
	ex, err := vm.MdadmExamine(disk2.Path, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if ex["Raid Level"] != "raid1" || !strings.HasPrefix(ex["Name"], "any:mirror") && !strings.HasSuffix(ex["Name"], ":mirror") {
		t.Errorf("mdadm --examine: %v", ex)
	}
	var off int64
	if _, err := fmtSscan(ex["Data Offset"], &off); err != nil {
		t.Fatalf("data offset %q", ex["Data Offset"])
	}
	if m, err := vm.ReadExt4File(disk2.Path, off*512, "/marker"); err != nil || string(m) != "mirror-1\n" {
		t.Fatalf("marker on the RAID1 member: %q %v", m, err)
	}

	// Second boot: the same config re-creates the arrays over their members,
	// reuses the key-file volume and every filesystem that survives.
	script2 := guestLib + `
apply r-all
hasplan r-all reuse-luks
mkdir -p /mnt/k /mnt/m /mnt/s
mount -t ext4 -o ro /dev/mapper/keyvol /mnt/k && must "$(cat /mnt/k/marker)" keyvol-1 keyvol && umount /mnt/k
mount -t ext4 -o ro /dev/md/mirror /mnt/m && must "$(cat /mnt/m/marker)" mirror-1 mirror && umount /mnt/m
mount -t btrfs -o ro /dev/md/stripe /mnt/s && must "$(cat /mnt/s/marker)" stripe-1 stripe && umount /mnt/s
echo "second boot ok"
`
	res = boot(t, "raid-luks-again", &vm.Machine{Initramfs: initrd, Script: script2, Disks: disks, FwCfg: fw, Timeout: 4 * time.Minute})
	if !contains(res.Serial, "second boot ok") {
		t.Fatal("no success marker")
	}
}
