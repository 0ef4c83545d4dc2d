// Package mount holds the mount and umount stages: filesystems with a
// path are mounted under the root (shallow first) and unmounted again
// (deepest first).
package mount

import (
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

// Mountable returns the filesystems the mount stages handle: those with a
// path and a real format (not unset, "", swap or none), sorted by path
// depth, shallow first (config order among equals).
func Mountable(cfg config.Config) []config.Filesystem {
	var out []config.Filesystem
	for _, f := range cfg.Storage.Filesystems {
		if f.Path == nil || *f.Path == "" || f.Format == nil {
			continue
		}
		switch *f.Format {
		case "", "swap", "none":
			continue
		}
		out = append(out, f)
	}
	sort.SliceStable(out, func(i, j int) bool { return depth(*out[i].Path) < depth(*out[j].Path) })
	return out
}

func depth(p string) int {
	p = path.Clean(p)
	if p == "/" {
		return 0
	}
	return strings.Count(p, "/")
}

func join(root, p string) string {
	if root == "" {
		root = "/"
	}
	return filepath.Join(root, p)
}

// Mount is the mount stage.
type Mount struct{}

// Name implements stages.Stage.
func (Mount) Name() string { return "mount" }

type step struct {
	fs     config.Filesystem
	target string
	create []string // missing directories to create, outermost first
}

// Plan implements stages.Stage. Every component of every mount path must
// be a real directory (symbolic links are refused so a mount never lands
// outside the root) or missing; missing ones are created 0755.
func (Mount) Plan(ctx context.Context, c *stages.Context) (stages.Plan, error) {
	var steps []step
	var acts []stages.Action
	planned := map[string]bool{}
	for _, f := range Mountable(c.Config) {
		st := step{fs: f, target: join(c.Root, *f.Path)}
		cur := filepath.Clean(c.Root)
		if cur == "" {
			cur = "/"
		}
		for _, comp := range strings.Split(strings.Trim(path.Clean(*f.Path), "/"), "/") {
			if comp == "" {
				continue
			}
			cur = filepath.Join(cur, comp)
			if planned[cur] {
				continue
			}
			fi, err := os.Lstat(cur)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				st.create = append(st.create, cur)
				planned[cur] = true
			case err != nil:
				return nil, fmt.Errorf("mount path %s: %w", *f.Path, err)
			case !fi.IsDir():
				return nil, fmt.Errorf("mount path %s: %s is not a directory", *f.Path, cur)
			}
		}
		for _, d := range st.create {
			acts = append(acts, stages.Action{Op: "mkdir", Target: d, Detail: "mode 0755, mountpoint"})
		}
		opts := make([]string, 0, len(f.MountOptions))
		for _, o := range f.MountOptions {
			opts = append(opts, string(o))
		}
		acts = append(acts, stages.Action{Op: "mount", Target: st.target,
			Detail: strings.TrimSpace(fmt.Sprintf("%s %s %s", f.Device, *f.Format, strings.Join(opts, ",")))})
		steps = append(steps, st)
	}
	if len(steps) == 0 {
		return stages.Noop, nil
	}
	return &stages.Actions{List: acts, Do: func(ctx context.Context, c *stages.Context) error {
		for _, st := range steps {
			for _, d := range st.create {
				if err := os.Mkdir(d, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
					return fmt.Errorf("creating mountpoint %s: %w", d, err)
				}
				if err := os.Chmod(d, 0o755); err != nil {
					return err
				}
				rel := strings.TrimPrefix(d, filepath.Clean(c.Root))
				if c.Root == "/" || c.Root == "" {
					rel = d
				}
				c.State.NotatedDirectories = append(c.State.NotatedDirectories, rel)
			}
			var opts []string
			for _, o := range st.fs.MountOptions {
				opts = append(opts, string(o))
			}
			if err := system.Mount(ctx, c.Runner, c.Log, st.fs.Device, st.target, *st.fs.Format, opts); err != nil {
				return fmt.Errorf("mounting %s on %s: %w", st.fs.Device, st.target, err)
			}
		}
		return nil
	}}, nil
}

// Umount is the umount stage.
type Umount struct{}

// Name implements stages.Stage.
func (Umount) Name() string { return "umount" }

// Plan implements stages.Stage: unmount deepest first; paths that are not
// mount points are skipped.
func (Umount) Plan(ctx context.Context, c *stages.Context) (stages.Plan, error) {
	fss := Mountable(c.Config)
	var targets []string
	var acts []stages.Action
	mounted := map[string]bool{}
	if ms, err := system.Mounts(); err == nil {
		for _, m := range ms {
			mounted[m.MountPoint] = true
		}
	}
	for i := len(fss) - 1; i >= 0; i-- {
		t := join(c.Root, *fss[i].Path)
		if !mounted[t] {
			continue
		}
		targets = append(targets, t)
		acts = append(acts, stages.Action{Op: "umount", Target: t})
	}
	if len(targets) == 0 {
		return stages.Noop, nil
	}
	return &stages.Actions{List: acts, Do: func(ctx context.Context, c *stages.Context) error {
		for _, t := range targets {
			done := c.Log.With("umount").Op("unmounting %s", t)
			err := system.Unmount(ctx, t)
			done(err)
			if err != nil {
				return err
			}
		}
		return nil
	}}, nil
}
