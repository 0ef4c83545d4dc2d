package config

import (
	"encoding/json"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/coreos/go-systemd/v22/unit"
	vpath "github.com/coreos/vcontext/path"
	"github.com/coreos/vcontext/report"
)

// The rule set, written once. Entries are reported at the same JSON paths
// as the reference, and everything is reported, never just the first error.

type validator struct {
	ver VersionInfo
	r   Report
	// root is the parsed JSON when the config came from bytes (nil after a
	// merge); a few 3.2 rules depend on whether an object was present.
	root *jdoc
	// units parses unit contents with one reused buffer
	units UnitParser
	// slab backs the paths cat builds: one allocation for many paths
	// instead of one per path (a path is built for every entry and
	// field, and reported only when something is wrong)
	slab []any
}

const slabLen = 4096

func (v *validator) add(kind report.Kind, err error, p ...any) {
	if err == nil {
		return
	}
	v.r.Entries = append(v.r.Entries, report.Entry{Kind: kind, Message: err.Error(), Context: vpath.New("json", append([]any{}, p...)...)})
}

func (v *validator) err(err error, p ...any)  { v.add(report.Error, err, p...) }
func (v *validator) warn(err error, p ...any) { v.add(report.Warn, err, p...) }

// errIn and warnIn report err, when there is one, at p extended by more:
// the path is built only for what is reported.
func (v *validator) errIn(err error, p []any, more ...any) {
	if err != nil {
		v.add(report.Error, err, v.cat(p, more...)...)
	}
}

func (v *validator) warnIn(err error, p []any, more ...any) {
	if err != nil {
		v.add(report.Warn, err, v.cat(p, more...)...)
	}
}

func (v *validator) cat(p []any, more ...any) []any {
	n := len(p) + len(more)
	if cap(v.slab)-len(v.slab) < n {
		v.slab = make([]any, 0, max(slabLen, n))
	}
	i := len(v.slab)
	v.slab = append(append(v.slab, p...), more...)
	return v.slab[i : i+n : i+n]
}

func validate(cfg *Config, idx int) Report {
	return validateTree(cfg, idx, nil)
}

