package fleet

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// flintBin is $FLINT_BIN or a fresh build of ./cmd/flint.
func flintBin(t *testing.T) string {
	if b := os.Getenv("FLINT_BIN"); b != "" {
		return b
	}
	_, file, _, _ := runtime.Caller(0)
	top := filepath.Join(filepath.Dir(file), "..", "..")
	bin := filepath.Join(t.TempDir(), "flint")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/flint")
	cmd.Dir = top
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building flint: %v\n%s", err, out)
	}
	return bin
}

// TestFleetShort is the short fleet load: 40 whole flint apply processes,
// 20 remote files each, one flaky, throttling loopback server. Every run
// ends with every file correct or with a clean failure, none hangs, and
// the failure modes were all exercised.
func TestFleetShort(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("flint apply writes owners: needs root (make test runs as root)")
	}
	p := Params{
		Bin: flintBin(t), Dir: t.TempDir(),
		Procs: 40, Files: 20, FileSize: 32 << 10,
		FailRate: 0.3, MaxInFlight: 50, RetryAfter: 1,
		HTTPTotal: 60, ProcTimeout: 90 * time.Second, Bucket: 500 * time.Millisecond,
		Latency: 30 * time.Millisecond,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	r, err := Run(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	var report strings.Builder
	r.Report(&report)
	t.Log("\n" + report.String())
	if len(r.Problems) > 0 {
		t.Fatalf("%d runs ended neither correct nor cleanly failed", len(r.Problems))
	}
	if r.Succeeded+r.CleanFailures != p.Procs {
		t.Fatalf("%d + %d runs of %d", r.Succeeded, r.CleanFailures, p.Procs)
	}
	if r.Requests < int64(p.Procs*p.Files) || r.Err5xx == 0 || r.Resets == 0 || r.TooMany == 0 {
		t.Fatalf("the failure modes were not exercised: %d requests, %d 5xx, %d resets, %d 429",
			r.Requests, r.Err5xx, r.Resets, r.TooMany)
	}
	// 60 s of httpTotal is ample for 30 % failures: a clean failure here
	// would mean retries that do not converge.
	if r.Succeeded != p.Procs {
		t.Fatalf("only %d of %d runs fetched everything: %v", r.Succeeded, p.Procs, r.FailureReasons)
	}
}
