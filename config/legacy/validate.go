package legacy

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"strings"

	"github.com/coreos/go-semver/semver"
	"github.com/coreos/go-systemd/v22/unit"
	vpath "github.com/coreos/vcontext/path"
	"github.com/coreos/vcontext/report"
	"github.com/vincent-petithory/dataurl"
)

// The 2.x rule set (Flatcar's 2.x validator), written once. Messages are the
// 2.x ones; every entry also carries its JSON path.

var (
	ErrInvalidScheme              = errors.New("invalid url scheme")
	ErrInvalidURL                 = errors.New("unable to parse url")
	ErrInvalidS3ObjectVersionID   = errors.New("invalid S3 object VersionId")
	ErrHashMalformed              = errors.New("malformed hash specifier")
	ErrHashWrongSize              = errors.New("incorrect size for hash sum")
	ErrHashUnrecognized           = errors.New("unrecognized hash function")
	ErrCompressionInvalid         = errors.New("invalid compression method")
	ErrEmptyHTTPHeaderName        = errors.New("HTTP header name can't be empty")
	ErrDuplicateHTTPHeaders       = errors.New("all header names in the list must be unique")
	ErrUnsupportedSchemeHeaders   = errors.New("cannot use HTTP headers with this source scheme")
	ErrPermissionsUnset           = errors.New("permissions unset, defaulting to 0000")
	ErrDiskDeviceRequired         = errors.New("disk device is required")
	ErrPartitionNumbersCollide    = errors.New("partition numbers collide")
	ErrPartitionsOverlap          = errors.New("partitions overlap")
	ErrPartitionsMisaligned       = errors.New("partitions misaligned")
	ErrZeroesWithShouldNotExist   = errors.New("shouldExist is false for a partition and other partition(s) has start or size 0")
	ErrAppendAndOverwrite         = errors.New("cannot set both append and overwrite to true")
	ErrFilesystemInvalidFormat    = errors.New("invalid filesystem format")
	ErrFilesystemNoMountPath      = errors.New("filesystem is missing mount or path")
	ErrFilesystemMountAndPath     = errors.New("filesystem has both mount and path defined")
	ErrUsedCreateAndMountOpts     = errors.New("cannot use both create object and mount-level options field")
	ErrUsedCreateAndWipe          = errors.New("cannot use both create object and wipeFilesystem field")
	ErrWarningCreateDeprecated    = errors.New("the create object has been deprecated in favor of mount-level options")
	ErrFileIllegalMode            = errors.New("illegal file mode")
	ErrNoFilesystem               = errors.New("no filesystem specified")
	ErrBothIDAndNameSet           = errors.New("cannot set both id and name")
	ErrLabelTooLong               = errors.New("partition labels may not exceed 36 characters")
	ErrDoesntMatchGUIDRegex       = errors.New(`doesn't match the form "01234567-89AB-CDEF-EDCB-A98765432101"`)
	ErrLabelContainsColon         = errors.New("partition label will be truncated to text before the colon")
	ErrPathRelative               = errors.New("path not absolute")
	ErrSparesUnsupportedForLevel  = errors.New("spares unsupported for arrays with a level greater than 0")
	ErrUnrecognizedRaidLevel      = errors.New("unrecognized raid level")
	ErrShouldNotExistWithOthers   = errors.New("shouldExist specified false with other options also specified")
	ErrPartitionsUnitsMismatch    = errors.New("cannot mix MBs and sectors within a disk")
	ErrSizeDeprecated             = errors.New("size is deprecated; use sizeMB instead")
	ErrStartDeprecated            = errors.New("start is deprecated; use startMB instead")
	ErrPasswdCreateDeprecated     = errors.New("the create object has been deprecated in favor of user-level options")
	ErrInvalidSystemdExt          = errors.New("invalid systemd unit extension")
	ErrInvalidSystemdDropinExt    = errors.New("invalid systemd drop-in extension")
	ErrInvalidNetworkdExt         = errors.New("invalid networkd unit extension")
	ErrInvalidNetworkdDropinExt   = errors.New("invalid networkd drop-in extension")
	errPasswdCreateAndUserLevelFn = func(field string) error {
		return fmt.Errorf("cannot use both the create object and the user-level %s field", field)
	}
)

// deprecated marks entries the 2.x validator reported with kind
// "deprecated". Flatcar's translation refuses a config that has any; flint
// reports them as warnings when validating 2.x rules and the translation
// turns them into errors.
var deprecated = map[string]bool{ErrSizeDeprecated.Error(): true, ErrStartDeprecated.Error(): true}

type validator struct {
	ver semver.Version
	r   report.Report
}