func validateTree(cfg *Config, idx int, root *jdoc) Report {
	v := &validator{ver: Versions[idx], root: root}
	v.config(cfg)
	return v.r
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func isTrue(b *bool) bool       { return b != nil && *b }
func isFalse(b *bool) bool      { return b != nil && !*b }
func nilOrEmpty(s *string) bool { return s == nil || *s == "" }
func notEmpty(s *string) bool   { return s != nil && *s != "" }

func (v *validator) config(c *Config) {
	v.ignition(&c.Ignition)
	v.storage(&c.Storage)
	v.systemd(&c.Systemd)
	v.passwd(&c.Passwd)
	v.kargs(&c.KernelArguments)
	v.systemdConflicts(c)
	v.flintRules(c)
}

// ---- ignition ------------------------------------------------------------

func (v *validator) ignition(ig *Ignition) {
	p := []any{"ignition"}
	for i := range ig.Config.Merge {
		mp := v.cat(p, "config", "merge", i)
		v.requiredSource(&ig.Config.Merge[i], mp)
		v.reference(&ig.Config.Merge[i], mp)
	}
	v.dupResources(ig.Config.Merge, v.cat(p, "config", "merge"))
	v.reference(&ig.Config.Replace, v.cat(p, "config", "replace"))
	cas := ig.Security.TLS.CertificateAuthorities
	for i := range cas {
		cp := v.cat(p, "security", "tls", "certificateAuthorities", i)
		v.requiredSource(&cas[i], cp)
		v.reference(&cas[i], cp)
		v.caContents(&cas[i], cp)
	}
	v.dupResources(cas, v.cat(p, "security", "tls", "certificateAuthorities"))
	v.proxyURL(ig.Proxy.HTTPProxy, true, v.cat(p, "proxy", "httpProxy"))
	v.proxyURL(ig.Proxy.HTTPSProxy, false, v.cat(p, "proxy", "httpsProxy"))
	dupStrings(v, ig.Proxy.NoProxy, v.cat(p, "proxy", "noProxy"))
}

func (v *validator) proxyURL(s *string, isHTTP bool, p []any) {
	if s == nil {
		return
	}
	u, err := url.Parse(*s)
	if err != nil {
		v.err(ErrInvalidURL, p...)
		return
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		v.err(ErrInvalidProxy, p...)
		return
	}
	if err := urlHostPort(u.Scheme, u.Hostname(), u.Port()); err != nil {
		v.err(err, p...)
		return
	}
	if u.Scheme == "http" && !isHTTP {
		v.warn(ErrInsecureProxy, p...)
	}
}

func resourceKey(r *Resource) string {
	if r.Source == nil {
		return ""
	}
	return *r.Source
}

func (v *validator) dupResources(list []Resource, p []any) {
	seen := make(map[string]struct{}, len(list))
	for i := range list {
		k := resourceKey(&list[i])
		if _, dup := seen[k]; dup {
			v.errIn(ErrDuplicate, p, i)
		}
		seen[k] = struct{}{}
	}
}

func dupStrings[T ~string](v *validator, list []T, p []any) {
	if len(list) < 2 {
		return
	}
	seen := make(map[T]struct{}, len(list))
	for i, s := range list {
		if _, dup := seen[s]; dup {
			v.errIn(ErrDuplicate, p, i)
		}
		seen[s] = struct{}{}
	}
}

// requiredSource is the check of config references and CAs in 3.1+ (the
// reference's validateRequiredSource): reported at the entry itself, either
// "source is required" or the URL's own error (which the source path also
// gets from the resource check).
func (v *validator) requiredSource(r *Resource, p []any) {
	if !v.ver.RequiredSources {
		return
	}
	if nilOrEmpty(r.Source) {
		v.err(ErrSourceRequired, p...)
		return
	}
	v.err(v.validateURL(*r.Source), p...)
}

// reference validates a config reference or CA. In 3.0 these were plain
// references (the CA's source a plain string) without the verification
// needs-source rule.
func (v *validator) reference(r *Resource, p []any) {
	v.resourceRules(r, p, v.ver.RequiredSources)
}

// resource validates the shared Resource shape (file contents, appends,
// LUKS key files).
func (v *validator) resource(r *Resource, p []any) {
	v.resourceRules(r, p, true)
}

func (v *validator) resourceRules(r *Resource, p []any, verifNeedsSource bool) {
	if r.Compression != nil {
		switch *r.Compression {
		case "", "gzip":
		default:
			v.errIn(ErrCompressionInval, p, "compression")
		}
	}
	if verifNeedsSource && r.Verification.Hash != nil && r.Source == nil {
		v.errIn(ErrVerificationAndNilSource, p, "verification", "hash")
	}
	v.hash(r.Verification.Hash, p, "verification", "hash")
	if notEmpty(r.Source) {
		v.errIn(v.validateURL(*r.Source), p, "source")
	}
	v.inline(r, p)
	if len(r.HTTPHeaders) > 0 {
		v.errIn(headersScheme(r.Source), p, "httpHeaders")
	}
	seen := make(map[string]struct{}, len(r.HTTPHeaders))
	for i, h := range r.HTTPHeaders {
		hp := v.cat(p, "httpHeaders", i)
		if h.Name == "" {
			v.errIn(ErrEmptyHTTPHeaderName, hp, "name")
		}
		if h.Value != nil && *h.Value == "" {
			v.errIn(ErrInvalidHTTPHeader, hp, "value")
		}
		if _, dup := seen[h.Name]; dup {
			v.err(ErrDuplicate, hp...)
		}
		seen[h.Name] = struct{}{}
		v.headerRules(&r.HTTPHeaders[i], hp)
	}
}

func headersScheme(src *string) error {
	if nilOrEmpty(src) {
		return ErrInvalidURL
	}
	u, err := url.Parse(*src)
	if err != nil {
		return ErrInvalidURL
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		return nil
	}
	return ErrUnsupportedSchemeForHTTPHeaders
}

func (v *validator) hash(h *string, p []any, more ...any) {
	if h == nil {
		return
	}
	fn, sum, ok := strings.Cut(*h, "-")
	if !ok {
		v.errIn(ErrHashMalformed, p, more...)
		return
	}
	var size int
	switch fn {
	case "sha512":
		size = 128
	case "sha256":
		size = 64
	}
	if size == 0 || !v.ver.Hashes[fn] {
		v.errIn(ErrHashUnrecognized, p, more...)
		return
	}
	if len(sum) != size {
		v.errIn(ErrHashWrongSize, p, more...)
		return
	}
	// The reference checks only the length and fails at run time on a sum
	// that is not hex; flint refuses it here (a deliberate difference,
	// docs/validation.md).
	for i := 0; i < len(sum); i++ {
		if c := sum[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			v.errIn(ErrHashMalformed, p, more...)
			return
		}
	}
}

// validateURL checks a resource source under the version's scheme list.
func (v *validator) validateURL(s string) error {
	return ValidateURL(s, v.ver.Schemes)
}

// ValidateURL checks a resource URL against a scheme set (nil = newest).
func ValidateURL(s string, schemes map[string]bool) error {
	if schemes == nil {
		schemes = Versions[len(Versions)-1].Schemes
	}
	if opaqueData(s) {
		if !schemes["data"] {
			return ErrInvalidScheme
		}
		return CheckDataURL(s)
	}
	u, err := url.Parse(s)
	if err != nil {
		return ErrInvalidURL
	}
	if !schemes[u.Scheme] {
		return ErrInvalidScheme
	}
	if err := urlHostPort(u.Scheme, u.Hostname(), u.Port()); err != nil {
		return err
	}
	switch u.Scheme {
	case "s3":
		return checkVersionID(u)
	case "arn":
		if err := checkS3ARN("arn:" + u.Opaque); err != nil {
			return err
		}
		return checkVersionID(u)
	case "data":
		return CheckDataURL(s)
	}
	return nil
}

// opaqueData reports whether s is a data URL that url.Parse would take
// as it is: scheme "data", an opaque part (not starting with '/'), no
// fragment and no control byte. Such a URL needs no parse: it has no host
// or port to check, and its data is checked by CheckDataURL.
func opaqueData(s string) bool {
	rest, ok := strings.CutPrefix(s, "data:")
	return ok && !strings.HasPrefix(rest, "/") && strings.IndexByte(s, '#') < 0 && !hasCtl(s)
}

func checkVersionID(u *url.URL) error {
	if vals, ok := u.Query()["versionId"]; ok && (len(vals) == 0 || vals[0] == "") {
		return ErrInvalidS3VersionID
	}
	return nil
}

// checkS3ARN follows the reference (config/v3_4+/types/url.go with
// aws-sdk-go-v2's arn package, whose IsARN wants the "arn:" prefix and at
// least five ':' and whose Parse checks nothing more): the service must be
// s3 and the whole text (query excluded) must have at least one '/' (two
// for access points, "accesspoint/<name>/<key>").
func checkS3ARN(full string) error {
	if !strings.HasPrefix(full, "arn:") || strings.Count(full, ":") < 5 {
		return ErrInvalidS3ARN
	}
	parts := strings.SplitN(full, ":", 6)
	if parts[2] != "s3" {
		return ErrInvalidS3ARN
	}
	segs := strings.Count(full, "/") + 1
	if strings.HasPrefix(parts[5], "accesspoint/") && segs < 3 {
		return ErrInvalidS3ARN
	} else if segs < 2 {
		return ErrInvalidS3ARN
	}
	return nil
}

// ---- storage -------------------------------------------------------------

func validatePath(p string) error {
	switch {
	case p == "":
		return ErrNoPath
	case !path.IsAbs(p):
		return ErrPathRelative
	case path.Clean(p) != p:
		return ErrDirtyPath
	}
	return pathLimits(p) // flint: NAME_MAX and PATH_MAX
}

func validateMode(m *int) error {
	if m != nil && (*m < 0 || *m > 07777) {
		return ErrFileIllegalMode
	}
	return nil
}

func (v *validator) mode(m *int, p []any, more ...any) {
	if err := validateMode(m); err != nil {
		v.errIn(err, p, more...)
		return
	}
	if m != nil && *m&07000 != 0 && !v.ver.SpecialModeBits {
		v.warnIn(ErrModeSpecialBits, p, more...)
	}
}

func (v *validator) node(n *Node, p []any) {
	v.errIn(validatePath(n.Path), p, "path")
	if n.User.ID != nil && notEmpty(n.User.Name) {
		v.errIn(ErrBothIDAndNameSet, p, "user")
	}
	if n.Group.ID != nil && notEmpty(n.Group.Name) {
		v.errIn(ErrBothIDAndNameSet, p, "group")
	}
}

// throughLink reports whether p starts with the path of a configured link
// followed by '/', like the reference's strings.HasPrefix(p, link+"/") over
// every link, but with a set lookup per '/' instead of a loop over links.
func throughLink(p string, links map[string]struct{}) bool {
	if len(links) == 0 {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] == '/' {
			if _, ok := links[p[:i]]; ok {
				return true
			}
		}
	}
	return false
}

