package providers

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/flintboot/flint/system"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden compares got (marshalled as indented JSON) with testdata/<name>;
// -update rewrites the file. Review every rewritten golden file by hand.
func golden(t *testing.T, name string, got any) {
	t.Helper()
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	goldenBytes(t, name, b)
}

func goldenBytes(t *testing.T, name string, b []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(want) != string(b) {
		t.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", p, b, want)
	}
}

// inputs lists testdata/<dir> files (not golden outputs), sorted.
func inputs(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join("testdata", dir))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() || strings.HasSuffix(e.Name(), ".golden.json") || strings.Contains(e.Name(), ".golden.") {
			continue
		}
		out = append(out, e.Name())
	}
	sort.Strings(out)
	if len(out) == 0 {
		t.Fatalf("no inputs in testdata/%s", dir)
	}
	return out
}

func readTD(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", p))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestGoldenCmdline(t *testing.T) {
	got := map[string]CmdlineConfig{}
	for _, f := range inputs(t, "cmdline") {
		got[f] = ParseCmdline(string(readTD(t, "cmdline/"+f)))
	}
	golden(t, "cmdline/cmdline.golden.json", got)
}

func TestGoldenVMwareDecode(t *testing.T) {
	type result struct {
		Encoding string
		Output   string `json:",omitempty"`
		Error    string `json:",omitempty"`
	}
	got := map[string]result{}
	for _, f := range inputs(t, "vmware") {
		enc := f[strings.IndexByte(f, '.')+1:]
		if enc == "none" {
			enc = ""
		}
		out, err := DecodeVMware(string(readTD(t, "vmware/"+f)), enc)
		got[f] = result{Encoding: enc, Output: string(out), Error: errString(err)}
	}
	golden(t, "vmware/decode.golden.json", got)
}

func TestGoldenOVF(t *testing.T) {
	type result struct {
		Properties map[string]string `json:",omitempty"`
		Azure      *AzureOVF         `json:",omitempty"`
		Error      string            `json:",omitempty"`
		AzureError string            `json:",omitempty"`
	}
	got := map[string]result{}
	for _, f := range inputs(t, "ovf") {
		doc := readTD(t, "ovf/"+f)
		var r result
		props, err := ParseOVFProperties(doc)
		r.Properties, r.Error = props, errString(err)
		az, err := ParseAzureOVF(doc)
		if err == nil {
			r.Azure = &az
		}
		r.AzureError = errString(err)
		got[f] = r
	}
	golden(t, "ovf/ovf.golden.json", got)
	goldenBytes(t, "ovf/vmware-ovfenv.golden.pruned.xml", []byte(PruneOVFConfig(string(readTD(t, "ovf/vmware-ovfenv.xml")))))
}

func TestGoldenCloudConfigDetection(t *testing.T) {
	got := map[string]bool{}
	for _, f := range inputs(t, "userdata") {
		got[f] = IsCloudConfig(readTD(t, "userdata/"+f))
	}
	golden(t, "userdata/detect.golden.json", got)
}

func TestGoldenVmurList(t *testing.T) {
	got := map[string]string{}
	for _, f := range inputs(t, "zvm") {
		got[f] = ParseVmurList(string(readTD(t, "zvm/"+f)))
	}
	golden(t, "zvm/spoolid.golden.json", got)
}

func TestGoldenVBoxControl(t *testing.T) {
	type result struct {
		Value string
		Set   bool
	}
	got := map[string]result{}
	for _, f := range inputs(t, "vbox") {
		v, ok := ParseVBoxControlGet(string(readTD(t, "vbox/"+f)))
		got[f] = result{v, ok}
	}
	golden(t, "vbox/get.golden.json", got)
}

func TestGoldenEndpoints(t *testing.T) {
	servers, err := CloudstackServers(filepath.Join("testdata", "leases"))
	if err != nil {
		t.Fatal(err)
	}
	var cs []string
	for _, s := range append(servers, "fd00::1") {
		cs = append(cs, CloudstackUserDataURL(s))
	}
	ev, err := PacketEventsURL("https://tinkerbell.ewr1.packet.net/phone-home")
	if err != nil {
		t.Fatal(err)
	}
	_, evErr := PacketEventsURL("not a url")
	got := map[string]any{
		"openstack":        OpenstackMetadataURLs([]string{"eth0", "ens3"}),
		"cloudstack":       cs,
		"packet events":    ev,
		"packet bad":       errString(evErr),
		"rebase azure":     rebase("http://127.0.0.1:8080", azureUserDataURL),
		"rebase packet":    rebase("http://127.0.0.1:8080", packetBase+"/userdata"),
		"rebase with path": rebase("http://127.0.0.1:8080/prefix/", "http://169.254.169.254/1.0/user-data"),
		"rebase ipv6 zone": rebase("http://127.0.0.1:9", OpenstackMetadataURLs([]string{"eth0"})[1]),
		"fw_cfg keys":      fwCfgKeys(),
		"system dirs":      system.DefaultPaths().ConfigDirs(),
	}
	golden(t, "endpoints.golden.json", got)
}
