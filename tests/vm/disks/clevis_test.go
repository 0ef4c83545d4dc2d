package disks_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flintboot/flint/tests/vm"
)

// TestClevis: LUKS2 volumes bound with clevis — tang (advertisement
// fetched by flint, bind proved by unlocking), tpm2 with a generated key
// (its key slot removed afterwards, key not persisted), and sss threshold 2
// of tang (offline advertisement) + tpm2; a second boot with the same TPM
// state unlocks all three through clevis and finds the data.
func TestClevis(t *testing.T) {
	initrd := initramfs(t, true)
	dir := t.TempDir()
	tang, err := vm.StartTang(filepath.Join(dir, "tang"))
	if err != nil {
		t.Fatal(err)
	}
	defer tang.Close()
	thp, err := tang.Thumbprint()
	if err != nil {
		t.Fatal(err)
	}
	adv, err := tang.Adv()
	if err != nil {
		t.Fatal(err)
	}
	advStr, _ := json.Marshal(string(adv))
	tangPin := `{"url":"` + tang.GuestURL() + `","thumbprint":"` + thp + `"}`
	tangOffline := `{"url":"` + tang.GuestURL() + `","thumbprint":"` + thp + `","advertisement":` + string(advStr) + `}`
	all := cfg(`{
		"disks":[{"device":"/dev/disk/by-id/virtio-disk1","wipeTable":true,"partitions":[
			{"number":1,"label":"tangvol","sizeMiB":32},{"number":2,"label":"tpmvol","sizeMiB":32},{"number":3,"label":"sssvol","sizeMiB":32}]}],
		"luks":[
			{"name":"tangvol","device":"/dev/disk/by-partlabel/tangvol","keyFile":{"source":"data:,` + testKey + `"},"clevis":{"tang":[` + tangPin + `]},"options":` + luksOpts + `},
			{"name":"tpmvol","device":"/dev/disk/by-partlabel/tpmvol","clevis":{"tpm2":true},"options":` + luksOpts + `},
			{"name":"sssvol","device":"/dev/disk/by-partlabel/sssvol","clevis":{"tang":[` + tangOffline + `],"tpm2":true,"threshold":2},"options":` + luksOpts + `}],
		"filesystems":[{"device":"/dev/mapper/tpmvol","format":"ext4","label":"t-ext4"}]}`)
	fw := configs(t, dir, map[string]string{"c-all": all})
	script := guestLib + `
test -c /dev/tpmrm0
apply c-all
state c-all; echo
cryptsetup status tangvol | grep -q 'is active'
cryptsetup status tpmvol | grep -q 'is active'
cryptsetup status sssvol | grep -q 'is active'
# the generated key of tpmvol is gone: one key slot (clevis), one token
must "$(cryptsetup luksDump /dev/disk/by-partlabel/tpmvol | grep -c ': luks2$')" 1 "tpmvol key slots"
must "$(cryptsetup luksDump /dev/disk/by-partlabel/tangvol | grep -c ': luks2$')" 2 "tangvol key slots"
state c-all | grep -q '"tangvol":"/run'
if state c-all | grep -q '"tpmvol":"/run\|"sssvol":"/run'; then echo "FAIL: generated clevis keys persisted"; exit 1; fi
tr -d ' \n' </tmp/c-all.state | grep -q '"luksNetwork":{"sssvol":true,"tangvol":true}'
tr -d ' \n' </tmp/c-all.state | grep -q '"luksClevis":{"sssvol":true,"tangvol":true,"tpmvol":true}'
# sss t=2 with an offline advertisement was not proved by flint: prove it now
cryptsetup close sssvol
clevis luks unlock -d /dev/disk/by-partlabel/sssvol -n sssvol
mkdir -p /mnt/t && mount -t ext4 /dev/mapper/tpmvol /mnt/t && echo tpm-1 >/mnt/t/marker && umount /mnt/t
for v in tangvol tpmvol sssvol; do cryptsetup close $v; done
sync
echo "first boot ok"
`
	disk1 := vm.Disk{Serial: "disk1", Size: 128 << 20, Path: filepath.Join(dir, "disk1.img")}
	tpm := filepath.Join(dir, "tpm")
	res := boot(t, "clevis", &vm.Machine{Initramfs: initrd, Script: script, Disks: []vm.Disk{disk1}, FwCfg: fw,
		Net: true, TPMStateDir: tpm, Timeout: 8 * time.Minute})
	if !contains(res.Serial, "first boot ok") {
		t.Fatal("no success marker")
	}
	if !strings.Contains(tang.Log(), "POST /rec/") || !strings.Contains(tang.Log(), "GET /adv") {
		t.Errorf("tang log lacks the advertisement fetch or the recovery:\n%s", tang.Log())
	}
	pt, err := vm.PartitionTable(disk1.Path)
	if err != nil {
		t.Fatal(err)
	}
	for n, want := range map[int]int{1: 1, 2: 1, 3: 1} {
		p := mustPart(t, pt, n)
		md, err := vm.LUKSMetadata(disk1.Path, p.Offset(), p.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		toks, _ := md["tokens"].(map[string]any)
		clevis := 0
		for _, tk := range toks {
			if m, _ := tk.(map[string]any); m["type"] == "clevis" {
				clevis++
			}
		}
		if clevis != want {
			t.Errorf("partition %d: %d clevis tokens, want %d", n, clevis, want)
		}
	}

	script2 := guestLib + `
for v in tangvol tpmvol sssvol; do clevis luks unlock -d /dev/disk/by-partlabel/$v -n $v; done
mkdir -p /mnt/t && mount -t ext4 -o ro /dev/mapper/tpmvol /mnt/t && must "$(cat /mnt/t/marker)" tpm-1 marker && umount /mnt/t
echo "second boot ok"
`
	res = boot(t, "clevis-unlock", &vm.Machine{Initramfs: initrd, Script: script2, Disks: []vm.Disk{disk1}, FwCfg: fw,
		Net: true, TPMStateDir: tpm, Timeout: 5 * time.Minute})
	if !contains(res.Serial, "second boot ok") {
		t.Fatal("no success marker")
	}
}