func (v *validator) storage(s *Storage) {
	sp := []any{"storage"}
	links := make(map[string]struct{}, len(s.Links))
	for i := range s.Links {
		links[s.Links[i].Path] = struct{}{}
	}
	for i := range s.Directories {
		d := &s.Directories[i]
		p := v.cat(sp, "directories", i)
		v.node(&d.Node, p)
		v.mode(d.Mode, p, "mode")
		if throughLink(d.Path, links) {
			v.err(ErrDirectoryUsedSymlink, p...)
		}
	}
	for i := range s.Disks {
		v.disk(&s.Disks[i], v.cat(sp, "disks", i))
	}
	for i := range s.Files {
		f := &s.Files[i]
		p := v.cat(sp, "files", i)
		v.node(&f.Node, p)
		v.mode(f.Mode, p, "mode")
		if isTrue(f.Overwrite) && f.Contents.Source == nil {
			v.errIn(ErrOverwriteAndNilSource, p, "overwrite")
		}
		v.resource(&f.Contents, v.cat(p, "contents"))
		for j := range f.Append {
			v.resource(&f.Append[j], v.cat(p, "append", j))
		}
		if throughLink(f.Path, links) {
			v.err(ErrFileUsedSymlink, p...)
		}
	}
	disks := make(map[string]*Disk, len(s.Disks))
	for i := range s.Disks {
		disks[s.Disks[i].Device] = &s.Disks[i]
	}
	for i := range s.Filesystems {
		fs := &s.Filesystems[i]
		p := v.cat(sp, "filesystems", i)
		v.filesystem(fs, p)
		if d, ok := disks[fs.Device]; ok {
			if len(d.Partitions) > 0 {
				v.warnIn(ErrPartitionsOverwritten, p, "device")
			} else if !isTrue(fs.WipeFilesystem) && isTrue(d.WipeTable) {
				v.warnIn(ErrFilesystemImplicitWipe, p, "device")
			}
		}
	}
	var dirs map[string]struct{}
	for i := range s.Links {
		if isTrue(s.Links[i].Hard) && dirs == nil {
			dirs = make(map[string]struct{}, len(s.Directories))
			for j := range s.Directories {
				dirs[s.Directories[j].Path] = struct{}{}
			}
		}
	}
	for i := range s.Links {
		l := &s.Links[i]
		p := v.cat(sp, "links", i)
		v.node(&l.Node, p)
		if throughLink(l.Path, links) {
			v.err(ErrLinkUsedSymlink, p...)
		}
		if v.ver.LinkTargetRequired && nilOrEmpty(l.Target) {
			// v3_3+/types/storage.go: reported, then the link's
			// hard-link checks are skipped
			v.errIn(ErrLinkTargetRequired, p, "target")
			continue
		}
		if !isTrue(l.Hard) {
			continue
		}
		target := ""
		if l.Target != nil {
			target = *l.Target
		}
		// the reference joins a relative target to the link's own path
		t := path.Clean(target)
		if !path.IsAbs(t) {
			t = path.Join(l.Path, target)
		}
		if _, ok := dirs[t]; ok {
			v.err(ErrHardLinkToDirectory, p...)
		}
		if l.User.ID != nil {
			v.warnIn(ErrHardLinkSpecifiesOwner, p, "user", "id")
		}
		if l.User.Name != nil {
			v.warnIn(ErrHardLinkSpecifiesOwner, p, "user", "name")
		}
		if l.Group.ID != nil {
			v.warnIn(ErrHardLinkSpecifiesOwner, p, "group", "id")
		}
		if l.Group.Name != nil {
			v.warnIn(ErrHardLinkSpecifiesOwner, p, "group", "name")
		}
	}
	for i := range s.Luks {
		v.luks(&s.Luks[i], v.cat(sp, "luks", i))
	}
	for i := range s.Raid {
		v.raid(&s.Raid[i], v.cat(sp, "raid", i))
	}

	// Duplicates, in field order; files, directories and links share one
	// key space.
	nodes := make(map[string]struct{}, len(s.Files)+len(s.Directories)+len(s.Links))
	dupNode := func(key string, p []any) {
		if _, dup := nodes[key]; dup {
			v.err(ErrDuplicate, p...)
		}
		nodes[key] = struct{}{}
	}
	for i := range s.Directories {
		dupNode(s.Directories[i].Path, v.cat(sp, "directories", i))
	}
	dupKeys(v, s.Disks, func(d *Disk) string { return d.Device }, v.cat(sp, "disks"))
	for i := range s.Files {
		dupNode(s.Files[i].Path, v.cat(sp, "files", i))
	}
	dupKeys(v, s.Filesystems, func(f *Filesystem) string { return f.Device }, v.cat(sp, "filesystems"))
	for i := range s.Links {
		dupNode(s.Links[i].Path, v.cat(sp, "links", i))
	}
	dupKeys(v, s.Luks, func(l *Luks) string { return l.Name }, v.cat(sp, "luks"))
	dupKeys(v, s.Raid, func(r *Raid) string { return r.Name }, v.cat(sp, "raid"))
}

