package providers

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/flintboot/flint/system"
)

// The 31 platform ids of the reference (SPEC-NOTES §4) and Flatcar's.
var referenceIDs = []string{"akamai", "aliyun", "applehv", "aws", "azure", "azurestack", "brightbox",
	"cloudstack", "digitalocean", "exoscale", "file", "gcp", "hetzner", "hyperv", "ibmcloud", "kubevirt",
	"metal", "nutanix", "nvidiabluefield", "openstack", "oraclecloud", "packet", "powervs", "proxmoxve",
	"qemu", "scaleway", "upcloud", "virtualbox", "vmware", "vultr", "zvm"}

var flatcarIDs = map[string]string{"ec2": "aws", "gce": "gcp", "pxe": "metal", "cloudsigma": "cloudsigma",
	"rackspace": "rackspace", "rackspace-onmetal": "rackspace-onmetal", "vagrant": "vagrant",
	"vagrant-virtualbox": "virtualbox", "interoute": "interoute", "niftycloud": "niftycloud"}

func TestTable(t *testing.T) {
	if len(referenceIDs) != 31 {
		t.Fatal(len(referenceIDs))
	}
	for _, id := range referenceIDs {
		p, err := Lookup(id)
		if err != nil || p.Name() != id {
			t.Errorf("%s: %v, %v", id, p, err)
		}
	}
	for id, name := range flatcarIDs {
		p, err := Lookup(id)
		if err != nil || p.Name() != name {
			t.Errorf("%s: %v, %v", id, p, err)
		}
	}
	if len(IDs()) != 31+len(flatcarIDs) {
		t.Errorf("IDs() has %d entries: %v", len(IDs()), IDs())
	}
	if _, err := Lookup("openstack2"); !errors.Is(err, ErrUnknownPlatform) {
		t.Error(err)
	}
	// only vmware and virtualbox delete configs; only packet reports status
	var del, status []string
	for _, id := range IDs() {
		p, _ := Lookup(id)
		if _, ok := p.(ConfigDeleter); ok {
			del = append(del, id)
		}
		if _, ok := p.(StatusReporter); ok {
			status = append(status, id)
		}
	}
	sort.Strings(del)
	if strings.Join(del, ",") != "vagrant-virtualbox,virtualbox,vmware" || strings.Join(status, ",") != "packet" {
		t.Errorf("deleters %v, status %v", del, status)
	}
}

// Every id must be documented in docs/platforms.md (like the reference's
// check on its supported-platforms page).
func TestDocsListEveryPlatform(t *testing.T) {
	doc, err := os.ReadFile("../docs/platforms.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range IDs() {
		if !bytes.Contains(doc, []byte("`"+id+"`")) {
			t.Errorf("docs/platforms.md does not mention `%s`", id)
		}
	}
	if !bytes.Contains(doc, []byte(MetadataBaseEnv)) {
		t.Errorf("docs/platforms.md does not document %s", MetadataBaseEnv)
	}
}

// fakeTool writes an executable script and returns a runner that uses it
// for name.
func fakeTool(t *testing.T, name, script string) (system.Runner, string) {
	t.Helper()
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "store"), 0o755)
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return system.NewRunner(nil, Tools(system.DefaultTools()).With(name, p)), filepath.Join(dir, "store")
}

// rpctoolScript keeps guestinfo variables as files, like the hypervisor.
const rpctoolScript = `#!/bin/sh
d=$(dirname "$0")/store
case "$1" in
"info-get guestinfo."*) k=${1#info-get guestinfo.}
  if [ -f "$d/$k" ]; then cat "$d/$k"; echo; else echo "No value found"; exit 1; fi ;;
"info-set guestinfo."*) kv=${1#info-set guestinfo.}; k=${kv%% *}; v=${kv#* }
  printf '%s' "$v" > "$d/$k" ;;
*) echo "unknown command" >&2; exit 2 ;;
esac
`

