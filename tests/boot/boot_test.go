package boot

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/flintboot/flint/log"
	"github.com/flintboot/flint/stages/report/post"
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
	// flint status and flint analyze blame, run by the provisioned root's init
	if !strings.Contains(r.Serial, "FLINT-STATUS rc=0 done: provisioned at ") {
		t.Errorf("flint status in the provisioned root did not say done:\n%s", grepLines(r.Serial, "FLINT-STATUS"))
	}
	blame := grepLines(r.Serial, "FLINT-BLAME")
	for _, want := range []string{"disks: partitioning", "disks: creating filesystem", "files: writing 2 files",
		"files: writing 1 account changes in-process", "fetch-offline: qemu: reading fw_cfg", "by kind, largest total first"} {
		if !strings.Contains(blame, want) {
			t.Errorf("flint analyze blame lacks %q:\n%s", want, blame)
		}
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
	rep := &reports{}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rep.serve(w, r) {
			return
		}
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
			"ignition.config.url=http://10.0.2.2:" + strconv.Itoa(port) + "/config.ign " +
			"flint.report.url=http://10.0.2.2:" + strconv.Itoa(port) + "/report?token=CANARY-rep0rt",
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
	// the report after the last stage
	got := rep.all()
	if len(got) != 1 {
		t.Fatalf("%d reports received, want 1", len(got))
	}
	var names []string
	for _, s := range got[0].Stages {
		names = append(names, s.Name+":"+s.Status)
	}
	if got[0].Status != "succeeded" || got[0].Platform != "metal" || len(got[0].BootID) != 36 || len(got[0].MachineID) != 32 ||
		strings.Join(names, ",") != "fetch-offline:succeeded,fetch:succeeded,kargs:succeeded,disks:succeeded,mount:succeeded,files:succeeded" {
		t.Errorf("report: %+v", got[0])
	}
}

// reports receives the POSTs of flint.report.url=http://10.0.2.2:PORT/report.
type reports struct {
	mu  sync.Mutex
	got []post.Report
	raw []string
}

func (rp *reports) serve(w http.ResponseWriter, r *http.Request) bool {
	if r.URL.Path != "/report" {
		return false
	}
	b, _ := io.ReadAll(r.Body)
	var rep post.Report
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != post.ContentType || json.Unmarshal(b, &rep) != nil {
		http.Error(w, "bad report", http.StatusBadRequest)
		return true
	}
	rp.mu.Lock()
	rp.got = append(rp.got, rep)
	rp.raw = append(rp.raw, string(b))
	rp.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
	return true
}

func (rp *reports) all() []post.Report {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return append([]post.Report(nil), rp.got...)
}

func grepLines(s, marker string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if i := strings.Index(l, marker); i >= 0 {
			b.WriteString(l[i:] + "\n")
		}
	}
	return b.String()
}

