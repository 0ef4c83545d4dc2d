package legacy

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/flintboot/flint/config"
)

// FuzzLegacyParse: no input may panic the legacy parser, the translation or
// the rendering, and whatever ParseAny accepts must render and read back.
func FuzzLegacyParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"ignitionVersion":1}`))
	f.Add([]byte(`{"ignition":{"version":"2.0.0"},"storage":{"filesystems":[{"mount":{"device":"/dev/sdb","format":"ext4","create":{}}}]}}`))
	f.Add([]byte(`{"ignition":{"version":"2.4.0"},"storage":{"links":[{"filesystem":"root","path":"/a","target":"/b"}],"files":[{"filesystem":"root","path":"/a/b"}]}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		res, err := ParseAnyResult(raw)
		if err != nil {
			return
		}
		out, _, err := Render(res, config.MaxVersion.String())
		if err != nil {
			return
		}
		if _, r, err := config.Parse(out); err != nil || r.IsFatal() {
			t.Fatalf("rendered config does not parse: %v %v\n%s", err, r, out)
		}
	})
}
