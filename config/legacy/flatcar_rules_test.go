package legacy

import (
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
