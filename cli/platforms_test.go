package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/flintboot/flint/stages"
)

// The platform hooks through `flint run`: each test drives the stages the
// initramfs units run, against loopback stand-ins for the platform.

// --- Hyper-V: the KVP protocol of hv_utils, with the test as the kernel ---

// The kernel side of /dev/vmbus/hv_kvp speaks struct hv_kvp_msg
// (<linux/hyperv.h>, 7432 bytes, little-endian). The test serves it over a
// pty in raw mode whose slave flint opens at FLINT_TEST_SYSROOT's
// /dev/vmbus/hv_kvp: the same open/poll/read/write path as the device.
const (
	hvMsgSize   = 7432
	hvRegister1 = 100
	hvOpGet     = 0
	hvOpSet     = 1
	hvOpEnum    = 3
	hvOpSetIP   = 5
	hvSOK       = 0
	hvEFail     = 0x80004005
	hvSCont     = 0x80070103
)

type kvpKernel struct {
	master int
	t      *testing.T
}

// newKVPKernel makes a raw pty and returns the kernel end and the path of
// the device end (a /proc/self/fd link: flint runs in this process).
func newKVPKernel(t *testing.T) (*kvpKernel, string) {
	t.Helper()
	m, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetPointerInt(m, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	s, err := unix.IoctlRetInt(m, unix.TIOCGPTPEER)
	if err != nil {
		t.Fatal(err)
	}
	tio, err := unix.IoctlGetTermios(s, unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	// cfmakeraw: bytes pass unchanged both ways
	tio.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	tio.Oflag &^= unix.OPOST
	tio.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	tio.Cflag &^= unix.CSIZE | unix.PARENB
	tio.Cflag |= unix.CS8
	tio.Cc[unix.VMIN], tio.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(s, unix.TCSETS, tio); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(s); unix.Close(m) })
	return &kvpKernel{master: m, t: t}, fmt.Sprintf("/proc/self/fd/%d", s)
}

func (k *kvpKernel) read() ([]byte, error) {
	b := make([]byte, hvMsgSize)
	for got := 0; got < len(b); {
		fds := []unix.PollFd{{Fd: int32(k.master), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, 20000)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			return nil, fmt.Errorf("kernel side: no message from flint (%d bytes so far): %v", got, err)
		}
		r, err := unix.Read(k.master, b[got:])
		if err != nil {
			return nil, err
		}
		got += r
	}
	return b, nil
}

func (k *kvpKernel) write(b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(k.master, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}
func put32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}

// hostRequest is a message as the driver forwards it from the host: for
// SET the UTF-8 key and value with sizes counting the NUL.
func hostRequest(op, pool byte, key, value string) []byte {
	b := make([]byte, hvMsgSize)
	b[0], b[1] = op, pool
	put32(b[4:], 1) // REG_SZ
	put32(b[8:], uint32(len(key)+1))
	put32(b[12:], uint32(len(value)+1))
	copy(b[16:16+512], key)
	copy(b[16+512:16+512+2048], value)
	return b
}

type kvpExchange struct {
	req    []byte
	status uint32 // expected
}

// serve plays the driver: the registration handshake, then each request,
// checking flint's status; it reports the first deviation.
func (k *kvpKernel) serve(reqs []kvpExchange, done chan<- error) {
	done <- func() error {
		reg, err := k.read()
		if err != nil {
			return err
		}
		if reg[0] != hvRegister1 {
			return fmt.Errorf("first message has operation %d, want the registration %d", reg[0], hvRegister1)
		}
		ack := make([]byte, hvMsgSize)
		ack[0] = hvRegister1
		copy(ack[4:], "3.1")
		if err := k.write(ack); err != nil {
			return err
		}
		for i, x := range reqs {
			if err := k.write(x.req); err != nil {
				return err
			}
			reply, err := k.read()
			if err != nil {
				return fmt.Errorf("request %d: %w", i, err)
			}
			if got := le32(reply); got != x.status {
				return fmt.Errorf("request %d (op %d pool %d): status %#x, want %#x", i, x.req[0], x.req[1], got, x.status)
			}
		}
		return nil
	}()
}