func cat(p []any, more ...any) []any {
	return append(append(make([]any, 0, len(p)+len(more)), p...), more...)
}

func (v *validator) add(kind report.Kind, err error, p ...any) {
	if err == nil {
		return
	}
	v.r.Entries = append(v.r.Entries, report.Entry{Kind: kind, Message: err.Error(), Context: vpath.New("json", p...)})
}
func (v *validator) err(err error, p ...any)  { v.add(report.Error, err, p...) }
func (v *validator) warn(err error, p ...any) { v.add(report.Warn, err, p...) }

// before tells whether the config's version is older than 2.<minor>.0
// (spec 1 counts as older than every 2.x).
func (v *validator) before(minor int64) bool {
	return v.ver.LessThan(semver.Version{Major: 2, Minor: minor})
}

// validateURL checks a 2.x source URL; empty means an empty file. Flatcar's
// 2.0 validator knew http, https, oem, efi and data; its 2.1–2.4 validators
// add tftp and s3.
func (v *validator) validateURL(s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return ErrInvalidURL
	}
	switch u.Scheme {
	case "http", "https", "oem", "efi":
		return nil
	case "tftp":
		if v.before(1) {
			return ErrInvalidScheme
		}
		return nil
	case "s3":
		if v.before(1) {
			return ErrInvalidScheme
		}
		if vals, ok := u.Query()["versionId"]; ok && (len(vals) == 0 || vals[0] == "") {
			return ErrInvalidS3ObjectVersionID
		}
		return nil
	case "data":
		if _, err := dataurl.DecodeString(s); err != nil {
			return err
		}
		return nil
	}
	return ErrInvalidScheme
}

func validatePath(p string) error {
	if !path.IsAbs(p) {
		return ErrPathRelative
	}
	return nil
}

func (v *validator) hash(h *string, p []any) {
	if h == nil {
		return
	}
	fn, sum, ok := strings.Cut(*h, "-")
	if !ok {
		v.err(ErrHashMalformed, p...)
		return
	}
	if fn != "sha512" {
		v.err(ErrHashUnrecognized, p...)
		return
	}
	if len(sum) != 128 {
		v.err(ErrHashWrongSize, p...)
	}
}

func (v *validator) headers(hs []HTTPHeader, src string, p []any) {
	if len(hs) == 0 {
		return
	}
	if u, err := url.Parse(src); err == nil && u.Scheme != "http" && u.Scheme != "https" {
		v.err(ErrUnsupportedSchemeHeaders, p...)
	}
	seen := map[string]bool{}
	for i, h := range hs {
		if h.Name == "" {
			v.err(ErrEmptyHTTPHeaderName, cat(p, i, "name")...)
		}
		if seen[h.Name] {
			v.err(ErrDuplicateHTTPHeaders, cat(p, i)...)
		}
		seen[h.Name] = true
	}
}

func (v *validator) ref(src string, ver Verification, hs []HTTPHeader, p []any) {
	v.err(v.validateURL(src), cat(p, "source")...)
	v.hash(ver.Hash, cat(p, "verification", "hash"))
	v.headers(hs, src, cat(p, "httpHeaders"))
}

func (v *validator) config(c *Config) {
	ig := &c.Ignition
	for i, a := range ig.Config.Append {
		v.ref(a.Source, a.Verification, a.HTTPHeaders, []any{"ignition", "config", "append", i})
	}
	if r := ig.Config.Replace; r != nil {
		v.ref(r.Source, r.Verification, r.HTTPHeaders, []any{"ignition", "config", "replace"})
	}
	for i, ca := range ig.Security.TLS.CertificateAuthorities {
		v.ref(ca.Source, ca.Verification, ca.HTTPHeaders, []any{"ignition", "security", "tls", "certificateAuthorities", i})
	}
	v.storage(&c.Storage)
	for i := range c.Systemd.Units {
		v.unit(&c.Systemd.Units[i], []any{"systemd", "units", i})
	}
	for i := range c.Networkd.Units {
		v.networkd(&c.Networkd.Units[i], []any{"networkd", "units", i})
	}
	for i := range c.Passwd.Users {
		v.user(&c.Passwd.Users[i], []any{"passwd", "users", i})
	}
}

