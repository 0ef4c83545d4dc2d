package legacy

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"

	"github.com/coreos/go-semver/semver"
	vpath "github.com/coreos/vcontext/path"
	"github.com/coreos/vcontext/report"
	"github.com/flintboot/flint/config"
)

// The 2.x rule set (Flatcar's 2.x validator), written once. Messages are the
// 2.x ones; every entry also carries its JSON path. Rules the 2.x and 3.x
// validators share (URLs, hashes, GUIDs, modes, RAID levels, filesystem
// labels, unit contents, partition overlap) are the config package's.

// ErrZeroesWithShouldNotExist is Flatcar's 2.3/2.4 rule only: no 3.x
// validator has it (issue 16).
var ErrZeroesWithShouldNotExist = errors.New("shouldExist is false for a partition and other partition(s) has start or size 0")

// deprecated marks entries the 2.x validator reported with kind
// "deprecated". Flatcar's translation refuses a config that has any; flint
// reports them as warnings when validating 2.x rules and the translation
// turns them into errors.
var deprecated = map[string]bool{config.ErrSizeDeprecated.Error(): true, config.ErrStartDeprecated.Error(): true}

type validator struct {
	ver   semver.Version
	r     report.Report
	units config.UnitParser
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

// 2.x URL schemes and hashes: Flatcar's 2.0 validator knew http, https,
// oem, efi and data; its 2.1–2.4 validators add tftp and s3. Every 2.x
// version knew sha512 only.
var (
	schemes20 = map[string]bool{"http": true, "https": true, "oem": true, "efi": true, "data": true}
	schemes21 = map[string]bool{"http": true, "https": true, "oem": true, "efi": true, "data": true, "tftp": true, "s3": true}
	hashes2   = map[string]bool{"sha512": true}
)

// validateURL checks a 2.x source URL; empty means an empty file.
func (v *validator) validateURL(s string) error {
	switch {
	case s == "":
		return nil
	case v.before(1):
		return config.ValidateURL(s, schemes20)
	}
	return config.ValidateURL(s, schemes21)
}

func validatePath(p string) error {
	if !path.IsAbs(p) {
		return config.ErrPathRelative
	}
	return nil
}

func (v *validator) headers(hs []HTTPHeader, src string, p []any) {
	if len(hs) == 0 {
		return
	}
	if u, err := url.Parse(src); err == nil && u.Scheme != "http" && u.Scheme != "https" {
		v.err(config.ErrUnsupportedSchemeForHTTPHeaders, p...)
	}
	seen := map[string]bool{}
	for i, h := range hs {
		if h.Name == "" {
			v.err(config.ErrEmptyHTTPHeaderName, cat(p, i, "name")...)
		}
		if seen[h.Name] {
			v.err(config.ErrDuplicateHTTPHeaders, cat(p, i)...)
		}
		seen[h.Name] = true
	}
}

func (v *validator) ref(src string, ver config.Verification, hs []HTTPHeader, p []any) {
	v.err(v.validateURL(src), cat(p, "source")...)
	if ver.Hash != nil {
		v.err(config.HashError(*ver.Hash, hashes2), cat(p, "verification", "hash")...)
	}
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
	v.warn(config.ErrPasswdCreateDeprecated, cat(p, "create")...)
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
			v.err(config.ErrPasswdCreateAndUserLevel(c.name), p...)
		}
	}
}

