package disks

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/flintboot/flint/config"
	"github.com/flintboot/flint/system"
)

// partSpec is one configured partition with MiB values converted to
// logical sectors. nil Start/Size mean "unset" (keep what exists, or let
// sgdisk choose); 0 means "start of the largest free block" / "fill".
type partSpec struct {
	Number      int
	Label       *string
	Start       *int64
	Size        *int64
	TypeGUID    *string
	GUID        *string
	ShouldExist bool
	Wipe        bool
	Resize      bool
	// Fresh: a number 0 partition given a free number; it is created,
	// never matched against an entry this run deletes under that number.
	Fresh bool
}

// Partition actions decided by the matrix.
const (
	partAbsent   = "absent"   // shouldn't exist and doesn't
	partKeep     = "keep"     // exists and matches
	partCreate   = "create"   // doesn't exist, should
	partDelete   = "delete"   // exists, shouldn't, wipePartitionEntry
	partRecreate = "recreate" // exists, mismatches, wipePartitionEntry
	partResize   = "resize"   // exists, only the size differs, resize
)

type partDecision struct {
	Spec   partSpec // what will exist afterwards (real start/size where known)
	Action string
	Reason string // why it is recreated, for the plan
}

// diskPlan is everything planned for one disk.
type diskPlan struct {
	Device    string // as configured
	cfg       config.Disk
	Dev       string // resolved node (or image file)
	WipeTable bool
	Table     *Table // as read before any change
	Decisions []partDecision
	Args      []string // sgdisk arguments without the device; nil: no write
}

// pending: the disk was not there when planning; Apply waits for it and
// plans it before the first write.
func (d *diskPlan) pending() bool { return d.Dev == "" }

func mibToSectors(mib *int, sectorSize int64) *int64 {
	if mib == nil {
		return nil
	}
	v := int64(*mib) * (1 << 20) / sectorSize
	return &v
}

func isTrue(b *bool) bool { return b != nil && *b }

// specsFromConfig converts the config partitions; number 0 ones are
// sorted last and given a number: the existing partition with the same
// label (flint's addition, so that re-running a config keeps what the
// first run made), else the number sgdisk's --new=0 would take when the
// write runs: the lowest one free once this run's deletions are done and
// the partitions before it are created. Such a partition is Fresh: it is
// created even when its number is one this run deletes.
func specsFromConfig(parts []config.Partition, t *Table) []partSpec {
	used := map[int]bool{}
	for _, e := range t.Entries {
		used[e.Number] = true
	}
	for _, p := range parts {
		if p.Number == 0 {
			continue
		}
		// A numbered partition that should not exist is absent after the
		// write (deleted, or the plan refuses the config).
		used[p.Number] = p.ShouldExist == nil || *p.ShouldExist
	}
	var specs, zero []partSpec
	for _, p := range parts {
		s := partSpec{
			Number:      p.Number,
			Label:       p.Label,
			Start:       mibToSectors(p.StartMiB, t.SectorSize),
			Size:        mibToSectors(p.SizeMiB, t.SectorSize),
			TypeGUID:    p.TypeGUID,
			GUID:        p.GUID,
			ShouldExist: p.ShouldExist == nil || *p.ShouldExist,
			Wipe:        isTrue(p.WipePartitionEntry),
			Resize:      isTrue(p.Resize),
		}
		if s.Number == 0 {
			zero = append(zero, s)
		} else {
			specs = append(specs, s)
		}
	}
	claimed := map[int]bool{}
	for i := range zero {
		if zero[i].Label != nil {
			for _, e := range t.Entries {
				if e.Label == *zero[i].Label && !claimed[e.Number] && used[e.Number] {
					zero[i].Number = e.Number
					claimed[e.Number] = true
					break
				}
			}
		}
		if zero[i].Number == 0 {
			n := 1
			for used[n] {
				n++
			}
			zero[i].Number = n
			zero[i].Fresh = true
			used[n] = true
		}
	}
	return append(specs, zero...)
}

// sgdiskOps accumulates one sgdisk invocation: zap, then deletions, then
// creations (the order sgdisk applies them in is the argument order).
type sgdiskOps struct {
	zap     bool
	clear   bool // --clear instead of --zap-all (used with --pretend)
	deletes []int
	creates []partSpec
	infos   []int
}