func dupKeys[T any](v *validator, list []T, key func(*T) string, p []any) {
	if len(list) < 2 {
		return
	}
	seen := make(map[string]struct{}, len(list))
	for i := range list {
		k := key(&list[i])
		if _, dup := seen[k]; dup {
			v.errIn(ErrDuplicate, p, i)
		}
		seen[k] = struct{}{}
	}
}

var guidRegex = regexp.MustCompile(`^(|[[:xdigit:]]{8}-[[:xdigit:]]{4}-[[:xdigit:]]{4}-[[:xdigit:]]{4}-[[:xdigit:]]{12})$`)

func validateGUID(g *string) error {
	if g != nil && !guidRegex.MatchString(*g) {
		return ErrDoesntMatchGUIDRegex
	}
	return nil
}

func partitionKey(p *Partition) string {
	if p.Number != 0 {
		return "number:" + strconv.Itoa(p.Number)
	}
	if p.Label != nil {
		return "label:" + *p.Label
	}
	return ""
}

func (v *validator) disk(d *Disk, p []any) {
	if d.Device == "" {
		v.errIn(ErrDiskDeviceRequired, p, "device")
	} else {
		v.errIn(validatePath(d.Device), p, "device")
	}
	for i := range d.Partitions {
		pt := &d.Partitions[i]
		pp := v.cat(p, "partitions", i)
		if isFalse(pt.ShouldExist) && (pt.Label != nil || notEmpty(pt.TypeGUID) || notEmpty(pt.GUID) || pt.StartMiB != nil || pt.SizeMiB != nil) {
			v.err(ErrShouldNotExistWithOthers, pp...)
		}
		if pt.Number == 0 && pt.Label == nil {
			v.err(ErrNeedLabelOrNumber, pp...)
		}
		if pt.Label != nil {
			if len(*pt.Label) > 36 {
				v.errIn(ErrLabelTooLong, pp, "label")
			} else if strings.Contains(*pt.Label, ":") {
				v.errIn(ErrLabelContainsColon, pp, "label")
			}
		}
		v.errIn(validateGUID(pt.GUID), pp, "guid")
		v.errIn(validateGUID(pt.TypeGUID), pp, "typeGuid")
	}
	defer dupKeys(v, d.Partitions, partitionKey, v.cat(p, "partitions"))
	if d.Device == "" {
		return
	}
	// Disk-level rules, as the reference's Disk.Validate: each reports the
	// index it finds (numbers: the second entry of a colliding pair; labels:
	// the first repeat; overlap: the partition overlapped).
	if at, ok := collidingNumber(d.Partitions); ok {
		v.errIn(ErrPartitionNumbersCollide, p, "partitions", at)
	}
	if at, ok := partitionsOverlap(d.Partitions); ok {
		v.errIn(ErrPartitionsOverlap, p, "partitions", at)
	}
	// No rule against mixing shouldExist:false with number-0 partitions:
	// that one (ErrZeroesWithShouldNotExist) exists only in the legacy
	// 2.3/2.4 validator (config/legacy) today; Ignition dropped it from
	// every v3_* package in v2.27.0 (#2234: "Allow deleting a disk
	// partition while creating another partition with number 0"), and
	// the disks stage orders deletions before creations.
	labels := make(map[string]struct{}, len(d.Partitions))
	for i := range d.Partitions {
		if l := d.Partitions[i].Label; l != nil {
			if _, dup := labels[*l]; dup {
				v.errIn(ErrDuplicateLabels, p, "partitions", i)
				break
			}
			labels[*l] = struct{}{}
		}
	}
}

