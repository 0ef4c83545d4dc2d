package stages

import (
	"errors"
	"fmt"
	"strings"

	"github.com/flintboot/flint/log"
)

// OpError marks what flint was doing when a stage failed ("fetching the
// config from platform aws"), for the failure summary.
type OpError struct {
	Op  string
	Err error
}

func (e *OpError) Error() string { return e.Op + ": " + e.Err.Error() }
func (e *OpError) Unwrap() error { return e.Err }

// Op wraps err with what flint was doing; nil stays nil.
func Op(op string, err error) error {
	if err == nil {
		return nil
	}
	return &OpError{Op: op, Err: err}
}

const maxSummaryPart = 400

// FailureSummary is the paragraph shown when stage failed: which stage,
// which operation, the error and where the full log is. URLs are redacted
// and every part is bounded; config bodies never reach it.
func FailureSummary(stage string, err error) string {
	op, cause := splitError(stage, err)
	var b strings.Builder
	fmt.Fprintf(&b, "flint: the %s stage failed, so this machine was not provisioned and will not boot on.\n", stage)
	if op != "" {
		fmt.Fprintf(&b, "  while: %s\n", bound(RedactText(op)))
	}
	fmt.Fprintf(&b, "  error: %s\n", bound(RedactText(cause)))
	b.WriteString("Read the full log with: journalctl -t flint\n")
	return b.String()
}

// splitError separates what flint was doing from the innermost cause.
func splitError(stage string, err error) (op, cause string) {
	msg := strings.TrimPrefix(err.Error(), stage+": ")
	var oe *OpError
	if errors.As(err, &oe) {
		if inner := oe.Err.Error(); strings.HasSuffix(msg, inner) {
			return oe.Op, inner
		}
	}
	deepest := err
	for {
		u := errors.Unwrap(deepest)
		if u == nil {
			break
		}
		deepest = u
	}
	cause = deepest.Error()
	if cause != msg && strings.HasSuffix(msg, ": "+cause) {
		return strings.TrimSuffix(msg, ": "+cause), cause
	}
	return "", msg
}

// RedactText redacts every URL in s (userinfo, query, data bodies), for
// error text that goes into records, summaries and logs.
func RedactText(s string) string { return log.RedactText(s) }

func bound(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxSummaryPart {
		return s[:maxSummaryPart] + "…"
	}
	return s
}
