// Package disks is the disks stage: GPT partitions (sgdisk), then RAID
// arrays (mdadm), then LUKS2 volumes (cryptsetup, clevis), then filesystems
// (mkfs.*), as the reference does it (SPEC-NOTES §5.3).
//
// Plan reads the machine and decides everything it can before the first
// write: partition tables are read in Go and laid out with `sgdisk
// --pretend`, existing LUKS volumes and filesystems are probed, and every
// conflict (a mismatching partition without wipePartitionEntry, a partition
// in use, a LUKS1 volume, a filesystem of the wrong type) fails planning.
// Devices that do not exist yet, or that the partitioning step changes, are
// probed again when applying.
package disks

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/flintboot/flint/log"
	"github.com/flintboot/flint/resource"
	"github.com/flintboot/flint/stages"
	"github.com/flintboot/flint/system"
)

// Stage is the disks stage. The zero value is ready to use.
type Stage struct {
	// DeviceTimeout bounds each wait for a device node (default
	// system.DefaultDeviceTimeout).
	DeviceTimeout time.Duration
	// SettleTimeout bounds each wait for udev (default
	// system.DefaultSettleTimeout).
	SettleTimeout time.Duration
	// Arch is the machine architecture the cex check uses ("":
	// runtime.GOARCH).
	Arch string
	// SysBusAP is where the s390x adjunct processors (Crypto Express
	// cards) are listed ("": /sys/bus/ap/devices).
	SysBusAP string
}

// New returns the disks stage.
func New() *Stage { return &Stage{} }

// Name implements stages.Stage.
func (s *Stage) Name() string { return "disks" }

// env is what planning and applying share. It holds no context: every
// function that runs or waits is given one.
type env struct {
	log      *log.Logger
	run      system.Runner
	fetcher  *resource.Fetcher
	paths    system.Paths
	timeout  time.Duration
	udev     system.Udev
	arch     string
	sysBusAP string
}

func newEnv(s *Stage, c *stages.Context) *env {
	e := &env{log: c.Log, run: c.Runner, fetcher: c.Fetcher, paths: c.Paths, timeout: s.DeviceTimeout,
		udev: system.Udev{Log: c.Log, Timeout: s.SettleTimeout}, arch: s.Arch, sysBusAP: s.SysBusAP}
	if e.timeout <= 0 {
		e.timeout = system.DefaultDeviceTimeout
	}
	if e.run == nil {
		e.run = system.NewRunner(e.log, nil)
	}
	if e.paths.RunDir == "" {
		e.paths = system.PathsFromEnv()
	}
	if e.fetcher == nil {
		e.fetcher, _ = resource.New(resource.Options{Log: e.log})
	}
	if e.arch == "" {
		e.arch = runtime.GOARCH
	}
	if e.sysBusAP == "" {
		e.sysBusAP = "/sys/bus/ap/devices"
	}
	return e
}

// wait waits (bounded) for a device node needed for reason.
func (e *env) wait(ctx context.Context, path, reason string) (string, error) {
	return system.DeviceWait{Log: e.log, Reason: reason}.For(ctx, path, e.timeout)
}

// settle waits (bounded) for udev to process devs, once for all of them.
func (e *env) settle(ctx context.Context, reason string, devs ...string) error {
	if len(devs) == 0 {
		return nil
	}
	return e.udev.Settle(ctx, e.run, reason, devs...)
}

// present resolves path without waiting: "" when it does not exist now.
func present(path string) string {
	p, err := filepath.EvalSymlinks(path)
	if err != nil {
		return ""
	}
	return p
}

