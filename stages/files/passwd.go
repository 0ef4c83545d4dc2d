package files

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/flintboot/flint/config"
	"github.com/flintboot/flint/stages"
	"github.com/flintboot/flint/system"
)

type groupOp struct {
	g      system.Group
	action string // "add", "modify", "delete"
}

type userOp struct {
	u      system.User
	action string // "add", "modify", "delete"
	keys   []string
}

func toGroup(g config.PasswdGroup) system.Group {
	return system.Group{Name: g.Name, GID: g.Gid, PasswordHash: g.PasswordHash, System: isTrue(g.System)}
}

func toUser(u config.PasswdUser) system.User {
	su := system.User{Name: u.Name, UID: u.UID, Gecos: u.Gecos, HomeDir: u.HomeDir, PrimaryGroup: u.PrimaryGroup,
		Shell: u.Shell, NoCreateHome: isTrue(u.NoCreateHome), NoUserGroup: isTrue(u.NoUserGroup),
		NoLogInit: isTrue(u.NoLogInit), System: isTrue(u.System), PasswordHash: u.PasswordHash}
	for _, g := range u.Groups {
		su.Groups = append(su.Groups, string(g))
	}
	return su
}

func exists(b *bool) bool { return b == nil || *b }

// dryLines renders what a shadow wrapper would run, for the plan.
func dryLines(f func(r system.Runner) error) string {
	d := &system.Recorder{}
	if err := f(d); err != nil {
		return "error: " + err.Error()
	}
	return strings.Join(d.Lines(), "; ")
}

func (p *plan) planPasswd(ctx context.Context, c *stages.Context, cfg *config.Config) error {
	root := p.st.root
	for _, g := range cfg.Passwd.Groups {
		_, err := system.LookupGroup(root, g.Name)
		present := err == nil
		if err != nil && !errors.Is(err, system.ErrNotFound) {
			return fmt.Errorf("looking up group %q: %w", g.Name, err)
		}
		op := groupOp{g: toGroup(g)}
		switch {
		case !exists(g.ShouldExist) && present:
			op.action = "delete"
			p.add("groupdel", g.Name, dryLines(func(r system.Runner) error { return system.DeleteGroup(ctx, r, root, g.Name) }))
		case !exists(g.ShouldExist):
			continue
		case present:
			op.action = "modify"
			p.add("groupmod", g.Name, dryLines(func(r system.Runner) error { return system.ModifyGroup(ctx, r, root, op.g) }))
		default:
			op.action = "add"
			p.st.groups[g.Name] = true
			p.add("groupadd", g.Name, dryLines(func(r system.Runner) error { return system.AddGroup(ctx, r, root, op.g) }))
		}
		p.groups = append(p.groups, op)
	}
	for _, u := range cfg.Passwd.Users {
		_, _, _, err := system.LookupUser(root, u.Name)
		present := err == nil
		if err != nil && !errors.Is(err, system.ErrNotFound) {
			return fmt.Errorf("looking up user %q: %w", u.Name, err)
		}
		op := userOp{u: toUser(u)}
		for _, k := range u.SSHAuthorizedKeys {
			op.keys = append(op.keys, string(k))
		}
		switch {
		case !exists(u.ShouldExist) && present:
			op.action = "delete"
			p.add("userdel", u.Name, dryLines(func(r system.Runner) error { return system.DeleteUser(ctx, r, root, u.Name) }))
			p.users = append(p.users, op)
			continue
		case !exists(u.ShouldExist):
			continue
		case present:
			op.action = "modify"
			p.add("usermod", u.Name, dryLines(func(r system.Runner) error { return system.ModifyUser(ctx, r, root, op.u) }))
		default:
			op.action = "add"
			p.st.users[u.Name] = true
			if !isTrue(u.NoUserGroup) {
				p.st.groups[u.Name] = true
			}
			p.add("useradd", u.Name, dryLines(func(r system.Runner) error { return system.AddUser(ctx, r, root, op.u) }))
		}
		if len(op.keys) > 0 {
			p.add("ssh-keys", "~"+u.Name+"/"+keysRel(c), fmt.Sprintf("%d keys, 0600, owned by %s", len(op.keys), u.Name))
		}
		p.users = append(p.users, op)
	}
	return nil
}

