package config

import (
	"path"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

// flint's own rules (origin "flint" in the rule tables): things
// ignition-validate accepts but that can never be applied, because a tool,
// the kernel or a file format refuses them, or that would write where they
// must not. Validate is the gate: whatever apply would refuse for a reason
// knowable from the config alone is refused here first, with its JSON path.
// docs/validation.md lists each as a deliberate difference.

const (
	// MaxID is the largest uid/gid: (uid_t)-1 means "no change" to
	// chown(2) and is refused by useradd/groupadd.
	MaxID = 4294967294
	// MaxTimeout is the largest timeout in seconds whose nanoseconds fit
	// an int64 (time.Duration).
	MaxTimeout = 9223372036
	// MaxNameLen is the longest user or group name both Debian's and
	// upstream's (Fedora's) shadow-utils accept by default.
	MaxNameLen = 32
	// nameMax and pathMax are the kernel's NAME_MAX and PATH_MAX - 1.
	nameMax = 255
	pathMax = 4095
)

// IsBlank reports whether raw holds nothing but JSON white space: not a
// config at all (ErrEmpty). Empty user data from a provider still means
// "no config"; that decision belongs to the caller.
func IsBlank(raw []byte) bool {
	for _, c := range raw {
		switch c {
		case ' ', '\t', '\r', '\n':
		default:
			return false
		}
	}
	return true
}

func (v *validator) flintRules(c *Config) {
	if rv := reflect.ValueOf(c).Elem(); v.root.mayHoldNUL() && anyNUL(rv) {
		v.nulBytes(rv, nil)
	}
	t := &c.Ignition.Timeouts
	v.timeout(t.HTTPResponseHeaders, "ignition", "timeouts", "httpResponseHeaders")
	v.timeout(t.HTTPTotal, "ignition", "timeouts", "httpTotal")
	v.accounts(&c.Passwd)
	v.nodeLimits(c)
}

func (v *validator) timeout(t *int, p ...any) {
	if t != nil && (*t < 0 || *t > MaxTimeout) {
		v.err(ErrTimeoutRange, p...)
	}
}

func (v *validator) id(id *int, p []any, more ...any) {
	if id != nil && (*id < 0 || *id > MaxID) {
		v.errIn(ErrIDRange, p, more...)
	}
}

// nulSkip are string fields not checked for NUL bytes: bodies written to
// files as they are, and URLs, whose parser refuses control characters
// already ("unable to parse url").
var nulSkip = map[reflect.Type]map[string]bool{
	reflect.TypeOf(Unit{}):     {"Contents": true},
	reflect.TypeOf(Dropin{}):   {"Contents": true},
	reflect.TypeOf(Resource{}): {"Source": true},
	reflect.TypeOf(Proxy{}):    {"HTTPProxy": true, "HTTPSProxy": true},
	reflect.TypeOf(Tang{}):     {"URL": true},
}

// nulFields caches, per struct type, the fields anyNUL looks into (those
// not in nulSkip): validating a merged config walks every entry, and the
// tag and skip lookups were most of its cost.
var nulFields sync.Map // reflect.Type → []int

func fieldsToCheck(t reflect.Type) []int {
	if f, ok := nulFields.Load(t); ok {
		return f.([]int)
	}
	skip := nulSkip[t]
	var idx []int
	for i := 0; i < t.NumField(); i++ {
		if f := t.Field(i); f.Anonymous || !skip[f.Name] {
			idx = append(idx, i)
		}
	}
	nulFields.Store(t, idx)
	return idx
}

// anyNUL reports, without allocating, whether a string nulBytes checks
// holds a NUL byte; nulBytes then names where.
func anyNUL(rv reflect.Value) bool {
	switch rv.Kind() {
	case reflect.Pointer:
		return !rv.IsNil() && anyNUL(rv.Elem())
	case reflect.String:
		return strings.IndexByte(rv.String(), 0) >= 0
	case reflect.Slice:
		for i := 0; i < rv.Len(); i++ {
			if anyNUL(rv.Index(i)) {
				return true
			}
		}
	case reflect.Struct:
		for _, i := range fieldsToCheck(rv.Type()) {
			if anyNUL(rv.Field(i)) {
				return true
			}
		}
	}
	return false
}

// nulBytes reports every string of the config that holds a NUL byte: no
// path, name, option or argument can carry one (the kernel and exec(2) end
// strings there).
func (v *validator) nulBytes(rv reflect.Value, p []any) {
	switch rv.Kind() {
	case reflect.Pointer:
		if !rv.IsNil() {
			v.nulBytes(rv.Elem(), p)
		}
	case reflect.String:
		if strings.IndexByte(rv.String(), 0) >= 0 {
			v.err(ErrNULByte, p...)
		}
	case reflect.Slice:
		for i := 0; i < rv.Len(); i++ {
			v.nulBytes(rv.Index(i), v.cat(p, i))
		}
	case reflect.Struct:
		t := rv.Type()
		skip := nulSkip[t]
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if f.Anonymous {
				v.nulBytes(rv.Field(i), p)
				continue
			}
			if skip[f.Name] {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			v.nulBytes(rv.Field(i), v.cat(p, name))
		}
	}
}

// pathLimits checks an absolute, clean path against NAME_MAX and PATH_MAX.
func pathLimits(p string) error {
	if len(p) > pathMax {
		return ErrPathTooLong
	}
	for c := range strings.SplitSeq(p, "/") {
		if len(c) > nameMax {
			return ErrPathComponentTooLong
		}
	}
	return nil
}

// ---- accounts ------------------------------------------------------------

func isCtl(c byte) bool { return c < 0x20 || c == 0x7f }

func hasCtl(s string) bool {
	for i := 0; i < len(s); i++ {
		if isCtl(s[i]) {
			return true
		}
	}
	return false
}

func hasNUL(s string) bool { return strings.IndexByte(s, 0) >= 0 }

// badNameChars: what no account name can contain, whatever the shadow
// suite's flavour: the passwd field separator ':', the group list
// separator ',', blanks and control characters.
func badNameChars(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == ':' || c == ',' || c == ' ' || isCtl(c):
			return true
		}
	}
	return false
}

