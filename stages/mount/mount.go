// Package mount holds the mount and umount stages: filesystems with a
// path are mounted under the root in path order (shallow first, so that
// /var is mounted before /var/lib/containers and the latter's mountpoint
// is made in the /var filesystem) and unmounted again in reverse.
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

// step is one filesystem to mount.
type step struct {
	fs     config.Filesystem
	rel    string // mount path, cleaned, relative to the root ("/var")
	target string // root + rel
	under  string // the earlier mount path this one lies in ("" when none)
}

// Plan implements stages.Stage. Filesystems are mounted in path order
// (shallow first), each mountpoint created, and checked, only once the
// filesystems above it are mounted: in the tree as it then stands, every
// component of a mount path must be a real directory or missing (missing
// ones are created 0755); a symbolic link or another non-directory is
// refused, so a mount never lands outside the root. Planning checks now
// what lies outside every earlier mount; the rest is checked when applying.
func (Mount) Plan(ctx context.Context, c *stages.Context) (stages.Plan, error) {
	root := filepath.Clean(c.Root)
	if c.Root == "" {
		root = "/"
	}
	var steps []step
	var acts []stages.Action
	var earlier []string
	for _, f := range Mountable(c.Config) {
		rel := path.Clean("/" + *f.Path)
		st := step{fs: f, rel: rel, target: join(root, rel)}
		for _, m := range earlier {
			if within(rel, m) && len(m) > len(st.under) {
				st.under = m
			}
		}
		earlier = append(earlier, rel)
		if st.under == "" {
			missing, err := checkMountPath(root, rel)
			if err != nil {
				return nil, err
			}
			for _, d := range missing {
				acts = append(acts, stages.Action{Op: "mkdir", Target: d, Detail: "mode 0755, mountpoint"})
			}
		} else {
			acts = append(acts, stages.Action{Op: "mkdir", Target: st.target,
				Detail: "missing components created 0755 once " + st.under + " is mounted (checked then: directories only)"})
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
			if err := mountStep(ctx, c, root, st); err != nil {
				return err
			}
		}
		return nil
	}}, nil
}

// within reports whether p is m or below it (both cleaned, absolute).
func within(p, m string) bool {
	return p == m || m == "/" || strings.HasPrefix(p, m+"/")
}

// checkMountPath walks rel's components under root as the tree stands now
// and returns the missing directories to create (outermost first); a
// component that is a symbolic link or not a directory is refused.
func checkMountPath(root, rel string) ([]string, error) {
	cur := root
	var missing []string
	for _, comp := range strings.Split(strings.Trim(rel, "/"), "/") {
		if comp == "" {
			continue
		}
		cur = filepath.Join(cur, comp)
		if len(missing) > 0 {
			missing = append(missing, cur)
			continue
		}
		fi, err := os.Lstat(cur)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			missing = append(missing, cur)
		case err != nil:
			return nil, fmt.Errorf("mount path %s: %w", rel, err)
		case fi.Mode()&fs.ModeSymlink != 0:
			dest, _ := os.Readlink(cur)
			return nil, fmt.Errorf("mount path %s: %s is a symbolic link (to %s); mount paths must consist of directories only", rel, cur, dest)
		case !fi.IsDir():
			return nil, fmt.Errorf("mount path %s: %s is not a directory", rel, cur)
		}
	}
	return missing, nil
}

// mountStep checks the mount path in the tree as it now stands (the
// filesystems above it are mounted), creates what is missing, then mounts.
func mountStep(ctx context.Context, c *stages.Context, root string, st step) error {
	if c.State == nil {
		c.State = &stages.State{}
	}
	missing, err := checkMountPath(root, st.rel)
	if err != nil {
		return err
	}
	for _, d := range missing {
		if err := os.Mkdir(d, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("creating mountpoint %s: %w", d, err)
		}
		if err := os.Chmod(d, 0o755); err != nil {
			return err
		}
		rel := strings.TrimPrefix(d, root)
		if root == "/" {
			rel = d
		}
		c.State.NotatedDirectories = append(c.State.NotatedDirectories, rel)
	}
	// Nothing may have replaced a component since the check.
	if _, err := checkMountPath(root, st.rel); err != nil {
		return err
	}
	var opts []string
	for _, o := range st.fs.MountOptions {
		opts = append(opts, string(o))
	}
	if err := system.Mount(ctx, c.Runner, c.Log, st.fs.Device, st.target, *st.fs.Format, opts); err != nil {
		return fmt.Errorf("mounting %s on %s: %w", st.fs.Device, st.target, err)
	}
	return nil
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