// Plan implements stages.Stage: it reads the machine (the partition
// tables, blkid, sgdisk --pretend, cryptsetup isLuks/luksDump: commands
// that change nothing) and never waits. A device that is not there yet is
// planned as "wait-device" and decided after Apply has waited for it,
// before the first write.
func (s *Stage) Plan(ctx context.Context, c *stages.Context) (stages.Plan, error) {
	st := c.Config.Storage
	p := &plan{env: newEnv(s, c)}
	if len(st.Disks) == 0 && len(st.Raid) == 0 && len(st.Luks) == 0 && len(st.Filesystems) == 0 {
		return p, nil
	}
	e := p.env
	// Machine reasons first: nothing below is read when they refuse.
	for _, l := range st.Luks {
		if err := checkCex(e, l); err != nil {
			return nil, err
		}
	}
	for _, d := range st.Disks {
		dp := &diskPlan{Device: d.Device, cfg: d}
		if dev := present(d.Device); dev != "" {
			var err error
			if dp, err = planDisk(ctx, e, d, dev); err != nil {
				return nil, fmt.Errorf("partitioning %s: %w", d.Device, err)
			}
		}
		p.disks = append(p.disks, dp)
	}
	for _, r := range st.Raid {
		rp, err := planRaid(r)
		if err != nil {
			return nil, err
		}
		p.raids = append(p.raids, rp)
	}
	stable := p.stableFunc()
	for _, l := range st.Luks {
		lp, err := planLuks(ctx, e, l, stable)
		if err != nil {
			return nil, err
		}
		p.luks = append(p.luks, lp)
	}
	fps, err := planFilesystems(ctx, e, st.Filesystems, stable)
	if err != nil {
		return nil, err
	}
	p.fss = fps
	return p, nil
}

// stableFunc says whether a device is probed now: it exists and no
// planned partitioning changes it (a disk still to be awaited does not
// exist, so nothing that exists now is on it). Image files count: host
// tests and offline images.
func (p *plan) stableFunc() func(string) (string, bool) {
	changing := map[string]bool{} // kernel names the partitioning step changes
	for _, d := range p.disks {
		for k := range d.changedKernelNames() {
			changing[k] = true
		}
	}
	return func(dev string) (string, bool) {
		real, err := filepath.EvalSymlinks(dev)
		if err != nil {
			return "", false
		}
		if st, err := os.Stat(real); err != nil || !(st.Mode().IsRegular() || isBlockDevice(real)) {
			return "", false
		}
		return real, !changing[filepath.Base(real)]
	}
}

// plan is the disks stage's plan.
type plan struct {
	env   *env
	disks []*diskPlan
	raids []*raidPlan
	luks  []*luksPlan
	fss   []*fsPlan
}

// Actions implements stages.Plan.
func (p *plan) Actions() []stages.Action {
	var a []stages.Action
	for _, d := range p.disks {
		a = append(a, d.actions()...)
	}
	for _, r := range p.raids {
		a = append(a, r.action())
	}
	for _, l := range p.luks {
		a = append(a, l.actions()...)
	}
	for _, f := range p.fss {
		a = append(a, f.action())
	}
	return a
}

// Apply implements stages.Plan. It first waits (bounded, concurrently)
// for the disks planning did not find and plans them, so that every
// conflict is still found before the first write. Then it partitions
// (disks concurrently) and waits for udev once for all of them, then makes
// the RAID arrays, LUKS volumes and filesystems (applyVolumes).
func (p *plan) Apply(ctx context.Context, c *stages.Context) error {
	e := p.env
	if c.State == nil {
		c.State = &stages.State{}
	}
	errs := parallel(len(p.disks), func(i int) error {
		d := p.disks[i]
		if !d.pending() {
			return nil
		}
		dev, err := e.wait(ctx, d.Device, "disk to partition")
		if err == nil {
			p.disks[i], err = planDisk(ctx, e, d.cfg, dev)
		}
		if err != nil {
			return fmt.Errorf("partitioning %s: %w", d.Device, err)
		}
		for _, a := range p.disks[i].actions() {
			e.log.Debugf("plan: %s", a)
		}
		return nil
	})
	if err := joinErrs(errs); err != nil {
		return err
	}
	errs = parallel(len(p.disks), func(i int) error {
		d := p.disks[i]
		done := e.log.Op("partitioning %s", d.Device)
		err := applyDisk(ctx, e, d)
		done(err)
		if err != nil {
			return fmt.Errorf("partitioning %s: %w", d.Device, err)
		}
		return nil
	})
	if err := joinErrs(errs); err != nil {
		return err
	}
	var changed []string
	for _, d := range p.disks {
		if d.Args != nil && isBlockDevice(d.Dev) {
			changed = append(changed, d.Dev)
		}
	}
	if err := e.settle(ctx, "partition tables written", changed...); err != nil {
		return err
	}

	return p.applyVolumes(ctx, e, c.State)
}

func strOr(p *string, def string) string {
	if p == nil {
		return def
	}
	return *p
}

// joinErrs joins errors, nil when there are none.
func joinErrs(errs []error) error { return errors.Join(errs...) }