func (v *validator) storage(s *Storage) {
	for i := range s.Disks {
		v.disk(&s.Disks[i], []any{"storage", "disks", i})
	}
	for i, r := range s.Raid {
		p := []any{"storage", "raid", i}
		switch known, noSpares := config.RaidLevel(r.Level); {
		case !known:
			v.err(config.ErrUnrecognizedRaidLevel, cat(p, "level")...)
		case noSpares && r.Spares != 0:
			v.err(config.ErrSparesUnsupported2, cat(p, "level")...)
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
			v.err(config.ErrAppendAndOverwrite, cat(p, "overwrite")...)
		}
		switch f.Contents.Compression {
		case "", "gzip":
		default:
			v.err(config.ErrCompressionInval, cat(p, "contents", "compression")...)
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
		// 2.x checks nothing on a link beyond its node (no target rule)
		v.node(&s.Links[i].Node, []any{"storage", "links", i})
	}
}

func (v *validator) mode(m *int, p []any) {
	if m == nil {
		if !v.before(2) {
			v.warn(config.ErrPermissionsUnset, p...)
		}
		return
	}
	v.err(config.ModeError(*m), p...)
}

func (v *validator) node(n *Node, p []any) {
	if n.Filesystem == "" {
		v.err(config.ErrNoFilesystem, cat(p, "filesystem")...)
	}
	v.err(validatePath(n.Path), cat(p, "path")...)
	if n.User != nil && n.User.ID != nil && n.User.Name != "" {
		v.err(config.ErrBothIDAndNameSet, cat(p, "user")...)
	}
	if n.Group != nil && n.Group.ID != nil && n.Group.Name != "" {
		v.err(config.ErrBothIDAndNameSet, cat(p, "group")...)
	}
}

// partitionLabel: 2.x warns (3.x refuses) about a colon.
func (v *validator) partitionLabel(l string, p []any) {
	if len(l) > 36 {
		v.err(config.ErrLabelTooLong, p...)
	}
	if strings.Contains(l, ":") {
		v.warn(config.ErrLabelContainsColon, p...)
	}
}

func (v *validator) disk(d *Disk, p []any) {
	if d.Device == "" {
		v.err(config.ErrDiskDeviceRequired, cat(p, "device")...)
	} else {
		v.err(validatePath(d.Device), cat(p, "device")...)
	}
	for i := range d.Partitions {
		pt := &d.Partitions[i]
		pp := cat(p, "partitions", i)
		if (pt.Start != nil || pt.Size != nil) && (pt.StartMiB != nil || pt.SizeMiB != nil) {
			v.err(config.ErrPartitionsUnitsMismatch, pp...)
		}
		if pt.ShouldExist != nil && !*pt.ShouldExist && (pt.Label != nil || pt.TypeGUID != "" || pt.GUID != "" || pt.Start != nil || pt.Size != nil) {
			v.err(config.ErrShouldNotExistWithOthers, pp...)
		}
		// "deprecated" entries of the 2.3+ validators (the older ones had
		// sectors only and said nothing)
		if pt.Size != nil && !v.before(3) {
			v.warn(config.ErrSizeDeprecated, cat(pp, "size")...)
		}
		if pt.Start != nil && !v.before(3) {
			v.warn(config.ErrStartDeprecated, cat(pp, "start")...)
		}
		if pt.Label != nil {
			v.partitionLabel(*pt.Label, cat(pp, "label"))
		}
		v.err(config.GUIDError(pt.TypeGUID), cat(pp, "typeGuid")...)
		v.err(config.GUIDError(pt.GUID), cat(pp, "guid")...)
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
		v.err(fmt.Errorf("disk %q: %w", d.Device, config.ErrPartitionNumbersCollide), pp...)
	}
	// the 2.x overlap check is the 3.x one in sectors
	if _, overlap := config.OverlapAt(len(d.Partitions), func(i int) (int, int, bool) {
		pt := &d.Partitions[i]
		if pt.Start == nil || pt.Size == nil {
			return 0, 0, false
		}
		return *pt.Start, *pt.Size, true
	}); overlap {
		v.err(fmt.Errorf("disk %q: %w", d.Device, config.ErrPartitionsOverlap), pp...)
	}
	for _, pt := range d.Partitions {
		if pt.Start != nil && *pt.Start&(2048-1) != 0 {
			v.err(fmt.Errorf("disk %q: %w", d.Device, config.ErrPartitionsMisaligned), pp...)
			break
		}
	}
	if !v.before(3) {
		// Flatcar's 2.3/2.4 rule (no 3.x validator has it): a partition
		// that must not exist next to one numbered 0
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
			v.err(config.ErrPartitionsUnitsMismatch, pp...)
		}
	}
}

// format checks a 2.x filesystem format: the 2.1+ formats are exactly those
// with a label limit; 2.0 knew ext4, btrfs and xfs only.
func (v *validator) format(format string, p []any) (int, bool) {
	limit, ok := config.LabelLimit(format)
	if v.before(1) && (format == "swap" || format == "vfat") {
		ok = false
	}
	if !ok {
		v.err(config.ErrFilesystemInvalidFormat, p...)
	}
	return limit, ok
}

