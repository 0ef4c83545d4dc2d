package config

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/golden")

// TestGolden parses one config per spec version (testdata/golden/<v>.json)
// and compares the rendered report with <v>.txt. Regenerate with
// `go test ./config -run TestGolden -update` and review the diff.
func TestGolden(t *testing.T) {
	for _, v := range Versions {
		name := v.Version.String()
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", "golden", name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			_, r, perr := Parse(raw)
			var b strings.Builder
			for _, e := range r.Entries {
				b.WriteString(e.String() + "\n")
			}
			if perr != nil {
				b.WriteString("error: " + perr.Error() + "\n")
			}
			want := filepath.Join("testdata", "golden", name+".txt")
			if *update {
				if err := os.WriteFile(want, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			exp, err := os.ReadFile(want)
			if err != nil {
				t.Fatal(err)
			}
			if string(exp) != b.String() {
				t.Fatalf("report differs from %s:\ngot:\n%s\nwant:\n%s", want, b.String(), exp)
			}
		})
	}
}

func TestParseVersions(t *testing.T) {
	cases := map[string]error{
		``:                                   ErrEmpty,
		`{}`:                                 ErrInvalidVersion,
		`{"ignition":{"version":null}}`:      ErrInvalidVersion,
		`{"ignition":{"version":"3.0"}}`:     ErrInvalidVersion,
		`{"ignition":{"version":"v3.0.0"}}`:  ErrInvalidVersion,
		`{"ignition":{"version":"3.0.0+m"}}`: ErrUnknownVersion,
		`{"ignition":{"version":"3.6.0-experimental"}}`:                                   ErrUnknownVersion,
		`{"ignition":{"version":"3.8.0"}}`:                                                ErrUnknownVersion,
		`{"ignition":{"version":"2.2.0"}}`:                                                ErrUnknownVersion,
		`{"ignition":{"version":3}}`:                                                      ErrInvalid,
		`{"ignition":{"version":"3.0.0"},}`:                                               ErrInvalid,
		`{"ignition":{"version":"3.0.0"},"storage":{"files":[{"path":"/a","mode":1.0}]}}`: ErrInvalid,
		`{"ignition":{"version":"3.0.0"},"storage":{"files":[{"path":"/a","mode":1e3}]}}`: ErrInvalid,
		`{"ignition":{"version":"3.0.0"},"storage":null,"passwd":{"users":null}}`:         nil,
		`{"ignition":{"version":"3.0.0"},"Storage":{}}`:                                   nil,
	}
	for in, want := range cases {
		_, _, err := Parse([]byte(in))
		if err != want {
			t.Errorf("Parse(%s) = %v, want %v", in, err, want)
		}
	}
}

func TestDuplicateKeysLastWins(t *testing.T) {
	cfg, _, err := Parse([]byte(`{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"/a"}]},"storage":{"directories":[{"path":"/d"}]},"passwd":{"users":[{"name":"a","name":"b"}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Storage.Files) != 1 || len(cfg.Storage.Directories) != 1 || cfg.Passwd.Users[0].Name != "b" {
		t.Fatalf("unexpected decode: %+v", cfg)
	}
}

func TestModeMaskedBefore36(t *testing.T) {
	cfg, r, err := Parse([]byte(`{"ignition":{"version":"3.5.0"},"storage":{"files":[{"path":"/a","mode":3565}]}}`))
	if err != nil || *cfg.Storage.Files[0].Mode != 0755 || len(r.Entries) != 1 {
		t.Fatalf("mode %o, report %v, err %v", *cfg.Storage.Files[0].Mode, r, err)
	}
}

func TestRoundTrip(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "roundtrip.json"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, r0, err := Parse(raw)
	if err != nil || len(r0.Entries) != 0 {
		t.Fatalf("%v\n%s", err, r0)
	}
	out, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg2, r, err := Parse(out)
	if err != nil {
		t.Fatalf("%v\n%s", err, r)
	}
	if !reflect.DeepEqual(cfg, cfg2) {
		t.Fatalf("round trip changed the config:\n%s", out)
	}
}

func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "golden", "*.json"))
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"ignition":{"version":"3.3.0"},"kernelArguments":{"shouldExist":["a"]}}`))
	f.Add([]byte(`{"ignition":{"version":"3.0.0"},"storage":{"disks":[{"device":"/dev/a","partitions":[{"number":1,"startMiB":1,"sizeMiB":0}]}]}}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		cfg, r, err := Parse(raw)
		if err == nil {
			_ = Validate(cfg)
			_ = Merge(cfg, cfg)
		}
		_ = r.String()
	})
}
