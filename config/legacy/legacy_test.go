package legacy

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coreos/go-semver/semver"
	"github.com/coreos/vcontext/report"
	"github.com/flintboot/flint/config"
)

func mustVersion(s string) *semver.Version { return semver.New(s) }

func mustParse(t *testing.T, raw string) (config.Config, config.Report) {
	t.Helper()
	cfg, r, err := ParseAny([]byte(raw))
	if err != nil {
		t.Fatalf("ParseAny: %v\n%v", err, r)
	}
	return cfg, r
}

func hasEntry(r config.Report, kind report.Kind, path, substr string) bool {
	for _, e := range r.Entries {
		if e.Kind == kind && strings.Contains(e.Message, substr) && (path == "" || e.Context.String() == path) {
			return true
		}
	}
	return false
}

func TestDetect(t *testing.T) {
	cases := []struct {
		in   string
		spec Spec
		err  error
	}{
		{`{"ignitionVersion": 1}`, Spec1, nil},
		{`{"ignition": {"version": "1.0.0"}}`, SpecUnknown, config.ErrUnknownVersion},
		{`{"ignition": {"version": "2.0.0"}}`, Spec2, nil},
		{`{"ignition": {"version": "2.1.0"}}`, Spec2, nil},
		{`{"ignition": {"version": "2.2.0"}}`, Spec2, nil},
		{`{"ignition": {"version": "2.3.0"}}`, Spec2, nil},
		{`{"ignition": {"version": "2.4.0"}}`, Spec2, nil},
		// Flatcar's 2.4 parser accepts no -experimental tag
		{`{"ignition": {"version": "2.1.0-experimental"}}`, SpecUnknown, config.ErrUnknownVersion},
		{`{"ignition": {"version": "2.2.0-experimental"}}`, SpecUnknown, config.ErrUnknownVersion},
		{`{"ignition": {"version": "2.3.0-experimental"}}`, SpecUnknown, config.ErrUnknownVersion},
		{`{"ignition": {"version": "2.4.0-experimental"}}`, SpecUnknown, config.ErrUnknownVersion},
		{`{"ignition": {"version": "2.5.0"}}`, SpecUnknown, config.ErrUnknownVersion},
		{`{"ignition": {"version": "invalid.semver"}}`, SpecUnknown, config.ErrUnknownVersion},
		{`{}`, SpecUnknown, config.ErrUnknownVersion},
		{`{"ignition": {"version": "3.4.0"}}`, Spec3, nil},
		{``, SpecUnknown, config.ErrEmpty},
		{"#cloud-config\nhostname: x", SpecUnknown, config.ErrCloudConfig},
		{"#cloud-config \n", SpecUnknown, config.ErrCloudConfig},
		{"#!/bin/sh\necho hi", SpecUnknown, config.ErrScript},
		{`{"ignition": {"version": "2.0.0"},}`, SpecUnknown, config.ErrInvalid},
	}
	for _, c := range cases {
		spec, _, _, err := Detect([]byte(c.in))
		if spec != c.spec || !errors.Is(err, c.err) {
			t.Errorf("Detect(%q) = %v, %v; want %v, %v", c.in, spec, err, c.spec, c.err)
		}
	}
}

func TestSyntaxErrorHasPosition(t *testing.T) {
	_, r, err := ParseAny([]byte("{\"ignition\": {\"version\": \"2.2.0\"},\n  \"storage\": {]}"))
	if !errors.Is(err, config.ErrInvalid) || len(r.Entries) != 1 || r.Entries[0].Marker.StartP == nil {
		t.Fatalf("err %v report %v", err, r)
	}
	if p := r.Entries[0].Marker.StartP; p.Line != 2 {
		t.Errorf("line %d, want 2", p.Line)
	}
}

