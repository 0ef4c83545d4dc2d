package config

import (
	"bufio"
	"errors"
	"path"
	"strings"

	"github.com/coreos/go-systemd/v22/unit"
)

// Rules that the legacy (spec 1 and 2.x) validator applies as well: each is
// written once, here or in validate.go, and exported so that the legacy
// package reports it without a second copy. Where a rule is Flatcar's 2.x
// rule only, it lives in config/legacy.

// HashError checks a verification hash ("<function>-<hex sum>") under a set
// of hash functions. The error is ErrHashMalformed, ErrHashUnrecognized or
// ErrHashWrongSize.
func HashError(h string, functions map[string]bool) error {
	v := validator{ver: VersionInfo{Hashes: functions}}
	v.hash(&h, nil)
	if len(v.r.Entries) == 0 {
		return nil
	}
	msg := v.r.Entries[0].Message
	for _, e := range []error{ErrHashMalformed, ErrHashUnrecognized, ErrHashWrongSize} {
		if e.Error() == msg {
			return e
		}
	}
	return errors.New(msg)
}

// GUIDError checks a partition (type) GUID: empty, or the 8-4-4-4-12 hex
// form.
func GUIDError(g string) error { return validateGUID(&g) }

// ModeError checks a file or directory mode (0 to 07777).
func ModeError(m int) error { return validateMode(&m) }

// UnitExtensionValid reports whether a unit name ends in the extension of a
// systemd unit type.
func UnitExtensionValid(name string) bool { return unitExts[path.Ext(name)] }

// UnitParser parses unit contents with go-systemd's parser, as ParseUnit
// does, but reuses one read buffer for all its calls (the parser otherwise
// allocates 4 KiB per unit: most of what validating a large config
// allocated). The zero value is ready to use; it is not safe for concurrent
// use.
type UnitParser struct {
	sr strings.Reader
	br *bufio.Reader
}

// Parse parses unit contents; errors read "invalid unit content: …".
func (p *UnitParser) Parse(contents string) ([]*unit.UnitOption, error) {
	p.sr.Reset(contents)
	if p.br == nil {
		// go-systemd wraps its reader in bufio.NewReader, which returns a
		// *bufio.Reader of at least its default size as it is
		p.br = bufio.NewReaderSize(&p.sr, 4096)
	} else {
		p.br.Reset(&p.sr)
	}
	opts, err := unit.DeserializeOptions(p.br)
	if err != nil {
		return nil, errInvalidUnit(err)
	}
	return opts, nil
}

// HasInstallSection reports whether parsed unit contents have an [Install]
// section (enabling a unit without one does nothing).
func HasInstallSection(opts []*unit.UnitOption) bool {
	for _, o := range opts {
		if o.Section == "Install" {
			return true
		}
	}
	return false
}

// NoInstallSectionError is the warning for an enabled unit without an
// [Install] section.
func NoInstallSectionError(unit string) error { return errNoInstallSection(unit) }

// filesystem label length limits by format
var labelLimits = map[string]int{"ext4": 16, "btrfs": 256, "xfs": 12, "swap": 15, "vfat": 11}

// LabelLimit returns the longest filesystem label a format takes, and
// whether the format has a limit (spec 2.x knew exactly these formats).
func LabelLimit(format string) (int, bool) {
	n, ok := labelLimits[format]
	return n, ok
}

// LabelTooLongError is the error for a label over LabelLimit.
func LabelTooLongError(format string, limit int) error { return errLabelTooLong(format, limit) }

// raidLevels lists the md levels (and their aliases) every spec version
// takes; the first four stripe without redundancy, so they take no spares.
var raidLevels = []string{"linear", "raid0", "0", "stripe", "raid1", "1", "mirror", "raid4", "4", "raid5", "5", "raid6", "6", "raid10", "10"}

// RaidLevel tells whether level is a known md level and whether it is one
// without redundancy (which may not have spares).
func RaidLevel(level string) (known, noSpares bool) {
	for i, l := range raidLevels {
		if l == level {
			return true, i < 4
		}
	}
	return false, false
}

// OverlapAt is the reference's partition overlap check over n partitions:
// span gives a partition's start and size (ok false: it takes no part, as
// one without both or with a start of 0 does); a size of 0 ("fill the free
// space") ends where it starts. It returns the index of the partition an
// earlier-checked one overlaps.
func OverlapAt(n int, span func(i int) (start, size int, ok bool)) (int, bool) {
	end := func(start, size int) int {
		if size == 0 {
			return start
		}
		return start + size - 1
	}
	for i := 0; i < n; i++ {
		as, asz, ok := span(i)
		if !ok || as == 0 {
			continue
		}
		ae := end(as, asz)
		for j := 0; j < n; j++ {
			bs, bsz, ok := span(j)
			if i == j || !ok || bs == 0 {
				continue
			}
			be := end(bs, bsz)
			if (as >= bs && as <= be) || (ae >= bs && ae <= be) || (as < bs && ae > be) {
				return j, true
			}
		}
	}
	return 0, false
}
