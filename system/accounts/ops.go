package accounts

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"
)

// CheckName is the name rule the writer applies to users and groups: the
// shadow suite's portable rule ([A-Za-z0-9_.][A-Za-z0-9_.-]*, optionally
// ending in "$", not all digits, not "." or "..", at most 32 bytes).
// Debian's shadow accepts more; Fedora's and upstream's accept exactly
// this, so a config valid here is valid on every target.
func CheckName(kind, name string) error {
	bad := func(why string) error { return fmt.Errorf("%w: %s name %q: %s", ErrInvalid, kind, name, why) }
	switch {
	case name == "":
		return fmt.Errorf("%w: %s name is empty", ErrInvalid, kind)
	case len(name) > 32:
		return bad("longer than 32 bytes")
	case name == "." || name == "..":
		return bad(`"." and ".." are not names`)
	}
	digits := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= '0' && c <= '9':
			continue
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_', c == '.':
		case c == '-' && i > 0:
		case c == '$' && i == len(name)-1 && i > 0:
		default:
			return bad("only letters, digits, '_', '.', '-' (not first) and a final '$' are allowed")
		}
		digits = false
	}
	if digits {
		return bad("all digits")
	}
	return nil
}

// CheckField refuses what would break a colon-separated line.
func CheckField(what, v string) error {
	if strings.ContainsAny(v, ":\n\r\x00") {
		return fmt.Errorf("%w: %s contains ':', a line break or NUL", ErrInvalid, what)
	}
	return nil
}

// CheckHash is CheckField for password hashes; the message never repeats
// the value.
func CheckHash(h string) error {
	if strings.ContainsAny(h, ":\n\r\x00") {
		return fmt.Errorf("%w: password hash contains ':', a line break or NUL", ErrInvalid)
	}
	return nil
}

// ErrInvalid is wrapped by every refusal the config alone decides (a
// name, a field with ':' or a line break, an id out of range): `flint
// validate` refuses those first. Every other error is about the root: a
// name or id in use (ErrExists), a group or user it lacks (ErrNotFound),
// a home that cannot be created, moved or removed, a lock held.
var (
	ErrInvalid  = errors.New("invalid account field")
	ErrExists   = errors.New("already exists")
	ErrNotFound = errors.New("does not exist")
)

func (t *Txn) userEntry(name string) *entry { return t.passwd.find(name) }
func (t *Txn) groupEntry(name string) *entry {
	return t.group.find(name)
}

// UserExists reports whether name has a passwd entry (after the
// operations applied so far).
func (t *Txn) UserExists(name string) bool { return t.userEntry(name) != nil }

// GroupExists reports whether name has a group entry.
func (t *Txn) GroupExists(name string) bool { return t.groupEntry(name) != nil }

// LookupUser returns uid, gid and home of name.
func (t *Txn) LookupUser(name string) (uid, gid int, home string, ok bool) {
	e := t.userEntry(name)
	if e == nil {
		return 0, 0, "", false
	}
	return atoi(e.f[2]), atoi(e.f[3]), e.f[5], true
}

// LookupGroup returns the gid of name.
func (t *Txn) LookupGroup(name string) (int, bool) {
	e := t.groupEntry(name)
	if e == nil {
		return 0, false
	}
	return atoi(e.f[2]), true
}

// resolveGroup is prefix_getgr_nam_gid: a number names a gid, anything
// else a group name.
func (t *Txn) resolveGroup(arg string) *entry {
	if n, err := strconv.ParseUint(arg, 10, 32); err == nil {
		for _, e := range t.group.lines {
			if e.f != nil && atoi64(e.f[2]) == int64(n) {
				return e
			}
		}
		return nil
	}
	return t.groupEntry(arg)
}

