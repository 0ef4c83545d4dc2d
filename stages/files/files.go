// Package files is the files stage: users and groups, files, directories
// and links, systemd units and presets, and LUKS persistence, all written
// inside the target root. It plans everything first (reading the root,
// changing nothing) and refuses conflicts before the first write.
package files

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	"github.com/flintboot/flint/log"
	"github.com/flintboot/flint/stages"
	"golang.org/x/sys/unix"
)

// authorizedKeysFragment is the build-time default for where SSH keys go:
// "true" → ~/.ssh/authorized_keys.d/flint, "false" → ~/.ssh/authorized_keys
// (Flatcar). Set with -ldflags "-X github.com/flintboot/flint/stages/files.authorizedKeysFragment=false".
var authorizedKeysFragment = "true"

// FragmentName is the file under ~/.ssh/authorized_keys.d/.
const FragmentName = "flint"

// PresetFile is where `enabled` lands. flint writes only its own preset
// file (not 20-ignition.preset): systemd reads every *.preset in the
// directory, so one file is enough and two would say everything twice.
const PresetFile = "/etc/systemd/system-preset/20-flint.preset"

// UnitDir is where units and drop-ins are written.
const UnitDir = "/etc/systemd/system"

// DefaultAuthorizedKeysFragment returns the effective default: the build
// flag, overridden by FLINT_AUTHORIZED_KEYS_FRAGMENT=true|false.
func DefaultAuthorizedKeysFragment() bool {
	v := authorizedKeysFragment
	if e := os.Getenv("FLINT_AUTHORIZED_KEYS_FRAGMENT"); e != "" {
		v = e
	}
	switch strings.ToLower(v) {
	case "0", "false", "no", "off":
		return false
	}
	return true
}

// selinuxRelabel is the build-time switch for SELinux relabelling:
// "false" turns it off (Flatcar's builds), anything else leaves it on.
// Set with -ldflags "-X github.com/flintboot/flint/stages/files.selinuxRelabel=false".
var selinuxRelabel = "true"

// Stage is the files stage.
type Stage struct {
	relabel bool
}

// New returns the files stage, with SELinux relabelling as the build set it.
func New() Stage { return Stage{relabel: selinuxRelabel != "false"} }

// Name implements stages.Stage.
func (Stage) Name() string { return "files" }

// plan is everything the stage will do, in order.
type plan struct {
	acts    []stages.Action
	jobs    []*fetchJob
	acct    accountsPlan
	nodes   []*node
	units   []unitOp
	preset  *node
	luks    []luksOp
	cex     []cexFile
	st      *planner
	relabel bool

	sweep   map[string]bool // existing directories written into: leftovers are removed first
	tmp     temps
	written writtenSet
}

func (p *plan) Actions() []stages.Action { return p.acts }

func (p *plan) add(op, target, detail string) {
	p.acts = append(p.acts, stages.Action{Op: op, Target: target, Detail: detail})
}

// touch records an existing directory the plan writes into.
func (p *plan) touch(dir string) {
	if p.sweep == nil {
		p.sweep = map[string]bool{}
	}
	p.sweep[dir] = true
}

// Plan implements stages.Stage: it reads the root and returns every action,
// failing on the first conflict it finds.
func (s Stage) Plan(ctx context.Context, c *stages.Context) (stages.Plan, error) {
	p := &plan{st: newPlanner(c.Root), relabel: s.relabel}
	cfg := &c.Config
	if err := p.planPasswd(ctx, c, cfg); err != nil {
		return nil, err
	}
	if len(cfg.Passwd.Users)+len(cfg.Passwd.Groups) > 0 {
		p.touch(filepath.Join(p.st.root, "etc")) // passwd, shadow, group, gshadow
	}
	if err := p.planNodes(ctx, c, cfg); err != nil {
		return nil, err
	}
	if err := p.planUnits(ctx, c, cfg); err != nil {
		return nil, err
	}
	if err := p.planLuks(ctx, c, cfg); err != nil {
		return nil, err
	}
	// remote contents go first in the action list: they are fetched before
	// anything is written
	var pre []stages.Action
	for _, j := range p.jobs {
		for _, r := range j.n.parts() {
			if needsPrefetch(r) {
				pre = append(pre, stages.Action{Op: "fetch", Target: sourceDesc(r), Detail: "for " + j.n.cfgPath})
			}
		}
	}
	p.acts = append(pre, p.acts...)
	return p, nil
}

// Apply implements stages.Plan. Remote contents are fetched first, all at
// once; only when every one arrived (hash checked) does the root change.
// On failure or cancellation every temporary file is removed. At the end
// the written paths are relabelled (SELinux) and every filesystem written
// to is flushed with one syncfs.
func (p *plan) Apply(ctx context.Context, c *stages.Context) error {
	old := unix.Umask(0)
	defer unix.Umask(old)
	l := c.Log.With("files")
	p.sweepLeftovers(l)
	defer p.tmp.removeAll()
	if err := p.fetchAll(ctx, c); err != nil {
		return err
	}
	if err := p.applyPasswd(ctx, c); err != nil {
		return err
	}
	if err := p.applyNodes(ctx, c); err != nil {
		return err
	}
	if err := p.applyUnits(ctx, c); err != nil {
		return err
	}
	if err := p.applyLuks(ctx, c); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := p.relabelWritten(ctx, c); err != nil {
		return err
	}
	return p.syncWritten(l)
}

// sweepLeftovers removes temporary files an interrupted run left in the
// directories this plan writes into. Failing to remove one is logged,
// never fatal.
func (p *plan) sweepLeftovers(l *log.Logger) {
	n := 0
	for d := range p.sweep {
		k, errs := sweepTemps(d)
		n += k
		for _, err := range errs {
			l.Warn("%v", err)
		}
	}
	if n > 0 {
		l.Info("removed %d temporary files left by an interrupted run", n)
	}
}