func (o *sgdiskOps) args() []string {
	var a []string
	if o.zap {
		a = append(a, "--zap-all")
	}
	if o.clear {
		a = append(a, "--clear")
	}
	for _, n := range o.deletes {
		a = append(a, fmt.Sprintf("--delete=%d", n))
	}
	// Partitions with a fixed start go first, so that those left to
	// sgdisk ("start of the largest free block") cannot take their place.
	creates := make([]partSpec, 0, len(o.creates))
	for _, p := range o.creates {
		if p.Start != nil && *p.Start != 0 {
			creates = append(creates, p)
		}
	}
	for _, p := range o.creates {
		if p.Start == nil || *p.Start == 0 {
			creates = append(creates, p)
		}
	}
	for _, p := range creates {
		start, end := "0", "0"
		if p.Start != nil {
			start = strconv.FormatInt(*p.Start, 10)
		}
		if p.Size != nil && *p.Size != 0 {
			end = "+" + strconv.FormatInt(*p.Size, 10)
		}
		a = append(a, fmt.Sprintf("--new=%d:%s:%s", p.Number, start, end))
		if p.Label != nil {
			a = append(a, fmt.Sprintf("--change-name=%d:%s", p.Number, *p.Label))
		}
		if p.TypeGUID != nil && *p.TypeGUID != "" {
			a = append(a, fmt.Sprintf("--typecode=%d:%s", p.Number, strings.ToUpper(*p.TypeGUID)))
		}
		if p.GUID != nil && *p.GUID != "" {
			a = append(a, fmt.Sprintf("--partition-guid=%d:%s", p.Number, strings.ToUpper(*p.GUID)))
		}
	}
	for _, n := range o.infos {
		a = append(a, fmt.Sprintf("--info=%d", n))
	}
	return a
}

func (o *sgdiskOps) empty() bool {
	return !o.zap && !o.clear && len(o.deletes) == 0 && len(o.creates) == 0
}

type dims struct{ start, size int64 }

// parsePretend reads the "--info" blocks of `sgdisk --pretend` output, one
// per requested partition, in order.
func parsePretend(out []byte, numbers []int) (map[int]dims, error) {
	res := map[int]dims{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	i := -1
	var cur dims
	have := 0
	flush := func() error {
		if i < 0 {
			return nil
		}
		if have != 3 {
			return fmt.Errorf("sgdisk --info for partition %d: first/last sector missing", numbers[i])
		}
		res[numbers[i]] = dims{cur.start, cur.size - cur.start + 1}
		return nil
	}
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "Partition GUID code:"):
			if err := flush(); err != nil {
				return nil, err
			}
			i++
			if i >= len(numbers) {
				return nil, fmt.Errorf("sgdisk printed more partitions than the %d requested", len(numbers))
			}
			cur, have = dims{}, 0
		case strings.HasPrefix(line, "Partition #") && strings.HasSuffix(line, "does not exist."):
			n := 0
			if i+1 < len(numbers) {
				n = numbers[i+1]
			}
			return nil, fmt.Errorf("sgdisk: partition %d would not exist: %s", n, line)
		case strings.HasPrefix(line, "First sector:") && i >= 0:
			v, err := leadingInt(strings.TrimPrefix(line, "First sector:"))
			if err != nil {
				return nil, fmt.Errorf("parsing sgdisk output %q: %w", line, err)
			}
			cur.start = v
			have |= 1
		case strings.HasPrefix(line, "Last sector:") && i >= 0:
			v, err := leadingInt(strings.TrimPrefix(line, "Last sector:"))
			if err != nil {
				return nil, fmt.Errorf("parsing sgdisk output %q: %w", line, err)
			}
			cur.size = v // last sector for now
			have |= 2
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	if len(res) != len(numbers) {
		return nil, fmt.Errorf("sgdisk printed %d of %d requested partitions", len(res), len(numbers))
	}
	return res, nil
}

func leadingInt(s string) (int64, error) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return 0, errors.New("no number")
	}
	return strconv.ParseInt(f[0], 10, 64)
}

// resolveDimensions computes the real start and size of partitions whose
// start or size is 0 with `sgdisk --pretend`, exactly as the write would
// lay them out; unset values of existing partitions take the existing ones
// (unless the entry may be wiped).
func resolveDimensions(ctx context.Context, r system.Runner, dev string, wipe bool, t *Table, specs []partSpec) ([]partSpec, error) {
	out := make([]partSpec, len(specs))
	copy(out, specs)
	ops := &sgdiskOps{clear: wipe}
	for i := range out {
		p := &out[i]
		if e, ok := t.Entry(p.Number); ok && !p.Fresh {
			ops.deletes = append(ops.deletes, p.Number)
			if p.Start == nil && !p.Wipe {
				v := e.Start
				p.Start = &v
			}
			if p.Size == nil && !p.Wipe {
				v := e.Size
				p.Size = &v
			}
		}
		if p.ShouldExist {
			c := *p
			c.Label, c.GUID, c.TypeGUID = nil, nil, nil
			ops.creates = append(ops.creates, c)
		}
	}
	for _, p := range out {
		if p.ShouldExist && ((p.Start != nil && *p.Start == 0) || (p.Size != nil && *p.Size == 0)) {
			ops.infos = append(ops.infos, p.Number)
		}
	}
	// The real values only matter to compare with existing partitions:
	// when none of the configured ones exists (a wiped or blank table),
	// every one is created and sgdisk resolves the zeros while writing.
	if len(ops.infos) == 0 || len(ops.deletes) == 0 {
		return out, nil
	}
	args := append([]string{"--pretend"}, ops.args()...)
	args = append(args, dev)
	res, err := r.Run(ctx, system.Cmd{Name: system.ToolSgdisk, Args: args})
	if err != nil {
		return nil, fmt.Errorf("computing partition layout of %s: %w", dev, err)
	}
	real, err := parsePretend(res.Stdout, ops.infos)
	if err != nil {
		return nil, fmt.Errorf("computing partition layout of %s: %w", dev, err)
	}
	for i := range out {
		d, ok := real[out[i].Number]
		if !ok {
			continue
		}
		if out[i].Start != nil {
			v := d.start
			out[i].Start = &v
		}
		if out[i].Size != nil {
			v := d.size
			out[i].Size = &v
		}
	}
	return out, nil
}

