package log

import (
	"sort"
	"strings"
	"time"
)

// Every Op is recorded on the logger's core, whatever the level, so that
// each stage's operations reach the result file (and `flint analyze`)
// without the stages doing any bookkeeping: the engine takes what was
// recorded after each stage (TakeOps) into the stage's record. The record
// is bounded: the MaxRecordedOps slowest operations, and per-kind totals of
// all of them (at most MaxOpKinds kinds, the rest counted as "other").

const (
	// MaxRecordedOps is how many operations one TakeOps keeps (the slowest).
	MaxRecordedOps = 40
	// MaxOpKinds bounds the per-kind totals of one TakeOps.
	MaxOpKinds = 32
	// maxOpText bounds the text of one recorded operation.
	maxOpText = 200
)

// OpRecord is one recorded operation.
type OpRecord struct {
	Op         string    `json:"op"`
	Kind       string    `json:"kind"`
	Started    time.Time `json:"started"`
	DurationUS int64     `json:"durationUs"`
	Failed     bool      `json:"failed,omitempty"`
}

// KindStat totals the operations of one kind.
type KindStat struct {
	Kind    string `json:"kind"`
	Count   int    `json:"count"`
	TotalUS int64  `json:"totalUs"`
	MaxUS   int64  `json:"maxUs"`
	Failed  int    `json:"failed,omitempty"`
}

// OpSummary is what TakeOps returns: the slowest operations in start
// order, the per-kind totals (largest total first) and how many operations
// there were in all.
type OpSummary struct {
	Ops     []OpRecord `json:"ops,omitempty"`
	Kinds   []KindStat `json:"opKinds,omitempty"`
	OpCount int        `json:"opCount,omitempty"`
}

type recorder struct {
	ops   []OpRecord
	kinds map[string]*KindStat
	count int
}

func (l *Logger) record(format, what string, start time.Time, d time.Duration, failed bool) {
	if len(what) > maxOpText {
		what = what[:maxOpText] + "…"
	}
	r := OpRecord{Op: what, Kind: opKind(format, what), Started: start.UTC(), DurationUS: d.Microseconds(), Failed: failed}
	l.c.mu.Lock()
	defer l.c.mu.Unlock()
	rec := &l.c.rec
	rec.count++
	if rec.kinds == nil {
		rec.kinds = map[string]*KindStat{}
	}
	k := rec.kinds[r.Kind]
	if k == nil {
		// MaxOpKinds-1 named kinds, then everything else is "other"
		named := len(rec.kinds)
		if rec.kinds["other"] != nil {
			named--
		}
		if named >= MaxOpKinds-1 {
			r.Kind = "other"
			k = rec.kinds["other"]
		}
		if k == nil {
			k = &KindStat{Kind: r.Kind}
			rec.kinds[r.Kind] = k
		}
	}
	k.Count++
	k.TotalUS += r.DurationUS
	k.MaxUS = max(k.MaxUS, r.DurationUS)
	if failed {
		k.Failed++
	}
	if len(rec.ops) < MaxRecordedOps {
		rec.ops = append(rec.ops, r)
		return
	}
	// replace the fastest kept operation when this one is slower; a
	// failed operation is always kept (it replaces the fastest that did
	// not fail)
	min := -1
	for i, o := range rec.ops {
		if o.Failed {
			continue
		}
		if min < 0 || o.DurationUS < rec.ops[min].DurationUS {
			min = i
		}
	}
	if min >= 0 && (failed || r.DurationUS > rec.ops[min].DurationUS) {
		rec.ops[min] = r
	}
}

// TakeOps returns the operations recorded by l's family since the last
// TakeOps and starts a new record.
func (l *Logger) TakeOps() OpSummary {
	if l == nil {
		return OpSummary{}
	}
	l.c.mu.Lock()
	rec := l.c.rec
	l.c.rec = recorder{}
	l.c.mu.Unlock()
	s := OpSummary{Ops: rec.ops, OpCount: rec.count}
	sort.SliceStable(s.Ops, func(i, j int) bool { return s.Ops[i].Started.Before(s.Ops[j].Started) })
	for _, k := range rec.kinds {
		s.Kinds = append(s.Kinds, *k)
	}
	sort.Slice(s.Kinds, func(i, j int) bool {
		if s.Kinds[i].TotalUS != s.Kinds[j].TotalUS {
			return s.Kinds[i].TotalUS > s.Kinds[j].TotalUS
		}
		return s.Kinds[i].Kind < s.Kinds[j].Kind
	})
	return s
}

// opKind names the kind of an operation from its format: the words before
// the first parenthesis, without the formatting verbs and trailing
// prepositions ("creating filesystem %s on %s" is "creating filesystem").
// A format that starts with a verb ("%s %q") is named from its text instead,
// without quoted, numeric and path-like words ("writing file").
func opKind(format, what string) string {
	src, fromText := format, false
	if strings.HasPrefix(strings.TrimSpace(format), "%") {
		src, fromText = what, true
	}
	var words []string
	for _, w := range strings.Fields(src) {
		if strings.HasPrefix(w, "(") {
			break
		}
		if strings.Contains(w, "%") || fromText && strings.ContainsAny(w, "\"'`/0123456789") {
			continue
		}
		words = append(words, w)
	}
	for len(words) > 0 {
		switch words[len(words)-1] {
		case "on", "from", "for", "with", "to", "of", "at", "in", "into", "and":
			words = words[:len(words)-1]
			continue
		}
		break
	}
	if len(words) == 0 {
		return "other"
	}
	k := strings.Join(words, " ")
	if len(k) > 60 {
		k = k[:60]
	}
	return k
}
