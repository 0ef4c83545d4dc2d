package legacy

import (
	"github.com/coreos/go-semver/semver"

	"github.com/flintboot/flint/config"
)

// Entry points of the parser's parts, for the tests.

// Detect tells which spec family raw belongs to and, for 2.x and 3.x, the
// declared version. It follows the 2.x parsers' fall-through: a 2.x version
// string must be exact; anything else (absent, unparsable, older than 2.0.0)
// is spec 1 if `ignitionVersion` is 1 and unsupported otherwise.
func Detect(raw []byte) (Spec, semver.Version, config.Report, error) {
	spec, ver, _, rpt, err := detect(raw)
	return spec, ver, rpt, err
}

// Parse2 parses a 2.x config under the rules of its declared version and
// returns it in the 2.4 shape.
func Parse2(raw []byte) (Config, semver.Version, config.Report, error) {
	spec, ver, doc, rpt, err := detect(raw)
	if err != nil {
		return Config{}, ver, rpt, err
	}
	return parseOld(doc, spec, ver)
}