func vmwareEnv(t *testing.T, guestinfo map[string]string) (*Env, string) {
	env := testEnv(t, "", 5*time.Second)
	r, store := fakeTool(t, ToolVMwareRpctool, rpctoolScript)
	env.Runner = r
	for k, v := range guestinfo {
		os.WriteFile(filepath.Join(store, k), []byte(v), 0o644)
	}
	dmi := env.sysPath("/sys/class/dmi/id")
	os.MkdirAll(dmi, 0o755)
	os.WriteFile(filepath.Join(dmi, "sys_vendor"), []byte("VMware, Inc.\n"), 0o644)
	return env, store
}

func TestVMware(t *testing.T) {
	cfg := `{"ignition":{"version":"3.4.0"}}` + "\n"
	gzb64 := string(readTD(t, "vmware/gzb64.gzip+base64"))
	ovf := string(readTD(t, "ovf/vmware-ovfenv.xml"))
	cases := []struct {
		name  string
		gi    map[string]string
		want  string
		isErr bool
	}{
		{"plain", map[string]string{"ignition.config.data": cfg}, cfg, false},
		{"gzip+base64", map[string]string{"ignition.config.data": gzb64, "ignition.config.data.encoding": "gzip+base64"}, cfg, false},
		{"coreos", map[string]string{"coreos.config.data": base64.StdEncoding.EncodeToString([]byte(cfg)), "coreos.config.data.encoding": "b64"}, cfg, false},
		{"ignition beats coreos", map[string]string{"ignition.config.data": cfg, "coreos.config.data": "x"}, cfg, false},
		{"ovfenv", map[string]string{"ovfenv": ovf}, cfg, false},
		{"url", map[string]string{"ignition.config.url": dataURL(cfg)}, cfg, false},
		{"bad encoding", map[string]string{"ignition.config.data": "@@", "ignition.config.data.encoding": "base64"}, "", true},
	}
	for _, c := range cases {
		env, _ := vmwareEnv(t, c.gi)
		b, err := vmware{}.Fetch(ctxT(t, 20*time.Second), env)
		if c.isErr {
			if err == nil || errors.Is(err, ErrNoConfig) {
				t.Errorf("%s: want an error, got %q %v", c.name, b, err)
			}
			continue
		}
		if err != nil || string(b) != c.want {
			t.Errorf("%s: got %q, %v", c.name, b, err)
		}
	}
	env, _ := vmwareEnv(t, nil)
	if _, err := (vmware{}).Fetch(ctxT(t, 20*time.Second), env); !errors.Is(err, ErrNoConfig) {
		t.Errorf("nothing set: %v", err)
	}
	env = testEnv(t, "", time.Second) // no VMware DMI
	if _, err := (vmware{}).Fetch(ctxT(t, 20*time.Second), env); !errors.Is(err, ErrOffline) {
		t.Errorf("off VMware: %v", err)
	}
}

func TestVMwareDelConfig(t *testing.T) {
	ovf := string(readTD(t, "ovf/vmware-ovfenv.xml"))
	env, store := vmwareEnv(t, map[string]string{"ignition.config.data": "secret-config", "ignition.config.data.encoding": "", "ovfenv": ovf})
	// vmware-rpctool only: the variables are replaced, the OVF document
	// is not sent through its argv
	err := (vmware{}).DelConfig(ctxT(t, 20*time.Second), env)
	if !errors.Is(err, errPrivateArgv) {
		t.Fatalf("DelConfig with vmware-rpctool only: %v", err)
	}
	data, _ := os.ReadFile(filepath.Join(store, "ignition.config.data"))
	enc, _ := os.ReadFile(filepath.Join(store, "ignition.config.data.encoding"))
	if string(data) != "e30K" || string(enc) != "base64" {
		t.Fatalf("data %q encoding %q", data, enc)
	}
	if b, _ := os.ReadFile(filepath.Join(store, "ovfenv")); string(b) != ovf {
		t.Fatalf("ovfenv rewritten through vmware-rpctool:\n%s", b)
	}
	// a channel that keeps values in-process (the backdoor): pruned
	m := mapRPC{"ovfenv": ovf, "ignition.config.data": "secret-config"}
	if err := delVMware(ctxT(t, 5*time.Second), m); err != nil {
		t.Fatal(err)
	}
	if m["ovfenv"] != string(readTD(t, "ovf/vmware-ovfenv.golden.pruned.xml")) {
		t.Fatalf("ovfenv not pruned:\n%s", m["ovfenv"])
	}
	if m["private:ovfenv"] != "yes" || m["ignition.config.data"] != "e30K" {
		t.Fatalf("after delVMware: %v", m)
	}
	// afterwards the machine sees an empty config
	b, err := fetchVMware(ctxT(t, 5*time.Second), env, m)
	if err != nil || string(b) != "{}\n" {
		t.Fatalf("after rmcfg: %q %v", b, err)
	}
}