// collidingNumber returns the index of the second partition using a number
// that an earlier one uses (the lowest such number, for a stable report).
func collidingNumber(ps []Partition) (int, bool) {
	first := make(map[int]int, len(ps))
	best, bestNum, found := 0, 0, false
	for i := range ps {
		n := ps[i].Number
		if n == 0 {
			continue
		}
		if _, seen := first[n]; !seen {
			first[n] = -1
			continue
		}
		if first[n] == -1 {
			first[n] = i
			if !found || n < bestNum {
				best, bestNum, found = i, n, true
			}
		}
	}
	return best, found
}

// partitionsOverlap mirrors the reference: partitions with both start and
// size set and a non-zero start are compared; a size of 0 ("fill") ends at
// the start.
func partitionsOverlap(ps []Partition) (int, bool) {
	return OverlapAt(len(ps), func(i int) (int, int, bool) {
		p := &ps[i]
		if p.StartMiB == nil || p.SizeMiB == nil {
			return 0, 0, false
		}
		return *p.StartMiB, *p.SizeMiB, true
	})
}

func (v *validator) filesystem(f *Filesystem, p []any) {
	if notEmpty(f.Path) {
		v.errIn(validatePath(*f.Path), p, "path")
	}
	virtiofs := f.Format != nil && *f.Format == "virtiofs" && v.ver.Formats["virtiofs"]
	if virtiofs {
		switch {
		case f.Device == "":
			v.errIn(ErrNoDevice, p, "device")
		case len(f.Device) > 36:
			v.errIn(ErrVirtiofsTagTooLong, p, "device")
		}
		if notEmpty(f.Label) {
			v.errIn(ErrVirtiofsLabel, p, "label")
		}
		if notEmpty(f.UUID) {
			v.errIn(ErrVirtiofsUUID, p, "uuid")
		}
		if isTrue(f.WipeFilesystem) {
			v.errIn(ErrVirtiofsWipe, p, "wipeFilesystem")
		}
		if len(f.Options) > 0 {
			v.errIn(ErrVirtiofsOptions, p, "options")
		}
		return
	}
	v.errIn(validatePath(f.Device), p, "device")
	if nilOrEmpty(f.Format) {
		if notEmpty(f.Path) || notEmpty(f.Label) || notEmpty(f.UUID) || isTrue(f.WipeFilesystem) || len(f.MountOptions) != 0 || len(f.Options) != 0 {
			v.errIn(ErrFormatNilWithOthers, p, "format")
		}
	} else if !v.ver.Formats[*f.Format] {
		v.errIn(ErrFilesystemInvalidFormat, p, "format")
	}
	if notEmpty(f.Label) {
		if nilOrEmpty(f.Format) {
			v.errIn(ErrLabelNeedsFormat, p, "label")
		} else {
			if n, ok := LabelLimit(*f.Format); ok && len(*f.Label) > n {
				v.errIn(errLabelTooLong(*f.Format, n), p, "label")
			}
		}
	}
}