func TestTypeErrorRejected(t *testing.T) {
	_, r, err := ParseAny([]byte(`{"ignition": {"version": "2.2.0"}, "storage": {"files": [{"filesystem": "root", "path": "/a", "mode": "0644"}]}}`))
	if !errors.Is(err, config.ErrInvalid) || !r.IsFatal() {
		t.Fatalf("err %v report %v", err, r)
	}
}

func TestValidationRules2x(t *testing.T) {
	cases := []struct {
		name, in, path, msg string
		kind                report.Kind
	}{
		{"relative path", `{"ignition":{"version":"2.2.0"},"storage":{"files":[{"filesystem":"root","path":"etc/x","mode":420}]}}`,
			"$.storage.files.0.path", "path not absolute", report.Error},
		{"no filesystem", `{"ignition":{"version":"2.2.0"},"storage":{"files":[{"path":"/x","mode":420}]}}`,
			"$.storage.files.0.filesystem", "no filesystem specified", report.Error},
		{"mode unset", `{"ignition":{"version":"2.2.0"},"storage":{"files":[{"filesystem":"root","path":"/x"}]}}`,
			"$.storage.files.0.mode", "permissions unset, defaulting to 0000", report.Warn},
		{"bad scheme", `{"ignition":{"version":"2.2.0"},"storage":{"files":[{"filesystem":"root","path":"/x","mode":420,"contents":{"source":"ftp://x/y"}}]}}`,
			"$.storage.files.0.contents.source", "invalid url scheme", report.Error},
		{"bad hash", `{"ignition":{"version":"2.2.0"},"ignition":{"version":"2.2.0","config":{"append":[{"source":"http://x","verification":{"hash":"sha256-00"}}]}}}`,
			"$.ignition.config.append.0.verification.hash", "unrecognized hash function", report.Error},
		{"bad unit ext", `{"ignition":{"version":"2.0.0"},"systemd":{"units":[{"name":"foo.bar"}]}}`,
			"$.systemd.units.0.name", "invalid systemd unit extension", report.Error},
		{"bad networkd ext", `{"ignition":{"version":"2.0.0"},"networkd":{"units":[{"name":"foo.service"}]}}`,
			"$.networkd.units.0.name", "invalid networkd unit extension", report.Error},
		{"bad format", `{"ignition":{"version":"2.1.0"},"storage":{"filesystems":[{"name":"d","mount":{"device":"/dev/sdb","format":"zfs"}}]}}`,
			"$.storage.filesystems.0.mount.format", "invalid filesystem format", report.Error},
		{"append and overwrite", `{"ignition":{"version":"2.2.0"},"storage":{"files":[{"filesystem":"root","path":"/x","mode":420,"append":true,"overwrite":true}]}}`,
			"$.storage.files.0.overwrite", "cannot set both append and overwrite to true", report.Error},
		{"create and user-level", `{"ignition":{"version":"2.1.0"},"passwd":{"users":[{"name":"a","shell":"/bin/sh","create":{}}]}}`,
			"$.passwd.users.0", "cannot use both the create object and the user-level shell field", report.Error},
		{"unrecognized key", `{"ignition":{"version":"2.2.0"},"storage":{"filez":[]}}`,
			"$.storage.filez", "Config has unrecognized key: filez", report.Warn},
		{"key newer than version", `{"ignition":{"version":"2.1.0"},"storage":{"files":[{"filesystem":"root","path":"/x","mode":420,"append":true}]}}`,
			"$.storage.files.0.append", "Config has unrecognized key: append", report.Warn},
		{"case mismatch", `{"ignition":{"version":"2.2.0"},"storage":{"files":[{"filesystem":"root","Path":"/x","mode":420}]}}`,
			"$.storage.files.0.Path", "Did you mean path instead of Path", report.Info},
		{"size deprecated in 2.3", `{"ignition":{"version":"2.3.0"},"storage":{"disks":[{"device":"/dev/sdb","partitions":[{"number":1,"size":2048}]}]}}`,
			"$.storage.disks.0.partitions.0.size", "size is deprecated", report.Warn},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, r, _ := Parse2([]byte(c.in))
			if !hasEntry(r, c.kind, c.path, c.msg) {
				t.Fatalf("want %v %q at %s; got\n%v", c.kind, c.msg, c.path, r)
			}
			for _, e := range r.Entries {
				if e.Marker.StartP == nil || e.Marker.StartP.Line < 1 {
					t.Errorf("entry without position: %v", e)
				}
			}
		})
	}
}

