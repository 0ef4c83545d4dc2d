package config

import (
	"reflect"
	"strings"

	"github.com/coreos/go-semver/semver"
	"github.com/coreos/vcontext/report"
	"github.com/coreos/vcontext/tree"
)

// Report is the validation report: every entry has a severity, a JSON path
// and, when the config came from bytes, a line and column.
type Report = report.Report

// Entry kinds.
const (
	Error   = report.Error
	Warning = report.Warn
	Info    = report.Info
)

type versionStub struct {
	Ignition struct {
		Version string `json:"version"`
	} `json:"ignition"`
}

// versionOf reads only ignition.version, with the same leniencies as the
// full decoder.
func versionOf(doc *Document) (semver.Version, Report, error) {
	var stub versionStub
	if _, r := doc.Decode(&stub, MaxVersion); len(r.Entries) > 0 {
		return semver.Version{}, r, ErrInvalid
	}
	v, err := semver.NewVersion(stub.Ignition.Version)
	if err != nil {
		return semver.Version{}, Report{}, ErrInvalidVersion
	}
	return *v, Report{}, nil
}

// Parse parses a config of any supported 3.x version under that version's
// own rules and returns it in the newest shape. The report holds every
// problem found; err is non-nil when the config cannot be used.
func Parse(raw []byte) (Config, Report, error) {
	if IsBlank(raw) {
		return Config{}, Report{}, ErrEmpty
	}
	doc, rpt, err := ReadDocument(raw)
	if err != nil {
		return Config{}, rpt, err
	}
	return ParseDocument(doc)
}

// ParseDocument is Parse for a document already read (the legacy parser
// reads a document once to tell its version, then hands 3.x ones here).
func ParseDocument(doc *Document) (Config, Report, error) {
	v, rpt, err := versionOf(doc)
	if err != nil {
		rpt.Merge(doc.Notes())
		doc.Locate(&rpt)
		return Config{}, rpt, err
	}
	idx := versionIndex(v)
	if idx < 0 {
		return Config{}, Report{}, ErrUnknownVersion
	}
	return parseVersion(doc, idx)
}

// parseVersion decodes the document as a config of exactly the given
// version, like the reference's per-version Parse.
func parseVersion(doc *Document, idx int) (Config, Report, error) {
	var cfg Config
	d := newDecoder(doc.d, Versions[idx].Version)
	d.compressionInFilesOnly = !Versions[idx].CompressionEverywhere
	d.value(0, reflect.ValueOf(&cfg).Elem())
	notes := doc.Notes()
	doc.Compact() // the index is not needed while validating (see Compact)
	if len(d.typeErrs) > 0 {
		r := d.typeErrorReport()
		r.Merge(notes)
		doc.Locate(&r)
		return Config{}, r, ErrInvalid
	}
	r := validateTree(&cfg, idx, doc.d)
	for _, u := range d.unused {
		msg := "Unused key " + u.Key
		if u.Hint != "" {
			msg += "; did you mean " + u.Hint + "?"
		}
		switch {
		case u.Fold != "":
		case u.Since != "":
			msg += " (needs spec version " + u.Since + " or newer)"
		case u.notHere:
			msg += " (needs spec version 3.1.0 or newer here)"
		}
		r.Entries = append(r.Entries, report.Entry{
			Kind: report.Warn, Message: msg, Context: u.Path, Marker: tree.Marker{StartP: u.Pos},
		})
	}
	translateUp(&cfg, idx)
	if laxerThanNewest(idx) {
		runtimeRules(&cfg, doc.d, &r)
	}
	r.Merge(notes)
	doc.Locate(&r)
	if r.IsFatal() {
		return Config{}, r, ErrInvalid
	}
	return cfg, r, nil
}

// laxerThanNewest reports whether version idx's validator accepts things
// the newest version's refuses (sources, link targets, clevis custom
// presence).
func laxerThanNewest(idx int) bool {
	v, n := Versions[idx], Versions[len(Versions)-1]
	return v.RequiredSources != n.RequiredSources || v.LinkTargetRequired != n.LinkTargetRequired ||
		v.ClevisCustomPointer != n.ClevisCustomPointer
}

// runtimeRules adds what the reference refuses when it runs although its
// validator of an older version accepts it: at run time the reference
// validates the translated config under the newest version's rules
// ("merging configs resulted in an invalid config"), so flint's validate
// says so first (docs/validation.md).
func runtimeRules(cfg *Config, root *jdoc, r *Report) {
	var have []string // paths with an error already
	for _, e := range r.Entries {
		if e.Kind == report.Error {
			have = append(have, e.Context.String())
		}
	}
	covered := func(p string) bool {
		for _, h := range have {
			if h == p || strings.HasPrefix(h, p+".") || strings.HasPrefix(p, h+".") {
				return true
			}
		}
		return false
	}
	for _, e := range validateTree(cfg, len(Versions)-1, root).Entries {
		if e.Kind != report.Error || covered(e.Context.String()) {
			continue
		}
		e.Message += RuntimeRuleNote
		r.Entries = append(r.Entries, e)
	}
}

// RuntimeRuleNote ends the message of an error that only the reference's
// run time reports for the config's own version.
const RuntimeRuleNote = " (the reference refuses this when it runs, under the newest spec's rules)"

// translateUp applies the behaviour changes between the declared version and
// the newest one, then stamps the newest version.
func translateUp(cfg *Config, idx int) {
	if !Versions[idx].SpecialModeBits {
		for i := range cfg.Storage.Files {
			if m := cfg.Storage.Files[i].Mode; m != nil {
				x := *m &^ 07000
				cfg.Storage.Files[i].Mode = &x
			}
		}
		for i := range cfg.Storage.Directories {
			if m := cfg.Storage.Directories[i].Mode; m != nil {
				x := *m &^ 07000
				cfg.Storage.Directories[i].Mode = &x
			}
		}
	}
	cfg.Ignition.Version = MaxVersion.String()
}

// Validate validates an already decoded config (e.g. the result of a merge)
// under the newest version's rules. The entries carry paths but no lines.
func Validate(cfg Config) Report {
	return validate(&cfg, len(Versions)-1)
}
