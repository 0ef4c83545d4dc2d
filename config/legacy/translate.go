package legacy

import (
	"encoding/json"
	"fmt"
	"net/url"
	"path"
	"strconv"

	vpath "github.com/coreos/vcontext/path"
	"github.com/coreos/vcontext/report"
	"github.com/flintboot/flint/config"
	"github.com/vincent-petithory/dataurl"
)

// TranslatedVersion is the 3.x version Flatcar's translation produces; the
// result is then read under that version's rules and lifted to the newest.
const TranslatedVersion = "3.1.0"

// OEMMountPath is where Flatcar's translation mounts the filesystem named
// "oem" or "OEM" (its mount stage then mounts it at /oem).
const OEMMountPath = "/usr/share/oem"

// TranslateV1 turns a spec 1 config into the 2.x shape the way the 2.0
// parser did: filesystems get the names "_translate-filesystem-<i>", file
// contents become data URLs, uid/gid become user/group ids.
func TranslateV1(old V1Config) Config {
	var c Config
	c.Ignition.Version = Versions2[0].String()
	for _, d := range old.Storage.Disks {
		nd := Disk{Device: d.Device, WipeTable: d.WipeTable}
		for _, p := range d.Partitions {
			size, start := p.Size, p.Start
			np := Partition{Number: p.Number, Size: &size, Start: &start, TypeGUID: p.TypeGUID}
			if p.Label != "" {
				l := p.Label
				np.Label = &l
			}
			nd.Partitions = append(nd.Partitions, np)
		}
		c.Storage.Disks = append(c.Storage.Disks, nd)
	}
	for _, r := range old.Storage.Arrays {
		nr := Raid{Name: r.Name, Level: r.Level, Spares: r.Spares}
		for _, d := range r.Devices {
			nr.Devices = append(nr.Devices, config.Device(d))
		}
		c.Storage.Raid = append(c.Storage.Raid, nr)
	}
	for i, fs := range old.Storage.Filesystems {
		name := "_translate-filesystem-" + strconv.Itoa(i)
		c.Storage.Filesystems = append(c.Storage.Filesystems, Filesystem{
			Name:  name,
			Mount: &Mount{Device: fs.Device, Format: fs.Format, Create: fs.Create},
		})
		for _, f := range fs.Files {
			uid, gid, mode := f.UID, f.GID, f.Mode
			c.Storage.Files = append(c.Storage.Files, File{
				Node:     Node{Filesystem: name, Path: f.Path, User: &NodeUser{ID: &uid}, Group: &NodeGroup{ID: &gid}},
				Mode:     &mode,
				Contents: FileContents{Source: "data:," + dataurl.EscapeString(f.Contents)},
			})
		}
	}
	for _, u := range old.Systemd.Units {
		nu := Unit{Name: u.Name, Enable: u.Enable, Mask: u.Mask, Contents: u.Contents}
		for _, d := range u.DropIns {
			nu.Dropins = append(nu.Dropins, SystemdDropin{Name: d.Name, Contents: d.Contents})
		}
		c.Systemd.Units = append(c.Systemd.Units, nu)
	}
	for _, u := range old.Networkd.Units {
		c.Networkd.Units = append(c.Networkd.Units, Networkdunit{Name: u.Name, Contents: u.Contents})
	}
	for _, u := range old.Passwd.Users {
		nu := PasswdUser{Name: u.Name}
		if u.PasswordHash != "" {
			h := u.PasswordHash
			nu.PasswordHash = &h
		}
		for _, k := range u.SSHAuthorizedKeys {
			nu.SSHAuthorizedKeys = append(nu.SSHAuthorizedKeys, config.SSHAuthorizedKey(k))
		}
		if cr := u.Create; cr != nil {
			nc := &Usercreate{UID: cr.UID, Gecos: cr.GECOS, HomeDir: cr.Homedir, NoCreateHome: cr.NoCreateHome,
				PrimaryGroup: cr.PrimaryGroup, NoUserGroup: cr.NoUserGroup, System: cr.System, NoLogInit: cr.NoLogInit, Shell: cr.Shell}
			for _, g := range cr.Groups {
				nc.Groups = append(nc.Groups, UsercreateGroup(g))
			}
			nu.Create = nc
		}
		c.Passwd.Users = append(c.Passwd.Users, nu)
	}
	for _, g := range old.Passwd.Groups {
		c.Passwd.Groups = append(c.Passwd.Groups, PasswdGroup{Name: g.Name, Gid: g.Gid, PasswordHash: g.PasswordHash, System: g.System})
	}
	return c
}

