package legacy

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"sync"
	"unicode"

	"github.com/coreos/go-semver/semver"
	vpath "github.com/coreos/vcontext/path"
	"github.com/coreos/vcontext/report"
	"github.com/coreos/vcontext/tree"
	"github.com/flintboot/flint/config"
)

// Errors of the legacy parsers (texts as the 2.x parsers had them).
var (
	ErrCloudConfig = errors.New("not a config (found coreos-cloudconfig)")
	ErrScript      = errors.New("not a config (found coreos-cloudinit script)")
	ErrDeprecated  = errors.New("config format deprecated")
)

// Versions2 are the 2.x versions Flatcar accepts, oldest first. No
// -experimental tag is accepted: Flatcar's 2.4 parser rejects 2.1.0-, 2.2.0-,
// 2.3.0- and 2.4.0-experimental as unsupported.
var Versions2 = []semver.Version{
	*semver.New("2.0.0"), *semver.New("2.1.0"), *semver.New("2.2.0"),
	*semver.New("2.3.0"), *semver.New("2.4.0"),
}

// Max2 is the newest 2.x version; every 2.x config is read in its shape.
var Max2 = Versions2[len(Versions2)-1]

// Spec is the family a raw config belongs to.
type Spec int

const (
	SpecUnknown Spec = iota
	Spec1
	Spec2
	Spec3
)

func (s Spec) String() string {
	return [...]string{"unknown", "1", "2.x", "3.x"}[s]
}

func decompressIfGzipped(raw []byte) []byte {
	if len(raw) < 2 || raw[0] != 0x1f || raw[1] != 0x8b {
		return raw
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return raw
	}
	out, err := io.ReadAll(io.LimitReader(zr, 1<<20))
	if err != nil && len(out) == 0 {
		return raw
	}
	return out
}

func firstLine(raw []byte) string {
	s := string(decompressIfGzipped(raw))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimRightFunc(s, unicode.IsSpace)
}

func isCloudConfig(raw []byte) bool { return firstLine(raw) == "#cloud-config" }
func isScript(raw []byte) bool      { return strings.HasPrefix(firstLine(raw), "#!") }

type versionProbe struct {
	IgnitionVersion any `json:"ignitionVersion"`
	Ignition        struct {
		Version any `json:"version"`
	} `json:"ignition"`
}

// Detect tells which spec family raw belongs to and, for 2.x and 3.x, the
// declared version. It follows the 2.x parsers' fall-through: a 2.x version
// string must be exact; anything else (absent, unparsable, older than 2.0.0)
// is spec 1 if `ignitionVersion` is 1 and unsupported otherwise.
func Detect(raw []byte) (Spec, semver.Version, config.Report, error) {
	if len(raw) == 0 {
		return SpecUnknown, semver.Version{}, config.Report{}, config.ErrEmpty
	}
	if isCloudConfig(raw) {
		return SpecUnknown, semver.Version{}, config.Report{}, ErrCloudConfig
	}
	if isScript(raw) {
		return SpecUnknown, semver.Version{}, config.Report{}, ErrScript
	}
	var probe versionProbe
	if err := json.Unmarshal(raw, &probe); err != nil {
		return SpecUnknown, semver.Version{}, jsonErrorReport(raw, err), config.ErrInvalid
	}
	vs, _ := probe.Ignition.Version.(string)
	if v, err := semver.NewVersion(vs); err == nil {
		if v.Major >= 3 {
			return Spec3, *v, config.Report{}, nil
		}
		if !v.LessThan(Versions2[0]) {
			for _, k := range Versions2 {
				if *v == k {
					return Spec2, *v, config.Report{}, nil
				}
			}
			return SpecUnknown, *v, config.Report{}, config.ErrUnknownVersion
		}
	}
	if n, ok := probe.IgnitionVersion.(float64); ok && n == 1 {
		return Spec1, semver.Version{Major: 1}, config.Report{}, nil
	}
	return SpecUnknown, semver.Version{}, config.Report{}, config.ErrUnknownVersion
}

// Parse2 parses a 2.x config under the rules of its declared version and
// returns it in the 2.4 shape.
func Parse2(raw []byte) (Config, semver.Version, config.Report, error) {
	spec, ver, rpt, err := Detect(raw)
	if err != nil {
		return Config{}, ver, rpt, err
	}
	switch spec {
	case Spec1:
		c1, r, err := ParseV1(raw)
		if err != nil {
			return Config{}, ver, r, err
		}
		cfg := TranslateV1(c1)
		liftTo24(&cfg, ver)
		return cfg, ver, r, nil
	case Spec2:
		cfg, r, err := parse2(raw, ver)
		return cfg, ver, r, err
	}
	return Config{}, ver, config.Report{}, config.ErrUnknownVersion
}

func parse2(raw []byte, ver semver.Version) (Config, config.Report, error) {
	root, err := buildTree(raw)
	if err != nil {
		return Config{}, jsonErrorReport(raw, err), config.ErrInvalid
	}
	var cfg Config
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return Config{}, jsonErrorReport(raw, err), config.ErrInvalid
	}
	var r report.Report
	w := keyWalker{ver: ver, r: &r}
	w.walk(root, reflect.ValueOf(&cfg).Elem(), nil)
	v := &validator{ver: ver}
	v.config(&cfg)
	r.Merge(v.r)
	locate(raw, root, &r)
	if r.IsFatal() {
		return Config{}, r, config.ErrInvalid
	}
	liftTo24(&cfg, ver)
	cfg.Ignition.Version = Max2.String()
	return cfg, r, nil
}

