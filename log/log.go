// Package log is flint's one logger. It writes to journald with
// SYSLOG_IDENTIFIER=flint when a journal socket exists, otherwise to a writer
// (stdout for `flint run`, stderr for the other commands) with a fixed-width
// severity prefix.
//
// There is no process-wide logger: whoever needs one is given one. A nil
// *Logger is valid and discards everything, so "no logger" needs no special
// case. A logger and every logger derived from it with With share one
// output, one lock, one level, one operation recorder (see Op and TakeOps)
// and, on a terminal, one progress line (see UseProgressLine).
//
// Journal entries carry structured fields (see docs/logging.md):
// FLINT_STAGE (the stage the logger belongs to), FLINT_OP (the operation of
// an Op line), FLINT_DURATION_USEC (finished and failed operations and
// stages), FLINT_ERROR (failed operations and stages) and, for the events of
// events.go, a fixed MESSAGE_ID.
//
// Callers must never pass secrets or config bodies: log sources (URLs
// without userinfo or query, see Redact), hashes and sizes instead. Error
// text of failed operations and stages is passed through RedactText.
package log

import (
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strconv"
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

// Identifier is the SYSLOG_IDENTIFIER of every journal entry flint writes.
const Identifier = "flint"

// core is what a logger and all its children share.
type core struct {
	mu      sync.Mutex
	out     io.Writer
	journal bool
	min     Level
	rec     recorder
	term    *termLine // non-nil while a progress line is shown on out
}

// Logger writes log lines. Use New; a nil *Logger discards.
type Logger struct {
	c      *core
	prefix []string
	stage  string
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
// sharing its output. Operations are recorded whatever the level.
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
// name), sharing the output, lock and level. Without WithStage, the first
// prefix is the entries' FLINT_STAGE.
func (l *Logger) With(p string) *Logger {
	if l == nil {
		return nil
	}
	return &Logger{c: l.c, prefix: append(append([]string{}, l.prefix...), p), stage: l.stage}
}

// WithStage returns a logger whose journal entries (and those of its
// children) carry FLINT_STAGE=stage, without a text prefix: the logger of
// one `flint run --stage` process.
func (l *Logger) WithStage(stage string) *Logger {
	if l == nil {
		return nil
	}
	return &Logger{c: l.c, prefix: l.prefix, stage: stage}
}

func (l *Logger) stageName() string {
	if l.stage != "" {
		return l.stage
	}
	if len(l.prefix) > 0 {
		return l.prefix[0]
	}
	return ""
}

// entry is one log line and its structured fields.
type entry struct {
	lv     Level
	msg    string
	id     string // MESSAGE_ID
	op     string // FLINT_OP
	dur    time.Duration
	hasDur bool   // FLINT_DURATION_USEC
	err    string // FLINT_ERROR
	vars   map[string]string
}

func (l *Logger) write(e entry) {
	if l == nil {
		return
	}
	l.c.mu.Lock()
	defer l.c.mu.Unlock()
	if e.lv > l.c.min {
		return
	}
	msg := e.msg
	if len(l.prefix) > 0 {
		msg = strings.Join(l.prefix, ": ") + ": " + msg
	}
	if l.c.journal {
		vars := map[string]string{"SYSLOG_IDENTIFIER": Identifier}
		if s := l.stageName(); s != "" {
			vars["FLINT_STAGE"] = s
		}
		if e.id != "" {
			vars["MESSAGE_ID"] = e.id
		}
		if e.op != "" {
			vars["FLINT_OP"] = e.op
		}
		if e.hasDur {
			vars["FLINT_DURATION_USEC"] = strconv.FormatInt(e.dur.Microseconds(), 10)
		}
		if e.err != "" {
			vars["FLINT_ERROR"] = e.err
		}
		for k, v := range e.vars {
			vars[k] = v
		}
		if journal.Send(msg, jprio[e.lv], vars) == nil {
			return
		}
	}
	line := prefixes[e.lv] + " " + msg
	if t := l.c.term; t != nil {
		t.printLine(l.c.out, line)
		return
	}
	fmt.Fprintln(l.c.out, line)
}

func (l *Logger) log(lv Level, format string, args ...any) {
	if !l.Enabled(lv) {
		return // not formatted: a plan logs a debug line per action
	}
	l.write(entry{lv: lv, msg: fmt.Sprintf(format, args...)})
}

func (l *Logger) Crit(format string, args ...any)   { l.log(LevelCrit, format, args...) }
func (l *Logger) Error(format string, args ...any)  { l.log(LevelErr, format, args...) }
func (l *Logger) Warn(format string, args ...any)   { l.log(LevelWarning, format, args...) }
func (l *Logger) Notice(format string, args ...any) { l.log(LevelNotice, format, args...) }
func (l *Logger) Info(format string, args ...any)   { l.log(LevelInfo, format, args...) }
func (l *Logger) Debugf(format string, args ...any) { l.log(LevelDebug, format, args...) }

// Op logs "[started] <what>" and returns a function that logs
// "[finished] <what> (duration)" or "[failed] <what> (duration): err"
// and records the operation for TakeOps (its kind, start and duration).
// Typical use:
//
//	done := l.Op("writing file %q", p)
//	err := write()
//	done(err)
//
// The format is what groups operations into kinds for `flint analyze`
// ("writing file %q" is the kind "writing file"), so keep the arguments
// out of the leading words.
func (l *Logger) Op(format string, args ...any) func(error) {
	if l == nil {
		return func(error) {}
	}
	what := fmt.Sprintf(format, args...)
	start := time.Now()
	l.write(entry{lv: LevelInfo, msg: "[started]  " + what, op: what})
	id := l.termStart(what)
	return func(err error) {
		d := time.Since(start)
		l.record(format, what, start, d, err != nil)
		l.termEnd(id)
		if err != nil {
			es := RedactText(err.Error())
			l.write(entry{lv: LevelErr, msg: fmt.Sprintf("[failed]   %s (%s): %s", what, d.Round(time.Millisecond), es),
				op: what, dur: d, hasDur: true, err: es})
			return
		}
		l.write(entry{lv: LevelInfo, msg: fmt.Sprintf("[finished] %s (%s)", what, d.Round(time.Millisecond)),
			op: what, dur: d, hasDur: true})
	}
}

// Progress reports how long work is going (bytes of a download, what a
// device wait waits for). On a terminal with a progress line it updates
// that line; otherwise it is an Info line.
func (l *Logger) Progress(format string, args ...any) {
	if l == nil {
		return
	}
	msg := fmt.Sprintf(format, args...)
	if l.termNote(msg) {
		return
	}
	l.write(entry{lv: LevelInfo, msg: msg})
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

var urlRe = regexp.MustCompile(`\b(?:[a-zA-Z][a-zA-Z0-9+.-]*://|data:)[^\s"'<>]+`)

// RedactText redacts every URL in s (userinfo, query, data bodies), for
// error text that goes into logs, records, summaries and reports.
func RedactText(s string) string {
	return urlRe.ReplaceAllStringFunc(s, func(u string) string {
		trail := ""
		for strings.HasSuffix(u, ",") || strings.HasSuffix(u, ".") || strings.HasSuffix(u, ")") || strings.HasSuffix(u, ":") {
			trail = u[len(u)-1:] + trail
			u = u[:len(u)-1]
		}
		return Redact(u) + trail
	})
}
