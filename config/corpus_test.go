package config

import (
	"bufio"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/coreos/vcontext/report"
)

// TestCorpus runs flint on public real-world configs (anonymised and
// shortened) and on mutations of them. testdata/corpus/expect.txt gives,
// per file, the reference's verdict (valid/invalid) and the set of JSON
// paths of its error entries, derived from the reference's validation
// code (the vendored coreos/ignition/v2 config packages).
// differs lists the corpus configs the reference's validator accepts and
// flint refuses on purpose (docs/validation.md), with flint's error paths.
var differs = map[string][]string{
	// an empty CA bundle fails when the fetcher adds it, in the reference too
	"mut-ca-empty-source-3.0.ign": {"$.ignition.security.tls.certificateAuthorities.0.source"},
	// refused by the reference's run time, which validates the translated
	// config under the newest rules (RuntimeRuleNote)
	"mut-merge-no-source-3.0.ign":      {"$.ignition.config.merge.0"},
	"mut-link-no-target-3.2.ign":       {"$.storage.links.0.target"},
	"mut-luks-custom-needsnet-3.2.ign": {"$.storage.luks.0.clevis.custom.config", "$.storage.luks.0.clevis.custom.pin"},
}

func TestCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "corpus")
	f, err := os.Open(filepath.Join(dir, "expect.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 2 || (fields[1] != "valid" && fields[1] != "invalid") {
			t.Fatalf("bad expect line %q", line)
		}
		name, wantValid, wantPaths := fields[0], fields[1] == "valid", fields[2:]
		if d, ok := differs[name]; ok {
			// a deliberate difference (docs/validation.md): flint refuses
			// what applying could never do
			wantValid, wantPaths = false, d
		}
		seen[name] = true
		n++
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			_, r, perr := Parse(raw)
			checkNoLegacyRule(t, r)
			valid := perr == nil && !r.IsFatal()
			paths := map[string]bool{}
			for _, e := range r.Entries {
				if e.Kind == report.Error {
					paths[e.Context.String()] = true
				}
			}
			got := []string{}
			for p := range paths {
				got = append(got, p)
			}
			sort.Strings(got)
			want := append([]string{}, wantPaths...)
			sort.Strings(want)
			if valid != wantValid || strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("valid=%v (err %v) paths %v; want valid=%v paths %v\nreport:\n%s", valid, perr, got, wantValid, want, r.String())
			}
		})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".ign") && !seen[e.Name()] {
			t.Errorf("%s has no line in expect.txt", e.Name())
		}
	}
	if n < 100 {
		t.Errorf("corpus has %d configs, want at least 100", n)
	}
}