func TestRunHyperVKVP(t *testing.T) {
	d := runEnv(t, "")
	sys := filepath.Join(d, "sys")
	t.Setenv("FLINT_TEST_SYSROOT", sys)
	modprobe := filepath.Join(d, "modprobe")
	os.WriteFile(modprobe, []byte("#!/bin/sh\necho \"$@\" >> \"$0.log\"\n"), 0o755)
	t.Setenv("FLINT_TOOL_MODPROBE", modprobe)

	k, dev := newKVPKernel(t)
	os.MkdirAll(filepath.Join(sys, "dev/vmbus"), 0o755)
	if err := os.Symlink(dev, filepath.Join(sys, "dev/vmbus/hv_kvp")); err != nil {
		t.Fatal(err)
	}

	// a config longer than one KVP value (2047 bytes), split over
	// ignition.config.0, .1, .2 as the host tools do
	const canary = "KVP-CANARY-5b2e"
	pad := strings.Repeat("p", 3000)
	cfg := `{"ignition":{"version":"3.4.0"},"storage":{"files":[` +
		`{"path":"/etc/hello.txt","mode":420,"contents":{"source":"data:,hello"}},` +
		`{"path":"/etc/secret","mode":384,"contents":{"source":"data:,` + canary + pad + `"}}]}}`
	var reqs []kvpExchange
	for i, n := 0, 0; i < len(cfg); i, n = i+2000, n+1 {
		reqs = append(reqs, kvpExchange{hostRequest(hvOpSet, 0, fmt.Sprintf("ignition.config.%d", n), cfg[i:min(i+2000, len(cfg))]), hvSOK})
	}
	reqs = append(reqs,
		kvpExchange{hostRequest(hvOpSet, 3, "VirtualMachineName", "flint-vm"), hvSOK},
		kvpExchange{hostRequest(hvOpSet, 0, "stale", "old"), hvSOK},
		kvpExchange{hostRequest(hvOpSet, 0, "stale", "new"), hvSOK}, // replaced, not added
		kvpExchange{hostRequest(hvOpEnum, 2, "", ""), hvSCont},      // guest info: none in the initramfs
		kvpExchange{hostRequest(hvOpGet, 1, "x", ""), hvSCont},
		kvpExchange{hostRequest(hvOpSetIP, 0, "", ""), hvEFail},
	)
	done := make(chan error, 1)
	go k.serve(reqs, done)

	root := filepath.Join(d, "root")
	os.MkdirAll(root, 0o755)
	out1, err1, code := flint(t, "run", "--stage", "fetch-offline", "--platform", "hyperv", "--root", root, "--log-to-stdout", "--debug")
	if code != 0 {
		t.Fatalf("fetch-offline: exit %d\n%s%s", code, out1, err1)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the kernel side did not finish")
	}
	if b, _ := os.ReadFile(modprobe + ".log"); string(b) != "hv_utils\n" {
		t.Errorf("modprobe calls: %q", b)
	}
	if _, err := os.Stat(filepath.Join(d, "run", "neednet")); err == nil {
		t.Error("need-network flag: KVP needs no network")
	}
	var outs strings.Builder
	outs.WriteString(out1 + err1)
	for _, s := range []string{"fetch", "disks", "mount", "files", "umount"} {
		o, e, code := flint(t, "run", "--stage", s, "--platform", "hyperv", "--root", root, "--log-to-stdout", "--debug")
		outs.WriteString(o + e)
		if code != 0 {
			t.Fatalf("stage %s: exit %d\n%s%s", s, code, o, e)
		}
	}
	if b, err := os.ReadFile(filepath.Join(root, "etc/hello.txt")); err != nil || string(b) != "hello" {
		t.Fatalf("hello.txt = %q %v", b, err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "etc/secret")); string(b) != canary+pad {
		t.Errorf("the file of the reassembled config: %d bytes", len(b))
	}
	// the five pools, as hv_kvp_daemon would find them, 0600
	want := map[int][][2]string{0: nil, 1: nil, 2: nil, 3: {{"VirtualMachineName", "flint-vm"}}, 4: nil}
	for i := 0; i*2000 < len(cfg); i++ {
		want[0] = append(want[0], [2]string{fmt.Sprintf("ignition.config.%d", i), cfg[i*2000 : min(i*2000+2000, len(cfg))]})
	}
	want[0] = append(want[0], [2]string{"stale", "new"})
	for n, recs := range want {
		p := filepath.Join(root, fmt.Sprintf("var/lib/hyperv/.kvp_pool_%d", n))
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("pool %d: %v %v", n, fi, err)
			continue
		}
		b, _ := os.ReadFile(p)
		if len(b) != len(recs)*2560 {
			t.Errorf("pool %d: %d bytes, want %d records", n, len(b), len(recs))
			continue
		}
		for i, r := range recs {
			rec := b[i*2560 : (i+1)*2560]
			if k, v := string(bytes.TrimRight(rec[:512], "\x00")), string(bytes.TrimRight(rec[512:], "\x00")); k != r[0] || v != r[1] {
				t.Errorf("pool %d record %d: %q=%d bytes, want %q=%d bytes", n, i, k, len(v), r[0], len(r[1]))
			}
		}
	}
	if strings.Contains(outs.String(), canary) {
		t.Error("the config's canary reached the output (with --debug)")
	}
	for _, p := range []string{filepath.Join(root, "etc/.flint-result.json"), filepath.Join(root, "etc/.ignition-result.json")} {
		if b, err := os.ReadFile(p); err != nil || bytes.Contains(b, []byte(canary)) {
			t.Errorf("%s: %v, or the canary is in it", p, err)
		}
	}
	if !strings.Contains(outs.String(), "received") {
		t.Errorf("no log of the KVP exchange:\n%s", outs.String())
	}
}

