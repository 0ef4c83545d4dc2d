package vm_test

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flintboot/flint/tests/vm"
)

const (
	typeLinux = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
	typeESP   = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
	typeRAID  = "A19D880F-05FC-4D3B-A006-743F0F84911E"
)

// TestBootDisks: one boot partitions disk1 (GPT: ext4, vfat, RAID member), builds a RAID1
// of disk1p3 and disk2 with ext4 on it and writes files; the host checks the images; a
// second boot re-opens everything read-only and reads the files back.
func TestBootDisks(t *testing.T) {
	initrd := testInitramfs(t)
	dir := t.TempDir()
	disk1 := vm.Disk{Serial: "disk1", Size: 256 << 20, Path: filepath.Join(dir, "disk1.img")}
	disk2 := vm.Disk{Serial: "disk2", Size: 64 << 20, Path: filepath.Join(dir, "disk2.img")}
	config := filepath.Join(dir, "config.json")
	if err := os.WriteFile(config, []byte(`{"ignition":{"version":"3.4.0"}}`), 0o644); err != nil {
		t.Fatal(err)
	}

	provision := `
echo "== flint binary"
/usr/bin/flint version
echo "== config through fw_cfg"
test "$(cat /sys/firmware/qemu_fw_cfg/by_name/opt/com.coreos/config/raw)" = '{"ignition":{"version":"3.4.0"}}'
echo "== by-id links before partitioning"
test -b /dev/disk/by-id/virtio-disk1
test -b /dev/disk/by-id/virtio-disk2
test "$(readlink -f /dev/disk/by-id/virtio-disk2)" = /dev/vdb
D=/dev/disk/by-id/virtio-disk1
sgdisk -o -n1:0:+100M -t1:8300 -c1:root -n2:0:+64M -t2:EF00 -c2:ESP -n3:0:+64M -t3:FD00 -c3:raidA $D
mkdevlinks
test -b /dev/disk/by-id/virtio-disk1-part1
test -b /dev/disk/by-id/virtio-disk1-part3
test "$(readlink -f /dev/disk/by-partlabel/root)" = /dev/vda1
test -b /dev/disk/by-partuuid/$(blkid -s PARTUUID -o value /dev/vda2)
mkfs.ext4 -F -q -L flintroot /dev/disk/by-partlabel/root
mkfs.vfat -n FLINTESP /dev/disk/by-partlabel/ESP
mdadm --create /dev/md/data --run --assume-clean --level=1 --raid-devices=2 --metadata=1.2 --name=data /dev/vda3 /dev/vdb
mkfs.ext4 -F -q -L flintdata /dev/md/data
udevadm settle
test "$(readlink -f /dev/disk/by-label/flintroot)" = /dev/vda1
test "$(readlink -f /dev/disk/by-label/FLINTESP)" = /dev/vda2
test -b /dev/disk/by-label/flintdata
test -b /dev/disk/by-uuid/$(blkid -s UUID -o value /dev/vda1)
ls -l /dev/disk/by-*
mkdir -p /mnt/root /mnt/esp /mnt/data
mount /dev/disk/by-label/flintroot /mnt/root
mount -t vfat /dev/disk/by-label/FLINTESP /mnt/esp
mount /dev/disk/by-label/flintdata /mnt/data
echo "hello root" >/mnt/root/hello.txt
mkdir -p /mnt/esp/EFI
echo "hello esp" >/mnt/esp/EFI/hello.txt
echo "hello raid" >/mnt/data/data.txt
umount /mnt/root /mnt/esp /mnt/data
mdadm --stop /dev/md/data
`
	m := &vm.Machine{
		Initramfs: initrd,
		Script:    provision,
		Disks:     []vm.Disk{disk1, disk2},
		FwCfg:     map[string]string{"opt/com.coreos/config": config},
		Timeout:   3 * time.Minute,
	}
	boot(t, "provision", m)

	// Host side, from the images.
	start := time.Now()
	parts, err := vm.PartitionTable(disk1.Path)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 3 {
		t.Fatalf("partitions: got %d, want 3: %+v", len(parts), parts)
	}
	want := []struct {
		name, typ string
		start     int64
		size      int64
	}{{"root", typeLinux, 2048, 100 << 11}, {"ESP", typeESP, 2048 + 100<<11, 64 << 11}, {"raidA", typeRAID, 2048 + 164<<11, 64 << 11}}
	for i, w := range want {
		p := parts[i]
		if p.Number != i+1 || p.Name != w.name || p.TypeGUID != w.typ || p.Start != w.start || p.Size != w.size || len(p.GUID) != 36 {
			t.Errorf("partition %d: got %+v, want %+v", i+1, p, w)
		}
	}
	probes := []struct{ typ, label string }{{"ext4", "flintroot"}, {"vfat", "FLINTESP"}, {"linux_raid_member", "flint-test:data"}}
	for i, w := range probes {
		pr, err := vm.ProbeRange(disk1.Path, parts[i].Offset(), parts[i].Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if pr.Type != w.typ || pr.Label != w.label || pr.UUID == "" {
			t.Errorf("probe partition %d: got %+v, want %s %q", i+1, pr, w.typ, w.label)
		}
	}
	if b, err := vm.ReadExt4File(disk1.Path, parts[0].Offset(), "/hello.txt"); err != nil || string(b) != "hello root\n" {
		t.Errorf("root file: %q, %v", b, err)
	}
	if b, err := vm.ReadVFATFile(disk1.Path, parts[1].Offset(), "/EFI/hello.txt"); err != nil || string(b) != "hello esp\n" {
		t.Errorf("esp file: %q, %v", b, err)
	}
	for _, member := range []struct {
		img       string
		off, size int64
	}{{disk1.Path, parts[2].Offset(), parts[2].Bytes()}, {disk2.Path, 0, 0}} {
		md, err := vm.MdadmExamine(member.img, member.off, member.size)
		if err != nil {
			t.Fatal(err)
		}
		if md["Raid Level"] != "raid1" || !strings.HasPrefix(md["Array State"], "AA ") || md["Name"] != "flint-test:data" || md["Raid Devices"] != "2" {
			t.Errorf("mdadm --examine %s: %v", member.img, md)
		}
		var dataOff int64
		if _, err := fmtSscan(md["Data Offset"], &dataOff); err != nil {
			t.Fatalf("data offset %q: %v", md["Data Offset"], err)
		}
		if b, err := vm.ReadExt4File(member.img, member.off+dataOff*512, "/data.txt"); err != nil || string(b) != "hello raid\n" {
			t.Errorf("raid file in %s: %q, %v", member.img, b, err)
		}
	}
	if _, err := vm.ReadExt4File(disk1.Path, parts[0].Offset(), "/missing.txt"); err == nil {
		t.Error("ReadExt4File of a missing file did not fail")
	}
	t.Logf("host verification took %s", time.Since(start).Round(time.Millisecond))

	verify := `
mkdir -p /mnt/root /mnt/esp /mnt/data
test "$(readlink -f /dev/disk/by-label/flintroot)" = /dev/vda1
mount -o ro /dev/disk/by-label/flintroot /mnt/root
mount -o ro -t vfat /dev/disk/by-partlabel/ESP /mnt/esp
mdadm --assemble /dev/md/data /dev/disk/by-id/virtio-disk1-part3 /dev/disk/by-id/virtio-disk2
mkdevlinks
mount -o ro /dev/disk/by-label/flintdata /mnt/data
test "$(cat /mnt/root/hello.txt)" = "hello root"
test "$(cat /mnt/esp/EFI/hello.txt)" = "hello esp"
test "$(cat /mnt/data/data.txt)" = "hello raid"
umount /mnt/root /mnt/esp /mnt/data
mdadm --stop /dev/md/data
`
	m2 := &vm.Machine{Initramfs: initrd, Script: verify, Disks: []vm.Disk{disk1, disk2}, Timeout: 3 * time.Minute}
	boot(t, "verify", m2)
}

// TestBootLUKS: the guest formats a LUKS2 volume (pbkdf2, 1000 iterations) with a key
// passed through fw_cfg and puts ext4 inside; the host tests the key, decrypts the
// volume in userspace and reads the file.
func TestBootLUKS(t *testing.T) {
	initrd := testInitramfs(t)
	dir := t.TempDir()
	disk := vm.Disk{Serial: "luks", Size: 64 << 20, Path: filepath.Join(dir, "luks.img")}
	key := filepath.Join(dir, "key")
	wrong := filepath.Join(dir, "wrong")
	for _, f := range []string{key, wrong} {
		b := make([]byte, 64)
		rand.Read(b)
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	script := `
K=/sys/firmware/qemu_fw_cfg/by_name/opt/flint/key/raw
cp $K /run/key
cryptsetup luksFormat --batch-mode --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --label flintluks --key-file /run/key /dev/disk/by-id/virtio-luks
cryptsetup open --key-file /run/key /dev/disk/by-id/virtio-luks secret
mkfs.ext4 -F -q -L secret /dev/mapper/secret
mkdevlinks
test -b /dev/disk/by-id/dm-name-secret
test -b /dev/disk/by-label/secret
test "$(readlink -f /dev/disk/by-label/flintluks)" = /dev/vda
mkdir -p /mnt/s
mount /dev/mapper/secret /mnt/s
echo "hello luks" >/mnt/s/secret.txt
umount /mnt/s
cryptsetup close secret
`
	m := &vm.Machine{Initramfs: initrd, Script: script, Disks: []vm.Disk{disk},
		FwCfg: map[string]string{"opt/flint/key": key}, Timeout: 3 * time.Minute}
	boot(t, "luks", m)

	start := time.Now()
	pr, err := vm.Probe(disk.Path, 0)
	if err != nil {
		t.Fatal(err)
	}
	if pr.Type != "crypto_LUKS" || pr.Label != "flintluks" || pr.Tags["VERSION"] != "2" {
		t.Errorf("probe: %+v", pr)
	}
	if err := vm.LUKSTestKey(disk.Path, 0, 0, key); err != nil {
		t.Errorf("right key: %v", err)
	}
	if err := vm.LUKSTestKey(disk.Path, 0, 0, wrong); err == nil {
		t.Error("wrong key accepted")
	}
	md, err := vm.LUKSMetadata(disk.Path, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if ks, _ := md["keyslots"].(map[string]any); len(ks) != 1 {
		t.Errorf("keyslots: %v", md["keyslots"])
	}
	plain := filepath.Join(dir, "plain.img")
	if err := vm.LUKSDecrypt(disk.Path, 0, 0, key, plain); err != nil {
		t.Fatal(err)
	}
	pr, err = vm.Probe(plain, 0)
	if err != nil {
		t.Fatal(err)
	}
	if pr.Type != "ext4" || pr.Label != "secret" {
		t.Errorf("decrypted probe: %+v", pr)
	}
	if b, err := vm.ReadExt4File(plain, 0, "/secret.txt"); err != nil || string(b) != "hello luks\n" {
		t.Errorf("decrypted file: %q, %v", b, err)
	}
	if out, err := runCmd("e2fsck", "-fn", plain); err != nil {
		t.Errorf("e2fsck of the decrypted volume: %v\n%s", err, out)
	}
	if err := vm.LUKSDecrypt(disk.Path, 0, 0, wrong, filepath.Join(dir, "x.img")); err == nil {
		t.Error("LUKSDecrypt with a wrong key did not fail")
	}
	t.Logf("host verification (test key, decrypt 48 MiB, fsck) took %s", time.Since(start).Round(time.Millisecond))
}

// TestBootGuestFailure: a failing command stops the script (sh -e) and the failure
// reaches the host as ErrGuestFailed with the exit code and the serial tail.
func TestBootGuestFailure(t *testing.T) {
	initrd := testInitramfs(t)
	m := &vm.Machine{Initramfs: initrd, Script: "echo before-failure\nsh -c 'exit 7'\necho after-failure\n", Timeout: 2 * time.Minute}
	withConsole(m)
	res, err := m.Run(context.Background())
	if !errors.Is(err, vm.ErrGuestFailed) {
		t.Fatalf("want ErrGuestFailed, got %v", err)
	}
	logTimes(t, "failure", res)
	if res.Passed || res.GuestRC != 7 {
		t.Errorf("result: passed %v rc %d, want false 7", res.Passed, res.GuestRC)
	}
	if !strings.Contains(err.Error(), "before-failure") || strings.Contains(res.Serial, "after-failure") {
		t.Errorf("serial/error content wrong: %v", err)
	}
}

// TestBootTimeout: a hung guest is killed at the timeout and reported with its serial tail.
func TestBootTimeout(t *testing.T) {
	initrd := testInitramfs(t)
	m := &vm.Machine{Initramfs: initrd, Script: "echo going-to-hang\nsleep 600\n", Timeout: 20 * time.Second}
	withConsole(m)
	res, err := m.Run(context.Background())
	if !errors.Is(err, vm.ErrTimeout) {
		t.Fatalf("want ErrTimeout, got %v", err)
	}
	// How far the guest got in 20 s depends on the host's load; the tail must be there.
	if res.Passed || res.Serial == "" || !strings.HasSuffix(err.Error(), vm.Tail(res.Serial, 40)) {
		t.Errorf("timeout error lacks the serial tail: %v", err)
	}
	if res.Duration > time.Minute {
		t.Errorf("QEMU was not stopped at the timeout: ran %s", res.Duration)
	}
}
