// Package log is flint's one logger. It writes to journald with
// SYSLOG_IDENTIFIER=flint when a journal socket exists, otherwise to a writer
// (stderr by default) with a fixed-width severity prefix.
//
// Callers must never pass secrets or config bodies: log sources (URLs
// without userinfo or query, see Redact), hashes and sizes instead.
package log

import (
	"fmt"
	"io"
	"net/url"
	"os"
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

// Logger writes log lines. The zero value is not usable; use New or Default.
type Logger struct {
	mu      sync.Mutex
	out     io.Writer
	journal bool
	min     Level
	prefix  []string
}

var std = New(os.Stderr)

// New returns a logger that writes text lines to w.
func New(w io.Writer) *Logger { return &Logger{out: w, min: LevelDebug} }

// Default returns the process-wide logger.
func Default() *Logger { return std }

// SetDefault replaces the process-wide logger (cli does this once at start).
func SetDefault(l *Logger) { std = l }

// UseJournal switches the logger to journald when it is available and
// reports whether it did.
func (l *Logger) UseJournal() bool {
	if !journal.Enabled() {
		return false
	}
	l.mu.Lock()
	l.journal = true
	l.mu.Unlock()
	return true
}

// SetLevel drops messages less severe than min.
func (l *Logger) SetLevel(min Level) { l.min = min }

// With returns a logger that prefixes every message with p (e.g. a stage
// name), sharing the output.
func (l *Logger) With(p string) *Logger {
	return &Logger{out: l.out, journal: l.journal, min: l.min, prefix: append(append([]string{}, l.prefix...), p)}
}

func (l *Logger) log(lv Level, format string, args ...any) {
	if lv > l.min {
		return
	}
	msg := fmt.Sprintf(format, args...)
	if len(l.prefix) > 0 {
		msg = strings.Join(l.prefix, ": ") + ": " + msg
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.journal {
		if journal.Send(msg, jprio[lv], map[string]string{"SYSLOG_IDENTIFIER": "flint"}) == nil {
			return
		}
	}
	fmt.Fprintf(l.out, "%s %s\n", prefixes[lv], msg)
}

func (l *Logger) Crit(format string, args ...any)    { l.log(LevelCrit, format, args...) }
func (l *Logger) Error(format string, args ...any)   { l.log(LevelErr, format, args...) }
func (l *Logger) Warn(format string, args ...any)    { l.log(LevelWarning, format, args...) }
func (l *Logger) Notice(format string, args ...any)  { l.log(LevelNotice, format, args...) }
func (l *Logger) Info(format string, args ...any)    { l.log(LevelInfo, format, args...) }
func (l *Logger) Debugf(format string, args ...any)  { l.log(LevelDebug, format, args...) }
func (l *Logger) Printf(format string, args ...any)  { l.log(LevelInfo, format, args...) }
func (l *Logger) Warning(format string, args ...any) { l.log(LevelWarning, format, args...) }

// Op logs "[started] <what>" and returns a function that logs
// "[finished] <what> (duration)" or "[failed] <what> (duration): err".
// Typical use:
//
//	done := log.Op("writing file %q", p)
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

// Package-level shorthands on the default logger.
func Info(format string, args ...any)   { std.log(LevelInfo, format, args...) }
func Warn(format string, args ...any)   { std.log(LevelWarning, format, args...) }
func Error(format string, args ...any)  { std.log(LevelErr, format, args...) }
func Debugf(format string, args ...any) { std.log(LevelDebug, format, args...) }
func Op(format string, args ...any) func(error) {
	return std.Op(format, args...)
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