func keysRel(c *stages.Context) string {
	if c.AuthorizedKeysFragment {
		return ".ssh/authorized_keys.d/" + FragmentName
	}
	return ".ssh/authorized_keys"
}

func (p *plan) applyPasswd(ctx context.Context, c *stages.Context) error {
	root := p.st.root
	l := c.Log.With("files")
	for _, op := range p.groups {
		done := l.Op("%s group %q", op.action, op.g.Name)
		var err error
		switch op.action {
		case "add":
			err = system.AddGroup(ctx, c.Runner, root, op.g)
		case "modify":
			err = system.ModifyGroup(ctx, c.Runner, root, op.g)
		case "delete":
			err = system.DeleteGroup(ctx, c.Runner, root, op.g.Name)
		}
		done(err)
		if err != nil {
			return err
		}
	}
	for _, op := range p.users {
		done := l.Op("%s user %q", op.action, op.u.Name)
		var err error
		switch op.action {
		case "add":
			err = system.AddUser(ctx, c.Runner, root, op.u)
		case "modify":
			err = system.ModifyUser(ctx, c.Runner, root, op.u)
		case "delete":
			err = system.DeleteUser(ctx, c.Runner, root, op.u.Name)
		}
		if err == nil && op.action != "delete" {
			err = p.afterUser(ctx, c, op)
		}
		done(err)
		if err != nil {
			return err
		}
	}
	return nil
}

// afterUser fixes mount-stage directories inside the home and writes the
// SSH keys, owned by the user.
func (p *plan) afterUser(ctx context.Context, c *stages.Context, op userOp) error {
	root := p.st.root
	uid, gid, home, err := system.LookupUser(root, op.u.Name)
	if err != nil {
		return err
	}
	if c.State != nil && home != "" {
		for _, d := range c.State.NotatedDirectories {
			if d != home && under(d, filepath.Clean(home)) {
				real, err := system.SecureJoin(root, d)
				if err != nil {
					return err
				}
				if err := os.Lchown(real, uid, gid); err != nil {
					return err
				}
				if err := os.Chmod(real, 0o700); err != nil {
					return err
				}
			}
		}
	}
	if len(op.keys) == 0 {
		return nil
	}
	if home == "" {
		return fmt.Errorf("user %q has no home directory for SSH keys", op.u.Name)
	}
	done := c.Log.With("files").Op("adding %d SSH keys for %q", len(op.keys), op.u.Name)
	err = writeKeys(root, home, uid, gid, op.keys, c.AuthorizedKeysFragment)
	done(err)
	return err
}

func writeKeys(root, home string, uid, gid int, keys []string, fragment bool) error {
	var buf bytes.Buffer
	for _, k := range keys {
		buf.WriteString(strings.TrimRight(k, "\n"))
		buf.WriteByte('\n')
	}
	dirs := []string{filepath.Join(home, ".ssh")}
	file := filepath.Join(home, ".ssh", "authorized_keys")
	if fragment {
		dirs = append(dirs, filepath.Join(home, ".ssh", "authorized_keys.d"))
		file = filepath.Join(home, ".ssh", "authorized_keys.d", FragmentName)
	}
	realHome, err := system.SecureJoinFollow(root, home)
	if err != nil {
		return err
	}
	if err := mkdirParents(root, filepath.Join(realHome, "x")); err != nil {
		return err
	}
	for _, d := range dirs {
		real, err := system.SecureJoin(root, d)
		if err != nil {
			return err
		}
		fi, err := os.Lstat(real)
		switch {
		case err == nil && !fi.IsDir():
			return fmt.Errorf("%s exists and is not a directory", d)
		case err == nil:
			continue
		}
		if err := os.Mkdir(real, 0o700); err != nil {
			return err
		}
		if err := os.Lchown(real, uid, gid); err != nil {
			return err
		}
	}
	real, err := system.SecureJoin(root, file)
	if err != nil {
		return err
	}
	dir, base := filepath.Split(real)
	tmp, err := os.CreateTemp(dir, "."+base+".flint-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(buf.Bytes())
	if err == nil {
		err = tmp.Chown(uid, gid)
	}
	if err == nil {
		err = tmp.Chmod(0o600)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), real)
}
