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
	"github.com/flintboot/flint/stages"
	"github.com/flintboot/flint/system"
)

type unitOp struct {
	kind     string // "write", "mask", "unmask", "disable"
	unit     string
	cfgPath  string
	contents string
}

type presetOp struct {
	lines []string
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
// template collapsed into one line: "enable foo@.service a b".
func presetLines(units []config.Unit) []string {
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
	for _, u := range units {
		for _, d := range u.Dropins {
			if d.Contents == nil {
				continue
			}
			cp := path.Join(UnitDir, u.Name+".d", d.Name)
			p.units = append(p.units, unitOp{kind: "write", unit: u.Name, cfgPath: cp, contents: *d.Contents})
			p.add("write-dropin", cp, "mode 0644")
		}
		if u.Contents != nil && *u.Contents != "" {
			cp := path.Join(UnitDir, u.Name)
			p.units = append(p.units, unitOp{kind: "write", unit: u.Name, cfgPath: cp, contents: *u.Contents})
			p.add("write-unit", cp, "mode 0644")
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
			p.add("disable", u.Name, "systemctl --root disable if enabled")
		}
		if u.Mask != nil {
			cp := path.Join(UnitDir, u.Name)
			real, err := system.SecureJoin(p.st.root, cp)
			if err != nil {
				return err
			}
			if *u.Mask {
				p.units = append(p.units, unitOp{kind: "mask", unit: u.Name, cfgPath: cp})
				p.add("mask", cp, "-> /dev/null")
			} else if t, err := os.Readlink(real); err == nil && t == "/dev/null" {
				p.units = append(p.units, unitOp{kind: "unmask", unit: u.Name, cfgPath: cp})
				p.add("unmask", cp, "remove link to /dev/null")
			}
		}
	}
	if lines := presetLines(units); len(lines) > 0 {
		p.preset = &presetOp{lines: lines}
		p.add("write-preset", PresetFile, fmt.Sprintf("%d lines", len(lines)))
	}
	return nil
}

// writeRootFile writes data to cfgPath inside the root atomically (leading
// directories 0755).
func writeRootFile(root, cfgPath string, data []byte, mode os.FileMode) error {
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
	tmp, err := os.CreateTemp(dir, "."+base+".flint-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(mode)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), real)
}

func (p *plan) applyUnits(ctx context.Context, c *stages.Context) error {
	root := p.st.root
	l := c.Log.With("files")
	for _, op := range p.units {
		var err error
		var done func(error)
		switch op.kind {
		case "write":
			done = l.Op("writing unit file %q", op.cfgPath)
			err = writeRootFile(root, op.cfgPath, []byte(op.contents), 0o644)
		case "mask":
			done = l.Op("masking unit %q", op.unit)
			err = mask(root, op.cfgPath)
		case "unmask":
			done = l.Op("unmasking unit %q", op.unit)
			err = unmask(root, op.cfgPath)
		case "disable":
			done = l.Op("disabling unit %q", op.unit)
			err = disable(ctx, c, root, op.unit)
		}
		done(err)
		if err != nil {
			return fmt.Errorf("unit %s: %w", op.unit, err)
		}
	}
	if p.preset != nil {
		var b bytes.Buffer
		for _, ln := range p.preset.lines {
			b.WriteString(ln)
			b.WriteByte('\n')
		}
		done := l.Op("writing systemd preset file %q", PresetFile)
		err := writeRootFile(root, PresetFile, b.Bytes(), 0o644)
		done(err)
		if err != nil {
			return err
		}
	}
	return nil
}

func mask(root, cfgPath string) error {
	real, err := system.SecureJoin(root, cfgPath)
	if err != nil {
		return err
	}
	if err := mkdirParents(root, real); err != nil {
		return err
	}
	if err := os.Remove(real); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return os.Symlink("/dev/null", real)
}

func unmask(root, cfgPath string) error {
	real, err := system.SecureJoin(root, cfgPath)
	if err != nil {
		return err
	}
	if t, err := os.Readlink(real); err == nil && t == "/dev/null" {
		return os.Remove(real)
	}
	return nil
}

// disable runs `systemctl --root ROOT disable UNIT` when the unit is
// enabled there. Without systemctl there is nothing that could have
// enabled it through the usual symlinks flint knows about, so a missing
// binary is logged and skipped.
func disable(ctx context.Context, c *stages.Context, root, unit string) error {
	_, err := c.Runner.Run(ctx, system.Cmd{Name: system.ToolSystemctl, Args: []string{"--root", root, "is-enabled", unit}})
	if errors.Is(err, system.ErrToolNotFound) {
		c.Log.Info("systemctl not found; not checking whether %s is enabled", unit)
		return nil
	}
	if err != nil {
		return nil // not enabled (or unknown): nothing to undo
	}
	_, err = c.Runner.Run(ctx, system.Cmd{Name: system.ToolSystemctl, Args: []string{"--root", root, "disable", unit}})
	return err
}
