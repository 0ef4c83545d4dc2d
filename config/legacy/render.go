package legacy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/coreos/go-semver/semver"
	vpath "github.com/coreos/vcontext/path"
	"github.com/coreos/vcontext/report"
	"github.com/flintboot/flint/config"
)

// Render returns the parsed config as JSON declaring the target 3.x
// version. It refuses, with the path and the reason, a rendering that would
// lose meaning: a target older than the version the config was validated
// under, a field the target does not have, or anything the target's rules
// would read differently (checked by reading the output back).
func Render(res Result, target string) ([]byte, config.Report, error) {
	var r report.Report
	tv, err := semver.NewVersion(target)
	if err != nil {
		return nil, r, fmt.Errorf("target version %q: %w", target, config.ErrInvalidVersion)
	}
	if _, err := config.LookupVersion(target); err != nil {
		return nil, r, fmt.Errorf("target version %s: %w", target, err)
	}
	if tv.LessThan(res.Effective) {
		r.Entries = append(r.Entries, report.Entry{Kind: report.Error, Context: vpath.New("json", "ignition", "version"),
			Message: fmt.Sprintf("cannot translate down from spec %s to %s", res.Effective, tv)})
		return nil, r, fmt.Errorf("refusing to translate: %w", config.ErrInvalid)
	}
	cfg := res.Config
	sinceCheck(reflect.ValueOf(cfg), nil, *tv, &r)
	if r.IsFatal() {
		return nil, r, fmt.Errorf("refusing to translate: %w", config.ErrInvalid)
	}
	cfg.Ignition.Version = tv.String()
	out, err := Marshal(cfg, true)
	if err != nil {
		return nil, r, err
	}
	// Read it back under the target's rules: anything reported, dropped or
	// changed means the output does not say what the input said.
	back, br, err := config.Parse(out)
	for _, e := range br.Entries {
		if e.Kind == report.Error || strings.HasPrefix(e.Message, "Unused key") {
			e.Kind = report.Error
			e.Message = "not expressible in spec " + tv.String() + ": " + e.Message
			e.Marker.StartP, e.Marker.EndP = nil, nil
			r.Entries = append(r.Entries, e)
		}
	}
	if err == nil && !r.IsFatal() {
		a, _ := Marshal(back, false)
		cfg.Ignition.Version = back.Ignition.Version
		b, _ := Marshal(cfg, false)
		if !bytes.Equal(a, b) {
			p := firstDiff(a, b)
			r.Entries = append(r.Entries, report.Entry{Kind: report.Error, Context: vpath.New("json", p...),
				Message: "spec " + tv.String() + " would read this differently"})
		}
	}
	if r.IsFatal() || err != nil {
		return nil, r, fmt.Errorf("refusing to translate: %w", config.ErrInvalid)
	}
	return append(out, '\n'), r, nil
}

// sinceCheck reports every non-empty field whose `since` tag is newer than
// the target version.
func sinceCheck(v reflect.Value, p []any, target semver.Version, r *report.Report) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			sinceCheck(v.Elem(), p, target, r)
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			sinceCheck(v.Index(i), cat(p, i), target, r)
		}
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			fv := v.Field(i)
			if f.Anonymous {
				sinceCheck(fv, p, target, r)
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if fv.IsZero() {
				continue
			}
			if s := f.Tag.Get("since"); s != "" {
				if sv, err := semver.NewVersion(s); err == nil && target.LessThan(*sv) {
					r.Entries = append(r.Entries, report.Entry{Kind: report.Error, Context: vpath.New("json", cat(p, name)...),
						Message: fmt.Sprintf("%s needs spec %s or newer; cannot translate to %s", name, sv, target)})
					continue
				}
			}
			sinceCheck(fv, cat(p, name), target, r)
		}
	}
}

// firstDiff returns the path of the first difference between two JSON
// documents.
func firstDiff(a, b []byte) []any {
	var x, y any
	_ = json.Unmarshal(a, &x)
	_ = json.Unmarshal(b, &y)
	var walk func(x, y any, p []any) []any
	walk = func(x, y any, p []any) []any {
		switch xv := x.(type) {
		case map[string]any:
			yv, ok := y.(map[string]any)
			if !ok {
				return p
			}
			keys := map[string]bool{}
			for k := range xv {
				keys[k] = true
			}
			for k := range yv {
				keys[k] = true
			}
			ks := make([]string, 0, len(keys))
			for k := range keys {
				ks = append(ks, k)
			}
			sort.Strings(ks)
			for _, k := range ks {
				if d := walk(xv[k], yv[k], cat(p, k)); d != nil {
					return d
				}
			}
			return nil
		case []any:
			yv, ok := y.([]any)
			if !ok || len(xv) != len(yv) {
				return p
			}
			for i := range xv {
				if d := walk(xv[i], yv[i], cat(p, i)); d != nil {
					return d
				}
			}
			return nil
		}
		if !reflect.DeepEqual(x, y) {
			return p
		}
		return nil
	}
	return walk(x, y, nil)
}
