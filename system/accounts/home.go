package accounts

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// An effect is disk work outside the database files. Effects in Txn.pre
// run before the files are renamed into place and are undone if anything
// fails; effects in Txn.post run after.
type effect struct {
	kind       string // mkhome, mail, move, chown, rmtree, unlink, mailchown, logreset, logmove
	path, dst  string // real paths (resolved inside the root)
	skel       string
	vskel      string // skel and home as the root sees them (symlink targets)
	vhome      string
	uid, gid   int
	mode       os.FileMode
	chown      chownSpec
	rec        int64 // lastlog/faillog record size
	off, off2  int64
	maxUID     int64
	doneRemove bool
}

type chownSpec struct{ oldUID, newUID, oldGID, newGID int64 }

const (
	lastlogRec = 292 // struct lastlog on Linux: int32 time, char line[32], char host[256]
	faillogRec = 32  // struct faillog: short cnt, short max, char line[12], time_t time, long locktime
)

func under(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, strings.TrimSuffix(dir, "/")+"/")
}

func (t *Txn) conflicts(p string, with []string) bool {
	for _, q := range with {
		if under(p, q) || under(q, p) {
			return true
		}
	}
	return false
}

// homeMode is HOME_MODE, or 0777 & ~UMASK.
func (t *Txn) homeMode() os.FileMode {
	return os.FileMode(t.defs.num("HOME_MODE", 0o777&^t.defs.num("UMASK", 0o22)) & 0o7777)
}

// Effects of useradd --create-home: the missing parents (0755, root), the
// home with uid, gid and the home mode, and /etc/skel copied into it; an
// existing home is left alone and skel not copied, as useradd does.
func (t *Txn) planNewHome(ch *Change, home string, uid, gid int) error {
	real, err := t.join(home, true)
	if err != nil {
		return err
	}
	if t.conflicts(real, t.removed) {
		return fmt.Errorf("home %s is also removed in this run (the writer cannot order that)", home)
	}
	if _, err := os.Stat(real); err == nil {
		ch.Detail = append(ch.Detail, "home exists: left as it is, skel not copied")
		return nil
	}
	skel, err := t.join(t.udefs.skel, true)
	if err != nil {
		return err
	}
	t.pre = append(t.pre, effect{kind: "mkhome", path: real, skel: skel, vskel: t.udefs.skel, vhome: home, uid: uid, gid: gid, mode: t.homeMode()})
	t.created = append(t.created, real)
	ch.Detail = append(ch.Detail, fmt.Sprintf("create home %s (%04o) from %s", home, t.homeMode(), t.udefs.skel))
	return nil
}

func (t *Txn) mailDir(forDelete bool) string {
	if d, ok := t.defs.str("MAIL_DIR"); ok {
		return d
	}
	return "/var/mail"
}

func (t *Txn) planMailSpool(ch *Change, name string, uid, gid int) {
	real, err := t.join(filepath.Join(t.mailDir(false), name), false)
	if err != nil {
		return
	}
	mode := os.FileMode(0o600)
	if g := t.groupEntry("mail"); g != nil {
		gid, mode = atoi(g.f[2]), 0o660
	}
	t.pre = append(t.pre, effect{kind: "mail", path: real, uid: uid, gid: gid, mode: mode})
}

func (t *Txn) logFile(name string) string {
	p, err := t.join("/var/log/"+name, true)
	if err != nil {
		return ""
	}
	return p
}

func (t *Txn) planLogReset(uid int) {
	if p := t.logFile("faillog"); p != "" {
		t.post = append(t.post, effect{kind: "logreset", path: p, rec: faillogRec, off: int64(uid) * faillogRec, maxUID: -1})
	}
	if p := t.logFile("lastlog"); p != "" {
		max := t.defs.ulong("LASTLOG_UID_MAX", 0xffffffff)
		if int64(uid) <= max {
			t.post = append(t.post, effect{kind: "logreset", path: p, rec: lastlogRec, off: int64(uid) * lastlogRec})
		}
	}
}

func (t *Txn) planLogMove(oldUID, newUID int64) {
	if p := t.logFile("lastlog"); p != "" && newUID <= t.defs.ulong("LASTLOG_UID_MAX", 0xffffffff) {
		t.post = append(t.post, effect{kind: "logmove", path: p, rec: lastlogRec, off: oldUID * lastlogRec, off2: newUID * lastlogRec})
	}
	if p := t.logFile("faillog"); p != "" {
		t.post = append(t.post, effect{kind: "logmove", path: p, rec: faillogRec, off: oldUID * faillogRec, off2: newUID * faillogRec})
	}
}

