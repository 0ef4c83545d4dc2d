// Package files is the files stage: users and groups, files, directories
// and links, systemd units and presets, and LUKS persistence, all written
// inside the target root. It plans everything first (reading the root,
// changing nothing) and refuses conflicts before the first write.
package files

import (
	"context"
	"os"
	"strings"

	"github.com/flintboot/flint/config"
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

// Stage is the files stage.
type Stage struct{}

// New returns the files stage.
func New() Stage { return Stage{} }

// Name implements stages.Stage.
func (Stage) Name() string { return "files" }

// plan is everything the stage will do, in order.
type plan struct {
	acts     []stages.Action
	prefetch []*prefetch
	acct     accountsPlan
	nodes    []*node
	units    []unitOp
	preset   *presetOp
	luks     []luksOp
	st       *planner
	staging  string
}

func (p *plan) Actions() []stages.Action { return p.acts }

func (p *plan) add(op, target, detail string) {
	p.acts = append(p.acts, stages.Action{Op: op, Target: target, Detail: detail})
}

// Plan implements stages.Stage: it reads the root and returns every action,
// failing on the first conflict it finds.
func (Stage) Plan(ctx context.Context, c *stages.Context) (stages.Plan, error) {
	p := &plan{st: newPlanner(c)}
	cfg := &c.Config
	if err := p.planPasswd(ctx, c, cfg); err != nil {
		return nil, err
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
	for _, f := range p.prefetch {
		pre = append(pre, stages.Action{Op: "fetch", Target: f.desc, Detail: "for " + f.forPath})
	}
	p.acts = append(pre, p.acts...)
	return p, nil
}

// Apply implements stages.Plan.
func (p *plan) Apply(ctx context.Context, c *stages.Context) error {
	old := unix.Umask(0)
	defer unix.Umask(old)
	if err := p.fetchAll(ctx, c); err != nil {
		return err
	}
	defer p.cleanupFetch()
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
	// one syncfs for everything written (cheaper than an fsync per file)
	if fd, err := unix.Open(c.Root, unix.O_RDONLY|unix.O_DIRECTORY, 0); err == nil {
		unix.Syncfs(fd)
		unix.Close(fd)
	}
	return nil
}

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

// toMode converts a config mode (permission bits plus setuid/setgid/sticky
// as 04000/02000/01000) to an os.FileMode.
func toMode(m int) os.FileMode {
	fm := os.FileMode(m) & os.ModePerm
	if m&04000 != 0 {
		fm |= os.ModeSetuid
	}
	if m&02000 != 0 {
		fm |= os.ModeSetgid
	}
	if m&01000 != 0 {
		fm |= os.ModeSticky
	}
	return fm
}