// mapRPC is a guestinfo store in memory; SetPrivate marks the key.
type mapRPC map[string]string

func (m mapRPC) Get(_ context.Context, k string) (string, bool, error) {
	v, ok := m[k]
	return v, ok, nil
}
func (m mapRPC) Set(_ context.Context, k, v string) error { m[k] = v; return nil }
func (m mapRPC) SetPrivate(_ context.Context, k, v string) error {
	m[k], m["private:"+k] = v, "yes"
	return nil
}

const vboxScript = `#!/bin/sh
d=$(dirname "$0")/store
[ "$1" = --nologo ] && shift
[ "$1" = guestproperty ] || exit 1
k=$(printf '%s' "$3" | tr / _)
case "$2" in
get) if [ -f "$d/$k" ]; then printf 'Value: %s\n' "$(cat "$d/$k")"; else echo "No value set!"; exit 2; fi ;;
delete) rm -f "$d/$k" ;;
*) exit 1 ;;
esac
`

func TestVirtualBox(t *testing.T) {
	cfg := `{"ignition":{"version":"3.4.0"}}`
	env := testEnv(t, "", time.Second)
	r, store := fakeTool(t, ToolVBoxControl, vboxScript)
	env.Runner = r
	ctx := ctxT(t, 20*time.Second)
	if _, err := (virtualbox{}).Fetch(ctx, env); !errors.Is(err, ErrNoConfig) {
		t.Fatalf("unset: %v", err)
	}
	os.WriteFile(filepath.Join(store, "_Ignition_Config"), []byte(cfg), 0o644)
	if b, err := (virtualbox{}).Fetch(ctx, env); err != nil || string(b) != cfg {
		t.Fatalf("set: %q %v", b, err)
	}
	os.WriteFile(filepath.Join(store, "_Ignition_Config_Encoding"), []byte("gzip"), 0o644)
	if _, err := (virtualbox{}).Fetch(ctx, env); err == nil || !strings.Contains(err.Error(), "encoding") {
		t.Fatalf("encoding: %v", err)
	}
	if err := (virtualbox{}).DelConfig(ctx, env); err != nil {
		t.Fatal(err)
	}
	if _, err := (virtualbox{}).Fetch(ctx, env); !errors.Is(err, ErrNoConfig) {
		t.Fatalf("after delete: %v", err)
	}
}

func kvpRec(k, v string) []byte {
	b := make([]byte, kvpRecord)
	copy(b, k)
	copy(b[kvpKeySize:], v)
	return b
}

func TestHyperV(t *testing.T) {
	env := testEnv(t, "", time.Second)
	env.Runner = nopRunner{}
	dir := env.sysPath(kvpPoolDir)
	os.MkdirAll(dir, 0o755)
	pool := append(append(append(kvpRec("other", "x"), kvpRec("ignition.config.1", `"3.4.0"}}`)...),
		kvpRec("ignition.config.0", `{"ignition":{"version":`)...), kvpRec("ignition.config.2x", "no")...)
	os.WriteFile(filepath.Join(dir, ".kvp_pool_0"), pool, 0o600)
	os.WriteFile(filepath.Join(dir, ".kvp_pool_3"), kvpRec("HostName", "host"), 0o600)
	b, files, err := hyperv{}.FetchWithFiles(ctxT(t, 5*time.Second), env)
	if err != nil || string(b) != `{"ignition":{"version":"3.4.0"}}` {
		t.Fatalf("got %q %v", b, err)
	}
	if len(files) != 2 || files[1].Path != "/var/lib/hyperv/.kvp_pool_3" || files[1].Mode != 0o600 {
		t.Fatalf("files %+v", files)
	}
	os.WriteFile(filepath.Join(dir, ".kvp_pool_0"), kvpRec("ignition.config", "{}"), 0o600)
	if b, err := (hyperv{}).Fetch(ctxT(t, 5*time.Second), env); err != nil || string(b) != "{}" {
		t.Fatalf("single key: %q %v", b, err)
	}
	os.WriteFile(filepath.Join(dir, ".kvp_pool_0"), []byte("short"), 0o600)
	if _, err := (hyperv{}).Fetch(ctxT(t, 5*time.Second), env); err == nil {
		t.Fatal("truncated pool file accepted")
	}
}

