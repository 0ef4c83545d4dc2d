package legacy

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"io"
	"strconv"
	"strings"
	"unicode"

	"github.com/coreos/go-semver/semver"
	vpath "github.com/coreos/vcontext/path"
	"github.com/coreos/vcontext/report"
	"github.com/coreos/vcontext/tree"
	"github.com/flintboot/flint/config"
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

// firstLine returns the first line of raw (gunzipped first if it is gzip
// data, as the 2.x parsers did), without trailing white space. It reads at
// most 256 bytes of it, enough to tell a cloud-config or a script.
func firstLine(raw []byte) string {
	var r io.Reader = bytes.NewReader(raw)
	if len(raw) >= 2 && raw[0] == 0x1f && raw[1] == 0x8b {
		if zr, err := gzip.NewReader(bytes.NewReader(raw)); err == nil {
			r = zr
		}
	}
	line, _ := bufio.NewReaderSize(r, 256).ReadSlice('\n')
	return strings.TrimRightFunc(string(line), unicode.IsSpace)
}

// versionProbe reads what tells the spec family apart, with the decoder's
// leniencies (case-insensitive keys, the last of repeated keys) and without
// type errors for the version fields themselves.
type versionProbe struct {
	IgnitionVersion config.RawValue `json:"ignitionVersion"`
	Ignition        struct {
		Version config.RawValue `json:"version"`
	} `json:"ignition"`
}

// detect is Detect that also returns the document, read once for the
// whole parse.
func detect(raw []byte) (Spec, semver.Version, *config.Document, config.Report, error) {
	var none semver.Version
	if config.IsBlank(raw) {
		return SpecUnknown, none, nil, config.Report{}, config.ErrEmpty
	}
	switch line := firstLine(raw); {
	case line == "#cloud-config":
		return SpecUnknown, none, nil, config.Report{}, config.ErrCloudConfig
	case strings.HasPrefix(line, "#!"):
		return SpecUnknown, none, nil, config.Report{}, config.ErrScript
	}
	doc, rpt, err := config.ReadDocument(raw)
	if err != nil {
		return SpecUnknown, none, nil, rpt, err
	}
	var probe versionProbe
	if _, r := doc.Decode(&probe, none); len(r.Entries) > 0 {
		r.Merge(doc.Notes())
		doc.Locate(&r)
		return SpecUnknown, none, doc, r, config.ErrInvalid
	}
	if pv := probe.Ignition.Version; pv.Kind == "string" {
		if v, err := semver.NewVersion(pv.Text); err == nil {
			if v.Major >= 3 {
				return Spec3, *v, doc, config.Report{}, nil
			}
			if !v.LessThan(Versions2[0]) {
				for _, k := range Versions2 {
					if *v == k {
						return Spec2, *v, doc, config.Report{}, nil
					}
				}
				return SpecUnknown, *v, doc, config.Report{}, config.ErrUnknownVersion
			}
		}
	}
	if iv := probe.IgnitionVersion; iv.Kind == "number" {
		if n, err := strconv.ParseFloat(iv.Text, 64); err == nil && n == 1 {
			return Spec1, semver.Version{Major: 1}, doc, config.Report{}, nil
		}
	}
	return SpecUnknown, none, doc, config.Report{}, config.ErrUnknownVersion
}

// parseOld parses a spec 1 or 2.x document and returns it in the 2.4 shape.
func parseOld(doc *config.Document, spec Spec, ver semver.Version) (Config, semver.Version, config.Report, error) {
	switch spec {
	case Spec1:
		c1, r, err := parseV1(doc)
		if err != nil {
			return Config{}, ver, r, err
		}
		cfg := TranslateV1(c1)
		liftTo24(&cfg, ver)
		return cfg, ver, r, nil
	case Spec2:
		cfg, r, err := parse2(doc, ver)
		return cfg, ver, r, err
	}
	return Config{}, ver, config.Report{}, config.ErrUnknownVersion
}

// decodeOld decodes doc into v under the key set of version ver and
// reports, as the 2.x parsers did, every key not decoded exactly.
func decodeOld(doc *config.Document, v any, ver semver.Version) (config.Report, error) {
	unused, r := doc.Decode(v, ver)
	if len(r.Entries) > 0 {
		return r, config.ErrInvalid
	}
	for _, u := range unused {
		r.Entries = append(r.Entries, report.Entry{Kind: report.Warn,
			Message: "Config has unrecognized key: " + u.Key, Context: u.Path, Marker: tree.Marker{StartP: u.Pos}})
		if u.Fold != "" && u.Since == "" {
			r.Entries = append(r.Entries, report.Entry{Kind: report.Info,
				Message: "Did you mean " + u.Fold + " instead of " + u.Key, Context: u.Path, Marker: tree.Marker{StartP: u.Pos}})
		}
	}
	return r, nil
}

func parse2(doc *config.Document, ver semver.Version) (Config, config.Report, error) {
	var cfg Config
	r, err := decodeOld(doc, &cfg, ver)
	doc.Compact()
	if err == nil {
		v := &validator{ver: ver}
		v.config(&cfg)
		r.Merge(v.r)
	}
	r.Merge(doc.Notes())
	doc.Locate(&r)
	if err != nil || r.IsFatal() {
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

func parseV1(doc *config.Document) (V1Config, config.Report, error) {
	var cfg V1Config
	r, err := decodeOld(doc, &cfg, semver.Version{Major: 1})
	if err == nil && cfg.IgnitionVersion != 1 {
		return V1Config{}, config.Report{}, config.ErrUnknownVersion
	}
	if err == nil {
		v := &validator{ver: semver.Version{Major: 1}}
		v.v1(&cfg)
		r.Merge(v.r)
		r.Entries = append(r.Entries, report.Entry{Kind: report.Warn, Message: config.ErrDeprecated.Error(), Context: vpath.New("json", "ignitionVersion")})
	}
	r.Merge(doc.Notes())
	doc.Locate(&r)
	if err != nil || r.IsFatal() {
		return V1Config{}, r, config.ErrInvalid
	}
	return cfg, r, nil
}