// matchCommon compares everything but the size; matchReason everything.
// Both return "" on a match, else the reason (texts as the reference's).
func matchCommon(e TableEntry, p partSpec) string {
	if p.Start != nil && *p.Start != e.Start {
		return fmt.Sprintf("starting sector did not match (specified %d, got %d)", *p.Start, e.Start)
	}
	if p.GUID != nil && *p.GUID != "" && !strings.EqualFold(*p.GUID, e.GUID) {
		return fmt.Sprintf("GUID did not match (specified %q, got %q)", *p.GUID, e.GUID)
	}
	if p.TypeGUID != nil && *p.TypeGUID != "" && !strings.EqualFold(*p.TypeGUID, e.TypeGUID) {
		return fmt.Sprintf("type GUID did not match (specified %q, got %q)", *p.TypeGUID, e.TypeGUID)
	}
	if p.Label != nil && *p.Label != e.Label {
		return fmt.Sprintf("label did not match (specified %q, got %q)", *p.Label, e.Label)
	}
	return ""
}

func matchReason(e TableEntry, p partSpec) string {
	if p.Start != nil && *p.Start != e.Start {
		return matchCommon(e, p)
	}
	if p.Size != nil && *p.Size != e.Size {
		return fmt.Sprintf("size did not match (specified %d, got %d)", *p.Size, e.Size)
	}
	return matchCommon(e, p)
}

// decide applies the reference's decision matrix to every partition and
// builds the one sgdisk call. active lists partition numbers in use
// (mounted, held, swap): they may be kept but never changed.
func decide(t *Table, wipe bool, specs []partSpec, active map[int]bool) ([]partDecision, *sgdiskOps, error) {
	ops := &sgdiskOps{zap: wipe}
	var out []partDecision
	for _, p := range specs {
		e, exists := t.Entry(p.Number)
		if wipe || p.Fresh {
			exists = false
		}
		reason := ""
		if exists {
			reason = matchReason(e, p)
		}
		matches := exists && reason == ""
		d := partDecision{Spec: p}
		switch {
		case !exists && !p.ShouldExist:
			d.Action = partAbsent
		case !exists && p.ShouldExist:
			d.Action = partCreate
			ops.creates = append(ops.creates, p)
		case exists && !p.ShouldExist && !p.Wipe:
			return nil, nil, fmt.Errorf("partition %d exists but is specified as nonexistant and wipePartitionEntry is false", p.Number)
		case exists && !p.ShouldExist && p.Wipe:
			d.Action = partDelete
			ops.deletes = append(ops.deletes, p.Number)
		case exists && p.ShouldExist && matches:
			d.Action = partKeep
			d.Spec = specFromEntry(e, p)
		case exists && p.ShouldExist && !p.Wipe && !matches:
			if p.Resize && matchCommon(e, p) == "" {
				n := specFromEntry(e, p)
				n.Size = p.Size
				d.Action, d.Spec, d.Reason = partResize, n, reason
				ops.deletes = append(ops.deletes, p.Number)
				ops.creates = append(ops.creates, n)
			} else {
				return nil, nil, fmt.Errorf("partition %d didn't match: %s", p.Number, reason)
			}
		default: // exists, should exist, wipe, mismatch
			d.Action, d.Reason = partRecreate, reason
			ops.deletes = append(ops.deletes, p.Number)
			ops.creates = append(ops.creates, p)
		}
		if active[p.Number] && d.Action != partKeep && d.Action != partAbsent {
			return nil, nil, fmt.Errorf("refusing to modify active partition %d", p.Number)
		}
		out = append(out, d)
	}
	sort.Ints(ops.deletes)
	return out, ops, nil
}

// specFromEntry is p with every unset field filled from the existing entry.
func specFromEntry(e TableEntry, p partSpec) partSpec {
	s, z, l, g, tg := e.Start, e.Size, e.Label, e.GUID, e.TypeGUID
	p.Start, p.Size, p.Label, p.GUID, p.TypeGUID = &s, &z, &l, &g, &tg
	return p
}