func checkUser(u User) error {
	if err := CheckName("user", u.Name); err != nil {
		return err
	}
	for _, g := range u.Groups {
		if err := CheckField("supplementary group", g); err != nil {
			return err
		}
		if strings.Contains(g, ",") {
			return fmt.Errorf("%w: supplementary group %q contains ','", ErrInvalid, g)
		}
	}
	for what, v := range map[string]*string{"gecos": u.Gecos, "home directory": u.HomeDir, "shell": u.Shell, "primary group": u.PrimaryGroup} {
		if v != nil {
			if err := CheckField(what, *v); err != nil {
				return fmt.Errorf("user %q: %w", u.Name, err)
			}
		}
	}
	if u.HomeDir != nil && *u.HomeDir != "" && !strings.HasPrefix(*u.HomeDir, "/") {
		return fmt.Errorf("%w: user %q: home directory %q is not absolute", ErrInvalid, u.Name, *u.HomeDir)
	}
	if u.Shell != nil && *u.Shell != "" && !strings.HasPrefix(*u.Shell, "/") && !strings.HasPrefix(*u.Shell, "*") {
		return fmt.Errorf("%w: user %q: shell %q is not absolute", ErrInvalid, u.Name, *u.Shell)
	}
	if u.UID != nil && (*u.UID < 0 || *u.UID > 4294967294) {
		return fmt.Errorf("%w: user %q: uid %d out of range", ErrInvalid, u.Name, *u.UID)
	}
	if u.PasswordHash != nil {
		if err := CheckHash(*u.PasswordHash); err != nil {
			return fmt.Errorf("user %q: %w", u.Name, err)
		}
	}
	return nil
}

func set(s *string) bool { return s != nil && *s != "" }

// password is what Ignition passes as --password: the hash, or "*" for nil
// and "" (locked).
func password(h *string) string {
	if h == nil || *h == "" {
		return "*"
	}
	return *h
}

func (t *Txn) agingFields() (min, max, warn string) {
	f := func(k string) string {
		v := t.defs.num(k, -1)
		if v == -1 {
			return ""
		}
		return strconv.FormatInt(v, 10)
	}
	return f("PASS_MIN_DAYS"), f("PASS_MAX_DAYS"), f("PASS_WARN_AGE")
}

