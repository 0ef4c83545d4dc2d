package accounts

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Op is one account operation of a run, in the order Ignition runs them
// (groups, then users).
type Op struct {
	Kind  string // useradd, usermod, userdel, groupadd, groupmod, groupdel
	User  User
	Group Group
}

// Do applies op to the transaction in memory.
func (t *Txn) Do(op Op) (Change, error) {
	switch op.Kind {
	case "useradd":
		return t.AddUser(op.User)
	case "usermod":
		return t.ModifyUser(op.User)
	case "userdel":
		return t.DeleteUser(op.User.Name)
	case "groupadd":
		return t.AddGroup(op.Group)
	case "groupmod":
		return t.ModifyGroup(op.Group)
	case "groupdel":
		return t.DeleteGroup(op.Group.Name)
	}
	return Change{}, fmt.Errorf("unknown account operation %q", op.Kind)
}

// Plan loads root and applies ops in memory: the changes they will make,
// with the ids they allocate. Nothing on disk changes.
func Plan(root string, now time.Time, ops []Op) (*Txn, []Change, error) {
	t, err := Load(root, now)
	if err != nil {
		return nil, nil, err
	}
	t.Reserve(ops)
	var out []Change
	for _, op := range ops {
		c, err := t.Do(op)
		if err != nil {
			return t, out, err
		}
		out = append(out, c)
	}
	return t, out, nil
}

// Apply takes the shadow locks of root, loads the files afresh, applies
// ops, creates or moves homes, writes every changed file through "<f>+"
// (with the old one kept as "<f>-") and renames them into place, then does
// the removals and ownership changes. A failure before the renames leaves
// the files and the homes as they were. wrote is called for every path
// created or rewritten (for relabelling); it may be nil.
func Apply(ctx context.Context, root string, now time.Time, ops []Op, wrote func(string)) ([]Change, error) {
	if wrote == nil {
		wrote = func(string) {}
	}
	// refuse before taking a lock (the lock file is a write too)
	t, changes, err := Plan(root, now, ops)
	if err != nil {
		return changes, err
	} else if r := t.Unmodelled(); r != "" {
		return changes, errors.New("accounts: " + r)
	}
	l, err := lockAll(ctx, t.etc, dbFiles)
	if err != nil {
		return nil, err
	}
	defer l.release()
	wrote(filepath.Join(t.etc, ".pwd.lock"))
	if fingerprint(t.etc) != t.seen {
		// another writer changed the files before the locks were ours:
		// plan again from what is there now
		t, changes, err = Plan(root, now, ops)
		if err != nil {
			return changes, err
		}
		if r := t.Unmodelled(); r != "" {
			return changes, errors.New("accounts: " + r)
		}
	}
	return changes, t.commit(wrote)
}

type staged struct {
	tb        *table
	path, tmp string
	mode      os.FileMode
	uid, gid  int
}

func (t *Txn) commit(wrote func(string)) (err error) {
	var st []staged
	var done []*effect
	defer func() {
		if err != nil {
			for _, s := range st {
				os.Remove(s.tmp)
			}
			for i := len(done) - 1; i >= 0; i-- {
				done[i].undo()
			}
		}
	}()
	// 1. the new contents beside each file, as "<f>+"
	for _, tb := range []*table{t.passwd, t.shadow, t.group, t.gshadow, t.subuid, t.subgid} {
		if !tb.changed {
			continue
		}
		if !tb.present && tb.rel != "passwd" && tb.rel != "group" {
			continue // the tools never create shadow, gshadow or sub[ug]id
		}
		p := filepath.Join(t.etc, tb.rel)
		s := staged{tb: tb, path: p, tmp: p + "+", mode: 0o644}
		if tb.present {
			sys := tb.st.Sys().(*syscall.Stat_t)
			s.mode, s.uid, s.gid = tb.st.Mode().Perm()&0o664, int(sys.Uid), int(sys.Gid)
		}
		st = append(st, s)
		if err := writeFile(s.tmp, tb.bytes(), s.mode, s.uid, s.gid); err != nil {
			return fmt.Errorf("writing /etc/%s: %w", tb.rel, err)
		}
	}
	// 2. homes created and moved (undone on failure)
	for i := range t.pre {
		e := &t.pre[i]
		done = append(done, e)
		if err := e.run(wrote); err != nil {
			return err
		}
	}
	// 3. the old files as "<f>-", with their mode, owner and times
	for _, s := range st {
		if !s.tb.present {
			continue
		}
		if err := writeFile(s.path+"-", s.tb.raw, s.mode, s.uid, s.gid); err != nil {
			return fmt.Errorf("writing backup /etc/%s-: %w", s.tb.rel, err)
		}
		sys := s.tb.st.Sys().(*syscall.Stat_t)
		unix.UtimesNanoAt(unix.AT_FDCWD, s.path+"-", []unix.Timespec{{Sec: sys.Atim.Sec}, {Sec: sys.Mtim.Sec}}, unix.AT_SYMLINK_NOFOLLOW)
		wrote(s.path + "-")
	}
	// 4. into place
	for i, s := range st {
		if err := os.Rename(s.tmp, s.path); err != nil {
			if i > 0 {
				done = nil // some files are in place: keep what they name
			}
			return fmt.Errorf("replacing /etc/%s: %w", s.tb.rel, err)
		}
		wrote(s.path)
	}
	st, done = nil, nil
	// 5. what follows a commit: removals, ownership, log records
	var errs []error
	for i := range t.pre {
		if err := t.pre[i].finish(); err != nil {
			errs = append(errs, err)
		}
	}
	for i := range t.post {
		if err := t.post[i].run(wrote); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func writeFile(p string, b []byte, mode os.FileMode, uid, gid int) error {
	// a leftover (or planted link) of that name is replaced, never followed
	if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
		return err
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Chown(uid, gid)
	}
	if err == nil {
		err = f.Chmod(mode)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(p)
	}
	return err
}
