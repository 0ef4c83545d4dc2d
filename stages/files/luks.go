package files

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"path"
	"slices"

	"github.com/flintboot/flint/config"
	"github.com/flintboot/flint/stages"
	"github.com/flintboot/flint/system"
)

const crypttab = "/etc/crypttab"

// cexFile is a zkey repository file of a cex volume, persisted into the
// root's repository (the reference copies /etc/zkey/repository).
type cexFile struct{ src, dst string }

type luksOp struct {
	name    string
	line    string
	keySrc  string // key file in the run dir, "" = none
	keyPath string // /etc/luks/<name>
}

func (p *plan) planLuks(ctx context.Context, c *stages.Context, cfg *config.Config) error {
	if c.State == nil || len(cfg.Storage.Luks) == 0 {
		return nil
	}
	repo := c.Paths.ZkeyRepository
	if repo == "" {
		repo = "/etc/zkey/repository"
	}
	for _, name := range slices.Sorted(maps.Keys(c.State.LuksCexRepoFiles)) {
		dst := path.Join(repo, path.Base(name))
		p.cex = append(p.cex, cexFile{src: c.State.LuksCexRepoFiles[name], dst: dst})
		p.add("zkey-repository", dst, "mode 0600")
	}
	keyDir := c.Paths.LuksKeyDir
	if keyDir == "" {
		keyDir = "/etc/luks"
	}
	for _, lk := range cfg.Storage.Luks {
		uuid := c.State.LuksUUIDs[lk.Name]
		if uuid == "" {
			return fmt.Errorf("luks volume %q: no UUID recorded by the disks stage", lk.Name)
		}
		op := luksOp{name: lk.Name}
		key := "none"
		if src := c.State.LuksKeyFiles[lk.Name]; src != "" && !c.State.LuksClevis[lk.Name] {
			op.keySrc = src
			op.keyPath = path.Join(keyDir, lk.Name)
			key = op.keyPath
		}
		opts := "luks"
		if c.State.LuksNetwork[lk.Name] {
			opts += ",_netdev"
		}
		op.line = fmt.Sprintf("%s UUID=%s %s %s,x-initrd.attach\n", lk.Name, uuid, key, opts)
		p.luks = append(p.luks, op)
		p.add("crypttab", crypttab, "entry for "+lk.Name)
		if op.keySrc != "" {
			p.add("luks-key", op.keyPath, "mode 0600")
		}
	}
	return nil
}

func (p *plan) applyLuks(ctx context.Context, c *stages.Context) error {
	for _, f := range p.cex {
		b, err := os.ReadFile(f.src)
		if err != nil {
			return fmt.Errorf("reading zkey repository file %s: %w", f.src, err)
		}
		if err := p.writeRootFile(f.dst, b, 0o600); err != nil {
			return err
		}
	}
	if len(p.luks) == 0 {
		return nil
	}
	root := p.st.root
	done := c.Log.With("files").Op("persisting %d LUKS volumes", len(p.luks))
	err := func() error {
		real, err := system.SecureJoin(root, crypttab)
		if err != nil {
			return err
		}
		old, err := os.ReadFile(real)
		if err != nil && !os.IsNotExist(err) {
			return err
		}
		var b bytes.Buffer
		b.Write(old)
		if len(old) > 0 && old[len(old)-1] != '\n' {
			b.WriteByte('\n')
		}
		for _, op := range p.luks {
			b.WriteString(op.line)
			if op.keySrc == "" {
				continue
			}
			key, err := os.ReadFile(op.keySrc)
			if err != nil {
				return fmt.Errorf("reading key of %s: %w", op.name, err)
			}
			kreal, err := system.SecureJoin(root, path.Dir(op.keyPath))
			if err != nil {
				return err
			}
			if _, err := os.Lstat(kreal); os.IsNotExist(err) {
				if err := mkdirParents(root, kreal); err != nil {
					return err
				}
				if err := os.Mkdir(kreal, 0o700); err != nil {
					return err
				}
			}
			if err := p.writeRootFile(op.keyPath, key, 0o600); err != nil {
				return err
			}
		}
		if err := p.writeRootFile(crypttab, b.Bytes(), 0o600); err != nil {
			return err
		}
		for _, op := range p.luks {
			if op.keySrc != "" {
				os.Remove(op.keySrc)
				delete(c.State.LuksKeyFiles, op.name)
			}
		}
		return nil
	}()
	done(err)
	return err
}
