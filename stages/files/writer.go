package files

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/flintboot/flint/log"
	"github.com/flintboot/flint/stages"
	"golang.org/x/sys/unix"
)

// fileWorkers is how many files are written at once. Directories, links
// and removals are done in plan order by the caller; a file only needs
// its directory, which exists before the file is handed over.
const fileWorkers = 8

// writer writes file contents, in parallel when that pays.
type writer struct {
	p   *plan
	ctx context.Context
	c   *stages.Context
	l   *log.Logger
	ch  chan task
	wg  sync.WaitGroup // tasks in flight
	mu  sync.Mutex
	err error
}

type task struct {
	n        *node
	uid, gid int
}

func (p *plan) newWriter(ctx context.Context, c *stages.Context, l *log.Logger) *writer {
	w := &writer{p: p, ctx: ctx, c: c, l: l}
	files := 0
	for _, n := range p.nodes {
		if n.kind == kFile && !n.noop {
			files++
		}
	}
	if workers := min(fileWorkers, files/64); workers > 1 {
		w.ch = make(chan task, 2*workers)
		for range workers {
			go func() {
				for t := range w.ch {
					w.run(t)
				}
			}()
		}
	}
	return w
}

func (w *writer) submit(n *node, uid, gid int) {
	w.wg.Add(1)
	t := task{n, uid, gid}
	if w.ch == nil {
		w.run(t)
		return
	}
	w.ch <- t
}

func (w *writer) run(t task) {
	defer w.wg.Done()
	if w.failed() {
		return
	}
	err := w.p.writeFile(w.ctx, w.c, t.n, t.uid, t.gid)
	if err != nil {
		w.mu.Lock()
		if w.err == nil {
			w.err = fmt.Errorf("%s %s: %w", opNames[kFile], t.n.cfgPath, err)
		}
		w.mu.Unlock()
		return
	}
	if w.l.Enabled(log.LevelDebug) {
		w.l.Debugf("%s %q: done", opNames[kFile], t.n.cfgPath)
	}
}

func (w *writer) failed() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err != nil
}

// wait waits for the files in flight and returns the first failure.
func (w *writer) wait() error {
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// close stops the workers; call after the last wait.
func (w *writer) close() {
	if w.ch != nil {
		close(w.ch)
		w.ch = nil
	}
}

// fileMode is the mode a file node ends up with.
func (n *node) fileMode() uint32 {
	if n.mode != nil {
		return unixMode(*n.mode)
	}
	return n.defMode
}

// fileMeta is what the new inode of a file node must get and what
// creating it gives.
func (p *plan) fileMeta(n *node, uid, gid int) meta {
	m := meta{uid: max(uid, 0), gid: max(gid, 0), mode: n.fileMode(), cuid: p.st.euid, cgid: n.cgid, force: n.acl}
	m.cmode = m.mode & 0o777
	if n.keep {
		cu, cg, _ := statOf(n.fi)
		if uid < 0 {
			m.uid = cu
		}
		if gid < 0 {
			m.gid = cg
		}
	}
	return m
}

// writeFile puts a file node in place: a fetched temporary file is
// renamed into place; local contents are written to a new file directly
// when nothing is there, else through a temporary file renamed over what
// is there. Owner and mode are set through the open file, and only when
// creation did not give them already.
func (p *plan) writeFile(ctx context.Context, c *stages.Context, n *node, uid, gid int) error {
	m := p.fileMeta(n, uid, gid)
	if n.job != nil {
		tmp := n.job.tmp
		if err := m.fix(func(u, g int) error { return os.Lchown(tmp, u, g) },
			func(mode uint32) error { return unix.Fchmodat(unix.AT_FDCWD, tmp, mode, 0) }); err != nil {
			return err
		}
		if err := os.Rename(tmp, n.real); err != nil {
			return err
		}
		p.tmp.done(tmp)
		p.wroteOn(n.real, n.dev)
		return nil
	}
	if n.keep && len(n.appends) == 0 {
		// nothing to write: owner and mode of the file that is there
		cu, cg, cm := statOf(n.fi)
		m.cuid, m.cgid, m.cmode, m.force = cu, cg, cm, false
		if err := m.fix(func(u, g int) error { return os.Lchown(n.real, u, g) },
			func(mode uint32) error { return unix.Fchmodat(unix.AT_FDCWD, n.real, mode, 0) }); err != nil {
			return err
		}
		p.wroteOn(n.real, n.dev)
		return nil
	}
	var f *rawFile
	direct := !n.keep && !n.replace
	if direct {
		var err error
		if f, err = openNew(n.real, m.cmode); err != nil {
			return err
		}
	} else {
		var err error
		if f, err = createTemp(filepath.Dir(n.real), filepath.Base(n.real), m.cmode); err != nil {
			return err
		}
		p.tmp.add(f.Name())
	}
	err := p.fillFile(ctx, c, n, f, m)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && !direct {
		err = os.Rename(f.Name(), n.real)
	}
	if err != nil {
		if direct {
			unix.Unlink(n.real)
		} else {
			unix.Unlink(f.Name())
			p.tmp.done(f.Name())
		}
		return err
	}
	if !direct {
		p.tmp.done(f.Name())
	}
	p.wroteOn(n.real, n.dev)
	return nil
}

func (p *plan) fillFile(ctx context.Context, c *stages.Context, n *node, f *rawFile, m meta) error {
	if n.keep {
		if err := copyExisting(f, n.real); err != nil {
			return err
		}
	}
	if n.isLit {
		if _, err := f.Write(n.literal); err != nil {
			return err
		}
	}
	for _, r := range n.parts() {
		if err := writePart(ctx, c, r, f); err != nil {
			return &fetchError{path: n.cfgPath, src: sourceDesc(r), err: err}
		}
	}
	fd := f.fd
	return m.fix(func(u, g int) error { return unix.Fchown(fd, u, g) },
		func(mode uint32) error { return unix.Fchmod(fd, mode) })
}
