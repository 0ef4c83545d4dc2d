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
	"time"

	"github.com/flintboot/flint/log"
	"github.com/flintboot/flint/resource"
	"github.com/flintboot/flint/stages"
	"github.com/flintboot/flint/system"
)

// DefaultDeviceTimeout bounds every wait for a device node.
const DefaultDeviceTimeout = 2 * time.Minute

// Stage is the disks stage. The zero value is ready to use.
type Stage struct {
	// DeviceTimeout bounds each wait for a device (default DefaultDeviceTimeout).
	DeviceTimeout time.Duration
}

// New returns the disks stage.
func New() *Stage { return &Stage{} }

// Name implements stages.Stage.
func (s *Stage) Name() string { return "disks" }

func (s *Stage) timeout() time.Duration {
	if s.DeviceTimeout > 0 {
		return s.DeviceTimeout
	}
	return DefaultDeviceTimeout
}

// env is what planning and applying share.
type env struct {
	ctx     context.Context
	log     *log.Logger
	run     system.Runner // every command that changes something
	read    system.Runner // read-only commands (real even when run is a DryRun)
	fetcher *resource.Fetcher
	paths   system.Paths
	timeout time.Duration
}

func newEnv(ctx context.Context, s *Stage, c *stages.Context) *env {
	e := &env{ctx: ctx, log: c.Log, run: c.Runner, fetcher: c.Fetcher, paths: c.Paths, timeout: s.timeout()}
	if e.ctx == nil {
		e.ctx = context.Background()
	}
	if e.run == nil {
		e.run = system.NewRunner(e.log, nil)
	}
	e.read = e.run
	if _, dry := e.run.(*system.DryRun); dry {
		// Planning must still read the machine: blkid, sgdisk --pretend
		// and cryptsetup isLuks change nothing.
		e.read = system.NewRunner(e.log, nil)
	}
	if e.paths.RunDir == "" {
		e.paths = system.PathsFromEnv()
	}
	if e.fetcher == nil {
		e.fetcher, _ = resource.New(resource.Options{})
	}
	return e
}