// AddUser does what `useradd --root ROOT` does with the flags Ignition
// passes: [--home-dir H] --create-home|--no-create-home [--no-user-group]
// [--system] [--no-log-init] --password P [--uid N] [--comment C]
// [--gid G] [--groups a,b] [--shell S] NAME.
func (t *Txn) AddUser(u User) (Change, error) {
	ch := Change{Op: "useradd", Name: u.Name}
	if err := checkUser(u); err != nil {
		return ch, err
	}
	if t.userEntry(u.Name) != nil {
		return ch, fmt.Errorf("user %q: %w", u.Name, ErrExists)
	}
	gflg := set(u.PrimaryGroup)
	userGroup := !gflg && !u.NoUserGroup && t.defs.boolean("USERGROUPS_ENAB")
	if userGroup && t.groupEntry(u.Name) != nil {
		return ch, fmt.Errorf("group %q %w - to add user %q to it, give it as primaryGroup", u.Name, ErrExists, u.Name)
	}
	var gid int64 = -1
	if gflg {
		g := t.resolveGroup(*u.PrimaryGroup)
		if g == nil {
			return ch, fmt.Errorf("user %q: primary group %q %w", u.Name, *u.PrimaryGroup, ErrNotFound)
		}
		gid = atoi64(g.f[2])
	} else if !userGroup {
		gid = 100
		if t.udefs.group != "" {
			if g := t.resolveGroup(t.udefs.group); g != nil {
				gid = atoi64(g.f[2])
			}
		}
	}
	var groups []string
	seen := map[string]bool{}
	for _, name := range u.Groups {
		g := t.resolveGroup(name)
		if g == nil {
			return ch, fmt.Errorf("user %q: group %q %w", u.Name, name, ErrNotFound)
		}
		if !seen[g.f[0]] {
			seen[g.f[0]] = true
			groups = append(groups, g.f[0])
		}
	}
	usedU := t.passwd.usedIDs(2)
	var uid int64
	if u.UID != nil {
		uid = int64(*u.UID)
		if usedU.has(uid) {
			return ch, fmt.Errorf("user %q: UID %d %w", u.Name, uid, ErrExists)
		}
	} else {
		var err error
		if uid, err = t.newID("UID", u.System, usedU, nil); err != nil {
			return ch, fmt.Errorf("user %q: %w", u.Name, err)
		}
	}
	if userGroup {
		var err error
		if gid, err = t.newID("GID", u.System, t.group.usedIDs(2), &uid); err != nil {
			return ch, fmt.Errorf("user %q: %w", u.Name, err)
		}
	}
	home := path.Join(t.udefs.home, u.Name)
	if t.udefs.home == "" {
		home = "/" + u.Name
	}
	if set(u.HomeDir) {
		home = *u.HomeDir
	}
	shell := t.udefs.shell
	if set(u.Shell) {
		shell = *u.Shell
	}
	gecos := ""
	if set(u.Gecos) {
		gecos = *u.Gecos
	}
	pw := password(u.PasswordHash)
	pwField := pw
	if t.shadowPwd() {
		pwField = "x"
	}
	us, gs := strconv.FormatInt(uid, 10), strconv.FormatInt(gid, 10)
	t.passwd.add([]string{u.Name, pwField, us, gs, gecos, home, shell})
	if t.shadowPwd() {
		min, max, warn, inact, expire := "", "", "", "", ""
		if !u.System {
			min, max, warn = t.agingFields()
			if t.udefs.inactive != -1 {
				inact = strconv.FormatInt(t.udefs.inactive, 10)
			}
			if d, _ := expireDay(t.udefs.expire); d != -1 {
				expire = strconv.FormatInt(d, 10)
			}
		}
		t.shadow.add([]string{u.Name, pw, t.today(), min, max, warn, inact, expire, ""})
	}
	// supplementary groups, in both group and gshadow (every entry of a
	// listed name, as useradd does)
	for _, e := range t.group.lines {
		if len(seen) == 0 {
			break
		}
		if e.f != nil && seen[e.f[0]] && !hasMember(e.f[3], u.Name) {
			t.group.set(e, 3, addMember(e.f[3], u.Name))
		}
	}
	if t.shadowGrp() && len(seen) > 0 {
		for _, e := range t.gshadow.lines {
			if e.f != nil && seen[e.f[0]] && !hasMember(e.f[3], u.Name) {
				t.gshadow.set(e, 3, addMember(e.f[3], u.Name))
			}
		}
	}
	if userGroup {
		gpw := "x"
		if !t.shadowGrp() {
			gpw = "!"
		}
		t.group.add([]string{u.Name, gpw, gs, ""})
		if t.shadowGrp() {
			t.gshadow.add([]string{u.Name, "!", "", ""})
		}
	}
	ch.UID, ch.GID, ch.Home = int(uid), int(gid), home
	ch.Detail = append(ch.Detail, fmt.Sprintf("uid %d", uid), fmt.Sprintf("gid %d", gid))
	if userGroup {
		ch.Detail = append(ch.Detail, fmt.Sprintf("new group %s (gid %d)", u.Name, gid))
	}
	if len(groups) > 0 {
		ch.Detail = append(ch.Detail, "groups "+strings.Join(groups, ","))
	}
	ch.Detail = append(ch.Detail, "home "+home, "shell "+shell)
	if u.PasswordHash != nil && *u.PasswordHash != "" {
		ch.Detail = append(ch.Detail, "password set")
	} else {
		ch.Detail = append(ch.Detail, "password locked")
	}
	// subordinate ids: not for system accounts, not for a given uid
	// outside UID_MIN..UID_MAX, not when the user already has a range
	umin, umax := t.defs.ulong("UID_MIN", 1000), t.defs.ulong("UID_MAX", 60000)
	inRange := u.UID == nil || (uid >= umin && uid <= umax)
	for _, s := range []struct {
		tb   *table
		kind string
	}{{t.subuid, "UID"}, {t.subgid, "GID"}} {
		if !s.tb.present || u.System || !inRange || t.defs.ulong("SUB_"+s.kind+"_COUNT", 65536) == 0 {
			continue
		}
		if s.tb.find(u.Name) != nil {
			continue
		}
		start, count, err := t.subRange(s.tb, s.kind)
		if err != nil {
			return ch, fmt.Errorf("user %q: %w", u.Name, err)
		}
		s.tb.appendEnd([]string{u.Name, strconv.FormatInt(start, 10), strconv.FormatInt(count, 10)})
		ch.Detail = append(ch.Detail, fmt.Sprintf("sub%ss %d-%d", strings.ToLower(s.kind), start, start+count-1))
	}
	if !u.NoCreateHome {
		if err := t.planNewHome(&ch, home, int(uid), int(gid)); err != nil {
			return ch, fmt.Errorf("user %q: %w", u.Name, err)
		}
	}
	if strings.EqualFold(t.udefs.createMail, "yes") && !u.System {
		t.planMailSpool(&ch, u.Name, int(uid), int(gid))
	}
	if !u.NoLogInit {
		t.planLogReset(int(uid))
	}
	return ch, nil
}