func TestNewerKeyIsIgnored(t *testing.T) {
	cfg, _ := mustParse(t, `{"ignition":{"version":"2.1.0"},"storage":{"files":[{"filesystem":"root","path":"/x","mode":420,"append":true,"contents":{"source":"data:,a"}}]}}`)
	f := cfg.Storage.Files[0]
	if len(f.Append) != 0 || f.Contents.Source == nil || *f.Contents.Source != "data:,a" {
		t.Fatalf("append of a 2.1 config must be ignored: %+v", f)
	}
}

func TestTranslationRules(t *testing.T) {
	t.Run("append becomes merge, replace and CAs kept", func(t *testing.T) {
		cfg, _ := mustParse(t, `{"ignition":{"version":"2.2.0","config":{"append":[{"source":"https://a/x.ign"}],"replace":null},
			"security":{"tls":{"certificateAuthorities":[{"source":"https://a/ca.pem"}]}}}}`)
		if len(cfg.Ignition.Config.Merge) != 1 || *cfg.Ignition.Config.Merge[0].Source != "https://a/x.ign" {
			t.Fatalf("merge: %+v", cfg.Ignition.Config)
		}
		if len(cfg.Ignition.Security.TLS.CertificateAuthorities) != 1 {
			t.Fatalf("CAs lost")
		}
	})
	t.Run("filesystems by name become devices with mount paths; node paths follow", func(t *testing.T) {
		cfg, _ := mustParse(t, `{"ignition":{"version":"2.2.0"},"storage":{
			"filesystems":[{"name":"root","mount":{"device":"/dev/sda9","format":"ext4"}},
			               {"name":"data","mount":{"device":"/dev/sdb","format":"xfs","wipeFilesystem":true}},
			               {"name":"logs","mount":{"device":"/dev/sdc","format":"ext4","create":{"force":true,"options":["-m0"]}}}],
			"files":[{"filesystem":"data","path":"/a","mode":420},{"filesystem":"root","path":"/etc/b","mode":420}],
			"directories":[{"filesystem":"logs","path":"/d","mode":493}],
			"links":[{"filesystem":"data","path":"/l","target":"/a"}]}}`)
		fss := cfg.Storage.Filesystems
		if len(fss) != 2 {
			t.Fatalf("root must be dropped: %+v", fss)
		}
		if fss[0].Device != "/dev/sdb" || *fss[0].Path != "/tmp/data-ign1" || !*fss[0].WipeFilesystem {
			t.Errorf("data fs: %+v", fss[0])
		}
		if *fss[1].Path != "/tmp/logs-ign2" || !*fss[1].WipeFilesystem || len(fss[1].Options) != 1 || fss[1].Options[0] != "-m0" {
			t.Errorf("logs fs (create→wipe+options): %+v", fss[1])
		}
		if cfg.Storage.Files[0].Path != "/tmp/data-ign1/a" || cfg.Storage.Files[1].Path != "/etc/b" {
			t.Errorf("file paths: %s %s", cfg.Storage.Files[0].Path, cfg.Storage.Files[1].Path)
		}
		if cfg.Storage.Directories[0].Path != "/tmp/logs-ign2/d" || cfg.Storage.Links[0].Path != "/tmp/data-ign1/l" {
			t.Errorf("dir/link paths")
		}
	})
	t.Run("unnamed filesystem consumes a generated name but gets no path", func(t *testing.T) {
		cfg, _ := mustParse(t, `{"ignition":{"version":"2.2.0"},"storage":{"filesystems":[
			{"mount":{"device":"/dev/sdb","format":"ext4","wipeFilesystem":true}},
			{"name":"x","mount":{"device":"/dev/sdc","format":"ext4"}}]}}`)
		if cfg.Storage.Filesystems[0].Path != nil || *cfg.Storage.Filesystems[1].Path != "/tmp/x-ign2" {
			t.Fatalf("%+v", cfg.Storage.Filesystems)
		}
		m := FilesystemPaths([]Filesystem{{}, {Name: "x"}})
		if m["ignition1"] != "/tmp/ignition1-ign1" {
			t.Fatalf("generated: %v", m)
		}
	})
	t.Run("OEM filesystem mounted at the OEM path, btrfs unless wiped", func(t *testing.T) {
		for _, name := range []string{"oem", "OEM"} {
			cfg, _ := mustParse(t, `{"ignition":{"version":"2.3.0"},"storage":{"filesystems":[{"name":"`+name+`","mount":{"device":"/dev/disk/by-label/OEM","format":"ext4"}}],
				"files":[{"filesystem":"`+name+`","path":"/grub.cfg","mode":420,"append":true,"contents":{"source":"data:,x"}}]}}`)
			fs := cfg.Storage.Filesystems[0]
			if *fs.Path != OEMMountPath || *fs.Format != "btrfs" {
				t.Errorf("%s: %+v", name, fs)
			}
			f := cfg.Storage.Files[0]
			if f.Path != "/usr/share/oem/grub.cfg" || len(f.Append) != 1 || *f.Overwrite {
				t.Errorf("%s file: %+v", name, f)
			}
		}
		cfg, _ := mustParse(t, `{"ignition":{"version":"2.3.0"},"storage":{"filesystems":[{"name":"oem","mount":{"device":"/dev/disk/by-label/OEM","format":"ext4","wipeFilesystem":true}}]}}`)
		if *cfg.Storage.Filesystems[0].Format != "ext4" {
			t.Errorf("wiped OEM keeps its format")
		}
	})
	t.Run("files overwrite by default", func(t *testing.T) {
		cfg, _ := mustParse(t, `{"ignition":{"version":"2.2.0"},"storage":{"files":[{"filesystem":"root","path":"/a","mode":420,"contents":{"source":"data:,a"}},
			{"filesystem":"root","path":"/b","mode":420,"overwrite":false,"contents":{"source":"data:,b"}}]}}`)
		if !*cfg.Storage.Files[0].Overwrite || *cfg.Storage.Files[1].Overwrite {
			t.Fatalf("overwrite")
		}
	})
	t.Run("networkd units and drop-ins become files", func(t *testing.T) {
		cfg, _ := mustParse(t, `{"ignition":{"version":"2.3.0"},"networkd":{"units":[{"name":"10-a.network","contents":"[Match]\nName=eth0",
			"dropins":[{"name":"x.conf","contents":"[Network]\nDHCP=yes"}]}]}}`)
		fs := cfg.Storage.Files
		if len(fs) != 2 || fs[0].Path != "/etc/systemd/network/10-a.network" || fs[1].Path != "/etc/systemd/network/10-a.network.d/x.conf" {
			t.Fatalf("%+v", fs)
		}
		if *fs[0].Mode != 0o644 || !*fs[0].Overwrite || *fs[0].Contents.Source != "data:,%5BMatch%5D%0AName=eth0" {
			t.Fatalf("%+v", fs[0])
		}
	})
	t.Run("deprecated create user object", func(t *testing.T) {
		cfg, r := mustParse(t, `{"ignition":{"version":"2.1.0"},"passwd":{"users":[{"name":"u","passwordHash":"$6$x","create":{"uid":1001,"groups":["wheel"],"shell":"/bin/zsh","homeDir":"/home/u2","system":true}}]}}`)
		u := cfg.Passwd.Users[0]
		if *u.UID != 1001 || *u.Shell != "/bin/zsh" || *u.HomeDir != "/home/u2" || !*u.System || len(u.Groups) != 1 || *u.PasswordHash != "$6$x" {
			t.Fatalf("%+v", u)
		}
		if !hasEntry(r, report.Warn, "$.passwd.users.0.create", "deprecated") {
			t.Errorf("no deprecation warning: %v", r)
		}
	})
	t.Run("unit enable and enabled", func(t *testing.T) {
		cfg, _ := mustParse(t, `{"ignition":{"version":"2.1.0"},"systemd":{"units":[
			{"name":"a.service","enable":true},{"name":"b.service","enabled":true},
			{"name":"c.service","enable":true,"enabled":false},{"name":"d.service","mask":true},{"name":"e.service"}]}}`)
		us := cfg.Systemd.Units
		if !*us[0].Enabled || !*us[1].Enabled || *us[2].Enabled || us[3].Enabled != nil || !*us[3].Mask || us[4].Enabled != nil {
			t.Fatalf("%+v", us)
		}
	})
	t.Run("spec 1", func(t *testing.T) {
		cfg, r := mustParse(t, `{"ignitionVersion":1,"storage":{"filesystems":[{"device":"/dev/sdb","format":"ext4","create":{"force":true},
			"files":[{"path":"/f","contents":"hi","mode":420,"uid":500,"gid":501}]}]},
			"systemd":{"units":[{"name":"a.service","enable":true,"contents":"[Install]\nWantedBy=multi-user.target"}]}}`)
		f := cfg.Storage.Files[0]
		if f.Path != "/tmp/_translate-filesystem-0-ign1/f" || *f.User.ID != 500 || *f.Group.ID != 501 || *f.Contents.Source != "data:,hi" {
			t.Fatalf("%+v %s", f, *f.Contents.Source)
		}
		if !*cfg.Systemd.Units[0].Enabled {
			t.Errorf("enable lost")
		}
		if !hasEntry(r, report.Warn, "", "config format deprecated") {
			t.Errorf("%v", r)
		}
	})
}