func (v *validator) user(u *PasswdUser, p []any) {
	if u.Create == nil {
		return
	}
	v.warn(ErrPasswdCreateDeprecated, cat(p, "create")...)
	conflicts := []struct {
		set  bool
		name string
	}{
		{u.Gecos != "", "gecos"}, {len(u.Groups) > 0, "groups"}, {u.HomeDir != "", "homeDir"},
		{u.NoCreateHome, "noCreateHome"}, {u.NoLogInit, "noLogInit"}, {u.NoUserGroup, "noUserGroup"},
		{u.PrimaryGroup != "", "primaryGroup"}, {u.Shell != "", "shell"}, {u.System, "system"}, {u.UID != nil, "uid"},
	}
	for _, c := range conflicts {
		if c.set {
			v.err(errPasswdCreateAndUserLevelFn(c.name), p...)
		}
	}
}

var guidRegex = regexp.MustCompile(`^(|[[:xdigit:]]{8}-[[:xdigit:]]{4}-[[:xdigit:]]{4}-[[:xdigit:]]{4}-[[:xdigit:]]{12})$`)

func (v *validator) storage(s *Storage) {
	for i := range s.Disks {
		v.disk(&s.Disks[i], []any{"storage", "disks", i})
	}
	for i, r := range s.Raid {
		p := []any{"storage", "raid", i}
		switch r.Level {
		case "linear", "raid0", "0", "stripe":
			if r.Spares != 0 {
				v.err(ErrSparesUnsupportedForLevel, cat(p, "level")...)
			}
		case "raid1", "1", "mirror", "raid4", "4", "raid5", "5", "raid6", "6", "raid10", "10":
		default:
			v.err(ErrUnrecognizedRaidLevel, cat(p, "level")...)
		}
		for j, d := range r.Devices {
			v.err(validatePath(string(d)), cat(p, "devices", j)...)
		}
	}
	for i := range s.Filesystems {
		v.filesystem(&s.Filesystems[i], []any{"storage", "filesystems", i})
	}
	for i := range s.Files {
		f := &s.Files[i]
		p := []any{"storage", "files", i}
		v.node(&f.Node, p)
		v.mode(f.Mode, cat(p, "mode"))
		if f.Append && f.Overwrite != nil && *f.Overwrite {
			v.err(ErrAppendAndOverwrite, cat(p, "overwrite")...)
		}
		switch f.Contents.Compression {
		case "", "gzip":
		default:
			v.err(ErrCompressionInvalid, cat(p, "contents", "compression")...)
		}
		v.ref(f.Contents.Source, f.Contents.Verification, f.Contents.HTTPHeaders, cat(p, "contents"))
	}
	for i := range s.Directories {
		d := &s.Directories[i]
		p := []any{"storage", "directories", i}
		v.node(&d.Node, p)
		v.mode(d.Mode, cat(p, "mode"))
	}
	for i := range s.Links {
		l := &s.Links[i]
		p := []any{"storage", "links", i}
		// 2.x checks nothing on a link beyond its node (no target rule)
		v.node(&l.Node, p)
	}
}

func (v *validator) mode(m *int, p []any) {
	if m == nil {
		if !v.before(2) {
			v.warn(ErrPermissionsUnset, p...)
		}
		return
	}
	if *m < 0 || *m > 07777 {
		v.err(ErrFileIllegalMode, p...)
	}
}

func (v *validator) node(n *Node, p []any) {
	if n.Filesystem == "" {
		v.err(ErrNoFilesystem, cat(p, "filesystem")...)
	}
	v.err(validatePath(n.Path), cat(p, "path")...)
	if n.User != nil && n.User.ID != nil && n.User.Name != "" {
		v.err(ErrBothIDAndNameSet, cat(p, "user")...)
	}
	if n.Group != nil && n.Group.ID != nil && n.Group.Name != "" {
		v.err(ErrBothIDAndNameSet, cat(p, "group")...)
	}
}