// ---- 2.x -> 3.x ------------------------------------------------------------

func strP(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
func strPStrict(s string) *string { return &s }
func boolP(b bool) *bool {
	if !b {
		return nil
	}
	return &b
}
func boolPStrict(b bool) *bool { return &b }
func intP(i int) *int {
	if i == 0 {
		return nil
	}
	return &i
}

type translator struct {
	r     report.Report
	fsMap map[string]string
}

func (t *translator) fail(p []any, format string, args ...any) {
	t.r.Entries = append(t.r.Entries, report.Entry{Kind: report.Error, Message: fmt.Sprintf(format, args...), Context: vpath.New("json", p...)})
}

func (t *translator) warn(p []any, format string, args ...any) {
	t.r.Entries = append(t.r.Entries, report.Entry{Kind: report.Warn, Message: fmt.Sprintf(format, args...), Context: vpath.New("json", p...)})
}

func isOEM(name string) bool { return name == "oem" || name == "OEM" }

// FilesystemPaths computes the mount path of every named 2.x filesystem the
// way Flatcar does: "root" is "/", "oem"/"OEM" is OEMMountPath, any other
// name gets "/tmp/<name>-ign<N>" where N counts the names added so far.
// A filesystem without a name consumes a generated name "ignition<M>" (and a
// counter value) but, as in Flatcar, the translated filesystem gets no path.
func FilesystemPaths(fss []Filesystem) map[string]string {
	m := map[string]string{"root": "/"}
	generated, added := 0, 0
	for _, fs := range fss {
		name := fs.Name
		if name == "" {
			generated++
			name = "ignition" + strconv.Itoa(generated)
		}
		if _, ok := m[name]; ok {
			continue
		}
		added++
		if isOEM(name) {
			m[name] = OEMMountPath
		} else {
			m[name] = "/tmp/" + name + "-ign" + strconv.Itoa(added)
		}
	}
	return m
}

// checks are the refusals of Flatcar's translator, each reported at the
// 2.x path of the entry that causes it.
func (t *translator) checks(cfg *Config) {
	v := &validator{ver: Max2}
	v.config(cfg)
	for _, e := range v.r.Entries {
		if e.Kind == report.Error || deprecated[e.Message] {
			t.r.Entries = append(t.r.Entries, report.Entry{Kind: report.Error, Context: e.Context,
				Message: "cannot translate to spec 3: " + e.Message})
		}
	}
	for i, fs := range cfg.Storage.Filesystems {
		p := []any{"storage", "filesystems", i}
		if fs.Mount != nil && fs.Mount.Create != nil && !fs.Mount.Create.Force {
			t.fail(cat(p, "mount", "create"), "Config must force filesystem creation in case `mount.create` object is defined.")
		}
		if fs.Mount == nil {
			// Flatcar's check dereferences mount.create for every
			// filesystem, "root" included, and crashes on one without
			// a mount; spec 3 has no pre-mounted filesystems anyway.
			t.fail(cat(p, "path"), "filesystem %q uses a pre-mounted path; spec 3 has no equivalent (it needs mount.device)", fs.Name)
		}
	}
	// duplicate nodes and nodes whose path goes through a link in the config
	full := func(n *Node) string { return path.Join("/", t.fsMap[n.Filesystem], n.Path) }
	var links []string
	for i := range cfg.Storage.Links {
		links = append(links, full(&cfg.Storage.Links[i].Node))
	}
	usesLink := func(p string) string {
		for _, l := range links {
			dir := l
			if dir == "" || dir[len(dir)-1] != '/' {
				dir += "/"
			}
			if len(p) > len(dir) && p[:len(dir)] == dir {
				return l
			}
		}
		return ""
	}
	seen := map[string]string{}
	check := func(kind string, n *Node, p []any) {
		fp := full(n)
		name := kind + ": " + fp
		if old, dup := seen[fp]; dup {
			t.fail(cat(p, "path"), "Config has conflicting inodes: %q and %q.  All files, directories and links must specify a unique `path`.", old, name)
		}
		if l := usesLink(fp); l != "" {
			t.fail(cat(p, "path"), "%s uses link defined in config %q. Please use a link not defined in Storage:Links", name, l)
		}
		seen[fp] = name
	}
	for i := range cfg.Storage.Files {
		check("File", &cfg.Storage.Files[i].Node, []any{"storage", "files", i})
	}
	for i := range cfg.Storage.Directories {
		check("Directory", &cfg.Storage.Directories[i].Node, []any{"storage", "directories", i})
	}
	for i := range cfg.Storage.Links {
		check("Link", &cfg.Storage.Links[i].Node, []any{"storage", "links", i})
	}
	units := map[string]bool{}
	for i, u := range cfg.Systemd.Units {
		p := []any{"systemd", "units", i}
		if units[u.Name] {
			t.fail(cat(p, "name"), "Config has duplicate unit name %q.  All units must specify a unique `name`.", u.Name)
		}
		units[u.Name] = true
		dropins := map[string]bool{}
		for j, d := range u.Dropins {
			if dropins[d.Name] {
				t.fail(cat(p, "dropins", j, "name"), "Config has duplicate dropin name %q in unit %q.  All dropins must specify a unique `name`.", d.Name, u.Name)
			}
			dropins[d.Name] = true
		}
	}
	// a node on a filesystem the config does not declare lands on the root
	// filesystem in Flatcar's translation; say so
	nodeFS := func(n *Node, p []any) {
		if _, ok := t.fsMap[n.Filesystem]; !ok && n.Filesystem != "" {
			t.warn(cat(p, "filesystem"), "filesystem %q is not defined in the config; the path is taken relative to the root filesystem", n.Filesystem)
		}
	}
	for i := range cfg.Storage.Files {
		nodeFS(&cfg.Storage.Files[i].Node, []any{"storage", "files", i})
	}
	for i := range cfg.Storage.Directories {
		nodeFS(&cfg.Storage.Directories[i].Node, []any{"storage", "directories", i})
	}
	for i := range cfg.Storage.Links {
		nodeFS(&cfg.Storage.Links[i].Node, []any{"storage", "links", i})
	}
}

// Translate translates a 2.x config (2.4 shape) to the 3.x model following
// Flatcar's translation. The result declares TranslatedVersion. The report
// holds the refusals (errors, with the 2.x path) and notes (warnings).
func Translate(cfg Config) (config.Config, config.Report) {
	t := &translator{fsMap: FilesystemPaths(cfg.Storage.Filesystems)}
	t.checks(&cfg)
	if t.r.IsFatal() {
		return config.Config{}, t.r
	}
	out := config.Config{}
	ig := &out.Ignition
	ig.Version = TranslatedVersion
	if r := cfg.Ignition.Config.Replace; r != nil {
		ig.Config.Replace = resource(r.Source, r.Verification, r.HTTPHeaders, "")
	}
	for _, a := range cfg.Ignition.Config.Append {
		ig.Config.Merge = append(ig.Config.Merge, resource(a.Source, a.Verification, a.HTTPHeaders, ""))
	}
	for _, ca := range cfg.Ignition.Security.TLS.CertificateAuthorities {
		ig.Security.TLS.CertificateAuthorities = append(ig.Security.TLS.CertificateAuthorities, resource(ca.Source, ca.Verification, ca.HTTPHeaders, ""))
	}
	ig.Timeouts = cfg.Ignition.Timeouts
	ig.Proxy.HTTPProxy = strP(cfg.Ignition.Proxy.HTTPProxy)
	ig.Proxy.HTTPSProxy = strP(cfg.Ignition.Proxy.HTTPSProxy)
	ig.Proxy.NoProxy = cfg.Ignition.Proxy.NoProxy

	for _, u := range cfg.Passwd.Users {
		out.Passwd.Users = append(out.Passwd.Users, translateUser(u))
	}
	for _, g := range cfg.Passwd.Groups {
		out.Passwd.Groups = append(out.Passwd.Groups, config.PasswdGroup{
			Name: g.Name, Gid: g.Gid, PasswordHash: strP(g.PasswordHash), System: boolP(g.System)})
	}
	for _, u := range cfg.Systemd.Units {
		out.Systemd.Units = append(out.Systemd.Units, translateUnit(u))
	}

	st := &out.Storage
	for _, d := range cfg.Storage.Disks {
		nd := config.Disk{Device: d.Device, WipeTable: boolP(d.WipeTable)}
		for _, p := range d.Partitions {
			nd.Partitions = append(nd.Partitions, config.Partition{
				Label: p.Label, Number: p.Number, SizeMiB: p.SizeMiB, StartMiB: p.StartMiB,
				TypeGUID: strP(p.TypeGUID), GUID: strP(p.GUID), WipePartitionEntry: boolP(p.WipePartitionEntry),
				ShouldExist: p.ShouldExist,
			})
		}
		st.Disks = append(st.Disks, nd)
	}
	for _, r := range cfg.Storage.Raid {
		nr := config.Raid{Name: r.Name, Level: strP(r.Level), Spares: intP(r.Spares)}
		nr.Devices = r.Devices
		nr.Options = r.Options
		st.Raid = append(st.Raid, nr)
	}
	for _, fs := range cfg.Storage.Filesystems {
		if fs.Name == "root" {
			continue // the root filesystem is implied in spec 3
		}
		m := Mount{}
		if fs.Mount != nil {
			m = *fs.Mount
		}
		wipe := boolP(m.WipeFilesystem)
		var opts []config.FilesystemOption
		for _, o := range m.Options {
			opts = append(opts, config.FilesystemOption(o))
		}
		if m.Create != nil {
			wipe = boolP(m.Create.Force)
			for _, o := range m.Create.Options {
				opts = append(opts, config.FilesystemOption(o))
			}
		}
		format := m.Format
		if isOEM(fs.Name) && (wipe == nil || !*wipe) {
			format = "btrfs"
		}
		var p *string
		if fs.Name != "" {
			p = strP(t.fsMap[fs.Name])
		}
		st.Filesystems = append(st.Filesystems, config.Filesystem{
			Device: m.Device, Format: strP(format), WipeFilesystem: wipe, Label: m.Label, UUID: m.UUID,
			Options: opts, Path: p,
		})
	}
	for _, f := range cfg.Storage.Files {
		st.Files = append(st.Files, t.file(f))
	}
	st.Files = append(st.Files, t.networkd(cfg.Networkd.Units)...)
	for _, d := range cfg.Storage.Directories {
		st.Directories = append(st.Directories, config.Directory{Node: t.node(d.Node), DirectoryEmbedded1: config.DirectoryEmbedded1{Mode: d.Mode}})
	}
	for _, l := range cfg.Storage.Links {
		target := l.Target
		st.Links = append(st.Links, config.Link{Node: t.node(l.Node), LinkEmbedded1: config.LinkEmbedded1{Hard: boolP(l.Hard), Target: &target}})
	}
	return out, t.r
}

func headers(hs []HTTPHeader) config.HTTPHeaders {
	var out config.HTTPHeaders
	for _, h := range hs {
		out = append(out, config.HTTPHeader{Name: h.Name, Value: strP(h.Value)})
	}
	return out
}

func resource(src string, ver config.Verification, hs []HTTPHeader, compression string) config.Resource {
	return config.Resource{Source: strPStrict(src), Verification: ver,
		HTTPHeaders: headers(hs), Compression: strP(compression)}
}

func translateUser(u PasswdUser) config.PasswdUser {
	uid, gecos, home, noHome, primary := u.UID, u.Gecos, u.HomeDir, u.NoCreateHome, u.PrimaryGroup
	noUG, noLog, shell, system := u.NoUserGroup, u.NoLogInit, u.Shell, u.System
	groups := u.Groups
	if c := u.Create; c != nil {
		// the deprecated create object replaces the user-level fields
		uid, gecos, home, noHome, primary = c.UID, c.Gecos, c.HomeDir, c.NoCreateHome, c.PrimaryGroup
		noUG, noLog, shell, system = c.NoUserGroup, c.NoLogInit, c.Shell, c.System
		groups = make([]config.Group, len(c.Groups))
		for i, g := range c.Groups {
			groups[i] = config.Group(g)
		}
	}
	return config.PasswdUser{
		Name: u.Name, PasswordHash: u.PasswordHash, SSHAuthorizedKeys: u.SSHAuthorizedKeys, UID: uid,
		Gecos: strP(gecos), HomeDir: strP(home), NoCreateHome: boolP(noHome), PrimaryGroup: strP(primary),
		Groups: groups, NoUserGroup: boolP(noUG), NoLogInit: boolP(noLog), Shell: strP(shell), System: boolP(system),
	}
}

func translateUnit(u Unit) config.Unit {
	// `enabled` wins over the deprecated `enable`; either true enables,
	// an explicit enabled=false disables
	var enabled *bool
	if (u.Enabled != nil && *u.Enabled) || u.Enable {
		enabled = boolPStrict(true)
	}
	if u.Enabled != nil && !*u.Enabled {
		enabled = boolPStrict(false)
	}
	nu := config.Unit{Name: u.Name, Enabled: enabled, Mask: boolP(u.Mask), Contents: strP(u.Contents)}
	for _, d := range u.Dropins {
		nu.Dropins = append(nu.Dropins, config.Dropin{Name: d.Name, Contents: strP(d.Contents)})
	}
	return nu
}

func (t *translator) node(n Node) config.Node {
	out := config.Node{Path: path.Join(t.fsMap[n.Filesystem], n.Path), Overwrite: n.Overwrite}
	if n.User != nil {
		out.User = config.NodeUser{ID: n.User.ID, Name: strP(n.User.Name)}
	}
	if n.Group != nil {
		out.Group = config.NodeGroup{ID: n.Group.ID, Name: strP(n.Group.Name)}
	}
	return out
}

func (t *translator) file(f File) config.File {
	// 2.x files overwrite by default; appending never overwrites
	if f.Overwrite == nil {
		f.Overwrite = boolPStrict(true)
	}
	if f.Append {
		f.Overwrite = boolPStrict(false)
	}
	out := config.File{Node: t.node(f.Node), FileEmbedded1: config.FileEmbedded1{Mode: f.Mode}}
	c := config.Resource{
		Compression:  strP(f.Contents.Compression),
		Source:       strPStrict(f.Contents.Source),
		HTTPHeaders:  headers(f.Contents.HTTPHeaders),
		Verification: config.Verification{Hash: f.Contents.Verification.Hash},
	}
	if f.Append {
		out.Append = []config.Resource{c}
	} else {
		out.Contents = c
	}
	return out
}

// networkd turns networkd units and drop-ins into files under
// /etc/systemd/network (mode 0644, overwritten, contents as data URLs).
func (t *translator) networkd(units []Networkdunit) []config.File {
	var out []config.File
	mk := func(p, contents string) config.File {
		return config.File{
			Node:          config.Node{Path: p, Overwrite: boolPStrict(true)},
			FileEmbedded1: config.FileEmbedded1{Mode: intP(0o644), Contents: config.Resource{Source: strPStrict("data:," + url.PathEscape(contents))}},
		}
	}
	for _, u := range units {
		if u.Contents != "" {
			out = append(out, mk(path.Join(t.fsMap["root"], "/etc/systemd/network", u.Name), u.Contents))
		}
		for _, d := range u.Dropins {
			out = append(out, mk(path.Join(t.fsMap["root"], "/etc/systemd/network", u.Name+".d", d.Name), d.Contents))
		}
	}
	return out
}

// Marshal renders a config as JSON without empty objects and lists, so that
// an older target version never sees keys it does not have.
func Marshal(c config.Config, indent bool) ([]byte, error) {
	raw, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	v, _ = prune(v)
	if indent {
		return json.MarshalIndent(v, "", "  ")
	}
	return json.Marshal(v)
}

func prune(v any) (any, bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			ne, keep := prune(e)
			if keep {
				x[k] = ne
			} else {
				delete(x, k)
			}
		}
		return x, len(x) > 0
	case []any:
		if len(x) == 0 {
			return x, false
		}
		for i := range x {
			x[i], _ = prune(x[i])
		}
		return x, true
	}
	return v, true
}
