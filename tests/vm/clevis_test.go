package vm_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flintboot/flint/tests/vm"
)

// TestBootClevis: the clevis initramfs with user networking and a swtpm encrypts with
// sss t=2 of tang (on the host) and tpm2, then decrypts; tangd must have seen the
// recovery request.
func TestBootClevis(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	start := time.Now()
	initrd := filepath.Join(dir, "clevis.img")
	if err := vm.BuildInitramfs(vm.InitramfsOptions{Clevis: true}, initrd); err != nil {
		t.Fatal(err)
	}
	t.Logf("clevis initramfs built in %s", time.Since(start).Round(time.Millisecond))
	tang, err := vm.StartTang(filepath.Join(dir, "tang"))
	if err != nil {
		t.Fatal(err)
	}
	defer tang.Close()
	thp, err := tang.Thumbprint()
	if err != nil {
		t.Fatal(err)
	}
	url := filepath.Join(dir, "url")
	thpf := filepath.Join(dir, "thp")
	os.WriteFile(url, []byte(tang.GuestURL()), 0o644)
	os.WriteFile(thpf, []byte(thp), 0o644)
	script := `
FW=/sys/firmware/qemu_fw_cfg/by_name/opt/flint
URL=$(cat $FW/tang-url/raw)
THP=$(cat $FW/thp/raw)
test -c /dev/tpmrm0
echo "clevis secret" >/tmp/pt
clevis encrypt sss "{\"t\":2,\"pins\":{\"tang\":[{\"url\":\"$URL\",\"thp\":\"$THP\"}],\"tpm2\":[{}]}}" </tmp/pt >/tmp/jwe
clevis decrypt </tmp/jwe >/tmp/out
cmp /tmp/pt /tmp/out
echo "clevis sss tang+tpm2 round trip ok"
`
	m := &vm.Machine{
		Initramfs:   initrd,
		Script:      script,
		Net:         true,
		TPMStateDir: filepath.Join(dir, "tpm"),
		FwCfg:       map[string]string{"opt/flint/tang-url": url, "opt/flint/thp": thpf},
		Timeout:     4 * time.Minute,
	}
	res := boot(t, "clevis", m)
	if !strings.Contains(res.Serial, "round trip ok") {
		t.Error("no round-trip marker")
	}
	if !strings.Contains(tang.Log(), "POST /rec/") {
		t.Errorf("tang saw no recovery request; log:\n%s", tang.Log())
	}
}
