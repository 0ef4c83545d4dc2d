package system

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/flintboot/flint/log"
)

// Cmd is one external command. Name is a logical tool name resolved through
// Tools; secrets go through Stdin or files, never Args.
type Cmd struct {
	Name   string    // logical tool name, e.g. "sgdisk"; resolved through Tools
	Args   []string  // arguments, without argv[0]
	Stdin  io.Reader // secrets go through stdin or files, never argv
	Secret []string  // substrings redacted from the logged argv and stderr
	Env    []string  // extra KEY=VALUE entries appended to the process environment
	Dir    string    // working directory; "" = flint's
}

// Result is what a command produced. Run fills it in even when the command
// exits non-zero, so callers can interpret tool-specific exit codes.
// Stdout and Stderr are raw (not redacted): never log them wholesale.
type Result struct {
	Stdout, Stderr []byte
	ExitCode       int // -1 when the process did not exit normally
	Duration       time.Duration
}

// Runner runs external commands. NewRunner runs them for real; tests use
// their own.
type Runner interface {
	Run(ctx context.Context, c Cmd) (Result, error)
}

// ErrUnknownTool: Cmd.Name is not in the Tools table.
var ErrUnknownTool = errors.New("unknown tool")

// ErrToolNotFound: the binary for a tool is not installed (not in $PATH or
// the configured path does not exist). Callers that tolerate an absent tool
// (e.g. udevadm) test for it with errors.Is.
var ErrToolNotFound = errors.New("tool not found")

// ExitError reports a command that ran and failed (non-zero exit or killed).
// Its message names the tool, the exit code and the last lines of stderr,
// with the command's secrets redacted.
type ExitError struct {
	Tool       string // logical name
	ExitCode   int    // -1 when killed by a signal or the context
	StderrTail string // last StderrTailLines lines of stderr, redacted
	Err        error  // underlying *exec.ExitError or context error
}

// StderrTailLines is how many trailing stderr lines an ExitError keeps.
const StderrTailLines = 20

func (e *ExitError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s failed with exit code %d", e.Tool, e.ExitCode)
	if e.ExitCode < 0 && e.Err != nil {
		fmt.Fprintf(&b, " (%v)", e.Err)
	}
	if e.StderrTail != "" {
		b.WriteString(": ")
		b.WriteString(e.StderrTail)
	}
	return b.String()
}

func (e *ExitError) Unwrap() error { return e.Err }

type execRunner struct {
	log   *log.Logger
	tools Tools
}

// NewRunner returns a Runner that executes commands. logger may be nil
// (nothing is logged). Each run logs, at debug, the quoted argv
// with secrets redacted, then the duration and exit code.
func NewRunner(logger *log.Logger, tools Tools) Runner {
	if tools == nil {
		tools = ToolsFromEnv()
	}
	return &execRunner{log: logger, tools: tools}
}

// Resolve maps a logical name to an executable path using t. Unknown
// names wrap ErrUnknownTool, binaries that are not installed ErrToolNotFound.
func (t Tools) Resolve(name string) (string, error) {
	bin, ok := t[name]
	if !ok {
		return "", fmt.Errorf("%w %q", ErrUnknownTool, name)
	}
	p, err := exec.LookPath(bin)
	if err != nil {
		return "", fmt.Errorf("%s (%s): %w: %v", name, bin, ErrToolNotFound, err)
	}
	return p, nil
}

func (r *execRunner) Run(ctx context.Context, c Cmd) (Result, error) {
	res := Result{ExitCode: -1}
	path, err := r.tools.Resolve(c.Name)
	if err != nil {
		return res, err
	}
	argv := QuoteArgv(c.Name, c.Args, c.Secret)
	r.log.Debugf("running: %s", argv)

	cmd := exec.CommandContext(ctx, path, c.Args...)
	cmd.Stdin = c.Stdin
	cmd.Dir = c.Dir
	if len(c.Env) > 0 {
		cmd.Env = append(cmd.Environ(), c.Env...)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	// On cancellation kill the command's whole process group (tools such
	// as clevis are shell scripts with children holding our pipes), and
	// stop waiting for the pipes shortly after.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second

	start := time.Now()
	runErr := cmd.Run()
	res.Duration = time.Since(start)
	res.Stdout = stdout.Bytes()
	res.Stderr = stderr.Bytes()
	if cmd.ProcessState != nil {
		res.ExitCode = cmd.ProcessState.ExitCode()
	}
	d := res.Duration.Round(time.Millisecond)
	if runErr == nil {
		r.log.Debugf("%s exited 0 after %s", c.Name, d)
		return res, nil
	}
	var ee *exec.ExitError
	if !errors.As(runErr, &ee) && cmd.ProcessState == nil {
		// Could not start at all (e.g. exec format error, permission).
		r.log.Debugf("%s could not start after %s: %v", c.Name, d, runErr)
		return res, fmt.Errorf("starting %s (%s): %w", c.Name, path, runErr)
	}
	if ctx.Err() != nil {
		runErr = fmt.Errorf("%w (%w)", ctx.Err(), runErr)
	}
	xe := &ExitError{
		Tool:       c.Name,
		ExitCode:   res.ExitCode,
		StderrTail: Redact(tailLines(res.Stderr, StderrTailLines), c.Secret),
		Err:        runErr,
	}
	r.log.Debugf("%s exited %d after %s", c.Name, res.ExitCode, d)
	return res, xe
}

// tailLines returns the last n non-empty-trailing lines of b, joined with
// "\n" and trimmed.
func tailLines(b []byte, n int) string {
	s := strings.TrimRight(string(b), "\n\r\t ")
	if s == "" {
		return ""
	}
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// RedactedMark replaces secrets in logs.
const RedactedMark = "<redacted>"

// Redact replaces every occurrence of each non-empty secret in s.
// Longer secrets are replaced first so a secret containing another is fully
// hidden.
func Redact(s string, secrets []string) string {
	if len(secrets) == 0 {
		return s
	}
	sorted := make([]string, 0, len(secrets))
	for _, x := range secrets {
		if x != "" {
			sorted = append(sorted, x)
		}
	}
	// insertion sort by length, descending (lists are tiny)
	for i := 1; i < len(sorted); i++ {
		for j := i; j > 0 && len(sorted[j]) > len(sorted[j-1]); j-- {
			sorted[j], sorted[j-1] = sorted[j-1], sorted[j]
		}
	}
	for _, x := range sorted {
		s = strings.ReplaceAll(s, x, RedactedMark)
	}
	return s
}

// QuoteArgv renders name and args as one shell-quoted line (POSIX single
// quotes where needed), with secrets redacted. Redaction happens per
// argument before quoting, and once more on the whole line.
func QuoteArgv(name string, args []string, secrets []string) string {
	parts := make([]string, 0, len(args)+1)
	parts = append(parts, shellQuote(Redact(name, secrets)))
	for _, a := range args {
		parts = append(parts, shellQuote(Redact(a, secrets)))
	}
	return Redact(strings.Join(parts, " "), secrets)
}

func shellQuote(s string) string {
	if s == "" {
		return "''"
	}
	unsafe := strings.IndexFunc(s, func(r rune) bool {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return false
		case strings.ContainsRune("-_./:=,+@%^", r):
			return false
		}
		return true
	})
	if unsafe < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
