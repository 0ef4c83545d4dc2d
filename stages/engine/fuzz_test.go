package engine

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flintboot/flint/config"
	"github.com/flintboot/flint/config/legacy"
	"github.com/flintboot/flint/resource"
	"github.com/flintboot/flint/system"
)

// Validate is the gate: for any config, `flint apply` to a scratch root
// may fail for a reason about the machine (a user the root lacks, a
// resource that needs the network while offline, a section that needs
// devices), but never for a reason the config alone decides unless
// `flint validate` refused the config first. These fuzz targets run apply
// for real (as root, in a temporary root with a small base system) and
// fail on every config-inherent apply failure of a config validate
// accepted. make test-fuzz runs them briefly.

// machineReason reports whether an apply error is about the machine.
func machineReason(err error) bool {
	for _, target := range []error{
		resource.ErrNeedNet,    // offline: the scratch root has no network
		system.ErrNotFound,     // a user or group the scratch root lacks
		system.ErrToolNotFound, // a tool this host lacks
	} {
		if errors.Is(err, target) {
			return true
		}
	}
	// entries that need something present in the root the scratch root
	// does not have (a hard link target), or that find the scratch root's
	// own base files in the way (overwrite false)
	for _, s := range []string{"hard link target", "does not exist", "exists there and overwrite is false", "exists there already and overwrite is false"} {
		if strings.Contains(err.Error(), s) {
			return true
		}
	}
	return false
}

// scratchRoot is a temporary root with the files a real root has for
// accounts (passwd, group, shadow, gshadow, login.defs).
func scratchRoot(t testing.TB) string {
	root := t.TempDir()
	etc := filepath.Join(root, "etc")
	os.MkdirAll(etc, 0o755)
	for name, body := range map[string]string{
		"passwd":     "root:x:0:0:root:/root:/bin/sh\ncore:x:500:500:core:/home/core:/bin/sh\n",
		"group":      "root:x:0:\nwheel:x:10:core\ncore:x:500:\n",
		"shadow":     "root:*:19000:0:99999:7:::\ncore:*:19000:0:99999:7:::\n",
		"gshadow":    "root:*::\nwheel:*::core\ncore:!::\n",
		"login.defs": "UID_MIN 1000\nUID_MAX 60000\nGID_MIN 1000\nGID_MAX 60000\n",
	} {
		mode := os.FileMode(0o644)
		if strings.Contains(name, "shadow") {
			mode = 0o600
		}
		os.WriteFile(filepath.Join(etc, name), []byte(body), mode)
	}
	return root
}

func checkGate(t *testing.T, raw []byte) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root (apply changes owners); make test-fuzz runs as root")
	}
	valid := !config.IsBlank(raw)
	if valid {
		_, rpt, err := legacy.ParseAny(raw)
		valid = err == nil && !rpt.IsFatal()
	}
	root := scratchRoot(t)
	run := t.TempDir()
	paths := system.DefaultPaths()
	paths.RunDir, paths.LuksKeyDir = run, filepath.Join(run, "luks")
	paths.BootIDFile = filepath.Join(run, "boot_id")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := Apply(ctx, Options{Root: root, Raw: raw, Source: "fuzz.ign", Offline: true, IgnoreUnsupported: true, Paths: paths,
		Fetch: resource.Options{TotalTimeout: time.Second}})
	switch {
	case !valid && err == nil:
		t.Fatalf("validate refused the config but apply succeeded:\n%s", raw)
	case valid && err != nil && !machineReason(err):
		t.Fatalf("validate accepted the config but apply failed for a reason of the config's own: %v\n%s", err, raw)
	}
}

func corpusSeeds(f *testing.F) {
	for _, glob := range []string{"../../config/testdata/corpus/*.ign", "../../examples/*.ign"} {
		files, _ := filepath.Glob(glob)
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
}

// FuzzApplyAfterValidate mutates whole configs.
func FuzzApplyAfterValidate(f *testing.F) {
	corpusSeeds(f)
	f.Fuzz(func(t *testing.T, raw []byte) { checkGate(t, raw) })
}

// FuzzApplyFields builds configs from fuzzed values in the places apply
// is most particular about: paths, names, owners, modes, units, hashes,
// headers and ids.
func FuzzApplyFields(f *testing.F) {
	f.Add("/etc/x", "alice", "wheel", "x.service", "x.conf", "$6$salt$hash", "X-Token", "v", 420, int64(1000), "data:,hi")
	f.Add("/var/lib/a/../b", "-bad", "", "a/b.service", "../x.conf", "a:b", "Bad Header", "a\nb", 4095, int64(-5), "http://h:99999/")
	f.Add("/opt/"+strings.Repeat("n", 300), "", "root", "x\x00.service", "", "\n", "", "", -1, int64(4294968296), "data:;base64,@@")
	f.Fuzz(func(t *testing.T, path, user, group, unit, dropin, hash, hname, hval string, mode int, id int64, src string) {
		cfg := map[string]any{
			"ignition": map[string]any{"version": "3.4.0"},
			"storage": map[string]any{
				"files": []any{map[string]any{"path": path, "mode": mode, "overwrite": true,
					"contents": map[string]any{"source": src, "httpHeaders": []any{map[string]any{"name": hname, "value": hval}}},
					"user":     map[string]any{"id": id}}},
				"directories": []any{map[string]any{"path": path + "/d", "user": map[string]any{"name": user}}},
				"links":       []any{map[string]any{"path": path + ".lnk", "target": path, "group": map[string]any{"name": group}}},
			},
			"systemd": map[string]any{"units": []any{map[string]any{"name": unit, "enabled": true,
				"contents": "[Unit]\n[Install]\nWantedBy=multi-user.target\n",
				"dropins":  []any{map[string]any{"name": dropin, "contents": "[Service]\n"}}}}},
			"passwd": map[string]any{
				"users":  []any{map[string]any{"name": user, "uid": id, "passwordHash": hash, "groups": []any{group}}},
				"groups": []any{map[string]any{"name": group, "gid": id}},
			},
		}
		raw, err := json.Marshal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		checkGate(t, raw)
	})
}