// TestRunHyperVNeedNet: the config merges one from the network, so
// fetch-offline only raises the need-network flag; the fetch stage reads
// KVP again, but the host sends its pools once per boot: flint kept them
// in the initramfs's /var/lib/hyperv and uses them.
func TestRunHyperVNeedNet(t *testing.T) {
	d := runEnv(t, "")
	sys := filepath.Join(d, "sys")
	t.Setenv("FLINT_TEST_SYSROOT", sys)
	t.Setenv("FLINT_TOOL_MODPROBE", "true")
	k, dev := newKVPKernel(t)
	os.MkdirAll(filepath.Join(sys, "dev/vmbus"), 0o755)
	os.Symlink(dev, filepath.Join(sys, "dev/vmbus/hv_kvp"))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(goodConfig)) }))
	defer srv.Close()
	cfg := `{"ignition":{"version":"3.4.0","config":{"merge":[{"source":"` + srv.URL + `/merged.ign"}]}}}`
	done := make(chan error, 1)
	go k.serve([]kvpExchange{{hostRequest(hvOpSet, 0, "ignition.config", cfg), hvSOK}}, done)
	root := filepath.Join(d, "root")
	os.MkdirAll(root, 0o755)
	if o, e, code := flint(t, "run", "--stage", "fetch-offline", "--platform", "hyperv", "--root", root, "--log-to-stdout"); code != 0 {
		t.Fatalf("fetch-offline: exit %d\n%s%s", code, o, e)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(d, "run", "neednet")); err != nil {
		t.Fatalf("no need-network flag: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(sys, "var/lib/hyperv/.kvp_pool_0")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("pools not kept in the initramfs: %v %v", fi, err)
	}
	// second registration: the host has nothing more to say
	go k.serve(nil, done)
	for _, s := range []string{"fetch", "files"} {
		if o, e, code := flint(t, "run", "--stage", s, "--platform", "hyperv", "--root", root, "--log-to-stdout"); code != 0 {
			t.Fatalf("stage %s: exit %d\n%s%s", s, code, o, e)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "etc/hello.txt")); string(b) != "hello" {
		t.Errorf("hello.txt = %q: the merged config was not applied", b)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "var/lib/hyperv/.kvp_pool_0")); !bytes.Contains(b, []byte("ignition.config")) {
		t.Error("pool 0 not written into the root")
	}
}