func (v *validator) raid(r *Raid, p []any) {
	switch {
	case nilOrEmpty(r.Level):
		v.errIn(ErrRaidLevelRequired, p, "level")
	default:
		switch known, noSpares := RaidLevel(*r.Level); {
		case !known:
			v.errIn(ErrUnrecognizedRaidLevel, p, "level")
		case noSpares && r.Spares != nil && *r.Spares != 0:
			v.errIn(ErrSparesUnsupportedForLevel, p, "level")
		}
	}
	if len(r.Devices) == 0 {
		v.errIn(ErrRaidDevicesRequired, p, "devices")
	}
	dupStrings(v, r.Devices, v.cat(p, "devices"))
}

func (v *validator) luks(l *Luks, p []any) {
	if strings.Contains(l.Name, "/") {
		v.errIn(ErrLuksNameContainsSlash, p, "name")
	}
	if notEmpty(l.Label) && len(*l.Label) > 47 {
		v.errIn(ErrLuksLabelTooLong, p, "label")
	}
	if nilOrEmpty(l.Device) {
		v.errIn(ErrDiskDeviceRequired, p, "device")
	} else {
		v.errIn(validatePath(*l.Device), p, "device")
	}
	if v.customPresent(&l.Clevis.Custom, p) && otherPins(&l.Clevis) {
		v.errIn(ErrClevisCustomWithOthers, p, "clevis")
	}
	if notEmpty(l.KeyFile.Source) && v.validateURL(*l.KeyFile.Source) != nil {
		v.errIn(ErrInvalidLuksKeyFile, p, "keys")
	}
	v.resource(&l.KeyFile, v.cat(p, "keyFile"))
	if isTrue(l.Cex.Enabled) && clevisPresent(&l.Clevis) {
		v.errIn(ErrCexWithClevis, p, "cex")
	}
	if isTrue(l.Cex.Enabled) && notEmpty(l.KeyFile.Source) {
		v.errIn(ErrCexWithKeyFile, p, "cex")
	}
	v.clevis(&l.Clevis, v.cat(p, "clevis"))
	dupStrings(v, l.OpenOptions, v.cat(p, "openOptions"))
}

