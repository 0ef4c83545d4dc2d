package accounts

import (
	"fmt"
	"sort"
	"strconv"
)

// idRange is get_ranges of shadow's find_new_uid/find_new_gid: the
// automatic range and the lowest id a requested id may have.
func (t *Txn) idRange(kind string, sys bool) (min, max, prefMin int64, err error) {
	// kind is "UID" or "GID"
	if sys {
		prefMin = 1
		min = t.defs.ulong("SYS_"+kind+"_MIN", 101)
		max = t.defs.ulong("SYS_"+kind+"_MAX", t.defs.ulong(kind+"_MIN", 1000)-1)
		if max < min {
			return 0, 0, 0, fmt.Errorf("invalid configuration: SYS_%s_MIN (%d), %s_MIN (%d), SYS_%s_MAX (%d)",
				kind, min, kind, t.defs.ulong(kind+"_MIN", 1000), kind, max)
		}
		if min == 0 {
			min = 1
		}
		return min, max, prefMin, nil
	}
	min = t.defs.ulong(kind+"_MIN", 1000)
	max = t.defs.ulong(kind+"_MAX", 60000)
	if max < min {
		return 0, 0, 0, fmt.Errorf("invalid configuration: %s_MIN (%d), %s_MAX (%d)", kind, min, kind, max)
	}
	return min, max, min, nil
}

// newID is find_new_uid/find_new_gid: a requested (preferred) id when it is
// free and in range; otherwise, for normal accounts, one above the highest
// id in use within the range (wrapping to the lowest free one), for system
// accounts, one below the lowest id in use within the range, else from the
// top down. 65535 and 4294967295 are never handed out.
func (t *Txn) newID(kind string, sys bool, used *idSet, preferred *int64) (int64, error) {
	min, max, prefMin, err := t.idRange(kind, sys)
	if err != nil {
		return 0, err
	}
	usable := func(id, lo, hi int64) bool {
		return id >= lo && id <= hi && id != 65535 && id != 4294967295 && !used.has(id) && !t.reserved[kind][id]
	}
	if preferred != nil && usable(*preferred, prefMin, max) {
		return *preferred, nil
	}
	if sys {
		lowest := max
		if id, ok := used.lowestIn(min, max); ok {
			lowest = id - 1
		}
		if lowest < min {
			lowest = max
		}
		for id := lowest; id >= min; id-- {
			if usable(id, min, max) {
				return id, nil
			}
		}
		if lowest != max {
			for id := max; id >= min; id-- {
				if usable(id, min, max) {
					return id, nil
				}
			}
		}
	} else {
		highest := min
		if id, ok := used.highestIn(min, max); ok {
			highest = id + 1
		}
		if highest > max {
			highest = min
		}
		for id := highest; id <= max; id++ {
			if usable(id, min, max) {
				return id, nil
			}
		}
		if highest != min {
			for id := min; id <= max; id++ {
				if usable(id, min, max) {
					return id, nil
				}
			}
		}
	}
	if kind == "UID" {
		return 0, fmt.Errorf("can't get unique UID (no more available UIDs)")
	}
	return 0, fmt.Errorf("can't get unique GID (no more available GIDs)")
}

// Reserve marks the ids ops ask for explicitly, so that allocation for
// the accounts without an id passes over them (shadow-utils, running the
// ops one by one, would hand such an id to an earlier account and then
// refuse the later one as "not unique"). An id already in use is left to
// the op that asks for it to refuse.
func (t *Txn) Reserve(ops []Op) {
	t.reserved = map[string]map[int64]bool{"UID": {}, "GID": {}}
	for _, op := range ops {
		switch op.Kind {
		case "useradd", "usermod":
			if op.User.UID != nil {
				t.reserved["UID"][int64(*op.User.UID)] = true
			}
		case "groupadd", "groupmod":
			if op.Group.GID != nil {
				t.reserved["GID"][int64(*op.Group.GID)] = true
			}
		}
	}
}

// subRange finds a free subordinate id range the way shadow's
// find_free_range does: the database is sorted by start, count, owner
// (unparsable lines last) and rewritten in that order, then the first hole
// of count ids at or above min (not past max) is taken.
func (t *Txn) subRange(tb *table, kind string) (int64, int64, error) {
	min := t.defs.ulong("SUB_"+kind+"_MIN", 100000)
	max := t.defs.ulong("SUB_"+kind+"_MAX", 600100000)
	count := t.defs.ulong("SUB_"+kind+"_COUNT", 65536)
	if min > max || count >= max || min+count-1 > max {
		return 0, 0, fmt.Errorf("invalid configuration: SUB_%s_MIN (%d), SUB_%s_MAX (%d), SUB_%s_COUNT (%d)", kind, min, kind, max, kind, count)
	}
	tb.byName, tb.nisFrom = nil, 0 // reordered
	sort.SliceStable(tb.lines, func(i, j int) bool {
		a, b := tb.lines[i], tb.lines[j]
		if a.f == nil || b.f == nil {
			return a.f != nil && b.f == nil
		}
		as, bs := atoi64(a.f[1]), atoi64(b.f[1])
		if as != bs {
			return as < bs
		}
		ac, bc := atoi64(a.f[2]), atoi64(b.f[2])
		if ac != bc {
			return ac < bc
		}
		return a.f[0] < b.f[0]
	})
	tb.changed = true
	low := min
	for _, e := range tb.lines {
		if e.f == nil {
			continue
		}
		first := atoi64(e.f[1])
		last := first + atoi64(e.f[2]) - 1
		high := first
		if high > max+1 {
			high = max + 1
		}
		if high > low && high-low >= count {
			return low, count, nil
		}
		if low < last+1 {
			low = last + 1
		}
		if low > max {
			return 0, 0, fmt.Errorf("no free subordinate %s range", kind)
		}
	}
	if max-low+1 >= count {
		return low, count, nil
	}
	return 0, 0, fmt.Errorf("no free subordinate %s range", kind)
}

func atoi64(s string) int64 {
	v, _ := strconv.ParseInt(s, 10, 64)
	return v
}