// validAccountName is what both Debian's useradd/groupadd (relaxed:
// ^[^-~+:,\s][^:,\s]*$, at most 32 bytes) and upstream shadow-utils' (4.14+,
// Fedora; is_valid_name: [a-zA-Z0-9_.][a-zA-Z0-9_.-]*$?, not only digits,
// not "." or "..") accept by default: the intersection, so that the name
// works whichever shadow-utils the initramfs carries.
func validAccountName(s string) bool {
	if s == "" || len(s) > MaxNameLen || s == "." || s == ".." {
		return false
	}
	digits := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		switch {
		case alnum || c == '_' || c == '.':
		case c == '-' && i > 0:
		case c == '$' && i > 0 && i == len(s)-1:
		default:
			return false
		}
		digits = digits && c >= '0' && c <= '9'
	}
	return !digits
}

// accountName checks a user or group name. Accounts that are to be
// created or changed need a name useradd/groupadd accept; for deletion
// only what can never name an account is refused.
func accountName(name string, create bool, empty, invalid error) error {
	switch {
	case name == "":
		return empty
	case hasNUL(name):
		return nil // reported by nulBytes
	case strings.HasPrefix(name, "-") || badNameChars(name):
		return invalid
	case create && !validAccountName(name):
		return invalid
	}
	return nil
}

// groupRef checks a group given to useradd -g/-G: a name or a numeric id.
func (v *validator) groupRef(g string, p []any) {
	if hasNUL(g) {
		return
	}
	if n, err := strconv.ParseUint(g, 10, 64); err == nil {
		if n > MaxID {
			v.err(ErrIDRange, p...)
		}
		return
	}
	if g == "" || strings.HasPrefix(g, "-") || badNameChars(g) {
		v.err(ErrInvalidGroupRef, p...)
	}
}

// passwdField: gecos, home and shell are passwd fields; shadow-utils
// refuses ':' and control characters in them ("invalid comment", "failure
// while writing changes to /etc/passwd").
func passwdField(s string) bool {
	return strings.IndexByte(s, ':') >= 0 || hasCtl(s)
}

