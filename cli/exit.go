package cli

import (
	"errors"
	"strconv"

	"github.com/flintboot/flint/stages/report"
)

// The exit-code table: every exit status flint uses, in one place.
const (
	ExitOK      = 0 // success; `validate`: valid (warnings allowed unless --strict)
	ExitFailure = 1 // a stage failed, the config is invalid, or a command failed
	ExitUsage   = 2 // bad command line: unknown command or flag, missing argument
	ExitSetup   = 3 // flint could not start its work: state file, fetcher or cache setup failed

	// `flint status` (these never change; scripts rely on them)
	ExitStatusFailed  = 4 // the first boot failed, or an earlier one was interrupted
	ExitStatusRunning = 5 // a first boot is in progress
	ExitStatusNotRun  = 6 // flint has not provisioned this machine
)

// ExitError carries an exit code through an error chain.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return "exit status " + strconv.Itoa(e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// UsageError marks a bad command line.
func UsageError(err error) error { return &ExitError{Code: ExitUsage, Err: err} }

// ExitCode maps an error returned by Run to the process exit status.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return ExitFailure
}

// statusExit is `flint status`'s exit code for an outcome (done: 0).
func statusExit(o report.Outcome) error {
	if code := map[report.Outcome]int{report.Failed: ExitStatusFailed, report.Running: ExitStatusRunning, report.NotRun: ExitStatusNotRun}[o]; code != 0 {
		return &ExitError{Code: code}
	}
	return nil
}