func TestTranslationRefusals(t *testing.T) {
	cases := []struct{ name, in, path, msg string }{
		{"duplicate nodes", `{"ignition":{"version":"2.2.0"},"storage":{"files":[{"filesystem":"root","path":"/a","mode":420}],"directories":[{"filesystem":"root","path":"/a","mode":493}]}}`,
			"$.storage.directories.0.path", `conflicting inodes: "File: /a" and "Directory: /a"`},
		{"duplicate across filesystems", `{"ignition":{"version":"2.2.0"},"storage":{"filesystems":[{"name":"r2","mount":{"device":"/dev/sdb","format":"ext4"}}],
			"files":[{"filesystem":"root","path":"/a","mode":420},{"filesystem":"root","path":"/a/","mode":420}]}}`,
			"$.storage.files.1.path", "conflicting inodes"},
		{"path through configured link", `{"ignition":{"version":"2.2.0"},"storage":{"links":[{"filesystem":"root","path":"/etc/l","target":"/opt"}],"files":[{"filesystem":"root","path":"/etc/l/x","mode":420}]}}`,
			"$.storage.files.0.path", `uses link defined in config "/etc/l"`},
		{"duplicate units", `{"ignition":{"version":"2.2.0"},"systemd":{"units":[{"name":"a.service"},{"name":"a.service","mask":true}]}}`,
			"$.systemd.units.1.name", `duplicate unit name "a.service"`},
		{"duplicate drop-ins", `{"ignition":{"version":"2.2.0"},"systemd":{"units":[{"name":"a.service","dropins":[{"name":"x.conf"},{"name":"x.conf"}]}]}}`,
			"$.systemd.units.0.dropins.1.name", `duplicate dropin name "x.conf" in unit "a.service"`},
		{"mount.create without force", `{"ignition":{"version":"2.2.0"},"storage":{"filesystems":[{"name":"d","mount":{"device":"/dev/sdb","format":"ext4","create":{"options":["-m0"]}}}]}}`,
			"$.storage.filesystems.0.mount.create", "must force filesystem creation"},
		{"partition size in sectors", `{"ignition":{"version":"2.2.0"},"storage":{"disks":[{"device":"/dev/sdb","partitions":[{"number":1,"start":2048,"size":4096}]}]}}`,
			"$.storage.disks.0.partitions.0.size", "size is deprecated"},
		{"pre-mounted filesystem path", `{"ignition":{"version":"2.2.0"},"storage":{"filesystems":[{"name":"m","path":"/mnt/x"}]}}`,
			"$.storage.filesystems.0.path", "pre-mounted path"},
		{"scheme unknown to 3.1", `{"ignition":{"version":"2.2.0"},"storage":{"files":[{"filesystem":"root","path":"/a","mode":420,"contents":{"source":"efi:///x"}}]}}`,
			"$.storage.files.0.contents.source", "invalid url scheme"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, r, err := ParseAny([]byte(c.in))
			if err == nil {
				t.Fatalf("accepted; report %v", r)
			}
			if !hasEntry(r, report.Error, c.path, c.msg) {
				t.Fatalf("want error %q at %s; got\n%v", c.msg, c.path, r)
			}
		})
	}
}

