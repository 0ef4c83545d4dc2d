package log

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// The progress line: when a logger writes to a terminal (`flint apply` run
// by a person), the last line of the terminal shows what flint is doing
// now: the stage, how many operations finished, the operation running
// longest and the latest Progress note (bytes of a download, the device a
// wait waits for). Log lines scroll above it. Nothing of this happens when
// the output is not a terminal (a pipe, a file, the journal).

// termLine is the state of the progress line; it is guarded by core.mu.
type termLine struct {
	width   int
	start   time.Time
	shown   bool
	drawn   time.Time
	stage   string
	done    int
	seq     uint64
	running map[uint64]runningOp
	note    string
}

type runningOp struct {
	what  string
	start time.Time
}

// redrawEvery throttles redraws that no log line forces.
const redrawEvery = 100 * time.Millisecond

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// UseProgressLine shows a progress line below the log lines when the
// logger's output is a terminal, and reports whether it does. EndProgress
// removes it.
func (l *Logger) UseProgressLine() bool {
	if l == nil || !IsTerminal(l.c.out) {
		return false
	}
	width := 80
	if ws, err := unix.IoctlGetWinsize(int(l.c.out.(*os.File).Fd()), unix.TIOCGWINSZ); err == nil && ws.Col > 0 {
		width = int(ws.Col)
	}
	l.c.mu.Lock()
	l.c.term = &termLine{width: width, start: time.Now(), running: map[uint64]runningOp{}}
	l.c.mu.Unlock()
	return true
}

// EndProgress erases the progress line and stops showing it.
func (l *Logger) EndProgress() {
	if l == nil {
		return
	}
	l.c.mu.Lock()
	defer l.c.mu.Unlock()
	if t := l.c.term; t != nil {
		t.erase(l.c.out)
		l.c.term = nil
	}
}

func (l *Logger) termStart(what string) uint64 {
	l.c.mu.Lock()
	defer l.c.mu.Unlock()
	t := l.c.term
	if t == nil {
		return 0
	}
	t.seq++
	t.running[t.seq] = runningOp{what: what, start: time.Now()}
	if s := l.stageName(); s != "" {
		t.stage = s
	}
	t.draw(l.c.out, false)
	return t.seq
}

func (l *Logger) termEnd(id uint64) {
	l.c.mu.Lock()
	defer l.c.mu.Unlock()
	t := l.c.term
	if t == nil {
		return
	}
	delete(t.running, id)
	t.done++
	t.draw(l.c.out, false)
}

func (l *Logger) termStage(stage string) {
	l.c.mu.Lock()
	defer l.c.mu.Unlock()
	if t := l.c.term; t != nil {
		t.stage, t.note = stage, ""
	}
}

// termNote shows msg on the progress line; false when there is none.
func (l *Logger) termNote(msg string) bool {
	l.c.mu.Lock()
	defer l.c.mu.Unlock()
	t := l.c.term
	if t == nil {
		return false
	}
	t.note = msg
	t.draw(l.c.out, true)
	return true
}

// text is the progress line, at most width-1 columns.
func (t *termLine) text(now time.Time) string {
	var b strings.Builder
	b.WriteString("flint")
	if t.stage != "" {
		b.WriteString(" " + t.stage)
	}
	fmt.Fprintf(&b, " [%s] %d done", now.Sub(t.start).Truncate(100*time.Millisecond), t.done)
	var oldest *runningOp
	for _, r := range t.running {
		if oldest == nil || r.start.Before(oldest.start) {
			r := r
			oldest = &r
		}
	}
	if oldest != nil {
		fmt.Fprintf(&b, ", %d running: %s (%s)", len(t.running), oldest.what, now.Sub(oldest.start).Truncate(100*time.Millisecond))
	}
	if t.note != "" {
		b.WriteString(" | " + t.note)
	}
	s := strings.Map(func(r rune) rune {
		if r < ' ' {
			return ' '
		}
		return r
	}, b.String())
	if r := []rune(s); len(r) > t.width-1 {
		s = string(r[:max(t.width-2, 1)]) + "…"
	}
	return s
}

func (t *termLine) draw(w io.Writer, force bool) {
	now := time.Now()
	if !force && t.shown && now.Sub(t.drawn) < redrawEvery {
		return
	}
	fmt.Fprint(w, "\r\033[K"+t.text(now))
	t.shown, t.drawn = true, now
}

func (t *termLine) erase(w io.Writer) {
	if t.shown {
		fmt.Fprint(w, "\r\033[K")
		t.shown = false
	}
}

// printLine writes a log line above the progress line.
func (t *termLine) printLine(w io.Writer, line string) {
	t.erase(w)
	fmt.Fprintln(w, line)
	t.draw(w, true)
}