// otherPins: tang servers, tpm2 or a threshold other than 0 (v3_3+/types/
// luks.go; v3_2 the same with its pointer custom).
func otherPins(c *Clevis) bool {
	return len(c.Tang) > 0 || isTrue(c.Tpm2) || (c.Threshold != nil && *c.Threshold != 0)
}

// clevisPresent is the reference's Clevis.IsPresent (v3_5+/types/
// clevis.go), used only by the cex rule.
func clevisPresent(c *Clevis) bool {
	return notEmpty(c.Custom.Pin) || otherPins(c)
}

// customPresent tells whether the custom pin counts as configured, for
// the rule against mixing it with the other pins. lp is the luks entry's
// path. 3.2: the object was given (its Go type was a pointer); 3.3+: a
// non-empty pin.
func (v *validator) customPresent(c *ClevisCustom, lp []any) bool {
	if v.ver.ClevisCustomPointer {
		return v.objectGiven(v.cat(lp, "clevis", "custom")) || c.Pin != nil || c.Config != nil || c.NeedsNetwork != nil
	}
	return notEmpty(c.Pin)
}

// objectGiven reports whether the parsed JSON holds a non-null object at p
// (exact keys). Without a tree (validating a merged config) it is false.
func (v *validator) objectGiven(p []any) bool {
	return v.root.objectAt(p)
}

func (v *validator) clevis(c *Clevis, p []any) {
	cu := &c.Custom
	cp := v.cat(p, "custom")
	if v.ver.ClevisCustomPointer {
		// v3_2/types/custom.go: checked when pin or config is set; an
		// empty pin is an unsupported one.
		if notEmpty(cu.Pin) || notEmpty(cu.Config) {
			switch deref(cu.Pin) {
			case "tpm2", "tang", "sss":
			default:
				v.errIn(ErrUnknownClevisPin, cp, "pin")
			}
			if nilOrEmpty(cu.Config) {
				v.errIn(ErrClevisConfigRequired, cp, "config")
			}
		}
	} else if notEmpty(cu.Pin) || notEmpty(cu.Config) || isTrue(cu.NeedsNetwork) {
		// v3_3+/types/clevis.go
		if nilOrEmpty(cu.Pin) {
			v.errIn(ErrClevisPinRequired, cp, "pin")
		} else if v.ver.RestrictedClevisPins {
			switch *cu.Pin {
			case "tpm2", "tang", "sss":
			default:
				v.errIn(ErrUnknownClevisPin, cp, "pin")
			}
		}
		if nilOrEmpty(cu.Config) {
			v.errIn(ErrClevisConfigRequired, cp, "config")
		}
	}
	for i := range c.Tang {
		t := &c.Tang[i]
		tp := v.cat(p, "tang", i)
		if u, err := url.Parse(t.URL); err != nil {
			v.errIn(ErrInvalidURL, tp, "url")
		} else if u.Scheme != "http" && u.Scheme != "https" {
			v.errIn(ErrInvalidScheme, tp, "url")
		} else {
			v.errIn(urlHostPort(u.Scheme, u.Hostname(), u.Port()), tp, "url")
		}
		if nilOrEmpty(t.Thumbprint) {
			v.errIn(ErrTangThumbprintRequired, tp, "thumbprint")
		}
		if notEmpty(t.Advertisement) {
			var adv any
			if json.Unmarshal([]byte(*t.Advertisement), &adv) != nil {
				v.errIn(ErrInvalidTangAdv, tp, "advertisement")
			}
		}
	}
	dupKeys(v, c.Tang, func(t *Tang) string { return t.URL }, v.cat(p, "tang"))
}

