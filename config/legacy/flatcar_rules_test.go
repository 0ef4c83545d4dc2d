package legacy

import (
	"bytes"
	"compress/gzip"
	"errors"
	"testing"

	"github.com/coreos/vcontext/report"
	"github.com/flintboot/flint/config"
	"github.com/vincent-petithory/dataurl"
)

// Rules read from Flatcar's 2.x parser chain (flatcar/ignition v0.36:
// config/v2_*/config.go, types/*.go, translate.go) and its translation
// check (config/ign-converter/translate/v24tov31 Check2_4), one case each.
func TestFlatcarChainVerdicts(t *testing.T) {
	cases := []struct {
		name   string
		in     string
		accept bool
		msg    string // substring of an error entry when rejected
	}{
		// v2_0 types/url.go knows http, https, oem, efi, data only
		{"2.0 tftp source", `{"ignition":{"version":"2.0.0"},"storage":{"files":[{"filesystem":"root","path":"/a","contents":{"source":"tftp://h/a"}}]}}`, false, "invalid url scheme"},
		{"2.0 s3 source", `{"ignition":{"version":"2.0.0"},"ignition":{"version":"2.0.0","config":{"append":[{"source":"s3://b/k"}]}}}`, false, "invalid url scheme"},
		{"2.1 tftp source", `{"ignition":{"version":"2.1.0"},"storage":{"files":[{"filesystem":"root","path":"/a","mode":420,"contents":{"source":"tftp://h/a"}}]}}`, true, ""},
		// v2_0 FilesystemFormat: ext4, btrfs, xfs
		{"2.0 swap format", `{"ignition":{"version":"2.0.0"},"storage":{"filesystems":[{"name":"s","mount":{"device":"/dev/sdb","format":"swap","create":{"force":true}}}]}}`, false, "invalid filesystem format"},
		{"2.1 swap format", `{"ignition":{"version":"2.1.0"},"storage":{"filesystems":[{"name":"s","mount":{"device":"/dev/sdb","format":"swap","wipeFilesystem":true}}]}}`, true, ""},
		// v2_3 translate.go turns the 2.2 partition ints into pointers
		// that are always set; the 2.4 rules call them deprecated and
		// Check2_4 refuses any deprecated entry
		{"2.2 partition without start or size", `{"ignition":{"version":"2.2.0"},"storage":{"disks":[{"device":"/dev/sdb","partitions":[{"number":1,"label":"data"}]}]}}`, false, "size is deprecated"},
		{"2.0 partition", `{"ignition":{"version":"2.0.0"},"storage":{"disks":[{"device":"/dev/sdb","wipeTable":true,"partitions":[{"label":"d","number":1,"start":2048,"size":0}]}]}}`, false, "start is deprecated"},
		{"2.3 partition in MiB", `{"ignition":{"version":"2.3.0"},"storage":{"disks":[{"device":"/dev/sdb","partitions":[{"number":1,"label":"data","sizeMiB":100,"startMiB":1}]}]}}`, true, ""},
		{"2.3 partition start misaligned", `{"ignition":{"version":"2.3.0"},"storage":{"disks":[{"device":"/dev/sdb","partitions":[{"number":1,"start":100,"size":2048}]}]}}`, false, "partitions misaligned"},
		{"2.4 sectors and MiB across partitions", `{"ignition":{"version":"2.4.0"},"storage":{"disks":[{"device":"/dev/sdb","partitions":[{"number":1,"sizeMiB":10},{"number":2,"size":2048}]}]}}`, false, "cannot mix"},
		{"2.3 number 0 and shouldExist false", `{"ignition":{"version":"2.3.0"},"storage":{"disks":[{"device":"/dev/sdb","partitions":[{"number":0,"sizeMiB":10},{"number":2,"shouldExist":false}]}]}}`, false, "shouldExist is false"},
		// 2.x had no rule on link targets
		{"hard link with relative target", `{"ignition":{"version":"2.2.0"},"storage":{"files":[{"filesystem":"root","path":"/a","mode":420}],"links":[{"filesystem":"root","path":"/b","target":"a","hard":true}]}}`, true, ""},
		// Check2_4 reads mount.create of every filesystem and crashes on a
		// filesystem without mount, "root" included
		{"root given as a path", `{"ignition":{"version":"2.2.0"},"storage":{"filesystems":[{"name":"root","path":"/sysroot"}]}}`, false, "pre-mounted path"},
		// Flatcar's 3.x validators accept oem:// (patch reverting "drop
		// OEM URI support"); 2.x ones always did
		{"oem source", `{"ignition":{"version":"2.2.0","config":{"append":[{"source":"oem:///base.ign"}]}},"storage":{"files":[{"filesystem":"root","path":"/a","mode":420,"contents":{"source":"oem:///a"}}]}}`, true, ""},
		// efi:// passes the 2.x rules but no 3.x validator knows it
		{"efi source", `{"ignition":{"version":"2.1.0"},"storage":{"files":[{"filesystem":"root","path":"/a","mode":420,"contents":{"source":"efi:///a"}}]}}`, false, "invalid url scheme"},
		// unrecognized keys are warnings in 2.x
		{"unknown key", `{"ignition":{"version":"2.2.0"},"storage":{"filez":[]},"foo":1}`, true, ""},
		// the translation is read back under 3.1: duplicate users are an
		// error there (2.x never checked)
		{"duplicate users", `{"ignition":{"version":"2.2.0"},"passwd":{"users":[{"name":"core","sshAuthorizedKeys":["a"]},{"name":"core","sshAuthorizedKeys":["b"]}]}}`, false, "duplicate"},
		{"networkd file colliding with a file", `{"ignition":{"version":"2.2.0"},"networkd":{"units":[{"name":"a.network","contents":"[Match]\nName=eth0"}]},"storage":{"files":[{"filesystem":"root","path":"/etc/systemd/network/a.network","mode":420}]}}`, false, "duplicate"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, r, err := ParseAny([]byte(c.in))
			if c.accept {
				if err != nil || r.IsFatal() {
					t.Fatalf("rejected: %v\n%v", err, r)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted; report:\n%v", r)
			}
			if !hasEntry(r, report.Error, "", c.msg) {
				t.Fatalf("no error containing %q:\n%v", c.msg, r)
			}
		})
	}
}

