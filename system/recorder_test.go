package system

import (
	"context"
	"fmt"
	"io"
	"sync"
)

// Call is one command recorded by a Recorder. Stdin holds what the command
// would have read (the reader is drained); treat it as secret.
type Call struct {
	Name   string
	Args   []string
	Stdin  []byte
	Secret []string
	Env    []string
	Dir    string
}

// String renders the call as a redacted, quoted command line (stdin is
// never shown, only its size).
func (c Call) String() string {
	s := QuoteArgv(c.Name, c.Args, c.Secret)
	if c.Stdin != nil {
		s += fmt.Sprintf(" <stdin: %d bytes>", len(c.Stdin))
	}
	return s
}

// Recorder is a Runner that runs nothing: it records each command and
// answers it with success and empty output. It renders what a function
// that only issues commands would run (e.g. the shadow-utils calls shown by
// `flint plan`); it is never a stand-in for reading the machine. Safe for
// concurrent use.
type Recorder struct {
	mu    sync.Mutex
	calls []Call
}

// Run records c and succeeds.
func (d *Recorder) Run(ctx context.Context, c Cmd) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{ExitCode: -1}, err
	}
	call := Call{
		Name:   c.Name,
		Args:   append([]string(nil), c.Args...),
		Secret: append([]string(nil), c.Secret...),
		Env:    append([]string(nil), c.Env...),
		Dir:    c.Dir,
	}
	if c.Stdin != nil {
		b, err := io.ReadAll(c.Stdin)
		if err != nil {
			return Result{ExitCode: -1}, fmt.Errorf("recording %s: reading stdin: %w", c.Name, err)
		}
		call.Stdin = b
	}
	d.mu.Lock()
	d.calls = append(d.calls, call)
	d.mu.Unlock()
	return Result{}, nil
}

// Calls returns a copy of the recorded commands in order.
func (d *Recorder) Calls() []Call {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Call(nil), d.calls...)
}

// Lines returns the recorded commands as redacted command lines.
func (d *Recorder) Lines() []string {
	calls := d.Calls()
	out := make([]string, len(calls))
	for i, c := range calls {
		out[i] = c.String()
	}
	return out
}
