package boot

import (
	"bytes"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/flintboot/flint/tests/vm"
)

// firstBootConfig writes a file, a user with an SSH key and an enabled unit;
// rootInit checks each of them.
const firstBootConfig = `{
  "ignition": {"version": "3.4.0"},
  "passwd": {"users": [{"name": "flinttest", "uid": 4242,
    "sshAuthorizedKeys": ["ssh-ed25519 AAAAflinttest test@flint"]}]},
  "storage": {
    "disks": [{"device": "/dev/disk/by-id/virtio-disk1", "wipeTable": true,
      "partitions": [{"number": 1, "label": "flintdata", "sizeMiB": 32}]}],
    "filesystems": [{"device": "/dev/disk/by-partlabel/flintdata", "format": "ext4", "label": "data",
      "path": "/var/data", "wipeFilesystem": true}],
    "files": [{"path": "/etc/flint-test/hello.txt", "mode": 420,
      "contents": {"source": "data:,hello%20from%20flint"}},
      {"path": "/var/data/on-data.txt", "contents": {"source": "data:,on%20the%20data%20disk"}}]},
  "systemd": {"units": [{"name": "flint-test.service", "enabled": true,
    "contents": "[Unit]\nDescription=flint test\n[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n"}]}
}`

// secondBootConfig must never be applied: it is offered on a boot without
// flint.firstboot.
const secondBootConfig = `{
  "ignition": {"version": "3.4.0"},
  "storage": {"files": [{"path": "/etc/flint-test/second.txt", "contents": {"source": "data:,ran"}}]}
}`

func checkRoot(t *testing.T, r bootResult) float64 {
	t.Helper()
	up, root, missing, ok := rootMarker(r.Serial)
	if !ok {
		t.Fatalf("the real root's init never ran; serial tail:\n%s", vm.Tail(r.Serial, 60))
	}
	if missing != "none" {
		t.Fatalf("root init found missing items: %s (root %s); serial tail:\n%s", missing, root, vm.Tail(r.Serial, 60))
	}
	t.Logf("real root's /sbin/init ran at uptime %.1f s (root %s)", up, root)
	return up
}

// checkDataDisk reads the second disk on the host: the GPT partition flint
// made, the ext4 filesystem in it and the file the files stage wrote there
// through the mount stage.
func checkDataDisk(t *testing.T, img string) {
	t.Helper()
	parts, err := vm.PartitionTable(img)
	if err != nil {
		t.Fatalf("data disk: %v", err)
	}
	if len(parts) != 1 || parts[0].Name != "flintdata" || parts[0].Bytes() != 32<<20 {
		t.Fatalf("data disk partitions: %+v", parts)
	}
	b, err := vm.ReadExt4File(img, parts[0].Offset(), "/on-data.txt")
	if err != nil || string(b) != "on the data disk" {
		t.Fatalf("file on the data disk: %q %v", b, err)
	}
}

func sparse(t *testing.T, dir, name string, size int64) string {
	t.Helper()
	p := filepath.Join(dir, name)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	return p
}

// ranStages reports whether any flint stage unit started on this boot.
func ranStages(serial string) bool {
	return strings.Contains(serial, "flint (fetch-offline)") || strings.Contains(serial, "flint (files)")
}

// TestFirstBootFwCfg: the config comes through fw_cfg (qemu platform); flint
// writes a file, a user and a unit into the host-made root, switch-root
// follows, and the root's init confirms. A second boot of the same disk
// without flint.firstboot must not run any stage.
func TestFirstBootFwCfg(t *testing.T) {
	root := makeRoot(t)
	dir := t.TempDir()
	data := sparse(t, dir, "data.img", 128<<20)
	cfg := writeFile(t, dir, "config.ign", firstBootConfig)
	r := machine{
		Cmdline: "flint.firstboot flint.platform.id=qemu root=LABEL=flintroot",
		Disks:   []string{root, data},
		FwCfg:   map[string]string{"opt/com.coreos/config": cfg},
	}.boot(t)
	checkRoot(t, r)
	checkDataDisk(t, data)
	for _, unit := range []string{"flint (fetch-offline)", "flint (disks)", "flint (mount)", "flint (files)"} {
		if !strings.Contains(r.Serial, unit) {
			t.Errorf("serial console never mentions %q", unit)
		}
	}
	result, err := vm.ReadExt4File(root, 0, "/etc/.flint-result.json")
	if err != nil {
		t.Fatalf("result file: %v", err)
	}
	if !bytes.Contains(result, []byte(`"provisioningBootID"`)) || !bytes.Contains(result, []byte(`"files"`)) {
		t.Errorf("result file lacks the boot id or the files stage:\n%s", result)
	}
	if _, err := vm.ReadExt4File(root, 0, "/etc/.ignition-result.json"); err != nil {
		t.Errorf("Ignition result file: %v", err)
	}

	t.Run("second boot", func(t *testing.T) {
		cfg2 := writeFile(t, dir, "second.ign", secondBootConfig)
		r := machine{
			Cmdline: "flint.platform.id=qemu root=LABEL=flintroot",
			Disks:   []string{root, data},
			FwCfg:   map[string]string{"opt/com.coreos/config": cfg2},
		}.boot(t)
		checkRoot(t, r)
		if ranStages(r.Serial) {
			t.Errorf("flint stages ran on a boot without flint.firstboot:\n%s", vm.Tail(r.Serial, 60))
		}
		if _, err := vm.ReadExt4File(root, 0, "/etc/flint-test/second.txt"); err == nil {
			t.Error("the second boot's config was applied")
		}
		again, err := vm.ReadExt4File(root, 0, "/etc/.flint-result.json")
		if err != nil || !bytes.Equal(again, result) {
			t.Errorf("result file changed on the second boot (%v)", err)
		}
	})
}