func TestRunHyperVDaemonPoolFiles(t *testing.T) {
	// a KVP daemon already ran in the initramfs (no device for flint):
	// its pool files are read and carried into the root
	d := runEnv(t, "")
	sys := filepath.Join(d, "sys")
	t.Setenv("FLINT_TEST_SYSROOT", sys)
	t.Setenv("FLINT_TOOL_MODPROBE", "true")
	os.MkdirAll(filepath.Join(sys, "var/lib/hyperv"), 0o755)
	rec := make([]byte, 2560)
	copy(rec, "ignition.config")
	copy(rec[512:], goodConfig)
	os.WriteFile(filepath.Join(sys, "var/lib/hyperv/.kvp_pool_0"), rec, 0o644)
	root := filepath.Join(d, "root")
	os.MkdirAll(root, 0o755)
	for _, s := range []string{"fetch-offline", "files"} {
		if o, e, code := flint(t, "run", "--stage", s, "--platform", "hyperv", "--root", root, "--log-to-stdout"); code != 0 {
			t.Fatalf("stage %s: exit %d\n%s%s", s, code, o, e)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(root, "etc/hello.txt")); string(b) != "hello" {
		t.Errorf("hello.txt = %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "var/lib/hyperv/.kvp_pool_0")); !bytes.Equal(b, rec) {
		t.Error("pool 0 not carried into the root")
	}
}

// --- Packet / Equinix Metal: phone home after each stage ---

type phoneHome struct {
	mu     sync.Mutex
	events []map[string]string
	raw    []string
}

func TestRunPacketPhoneHome(t *testing.T) {
	d := runEnv(t, "")
	const canaryPass, canaryTok, canaryData = "PASS-CANARY-71c3", "TOKEN-CANARY-0a9f", "DATA-CANARY-e44d"
	ph := &phoneHome{}
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/userdata":
			fmt.Fprintf(w, `{"ignition":{"version":"3.4.0"},"storage":{"files":[
			  {"path":"/etc/secret","contents":{"source":"data:,%s"}},
			  {"path":"/etc/missing","contents":{"source":"%s/missing?token=%s"}}]}}`,
				canaryData, strings.Replace(srv.URL, "http://", "http://flint:"+canaryPass+"@", 1), canaryTok)
		case "/metadata":
			fmt.Fprintf(w, `{"id":"x","phone_home_url":"http://tinkerbell.ewr1.packet.net/phone-home"}`)
		case "/events":
			b, _ := io.ReadAll(r.Body)
			var ev map[string]string
			if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(b, &ev) != nil {
				http.Error(w, "bad event", http.StatusBadRequest)
				return
			}
			ph.mu.Lock()
			ph.events = append(ph.events, ev)
			ph.raw = append(ph.raw, string(b))
			ph.mu.Unlock()
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	t.Setenv("FLINT_TEST_METADATA_BASE", srv.URL)
	root := filepath.Join(d, "root")
	os.MkdirAll(root, 0o755)
	var outs strings.Builder
	run := func(stage string) int {
		o, e, code := flint(t, "run", "--stage", stage, "--platform", "packet", "--root", root, "--log-to-stdout", "--debug")
		outs.WriteString(o + e)
		return code
	}
	// fetch-offline: the user data needs the network; nothing to report
	// (no network yet)
	if code := run("fetch-offline"); code != 0 {
		t.Fatalf("fetch-offline: exit %d\n%s", code, outs.String())
	}
	for _, s := range []string{"fetch", "disks", "mount"} {
		if code := run(s); code != 0 {
			t.Fatalf("%s: exit %d\n%s", s, code, outs.String())
		}
	}
	if code := run("files"); code != ExitFailure {
		t.Fatalf("files: exit %d, want a failure (404)\n%s", code, outs.String())
	}
	ph.mu.Lock()
	defer ph.mu.Unlock()
	var got []string
	for _, ev := range ph.events {
		got = append(got, ev["state"]+" "+strings.SplitN(ev["message"], " ", 2)[0])
	}
	if strings.Join(got, ",") != "running [fetch],running [disks],running [mount],failed [files]" {
		t.Fatalf("events: %q", got)
	}
	last := ph.events[len(ph.events)-1]["message"]
	if !strings.Contains(last, "/missing") || !strings.Contains(last, "not found") {
		t.Errorf("failure event does not say what failed: %q", last)
	}
	for _, raw := range ph.raw {
		for _, c := range []string{canaryPass, canaryTok, canaryData} {
			if strings.Contains(raw, c) {
				t.Errorf("phone-home body carries a secret: %s", raw)
			}
		}
	}
	for _, c := range []string{canaryPass, canaryTok, canaryData} {
		if strings.Contains(outs.String(), c) {
			t.Errorf("secret %s in flint's output", c)
		}
	}
	st, err := stages.LoadState(filepath.Join(d, "run", "state"))
	if err != nil || len(st.Stages) == 0 || st.Stages[len(st.Stages)-1].Status != "failed" {
		t.Errorf("state: %+v %v", st, err)
	}
}

// --- VMware: the OVF environment never travels in vmware-rpctool's argv ---

// rpctoolRecorder keeps guestinfo as files beside itself, like the
// hypervisor, and appends each argv (NUL-separated, one record per line)
// and each stdin to logs.
const rpctoolRecorder = `#!/bin/sh
d=$(dirname "$0")
printf '%s\0' "$@" >> "$d/argv.log"; echo >> "$d/argv.log"
cat >> "$d/stdin.log"
case "$1" in
"info-get guestinfo."*) k=${1#info-get guestinfo.}
  if [ -f "$d/store/$k" ]; then cat "$d/store/$k"; echo; else echo "No value found"; exit 1; fi ;;
"info-set guestinfo."*) kv=${1#info-set guestinfo.}; k=${kv%% *}; v=${kv#* }
  printf '%s' "$v" > "$d/store/$k" ;;
*) echo "unknown command" >&2; exit 2 ;;
esac
`

func TestRmcfgVMwareKeepsOVFOutOfArgv(t *testing.T) {
	d := t.TempDir()
	sys := filepath.Join(d, "sys")
	os.MkdirAll(filepath.Join(sys, "sys/class/dmi/id"), 0o755)
	os.WriteFile(filepath.Join(sys, "sys/class/dmi/id/sys_vendor"), []byte("VMware, Inc.\n"), 0o644)
	t.Setenv("FLINT_TEST_SYSROOT", sys)
	tool := filepath.Join(d, "rpctool")
	os.WriteFile(tool, []byte(rpctoolRecorder), 0o755)
	t.Setenv("FLINT_TOOL_VMWARE_RPCTOOL", tool)
	store := filepath.Join(d, "store")
	os.MkdirAll(store, 0o755)
	const canaryCfg, canaryProp = "CFG-CANARY-2f61", "OVF-CANARY-8d03"
	ovf := `<?xml version="1.0" encoding="UTF-8"?>
<Environment xmlns="http://schemas.dmtf.org/ovf/environment/1" xmlns:oe="http://schemas.dmtf.org/ovf/environment/1">
  <PropertySection>
    <Property oe:key="guestinfo.ignition.config.data" oe:value="` + canaryCfg + `"/>
    <Property oe:key="appliance.db.password" oe:value="` + canaryProp + `"/>
  </PropertySection>
</Environment>
`
	os.WriteFile(filepath.Join(store, "ignition.config.data"), []byte(canaryCfg), 0o644)
	os.WriteFile(filepath.Join(store, "ovfenv"), []byte(ovf), 0o644)

	var o, e bytes.Buffer
	err := Run(t.Context(), []string{"flint", "rmcfg", "--platform", "vmware"}, strings.NewReader(""), &o, &e)
	// the guestinfo variables are overwritten; the OVF environment would
	// need the document in argv, which flint refuses without the backdoor
	if b, _ := os.ReadFile(filepath.Join(store, "ignition.config.data")); string(b) != "e30K" {
		t.Errorf("config data = %q", b)
	}
	if err == nil || !strings.Contains(e.String()+err.Error(), "command line") {
		t.Errorf("rmcfg: %v\n%s", err, e.String())
	}
	if b, _ := os.ReadFile(filepath.Join(store, "ovfenv")); string(b) != ovf {
		t.Errorf("ovfenv rewritten through argv:\n%s", b)
	}
	argv, _ := os.ReadFile(filepath.Join(d, "argv.log"))
	if len(argv) == 0 {
		t.Fatal("vmware-rpctool never ran")
	}
	for _, c := range []string{canaryCfg, canaryProp, "PropertySection"} {
		if bytes.Contains(argv, []byte(c)) {
			t.Errorf("%s in vmware-rpctool's argv:\n%q", c, argv)
		}
		if strings.Contains(o.String()+e.String(), c) {
			t.Errorf("%s in rmcfg's output:\n%s", c, e.String())
		}
	}
	if !bytes.Contains(argv, []byte("info-get guestinfo.ovfenv")) {
		t.Errorf("the OVF environment was never read:\n%q", argv)
	}
}