// usermod --move-home: refused when the new home exists or the old one is
// not a directory (usermod fails there too, after it has written the
// files; the writer fails before).
func (t *Txn) planMoveHome(old, new string, c chownSpec, chown bool) error {
	oldReal, err := t.join(old, true)
	if err != nil {
		return err
	}
	newReal, err := t.join(new, false)
	if err != nil {
		return err
	}
	if exists(newReal) {
		return fmt.Errorf("cannot move home to %s: it exists", new)
	}
	fi, err := os.Stat(oldReal)
	if err != nil {
		return nil // nothing to move
	}
	if !fi.IsDir() {
		return fmt.Errorf("the previous home %s is not a directory", old)
	}
	if pfi, err := os.Stat(filepath.Dir(newReal)); err != nil || !pfi.IsDir() {
		return fmt.Errorf("cannot move home %s to %s: the parent directory does not exist", old, new)
	}
	if t.conflicts(oldReal, t.removed) || t.conflicts(newReal, t.removed) || t.conflicts(oldReal, t.created) || t.conflicts(newReal, t.created) {
		return fmt.Errorf("home %s is also created or removed in this run (the writer cannot order that)", new)
	}
	t.pre = append(t.pre, effect{kind: "move", path: oldReal, dst: newReal, vskel: old, vhome: new, chown: c})
	t.created = append(t.created, newReal)
	t.removed = append(t.removed, oldReal)
	if chown {
		t.post = append(t.post, effect{kind: "chown", path: newReal, chown: c})
	}
	return nil
}

func (t *Txn) planChownHome(home string, c chownSpec) {
	real, err := t.join(home, true)
	if err != nil || !exists(real) {
		return
	}
	t.post = append(t.post, effect{kind: "chown", path: real, chown: c})
}

func (t *Txn) planMailChown(name string, oldUID, newUID int64) {
	d, ok := t.defs.str("MAIL_DIR")
	if !ok {
		return
	}
	real, err := t.join(filepath.Join(d, name), false)
	if err != nil {
		return
	}
	t.post = append(t.post, effect{kind: "mailchown", path: real, chown: chownSpec{oldUID: oldUID, newUID: newUID}})
}

func (t *Txn) planRemoveMail(name string, uid int64) {
	real, err := t.join(filepath.Join(t.mailDir(true), name), false)
	if err != nil {
		return
	}
	t.post = append(t.post, effect{kind: "unlink", path: real, uid: int(uid)})
}

// userdel --remove: the home goes when it exists, is owned by the user and
// is no other user's home. userdel refuses the other two cases after it
// has written the files; the writer refuses them before.
func (t *Txn) planRemoveHome(ch *Change, home string, uid int64) error {
	real, err := t.join(home, true)
	if err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Stat(real, &st); err != nil {
		ch.Detail = append(ch.Detail, "home "+home+" not found")
		return nil
	}
	if int64(st.Uid) != uid {
		return fmt.Errorf("home %s is not owned by the user (uid %d), userdel would not remove it", home, uid)
	}
	for _, e := range t.passwd.lines {
		if e.f != nil && e.f[5] == home {
			return fmt.Errorf("home %s is also the home of user %q", home, e.f[0])
		}
	}
	if t.conflicts(real, t.created) {
		return fmt.Errorf("home %s is also created in this run (the writer cannot order that)", home)
	}
	t.post = append(t.post, effect{kind: "rmtree", path: real})
	t.removed = append(t.removed, real)
	ch.Detail = append(ch.Detail, "remove home "+home)
	return nil
}

// run performs one effect; undo (for pre effects) reverses it.
func (e *effect) run(wrote func(string)) error {
	switch e.kind {
	case "mkhome":
		return makeHome(e, wrote)
	case "mail":
		fd, err := unix.Open(e.path, unix.O_CREAT|unix.O_WRONLY|unix.O_TRUNC|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil // useradd only warns
		}
		defer unix.Close(fd)
		e.doneRemove = true
		wrote(e.path)
		if err := unix.Fchown(fd, e.uid, e.gid); err != nil {
			return err
		}
		return unix.Fchmod(fd, uint32(e.mode))
	case "move":
		err := os.Rename(e.path, e.dst)
		if errors.Is(err, syscall.EXDEV) {
			c := e.chown
			if err = copyTree(e.path, e.dst, e.vskel, e.vhome, &c, wrote); err == nil {
				e.doneRemove = true // remove the old tree once committed
			}
			return err
		}
		if err == nil {
			wrote(e.dst)
		}
		return err
	case "chown":
		return chownTree(e.path, e.chown)
	case "mailchown":
		fd, err := unix.Open(e.path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil
		}
		defer unix.Close(fd)
		var st unix.Stat_t
		if unix.Fstat(fd, &st) != nil || int64(st.Uid) != e.chown.oldUID {
			return nil
		}
		return unix.Fchown(fd, int(e.chown.newUID), -1)
	case "unlink":
		var st unix.Stat_t
		if unix.Lstat(e.path, &st) != nil || int(st.Uid) != e.uid {
			return nil // userdel warns and keeps a spool it does not own
		}
		return os.Remove(e.path)
	case "rmtree":
		return os.RemoveAll(e.path)
	case "logreset":
		return logRecord(e.path, e.rec, e.off, -1)
	case "logmove":
		return logRecord(e.path, e.rec, e.off, e.off2)
	}
	return fmt.Errorf("unknown effect %q", e.kind)
}

