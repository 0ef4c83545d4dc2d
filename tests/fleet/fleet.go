// Package fleet is the fleet-load scenario of issue 13: many whole
// `flint apply` processes fetch a config's remote files at once from one
// loopback server that fails a share of requests (5xx or connection resets)
// and answers 429 with Retry-After when too many requests are in flight.
// Every run must end with every file correct or with a clean failure (an
// error, nothing written, no debris). The short version runs in `make test`
// (tests/fleet), the full one in `make bench` (bench/fleet).
package fleet

import (
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Params shape one run.
type Params struct {
	Bin         string        // the flint binary
	Dir         string        // scratch directory (roots, configs)
	Procs       int           // concurrent flint apply processes
	Files       int           // remote files in the config
	FileSize    int           // bytes per file
	FailRate    float64       // share of requests failed with 5xx or a reset
	MaxInFlight int64         // above this, 429 with Retry-After
	RetryAfter  int           // seconds, in the 429 answers
	HTTPTotal   int           // the config's timeouts.httpTotal (0: none)
	ProcTimeout time.Duration // a run still going after this is killed (a hang)
	Bucket      time.Duration // histogram bucket width
	Latency     time.Duration // service time of a request, ±50 % (models a real server)
}

// Result is what one run observed.
type Result struct {
	Params
	Wall                                  time.Duration
	Requests, OK, Err5xx, Resets, TooMany int64
	Succeeded, CleanFailures              int
	Problems                              []string // runs that ended neither way
	FailureReasons                        map[string]int
	Hist                                  []bucket
	PeakInFlight                          int64
}

type bucket struct{ all, tooMany, failed int }

type server struct {
	p        Params
	files    [][]byte
	start    time.Time
	inflight atomic.Int64
	peak     atomic.Int64
	mu       sync.Mutex
	hist     []bucket
	counts   struct{ requests, ok, e5xx, resets, tooMany atomic.Int64 }
}

func (s *server) note(kind int) {
	i := int(time.Since(s.start) / s.p.Bucket)
	s.mu.Lock()
	for len(s.hist) <= i {
		s.hist = append(s.hist, bucket{})
	}
	s.hist[i].all++
	switch kind {
	case 1:
		s.hist[i].tooMany++
	case 2:
		s.hist[i].failed++
	}
	s.mu.Unlock()
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := s.inflight.Add(1)
	defer s.inflight.Add(-1)
	for {
		p := s.peak.Load()
		if n <= p || s.peak.CompareAndSwap(p, n) {
			break
		}
	}
	s.counts.requests.Add(1)
	i, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/f/"))
	if err != nil || i < 0 || i >= len(s.files) {
		http.NotFound(w, r)
		return
	}
	if n > s.p.MaxInFlight {
		s.counts.tooMany.Add(1)
		s.note(1)
		w.Header().Set("Retry-After", strconv.Itoa(s.p.RetryAfter))
		http.Error(w, "too many requests in flight", http.StatusTooManyRequests)
		return
	}
	if s.p.Latency > 0 {
		time.Sleep(s.p.Latency/2 + rand.N(s.p.Latency))
	}
	roll := rand.Float64()
	switch {
	case roll < s.p.FailRate/2:
		s.counts.e5xx.Add(1)
		s.note(2)
		codes := []int{500, 502, 503, 504}
		w.WriteHeader(codes[rand.IntN(len(codes))])
		return
	case roll < s.p.FailRate:
		s.counts.resets.Add(1)
		s.note(2)
		conn, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		if rand.IntN(2) == 0 {
			// headers and half the body, then a reset
			b := s.files[i]
			fmt.Fprintf(brw, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", len(b))
			brw.Write(b[:len(b)/2])
			brw.Flush()
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		conn.Close()
		return
	}
	s.counts.ok.Add(1)
	s.note(0)
	w.Header().Set("Content-Length", strconv.Itoa(len(s.files[i])))
	w.Write(s.files[i])
}

// Run starts the server and p.Procs flint apply processes at once, waits
// for all, and checks every root.
func Run(ctx context.Context, p Params) (*Result, error) {
	if p.Bucket == 0 {
		p.Bucket = 250 * time.Millisecond
	}
	s := &server{p: p}
	for i := range p.Files {
		b := make([]byte, p.FileSize)
		x := uint64(i)*0x9E3779B97F4A7C15 + 1
		for j := range b {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			b[j] = byte(x)
		}
		s.files = append(s.files, b)
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	base := "http://" + ln.Addr().String()

	cfgPath := filepath.Join(p.Dir, "fleet.ign")
	if err := os.WriteFile(cfgPath, config(base, s.files, p.HTTPTotal), 0o644); err != nil {
		return nil, err
	}
	type outcome struct {
		root   string
		err    error
		stderr string
		hung   bool
	}
	outcomes := make([]outcome, p.Procs)
	var wg sync.WaitGroup
	s.start = time.Now()
	for i := range p.Procs {
		root := filepath.Join(p.Dir, fmt.Sprintf("root%03d", i))
		if err := os.MkdirAll(root, 0o755); err != nil {
			return nil, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, p.ProcTimeout)
			defer cancel()
			cmd := exec.CommandContext(cctx, p.Bin, "apply", "--root", root, cfgPath)
			var stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = io.Discard, &stderr
			err := cmd.Run()
			outcomes[i] = outcome{root: root, err: err, stderr: stderr.String(), hung: cctx.Err() != nil}
		}()
	}
	wg.Wait()
	r := &Result{Params: p, Wall: time.Since(s.start), FailureReasons: map[string]int{}, PeakInFlight: s.peak.Load()}
	r.Requests, r.OK, r.Err5xx = s.counts.requests.Load(), s.counts.ok.Load(), s.counts.e5xx.Load()
	r.Resets, r.TooMany = s.counts.resets.Load(), s.counts.tooMany.Load()
	s.mu.Lock()
	r.Hist = append([]bucket(nil), s.hist...)
	s.mu.Unlock()
	for i, o := range outcomes {
		name := fmt.Sprintf("run %d", i)
		switch {
		case o.hung:
			r.Problems = append(r.Problems, name+": still running after "+p.ProcTimeout.String())
		case o.err == nil:
			if bad := checkFiles(o.root, s.files); bad != "" {
				r.Problems = append(r.Problems, name+": succeeded but "+bad)
			} else {
				r.Succeeded++
			}
		default:
			var ee *exec.ExitError
			if !errors.As(o.err, &ee) {
				r.Problems = append(r.Problems, name+": "+o.err.Error())
				continue
			}
			if bad := checkClean(o.root); bad != "" {
				r.Problems = append(r.Problems, name+": failed uncleanly: "+bad)
				continue
			}
			reason := lastError(o.stderr)
			if reason == "" {
				r.Problems = append(r.Problems, name+": failed without an error message")
				continue
			}
			r.CleanFailures++
			r.FailureReasons[reason]++
		}
	}
	return r, nil
}

func config(base string, files [][]byte, total int) []byte {
	type entry struct {
		Path     string `json:"path"`
		Contents struct {
			Source       string `json:"source"`
			Verification struct {
				Hash string `json:"hash"`
			} `json:"verification"`
		} `json:"contents"`
	}
	var es []entry
	for i, b := range files {
		var e entry
		e.Path = fmt.Sprintf("/etc/fleet/%02d", i)
		e.Contents.Source = fmt.Sprintf("%s/f/%d", base, i)
		sum := sha512.Sum512(b)
		e.Contents.Verification.Hash = "sha512-" + hex.EncodeToString(sum[:])
		es = append(es, e)
	}
	ign := map[string]any{"version": "3.4.0"}
	if total > 0 {
		ign["timeouts"] = map[string]any{"httpTotal": total}
	}
	b, _ := json.Marshal(map[string]any{"ignition": ign, "storage": map[string]any{"files": es}})
	return b
}

func checkFiles(root string, files [][]byte) string {
	for i, want := range files {
		got, err := os.ReadFile(filepath.Join(root, "etc", "fleet", fmt.Sprintf("%02d", i)))
		if err != nil {
			return err.Error()
		}
		if !bytes.Equal(got, want) {
			return fmt.Sprintf("file %d differs (%d bytes)", i, len(got))
		}
	}
	if bad := debris(root); bad != "" {
		return bad
	}
	return ""
}

// checkClean: a failed run wrote none of the files and left no debris.
func checkClean(root string) string {
	if ents, err := os.ReadDir(filepath.Join(root, "etc", "fleet")); err == nil && len(ents) > 0 {
		return fmt.Sprintf("%d entries in /etc/fleet", len(ents))
	}
	return debris(root)
}

// debris finds flint's temporary names left in the root.
func debris(root string) string {
	var found []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), ".flint-") && !strings.HasPrefix(d.Name(), ".flint-result") &&
			!strings.HasPrefix(d.Name(), ".flint-in-progress") {
			found = append(found, strings.TrimPrefix(p, root))
		}
		return nil
	})
	if len(found) > 0 {
		return "debris: " + strings.Join(found, ", ")
	}
	return ""
}

