package log

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestOpKind(t *testing.T) {
	for _, c := range []struct{ format, what, want string }{
		{"writing file %q", `writing file "/etc/x"`, "writing file"},
		{"creating filesystem %s on %s", "creating filesystem ext4 on /dev/vda1", "creating filesystem"},
		{"mounting %s on %s (%s)", "mounting /dev/vda1 on /sysroot (ext4)", "mounting"},
		{"adding %d SSH keys for %q", `adding 2 SSH keys for "core"`, "adding SSH keys"},
		{"fetching %d remote resources", "fetching 3 remote resources", "fetching remote resources"},
		{"qemu: reading fw_cfg %s (%d bytes)", "qemu: reading fw_cfg opt/com.coreos/config (12 bytes)", "qemu: reading fw_cfg"},
		{"%s %q", `creating directory "/var/www"`, "creating directory"},
		{"%s group %q", `adding group "wheel"`, "adding group"},
		{"%s", "/dev/vda", "other"},
		{"partitioning %s", "partitioning /dev/vda", "partitioning"},
	} {
		if got := opKind(c.format, c.what); got != c.want {
			t.Errorf("opKind(%q, %q) = %q, want %q", c.format, c.what, got, c.want)
		}
	}
}

// TestRecordBounds: the record keeps the MaxRecordedOps slowest operations
// (failed ones always), totals every operation by kind with at most
// MaxOpKinds kinds, and TakeOps starts a new record.
func TestRecordBounds(t *testing.T) {
	l := New(&bytes.Buffer{})
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	const n = 500
	for i := 0; i < n; i++ {
		// durations 0..499 us in a shuffled order; op 7 fails and is fast
		d := time.Duration((i*211)%n) * time.Microsecond
		l.record("writing file %q", fmt.Sprintf("writing file %q", fmt.Sprint("/f", i)), start.Add(time.Duration(i)*time.Millisecond), d, i == 7)
	}
	for i := 0; i < 2*MaxOpKinds; i++ {
		l.record(fmt.Sprintf("kind%d %%s", i), "x", start, time.Microsecond, false)
	}
	s := l.TakeOps()
	if s.OpCount != n+2*MaxOpKinds {
		t.Errorf("OpCount %d", s.OpCount)
	}
	if len(s.Ops) != MaxRecordedOps {
		t.Fatalf("%d ops kept, want %d", len(s.Ops), MaxRecordedOps)
	}
	failedKept := false
	for i, o := range s.Ops {
		if i > 0 && o.Started.Before(s.Ops[i-1].Started) {
			t.Errorf("ops not in start order at %d", i)
		}
		if o.Failed {
			failedKept = true
			continue
		}
		if o.DurationUS < n-MaxRecordedOps {
			t.Errorf("kept a fast op: %+v", o)
		}
	}
	if !failedKept {
		t.Error("the failed operation was dropped")
	}
	if len(s.Kinds) != MaxOpKinds {
		t.Errorf("%d kinds, want %d", len(s.Kinds), MaxOpKinds)
	}
	var wf, other *KindStat
	for i := range s.Kinds {
		switch s.Kinds[i].Kind {
		case "writing file":
			wf = &s.Kinds[i]
		case "other":
			other = &s.Kinds[i]
		}
	}
	if wf == nil || wf.Count != n || wf.Failed != 1 || wf.MaxUS != n-1 || wf.TotalUS != n*(n-1)/2 {
		t.Errorf("writing file totals: %+v", wf)
	}
	if other == nil || other.Count != 2*MaxOpKinds-(MaxOpKinds-2) {
		t.Errorf("other: %+v", other)
	}
	if s2 := l.TakeOps(); s2.OpCount != 0 || len(s2.Ops) != 0 {
		t.Errorf("TakeOps did not start a new record: %+v", s2)
	}
}

// TestOpLines: Op writes [started]/[finished]/[failed] lines, redacts URLs
// in the error, and records whatever the level.
func TestOpLines(t *testing.T) {
	var b bytes.Buffer
	l := New(&b).With("files")
	done := l.Op("writing file %q", "/etc/a")
	done(nil)
	l.SetLevel(LevelErr)
	done = l.Op("fetching %s", "https://example.com/x")
	done(errors.New("GET https://user:CANARY@example.com/x?token=CANARY: server responded 500"))
	out := b.String()
	for _, want := range []string{
		`INFO     : files: [started]  writing file "/etc/a"`,
		`INFO     : files: [finished] writing file "/etc/a" (`,
		`ERROR    : files: [failed]   fetching https://example.com/x (`,
		`: GET https://example.com/x: server responded 500`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "CANARY") {
		t.Errorf("secret in the log:\n%s", out)
	}
	if strings.Contains(out, "[started]  fetching") {
		t.Error("an info line was written at error level")
	}
	s := l.TakeOps()
	if s.OpCount != 2 || len(s.Ops) != 2 || !s.Ops[1].Failed || s.Ops[0].Kind != "writing file" {
		t.Errorf("record: %+v", s)
	}
}

func TestEventsText(t *testing.T) {
	var b bytes.Buffer
	l := New(&b).With("disks")
	l.StageStarted()
	l.StageFinished(1500*time.Millisecond, 3)
	l.StageFailed(2*time.Second, "disks: mkfs https://h/x?secret=CANARY failed")
	l.ConfigFetched("cmdline:https://h/c.ign")
	want := "INFO     : disks: stage started\n" +
		"INFO     : disks: stage finished in 1.5s (3 actions)\n" +
		"ERROR    : disks: stage failed after 2s: disks: mkfs https://h/x failed\n" +
		"INFO     : disks: fetched config cmdline:https://h/c.ign\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestNilLogger(t *testing.T) {
	var l *Logger
	l.Info("x")
	l.Op("y")(errors.New("z"))
	l.StageStarted()
	l.Progress("p")
	if l.With("a").WithStage("b") != nil || l.UseProgressLine() || l.TakeOps().OpCount != 0 {
		t.Error("nil logger is not inert")
	}
	l.EndProgress()
}

func TestProgressText(t *testing.T) {
	now := time.Now()
	tl := &termLine{width: 200, start: now.Add(-3 * time.Second), stage: "files", done: 12,
		running: map[uint64]runningOp{1: {what: `writing file "/etc/a"`, start: now.Add(-time.Second)}}, note: "downloading x: 5 MB of 10 MB"}
	got := tl.text(now)
	if want := `flint files [3s] 12 done, 1 running: writing file "/etc/a" (1s) | downloading x: 5 MB of 10 MB`; got != want {
		t.Errorf("progress text %q, want %q", got, want)
	}
	tl.width = 40
	if got := tl.text(now); len([]rune(got)) != 39 || !strings.HasSuffix(got, "…") {
		t.Errorf("not cut to the terminal width: %q", got)
	}
	if IsTerminal(&bytes.Buffer{}) {
		t.Error("a buffer is a terminal")
	}
}
