// Command fleet is the full fleet load of issue 13 (`make bench`): 200
// whole `flint apply` processes at once, each fetching a config's 20
// remote files from one loopback server that fails 30 % of requests with
// 5xx or connection resets and answers 429 with Retry-After when more than
// 50 requests are in flight. It prints the total request count, the
// outcome of every run and a request-rate histogram that shows the jitter
// spreading the retries, and fails when a run ended neither with every
// file correct nor with a clean failure.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/flintboot/flint/bench/internal/summary"

	"github.com/flintboot/flint/tests/fleet"
)

func main() {
	bin := flag.String("flint", "bin/flint", "the flint binary")
	procs := flag.Int("procs", 200, "concurrent flint apply processes")
	files := flag.Int("files", 20, "remote files per config")
	kib := flag.Int("kib", 64, "file size in KiB")
	flag.Parse()
	abs, err := filepath.Abs(*bin)
	if err != nil {
		fail(err)
	}
	dir, err := os.MkdirTemp("/var/tmp", "flint-bench-fleet-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(dir)
	p := fleet.Params{
		Bin: abs, Dir: dir, Procs: *procs, Files: *files, FileSize: *kib << 10,
		FailRate: 0.3, MaxInFlight: 50, RetryAfter: 1, Latency: 30 * time.Millisecond,
		HTTPTotal: 300, ProcTimeout: 10 * time.Minute, Bucket: 500 * time.Millisecond,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	r, err := fleet.Run(ctx, p)
	if err != nil {
		fail(err)
	}
	r.Report(os.Stdout)
	summary.Add(fmt.Sprintf("fleet (%d processes x %d files)", p.Procs, p.Files),
		fmt.Sprintf("%d correct, %d clean failures, %d requests in %s", r.Succeeded, r.CleanFailures, r.Requests, r.Wall.Round(time.Second)),
		"every run correct or cleanly failed", len(r.Problems) == 0)
	if len(r.Problems) > 0 {
		os.RemoveAll(dir)
		fail(fmt.Errorf("%d runs ended neither correct nor cleanly failed", len(r.Problems)))
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench/fleet:", err)
	os.Exit(1)
}