// setPassword is chpasswd -e / usermod -p on an existing passwd entry: the
// shadow entry gets the hash and today's lastchg (one is created with the
// login.defs aging when passwd says "x" and there is none); passwd gets it
// when there is no shadow entry or its field is not "x".
func (t *Txn) setPassword(pe *entry, pw string) {
	var se *entry
	if t.shadowPwd() {
		se = t.shadow.find(pe.f[0])
		if se == nil && pe.f[1] == "x" {
			min, max, warn := t.agingFields()
			se = t.shadow.add([]string{pe.f[0], pw, t.today(), min, max, warn, "", "", ""})
		}
	}
	if se != nil {
		t.shadow.set(se, 1, pw)
		t.shadow.set(se, 2, t.today())
	}
	if se == nil || pe.f[1] != "x" {
		t.passwd.set(pe, 1, pw)
	}
}

// ModifyUser does what `usermod --root ROOT [--home H --move-home]
// [--password P] [--uid N] [--comment C] [--gid G] [--groups a,b]
// [--shell S] NAME` does with Ignition's flags: only the fields given
// change; the groups given replace the supplementary groups.
func (t *Txn) ModifyUser(u User) (Change, error) {
	ch := Change{Op: "usermod", Name: u.Name}
	if err := checkUser(u); err != nil {
		return ch, err
	}
	pe := t.userEntry(u.Name)
	if pe == nil {
		return ch, fmt.Errorf("user %q: %w", u.Name, ErrNotFound)
	}
	oldUID, oldGID, oldHome := atoi64(pe.f[2]), atoi64(pe.f[3]), pe.f[5]
	newUID, newGID := oldUID, oldGID
	uflg := u.UID != nil && int64(*u.UID) != oldUID
	if uflg {
		newUID = int64(*u.UID)
		if t.passwd.usedIDs(2).has(newUID) {
			return ch, fmt.Errorf("user %q: UID %d %w", u.Name, newUID, ErrExists)
		}
	}
	gflg := set(u.PrimaryGroup)
	if gflg {
		g := t.resolveGroup(*u.PrimaryGroup)
		if g == nil {
			return ch, fmt.Errorf("user %q: primary group %q %w", u.Name, *u.PrimaryGroup, ErrNotFound)
		}
		newGID = atoi64(g.f[2])
	}
	var groups map[string]bool
	var glist []string
	if len(u.Groups) > 0 {
		groups = map[string]bool{}
		for _, name := range u.Groups {
			g := t.resolveGroup(name)
			if g == nil {
				return ch, fmt.Errorf("user %q: group %q %w", u.Name, name, ErrNotFound)
			}
			if !groups[g.f[0]] {
				groups[g.f[0]] = true
				glist = append(glist, g.f[0])
			}
		}
	}
	mflg := set(u.HomeDir) && *u.HomeDir != oldHome
	pflg := u.PasswordHash != nil
	if !(uflg || gflg || mflg || pflg || set(u.Gecos) || set(u.Shell) || groups != nil) {
		ch.Op = "none"
		ch.UID, ch.GID, ch.Home = int(oldUID), int(oldGID), oldHome
		ch.Detail = []string{"no changes"}
		return ch, nil
	}
	if set(u.Gecos) {
		t.passwd.set(pe, 4, *u.Gecos)
		ch.Detail = append(ch.Detail, "gecos")
	}
	if set(u.Shell) {
		t.passwd.set(pe, 6, *u.Shell)
		ch.Detail = append(ch.Detail, "shell "+*u.Shell)
	}
	if uflg {
		t.passwd.set(pe, 2, strconv.FormatInt(newUID, 10))
		ch.Detail = append(ch.Detail, fmt.Sprintf("uid %d -> %d", oldUID, newUID))
	}
	if gflg {
		t.passwd.set(pe, 3, strconv.FormatInt(newGID, 10))
		ch.Detail = append(ch.Detail, fmt.Sprintf("gid %d", newGID))
	}
	home := oldHome
	if mflg {
		home = *u.HomeDir
		t.passwd.set(pe, 5, home)
		ch.Detail = append(ch.Detail, "home "+oldHome+" -> "+home)
	}
	if pflg {
		t.setPassword(pe, password(u.PasswordHash))
		if *u.PasswordHash != "" {
			ch.Detail = append(ch.Detail, "password set")
		} else {
			ch.Detail = append(ch.Detail, "password locked")
		}
	}
	if groups != nil {
		for _, e := range t.group.lines {
			if e.f == nil {
				continue
			}
			was, is := hasMember(e.f[3], u.Name), groups[e.f[0]]
			if was && !is {
				t.group.set(e, 3, delMember(e.f[3], u.Name))
			} else if !was && is {
				t.group.set(e, 3, addMember(e.f[3], u.Name))
			}
		}
		if t.shadowGrp() {
			for _, e := range t.gshadow.lines {
				if e.f == nil {
					continue
				}
				was, is := hasMember(e.f[3], u.Name), groups[e.f[0]]
				if was && !is {
					t.gshadow.set(e, 3, delMember(e.f[3], u.Name))
				} else if !was && is {
					t.gshadow.set(e, 3, addMember(e.f[3], u.Name))
				}
			}
		}
		ch.Detail = append(ch.Detail, "groups "+strings.Join(glist, ","))
	}
	chown := chownSpec{oldUID: oldUID, newUID: -1, oldGID: oldGID, newGID: -1}
	if uflg {
		chown.newUID = newUID
	}
	if gflg {
		chown.newGID = newGID
	}
	if mflg {
		if err := t.planMoveHome(oldHome, home, chown, uflg || gflg); err != nil {
			return ch, fmt.Errorf("user %q: %w", u.Name, err)
		}
	} else if uflg || gflg {
		t.planChownHome(oldHome, chown)
	}
	if uflg {
		t.planMailChown(u.Name, oldUID, newUID)
		t.planLogMove(oldUID, newUID)
	}
	ch.UID, ch.GID, ch.Home = int(newUID), int(newGID), home
	return ch, nil
}

