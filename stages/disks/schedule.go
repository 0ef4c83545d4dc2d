package disks

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/flintboot/flint/stages"
)

// step is one RAID array or LUKS volume being made: done is closed when it
// is finished, err says how.
type step struct {
	done chan struct{}
	err  error
}

func newStep() *step { return &step{done: make(chan struct{})} }

func (s *step) finish(err error) { s.err = err; close(s.done) }

// after waits for the steps and returns the first failure.
func after(ctx context.Context, steps ...*step) error {
	for _, s := range steps {
		select {
		case <-s.done:
			if s.err != nil {
				return s.err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// applyVolumes makes the RAID arrays (in order), the LUKS volumes (in
// order) and the filesystems, each as soon as what it stands on is ready:
// a LUKS volume on an array after that array, a filesystem on an array or
// a LUKS volume after it, a filesystem on a device that exists and nothing
// creates or consumes at once. A device that does not exist yet may be
// made by any array or volume: it waits for all of them. Filesystems run
// through GOMAXPROCS (at least 4) workers. udev is waited for once per
// step for all the step's devices: after the arrays and after the volumes
// in the background (what comes next waits for its own device nodes), and
// after the filesystems at the end, when the background waits are joined.
func (p *plan) applyVolumes(ctx context.Context, e *env, st *stages.State) error {
	raids := make([]*step, len(p.raids))
	for i := range raids {
		raids[i] = newStep()
	}
	lukss := make([]*step, len(p.luks))
	for i := range lukss {
		lukss[i] = newStep()
	}
	var bg sync.WaitGroup
	var bgMu sync.Mutex
	var bgErrs []error
	background := func(reason string, devs []string) {
		if len(devs) == 0 {
			return
		}
		bg.Add(1)
		go func() {
			defer bg.Done()
			if err := e.settle(ctx, reason, devs...); err != nil {
				bgMu.Lock()
				bgErrs = append(bgErrs, err)
				bgMu.Unlock()
			}
		}()
	}

	touched := map[string]bool{} // devices arrays and volumes consume
	mark := func(path string) {
		touched[path] = true
		if r := present(path); r != "" {
			touched[r] = true
		}
	}
	for _, r := range p.raids {
		for _, d := range r.Devices {
			mark(d)
		}
	}
	for _, l := range p.luks {
		mark(l.Device)
	}
	producer := func(dev string) ([]*step, bool) {
		for i, r := range p.raids {
			if dev == r.Path {
				return raids[i : i+1], true
			}
		}
		for i, l := range p.luks {
			if dev == "/dev/mapper/"+l.Name {
				return lukss[i : i+1], true
			}
		}
		return nil, false
	}
	all := append(append([]*step{}, raids...), lukss...)

	go func() {
		var made []string
		for i, r := range p.raids {
			done := e.log.Op("creating RAID array %s", r.Name)
			err := applyRaid(ctx, e, r)
			done(err)
			if err != nil {
				err = fmt.Errorf("creating RAID array %s: %w", r.Name, err)
			} else {
				made = append(made, r.Path)
			}
			raids[i].finish(err)
		}
		background("RAID arrays created", made)
	}()
	go func() {
		var made []string
		for i, l := range p.luks {
			deps, ok := producer(l.Device)
			if !ok && present(l.Device) == "" {
				deps = raids
			}
			err := after(ctx, deps...)
			if err == nil {
				done := e.log.Op("setting up LUKS volume %s", l.Name)
				err = applyLuks(ctx, e, l, st)
				done(err)
				if err != nil {
					err = fmt.Errorf("LUKS volume %s: %w", l.Name, err)
				} else {
					made = append(made, "/dev/mapper/"+l.Name)
				}
			} else {
				err = fmt.Errorf("LUKS volume %s not set up: %w", l.Name, err)
			}
			lukss[i].finish(err)
		}
		background("LUKS volumes opened", made)
	}()

	workers := make(chan struct{}, max(runtime.GOMAXPROCS(0), 4))
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs, made []string
	var fsErrs []error
	for _, f := range p.fss {
		deps, ok := producer(f.FS.Device)
		if !ok {
			real := present(f.FS.Device)
			if real == "" || touched[f.FS.Device] || touched[real] {
				deps = all
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := after(ctx, deps...); err != nil {
				mu.Lock()
				errs = append(errs, f.FS.Device)
				mu.Unlock()
				return
			}
			workers <- struct{}{}
			defer func() { <-workers }()
			done := e.log.Op("creating filesystem %s on %s", strOr(f.FS.Format, ""), f.FS.Device)
			dev, err := applyFilesystem(ctx, e, f)
			done(err)
			mu.Lock()
			if dev != "" {
				made = append(made, dev)
			}
			if err != nil {
				fsErrs = append(fsErrs, err)
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	// Every array and volume has finished (the filesystems waited for the
	// ones they needed; wait for the rest too).
	var stepErrs []error
	for _, s := range all {
		<-s.done
		if s.err != nil {
			stepErrs = append(stepErrs, s.err)
		}
	}
	settleErr := e.settle(ctx, "filesystems created", made...)
	bg.Wait()
	res := append(append(stepErrs, fsErrs...), bgErrs...)
	if len(errs) > 0 && len(stepErrs) == 0 {
		res = append(res, fmt.Errorf("filesystems not created: %v", errs))
	}
	if settleErr != nil {
		res = append(res, settleErr)
	}
	return errors.Join(res...)
}