// lastError is the last ERROR/CRITICAL line of a run's log, URLs' hosts
// and numbers folded so that equal causes count together.
func lastError(stderr string) string {
	var last string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "ERROR") || strings.HasPrefix(l, "CRITICAL") || strings.Contains(l, "error:") {
			last = l
		}
	}
	if last == "" {
		return ""
	}
	for _, marker := range []string{"unable to fetch resource in time", "failed to fetch resource", "hash verification failed", "resource not found"} {
		if strings.Contains(last, marker) {
			return marker
		}
	}
	if len(last) > 120 {
		last = last[:120]
	}
	return last
}

// Report prints the counts, the outcomes and the request-rate histogram.
func (r *Result) Report(w io.Writer) {
	fmt.Fprintf(w, "fleet: %d flint apply processes × %d remote files of %d KiB, one loopback server\n",
		r.Procs, r.Files, r.FileSize>>10)
	fmt.Fprintf(w, "server: %.0f%% of requests fail (5xx or reset), %s ±50%% each; 429 Retry-After: %ds above %d in flight\n",
		r.FailRate*100, r.Latency, r.RetryAfter, r.MaxInFlight)
	fmt.Fprintf(w, "wall %.2fs; requests %d (%.2f per file): %d ok, %d 5xx, %d resets, %d 429; peak in flight %d\n",
		r.Wall.Seconds(), r.Requests, float64(r.Requests)/float64(r.Procs*r.Files), r.OK, r.Err5xx, r.Resets, r.TooMany, r.PeakInFlight)
	fmt.Fprintf(w, "runs: %d all files correct, %d clean failures, %d problems\n", r.Succeeded, r.CleanFailures, len(r.Problems))
	reasons := make([]string, 0, len(r.FailureReasons))
	for k := range r.FailureReasons {
		reasons = append(reasons, k)
	}
	sort.Strings(reasons)
	for _, k := range reasons {
		fmt.Fprintf(w, "  clean failure ×%d: %s\n", r.FailureReasons[k], k)
	}
	for _, p := range r.Problems {
		fmt.Fprintf(w, "  PROBLEM %s\n", p)
	}
	peak := 1
	for _, b := range r.Hist {
		peak = max(peak, b.all)
	}
	per := r.Bucket.Seconds()
	fmt.Fprintf(w, "request rate (per %s bucket; # served, x failed, ! 429):\n", r.Bucket)
	for i, b := range r.Hist {
		width := 60
		n429 := b.tooMany * width / peak
		nfail := b.failed * width / peak
		nok := (b.all - b.tooMany - b.failed) * width / peak
		fmt.Fprintf(w, "  %6.2fs %5d %7.0f/s %s%s%s\n", float64(i)*per, b.all, float64(b.all)/per,
			strings.Repeat("#", nok), strings.Repeat("x", nfail), strings.Repeat("!", n429))
	}
}