// DeleteUser does what `userdel --remove --root ROOT NAME` does: the passwd
// and shadow entries go, the user leaves every group (members and gshadow
// admins), its own group goes when USERGROUPS_ENAB is set and nobody else
// uses it, its subordinate ranges go, and its mail spool and home are
// removed.
func (t *Txn) DeleteUser(name string) (Change, error) {
	ch := Change{Op: "userdel", Name: name}
	if err := CheckName("user", name); err != nil {
		return ch, err
	}
	if r := t.unmodelledDelete(); r != "" {
		return ch, errors.New(r)
	}
	pe := t.userEntry(name)
	if pe == nil {
		return ch, fmt.Errorf("user %q: %w", name, ErrNotFound)
	}
	uid, gid, home := atoi64(pe.f[2]), atoi64(pe.f[3]), pe.f[5]
	ch.UID, ch.GID, ch.Home = int(uid), int(gid), home
	t.passwd.remove(pe)
	if se := t.shadow.find(name); se != nil {
		t.shadow.remove(se)
	}
	for _, e := range t.group.lines {
		if e.f != nil && hasMember(e.f[3], name) {
			t.group.set(e, 3, delMember(e.f[3], name))
		}
	}
	for _, e := range t.gshadow.lines {
		if e.f == nil {
			continue
		}
		if hasMember(e.f[2], name) {
			t.gshadow.set(e, 2, delMember(e.f[2], name))
		}
		if hasMember(e.f[3], name) {
			t.gshadow.set(e, 3, delMember(e.f[3], name))
		}
	}
	ch.Detail = append(ch.Detail, fmt.Sprintf("uid %d", uid))
	if t.defs.boolean("USERGROUPS_ENAB") {
		if g := t.groupEntry(name); g != nil && atoi64(g.f[2]) == gid && len(list(g.f[3])) == 0 && !t.primaryOfOther(gid, name) {
			t.group.remove(g)
			if sg := t.gshadow.find(name); sg != nil {
				t.gshadow.remove(sg)
			}
			ch.Detail = append(ch.Detail, fmt.Sprintf("group %s (gid %d)", name, gid))
		}
	}
	for _, tb := range []*table{t.subuid, t.subgid} {
		for _, e := range append([]*entry(nil), tb.lines...) {
			if e.f != nil && e.f[0] == name {
				tb.remove(e)
			}
		}
	}
	t.planRemoveMail(name, uid)
	if err := t.planRemoveHome(&ch, home, uid); err != nil {
		return ch, fmt.Errorf("user %q: %w", name, err)
	}
	return ch, nil
}

func (t *Txn) primaryOfOther(gid int64, name string) bool {
	for _, e := range t.passwd.lines {
		if e.f != nil && e.f[0] != name && atoi64(e.f[3]) == gid {
			return true
		}
	}
	return false
}

func checkGroup(g Group) error {
	if err := CheckName("group", g.Name); err != nil {
		return err
	}
	if g.GID != nil && (*g.GID < 0 || *g.GID > 4294967294) {
		return fmt.Errorf("%w: group %q: gid %d out of range", ErrInvalid, g.Name, *g.GID)
	}
	if g.PasswordHash != nil {
		if err := CheckHash(*g.PasswordHash); err != nil {
			return fmt.Errorf("group %q: %w", g.Name, err)
		}
	}
	return nil
}

