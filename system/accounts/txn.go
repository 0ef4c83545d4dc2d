package accounts

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/flintboot/flint/system"
	"golang.org/x/sys/unix"
)

// User is an account to create or change, with Ignition's meaning: nil
// pointers are "not given". PasswordHash is a secret: it is written to the
// shadow file and never appears in a Change, an error or a log. It is the
// type the shadow-tools fallback (system.AddUser) takes, so that one
// account description serves both writers.
type User = system.User

// Group is a group to create or change.
type Group = system.Group

// Change is what one operation did (or, when planned, will do). It holds no
// secrets.
type Change struct {
	Op     string // useradd, usermod, userdel, groupadd, groupmod, groupdel, none
	Name   string
	UID    int // users: the uid (allocated or given)
	GID    int // users: primary gid; groups: the gid
	Home   string
	Detail []string // human-readable specifics (never a hash)
}

func (c Change) String() string {
	return strings.Join(c.Detail, ", ")
}

// files the writer owns, relative to the root's /etc.
var dbFiles = []string{"passwd", "shadow", "group", "gshadow", "subuid", "subgid"}

// Txn is the accounts database of one root, loaded into memory, with the
// operations of one run applied to it. Build one with Load, call the
// operations (they change only memory and record what has to happen on
// disk), then Commit.
type Txn struct {
	root  string // the target root
	etc   string // root's /etc, resolved inside root
	now   time.Time
	defs  defs
	udefs useraddDefaults
	nss   string // the passwd/group sources, when not files only

	passwd, shadow, group, gshadow, subuid, subgid *table

	pre  []effect // disk work before the files are renamed into place (undoable)
	post []effect // after: chowns, removals
	// paths created or removed by this run, to refuse what the model
	// cannot order (a home removed and created again in one run)
	removed, created []string
	shellWarn        []string
	// ids the config asks for explicitly ("UID"/"GID" → ids): automatic
	// allocation passes over them, so an account without an id never takes
	// the id a later account of the same config names
	reserved map[string]map[int64]bool
	// seen is the state of the files Load read, taken before reading them
	seen string
	// tree remembers what planning saw of the root (nothing on disk
	// changes before Commit): 50 users resolve /home, /var/log and
	// /etc/skel once, not 50 times
	tree *system.CachedTree
}

// join is system.SecureJoin (follow: SecureJoinFollow) of p in the root,
// through what planning has seen.
func (t *Txn) join(p string, follow bool) (string, error) {
	if t.tree == nil {
		t.tree = system.NewCachedTree()
	}
	return system.SecureJoinIn(t.tree, t.root, p, follow)
}

// Load reads the accounts files of root. Nothing is locked or changed.
func Load(root string, now time.Time) (*Txn, error) {
	etc, err := system.SecureJoinFollow(root, "/etc")
	if err != nil {
		return nil, err
	}
	t := &Txn{root: root, etc: etc, now: now, seen: fingerprint(etc)}
	rd := func(name string, n int, v func([]string) bool) *table {
		if err != nil {
			return nil
		}
		var tb *table
		tb, err = readTable(etc, name, n, v)
		return tb
	}
	t.passwd = rd("passwd", 7, validPasswd)
	t.shadow = rd("shadow", 9, validShadow)
	t.group = rd("group", 4, validGroup)
	t.gshadow = rd("gshadow", 4, validGshadow)
	t.subuid = rd("subuid", 3, validSub)
	t.subgid = rd("subgid", 3, validSub)
	if err != nil {
		return nil, fmt.Errorf("reading accounts in %s: %w", root, err)
	}
	b, err := os.ReadFile(filepath.Join(etc, "login.defs"))
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	t.defs = parseDefs(b)
	b, err = os.ReadFile(filepath.Join(etc, "default", "useradd"))
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	t.udefs = parseUseraddDefaults(b)
	if b, err := os.ReadFile(filepath.Join(etc, "nsswitch.conf")); err == nil {
		t.nss = nssOther(b)
	}
	return t, nil
}

