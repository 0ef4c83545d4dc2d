package files

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/flintboot/flint/config"
	"github.com/flintboot/flint/log"
	"github.com/flintboot/flint/stages"
	"golang.org/x/sys/unix"
)

func redact(s string) string { return log.Redact(s) }

// needsPrefetch reports whether a resource is fetched before any write:
// everything that can fail (network, local files, hashes, compression).
// Plain data URLs and the empty source are decoded while writing.
func needsPrefetch(r config.Resource) bool {
	if r.Source == nil || *r.Source == "" {
		return false
	}
	if !strings.HasPrefix(*r.Source, "data:") {
		return true
	}
	return r.Verification.Hash != nil || (r.Compression != nil && *r.Compression != "")
}

func hasSource(r config.Resource) bool { return r.Source != nil && *r.Source != "" }

// fetchJob is one file whose contents can fail to arrive (remote, hashed
// or compressed). Before anything in the root changes, every job streams
// its parts (source → inflate → hash → disk, in one pass) into one
// temporary file beside the destination (or in the nearest directory that
// exists already, on the same filesystem); the file is renamed into place
// when the plan reaches it. Disk use never exceeds the final size, and a
// failed fetch leaves nothing behind but what the cleanup removes.
type fetchJob struct {
	n   *node
	dir string // where the temporary file lives
	tmp string // the temporary file once fetched
}

func (p *plan) addJob(n *node, dir string) {
	j := &fetchJob{n: n, dir: dir}
	n.job = j
	p.jobs = append(p.jobs, j)
}

// fetchError names the config entry and its source once, e.g.
// "/etc/tok from http://host/404: resource not found".
type fetchError struct {
	path, src string
	err       error
}

func (e *fetchError) Error() string {
	msg := e.err.Error()
	// the fetcher names the URL itself ("GET <url>: ..."): say it once
	for _, pre := range []string{"GET " + e.src + ": ", "HEAD " + e.src + ": ", e.src + ": "} {
		if strings.Contains(msg, pre) {
			msg = strings.Replace(msg, pre, "", 1)
			break
		}
	}
	return e.path + " from " + e.src + ": " + msg
}

func (e *fetchError) Unwrap() error { return e.err }

// temps tracks the temporary files that exist, so any failure or a
// cancellation (SIGTERM, SIGINT) removes every one of them.
type temps struct {
	mu  sync.Mutex
	set map[string]bool
}

func (t *temps) add(p string) {
	t.mu.Lock()
	if t.set == nil {
		t.set = map[string]bool{}
	}
	t.set[p] = true
	t.mu.Unlock()
}

func (t *temps) done(p string) {
	t.mu.Lock()
	delete(t.set, p)
	t.mu.Unlock()
}

// removeAll removes every temporary file still there.
func (t *temps) removeAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for p := range t.set {
		unix.Unlink(p)
		delete(t.set, p)
	}
}

// fetchAll runs every job, at most c.FetchWorkers at a time (0: 8). The
// first failure cancels the rest; on any failure every temporary file is
// removed and the error names each entry that really failed.
func (p *plan) fetchAll(ctx context.Context, c *stages.Context) error {
	if len(p.jobs) == 0 {
		return nil
	}
	workers := c.FetchWorkers
	if workers <= 0 {
		workers = 8
	}
	workers = min(workers, len(p.jobs))
	done := c.Log.With("files").Op("fetching the contents of %d files", len(p.jobs))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan *fetchJob)
	errs := make([]error, len(p.jobs))
	index := make(map[*fetchJob]int, len(p.jobs))
	for i, j := range p.jobs {
		index[j] = i
	}
	var failed atomic.Bool
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range next {
				op := c.Log.With("files").Op("fetching %s", j.n.cfgPath)
				err := p.runJob(ctx, c, j)
				op(err)
				if err != nil {
					if ctx.Err() != nil && failed.Load() {
						continue // cut short by another job's failure
					}
					failed.Store(true)
					errs[index[j]] = err
					cancel()
				}
			}
		}()
	}
feed:
	for _, j := range p.jobs {
		select {
		case next <- j:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	err := errors.Join(errs...)
	if err == nil {
		err = ctx.Err()
	}
	done(err)
	if err != nil {
		p.tmp.removeAll()
	}
	return err
}

func (p *plan) runJob(ctx context.Context, c *stages.Context, j *fetchJob) (err error) {
	n := j.n
	raw, err := createTemp(j.dir, filepath.Base(n.real), n.fileMode()&0o777)
	if err != nil {
		return fmt.Errorf("%s: %w", n.cfgPath, err)
	}
	p.tmp.add(raw.Name())
	f := os.NewFile(uintptr(raw.fd), raw.name) // the fetcher rewinds it for a retry
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("%s: %w", n.cfgPath, cerr)
		}
		if err == nil {
			j.tmp = raw.name
		}
	}()
	parts := n.parts()
	if !n.keep && len(parts) == 1 {
		// one resource: streamed once, restarted cleanly after a broken
		// transfer
		if _, err := c.Fetcher.FetchInto(ctx, stages.ToSource(parts[0]), f); err != nil {
			return &fetchError{path: n.cfgPath, src: sourceDesc(parts[0]), err: err}
		}
		return nil
	}
	if n.keep {
		if err := copyExisting(f, n.real); err != nil {
			return fmt.Errorf("%s: %w", n.cfgPath, err)
		}
	}
	for _, r := range parts {
		if err := writePart(ctx, c, r, f); err != nil {
			return &fetchError{path: n.cfgPath, src: sourceDesc(r), err: err}
		}
	}
	return nil
}

func copyExisting(w io.Writer, real string) error {
	src, err := os.OpenFile(real, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer src.Close()
	_, err = io.Copy(w, src)
	return err
}

// writePart writes one resource's contents to f: plain data URLs are
// decoded here, everything else streams through the fetcher.
func writePart(ctx context.Context, c *stages.Context, r config.Resource, f io.Writer) error {
	if !hasSource(r) {
		return nil
	}
	if !needsPrefetch(r) {
		b, err := config.DecodeDataURL(*r.Source)
		if err != nil {
			return fmt.Errorf("decoding data URL: %w", err)
		}
		_, err = f.Write(b)
		return err
	}
	return c.Fetcher.Fetch(ctx, stages.ToSource(r), f)
}