func TestExperimentalTagsRejected(t *testing.T) {
	for _, v := range []string{"2.0.0-experimental", "2.1.0-experimental", "2.2.0-experimental", "2.3.0-experimental", "2.4.0-experimental", "2.5.0-experimental"} {
		_, _, err := ParseAny([]byte(`{"ignition":{"version":"` + v + `"}}`))
		if !errors.Is(err, config.ErrUnknownVersion) {
			t.Errorf("%s: %v, want unsupported version", v, err)
		}
	}
}

// The up-translation of Flatcar's chain sets fields the older specs had as
// plain values.
func TestOlderVersionsLiftedLikeFlatcar(t *testing.T) {
	for _, c := range []struct {
		ver  string
		mode *int // expected translated mode of a file and directory given none
	}{{"2.0.0", intPtr(0)}, {"2.1.0", intPtr(0)}, {"2.2.0", nil}, {"2.4.0", nil}} {
		dirs := `,"directories":[{"filesystem":"root","path":"/d"}]`
		if c.ver == "2.0.0" {
			dirs = ""
		}
		cfg, _ := mustParse(t, `{"ignition":{"version":"`+c.ver+`"},"storage":{"files":[{"filesystem":"root","path":"/f"}]`+dirs+`}}`)
		f := cfg.Storage.Files[0]
		if (f.Mode == nil) != (c.mode == nil) || (f.Mode != nil && *f.Mode != *c.mode) {
			t.Errorf("%s: file mode %v, want %v", c.ver, f.Mode, c.mode)
		}
		if dirs != "" {
			d := cfg.Storage.Directories[0]
			if (d.Mode == nil) != (c.mode == nil) || (d.Mode != nil && *d.Mode != *c.mode) {
				t.Errorf("%s: directory mode %v, want %v", c.ver, d.Mode, c.mode)
			}
		}
		if c.ver == "2.0.0" && (f.User.ID == nil || *f.User.ID != 0 || f.Group.ID == nil || *f.Group.ID != 0) {
			t.Errorf("2.0 file owner: %+v %+v", f.User, f.Group)
		}
	}
	cfg, _ := mustParse(t, `{"ignition":{"version":"2.0.0"},"passwd":{"users":[{"name":"u","passwordHash":""}]}}`)
	if cfg.Passwd.Users[0].PasswordHash != nil {
		t.Errorf("2.0 empty password hash kept")
	}
}

