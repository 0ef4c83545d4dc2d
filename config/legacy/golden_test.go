package legacy

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden translations in testdata/golden")

// TestGoldenTranslations renders each testdata/golden/<name>.json as
// `flint translate` would (at TranslatedVersion, the spec Flatcar's
// translation produces) and compares it with <name>.out.json, reviewed by
// hand against Flatcar's translation (ign-converter v24tov31). Regenerate
// with `go test ./config/legacy -run TestGoldenTranslations -update`.
func TestGoldenTranslations(t *testing.T) {
	ins, _ := filepath.Glob(filepath.Join("testdata", "golden", "*.json"))
	n := 0
	for _, in := range ins {
		if strings.HasSuffix(in, ".out.json") {
			continue
		}
		n++
		t.Run(filepath.Base(in), func(t *testing.T) {
			raw, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			res, err := ParseAnyResult(raw)
			if err != nil {
				t.Fatalf("%v\n%v", err, res.Report)
			}
			out, r, err := Render(res, TranslatedVersion)
			if err != nil {
				t.Fatalf("%v\n%v", err, r)
			}
			want := strings.TrimSuffix(in, ".json") + ".out.json"
			if *update {
				if err := os.WriteFile(want, out, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			exp, err := os.ReadFile(want)
			if err != nil {
				t.Fatal(err)
			}
			if string(exp) != string(out) {
				t.Fatalf("translation differs from %s:\n%s", want, out)
			}
		})
	}
	if n == 0 {
		t.Fatal("no golden inputs")
	}
}