// AddGroup does what `groupadd --root ROOT [--gid N] --password P
// [--system] NAME` does with Ignition's flags (P is the hash or "*").
func (t *Txn) AddGroup(g Group) (Change, error) {
	ch := Change{Op: "groupadd", Name: g.Name}
	if err := checkGroup(g); err != nil {
		return ch, err
	}
	if t.groupEntry(g.Name) != nil {
		return ch, fmt.Errorf("group %q: %w", g.Name, ErrExists)
	}
	used := t.group.usedIDs(2)
	var gid int64
	if g.GID != nil {
		gid = int64(*g.GID)
		if used.has(gid) {
			return ch, fmt.Errorf("group %q: GID %d %w", g.Name, gid, ErrExists)
		}
	} else {
		var err error
		if gid, err = t.newID("GID", g.System, used, nil); err != nil {
			return ch, fmt.Errorf("group %q: %w", g.Name, err)
		}
	}
	pw := password(g.PasswordHash)
	gs := strconv.FormatInt(gid, 10)
	if t.shadowGrp() {
		t.group.add([]string{g.Name, "x", gs, ""})
		t.gshadow.add([]string{g.Name, pw, "", ""})
	} else {
		t.group.add([]string{g.Name, pw, gs, ""})
	}
	ch.GID = int(gid)
	ch.Detail = []string{fmt.Sprintf("gid %d", gid)}
	if g.System {
		ch.Detail = append(ch.Detail, "system")
	}
	return ch, nil
}

// ModifyGroup changes an existing group: a given gid different from the
// current one is set as `groupmod --gid` does (users whose primary group it
// was follow), and a non-empty hash is set as `chgpasswd -e` does.
func (t *Txn) ModifyGroup(g Group) (Change, error) {
	ch := Change{Op: "groupmod", Name: g.Name}
	if err := checkGroup(g); err != nil {
		return ch, err
	}
	e := t.groupEntry(g.Name)
	if e == nil {
		return ch, fmt.Errorf("group %q: %w", g.Name, ErrNotFound)
	}
	old := atoi64(e.f[2])
	ch.GID = int(old)
	if g.GID != nil && int64(*g.GID) != old {
		ng := int64(*g.GID)
		if t.group.usedIDs(2).has(ng) {
			return ch, fmt.Errorf("group %q: GID %d %w", g.Name, ng, ErrExists)
		}
		t.group.set(e, 2, strconv.FormatInt(ng, 10))
		for _, p := range t.passwd.lines {
			if p.f != nil && atoi64(p.f[3]) == old {
				t.passwd.set(p, 3, strconv.FormatInt(ng, 10))
			}
		}
		ch.GID = int(ng)
		ch.Detail = append(ch.Detail, fmt.Sprintf("gid %d -> %d", old, ng))
	}
	if g.PasswordHash != nil && *g.PasswordHash != "" {
		pw := *g.PasswordHash
		var se *entry
		if t.shadowGrp() {
			se = t.gshadow.find(g.Name)
			if se == nil && e.f[1] == "x" {
				se = t.gshadow.add([]string{g.Name, pw, "", e.f[3]})
			}
		}
		if se != nil {
			t.gshadow.set(se, 1, pw)
		}
		if se == nil || e.f[1] != "x" {
			t.group.set(e, 1, pw)
		}
		ch.Detail = append(ch.Detail, "password set")
	}
	if len(ch.Detail) == 0 {
		ch.Op = "none"
		ch.Detail = []string{"no changes"}
	}
	return ch, nil
}

// DeleteGroup does what `groupdel --root ROOT NAME` does: it refuses to
// remove a user's primary group.
func (t *Txn) DeleteGroup(name string) (Change, error) {
	ch := Change{Op: "groupdel", Name: name}
	if err := CheckName("group", name); err != nil {
		return ch, err
	}
	e := t.groupEntry(name)
	if e == nil {
		return ch, fmt.Errorf("group %q: %w", name, ErrNotFound)
	}
	gid := atoi64(e.f[2])
	for _, p := range t.passwd.lines {
		if p.f != nil && atoi64(p.f[3]) == gid {
			return ch, fmt.Errorf("cannot remove group %q: it is the primary group of user %q", name, p.f[0])
		}
	}
	t.group.remove(e)
	if se := t.gshadow.find(name); se != nil {
		t.gshadow.remove(se)
	}
	ch.GID = int(gid)
	ch.Detail = []string{fmt.Sprintf("gid %d", gid)}
	return ch, nil
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}