func (e *effect) undo() {
	switch e.kind {
	case "mkhome":
		if e.doneRemove {
			os.RemoveAll(e.path)
		}
	case "mail":
		if e.doneRemove {
			os.Remove(e.path)
		}
	case "move":
		if e.doneRemove {
			os.RemoveAll(e.dst)
		} else {
			os.Rename(e.dst, e.path)
		}
	}
}

// after a committed move across filesystems the old tree goes
func (e *effect) finish() error {
	if e.kind == "move" && e.doneRemove {
		return os.RemoveAll(e.path)
	}
	return nil
}

// logRecord zeroes the record at off of a lastlog/faillog file that
// already reaches past off (to < 0), or copies it to offset to (usermod
// --uid): a missing old record resets an existing new one.
func logRecord(p string, rec, off, to int64) error {
	f, err := os.OpenFile(p, os.O_RDWR|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return nil
	}
	buf := make([]byte, rec)
	if to < 0 {
		if fi.Size() <= off {
			return nil
		}
		_, err = f.WriteAt(buf, off)
		return err
	}
	if n, _ := f.ReadAt(buf, off); int64(n) == rec {
		_, err = f.WriteAt(buf, to)
		return err
	}
	if n, _ := f.ReadAt(buf, to); int64(n) == rec {
		_, err = f.WriteAt(make([]byte, rec), to)
	}
	return err
}

func makeHome(e *effect, wrote func(string)) error {
	// missing parents: 0755, root-owned (useradd's create_home)
	var missing []string
	for d := filepath.Dir(e.path); ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		}
		missing = append(missing, d)
		if d == "/" || d == "." {
			break
		}
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := os.Mkdir(missing[i], 0o755); err != nil {
			return fmt.Errorf("creating %s: %w", missing[i], err)
		}
		wrote(missing[i])
		if err := os.Chmod(missing[i], 0o755); err != nil {
			return err
		}
	}
	if err := os.Mkdir(e.path, 0); err != nil {
		return fmt.Errorf("creating home %s: %w", e.path, err)
	}
	e.doneRemove = true
	wrote(e.path)
	if err := os.Lchown(e.path, e.uid, e.gid); err != nil {
		return err
	}
	if err := unix.Fchmodat(unix.AT_FDCWD, e.path, uint32(e.mode), 0); err != nil {
		return err
	}
	fi, err := os.Stat(e.skel)
	if err != nil || !fi.IsDir() {
		return nil // no skeleton: an empty home
	}
	c := chownSpec{oldUID: -1, newUID: int64(e.uid), oldGID: -1, newGID: int64(e.gid)}
	return copyTree(e.skel, e.path, e.vskel, e.vhome, &c, wrote, true)
}

func mapID(old, from, to int64) int {
	if to < 0 {
		return int(old)
	}
	if from < 0 || old == from {
		return int(to)
	}
	return int(old)
}

// copyTree copies the contents of src into the existing directory dst as
// shadow's copy_tree does: modes (with setuid/setgid/sticky), mtimes,
// symlinks (a target inside src is rewritten into dst), hard links among
// the copied files, fifos and device nodes; owners mapped through c.
// rootExists says dst itself already exists (useradd); otherwise dst is
// created with src's mode and mapped owner (usermod's cross-device move).
// vsrc and vdst are src and dst as the root sees them.
func copyTree(src, dst, vsrc, vdst string, c *chownSpec, wrote func(string), rootExists ...bool) error {
	links := map[[2]uint64]string{}
	if len(rootExists) == 0 {
		var st unix.Stat_t
		if err := unix.Lstat(src, &st); err != nil {
			return err
		}
		if err := os.Mkdir(dst, 0o700); err != nil {
			return err
		}
		wrote(dst)
		if err := copyDirMeta(dst, &st, c); err != nil {
			return err
		}
		if err := copyDir(src, dst, vsrc, vdst, c, links, wrote); err != nil {
			return err
		}
		return finishDir(dst, &st)
	}
	return copyDir(src, dst, vsrc, vdst, c, links, wrote)
}