// ---- systemd, passwd, kargs ----------------------------------------------

var unitExts = map[string]bool{
	".service": true, ".socket": true, ".device": true, ".mount": true, ".automount": true, ".swap": true,
	".target": true, ".path": true, ".timer": true, ".snapshot": true, ".slice": true, ".scope": true,
}

// ParseUnit parses unit file contents with go-systemd's parser.
func ParseUnit(contents string) ([]*unit.UnitOption, error) {
	var p UnitParser
	return p.Parse(contents)
}

func errInvalidUnit(err error) error {
	return &unitError{err}
}

type unitError struct{ err error }

func (e *unitError) Error() string { return "invalid unit content: " + e.err.Error() }
func (e *unitError) Unwrap() error { return e.err }

func (v *validator) systemd(s *Systemd) {
	for i := range s.Units {
		u := &s.Units[i]
		p := []any{"systemd", "units", i}
		if !unitExts[path.Ext(u.Name)] {
			v.errIn(ErrInvalidSystemdExt, p, "name")
		}
		v.unitName(u, p)
		if u.Contents != nil {
			opts, err := v.units.Parse(*u.Contents)
			v.errIn(err, p, "contents")
			if err == nil && isTrue(u.Enabled) && *u.Contents != "" {
				if !HasInstallSection(opts) {
					v.warnIn(errNoInstallSection(u.Name), p, "contents")
				}
			}
		}
		for j := range u.Dropins {
			d := &u.Dropins[j]
			dp := v.cat(p, "dropins", j)
			if d.Contents != nil {
				_, err := v.units.Parse(*d.Contents)
				v.errIn(err, dp, "contents")
			}
			if path.Ext(d.Name) != ".conf" {
				v.errIn(ErrInvalidDropinExt, dp, "name")
			}
		}
		dupKeys(v, u.Dropins, func(d *Dropin) string { return d.Name }, v.cat(p, "dropins"))
	}
	dupKeys(v, s.Units, func(u *Unit) string { return u.Name }, []any{"systemd", "units"})
}

func (v *validator) passwd(pw *Passwd) {
	for i := range pw.Users {
		u := &pw.Users[i]
		p := []any{"passwd", "users", i}
		dupStrings(v, u.Groups, v.cat(p, "groups"))
		dupStrings(v, u.SSHAuthorizedKeys, v.cat(p, "sshAuthorizedKeys"))
	}
	dupKeys(v, pw.Groups, func(g *PasswdGroup) string { return g.Name }, []any{"passwd", "groups"})
	dupKeys(v, pw.Users, func(u *PasswdUser) string { return u.Name }, []any{"passwd", "users"})
}

func (v *validator) kargs(k *KernelArguments) {
	seen := make(map[KernelArgument]struct{}, len(k.ShouldExist)+len(k.ShouldNotExist))
	for i, a := range k.ShouldExist {
		if _, dup := seen[a]; dup {
			v.err(ErrDuplicate, "kernelArguments", "shouldExist", i)
		}
		seen[a] = struct{}{}
	}
	for i, a := range k.ShouldNotExist {
		if _, dup := seen[a]; dup {
			v.err(ErrDuplicate, "kernelArguments", "shouldNotExist", i)
		}
		seen[a] = struct{}{}
	}
}

// systemdConflicts reports files, directories and links whose path is a
// unit or drop-in that the config also writes (every version: the
// reference's Config.Validate in v3_0 … v3_6 types/config.go).
func (v *validator) systemdConflicts(c *Config) {
	const dir = "/etc/systemd/system/"
	paths := map[string]bool{}
	for _, u := range c.Systemd.Units {
		if notEmpty(u.Contents) {
			paths[dir+u.Name] = true
		}
		for _, d := range u.Dropins {
			if notEmpty(d.Contents) {
				paths[dir+u.Name+".d/"+d.Name] = true
			}
		}
	}
	if len(paths) == 0 {
		return
	}
	for i, f := range c.Storage.Files {
		if paths[f.Path] {
			v.err(ErrPathConflictsSystemd, "storage", "files", i, "path")
		}
	}
	for i, d := range c.Storage.Directories {
		if paths[d.Path] {
			v.err(ErrPathConflictsSystemd, "storage", "directories", i, "path")
		}
	}
	for i, l := range c.Storage.Links {
		if paths[l.Path] {
			v.err(ErrPathConflictsSystemd, "storage", "links", i, "path")
		}
	}
}
