package disks_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flintboot/flint/tests/vm"
)

// fcosConfig is the Fedora CoreOS storage documentation's layout
// ("Configuring Storage": a /var partition added to the boot disk, a
// /var/lib/containers partition, and "Encrypted storage (LUKS)"),
// translated from Butane to spec 3.4.0 as Butane does it, including the
// mount units of `with_mount_unit: true`. Scaled to fit a test disk: the
// root partition is resized to 340 MiB instead of at least 8 GiB, /var is
// 64 MiB; key files instead of a TPM2 clevis pin (a binding costs ~7 s
// under TCG, and TestClevis covers clevis), pbkdf2 with few iterations.
const fcosConfig = `{
  "ignition": {"version": "3.4.0"},
  "storage": {
    "disks": [{
      "device": "/dev/disk/by-id/virtio-disk1",
      "wipeTable": false,
      "partitions": [
        {"number": 4, "label": "root", "sizeMiB": 340, "resize": true},
        {"label": "var", "sizeMiB": 64},
        {"label": "containers", "sizeMiB": 0}
      ]
    }],
    "luks": [
      {"name": "root", "label": "luks-root", "device": "/dev/disk/by-partlabel/root", "wipeVolume": true,
       "keyFile": {"source": "data:,fcos-root-key"}, "options": ` + luksOpts + `},
      {"name": "var", "label": "luks-var", "device": "/dev/disk/by-partlabel/var", "wipeVolume": true,
       "keyFile": {"source": "data:,fcos-var-key"}, "options": ` + luksOpts + `},
      {"name": "containers", "label": "luks-containers", "device": "/dev/disk/by-partlabel/containers", "wipeVolume": true,
       "keyFile": {"source": "data:,fcos-containers-key"}, "options": ` + luksOpts + `}
    ],
    "filesystems": [
      {"device": "/dev/mapper/root", "format": "xfs", "wipeFilesystem": true, "label": "root"},
      {"path": "/var", "device": "/dev/mapper/var", "format": "ext4", "wipeFilesystem": true, "label": "var"},
      {"path": "/var/lib/containers", "device": "/dev/mapper/containers", "format": "xfs", "wipeFilesystem": true, "label": "containers"}
    ],
    "directories": [
      {"path": "/var/lib/containers/storage/overlay", "mode": 448}
    ],
    "files": [
      {"path": "/etc/fcos-root.txt", "mode": 420, "contents": {"source": "data:,in-the-root%0A"}},
      {"path": "/var/lib/flint/var.txt", "mode": 420, "contents": {"source": "data:,in-var%0A"}},
      {"path": "/var/lib/containers/storage/containers.txt", "mode": 420, "contents": {"source": "data:,in-containers%0A"}}
    ]
  },
  "systemd": {
    "units": [
      {"name": "var.mount", "enabled": true,
       "contents": "[Unit]\nRequires=systemd-fsck@dev-mapper-var.service\nAfter=systemd-fsck@dev-mapper-var.service\n\n[Mount]\nWhere=/var\nWhat=/dev/mapper/var\nType=ext4\n\n[Install]\nRequiredBy=local-fs.target\n"},
      {"name": "var-lib-containers.mount", "enabled": true,
       "contents": "[Unit]\nRequires=systemd-fsck@dev-mapper-containers.service\nAfter=systemd-fsck@dev-mapper-containers.service\n\n[Mount]\nWhere=/var/lib/containers\nWhat=/dev/mapper/containers\nType=xfs\n\n[Install]\nRequiredBy=local-fs.target\n"}
    ]
  }
}`

// escapeConfig mounts the same two filesystems again: used once the /var
// filesystem holds a symbolic link lib -> /tmp/outside, which the mount
// stage must refuse (the mountpoint /var/lib/containers would land outside
// the root).
const escapeConfig = `{"ignition":{"version":"3.4.0"},"storage":{"filesystems":[
  {"path":"/var","device":"/dev/mapper/var","format":"ext4","label":"var"},
  {"path":"/var/lib/containers","device":"/dev/mapper/containers","format":"xfs","label":"containers"}]}}`

