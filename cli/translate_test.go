package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flintboot/flint/config"
)

func runTranslateArgs(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := Run(context.Background(), append([]string{"flint", "translate"}, args...), strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), err
}

const cliLegacy22 = `{"ignition":{"version":"2.2.0"},
 "storage":{"files":[{"filesystem":"root","path":"/etc/hostname","mode":420,"contents":{"source":"data:,node1"}}]},
 "networkd":{"units":[{"name":"10-eth0.network","contents":"[Match]\nName=eth0\n\n[Network]\nDHCP=yes"}]},
 "systemd":{"units":[{"name":"hello.service","enable":true,"contents":"[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target"}]},
 "passwd":{"users":[{"name":"core","sshAuthorizedKeys":["ssh-ed25519 AAAA user@example.com"]}]}}`

func TestTranslateFileToNewestStable(t *testing.T) {
	p := filepath.Join(t.TempDir(), "config.ign")
	if err := os.WriteFile(p, []byte(cliLegacy22), 0o644); err != nil {
		t.Fatal(err)
	}
	out, stderr, err := runTranslateArgs(t, "", p)
	if err != nil {
		t.Fatalf("translate: %v\n%s", err, stderr)
	}
	cfg, r, err := config.Parse([]byte(out))
	if err != nil || r.IsFatal() {
		t.Fatalf("output does not validate: %v\n%v\n%s", err, r, out)
	}
	if v := declared(t, out); v != config.MaxStable.String() {
		t.Errorf("version %q, want %s", v, config.MaxStable)
	}
	paths := map[string]bool{}
	for _, f := range cfg.Storage.Files {
		paths[f.Path] = true
	}
	if !paths["/etc/hostname"] || !paths["/etc/systemd/network/10-eth0.network"] {
		t.Errorf("files %v", paths)
	}
	if len(cfg.Systemd.Units) != 1 || cfg.Systemd.Units[0].Enabled == nil || !*cfg.Systemd.Units[0].Enabled {
		t.Errorf("units %+v", cfg.Systemd.Units)
	}
	if len(cfg.Passwd.Users) != 1 || cfg.Passwd.Users[0].Name != "core" {
		t.Errorf("users %+v", cfg.Passwd.Users)
	}
}

func TestTranslateStdinToChosenVersion(t *testing.T) {
	out, stderr, err := runTranslateArgs(t, cliLegacy22, "--to", "3.1.0", "-")
	if err != nil {
		t.Fatalf("translate: %v\n%s", err, stderr)
	}
	if _, r, err := config.Parse([]byte(out)); err != nil || r.IsFatal() || declared(t, out) != "3.1.0" {
		t.Fatalf("version %q: %v\n%v", declared(t, out), err, r)
	}
	// a 3.x config is lifted to a newer 3.x version
	out, stderr, err = runTranslateArgs(t, `{"ignition":{"version":"3.0.0"},"storage":{"files":[{"path":"/a","contents":{"source":"data:,a"}}]}}`, "-")
	if err != nil {
		t.Fatalf("3.0 → newest: %v\n%s", err, stderr)
	}
	if !strings.Contains(out, `"version": "`+config.MaxStable.String()+`"`) {
		t.Errorf("3.0 → newest printed:\n%s", out)
	}
}

func TestTranslateRefusals(t *testing.T) {
	cases := []struct {
		name, in string
		args     []string
		stderr   []string
	}{
		{"translation check", `{"ignition":{"version":"2.2.0"},"systemd":{"units":[{"name":"a.service"},{"name":"a.service"}]}}`, nil,
			[]string{"$.systemd.units.1.name", `duplicate unit name "a.service"`}},
		{"2.x rule", `{"ignition":{"version":"2.2.0"},"storage":{"files":[{"filesystem":"root","path":"rel","mode":420}]}}`, nil,
			[]string{"$.storage.files.0.path", "path not absolute"}},
		{"down translation", `{"ignition":{"version":"3.4.0"},"storage":{"luks":[{"name":"x","device":"/dev/sdb","discard":true}]}}`, []string{"--to", "3.3.0"},
			[]string{"$.ignition.version", "cannot translate down"}},
		{"2.x below the 3.1 it translates to", `{"ignition":{"version":"2.4.0","proxy":{"httpProxy":"http://proxy.example.com:3128"}}}`, []string{"--to", "3.0.0"},
			[]string{"$.ignition.version", "cannot translate down from spec 3.1.0"}},
		{"unsupported version", `{"ignition":{"version":"2.3.0-experimental"}}`, nil, []string{"unsupported config version"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, stderr, err := runTranslateArgs(t, c.in, append(c.args, "-")...)
			if ExitCode(err) != ExitFailure {
				t.Fatalf("exit %d (%v), want %d; stdout %q", ExitCode(err), err, ExitFailure, out)
			}
			if out != "" {
				t.Errorf("printed a config although refused:\n%s", out)
			}
			for _, s := range c.stderr {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr)
				}
			}
		})
	}
}

func TestTranslateUsageAndInputErrors(t *testing.T) {
	for _, args := range [][]string{{}, {"a", "b"}, {"--nosuchflag", "-"}} {
		if _, _, err := runTranslateArgs(t, "", args...); ExitCode(err) != ExitUsage {
			t.Errorf("%v: exit %d (%v), want usage error", args, ExitCode(err), err)
		}
	}
	if _, _, err := runTranslateArgs(t, "", filepath.Join(t.TempDir(), "missing.ign")); ExitCode(err) != ExitFailure {
		t.Errorf("missing file: %v", err)
	}
	if _, _, err := runTranslateArgs(t, cliLegacy22, "--to", "9.9.9", "-"); ExitCode(err) != ExitFailure {
		t.Errorf("unknown target: %v", err)
	}
}

// declared is the version a printed config declares (config.Parse lifts
// its result to the newest shape).
func declared(t *testing.T, out string) string {
	t.Helper()
	var v struct {
		Ignition struct{ Version string }
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	return v.Ignition.Version
}