// Every testdata config parses, translates, and its rendering reads back
// under 3.x rules with no errors, saying the same thing.
func TestRoundTrip(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.json")
	if len(files) == 0 {
		t.Fatal("no testdata")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			res, err := ParseAnyResult(raw)
			if err != nil {
				t.Fatalf("ParseAny: %v\n%v", err, res.Report)
			}
			for _, target := range []string{TranslatedVersion, config.MaxStable.String(), config.MaxVersion.String()} {
				out, r, err := Render(res, target)
				if err != nil {
					t.Fatalf("Render %s: %v\n%v", target, err, r)
				}
				back, br, err := config.Parse(out)
				if err != nil || br.IsFatal() {
					t.Fatalf("re-parse %s: %v\n%v\n%s", target, err, br, out)
				}
				a, _ := Marshal(back, false)
				back.Ignition.Version = res.Config.Ignition.Version
				res.Config.Ignition.Version = back.Ignition.Version
				b, _ := Marshal(res.Config, false)
				_ = a
				if x, _ := Marshal(back, false); string(x) != string(b) {
					t.Fatalf("round trip to %s changed the config:\n%s\n%s", target, x, b)
				}
			}
		})
	}
}

func TestRenderRefusals(t *testing.T) {
	res, err := ParseAnyResult([]byte(`{"ignition":{"version":"3.4.0"},"storage":{"luks":[{"name":"x","device":"/dev/sdb","discard":true}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, r, err := Render(res, "3.3.0"); err == nil || !hasEntry(r, report.Error, "$.ignition.version", "cannot translate down") {
		t.Fatalf("down: %v %v", err, r)
	}
	// a field the target lacks (the config lifted to the newest shape still
	// carries 3.4 fields; pretend it came from 3.0 to reach the since check)
	res.Effective = *mustVersion("3.0.0")
	if _, r, err := Render(res, "3.3.0"); err == nil || !hasEntry(r, report.Error, "$.storage.luks.0.discard", "needs spec 3.4.0") {
		t.Fatalf("since: %v %v", err, r)
	}
	// 2.x proxy/httpHeaders translate to 3.1 fields: 3.0 cannot say them
	res2, err := ParseAnyResult([]byte(`{"ignition":{"version":"2.4.0","proxy":{"httpProxy":"http://p:3128"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Render(res2, "3.0.0"); err == nil {
		t.Fatal("2.x → 3.0 accepted")
	}
	if _, _, err := Render(res2, "9.9.9"); err == nil {
		t.Fatal("unknown target accepted")
	}
}