// Plan implements stages.Stage: it reads the machine and changes nothing.
func (s *Stage) Plan(ctx context.Context, c *stages.Context) (stages.Plan, error) {
	st := c.Config.Storage
	p := &plan{env: newEnv(ctx, s, c)}
	if len(st.Disks) == 0 && len(st.Raid) == 0 && len(st.Luks) == 0 && len(st.Filesystems) == 0 {
		return p, nil
	}
	e := p.env
	changing := map[string]bool{} // kernel names the partitioning step changes
	for _, d := range st.Disks {
		dev, err := system.DeviceWait{Log: e.log}.For(e.ctx, d.Device, e.timeout)
		if err != nil {
			return nil, fmt.Errorf("partitioning %s: %w", d.Device, err)
		}
		dp, err := planDisk(e, d, dev)
		if err != nil {
			return nil, fmt.Errorf("partitioning %s: %w", d.Device, err)
		}
		p.disks = append(p.disks, dp)
		for k := range dp.changedKernelNames() {
			changing[k] = true
		}
	}
	for _, r := range st.Raid {
		rp, err := planRaid(r)
		if err != nil {
			return nil, err
		}
		p.raids = append(p.raids, rp)
	}
	// A device is probed now when it exists and partitioning leaves it
	// alone; otherwise its decision waits for the apply step.
	stable := func(dev string) (string, bool) {
		real, err := filepath.EvalSymlinks(dev)
		if err != nil {
			return "", false
		}
		if st, err := os.Stat(real); err != nil || !(st.Mode().IsRegular() || isBlockDevice(real)) {
			return "", false // image files count: host tests and offline images
		}
		return real, !changing[filepath.Base(real)]
	}
	for _, l := range st.Luks {
		lp, err := planLuks(e, l, stable)
		if err != nil {
			return nil, err
		}
		p.luks = append(p.luks, lp)
	}
	fps, err := planFilesystems(e, st.Filesystems, stable)
	if err != nil {
		return nil, err
	}
	p.fss = fps
	return p, nil
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

// Apply implements stages.Plan: partitions (disks concurrently), then
// RAID and LUKS, then filesystems. Filesystems on devices that no RAID or
// LUKS step creates or consumes are made while RAID and LUKS are set up;
// the others afterwards. All run through GOMAXPROCS (at least 4) workers.
func (p *plan) Apply(ctx context.Context, c *stages.Context) error {
	e := p.env
	if ctx != nil {
		e.ctx = ctx
	}
	if c.Runner != nil {
		e.run = c.Runner
	}
	if c.State == nil {
		c.State = &stages.State{}
	}
	errs := parallel(len(p.disks), func(i int) error {
		d := p.disks[i]
		done := e.log.Op("partitioning %s", d.Device)
		err := applyDisk(e, d)
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
	if err := settle(e, changed...); err != nil {
		return err
	}

	early, late := p.splitFilesystems()
	var earlyErr error
	earlyDone := make(chan struct{})
	go func() {
		defer close(earlyDone)
		earlyErr = applyFilesystems(e, early)
	}()
	chainErr := p.applyRaidLuks(e, c.State)
	<-earlyDone
	if chainErr != nil {
		return errors.Join(chainErr, earlyErr)
	}
	if earlyErr != nil {
		return earlyErr
	}
	return applyFilesystems(e, late)
}

func (p *plan) applyRaidLuks(e *env, st *stages.State) error {
	var made []string
	for _, r := range p.raids {
		done := e.log.Op("creating RAID array %s", r.Name)
		err := applyRaid(e, r)
		done(err)
		if err != nil {
			return fmt.Errorf("creating RAID array %s: %w", r.Name, err)
		}
		made = append(made, r.Path)
	}
	if len(made) > 0 {
		if err := settle(e, made...); err != nil {
			return err
		}
	}
	made = nil
	for _, l := range p.luks {
		done := e.log.Op("setting up LUKS volume %s", l.Name)
		err := applyLuks(e, l, st)
		done(err)
		if err != nil {
			return fmt.Errorf("LUKS volume %s: %w", l.Name, err)
		}
		made = append(made, "/dev/mapper/"+l.Name)
	}
	if len(made) > 0 {
		return settle(e, made...)
	}
	return nil
}

// splitFilesystems separates the filesystems whose device no RAID or LUKS
// step touches (early) from the others (late).
func (p *plan) splitFilesystems() (early, late []*fsPlan) {
	touched := map[string]bool{}
	add := func(path string) {
		touched[path] = true
		if r, err := filepath.EvalSymlinks(path); err == nil {
			touched[r] = true
		}
	}
	for _, r := range p.raids {
		add(r.Path)
		for _, d := range r.Devices {
			add(d)
		}
	}
	for _, l := range p.luks {
		add(l.Device)
		add("/dev/mapper/" + l.Name)
	}
	for _, f := range p.fss {
		// A device missing now may be made by RAID or LUKS: it waits.
		real, err := filepath.EvalSymlinks(f.FS.Device)
		if touched[f.FS.Device] || err != nil || touched[real] {
			late = append(late, f)
		} else {
			early = append(early, f)
		}
	}
	return early, late
}

// settle waits for udev to process devs in one `udevadm trigger --settle`
// call (the reference settles device by device); without udevadm it is a
// no-op, and when trigger fails a plain settle is tried.
func settle(e *env, devs ...string) error {
	if len(devs) == 0 {
		return nil
	}
	if _, dry := e.run.(*system.DryRun); dry {
		return nil
	}
	_, err := e.run.Run(e.ctx, system.Cmd{Name: system.ToolUdevadm, Args: append([]string{"trigger", "--settle"}, devs...)})
	if err == nil || errors.Is(err, system.ErrToolNotFound) {
		return nil
	}
	return system.UdevSettle(e.ctx, e.run, e.log, "")
}

func strOr(p *string, def string) string {
	if p == nil {
		return def
	}
	return *p
}

// joinErrs joins errors, nil when there are none.
func joinErrs(errs []error) error { return errors.Join(errs...) }
