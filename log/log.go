// Package log is flint's one logger. It writes to journald with
// SYSLOG_IDENTIFIER=flint when a journal socket exists, otherwise to a writer
// (stderr by default) with a fixed-width severity prefix.
//
// There is no process-wide logger: whoever needs one is given one. A nil
// *Logger is valid and discards everything, so "no logger" needs no special
// case. A logger and every logger derived from it with With share one
// output, one lock and one level.
//
// Callers must never pass secrets or config bodies: log sources (URLs
// without userinfo or query, see Redact), hashes and sizes instead.
package log

import (
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-systemd/v22/journal"
)

// Level is a syslog-style severity.
type Level int

const (
	LevelCrit Level = iota
	LevelErr
	LevelWarning
	LevelNotice
	LevelInfo
	LevelDebug
)

var prefixes = [...]string{"CRITICAL :", "ERROR    :", "WARNING  :", "NOTICE   :", "INFO     :", "DEBUG    :"}
var jprio = [...]journal.Priority{journal.PriCrit, journal.PriErr, journal.PriWarning, journal.PriNotice, journal.PriInfo, journal.PriDebug}

// core is what a logger and all its children share.
type core struct {
	mu      sync.Mutex
	out     io.Writer
	journal bool
	min     Level
}

// Logger writes log lines. Use New; a nil *Logger discards.
type Logger struct {
	c      *core
	prefix []string
}

// New returns a logger that writes text lines to w at every level.
func New(w io.Writer) *Logger { return &Logger{c: &core{out: w, min: LevelDebug}} }

// UseJournal switches the logger (and its children) to journald when it is
// available and reports whether it did.
func (l *Logger) UseJournal() bool {
	if l == nil || !journal.Enabled() {
		return false
	}
	l.c.mu.Lock()
	l.c.journal = true
	l.c.mu.Unlock()
	return true
}

// SetLevel drops messages less severe than min, for l and every logger
// sharing its output.
func (l *Logger) SetLevel(min Level) {
	if l == nil {
		return
	}
	l.c.mu.Lock()
	l.c.min = min
	l.c.mu.Unlock()
}

// Enabled reports whether messages at lv are written.
func (l *Logger) Enabled(lv Level) bool {
	if l == nil {
		return false
	}
	l.c.mu.Lock()
	defer l.c.mu.Unlock()
	return lv <= l.c.min
}

// With returns a logger that prefixes every message with p (e.g. a stage
// name), sharing the output, lock and level.
func (l *Logger) With(p string) *Logger {
	if l == nil {
		return nil
	}
	return &Logger{c: l.c, prefix: append(append([]string{}, l.prefix...), p)}
}

func (l *Logger) log(lv Level, format string, args ...any) {
	if l == nil {
		return
	}
	l.c.mu.Lock()
	defer l.c.mu.Unlock()
	if lv > l.c.min {
		return
	}
	msg := fmt.Sprintf(format, args...)
	if len(l.prefix) > 0 {
		msg = strings.Join(l.prefix, ": ") + ": " + msg
	}
	if l.c.journal {
		if journal.Send(msg, jprio[lv], map[string]string{"SYSLOG_IDENTIFIER": "flint"}) == nil {
			return
		}
	}
	fmt.Fprintf(l.c.out, "%s %s\n", prefixes[lv], msg)
}

func (l *Logger) Crit(format string, args ...any)   { l.log(LevelCrit, format, args...) }
func (l *Logger) Error(format string, args ...any)  { l.log(LevelErr, format, args...) }
func (l *Logger) Warn(format string, args ...any)   { l.log(LevelWarning, format, args...) }
func (l *Logger) Notice(format string, args ...any) { l.log(LevelNotice, format, args...) }
func (l *Logger) Info(format string, args ...any)   { l.log(LevelInfo, format, args...) }
func (l *Logger) Debugf(format string, args ...any) { l.log(LevelDebug, format, args...) }

// Op logs "[started] <what>" and returns a function that logs
// "[finished] <what> (duration)" or "[failed] <what> (duration): err".
// Typical use:
//
//	done := l.Op("writing file %q", p)
//	err := write()
//	done(err)
func (l *Logger) Op(format string, args ...any) func(error) {
	what := fmt.Sprintf(format, args...)
	start := time.Now()
	l.log(LevelInfo, "[started]  %s", what)
	return func(err error) {
		d := time.Since(start).Round(time.Millisecond)
		if err != nil {
			l.log(LevelErr, "[failed]   %s (%s): %v", what, d, err)
			return
		}
		l.log(LevelInfo, "[finished] %s (%s)", what, d)
	}
}

// Redact returns a URL fit for logs: no userinfo, no query, no fragment.
// data: URLs are reduced to their media type.
func Redact(raw string) string {
	if strings.HasPrefix(raw, "data:") {
		mt := strings.TrimPrefix(raw, "data:")
		if i := strings.IndexAny(mt, ",;"); i >= 0 {
			mt = mt[:i]
		}
		return "data:" + mt + ",<redacted>"
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparsable url>"
	}
	u.User = nil
	u.RawQuery = ""
	u.ForceQuery = false
	u.Fragment = ""
	u.RawFragment = ""
	return u.String()
}