func TestOEMSourcesKept(t *testing.T) {
	cfg, _ := mustParse(t, `{"ignition":{"version":"2.2.0","config":{"append":[{"source":"oem:///base.ign"},{"source":"oem:///b.ign"}]}},
		"storage":{"files":[{"filesystem":"root","path":"/a","mode":420,"contents":{"source":"oem:///a"}},{"filesystem":"root","path":"/b","mode":420,"contents":{"source":"data:,b"}}]}}`)
	got := []string{*cfg.Ignition.Config.Merge[0].Source, *cfg.Ignition.Config.Merge[1].Source, *cfg.Storage.Files[0].Contents.Source, *cfg.Storage.Files[1].Contents.Source}
	want := []string{"oem:///base.ign", "oem:///b.ign", "oem:///a", "data:,b"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("source %d = %q, want %q", i, got[i], want[i])
		}
	}
}

func TestSpec1ContentsEscaped(t *testing.T) {
	body := "a b\n100% [x]?#\n"
	cfg, _ := mustParse(t, `{"ignitionVersion":1,"storage":{"filesystems":[{"device":"/dev/sdb","format":"ext4","create":{"force":true},
		"files":[{"path":"/f","contents":"a b\n100% [x]?#\n","mode":420}]}]}}`)
	d, err := dataurl.DecodeString(*cfg.Storage.Files[0].Contents.Source)
	if err != nil || string(d.Data) != body {
		t.Fatalf("contents %q (%v), want %q", d.Data, err, body)
	}
}

func intPtr(i int) *int { return &i }

// networkd.units[].dropins exist from spec 2.2 (flatcar/ignition
// config/v2_2 types NetworkdDropin; 2.1 has none). A drop-in needs a .conf
// name and valid unit contents, and becomes a file
// /etc/systemd/network/<unit>.d/<name> (mode 0644, overwritten), as in
// ign-converter's v24tov31 translateNetworkd.
func TestNetworkdDropins(t *testing.T) {
	unit := func(ver, dropin string) string {
		return `{"ignition":{"version":"` + ver + `"},"networkd":{"units":[{"name":"00-eth0.network",
 "contents":"[Match]\nName=eth0\n","dropins":[` + dropin + `]}]}}`
	}
	for _, ver := range []string{"2.2.0", "2.3.0", "2.4.0"} {
		cfg, r := mustParse(t, unit(ver, `{"name":"10-dns.conf","contents":"[Network]\nDNS=192.0.2.53\n"}`))
		var got *config.File
		for i := range cfg.Storage.Files {
			if cfg.Storage.Files[i].Path == "/etc/systemd/network/00-eth0.network.d/10-dns.conf" {
				got = &cfg.Storage.Files[i]
			}
		}
		if got == nil || got.Mode == nil || *got.Mode != 0o644 || got.Overwrite == nil || !*got.Overwrite {
			t.Fatalf("%s: drop-in not translated to a 0644 file: %+v\n%v", ver, cfg.Storage.Files, r)
		}
		d, err := dataurl.DecodeString(*got.Contents.Source)
		if err != nil || string(d.Data) != "[Network]\nDNS=192.0.2.53\n" {
			t.Fatalf("%s: contents %q %v", ver, d.Data, err)
		}
		if len(r.Entries) != 0 {
			t.Errorf("%s: unexpected entries\n%v", ver, r)
		}
	}
	// 2.1 has no drop-ins: an unrecognized key, and nothing written
	cfg, r := mustParse(t, unit("2.1.0", `{"name":"10-dns.conf","contents":"[Network]\nDNS=192.0.2.53\n"}`))
	if len(cfg.Storage.Files) != 1 || !hasEntry(r, report.Warn, "$.networkd.units.0.dropins", "unrecognized key: dropins") {
		t.Errorf("2.1: files %+v\n%v", cfg.Storage.Files, r)
	}
	for _, c := range []struct{ name, dropin, path, msg string }{
		{"bad extension", `{"name":"10-dns.network","contents":"[Network]\nDNS=192.0.2.53\n"}`, "$.networkd.units.0.dropins.0.name", "invalid networkd drop-in extension"},
		{"no extension", `{"name":"10-dns"}`, "$.networkd.units.0.dropins.0.name", "invalid networkd drop-in extension"},
		{"bad contents", `{"name":"10-dns.conf","contents":"[Network"}`, "$.networkd.units.0.dropins.0.contents", "invalid unit content"},
	} {
		_, r, err := ParseAny([]byte(unit("2.3.0", c.dropin)))
		if err == nil || !hasEntry(r, report.Error, c.path, c.msg) {
			t.Errorf("%s: want %q at %s, got %v\n%v", c.name, c.msg, c.path, err, r)
			continue
		}
		for _, e := range r.Entries {
			if e.Kind == report.Error && (e.Marker.StartP == nil || e.Marker.StartP.Line != 2) {
				t.Errorf("%s: entry without its line: %v", c.name, e)
			}
		}
	}
}