func (v *validator) disk(d *Disk, p []any) {
	if d.Device == "" {
		v.err(ErrDiskDeviceRequired, cat(p, "device")...)
	} else {
		v.err(validatePath(d.Device), cat(p, "device")...)
	}
	for i := range d.Partitions {
		pt := &d.Partitions[i]
		pp := cat(p, "partitions", i)
		if (pt.Start != nil || pt.Size != nil) && (pt.StartMiB != nil || pt.SizeMiB != nil) {
			v.err(ErrPartitionsUnitsMismatch, pp...)
		}
		if pt.ShouldExist != nil && !*pt.ShouldExist && (pt.Label != nil || pt.TypeGUID != "" || pt.GUID != "" || pt.Start != nil || pt.Size != nil) {
			v.err(ErrShouldNotExistWithOthers, pp...)
		}
		// "deprecated" entries of the 2.3+ validators (the older ones had
		// sectors only and said nothing)
		if pt.Size != nil && !v.before(3) {
			v.warn(ErrSizeDeprecated, cat(pp, "size")...)
		}
		if pt.Start != nil && !v.before(3) {
			v.warn(ErrStartDeprecated, cat(pp, "start")...)
		}
		if pt.Label != nil {
			if len(*pt.Label) > 36 {
				v.err(ErrLabelTooLong, cat(pp, "label")...)
			}
			if strings.Contains(*pt.Label, ":") {
				v.warn(ErrLabelContainsColon, cat(pp, "label")...)
			}
		}
		if !guidRegex.MatchString(pt.TypeGUID) {
			v.err(ErrDoesntMatchGUIDRegex, cat(pp, "typeGuid")...)
		}
		if !guidRegex.MatchString(pt.GUID) {
			v.err(ErrDoesntMatchGUIDRegex, cat(pp, "guid")...)
		}
	}
	// the disk-level checks of ValidatePartitions, reported at "partitions"
	pp := cat(p, "partitions")
	nums := map[int]bool{}
	collide := false
	for _, pt := range d.Partitions {
		if pt.Number != 0 { // 0 means "next free number"
			collide = collide || nums[pt.Number]
			nums[pt.Number] = true
		}
	}
	if collide {
		v.err(fmt.Errorf("disk %q: %w", d.Device, ErrPartitionNumbersCollide), pp...)
	}
	if partitionsOverlap(d.Partitions) {
		v.err(fmt.Errorf("disk %q: %w", d.Device, ErrPartitionsOverlap), pp...)
	}
	for _, pt := range d.Partitions {
		if pt.Start != nil && *pt.Start&(2048-1) != 0 {
			v.err(fmt.Errorf("disk %q: %w", d.Device, ErrPartitionsMisaligned), pp...)
			break
		}
	}
	if !v.before(3) {
		zero, gone, sectors, mib := false, false, false, false
		for _, pt := range d.Partitions {
			zero = zero || pt.Number == 0
			gone = gone || (pt.ShouldExist != nil && !*pt.ShouldExist)
			sectors = sectors || pt.Start != nil || pt.Size != nil
			mib = mib || pt.StartMiB != nil || pt.SizeMiB != nil
		}
		if zero && gone {
			v.err(ErrZeroesWithShouldNotExist, pp...)
		}
		if sectors && mib {
			v.err(ErrPartitionsUnitsMismatch, pp...)
		}
	}
}

// partitionsOverlap is the 2.x check: only partitions with an explicit,
// non-zero start in sectors take part; a size of 0 ("fill the free space")
// makes the partition end where it starts.
func partitionsOverlap(ps []Partition) bool {
	end := func(p Partition) int {
		if *p.Size == 0 {
			return *p.Start
		}
		return *p.Start + *p.Size - 1
	}
	usable := func(p Partition) bool { return p.Start != nil && p.Size != nil && *p.Start != 0 }
	for i, a := range ps {
		if !usable(a) {
			continue
		}
		for j, b := range ps {
			if i == j || !usable(b) {
				continue
			}
			as, ae, bs, be := *a.Start, end(a), *b.Start, end(b)
			if (as >= bs && as <= be) || (ae >= bs && ae <= be) || (as < bs && ae > be) {
				return true
			}
		}
	}
	return false
}

var labelLimits = map[string]int{"ext4": 16, "btrfs": 256, "xfs": 12, "swap": 15, "vfat": 11}

func (v *validator) filesystem(f *Filesystem, p []any) {
	if f.Mount == nil && f.Path == nil {
		v.err(ErrFilesystemNoMountPath, p...)
	}
	if f.Path != nil && validatePath(*f.Path) != nil {
		v.err(fmt.Errorf("filesystem %q: path not absolute", f.Name), cat(p, "path")...)
	}
	m := f.Mount
	if m == nil {
		return
	}
	mp := cat(p, "mount")
	if f.Path != nil {
		v.err(ErrFilesystemMountAndPath, p...)
	}
	if m.Create != nil {
		if m.WipeFilesystem {
			v.err(ErrUsedCreateAndWipe, cat(mp, "create")...)
		}
		if len(m.Options) > 0 {
			v.err(ErrUsedCreateAndMountOpts, cat(mp, "create")...)
		}
		v.warn(ErrWarningCreateDeprecated, cat(mp, "create")...)
	}
	limit, ok := labelLimits[m.Format]
	if v.before(1) && (m.Format == "swap" || m.Format == "vfat") {
		ok = false // 2.0 knew ext4, btrfs and xfs only
	}
	if !ok {
		v.err(ErrFilesystemInvalidFormat, cat(mp, "format")...)
	}
	v.err(validatePath(m.Device), cat(mp, "device")...)
	if m.Label != nil && ok && len(*m.Label) > limit {
		v.err(fmt.Errorf("filesystem labels cannot be longer than %d characters when using %s", limit, m.Format), cat(mp, "label")...)
	}
}