// loadedFiles are the files of /etc that Load reads.
var loadedFiles = append(append([]string{}, dbFiles...), "login.defs", "default/useradd", "nsswitch.conf")

// fingerprint identifies the state of the loaded files (inode, size,
// change and modification times; a file written or renamed into place
// changes it), so that Apply can tell whether a plan made before taking
// the locks still holds once it has them.
func fingerprint(etc string) string {
	var b strings.Builder
	for _, name := range loadedFiles {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(etc, name), &st); err != nil {
			fmt.Fprintf(&b, "%s:%v;", name, err)
			continue
		}
		fmt.Fprintf(&b, "%s:%d:%d:%d.%d:%d.%d;", name, st.Ino, st.Size, st.Ctim.Sec, st.Ctim.Nsec, st.Mtim.Sec, st.Mtim.Nsec)
	}
	return b.String()
}

// nssOther returns the passwd/group/shadow/gshadow sources other than
// "files" (and "compat", which reads the same files), "" when there are none.
func nssOther(b []byte) string {
	var other []string
	for _, l := range strings.Split(string(b), "\n") {
		if i := strings.IndexByte(l, '#'); i >= 0 {
			l = l[:i]
		}
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "passwd", "group", "shadow", "gshadow":
		default:
			continue
		}
		for _, s := range strings.Fields(v) {
			if s == "files" || s == "compat" || strings.HasPrefix(s, "[") {
				continue
			}
			other = append(other, strings.TrimSpace(k)+": "+s)
		}
	}
	return strings.Join(other, ", ")
}

// today is the day number shadow writes as lastchg: days since the epoch,
// -1 instead of 0.
func (t *Txn) today() string {
	d := t.now.Unix() / 86400
	if d == 0 {
		return ""
	}
	return fmt.Sprint(d)
}

func (t *Txn) shadowPwd() bool { return t.shadow.present }
func (t *Txn) shadowGrp() bool { return t.gshadow.present }

// Unmodelled returns why the writer cannot stand in for the tools on this
// root, or "" when it can. The caller then runs the tools and logs the
// reason.
func (t *Txn) Unmodelled() string {
	if t.nss != "" {
		return "nsswitch.conf lists account sources other than files (" + t.nss + ")"
	}
	for _, tb := range []*table{t.passwd, t.shadow, t.group, t.gshadow} {
		if tb.hasNIS() {
			return "/etc/" + tb.rel + " has NIS compat (+/-) lines"
		}
		if d := tb.duplicates(); d != "" {
			return fmt.Sprintf("/etc/%s has more than one entry named %q", tb.rel, d)
		}
	}
	if t.defs.boolean("USE_TCB") {
		return "login.defs sets USE_TCB (tcb shadow files)"
	}
	if t.defs.num("MAX_MEMBERS_PER_GROUP", 0) > 0 {
		return "login.defs sets MAX_MEMBERS_PER_GROUP (split group lines)"
	}
	if _, ok := t.defs["MAIL_FILE"]; ok {
		return "login.defs sets MAIL_FILE (mail spool inside the home)"
	}
	if t.defs.boolean("FORCE_SHADOW") {
		return "login.defs sets FORCE_SHADOW"
	}
	if strings.EqualFold(t.udefs.btrfsHome, "yes") {
		return "/etc/default/useradd sets BTRFS_SUBVOLUME_HOME (homes as btrfs subvolumes)"
	}
	if _, ok := t.udefs.keys["GROUPS"]; ok {
		return "/etc/default/useradd sets GROUPS"
	}
	if _, ok := expireDay(t.udefs.expire); !ok {
		return "/etc/default/useradd has an EXPIRE date in a form flint does not read"
	}
	if fi, err := os.Stat(filepath.Join(t.etc, "shadow-maint")); err == nil && fi.IsDir() {
		return "/etc/shadow-maint holds hook scripts for the tools"
	}
	return ""
}

// UnmodelledFor adds the reasons that depend on the operations.
func (t *Txn) unmodelledDelete() string {
	if _, ok := t.defs["USERDEL_CMD"]; ok {
		return "login.defs sets USERDEL_CMD (a script userdel runs)"
	}
	return ""
}
