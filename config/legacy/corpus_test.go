package legacy

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/coreos/vcontext/report"
	"github.com/flintboot/flint/config"
)

// corpusCase is the verdict Flatcar gives a real public config (see
// testdata/corpus/README.md for where each came from) and, for accepted
// ones, the files, units and users it provisions.
type corpusCase struct {
	accept bool
	why    string // for rejected ones: a substring of an error entry
	files  []string
	units  []string
	users  []string
}

var corpus = map[string]corpusCase{
	"ign-doc-2.0-start-service.json":      {accept: true, units: []string{"example.service"}},
	"ign-doc-2.0-dropin.json":             {accept: true, units: []string{"systemd-networkd.service"}},
	"ign-doc-2.0-btrfs-root.json":         {accept: true},
	"ign-doc-2.0-xfs-root.json":           {accept: true},
	"ign-doc-2.0-early-fs-keys.json":      {why: "filesystem is missing mount or path"},
	"ign-doc-2.0-file-root.json":          {accept: true, files: []string{"/foo/bar"}},
	"ign-doc-2.0-root-fs-path.json":       {why: "pre-mounted path"},
	"ign-doc-2.0-remote-contents.json":    {accept: true, files: []string{"/foo/bar"}},
	"ign-doc-2.0-raid-data.json":          {why: "size is deprecated"},
	"ign-doc-2.0-replace.json":            {accept: true},
	"ign-doc-2.0-hostname.json":           {accept: true, files: []string{"/etc/hostname"}},
	"ign-doc-2.1-start-service.json":      {accept: true, units: []string{"example.service"}},
	"coreos-doc-spec1-start-service.json": {accept: true, units: []string{"example.service"}},
	"coreos-doc-spec1-btrfs-root.json":    {accept: true},
	"terraform-azure-agent-2.0.json": {accept: true, files: []string{"/etc/profile.env", "/etc/sysctl.d/sysctl.conf", "/etc/hosts"},
		units: []string{"update-engine.service", "locksmithd.service"}},
	"terraform-azure-master-2.0.json": {accept: true, files: []string{"/etc/profile.env", "/etc/hosts"},
		units: []string{"etcd-member.service", "update-engine.service", "locksmithd.service"}},
	"matchbox-docker-disk-2.0.json": {why: "start is deprecated"},
	"jsonnet-dev-vm-2.0.json":       {why: "pre-mounted path"},
	"ct-output-2.2-core-key.json":   {accept: true, users: []string{"core"}},
}

func TestCorpusVerdicts(t *testing.T) {
	paths, err := filepath.Glob("testdata/corpus/*.json")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no corpus: %v", err)
	}
	seen := map[string]bool{}
	for _, p := range paths {
		name := filepath.Base(p)
		seen[name] = true
		c, ok := corpus[name]
		if !ok {
			t.Errorf("%s has no expected verdict in corpus_test.go", name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			res, err := ParseAnyResult(raw)
			if !c.accept {
				if err == nil {
					t.Fatalf("accepted; Flatcar rejects it (%s)\n%v", c.why, res.Report)
				}
				if !hasEntry(res.Report, report.Error, "", c.why) {
					t.Fatalf("rejected, but not for %q:\n%v", c.why, res.Report)
				}
				return
			}
			if err != nil || res.Report.IsFatal() {
				t.Fatalf("rejected; Flatcar accepts it: %v\n%v", err, res.Report)
			}
			// the translation, as printed by flint translate, validates
			// under the 3.x rules with no error
			for _, target := range []string{TranslatedVersion, config.MaxStable.String()} {
				out, r, err := Render(res, target)
				if err != nil {
					t.Fatalf("render %s: %v\n%v", target, err, r)
				}
				_, br, err := config.Parse(out)
				if err != nil || br.IsFatal() {
					t.Fatalf("translation to %s invalid: %v\n%v\n%s", target, err, br, out)
				}
			}
			cfg := res.Config
			var files, units, users []string
			for _, f := range cfg.Storage.Files {
				files = append(files, f.Path)
			}
			for _, u := range cfg.Systemd.Units {
				units = append(units, u.Name)
			}
			for _, u := range cfg.Passwd.Users {
				users = append(users, u.Name)
			}
			same(t, "files", files, c.files)
			same(t, "units", units, c.units)
			same(t, "users", users, c.users)
		})
	}
	for name := range corpus {
		if !seen[name] {
			t.Errorf("expected corpus file %s is missing", name)
		}
	}
}

func same(t *testing.T, what string, got, want []string) {
	t.Helper()
	g, w := append([]string{}, got...), append([]string{}, want...)
	slices.Sort(g)
	slices.Sort(w)
	if !slices.Equal(g, w) {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}
