package files

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flintboot/flint/config"
	"github.com/flintboot/flint/stages"
	"github.com/flintboot/flint/system"
)

// The files stage persists what the disks stage left for LUKS volumes:
// the crypttab line, the key file (0600) and, for cex volumes, the zkey
// repository files (0600).
func TestPersistLuks(t *testing.T) {
	root, run := t.TempDir(), t.TempDir()
	key := filepath.Join(run, "key")
	os.WriteFile(key, []byte("secret key"), 0o600)
	skey := filepath.Join(run, "ignition-luks-c.skey")
	os.WriteFile(skey, []byte("secure key"), 0o600)
	yes := true
	cfg := config.Config{Storage: config.Storage{Luks: []config.Luks{
		{Name: "k", Device: ptr("/dev/vdb")}, {Name: "c", Device: ptr("/dev/vdc"), Cex: config.Cex{Enabled: &yes}}}}}
	paths := system.DefaultPaths()
	c := &stages.Context{Root: root, Config: cfg, Paths: paths, State: &stages.State{
		LuksUUIDs:        map[string]string{"k": "u-k", "c": "u-c"},
		LuksKeyFiles:     map[string]string{"k": key},
		LuksCexRepoFiles: map[string]string{"ignition-luks-c.skey": skey},
	}}
	p, err := New().Plan(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Apply(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	for rel, want := range map[string]string{"etc/luks/k": "secret key", "etc/zkey/repository/ignition-luks-c.skey": "secure key"} {
		fi, err := os.Stat(filepath.Join(root, rel))
		b, _ := os.ReadFile(filepath.Join(root, rel))
		if err != nil || fi.Mode().Perm() != 0o600 || string(b) != want {
			t.Errorf("%s: %v %v %q", rel, fi, err, b)
		}
	}
	ct, _ := os.ReadFile(filepath.Join(root, "etc/crypttab"))
	if !strings.Contains(string(ct), "k UUID=u-k /etc/luks/k luks") || !strings.Contains(string(ct), "c UUID=u-c none luks") {
		t.Errorf("crypttab:\n%s", ct)
	}
}
func ptr[T any](v T) *T { return &v }
