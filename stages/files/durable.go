package files

import (
	"errors"
	"path/filepath"
	"sort"
	"sync"

	"github.com/flintboot/flint/log"
	"github.com/flintboot/flint/system"
	"golang.org/x/sys/unix"
)

// writtenSet is every path the stage wrote (for SELinux relabelling) and
// every filesystem it wrote to (for the one syncfs each at the end).
type writtenSet struct {
	mu    sync.Mutex
	paths []string
	devs  map[uint64]bool
	other []string // written paths whose filesystem is looked up at the end
}

// wrote records a path written by code outside the node plan (accounts,
// units, LUKS): it is relabelled and its filesystem flushed at the end of
// the stage. real is the path on the host (root prefix included).
func (p *plan) wrote(real string) {
	w := &p.written
	w.mu.Lock()
	w.paths = append(w.paths, real)
	w.other = append(w.other, real)
	w.mu.Unlock()
}

// wroteOn records a path written on the filesystem dev.
func (p *plan) wroteOn(real string, dev uint64) {
	w := &p.written
	w.mu.Lock()
	w.paths = append(w.paths, real)
	if w.devs == nil {
		w.devs = map[uint64]bool{}
	}
	w.devs[dev] = true
	w.mu.Unlock()
}

// syncWritten makes everything the stage wrote durable: one syncfs per
// filesystem written to (the root's and any mounted under it), instead
// of an fsync per file. It runs before the engine writes the result file
// and clears the first-boot stamp.
func (p *plan) syncWritten(l *log.Logger) error {
	w := &p.written
	dirs := map[uint64]string{}
	for dev := range w.devs {
		if d, ok := p.st.devDir[dev]; ok {
			dirs[dev] = d
		}
	}
	seen := map[string]bool{}
	for _, path := range w.other {
		d := filepath.Dir(path)
		if seen[d] {
			continue
		}
		seen[d] = true
		var st unix.Stat_t
		if err := unix.Stat(d, &st); err != nil {
			continue // removed again: nothing of it to flush
		}
		if _, ok := dirs[st.Dev]; !ok {
			dirs[st.Dev] = d
		}
	}
	if len(dirs) == 0 {
		return nil
	}
	list := make([]string, 0, len(dirs))
	for _, d := range dirs {
		list = append(list, d)
	}
	sort.Strings(list)
	done := l.Op("flushing %d filesystems to disk", len(list))
	var errs []error
	for _, d := range list {
		if err := system.Syncfs(d); err != nil {
			errs = append(errs, err)
		}
	}
	err := errors.Join(errs...)
	done(err)
	return err
}
