package accounts

import (
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

// TestUsedIDsKeptCurrent: the id counts a table keeps through add,
// appendEnd, remove and set are those a fresh count of its lines gives.
func TestUsedIDsKeptCurrent(t *testing.T) {
	tb := parseTable("etc/group", []byte("root:x:0:\nbin:x:1:\nbad:x:zz:\nwheel:x:10:root\n"), 4, func(f []string) bool { return len(f) == 4 })
	fresh := func() map[int64]int {
		m := map[int64]int{}
		for _, e := range tb.lines {
			if e.f != nil {
				v, _ := strconv.ParseInt(e.f[2], 10, 64)
				m[v]++
			}
		}
		return m
	}
	check := func(step string) {
		t.Helper()
		got, want := tb.usedIDs(2), fresh()
		if !maps.Equal(got.n, want) || !slices.Equal(got.sorted, slices.Sorted(maps.Keys(want))) {
			t.Fatalf("after %s: kept %v %v, counted %v", step, got.n, got.sorted, want)
		}
	}
	check("parse")
	a := tb.add([]string{"a", "x", "1000", ""})
	tb.add([]string{"b", "x", "1000", ""})
	check("two adds of one gid")
	tb.remove(a)
	check("remove")
	tb.set(tb.find("b"), 2, "1001")
	check("set")
	tb.set(tb.find("b"), 3, "root")
	check("set of another field")
	tb.appendEnd([]string{"c", "x", "0", ""})
	tb.remove(tb.find("root"))
	check("appendEnd and remove of a shared gid")
	if ids := tb.usedIDs(2); ids.n[0] != 2 || ids.has(1000) || !ids.has(1001) {
		t.Fatalf("counts %v", ids.n)
	}
}

// TestIDSetExtremes: lowestIn and highestIn give what newID's walk over
// every id in use gave (the lowest and highest within the range), on
// random sets and ranges.
func TestIDSetExtremes(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		s := &idSet{n: map[int64]int{}}
		for range r.IntN(12) {
			s.count(strconv.Itoa(r.IntN(40)), 1)
		}
		lo := int64(r.IntN(40))
		hi := lo + int64(r.IntN(20))
		// the walks newID did before
		lowest, highest := hi, lo
		for id := range s.n {
			if id <= lowest && id >= lo {
				lowest = id - 1
			}
			if id >= highest && id <= hi {
				highest = id + 1
			}
		}
		wantLow, wantHigh := hi, lo
		if id, ok := s.lowestIn(lo, hi); ok {
			wantLow = id - 1
		}
		if id, ok := s.highestIn(lo, hi); ok {
			wantHigh = id + 1
		}
		if lowest != wantLow || highest != wantHigh {
			t.Fatalf("ids %v in [%d, %d]: walk gives %d/%d, set gives %d/%d", s.sorted, lo, hi, lowest, highest, wantLow, wantHigh)
		}
	}
}

// TestTableIndexes: find returns the first entry of a name through add,
// remove and reordering, and add places new entries before the first NIS
// line, as the walks over every line did.
func TestTableIndexes(t *testing.T) {
	tb := parseTable("etc/passwd", []byte("a:x:1:1::/:/bin/sh\ndup:x:2:2::/:/bin/sh\ndup:x:3:3::/:/bin/sh\n+nis\n-other\n"), 7,
		func(f []string) bool { return len(f) == 7 })
	if e := tb.find("dup"); e == nil || e.f[2] != "2" {
		t.Fatalf("find dup: %v", e)
	}
	tb.add([]string{"b", "x", "10", "10", "", "/", "/bin/sh"})
	tb.add([]string{"c", "x", "11", "11", "", "/", "/bin/sh"})
	tb.remove(tb.find("a"))
	tb.add([]string{"d", "x", "12", "12", "", "/", "/bin/sh"})
	if got, want := string(tb.bytes()), "dup:x:2:2::/:/bin/sh\ndup:x:3:3::/:/bin/sh\nb:x:10:10::/:/bin/sh\nc:x:11:11::/:/bin/sh\nd:x:12:12::/:/bin/sh\n+nis\n-other\n"; got != want {
		t.Fatalf("lines:\n%s\nwant:\n%s", got, want)
	}
	tb.remove(tb.find("dup"))
	if e := tb.find("dup"); e == nil || e.f[2] != "3" {
		t.Fatalf("find dup after removing the first: %v", e)
	}
	if tb.find("a") != nil || tb.find("d") == nil {
		t.Fatal("find after remove/add")
	}
	tb.appendEnd([]string{"c", "x", "99", "99", "", "/", "/bin/sh"})
	if e := tb.find("c"); e.f[2] != "11" {
		t.Fatalf("appendEnd of an existing name changed find: %v", e.f)
	}
}
