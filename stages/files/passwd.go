package files

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/flintboot/flint/config"
	"github.com/flintboot/flint/stages"
	"github.com/flintboot/flint/system"
	"github.com/flintboot/flint/system/accounts"
)

// Users and groups
//
// Planning loads the root's account files into an accounts.Txn and runs
// every operation on it in memory, in Ignition's order (groups, then users,
// each in config order; an existing name is modified, shouldExist: false
// removes it when present). The plan's actions come from that: what is
// added, changed or removed, with the uid and gid it will get. Any refusal
// (an id in use, a missing group, a home userdel would not remove) fails
// the plan before the first write.
//
// Applying writes all of it in-process under the shadow suite's locks, in
// one commit for the whole stage: either every account change lands in
// passwd, shadow, group, gshadow and sub[ug]id, or none does. Roots the
// writer does not model (accounts.Txn.Unmodelled: NIS lines, nsswitch
// sources other than files, tcb, hook scripts, …) are provisioned with the
// shadow tools instead, one account at a time as Ignition does, and the
// reason is logged.

// accountsPlan is the account part of the files plan.
type accountsPlan struct {
	ops     []accounts.Op
	users   []userOp
	now     time.Time
	tools   string // why the shadow tools are used instead of the writer ("" = in-process)
	changes []accounts.Change
}

type userOp struct {
	name string
	del  bool
	keys []string
}

func toGroup(g config.PasswdGroup) accounts.Group {
	return accounts.Group{Name: g.Name, GID: g.Gid, PasswordHash: g.PasswordHash, System: isTrue(g.System)}
}

func toUser(u config.PasswdUser) accounts.User {
	au := accounts.User{Name: u.Name, UID: u.UID, Gecos: u.Gecos, HomeDir: u.HomeDir, PrimaryGroup: u.PrimaryGroup,
		Shell: u.Shell, NoCreateHome: isTrue(u.NoCreateHome), NoUserGroup: isTrue(u.NoUserGroup),
		NoLogInit: isTrue(u.NoLogInit), System: isTrue(u.System), PasswordHash: u.PasswordHash}
	for _, g := range u.Groups {
		au.Groups = append(au.Groups, string(g))
	}
	return au
}

func exists(b *bool) bool { return b == nil || *b }

func (p *plan) planPasswd(ctx context.Context, c *stages.Context, cfg *config.Config) error {
	if len(cfg.Passwd.Users) == 0 && len(cfg.Passwd.Groups) == 0 {
		return nil
	}
	a := &p.acct
	a.now = time.Now()
	t, err := accounts.Load(p.st.root, a.now)
	if err != nil {
		return err
	}
	a.tools = t.Unmodelled()
	var wanted []accounts.Op // the explicit ids, reserved for their accounts
	for _, g := range cfg.Passwd.Groups {
		if exists(g.ShouldExist) {
			wanted = append(wanted, accounts.Op{Kind: "groupadd", Group: toGroup(g)})
		}
	}
	for _, u := range cfg.Passwd.Users {
		if exists(u.ShouldExist) {
			wanted = append(wanted, accounts.Op{Kind: "useradd", User: toUser(u)})
		}
	}
	t.Reserve(wanted)
	// Which operation each entry is depends on the entries before it, as
	// when the tools run one after another.
	for _, g := range cfg.Passwd.Groups {
		op := accounts.Op{Group: toGroup(g)}
		present := t.GroupExists(g.Name)
		switch {
		case !exists(g.ShouldExist) && !present:
			continue
		case !exists(g.ShouldExist):
			op.Kind = "groupdel"
		case present:
			op.Kind = "groupmod"
		default:
			op.Kind = "groupadd"
			p.st.groups[g.Name] = true
		}
		if err := p.planAccount(t, op); err != nil {
			return err
		}
	}
	for _, u := range cfg.Passwd.Users {
		op := accounts.Op{User: toUser(u)}
		present := t.UserExists(u.Name)
		uo := userOp{name: u.Name}
		for _, k := range u.SSHAuthorizedKeys {
			uo.keys = append(uo.keys, string(k))
		}
		switch {
		case !exists(u.ShouldExist) && !present:
			continue
		case !exists(u.ShouldExist):
			op.Kind, uo.del, uo.keys = "userdel", true, nil
		case present:
			op.Kind = "usermod"
		default:
			op.Kind = "useradd"
			p.st.users[u.Name] = true
			if !isTrue(u.NoUserGroup) {
				p.st.groups[u.Name] = true
			}
		}
		if err := p.planAccount(t, op); err != nil {
			return err
		}
		if len(uo.keys) > 0 {
			p.add("ssh-keys", "~"+u.Name+"/"+keysRel(c), fmt.Sprintf("%d keys, 0600, owned by %s", len(uo.keys), u.Name))
		}
		a.users = append(a.users, uo)
	}
	return nil
}

