package files

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/flintboot/flint/config"
	"github.com/flintboot/flint/log"
	"github.com/flintboot/flint/resource"
	"github.com/flintboot/flint/stages"
)

// prefetch is one resource fetched before anything is written.
type prefetch struct {
	res     config.Resource
	desc    string
	forPath string
	file    string // staged copy, set by fetchAll
}

func redact(s string) string { return log.Redact(s) }

func (p *plan) addPrefetch(r config.Resource, forPath string) *prefetch {
	pf := &prefetch{res: r, desc: sourceDesc(r), forPath: forPath}
	p.prefetch = append(p.prefetch, pf)
	return pf
}

// stagingDir holds prefetched contents until they are copied into place.

// fetchAll fetches every remote resource concurrently (at most
// c.FetchWorkers at a time) into a private directory inside the root, so a
// failed fetch leaves the root untouched.
func (p *plan) fetchAll(ctx context.Context, c *stages.Context) error {
	if len(p.prefetch) == 0 {
		return nil
	}
	dir, err := os.MkdirTemp(p.st.root, ".flint-fetch-")
	if err != nil {
		return fmt.Errorf("creating staging directory: %w", err)
	}
	p.staging = dir
	jobs := make([]resource.Job, len(p.prefetch))
	for i, pf := range p.prefetch {
		pf.file = filepath.Join(dir, strconv.Itoa(i))
		jobs[i] = resource.Job{Source: stages.ToSource(pf.res), Dest: pf.file, Mode: 0o600}
	}
	done := c.Log.With("files").Op("fetching %d remote resources", len(jobs))
	err = c.Fetcher.FetchAll(ctx, jobs, c.FetchWorkers)
	done(err)
	if err != nil {
		p.cleanupFetch()
		return fmt.Errorf("fetching contents: %w", err)
	}
	return nil
}

func (p *plan) cleanupFetch() {
	if p.staging != "" {
		os.RemoveAll(p.staging)
		p.staging = ""
	}
}

func (pf *prefetch) copyTo(w io.Writer) error {
	f, err := os.Open(pf.file)
	if err != nil {
		return fmt.Errorf("staged contents of %s: %w", pf.desc, err)
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}