// TestFedoraCoreOSNestedLuks boots the Fedora CoreOS storage layout
// through the real binary, stage by stage as the initramfs units run it:
// fetch-offline (the config from fw_cfg, as on QEMU), disks, the root
// mounted on /sysroot as sysroot.mount does, mount, files, umount. Root,
// /var and /var/lib/containers are LUKS volumes on the boot disk, whose
// image partitions (BIOS-BOOT, EFI-SYSTEM, boot, a small root) are there
// first; /var/lib/containers is mounted inside /var and its mountpoint
// made in the /var filesystem. Files land in each filesystem; unmounting
// runs in reverse. A symbolic link in the mounted /var that leads out of
// the root is refused. The host decrypts the three volumes and reads the
// files back.
func TestFedoraCoreOSNestedLuks(t *testing.T) {
	initrd := initramfs(t, false)
	dir := t.TempDir()
	ign := filepath.Join(dir, "config.ign")
	if err := os.WriteFile(ign, []byte(fcosConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	fw := configs(t, dir, map[string]string{"escape": escapeConfig})
	fw["opt/com.coreos/config"] = ign
	script := guestLib + `
# The boot disk as a Fedora CoreOS image ships it (sizes scaled down).
sgdisk -n1:0:+1M -c1:BIOS-BOOT -t1:21686148-6449-6E6F-744E-656564454649 -n2:0:+32M -c2:EFI-SYSTEM -t2:C12A7328-F81F-11D2-BA4B-00A0C93EC93B \
	-n3:0:+64M -c3:boot -n4:0:+32M -c4:root /dev/vda >/dev/null
mkfs.vfat -n EFI-SYSTEM /dev/vda2 >/dev/null 2>&1
mkfs.ext4 -q -F -L boot /dev/vda3
mkfs.ext4 -q -F -L root /dev/vda4
udevadm settle
B4=$(sysfs vda4 | cut -d' ' -f1)

run() { # STAGE [ARGS]: one flint run, as the initramfs unit of that stage
	echo "== flint run --stage $*"
	if ! flint run --platform qemu --log-to-stdout --debug --stage "$@" >/tmp/$1.out 2>&1; then
		tail -60 /tmp/$1.out; echo "FAIL: stage $1"; return 1
	fi
	grep -E ': plan: |\[failed\]|unmounting|flint run --stage' /tmp/$1.out
}
run fetch-offline
run disks
must "$(sysfs vda4)" "$B4 696320" "root resized in place to 340 MiB"
must "$(readlink -f /dev/disk/by-partlabel/var)" /dev/vda5 "var partition"
must "$(readlink -f /dev/disk/by-partlabel/containers)" /dev/vda6 "containers partition"
must "$(blkid -p -s TYPE -o value /dev/vda2)" vfat "EFI-SYSTEM untouched"
must "$(blkid -p -s LABEL -o value /dev/vda3)" boot "boot untouched"
for v in root var containers; do cryptsetup status $v | grep -q 'is active'; done
must "$(blkid -p -s LABEL -o value /dev/vda4)" luks-root "root LUKS label"
must "$(blkid -p -s TYPE -o value /dev/mapper/containers)" xfs "containers fs"

# sysroot.mount (root=/dev/mapper/root)
mkdir -p /sysroot && mount -t xfs /dev/mapper/root /sysroot
run mount --root /sysroot
must "$(findmnt -n -o SOURCE /sysroot/var)" /dev/mapper/var "/var mounted"
must "$(findmnt -n -o SOURCE /sysroot/var/lib/containers)" /dev/mapper/containers "/var/lib/containers mounted in /var"
run files --root /sysroot
must "$(cat /sysroot/etc/fcos-root.txt)" in-the-root "root file"
must "$(cat /sysroot/var/lib/flint/var.txt)" in-var "var file"
must "$(cat /sysroot/var/lib/containers/storage/containers.txt)" in-containers "containers file"
must "$(stat -c %a /sysroot/var/lib/containers/storage/overlay)" 700 "directory"
grep -c 'x-initrd.attach' /sysroot/etc/crypttab | grep -qx 3
test -f /sysroot/etc/systemd/system/var-lib-containers.mount
run umount --root /sysroot
grep -n 'unmounting' /tmp/umount.out | tee /tmp/order
head -1 /tmp/order | grep -q '/sysroot/var/lib/containers'
if findmnt -n /sysroot/var >/dev/null; then echo "FAIL: /var still mounted"; exit 1; fi

# Each filesystem alone holds only its own files.
test -z "$(ls -A /sysroot/var)"
mkdir -p /mnt/v /mnt/c
mount -t ext4 /dev/mapper/var /mnt/v
must "$(cat /mnt/v/lib/flint/var.txt)" in-var "var file on the var filesystem"
test -d /mnt/v/lib/containers && test -z "$(ls -A /mnt/v/lib/containers)"
mount -t xfs /dev/mapper/containers /mnt/c
must "$(cat /mnt/c/storage/containers.txt)" in-containers "containers file on its filesystem"
umount /mnt/c

# A symbolic link in the mounted /var that leads out of the root: refused,
# nothing mounted outside.
mv /mnt/v/lib /mnt/v/lib.real && ln -s /tmp/outside /mnt/v/lib && mkdir -p /tmp/outside
umount /mnt/v
if flint run --platform qemu --log-to-stdout --stage mount --root /sysroot --config-cache "$(cfg escape)" >/tmp/escape.out 2>&1; then
	cat /tmp/escape.out; echo "FAIL: the escaping mount path was accepted"; exit 1
fi
grep -F 'var/lib is a symbolic link (to /tmp/outside)' /tmp/escape.out
if findmnt -n /tmp/outside/containers >/dev/null || test -e /tmp/outside/containers; then echo "FAIL: mounted outside the root"; exit 1; fi
flint run --platform qemu --log-to-stdout --stage umount --root /sysroot --config-cache /tmp/escape.json >/tmp/escape-umount.out 2>&1
if findmnt -n /sysroot/var >/dev/null; then echo "FAIL: /var left mounted"; exit 1; fi
umount /sysroot
for v in containers var root; do cryptsetup close $v; done
sync
echo "fcos boot ok"
`
	disk1 := vm.Disk{Serial: "disk1", Size: 840 << 20, Path: filepath.Join(dir, "disk1.img")}
	res := boot(t, "fcos", &vm.Machine{Initramfs: initrd, Script: script, Disks: []vm.Disk{disk1}, FwCfg: fw, Timeout: 6 * time.Minute})
	if !contains(res.Serial, "fcos boot ok") {
		t.Fatal("no success marker")
	}

	pt, err := vm.PartitionTable(disk1.Path)
	if err != nil {
		t.Fatal(err)
	}
	var labels []string
	for _, p := range pt {
		labels = append(labels, p.Name)
	}
	if strings.Join(labels, ",") != "BIOS-BOOT,EFI-SYSTEM,boot,root,var,containers" {
		t.Fatalf("partitions %q", labels)
	}
	for _, c := range []struct {
		n           int
		key, fstype string
		label, path string
		want        string
	}{
		{4, "fcos-root-key", "xfs", "root", "/etc/fcos-root.txt", "in-the-root\n"},
		{5, "fcos-var-key", "ext4", "var", "/lib.real/flint/var.txt", "in-var\n"}, // lib was renamed for the escape check
		{6, "fcos-containers-key", "xfs", "containers", "/storage/containers.txt", "in-containers\n"},
	} {
		p := mustPart(t, pt, c.n)
		key := filepath.Join(dir, c.label+".key")
		os.WriteFile(key, []byte(c.key), 0o600)
		plain := filepath.Join(dir, c.label+".plain")
		if err := vm.LUKSDecrypt(disk1.Path, p.Offset(), p.Bytes(), key, plain); err != nil {
			t.Fatalf("%s: %v", c.label, err)
		}
		got, err := vm.ProbeRange(plain, 0, 0)
		if err != nil || got.Type != c.fstype || got.Label != c.label {
			t.Fatalf("%s: probed %+v %v", c.label, got, err)
		}
		b, err := vm.ReadMountedFile(plain, c.fstype, c.path)
		if err != nil || string(b) != c.want {
			t.Errorf("%s: %s = %q %v", c.label, c.path, b, err)
		}
		os.Remove(plain)
	}
}
