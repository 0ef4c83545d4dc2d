package providers

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/compute/metadata"

	"github.com/flintboot/flint/log"
	"github.com/flintboot/flint/system"
)

// Canaries through the providers that touch secrets: none reaches an
// error, the log (at debug) or a child's argv.

const canary = "PROVIDER-CANARY-3e9b7d"

func TestParseErrorsQuoteNoDocument(t *testing.T) {
	// encoding/xml quotes bad entities ("invalid character entity &…;")
	bad := []byte(`<Environment><PropertySection><Property key="guestinfo.x" value="&` + canary + `;"/></PropertySection></Environment>`)
	if _, err := ParseOVFProperties(bad); err == nil || strings.Contains(err.Error(), canary) {
		t.Errorf("OVF: %v", err)
	}
	if _, err := ParseAzureOVF(bad); err == nil || strings.Contains(err.Error(), canary) {
		t.Errorf("azure: %v", err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/computeMetadata/v1/instance/service-accounts/default/scopes":
			w.Write([]byte("https://www.googleapis.com/auth/cloud-platform\n"))
		case "/computeMetadata/v1/instance/service-accounts/default/token":
			w.Write([]byte(`{"access_token":"` + canary + `",`)) // cut short
		}
	}))
	defer srv.Close()
	env := testEnv(t, srv.URL, 5*time.Second)
	c := metadata.NewWithOptions(&metadata.Options{Client: sdkHTTPClient(env)})
	if _, err := GCPToken(ctxT(t, 10*time.Second), c); err == nil || strings.Contains(err.Error(), canary) {
		t.Errorf("gcp token: %v", err)
	}
}

// TestVMwareFetchKeepsDataOutOfLogsAndArgv: the config in guestinfo and
// in the OVF environment, read through vmware-rpctool with a debug log:
// only keys travel in argv, no value reaches the log.
func TestVMwareFetchKeepsDataOutOfLogsAndArgv(t *testing.T) {
	cfg := `{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"/x","contents":{"source":"data:,` + canary + `"}}]}}`
	ovf := `<Environment xmlns="http://schemas.dmtf.org/ovf/environment/1" xmlns:oe="http://schemas.dmtf.org/ovf/environment/1">
<PropertySection><Property oe:key="guestinfo.ignition.config.url" oe:value="` + dataURL(cfg) + `"/>
<Property oe:key="db.password" oe:value="` + canary + `"/></PropertySection></Environment>`
	env, _ := vmwareEnv(t, nil)
	var logBuf bytes.Buffer
	env.Log = log.New(&logBuf)
	dir := t.TempDir()
	store := filepath.Join(dir, "store")
	os.Mkdir(store, 0o755)
	os.WriteFile(filepath.Join(store, "ovfenv"), []byte(ovf), 0o644)
	recorder := strings.Replace(rpctoolScript, "d=$(dirname \"$0\")/store\n",
		"d=$(dirname \"$0\")/store\nprintf '%s\\n' \"$*\" >> \"$d/../argv.log\"\n", 1)
	tool := filepath.Join(dir, ToolVMwareRpctool)
	os.WriteFile(tool, []byte(recorder), 0o755)
	env.Runner = system.NewRunner(env.Log, Tools(system.DefaultTools()).With(ToolVMwareRpctool, tool))
	b, err := vmware{}.Fetch(ctxT(t, 20*time.Second), env)
	if err != nil || string(b) != cfg {
		t.Fatalf("%q %v", b, err)
	}
	argv, _ := os.ReadFile(filepath.Join(dir, "argv.log"))
	if !strings.Contains(string(argv), "info-get guestinfo.ovfenv") {
		t.Fatalf("argv log: %q", argv)
	}
	if strings.Contains(string(argv), canary) || strings.Contains(logBuf.String(), canary) {
		t.Errorf("canary in argv or log:\n%s\n%s", argv, logBuf.String())
	}
	if !strings.Contains(logBuf.String(), "running: vmware-rpctool") {
		t.Errorf("the debug log does not show the runs:\n%s", logBuf.String())
	}
}
