package legacy

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// goldenTranslations are 2.x configs whose translation (what `flint
// translate` prints, at TranslatedVersion: the spec Flatcar's translation
// produces) is kept in testdata/golden/<name>.out.json, reviewed by hand
// against Flatcar's (ign-converter v24tov31). FLINT_UPDATE_GOLDEN=1
// rewrites them; review the diff.
var goldenTranslations = []string{
	"networkd-dropins-2.3", // networkd units and drop-ins become files under /etc/systemd/network
}

func TestGoldenTranslations(t *testing.T) {
	for _, name := range goldenTranslations {
		t.Run(name, func(t *testing.T) {
			base := filepath.Join("testdata", "golden", name)
			raw, err := os.ReadFile(base + ".json")
			if err != nil {
				t.Fatal(err)
			}
			res, err := ParseAnyResult(raw)
			if err != nil {
				t.Fatalf("%v\n%v", err, res.Report)
			}
			got, r, err := Render(res, TranslatedVersion)
			if err != nil {
				t.Fatalf("%v\n%v", err, r)
			}
			if os.Getenv("FLINT_UPDATE_GOLDEN") == "1" {
				if err := os.WriteFile(base+".out.json", got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if want, err := os.ReadFile(base + ".out.json"); err != nil || !bytes.Equal(want, got) {
				t.Fatalf("translation differs from %s.out.json (%v):\n%s", base, err, got)
			}
		})
	}
}
