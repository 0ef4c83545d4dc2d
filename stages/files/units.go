package files

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/flintboot/flint/config"
	"github.com/flintboot/flint/log"
	"github.com/flintboot/flint/stages"
	"github.com/flintboot/flint/system"
	"golang.org/x/sys/unix"
)

type unitOp struct {
	kind    string // "write", "mask", "unmask", "disable"
	unit    string
	cfgPath string
	n       *node // write, mask: the node; unmask: the link to remove
}

// splitInstance splits "foo@bar.service" into ("foo@.service", "bar").
func splitInstance(name string) (template, instance string, ok bool) {
	at := strings.IndexByte(name, '@')
	dot := strings.LastIndexByte(name, '.')
	if at < 0 || dot < at {
		return "", "", false
	}
	inst := name[at+1 : dot]
	if inst == "" {
		return "", "", false
	}
	return name[:at+1] + name[dot:], inst, true
}

func hasInstall(contents string) bool {
	opts, err := config.ParseUnit(contents)
	if err != nil {
		return false
	}
	for _, o := range opts {
		if o.Section == "Install" {
			return true
		}
	}
	return false
}

// presetLines builds the sorted preset file lines, instances of one
// template collapsed into one line: "enable foo@.service a b". A unit
// with enabled false gets a "disable" line only when disabled[name] (it
// was enabled in the root).
func presetLines(units []config.Unit, disabled map[string]bool) []string {
	type key struct{ verb, tmpl string }
	inst := map[key][]string{}
	var plain []string
	for _, u := range units {
		if u.Enabled == nil {
			continue
		}
		verb := "disable"
		if *u.Enabled {
			verb = "enable"
		} else if !disabled[u.Name] {
			continue
		}
		if t, i, ok := splitInstance(u.Name); ok {
			k := key{verb, t}
			inst[k] = append(inst[k], i)
			continue
		}
		plain = append(plain, verb+" "+u.Name)
	}
	for k, is := range inst {
		sort.Strings(is)
		plain = append(plain, k.verb+" "+k.tmpl+" "+strings.Join(is, " "))
	}
	sort.Strings(plain)
	return plain
}

func (p *plan) planUnits(ctx context.Context, c *stages.Context, cfg *config.Config) error {
	units := cfg.Systemd.Units
	byName := map[string]*config.Unit{}
	for i := range units {
		byName[units[i].Name] = &units[i]
	}
	l := c.Log.With("files")
	presets := false
	for _, u := range units {
		for _, d := range u.Dropins {
			if d.Contents == nil {
				continue
			}
			cp := path.Join(UnitDir, u.Name+".d", d.Name)
			n, err := p.planLiteral(cp, []byte(*d.Contents), 0o644)
			if err != nil {
				return err
			}
			p.units = append(p.units, unitOp{kind: "write", unit: u.Name, cfgPath: cp, n: n})
			p.add("write-dropin", cp, "mode 0644")
		}
		if u.Contents != nil && *u.Contents != "" {
			cp := path.Join(UnitDir, u.Name)
			n, err := p.planLiteral(cp, []byte(*u.Contents), 0o644)
			if err != nil {
				return err
			}
			p.units = append(p.units, unitOp{kind: "write", unit: u.Name, cfgPath: cp, n: n})
			p.add("write-unit", cp, "mode 0644")
		}
		if u.Enabled != nil {
			presets = true
		}
		if u.Enabled != nil && *u.Enabled {
			if t, _, ok := splitInstance(u.Name); ok {
				if tu := byName[t]; tu != nil && tu.Contents != nil && !hasInstall(*tu.Contents) {
					l.Warn("template unit %q for %q doesn't have Install section", t, u.Name)
				}
			} else if u.Contents != nil && !hasInstall(*u.Contents) {
				l.Warn("unit %q is enabled, but has no install section so enable does nothing", u.Name)
			}
		}
		if u.Enabled != nil && !*u.Enabled {
			p.units = append(p.units, unitOp{kind: "disable", unit: u.Name})
			state := unitRoot{root: p.st.root}.unitState(u.Name)
			p.add("disable", u.Name, "if enabled in the root when its files are written (now: "+state+"): remove its links, preset disable")
		}
		if u.Mask != nil {
			cp := path.Join(UnitDir, u.Name)
			real, err := p.st.resolve(cp)
			if err == nil {
				real, err = p.st.checkLinks(real, cp)
			}
			if err != nil {
				return err
			}
			if *u.Mask {
				n, err := p.planMask(cp, real)
				if err != nil {
					return err
				}
				p.units = append(p.units, unitOp{kind: "mask", unit: u.Name, cfgPath: cp, n: n})
				p.add("mask", cp, "-> /dev/null")
			} else if t, err := os.Readlink(real); err == nil && t == "/dev/null" {
				p.units = append(p.units, unitOp{kind: "unmask", unit: u.Name, cfgPath: cp, n: &node{real: real, cfgPath: cp}})
				p.add("unmask", cp, "remove link to /dev/null")
			}
		}
	}
	if presets {
		n, err := p.planLiteral(PresetFile, nil, 0o644)
		if err != nil {
			return err
		}
		p.preset = n
		p.add("write-preset", PresetFile, "enable lines, and disable lines for units enabled in the root")
	}
	return nil
}

// planLiteral plans writing fixed contents to cfgPath (units, drop-ins,
// presets): whatever file or link is there is replaced; a directory is
// refused.
func (p *plan) planLiteral(cfgPath string, data []byte, mode int) (*node, error) {
	real, err := p.st.resolve(cfgPath)
	if err == nil {
		real, err = p.st.checkLinks(real, cfgPath)
	}
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", cfgPath, err)
	}
	n := &node{kind: kFile, cfgPath: cfgPath, real: real, literal: data, isLit: true, mode: &mode, defMode: uint32(mode)}
	return p.placeUnitNode(n)
}

