package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A Flatcar 2.3 config's networkd drop-ins land through `flint apply` as
// files /etc/systemd/network/<unit>.d/<name>, mode 0644 (issue 14 item 4);
// one with a bad drop-in extension is refused with its path before anything
// is written.
func TestApplyLegacyNetworkdDropins(t *testing.T) {
	d := runEnv(t, "")
	root := filepath.Join(d, "root")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := `{"ignition":{"version":"2.3.0"},
 "networkd":{"units":[
  {"name":"00-eth0.network","contents":"[Match]\nName=eth0\n\n[Network]\nDHCP=yes\n",
   "dropins":[{"name":"10-dns.conf","contents":"[Network]\nDNS=192.0.2.53\n"}]},
  {"name":"zz-default.network","dropins":[{"name":"50-mtu.conf","contents":"[Link]\nMTUBytes=1400\n"}]}]}}`
	p := filepath.Join(d, "config.ign")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, e, code := flint(t, "apply", "--root", root, p); code != 0 {
		t.Fatalf("apply: exit %d\n%s", code, e)
	}
	for path, want := range map[string]string{
		"etc/systemd/network/00-eth0.network":                  "[Match]\nName=eth0\n\n[Network]\nDHCP=yes\n",
		"etc/systemd/network/00-eth0.network.d/10-dns.conf":    "[Network]\nDNS=192.0.2.53\n",
		"etc/systemd/network/zz-default.network.d/50-mtu.conf": "[Link]\nMTUBytes=1400\n",
	} {
		full := filepath.Join(root, path)
		b, err := os.ReadFile(full)
		if err != nil || string(b) != want {
			t.Errorf("%s: %q (%v), want %q", path, b, err, want)
			continue
		}
		if st, err := os.Stat(full); err != nil || st.Mode().Perm() != 0o644 {
			t.Errorf("%s: mode %v (%v), want 0644", path, st.Mode(), err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "etc/systemd/network/zz-default.network")); !os.IsNotExist(err) {
		t.Errorf("a unit without contents was written (%v)", err)
	}

	bad := strings.Replace(cfg, "10-dns.conf", "10-dns.network", 1)
	root2 := filepath.Join(d, "root2")
	if err := os.MkdirAll(root2, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	_, e, code := flint(t, "apply", "--root", root2, p)
	if code != ExitFailure || !strings.Contains(e, "$.networkd.units.0.dropins.0.name") || !strings.Contains(e, "invalid networkd drop-in extension") {
		t.Fatalf("bad extension: exit %d\n%s", code, e)
	}
	if ents, _ := os.ReadDir(root2); len(ents) != 0 {
		t.Errorf("refused config wrote into the root: %v", ents)
	}
	// validate refuses it first, with the line
	out, code := runValidateArgs(t, bad, "-")
	if code != ExitFailure || !strings.Contains(out, "error at $.networkd.units.0.dropins.0.name, line 4 col 23: invalid networkd drop-in extension") {
		t.Fatalf("validate: exit %d\n%s", code, out)
	}
}
