package legacy

import (
	"fmt"

	"github.com/coreos/go-semver/semver"
	"github.com/coreos/vcontext/report"
	"github.com/flintboot/flint/config"
)

// Result is everything ParseAny learned about a config.
type Result struct {
	Config config.Config
	Report config.Report
	Spec   Spec
	// Declared is the version the config declares (1.0.0 for spec 1).
	Declared semver.Version
	// Effective is the 3.x version whose rules the config was last
	// validated under: the declared one for 3.x, TranslatedVersion for
	// translated 1/2.x configs.
	Effective semver.Version
}

// ParseAny parses a config of any version flint accepts and returns it in
// the newest 3.x shape: 3.x configs go to config.Parse; spec 1 and 2.x
// configs are validated under their own rules, translated as Flatcar does,
// and the translation is validated under 3.x rules.
func ParseAny(raw []byte) (config.Config, config.Report, error) {
	res, err := ParseAnyResult(raw)
	return res.Config, res.Report, err
}

// ParseAnyResult is ParseAny with the detected versions.
func ParseAnyResult(raw []byte) (Result, error) {
	spec, ver, rpt, err := Detect(raw)
	res := Result{Spec: spec, Declared: ver, Report: rpt}
	if err != nil {
		return res, err
	}
	if spec == Spec3 {
		cfg, r, err := config.Parse(raw)
		res.Config, res.Report, res.Effective = cfg, r, ver
		return res, err
	}
	old, _, r, err := Parse2(raw)
	res.Report = r
	if err != nil {
		return res, err
	}
	cfg3, tr := Translate(old)
	res.Report.Merge(tr)
	if tr.IsFatal() {
		return res, fmt.Errorf("translating spec %s config to spec 3: %w", spec, config.ErrInvalid)
	}
	// Read the translation back under the 3.x rules of the version it
	// declares, as Flatcar does (re-marshal, then the normal 3.x chain).
	b, err := Marshal(cfg3, false)
	if err != nil {
		return res, fmt.Errorf("marshalling translated config: %w", err)
	}
	cfg, r3, err := config.Parse(b)
	for _, e := range r3.Entries {
		e.Message = "translated config: " + e.Message
		e.Marker.StartP, e.Marker.EndP = nil, nil // positions refer to the translation
		res.Report.Entries = append(res.Report.Entries, e)
	}
	res.Effective = *semver.New(TranslatedVersion)
	if err != nil {
		return res, err
	}
	res.Config = cfg
	return res, nil
}

// keep report imported for callers that inspect kinds
var _ = report.Error