// planAccount runs op on the in-memory database and adds its action.
func (p *plan) planAccount(t *accounts.Txn, op accounts.Op) error {
	a := &p.acct
	a.ops = append(a.ops, op)
	name := op.User.Name
	if strings.HasPrefix(op.Kind, "group") {
		name = op.Group.Name
	}
	if a.tools != "" {
		// the tools decide (ids, refusals); the model only keeps track of
		// which names exist for the entries after this one
		if _, err := t.Do(op); errors.Is(err, accounts.ErrInvalid) {
			return fmt.Errorf("%s %s: %w", op.Kind, name, err)
		}
		p.add(op.Kind, name, "with the shadow tools: "+a.tools)
		return nil
	}
	ch, err := t.Do(op)
	if err != nil {
		return fmt.Errorf("%s %s: %w", op.Kind, name, err)
	}
	a.changes = append(a.changes, ch)
	p.add(ch.Op, name, ch.String())
	return nil
}

func keysRel(c *stages.Context) string {
	if c.AuthorizedKeysFragment {
		return ".ssh/authorized_keys.d/" + FragmentName
	}
	return ".ssh/authorized_keys"
}

func (p *plan) applyPasswd(ctx context.Context, c *stages.Context) error {
	a := &p.acct
	if len(a.ops) == 0 {
		return nil
	}
	l := c.Log.With("files")
	if a.tools != "" {
		l.Info("accounts: using the shadow tools: %s", a.tools)
		for _, op := range a.ops {
			if err := p.toolOp(ctx, c, op); err != nil {
				return err
			}
		}
	} else {
		done := l.Op("writing %d account changes in-process", len(a.ops))
		changes, err := accounts.Apply(ctx, p.st.root, a.now, a.ops, p.accountWrote)
		done(err)
		for _, ch := range changes {
			if err == nil {
				l.Info("%s %q: %s", ch.Op, ch.Name, ch)
			}
		}
		if err != nil {
			return fmt.Errorf("accounts: %w", err)
		}
	}
	var byName map[string]system.PasswdEntry // read once for all users, not once each
	for _, uo := range a.users {
		if uo.del {
			continue
		}
		if byName == nil {
			entries, err := system.ReadPasswd(p.st.root)
			if err != nil {
				return err
			}
			byName = make(map[string]system.PasswdEntry, len(entries))
			for _, e := range entries {
				if _, dup := byName[e.Name]; !dup { // the first entry counts, as for getpwnam
					byName[e.Name] = e
				}
			}
		}
		e, ok := byName[uo.name]
		if !ok {
			return fmt.Errorf("user %q in %s: %w", uo.name, p.st.root, system.ErrNotFound)
		}
		if err := p.afterUser(c, uo, e.UID, e.GID, e.Home); err != nil {
			return err
		}
	}
	return nil
}

// accountWrote records a path the accounts writer or the SSH keys created
// or rewrote (account files, homes, skel copies, keys), for the stage's
// relabelling and flush of written filesystems.
func (p *plan) accountWrote(real string) { p.wrote(real) }

// toolOp runs one operation with the shadow tools (the hash reaches
// chpasswd/chgpasswd on stdin, never argv).
func (p *plan) toolOp(ctx context.Context, c *stages.Context, op accounts.Op) error {
	root := p.st.root
	name := op.User.Name
	if strings.HasPrefix(op.Kind, "group") {
		name = op.Group.Name
	}
	done := c.Log.With("files").Op("%s %q (shadow tools)", op.Kind, name)
	var err error
	switch op.Kind {
	case "groupadd":
		err = system.AddGroup(ctx, c.Runner, root, op.Group)
	case "groupmod":
		err = system.ModifyGroup(ctx, c.Runner, root, op.Group)
	case "groupdel":
		err = system.DeleteGroup(ctx, c.Runner, root, name)
	case "useradd":
		err = system.AddUser(ctx, c.Runner, root, op.User)
	case "usermod":
		err = system.ModifyUser(ctx, c.Runner, root, op.User)
	case "userdel":
		err = system.DeleteUser(ctx, c.Runner, root, name)
	}
	done(err)
	return err
}

// afterUser fixes mount-stage directories inside the home and writes the
// SSH keys, owned by the user.
func (p *plan) afterUser(c *stages.Context, uo userOp, uid, gid int, home string) error {
	root := p.st.root
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
	if len(uo.keys) == 0 {
		return nil
	}
	if home == "" {
		return fmt.Errorf("user %q has no home directory for SSH keys", uo.name)
	}
	done := c.Log.With("files").Op("adding %d SSH keys for %q", len(uo.keys), uo.name)
	err := writeKeys(root, home, uid, gid, uo.keys, c.AuthorizedKeysFragment, p.accountWrote)
	done(err)
	return err
}

func writeKeys(root, home string, uid, gid int, keys []string, fragment bool, wrote func(string)) error {
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
		wrote(real)
		if err := os.Lchown(real, uid, gid); err != nil {
			return err
		}
	}
	real, err := system.SecureJoin(root, file)
	if err != nil {
		return err
	}
	dir, base := filepath.Split(real)
	tmp, err := os.CreateTemp(dir, "."+base+tmpMarker+"*")
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
	if err := os.Rename(tmp.Name(), real); err != nil {
		return err
	}
	wrote(real)
	return nil
}