func TestQemuFwCfg(t *testing.T) {
	env := testEnv(t, "", time.Second)
	env.Runner = nopRunner{}
	byName := env.sysPath("/sys/firmware/qemu_fw_cfg/by_name")
	put := func(key, content string) {
		d := filepath.Join(byName, key)
		os.MkdirAll(d, 0o755)
		os.WriteFile(filepath.Join(d, "raw"), []byte(content), 0o444)
		os.WriteFile(filepath.Join(d, "size"), []byte(itoa(len(content))+"\n"), 0o444)
	}
	if _, err := (qemu{}).Fetch(ctxT(t, 5*time.Second), env); !errors.Is(err, ErrNoConfig) {
		t.Fatalf("no fw_cfg: %v", err)
	}
	put("opt/com.coreos/config", `{"coreos":1}`)
	if b, err := (qemu{}).Fetch(ctxT(t, 5*time.Second), env); err != nil || string(b) != `{"coreos":1}` {
		t.Fatalf("coreos key: %q %v", b, err)
	}
	put("opt/org.flatcar-linux/config", `{"flatcar":1}`)
	if b, err := (qemu{}).Fetch(ctxT(t, 5*time.Second), env); err != nil || string(b) != `{"flatcar":1}` {
		t.Fatalf("flatcar key first: %q %v", b, err)
	}
	os.WriteFile(filepath.Join(byName, "opt/org.flatcar-linux/config/size"), []byte("999\n"), 0o444)
	if _, err := (qemu{}).Fetch(ctxT(t, 5*time.Second), env); err == nil {
		t.Fatal("size mismatch accepted")
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

func TestFilePlatform(t *testing.T) {
	dir := t.TempDir()
	env := testEnv(t, "", time.Second)
	env.WorkDir = dir
	if _, err := (file{}).Fetch(ctxT(t, time.Second), env); err == nil || errors.Is(err, ErrNoConfig) {
		t.Fatalf("missing ./config.ign: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "config.ign"), []byte("{}"), 0o644)
	if b, err := (file{}).Fetch(ctxT(t, time.Second), env); err != nil || string(b) != "{}" {
		t.Fatalf("./config.ign: %q %v", b, err)
	}
	other := filepath.Join(dir, "other.ign")
	os.WriteFile(other, []byte(`{"a":1}`), 0o644)
	env.Getenv = func(k string) string { return map[string]string{"IGNITION_CONFIG_FILE": other}[k] }
	if b, err := (file{}).Fetch(ctxT(t, time.Second), env); err != nil || string(b) != `{"a":1}` {
		t.Fatalf("IGNITION_CONFIG_FILE: %q %v", b, err)
	}
}

func TestNvidiaBlueField(t *testing.T) {
	env := testEnv(t, "", time.Second)
	env.Runner = nopRunner{}
	d := env.sysPath("/sys/bus/platform/devices/MLNXBF04:00")
	os.MkdirAll(d, 0o755)
	os.WriteFile(filepath.Join(d, "bootfifo"), []byte("{\x00}\x00\x00"), 0o444)
	b, err := nvidiabluefield{}.Fetch(ctxT(t, time.Second), env)
	if err != nil || string(b) != "{}" {
		t.Fatalf("%q %v", b, err)
	}
}

// nopRunner runs nothing and succeeds.
type nopRunner struct{}

func (nopRunner) Run(context.Context, system.Cmd) (system.Result, error) { return system.Result{}, nil }
