package config

import (
	"errors"
	"reflect"

	"github.com/coreos/go-semver/semver"
	"github.com/coreos/vcontext/path"
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

// DetectVersion reads only ignition.version, with the same leniencies as the
// full decoder. A JSON error yields ErrInvalid and a report.
func DetectVersion(raw []byte) (semver.Version, Report, error) {
	v, _, rpt, err := detectVersion(raw)
	return v, rpt, err
}

// detectVersion also returns the parsed tree, so Parse reads the bytes once.
func detectVersion(raw []byte) (semver.Version, *jnode, Report, error) {
	if len(raw) == 0 {
		return semver.Version{}, nil, Report{}, ErrEmpty
	}
	root, rpt, err := parseTree(raw)
	if err != nil {
		return semver.Version{}, nil, rpt, err
	}
	v, rpt, err := versionOf(raw, root)
	return v, root, rpt, err
}

func versionOf(raw []byte, root *jnode) (semver.Version, Report, error) {
	var stub versionStub
	d := decoder{ver: len(Versions) - 1}
	d.value(root, reflect.ValueOf(&stub).Elem())
	if len(d.typeErrs) > 0 {
		return semver.Version{}, typeErrorReport(raw, root, d.typeErrs), ErrInvalid
	}
	v, err := semver.NewVersion(stub.Ignition.Version)
	if err != nil {
		return semver.Version{}, Report{}, ErrInvalidVersion
	}
	return *v, Report{}, nil
}

func parseTree(raw []byte) (*jnode, Report, error) {
	root, err := parseJSON(raw)
	if err != nil {
		var se *SyntaxError
		var r Report
		if errors.As(err, &se) {
			loc := newLocator(raw, &jnode{})
			r.Entries = append(r.Entries, report.Entry{
				Kind: report.Error, Message: se.Msg, Context: path.New("json"),
				Marker: tree.Marker{StartP: loc.pos(int32(se.Offset))},
			})
		}
		return nil, r, ErrInvalid
	}
	return root, Report{}, nil
}

func typeErrorReport(raw []byte, root *jnode, errs []*TypeError) Report {
	var r Report
	loc := newLocator(raw, root)
	// encoding/json (which the reference decodes with) reports only the
	// first type error; so does flint.
	if len(errs) > 1 {
		errs = errs[:1]
	}
	for _, e := range errs {
		r.Entries = append(r.Entries, report.Entry{
			Kind: report.Error, Message: e.Error(), Context: path.New("json"),
			Marker: tree.Marker{StartP: loc.pos(int32(e.Offset))},
		})
	}
	return r
}

// Parse parses a config of any supported 3.x version under that version's
// own rules and returns it in the newest shape. The report holds every
// problem found; err is non-nil when the config cannot be used.
func Parse(raw []byte) (Config, Report, error) {
	v, root, rpt, err := detectVersion(raw)
	if err != nil {
		return Config{}, rpt, err
	}
	idx := versionIndex(v)
	if idx < 0 {
		return Config{}, Report{}, ErrUnknownVersion
	}
	return parseVersion(raw, root, idx)
}

// parseVersion decodes the tree as a config of exactly the given version,
// like the reference's per-version Parse.
func parseVersion(raw []byte, root *jnode, idx int) (Config, Report, error) {
	var cfg Config
	d := decoder{ver: idx}
	d.value(root, reflect.ValueOf(&cfg).Elem())
	if len(d.typeErrs) > 0 {
		return Config{}, typeErrorReport(raw, root, d.typeErrs), ErrInvalid
	}
	r := validateTree(&cfg, idx, root)
	for _, u := range d.unused {
		msg := "Unused key " + u.key
		if u.hint != "" {
			msg += "; did you mean " + u.hint + "?"
		}
		if u.note != "" {
			msg += " (" + u.note + ")"
		}
		r.Entries = append(r.Entries, report.Entry{
			Kind: report.Warn, Message: msg,
			Context: path.New("json", append(u.path, tree.Key(u.key))...),
		})
	}
	loc := newLocator(raw, root)
	for i := range r.Entries {
		e := &r.Entries[i]
		if e.Marker.StartP == nil {
			e.Marker = tree.Marker{StartP: loc.pos(loc.find(e.Context))}
		}
	}
	if r.IsFatal() {
		return Config{}, r, ErrInvalid
	}
	translateUp(&cfg, idx)
	return cfg, r, nil
}

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