func (v *validator) filesystem(f *Filesystem, p []any) {
	if f.Mount == nil && f.Path == nil {
		v.err(config.ErrFilesystemNoMountPath, p...)
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
		v.err(config.ErrFilesystemMountAndPath, p...)
	}
	if m.Create != nil {
		if m.WipeFilesystem {
			v.err(config.ErrUsedCreateAndWipe, cat(mp, "create")...)
		}
		if len(m.Options) > 0 {
			v.err(config.ErrUsedCreateAndMountOpts, cat(mp, "create")...)
		}
		v.warn(config.ErrWarningCreateDeprecated, cat(mp, "create")...)
	}
	limit, ok := v.format(m.Format, cat(mp, "format"))
	v.err(validatePath(m.Device), cat(mp, "device")...)
	if m.Label != nil && ok && len(*m.Label) > limit {
		v.err(config.LabelTooLongError(m.Format, limit), cat(mp, "label")...)
	}
}

// contents checks unit contents; 2.x parsed them with the same parser.
func (v *validator) contents(s string, p []any) error {
	_, err := v.units.Parse(s)
	v.err(err, p...)
	return err
}

// dropin checks a systemd or networkd drop-in: a .conf name (else extErr)
// and valid contents.
func (v *validator) dropin(name, contents string, extErr error, p []any) {
	if path.Ext(name) != ".conf" {
		v.err(extErr, cat(p, "name")...)
	}
	v.contents(contents, cat(p, "contents"))
}

func (v *validator) unitName(name string, p []any) {
	if !config.UnitExtensionValid(name) {
		v.err(config.ErrInvalidSystemdExt, p...)
	}
}

func (v *validator) networkdName(name string, p []any) {
	switch path.Ext(name) {
	case ".link", ".netdev", ".network":
	default:
		v.err(config.ErrInvalidNetworkdExt, p...)
	}
}

func (v *validator) unit(u *Unit, p []any) {
	v.unitName(u.Name, cat(p, "name"))
	opts, err := v.units.Parse(u.Contents)
	v.err(err, cat(p, "contents")...)
	if err == nil && (u.Enable || (u.Enabled != nil && *u.Enabled)) && u.Contents != "" && !config.HasInstallSection(opts) {
		v.warn(config.NoInstallSectionError(u.Name), cat(p, "contents")...)
	}
	for j, d := range u.Dropins {
		v.dropin(d.Name, d.Contents, config.ErrInvalidDropinExt, cat(p, "dropins", j))
	}
}

// networkd checks a networkd unit and its drop-ins (2.2+), as Flatcar's
// Networkdunit and NetworkdDropin rules do.
func (v *validator) networkd(u *Networkdunit, p []any) {
	v.networkdName(u.Name, cat(p, "name"))
	v.contents(u.Contents, cat(p, "contents"))
	for j, d := range u.Dropins {
		v.dropin(d.Name, d.Contents, config.ErrInvalidNetworkdDropinExt, cat(p, "dropins", j))
	}
}

// v1 validates a spec 1 config (the subset of rules spec 1 had).
func (v *validator) v1(c *V1Config) {
	for i, d := range c.Storage.Disks {
		p := []any{"storage", "disks", i}
		v.err(validatePath(d.Device), cat(p, "device")...)
		for j, pt := range d.Partitions {
			if len(pt.Label) > 36 {
				v.err(config.ErrLabelTooLong, cat(p, "partitions", j, "label")...)
			}
			v.err(config.GUIDError(pt.TypeGUID), cat(p, "partitions", j, "typeGuid")...)
		}
	}
	for i, fs := range c.Storage.Filesystems {
		p := []any{"storage", "filesystems", i}
		v.err(validatePath(fs.Device), cat(p, "device")...)
		if _, ok := config.LabelLimit(fs.Format); !ok {
			v.err(config.ErrFilesystemInvalidFormat, cat(p, "format")...)
		}
		for j, f := range fs.Files {
			v.err(validatePath(f.Path), cat(p, "files", j, "path")...)
			v.err(config.ModeError(f.Mode), cat(p, "files", j, "mode")...)
		}
	}
	for i, u := range c.Systemd.Units {
		p := []any{"systemd", "units", i}
		v.unitName(u.Name, cat(p, "name"))
		v.contents(u.Contents, cat(p, "contents"))
		for j, d := range u.DropIns {
			if path.Ext(d.Name) != ".conf" {
				v.err(config.ErrInvalidDropinExt, cat(p, "dropins", j, "name")...)
			}
		}
	}
	for i, u := range c.Networkd.Units {
		v.networkdName(u.Name, []any{"networkd", "units", i, "name"})
	}
}
