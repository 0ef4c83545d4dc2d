package report

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/flintboot/flint/log"
	"github.com/flintboot/flint/stages"
)

// Analyze writes `flint analyze blame` (blame) or `flint analyze show` of
// the first boot recorded in o.Root; an error when nothing is recorded.
func Analyze(w io.Writer, o Options, blame bool) error {
	s, err := Read(o)
	if err != nil {
		return err
	}
	recs := s.Records()
	if len(recs) == 0 {
		return fmt.Errorf("no stages recorded in %s: %s", orDefault(o.Root, "/"), Evaluate(s, o).Line())
	}
	if blame {
		Blame(w, recs)
	} else {
		Show(w, s, recs)
	}
	return nil
}

// Blame writes one line per recorded operation, slowest first (like
// systemd-analyze blame), then the per-kind totals of every operation,
// recorded or not. Records without operations (result files of older
// flint versions, stages that did nothing) are listed by stage.
func Blame(w io.Writer, recs []stages.StageRecord) {
	type line struct {
		d     int64
		stage string
		op    log.OpRecord
	}
	var lines []line
	kept, total := 0, 0
	for _, r := range recs {
		for _, op := range r.Ops {
			lines = append(lines, line{op.DurationUS, r.Name, op})
		}
		kept += len(r.Ops)
		total += max(r.OpCount, len(r.Ops))
	}
	if len(lines) == 0 {
		fmt.Fprintln(w, "no operation timings recorded; the stages, slowest first:")
		rs := append([]stages.StageRecord(nil), recs...)
		sort.SliceStable(rs, func(i, j int) bool { return rs[i].DurationMS > rs[j].DurationMS })
		for _, r := range rs {
			fmt.Fprintf(w, "%10s %s (%s)\n", fmtDur(r.DurationMS*1000), r.Name, r.Status)
		}
		return
	}
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].d > lines[j].d })
	for _, l := range lines {
		failed := ""
		if l.op.Failed {
			failed = "  (failed)"
		}
		fmt.Fprintf(w, "%10s %s: %s%s\n", fmtDur(l.d), l.stage, l.op.Op, failed)
	}
	if total > kept {
		fmt.Fprintf(w, "(%d of %d operations shown: the result file keeps the %d slowest of each stage)\n", kept, total, log.MaxRecordedOps)
	}
	type kind struct {
		stage string
		log.KindStat
	}
	var kinds []kind
	for _, r := range recs {
		for _, k := range r.Kinds {
			kinds = append(kinds, kind{r.Name, k})
		}
	}
	if len(kinds) == 0 {
		return
	}
	sort.SliceStable(kinds, func(i, j int) bool { return kinds[i].TotalUS > kinds[j].TotalUS })
	fmt.Fprintln(w, "\nby kind, largest total first:")
	fmt.Fprintf(w, "%10s %6s %10s  %s\n", "total", "count", "slowest", "stage: kind")
	for _, k := range kinds {
		failed := ""
		if k.Failed > 0 {
			failed = fmt.Sprintf("  (%d failed)", k.Failed)
		}
		fmt.Fprintf(w, "%10s %6d %10s  %s: %s%s\n", fmtDur(k.TotalUS), k.Count, fmtDur(k.MaxUS), k.stage, k.Kind, failed)
	}
}

// Show writes the stage tree: each stage with its start offset (from the
// first stage's start), duration and outcome, and under it its recorded
// operations in start order, nested where one ran inside another.
func Show(w io.Writer, s *Snapshot, recs []stages.StageRecord) {
	if len(recs) == 0 {
		fmt.Fprintln(w, "no stages recorded")
		return
	}
	origin := recs[0].Started
	var total int64
	for _, r := range recs {
		for _, op := range r.Ops {
			if op.Started.Before(origin) {
				origin = op.Started
			}
		}
		total += r.DurationMS
	}
	head := "first boot"
	if s != nil && s.Result != nil {
		head = fmt.Sprintf("provisioning boot %s (%s), platform %s", orUnknown(s.Result.ProvisioningBootID),
			orUnknown(s.Result.ProvisioningDate), orUnknown(s.Result.Platform))
	}
	fmt.Fprintf(w, "%s: %d stages, %s in stages\n", head, len(recs), fmtDur(total*1000))
	for _, r := range recs {
		detail := fmt.Sprintf("%d actions", r.Actions)
		if r.OpCount > 0 {
			detail += fmt.Sprintf(", %d operations", r.OpCount)
		}
		fmt.Fprintf(w, "%9s  %-14s %9s  %s (%s)\n", offset(r.Started, origin), r.Name, fmtDur(r.DurationMS*1000), r.Status, detail)
		if r.Error != "" {
			fmt.Fprintf(w, "%11s error: %s\n", "", bound(r.Error, 400))
		}
		ops := append([]log.OpRecord(nil), r.Ops...)
		sort.SliceStable(ops, func(i, j int) bool {
			if !ops[i].Started.Equal(ops[j].Started) {
				return ops[i].Started.Before(ops[j].Started)
			}
			return ops[i].DurationUS > ops[j].DurationUS
		})
		var open []time.Time // ends of the enclosing operations
		for _, op := range ops {
			end := op.Started.Add(time.Duration(op.DurationUS) * time.Microsecond)
			for len(open) > 0 && open[len(open)-1].Before(end) {
				open = open[:len(open)-1]
			}
			failed := ""
			if op.Failed {
				failed = "  (failed)"
			}
			fmt.Fprintf(w, "%11s%9s %9s  %s%s%s\n", "", offset(op.Started, origin), fmtDur(op.DurationUS),
				strings.Repeat("  ", len(open)), op.Op, failed)
			open = append(open, end)
		}
		if r.OpCount > len(r.Ops) {
			fmt.Fprintf(w, "%11s%9s %9s  (%d faster operations not kept; flint analyze blame shows their totals)\n", "", "", "", r.OpCount-len(r.Ops))
		}
	}
}

func offset(t, origin time.Time) string {
	if t.IsZero() || origin.IsZero() {
		return "?"
	}
	return "+" + fmtDur(t.Sub(origin).Microseconds())
}

// fmtDur prints microseconds the way systemd-analyze does: 1.234s, 56ms,
// 789us.
func fmtDur(us int64) string {
	switch {
	case us >= 60_000_000:
		d := time.Duration(us) * time.Microsecond
		return fmt.Sprintf("%dmin %.3fs", int(d.Minutes()), (d % time.Minute).Seconds())
	case us >= 1_000_000:
		return fmt.Sprintf("%.3fs", float64(us)/1e6)
	case us >= 1000:
		return fmt.Sprintf("%dms", us/1000)
	}
	return fmt.Sprintf("%dus", us)
}

func bound(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