// liftTo24 makes a config validated under an older version's rules look as
// it does after Flatcar's parser chain has translated it up to 2.4, where
// older scalar fields became pointers that are always set:
//   - before 2.3 a partition's start, size (sectors) and label are set even
//     when absent (so every such partition carries the sector fields the 2.4
//     rules call deprecated, and the translation to spec 3 refuses it);
//   - before 2.2 a file's or directory's mode is set, 0 when absent;
//   - in 2.0 a file's user and group ids are set (0 when absent) and an
//     empty password hash is no hash.
func liftTo24(cfg *Config, ver semver.Version) {
	older := func(minor int64) bool { return ver.LessThan(semver.Version{Major: 2, Minor: minor}) }
	zero := func(p **int) {
		if *p == nil {
			*p = new(int)
		}
	}
	if older(3) {
		for i := range cfg.Storage.Disks {
			for j := range cfg.Storage.Disks[i].Partitions {
				pt := &cfg.Storage.Disks[i].Partitions[j]
				zero(&pt.Size)
				zero(&pt.Start)
				if pt.Label == nil {
					pt.Label = new(string)
				}
			}
		}
	}
	if older(2) {
		for i := range cfg.Storage.Files {
			zero(&cfg.Storage.Files[i].Mode)
		}
		for i := range cfg.Storage.Directories {
			zero(&cfg.Storage.Directories[i].Mode)
		}
	}
	if older(1) {
		for i := range cfg.Storage.Files {
			f := &cfg.Storage.Files[i]
			if f.User == nil {
				f.User = &NodeUser{}
			}
			if f.Group == nil {
				f.Group = &NodeGroup{}
			}
			zero(&f.User.ID)
			zero(&f.Group.ID)
		}
		for i := range cfg.Passwd.Users {
			if h := cfg.Passwd.Users[i].PasswordHash; h != nil && *h == "" {
				cfg.Passwd.Users[i].PasswordHash = nil
			}
		}
	}
}

// ParseV1 parses a spec 1 config.
func ParseV1(raw []byte) (V1Config, config.Report, error) {
	root, err := buildTree(raw)
	if err != nil {
		return V1Config{}, jsonErrorReport(raw, err), config.ErrInvalid
	}
	var cfg V1Config
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return V1Config{}, jsonErrorReport(raw, err), config.ErrInvalid
	}
	if cfg.IgnitionVersion != 1 {
		return V1Config{}, config.Report{}, config.ErrUnknownVersion
	}
	var r report.Report
	w := keyWalker{ver: semver.Version{Major: 1}, r: &r}
	w.walk(root, reflect.ValueOf(&cfg).Elem(), nil)
	v := &validator{ver: semver.Version{Major: 1}}
	v.v1(&cfg)
	r.Merge(v.r)
	r.Entries = append(r.Entries, report.Entry{Kind: report.Warn, Message: ErrDeprecated.Error(), Context: vpath.New("json", "ignitionVersion")})
	locate(raw, root, &r)
	if r.IsFatal() {
		return V1Config{}, r, config.ErrInvalid
	}
	return cfg, r, nil
}

// ---- unrecognized keys -----------------------------------------------------

type fieldInfo struct {
	name  string
	index []int
	since *semver.Version
}

var fieldCache sync.Map // reflect.Type -> []fieldInfo

func fieldsOf(t reflect.Type) []fieldInfo {
	if f, ok := fieldCache.Load(t); ok {
		return f.([]fieldInfo)
	}
	var out []fieldInfo
	var walk func(t reflect.Type, prefix []int)
	walk = func(t reflect.Type, prefix []int) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			idx := append(append([]int{}, prefix...), i)
			if f.Anonymous {
				walk(f.Type, idx)
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" || name == "-" {
				continue
			}
			fi := fieldInfo{name: name, index: idx}
			if s := f.Tag.Get("since"); s != "" {
				fi.since = semver.New(s)
			}
			out = append(out, fi)
		}
	}
	walk(t, nil)
	fieldCache.Store(t, out)
	return out
}

type keyWalker struct {
	ver semver.Version
	r   *report.Report
}

func (w *keyWalker) walk(n *node, v reflect.Value, p []any) {
	if n == nil {
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			w.walk(n, v.Elem(), p)
		}
	case reflect.Slice:
		if n.kind != '[' {
			return
		}
		for i := 0; i < v.Len() && i < len(n.elems); i++ {
			w.walk(n.elems[i], v.Index(i), append(append([]any{}, p...), i))
		}
	case reflect.Struct:
		if n.kind != '{' {
			return
		}
		fields := fieldsOf(v.Type())
		for _, m := range n.members {
			exact, fold := -1, -1
			for i := range fields {
				if fields[i].name == m.key {
					exact = i
				} else if fold < 0 && lowerEq(fields[i].name, m.key) {
					fold = i
				}
			}
			fi := exact
			if fi < 0 {
				fi = fold
			}
			usable := fi >= 0 && (fields[fi].since == nil || !w.ver.LessThan(*fields[fi].since))
			if exact < 0 || !usable {
				kp := append(append([]any{}, p...), tree.Key(m.key))
				w.r.Entries = append(w.r.Entries, report.Entry{Kind: report.Warn,
					Message: "Config has unrecognized key: " + m.key, Context: vpath.New("json", kp...)})
				if exact < 0 && fold >= 0 && usable {
					w.r.Entries = append(w.r.Entries, report.Entry{Kind: report.Info,
						Message: "Did you mean " + fields[fold].name + " instead of " + m.key, Context: vpath.New("json", kp...)})
				}
			}
			if fi < 0 {
				continue
			}
			fv := v.FieldByIndex(fields[fi].index)
			if !usable {
				fv.SetZero()
				continue
			}
			w.walk(m.val, fv, append(append([]any{}, p...), fields[fi].name))
		}
	}
}