var unitExts = map[string]bool{
	".service": true, ".socket": true, ".device": true, ".mount": true, ".automount": true, ".swap": true,
	".target": true, ".path": true, ".timer": true, ".snapshot": true, ".slice": true, ".scope": true,
}

func parseUnit(contents string) ([]*unit.UnitOption, error) {
	if contents == "" {
		return nil, nil
	}
	opts, err := unit.DeserializeOptions(strings.NewReader(contents))
	if err != nil {
		return nil, fmt.Errorf("invalid unit content: %w", err)
	}
	return opts, nil
}

func (v *validator) unit(u *Unit, p []any) {
	if !unitExts[path.Ext(u.Name)] {
		v.err(ErrInvalidSystemdExt, cat(p, "name")...)
	}
	opts, err := parseUnit(u.Contents)
	if err != nil {
		v.err(err, cat(p, "contents")...)
	} else if (u.Enable || (u.Enabled != nil && *u.Enabled)) && u.Contents != "" {
		has := false
		for _, o := range opts {
			if o.Section == "Install" {
				has = true
			}
		}
		if !has {
			v.warn(fmt.Errorf("unit %q is enabled, but has no install section so enable does nothing", u.Name), cat(p, "contents")...)
		}
	}
	for j, d := range u.Dropins {
		dp := cat(p, "dropins", j)
		if path.Ext(d.Name) != ".conf" {
			v.err(ErrInvalidSystemdDropinExt, cat(dp, "name")...)
		}
		if _, err := parseUnit(d.Contents); err != nil {
			v.err(err, cat(dp, "contents")...)
		}
	}
}

func (v *validator) networkd(u *Networkdunit, p []any) {
	switch path.Ext(u.Name) {
	case ".link", ".netdev", ".network":
	default:
		v.err(ErrInvalidNetworkdExt, cat(p, "name")...)
	}
	if _, err := parseUnit(u.Contents); err != nil {
		v.err(err, cat(p, "contents")...)
	}
	for j, d := range u.Dropins {
		dp := cat(p, "dropins", j)
		if path.Ext(d.Name) != ".conf" {
			v.err(ErrInvalidNetworkdDropinExt, cat(dp, "name")...)
		}
		if _, err := parseUnit(d.Contents); err != nil {
			v.err(err, cat(dp, "contents")...)
		}
	}
}

// v1 validates a spec 1 config (the subset of rules spec 1 had).
func (v *validator) v1(c *V1Config) {
	for i, d := range c.Storage.Disks {
		p := []any{"storage", "disks", i}
		v.err(validatePath(d.Device), cat(p, "device")...)
		for j, pt := range d.Partitions {
			if len(pt.Label) > 36 {
				v.err(ErrLabelTooLong, cat(p, "partitions", j, "label")...)
			}
			if !guidRegex.MatchString(pt.TypeGUID) {
				v.err(ErrDoesntMatchGUIDRegex, cat(p, "partitions", j, "typeGuid")...)
			}
		}
	}
	for i, fs := range c.Storage.Filesystems {
		p := []any{"storage", "filesystems", i}
		v.err(validatePath(fs.Device), cat(p, "device")...)
		if _, ok := labelLimits[fs.Format]; !ok {
			v.err(ErrFilesystemInvalidFormat, cat(p, "format")...)
		}
		for j, f := range fs.Files {
			v.err(validatePath(f.Path), cat(p, "files", j, "path")...)
			if f.Mode < 0 || f.Mode > 07777 {
				v.err(ErrFileIllegalMode, cat(p, "files", j, "mode")...)
			}
		}
	}
	for i, u := range c.Systemd.Units {
		p := []any{"systemd", "units", i}
		if !unitExts[path.Ext(u.Name)] {
			v.err(ErrInvalidSystemdExt, cat(p, "name")...)
		}
		if _, err := parseUnit(u.Contents); err != nil {
			v.err(err, cat(p, "contents")...)
		}
		for j, d := range u.DropIns {
			if path.Ext(d.Name) != ".conf" {
				v.err(ErrInvalidSystemdDropinExt, cat(p, "dropins", j, "name")...)
			}
		}
	}
	for i, u := range c.Networkd.Units {
		switch path.Ext(u.Name) {
		case ".link", ".netdev", ".network":
		default:
			v.err(ErrInvalidNetworkdExt, "networkd", "units", i, "name")
		}
	}
}