// placeUnitNode plans a unit file or mask link that replaces whatever
// file or link is at its place (never a directory).
func (p *plan) placeUnitNode(n *node) (*node, error) {
	if k, _ := p.st.state(n.real); k == kDir || k == kOther {
		return nil, fmt.Errorf("%s: %s exists there", n.cfgPath, k)
	}
	n.remove = true
	if _, _, err := p.prepareQuiet(n); err != nil {
		return nil, err
	}
	p.place(n, filepath.Dir(n.real))
	p.st.created[n.real] = n.kind
	return n, nil
}

// planMask plans the link to /dev/null that masks a unit.
func (p *plan) planMask(cfgPath, real string) (*node, error) {
	return p.placeUnitNode(&node{kind: kSymlink, cfgPath: cfgPath, real: real, target: "/dev/null"})
}

func (p *plan) applyUnits(ctx context.Context, c *stages.Context) error {
	root := p.st.root
	l := c.Log.With("files")
	if len(p.units) == 0 && p.preset == nil {
		return nil
	}
	done := l.Op("writing %d systemd unit operations", len(p.units))
	disabled := map[string]bool{}
	ur := unitRoot{root: root, cache: newUnitCache()}
	err := func() error {
		for _, op := range p.units {
			if err := ctx.Err(); err != nil {
				return err
			}
			var err error
			switch op.kind {
			case "write":
				err = p.applyLiteral(ctx, c, op.n)
			case "mask":
				err = p.applyMask(op.n)
			case "unmask":
				if t, rerr := os.Readlink(op.n.real); rerr == nil && t == "/dev/null" {
					err = os.Remove(op.n.real)
				}
			case "disable":
				var was bool
				was, err = p.disable(l, ur, op.unit)
				disabled[op.unit] = was
			}
			if op.n != nil && err == nil {
				for _, d := range op.n.mkdirs {
					ur.cache.added(d, fs.ModeDir)
				}
				switch op.kind {
				case "write":
					ur.cache.added(op.n.real, 0)
				case "mask":
					ur.cache.added(op.n.real, fs.ModeSymlink)
				default:
					ur.cache.changed(op.n.real)
				}
			}
			if err != nil {
				return fmt.Errorf("unit %s: %w", op.unit, err)
			}
		}
		if p.preset == nil {
			return nil
		}
		lines := presetLines(c.Config.Systemd.Units, disabled)
		if len(lines) == 0 {
			return nil
		}
		var b bytes.Buffer
		for _, ln := range lines {
			b.WriteString(ln)
			b.WriteByte('\n')
		}
		p.preset.literal = b.Bytes()
		return p.applyLiteral(ctx, c, p.preset)
	}()
	done(err)
	return err
}

// applyLiteral writes a literal node (root-owned, its mode) after its
// leading directories.
func (p *plan) applyLiteral(ctx context.Context, c *stages.Context, n *node) error {
	for _, d := range n.mkdirs {
		if err := mkdirOnce(d, 0o755); err != nil {
			return err
		}
		p.wroteOn(d, n.dev)
	}
	return p.writeFile(ctx, c, n, 0, 0)
}

func (p *plan) applyMask(n *node) error {
	for _, d := range n.mkdirs {
		if err := mkdirOnce(d, 0o755); err != nil {
			return err
		}
		p.wroteOn(d, n.dev)
	}
	if err := os.Remove(n.real); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return p.applySymlink(n, 0, 0)
}

// disable undoes an enablement the way `systemctl --root ROOT disable`
// does, when `systemctl --root ROOT is-enabled` would report the unit
// enabled; decided in-process. It reports whether the unit was enabled.
func (p *plan) disable(l *log.Logger, u unitRoot, unit string) (bool, error) {
	state := u.unitState(unit)
	if !enabledState(state) {
		l.Debugf("unit %s is %s in the root: nothing to disable", unit, state)
		return false, nil
	}
	links, dirs := u.disableLinks(unit)
	for _, lk := range links {
		err := os.Remove(u.host(lk))
		u.cache.changed(u.host(lk))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return true, err
		}
		l.Info("removed %s (disabling %s, which was %s)", lk, unit, state)
	}
	for _, d := range dirs {
		err := os.Remove(u.host(d))
		u.cache.changed(u.host(d))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return true, err
		}
	}
	return true, nil
}

// writeRootFile writes data to cfgPath inside the root through a
// temporary file renamed into place (leading directories 0755). For
// writers outside the plan (LUKS); it records the path as written.
func (p *plan) writeRootFile(cfgPath string, data []byte, mode os.FileMode) error {
	root := p.st.root
	real, err := system.SecureJoin(root, cfgPath)
	if err != nil {
		return err
	}
	if err := mkdirParents(root, real); err != nil {
		return err
	}
	if fi, err := os.Lstat(real); err == nil && fi.IsDir() {
		return fmt.Errorf("%s is a directory", cfgPath)
	}
	dir, base := filepath.Split(real)
	tmp, err := createTemp(dir, base, uint32(mode.Perm()))
	if err != nil {
		return err
	}
	p.tmp.add(tmp.Name())
	defer func() {
		unix.Unlink(tmp.Name())
		p.tmp.done(tmp.Name())
	}()
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), real); err != nil {
		return err
	}
	p.wrote(real)
	return nil
}