// ErrZeroesWithShouldNotExist is Flatcar's 2.3/2.4 rule (issue 16: no 3.x
// validator has it). The legacy path refuses such a config with Flatcar's
// message at the 2.x path, whatever the 3.x rules say about the translation.
func TestZeroesWithShouldNotExistLegacyOnly(t *testing.T) {
	disk := `"storage":{"disks":[{"device":"/dev/sdb","partitions":[{"number":0,"label":"data","sizeMiB":10},{"number":2,"shouldExist":false}]}]}}`
	for _, ver := range []string{"2.3.0", "2.4.0"} {
		_, r, err := ParseAny([]byte(`{"ignition":{"version":"` + ver + `"},` + "\n" + disk))
		if err == nil {
			t.Fatalf("%s: accepted\n%v", ver, r)
		}
		var hit bool
		for _, e := range r.Entries {
			if e.Kind == report.Error && e.Message == ErrZeroesWithShouldNotExist.Error() && e.Context.String() == "$.storage.disks.0.partitions" {
				hit = e.Marker.StartP != nil && e.Marker.StartP.Line == 2
			}
		}
		if !hit {
			t.Errorf("%s: no %q at $.storage.disks.0.partitions (line 2):\n%v", ver, ErrZeroesWithShouldNotExist, r)
		}
	}
	// the rule does not exist before 2.3 (no shouldExist there: the key is
	// unrecognized, and the config is refused only for its 2.2 sectors)
	_, r, _ := ParseAny([]byte(`{"ignition":{"version":"2.2.0"},` + disk))
	if hasEntry(r, report.Error, "", ErrZeroesWithShouldNotExist.Error()) {
		t.Errorf("2.2 refused with a 2.3 rule:\n%v", r)
	}
}

// The 2.x parsers gunzip the config before looking for a cloud-config or a
// script on its first line.
func TestDetectGzippedNonConfigs(t *testing.T) {
	for in, want := range map[string]error{"#cloud-config\nhostname: x\n": config.ErrCloudConfig, "#!/bin/sh\necho hi\n": config.ErrScript} {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write([]byte(in))
		zw.Close()
		if _, _, _, err := Detect(b.Bytes()); !errors.Is(err, want) {
			t.Errorf("gzipped %q: %v, want %v", in, err, want)
		}
	}
}