func (v *validator) accounts(pw *Passwd) {
	for i := range pw.Groups {
		g := &pw.Groups[i]
		p := []any{"passwd", "groups", i}
		v.errIn(accountName(g.Name, exists(g.ShouldExist), ErrGroupNameEmpty, ErrInvalidGroupName), p, "name")
		v.id(g.Gid, p, "gid")
		v.passwordHash(g.PasswordHash, v.cat(p, "passwordHash"))
	}
	for i := range pw.Users {
		u := &pw.Users[i]
		p := []any{"passwd", "users", i}
		v.errIn(accountName(u.Name, exists(u.ShouldExist), ErrUserNameEmpty, ErrInvalidUserName), p, "name")
		v.id(u.UID, p, "uid")
		v.passwordHash(u.PasswordHash, v.cat(p, "passwordHash"))
		if notEmpty(u.PrimaryGroup) {
			v.groupRef(*u.PrimaryGroup, v.cat(p, "primaryGroup"))
		}
		for j, g := range u.Groups {
			v.groupRef(string(g), v.cat(p, "groups", j))
		}
		if notEmpty(u.Gecos) && !hasNUL(*u.Gecos) && passwdField(*u.Gecos) {
			v.errIn(ErrInvalidPasswdField, p, "gecos")
		}
		if h := deref(u.HomeDir); h != "" && !hasNUL(h) {
			switch {
			case passwdField(h):
				v.errIn(ErrInvalidPasswdField, p, "homeDir")
			case !path.IsAbs(h):
				v.errIn(ErrHomeDirRelative, p, "homeDir")
			default:
				v.errIn(pathLimits(h), p, "homeDir")
			}
		}
		if s := deref(u.Shell); s != "" && !hasNUL(s) {
			switch {
			case passwdField(s):
				v.errIn(ErrInvalidPasswdField, p, "shell")
			case s[0] != '/' && s[0] != '*':
				v.errIn(ErrShellInvalid, p, "shell")
			}
		}
		for j, k := range u.SSHAuthorizedKeys {
			if strings.ContainsAny(strings.TrimRight(string(k), "\n"), "\r\n") {
				v.errIn(ErrSSHKeyLineBreak, p, "sshAuthorizedKeys", j)
			}
		}
	}
}

func exists(b *bool) bool { return b == nil || *b }

// passwordHash: chpasswd/chgpasswd read "name:hash" lines, and the shadow
// files hold one entry per line with ':' between fields.
func (v *validator) passwordHash(h *string, p []any) {
	if h != nil && !hasNUL(*h) && (strings.IndexByte(*h, ':') >= 0 || hasCtl(*h)) {
		v.err(ErrInvalidPasswordHash, p...)
	}
}

// ownerName: a file owner given by name is looked up in the target's
// passwd/group files, where no name can hold ':' or control characters.
func (v *validator) ownerName(n *string, p []any, more ...any) {
	if n != nil && !hasNUL(*n) && (strings.IndexByte(*n, ':') >= 0 || hasCtl(*n)) {
		v.errIn(ErrInvalidOwnerName, p, more...)
	}
}

// ---- nodes ---------------------------------------------------------------

// nodeLimits: ids and owner names of files, directories and links; no
// entry may replace the root directory or sit below a file of the config
// (apply would find a file where it needs a directory).
func (v *validator) nodeLimits(c *Config) {
	s := &c.Storage
	files := map[string]bool{}
	for i := range s.Files {
		files[s.Files[i].Path] = true
	}
	// (below any link of the config, hard or symbolic, is the reference's
	// "path includes link in config")
	check := func(n *Node, p []any) {
		v.id(n.User.ID, p, "user", "id")
		v.id(n.Group.ID, p, "group", "id")
		v.ownerName(n.User.Name, p, "user", "name")
		v.ownerName(n.Group.Name, p, "group", "name")
		if n.Path == "/" {
			v.errIn(ErrPathIsRoot, p, "path")
		}
		if underFile(n.Path, files) {
			v.errIn(ErrPathUnderFile, p, "path")
		}
	}
	for i := range s.Files {
		check(&s.Files[i].Node, []any{"storage", "files", i})
	}
	for i := range s.Directories {
		check(&s.Directories[i].Node, []any{"storage", "directories", i})
	}
	for i := range s.Links {
		l := &s.Links[i]
		p := []any{"storage", "links", i}
		check(&l.Node, p)
		if l.Target != nil && len(*l.Target) > pathMax {
			v.errIn(ErrLinkTargetTooLong, p, "target")
		}
	}
	// Units, drop-ins, masks and the preset file are written below
	// /etc/systemd: a file or hard link of the config at one of their
	// leading directories leaves apply nowhere to write them.
	dirs := map[string]bool{}
	addParents := func(p string) {
		for i := 1; i < len(p); i++ {
			if p[i] == '/' {
				dirs[p[:i]] = true
			}
		}
	}
	const unitDir = "/etc/systemd/system/"
	for _, u := range c.Systemd.Units {
		if notEmpty(u.Contents) || isTrue(u.Mask) {
			addParents(unitDir + u.Name)
		}
		for _, d := range u.Dropins {
			if notEmpty(d.Contents) {
				addParents(unitDir + u.Name + ".d/" + d.Name)
			}
		}
		if u.Enabled != nil {
			addParents("/etc/systemd/system-preset/preset")
		}
	}
	if len(dirs) == 0 {
		return
	}
	for i := range s.Files {
		if dirs[s.Files[i].Path] {
			v.err(ErrPathConflictsSystemd, "storage", "files", i, "path")
		}
	}
	for i := range s.Links {
		if isTrue(s.Links[i].Hard) && dirs[s.Links[i].Path] {
			v.err(ErrPathConflictsSystemd, "storage", "links", i, "path")
		}
	}
}

