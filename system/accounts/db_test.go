package accounts

import (
	"maps"
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
		if got, want := tb.usedIDs(2), fresh(); !maps.Equal(got, want) {
			t.Fatalf("after %s: kept %v, counted %v", step, got, want)
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
	if tb.usedIDs(2)[0] != 2 || tb.usedIDs(2)[1000] != 0 {
		t.Fatalf("counts %v", tb.usedIDs(2))
	}
}
