package legacy

import (
	"fmt"
	"strings"

	"github.com/coreos/go-semver/semver"
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
	spec, ver, doc, rpt, err := detect(raw)
	res := Result{Spec: spec, Declared: ver, Report: rpt}
	if err != nil {
		return res, err
	}
	if spec == Spec3 {
		cfg, r, err := config.ParseDocument(doc)
		res.Config, res.Report, res.Effective = cfg, r, ver
		return res, err
	}
	old, _, r, err := parseOld(doc, spec, ver)
	res.Report = r
	if err != nil {
		return res, err
	}
	cfg3, tr := Translate(old)
	if spec == Spec2 {
		doc.Locate(&tr) // the refusals name 2.x paths of this document
	} else {
		config.MakePrintable(&tr) // spec 1: the paths are those of its 2.0 translation
	}
	res.Report.Merge(tr)
	if tr.IsFatal() {
		return res, fmt.Errorf("translating spec %s config to spec 3: %w", spec, config.ErrInvalid)
	}
	// Read the translation back under the 3.x rules of the version it
	// declares, as Flatcar does (re-marshal, then the normal 3.x chain).
	restore := hideOEMSources(&cfg3)
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
	restore(&cfg)
	res.Config = cfg
	return res, nil
}

// eachSource calls fn with every resource source a translated config can
// carry, in a fixed order.
func eachSource(c *config.Config, fn func(*string)) {
	visit := func(r *config.Resource) {
		if r.Source != nil {
			fn(r.Source)
		}
	}
	for i := range c.Ignition.Config.Merge {
		visit(&c.Ignition.Config.Merge[i])
	}
	visit(&c.Ignition.Config.Replace)
	for i := range c.Ignition.Security.TLS.CertificateAuthorities {
		visit(&c.Ignition.Security.TLS.CertificateAuthorities[i])
	}
	for i := range c.Storage.Files {
		visit(&c.Storage.Files[i].Contents)
		for j := range c.Storage.Files[i].Append {
			visit(&c.Storage.Files[i].Append[j])
		}
	}
}

// hideOEMSources swaps every oem:// source of a translated config for a
// distinct data URL while the translation is read back under 3.x rules, and
// returns the function that puts them back into the parsed result.
// Flatcar's Ignition accepts oem:///path in its 3.x validators (its patch
// reverting upstream's "drop OEM URI support"), so a 2.x config fetching
// from the OEM partition stays valid there; flint's 3.x rules follow
// upstream, which rejects the scheme, and flint's fetcher reads it.
func hideOEMSources(c *config.Config) func(*config.Config) {
	var orig []string
	n := 0
	eachSource(c, func(s *string) {
		if strings.HasPrefix(*s, "oem:") {
			orig = append(orig, *s)
			*s = fmt.Sprintf("data:,flint-oem-placeholder-%d", n)
		} else {
			orig = append(orig, "")
		}
		n++
	})
	return func(parsed *config.Config) {
		i := 0
		eachSource(parsed, func(s *string) {
			if i < len(orig) && orig[i] != "" {
				*s = orig[i]
			}
			i++
		})
	}
}