// TestConfigURL: PXE-style, the config comes from ignition.config.url (an
// alias of flint.config.url, with ignition.firstboot and
// ignition.platform.id) on an
// HTTP server the test runs on 127.0.0.1 (the guest reaches it at
// 10.0.2.2); fetch-offline finds that it needs the network, the initramfs
// brings it up (systemd-networkd, rd.neednet=1 ip=dhcp) and fetch gets it.
func TestConfigURL(t *testing.T) {
	root := makeRoot(t)
	data := sparse(t, t.TempDir(), "data.img", 128<<20)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var hits atomic.Int32
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/config.ign" {
			http.NotFound(w, r)
			return
		}
		hits.Add(1)
		w.Header().Set("Content-Type", "application/vnd.coreos.ignition+json")
		w.Write([]byte(firstBootConfig))
	})}
	go srv.Serve(ln)
	defer srv.Close()
	port := ln.Addr().(*net.TCPAddr).Port

	r := machine{
		// Ignition's spellings, as a drop-in must accept them
		Cmdline: "ignition.firstboot ignition.platform.id=metal rd.neednet=1 ip=dhcp root=LABEL=flintroot " +
			"ignition.config.url=http://10.0.2.2:" + strconv.Itoa(port) + "/config.ign",
		Disks: []string{root, data},
		Net:   true,
	}.boot(t)
	checkRoot(t, r)
	checkDataDisk(t, data)
	if hits.Load() == 0 {
		t.Error("the HTTP server never served the config")
	}
	if !strings.Contains(r.Serial, "flint (fetch)") {
		t.Error("the fetch stage (network) never ran")
	}
}

// TestFailure: a config whose file fails its hash check stops the machine
// in the emergency target with the one-paragraph summary on the console,
// flint's journal on the virtio-serial port, and no secret anywhere.
func TestFailure(t *testing.T) {
	const canary = "CANARY-s3cr3t-7f3a"
	root := makeRoot(t)
	dir := t.TempDir()
	cfg := writeFile(t, dir, "bad.ign", `{
  "ignition": {"version": "3.4.0"},
  "passwd": {"users": [{"name": "flinttest", "passwordHash": "$6$`+canary+`"}]},
  "storage": {"files": [
    {"path": "/etc/flint-test/secret.txt", "mode": 384, "contents": {"source": "data:,`+canary+`"}},
    {"path": "/etc/flint-test/bad.txt", "contents": {"source": "data:,not-what-was-promised",
      "verification": {"hash": "sha512-00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"}}}
  ]}
}`)
	r := machine{
		Cmdline: "flint.firstboot flint.platform.id=qemu root=LABEL=flintroot",
		Disks:   []string{root},
		FwCfg:   map[string]string{"opt/com.coreos/config": cfg},
	}.boot(t)
	if _, _, _, ok := rootMarker(r.Serial); ok {
		t.Fatalf("the machine switched root after a failed stage:\n%s", vm.Tail(r.Serial, 60))
	}
	for _, want := range []string{"the files stage failed", "journalctl -t flint"} {
		if !strings.Contains(r.Serial, want) {
			t.Errorf("serial console lacks %q; tail:\n%s", want, vm.Tail(r.Serial, 60))
		}
	}
	if !strings.Contains(r.Serial, "emergency") && !strings.Contains(r.Serial, "Emergency") {
		t.Errorf("no sign of the emergency target on the console")
	}
	if strings.Contains(r.Serial, canary) {
		t.Errorf("the secret canary reached the console")
	}
	if !strings.Contains(r.Journal, "flint") || !strings.Contains(r.Journal, "files") {
		t.Errorf("flint's journal did not reach the virtio-serial port (%d bytes):\n%s", len(r.Journal), vm.Tail(r.Journal, 20))
	}
	if strings.Contains(r.Journal, canary) {
		t.Errorf("the secret canary reached the journal")
	}

	// The failed first boot left its stamp on the root: booting it again as
	// a first boot (the operator fixed the config and reset the machine)
	// is refused before the mount stage touches the root.
	if _, err := vm.ReadExt4File(root, 0, "/etc/.flint-in-progress"); err != nil {
		t.Fatalf("no first-boot-in-progress stamp after the failed boot: %v", err)
	}
	t.Run("rerun refused", func(t *testing.T) {
		good := writeFile(t, dir, "good.ign", firstBootConfig)
		data := sparse(t, dir, "data.img", 128<<20)
		r := machine{
			Cmdline: "flint.firstboot flint.platform.id=qemu root=LABEL=flintroot",
			Disks:   []string{root, data},
			FwCfg:   map[string]string{"opt/com.coreos/config": good},
		}.boot(t)
		if _, _, _, ok := rootMarker(r.Serial); ok {
			t.Fatalf("a second first boot ran on half-provisioned disks:\n%s", vm.Tail(r.Serial, 60))
		}
		// the disks stage looks at the existing root before it changes any disk
		for _, want := range []string{"the disks stage failed", "interrupted first boot", "flint.rerun=force"} {
			if !strings.Contains(r.Serial, want) {
				t.Errorf("serial console lacks %q; tail:\n%s", want, vm.Tail(r.Serial, 60))
			}
		}
		if _, err := vm.ReadExt4File(root, 0, "/etc/flint-test/hello.txt"); err == nil {
			t.Error("the refused run wrote files")
		}
		if parts, err := vm.PartitionTable(data); err == nil {
			t.Errorf("the refused run partitioned the data disk: %+v", parts)
		}
	})
}