func copyDirMeta(dst string, st *unix.Stat_t, c *chownSpec) error {
	return unix.Lchown(dst, mapID(int64(st.Uid), c.oldUID, c.newUID), mapID(int64(st.Gid), c.oldGID, c.newGID))
}

func finishDir(dst string, st *unix.Stat_t) error {
	if err := unix.Fchmodat(unix.AT_FDCWD, dst, st.Mode&0o7777, 0); err != nil {
		return err
	}
	return unix.UtimesNanoAt(unix.AT_FDCWD, dst, []unix.Timespec{st.Atim, st.Mtim}, unix.AT_SYMLINK_NOFOLLOW)
}

func copyDir(src, dst, srcRoot, dstRoot string, c *chownSpec, links map[[2]uint64]string, wrote func(string)) error {
	ents, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, de := range ents {
		s, d := filepath.Join(src, de.Name()), filepath.Join(dst, de.Name())
		var st unix.Stat_t
		if err := unix.Lstat(s, &st); err != nil {
			return err
		}
		uid, gid := mapID(int64(st.Uid), c.oldUID, c.newUID), mapID(int64(st.Gid), c.oldGID, c.newGID)
		key := [2]uint64{st.Dev, st.Ino}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR && st.Nlink > 1 {
			if first, ok := links[key]; ok {
				if err := os.Link(first, d); err != nil {
					return err
				}
				continue
			}
			links[key] = d
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			if err := os.Mkdir(d, 0o700); err != nil {
				return err
			}
			wrote(d)
			if err := unix.Lchown(d, uid, gid); err != nil {
				return err
			}
			if err := copyDir(s, d, srcRoot, dstRoot, c, links, wrote); err != nil {
				return err
			}
			if err := finishDir(d, &st); err != nil {
				return err
			}
		case unix.S_IFLNK:
			target, err := os.Readlink(s)
			if err != nil {
				return err
			}
			if strings.HasPrefix(target, srcRoot) { // a plain prefix, as copy_tree compares
				target = dstRoot + strings.TrimPrefix(target, srcRoot)
			}
			if err := os.Symlink(target, d); err != nil {
				return err
			}
			wrote(d)
			if err := unix.Lchown(d, uid, gid); err != nil {
				return err
			}
			if err := unix.UtimesNanoAt(unix.AT_FDCWD, d, []unix.Timespec{st.Atim, st.Mtim}, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				return err
			}
		case unix.S_IFREG:
			if err := copyFile(s, d, &st, uid, gid); err != nil {
				return err
			}
			wrote(d)
		default:
			if err := unix.Mknod(d, st.Mode&^0o7777|0o600, int(st.Rdev)); err != nil {
				return err
			}
			wrote(d)
			if err := unix.Lchown(d, uid, gid); err != nil {
				return err
			}
			if err := unix.Fchmodat(unix.AT_FDCWD, d, st.Mode&0o7777, 0); err != nil {
				return err
			}
			if err := unix.UtimesNanoAt(unix.AT_FDCWD, d, []unix.Timespec{st.Atim, st.Mtim}, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				return err
			}
		}
	}
	return nil
}

func copyFile(s, d string, st *unix.Stat_t, uid, gid int) error {
	in, err := os.OpenFile(s, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(d, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	if err := out.Chown(uid, gid); err != nil {
		out.Close()
		return err
	}
	if err := unix.Fchmod(int(out.Fd()), st.Mode&0o7777); err != nil {
		out.Close()
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return unix.UtimesNanoAt(unix.AT_FDCWD, d, []unix.Timespec{st.Atim, st.Mtim}, unix.AT_SYMLINK_NOFOLLOW)
}

// chownTree is shadow's chown_tree: every entry under (and including)
// root whose uid is oldUID gets newUID, whose gid is oldGID gets newGID
// (-1: that id is left alone); symlinks themselves, never their targets.
func chownTree(root string, c chownSpec) error {
	var walk func(p string) error
	walk = func(p string) error {
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			ents, err := os.ReadDir(p)
			if err != nil {
				return err
			}
			for _, de := range ents {
				if err := walk(filepath.Join(p, de.Name())); err != nil {
					return err
				}
			}
		}
		uid, gid := -1, -1
		if c.newUID >= 0 && int64(st.Uid) == c.oldUID {
			uid = int(c.newUID)
		}
		if c.newGID >= 0 && int64(st.Gid) == c.oldGID {
			gid = int(c.newGID)
		}
		if uid == -1 && gid == -1 {
			return nil
		}
		return unix.Lchown(p, uid, gid)
	}
	return walk(root)
}