// underFile reports whether a proper ancestor of p is in files.
func underFile(p string, files map[string]bool) bool {
	if len(files) == 0 {
		return false
	}
	for i := 1; i < len(p); i++ {
		if p[i] == '/' && files[p[:i]] {
			return true
		}
	}
	return false
}

// ---- urls, headers -------------------------------------------------------

// hostRequired are the schemes whose URL names a server (or a bucket).
var hostRequired = map[string]bool{"http": true, "https": true, "tftp": true, "s3": true, "gs": true}

// urlHostPort refuses a URL that can never be fetched: no host, or a
// port outside 1..65535 (url.Parse checks only that the port is digits).
func urlHostPort(scheme, host, port string) error {
	if !hostRequired[scheme] {
		return nil
	}
	if host == "" {
		return ErrURLNoHost
	}
	if port == "" {
		return nil
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return ErrURLBadPort
	}
	return nil
}

// headerRules: Go's HTTP client refuses header names that are not tokens
// and values with control characters other than tab, so such a header can
// never be sent.
func (v *validator) headerRules(h *HTTPHeader, p []any) {
	if h.Name != "" && !hasNUL(h.Name) && !validHeaderName(h.Name) {
		v.errIn(ErrInvalidHTTPHeaderName, p, "name")
	}
	if h.Value != nil && !hasNUL(*h.Value) && !validHeaderValue(*h.Value) {
		v.errIn(ErrInvalidHTTPHeaderValue, p, "value")
	}
}

// validHeaderName: a non-empty RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// validHeaderValue: no control character but tab (bytes from 0x80 are
// allowed, as obs-text).
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// ---- systemd -------------------------------------------------------------

// validUnitName follows systemd's unit_name_is_valid (src/basic/
// unit-name.c) for the part before the type suffix, which the reference's
// extension check covers: at most 255 bytes (UNIT_NAME_MAX 256 with the
// NUL), a non-empty prefix of [A-Za-z0-9:_.\-] and '@', not starting with
// '@'. Templates ("foo@.service") and instances ("foo@bar.service") are
// both valid file names.
func validUnitName(n string) bool {
	if n == "" || len(n) > nameMax {
		return false
	}
	e := strings.LastIndexByte(n, '.')
	if e <= 0 || n[0] == '@' {
		return false
	}
	for i := 0; i < e; i++ {
		c := n[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == ':' || c == '-' || c == '_' || c == '.' || c == '\\' || c == '@'
		if !ok {
			return false
		}
	}
	return true
}

// validDropinName: systemd reads every "*.conf" file of "<unit>.d/" but
// skips hidden ones; the name is one path component.
func validDropinName(n string) bool {
	return n != "" && len(n) <= nameMax && n[0] != '.' && !strings.ContainsRune(n, '/') && !hasCtl(n)
}

func (v *validator) unitName(u *Unit, p []any) {
	if hasNUL(u.Name) {
		return
	}
	if !validUnitName(u.Name) {
		v.errIn(ErrInvalidUnitName, p, "name")
	} else if len(u.Dropins) > 0 && len(u.Name)+len(".d") > nameMax {
		v.errIn(ErrPathComponentTooLong, p, "name")
	}
	for j := range u.Dropins {
		d := &u.Dropins[j]
		if !hasNUL(d.Name) && path.Ext(d.Name) == ".conf" && !validDropinName(d.Name) {
			v.errIn(ErrInvalidDropinName, p, "dropins", j, "name")
		}
	}
}
