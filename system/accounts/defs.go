package accounts

import (
	"bufio"
	"bytes"
	"strconv"
	"strings"
	"time"
)

// defs is the target root's /etc/login.defs, read as shadow's getdef does:
// "NAME value" per line, '#' comments, a value in double quotes has them
// removed, the last setting of a name wins.
type defs map[string]string

func parseDefs(b []byte) defs {
	d := defs{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		l := strings.TrimLeft(sc.Text(), " \t")
		if l == "" || l[0] == '#' {
			continue
		}
		i := strings.IndexAny(l, " \t")
		if i < 0 {
			d[l] = ""
			continue
		}
		name, v := l[:i], strings.Trim(l[i:], " \t\r")
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		d[name] = v
	}
	return d
}

func (d defs) str(k string) (string, bool) {
	v, ok := d[k]
	return v, ok
}

// parseC parses an integer like strtol/strtoul with base 0 (0x…, 0…).
func parseC(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, false
	}
	v, err := strconv.ParseInt(s, 0, 64)
	if err != nil {
		// base-0 octal as C reads it: "0755"
		if len(s) > 1 && s[0] == '0' {
			if v, err = strconv.ParseInt(s[1:], 8, 64); err == nil {
				return v, true
			}
		}
		return 0, false
	}
	return v, true
}

// num is getdef_num/getdef_long: the value or def when unset or invalid.
func (d defs) num(k string, def int64) int64 {
	v, ok := d[k]
	if !ok {
		return def
	}
	n, ok := parseC(v)
	if !ok {
		return def
	}
	return n
}

// ulong is getdef_ulong: like num, negative values are invalid.
func (d defs) ulong(k string, def int64) int64 {
	n := d.num(k, def)
	if n < 0 {
		return def
	}
	return n
}

func (d defs) boolean(k string) bool { return strings.EqualFold(d[k], "yes") }

// useraddDefaults is /etc/default/useradd as useradd reads it (KEY=value).
type useraddDefaults struct {
	group      string // GROUP= (a name or id); "" = built-in
	home       string
	inactive   int64
	expire     string
	shell      string
	skel       string
	createMail string
	btrfsHome  string
	keys       map[string]bool
}

func parseUseraddDefaults(b []byte) useraddDefaults {
	u := useraddDefaults{home: "/home", inactive: -1, shell: "/bin/bash", skel: "/etc/skel", createMail: "no", keys: map[string]bool{}}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		l := sc.Text()
		i := strings.IndexByte(l, '=')
		if i < 0 {
			continue
		}
		k, v := l[:i], l[i+1:]
		u.keys[k] = true
		switch k {
		case "GROUP":
			u.group = v
		case "HOME":
			u.home = v
		case "INACTIVE":
			if n, ok := parseC(v); ok {
				u.inactive = n
			} else {
				u.inactive = -1
			}
		case "EXPIRE":
			u.expire = v
		case "SHELL":
			u.shell = v
		case "SKEL":
			if v == "" {
				v = "/etc/skel"
			}
			u.skel = v
		case "BTRFS_SUBVOLUME_HOME":
			u.btrfsHome = v
		case "CREATE_MAIL_SPOOL":
			if v == "" {
				v = "no"
			}
			u.createMail = v
		}
	}
	return u
}

// expireDay is EXPIRE= as a day number, -1 when empty; ok false when the
// date is in a form the writer does not read (the tools then decide).
func expireDay(s string) (int64, bool) {
	if s == "" {
		return -1, true
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t.Unix() / 86400, true
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= -1 {
		return n, true
	}
	return 0, false
}