// TestFailure: a file whose gzip contents from an HTTP URL are not gzip
// stops the machine in the emergency target with the one-paragraph summary
// on the console (the real cause, "gzip: invalid header", and the URL
// without its userinfo and query), flint's journal (text and JSON, with the
// FLINT_* fields) and the collect-logs tarball on the virtio-serial ports,
// the failure reported to flint.report.url, and no secret anywhere.
func TestFailure(t *testing.T) {
	const canary = "CANARY-s3cr3t-7f3a"
	root := makeRoot(t)
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rep := &reports{}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rep.serve(w, r) {
			return
		}
		if r.URL.Path == "/x.gz" {
			w.Write([]byte("this is not gzip at all"))
			return
		}
		http.NotFound(w, r)
	})}
	go srv.Serve(ln)
	defer srv.Close()
	host := "10.0.2.2:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	cfg := writeFile(t, dir, "bad.ign", `{
  "ignition": {"version": "3.4.0"},
  "passwd": {"users": [{"name": "flinttest", "passwordHash": "$6$`+canary+`"}]},
  "storage": {"files": [
    {"path": "/etc/flint-test/secret.txt", "mode": 384, "contents": {"source": "data:,`+canary+`"}},
    {"path": "/etc/x", "contents": {"source": "http://user:`+canary+`@`+host+`/x.gz?sig=`+canary+`", "compression": "gzip"}}
  ]}
}`)
	r := machine{
		Cmdline: "flint.firstboot flint.platform.id=qemu rd.neednet=1 ip=dhcp root=LABEL=flintroot flint.report.url=http://" + host + "/report",
		Disks:   []string{root},
		FwCfg:   map[string]string{"opt/com.coreos/config": cfg},
		Net:     true,
	}.boot(t)
	if _, _, _, ok := rootMarker(r.Serial); ok {
		t.Fatalf("the machine switched root after a failed stage:\n%s", vm.Tail(r.Serial, 60))
	}
	for _, want := range []string{"the files stage failed", "gzip: invalid header", "http://" + host + "/x.gz",
		"journalctl -t flint", "flint collect-logs --root /sysroot"} {
		if !strings.Contains(r.Serial, want) {
			t.Errorf("serial console lacks %q; tail:\n%s", want, vm.Tail(r.Serial, 60))
		}
	}
	if !strings.Contains(r.Serial, "emergency") && !strings.Contains(r.Serial, "Emergency") {
		t.Errorf("no sign of the emergency target on the console")
	}
	for what, text := range map[string]string{"the console": r.Serial, "the journal": r.Journal,
		"the JSON journal": r.JournalJSON, "the logs tarball": string(r.Logs)} {
		if strings.Contains(text, canary) {
			t.Errorf("the secret canary reached %s", what)
		}
	}
	if !strings.Contains(r.Journal, "flint") || !strings.Contains(r.Journal, "files") {
		t.Errorf("flint's journal did not reach the virtio-serial port (%d bytes):\n%s", len(r.Journal), vm.Tail(r.Journal, 20))
	}
	checkJournalJSON(t, r.JournalJSON)

	// the collect-logs tarball, written by flint-failure.sh in the emergency target
	tgz := filepath.Join(dir, "logs.tar.gz")
	os.WriteFile(tgz, r.Logs, 0o644)
	files := untarGz(t, tgz)
	for name, want := range map[string][]string{
		"status.txt":   {"failed: the files stage failed: ", "gzip: invalid header"},
		"config.json":  {`"/etc/x"`, `"source":"http://` + host + `/x.gz"`, `"passwordHash":"<redacted>"`},
		"cmdline.txt":  {"flint.report.url=http://" + host + "/report"},
		"journal.txt":  {"files: stage failed"},
		"platform.txt": {"qemu"},
		"failure.txt":  {"gzip: invalid header"},
	} {
		for _, w := range want {
			if !strings.Contains(files[name], w) {
				t.Errorf("%s in the tarball lacks %q:\n%s", name, w, files[name])
			}
		}
	}
	for name, body := range files {
		if strings.Contains(body, canary) {
			t.Errorf("%s in the tarball holds the canary", name)
		}
	}

	// the failure report
	got := rep.all()
	if len(got) != 1 {
		t.Fatalf("%d reports, want 1 (the failed files stage)", len(got))
	}
	if g := got[0]; g.Status != "failed" || g.FailedStage != "files" || !strings.Contains(g.Failure, "gzip: invalid header") ||
		len(g.Stages) == 0 || g.Stages[len(g.Stages)-1].Status != "failed" {
		t.Errorf("report: %+v", g)
	}
	if strings.Contains(strings.Join(rep.raw, ""), canary) {
		t.Error("the canary reached the report")
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

// checkJournalJSON: journalctl -o json in the guest holds flint's entries
// with the documented fields and MESSAGE_IDs.
func checkJournalJSON(t *testing.T, text string) {
	t.Helper()
	var entries []map[string]any
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var e map[string]any
		if json.Unmarshal(sc.Bytes(), &e) == nil {
			entries = append(entries, e)
		}
	}
	str := func(e map[string]any, k string) string { s, _ := e[k].(string); return s }
	has := func(what string, ok func(map[string]any) bool) {
		for _, e := range entries {
			if ok(e) {
				return
			}
		}
		t.Errorf("no guest journal entry %s among %d", what, len(entries))
	}
	has("config fetched", func(e map[string]any) bool {
		return str(e, "MESSAGE_ID") == log.MessageConfigFetched && str(e, "FLINT_STAGE") == "fetch-offline"
	})
	for _, st := range []string{"fetch-offline", "kargs", "disks", "mount"} {
		has(st+" finished", func(e map[string]any) bool {
			return str(e, "MESSAGE_ID") == log.MessageStageFinished && str(e, "FLINT_STAGE") == st && str(e, "FLINT_DURATION_USEC") != ""
		})
	}
	has("files failed", func(e map[string]any) bool {
		return str(e, "MESSAGE_ID") == log.MessageStageFailed && str(e, "FLINT_STAGE") == "files" &&
			strings.Contains(str(e, "FLINT_ERROR"), "gzip: invalid header") && str(e, "SYSLOG_IDENTIFIER") == "flint"
	})
	has("an operation with its duration", func(e map[string]any) bool {
		return str(e, "FLINT_OP") != "" && str(e, "FLINT_DURATION_USEC") != "" && str(e, "_SYSTEMD_UNIT") != ""
	})
}
