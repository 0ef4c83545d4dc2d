package disks

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"

	"github.com/flintboot/flint/config"
	"github.com/flintboot/flint/system"
)

func TestRaidArgs(t *testing.T) {
	a, err := raidArgs(config.Raid{Name: "data", Level: ptr("raid1"), Spares: ptr(1),
		Devices: []config.Device{"/dev/vda2", "/dev/vdb", "/dev/vdc"}, Options: []config.RaidOption{"--metadata=1.2", "--assume-clean"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"--create", "/dev/md/data", "--force", "--run", "--homehost", "any", "--level", "raid1",
		"--raid-devices", "2", "--spare-devices", "1", "--metadata=1.2", "--assume-clean"}
	if !reflect.DeepEqual(a, want) {
		t.Fatalf("got %q", a)
	}
	a, _ = raidArgs(config.Raid{Name: "/dev/md0", Level: ptr("0"), Devices: []config.Device{"/dev/a", "/dev/b"}})
	if a[1] != "/dev/md0" || a[9] != "2" || len(a) != 10 {
		t.Fatalf("got %q", a)
	}
	if _, err := raidArgs(config.Raid{Name: "x", Level: ptr("1"), Spares: ptr(2), Devices: []config.Device{"/dev/a", "/dev/b"}}); err == nil {
		t.Fatal("no active devices accepted")
	}
}

func TestMkfsCommand(t *testing.T) {
	fs := func(format string, label, uuid *string, opts ...config.FilesystemOption) config.Filesystem {
		return config.Filesystem{Device: "/dev/x", Format: &format, Label: label, UUID: uuid, Options: opts}
	}
	u := ptr("2d5e9b3c-9a3e-4f59-a0a4-3b3d9c1c0a11")
	cases := []struct {
		fs   config.Filesystem
		tool string
		args string
	}{
		{fs("ext4", ptr("root"), u, "-E", "lazy_itable_init=1"), "mkfs.ext4", "-E lazy_itable_init=1 -F -U " + *u + " -L root /dev/x"},
		{fs("xfs", ptr("data"), u), "mkfs.xfs", "-f -m uuid=" + *u + " -L data /dev/x"},
		{fs("btrfs", ptr("b"), u), "mkfs.btrfs", "--force -U " + *u + " -L b /dev/x"},
		{fs("swap", ptr("sw"), u), "mkswap", "-f -U " + *u + " -L sw /dev/x"},
		{fs("vfat", ptr("ESP"), ptr("1234-ABCD")), "mkfs.fat", "-i 1234ABCD -n ESP /dev/x"},
		{fs("ext4", nil, nil), "mkfs.ext4", "-F /dev/x"},
		{fs("none", nil, nil), "", ""},
	}
	for _, c := range cases {
		tool, args, err := mkfsCommand(c.fs, "/dev/x")
		if err != nil || tool != c.tool || strings.Join(args, " ") != c.args {
			t.Errorf("%s: got %s %q %v", *c.fs.Format, tool, args, err)
		}
	}
	if _, _, err := mkfsCommand(fs("zfs", nil, nil), "/dev/x"); err == nil {
		t.Error("zfs accepted")
	}
}

func TestDecideFilesystem(t *testing.T) {
	f := func(format string, label, uuid *string, wipe bool) config.Filesystem {
		return config.Filesystem{Device: "/dev/x", Format: &format, Label: label, UUID: uuid, WipeFilesystem: &wipe}
	}
	cases := []struct {
		name  string
		fs    config.Filesystem
		found system.FsInfo
		want  string
	}{
		{"empty", f("ext4", nil, nil, false), system.FsInfo{}, fsCreate},
		{"match", f("ext4", ptr("root"), ptr("ABC"), false), system.FsInfo{Type: "ext4", Label: "root", UUID: "abc"}, fsReuse},
		{"match-no-label-given", f("xfs", nil, nil, false), system.FsInfo{Type: "xfs", Label: "whatever"}, fsReuse},
		{"vfat-uuid", f("vfat", nil, ptr("1234-ABCD"), false), system.FsInfo{Type: "vfat", UUID: "1234-abcd"}, fsReuse},
		{"wrong-type", f("ext4", nil, nil, false), system.FsInfo{Type: "xfs"}, "err"},
		{"wrong-label", f("ext4", ptr("a"), nil, false), system.FsInfo{Type: "ext4", Label: "b"}, "err"},
		{"wipe", f("ext4", ptr("a"), nil, true), system.FsInfo{Type: "xfs", Label: "b"}, fsCreate},
		{"none-empty", f("none", nil, nil, false), system.FsInfo{}, fsReuse},
		{"none-but-fs", f("none", nil, nil, false), system.FsInfo{Type: "ext4"}, "err"},
		{"oem-other-type", f("ext4", ptr("OEM"), nil, false), system.FsInfo{Type: "btrfs", Label: "OEM"}, fsReuse},
		{"luks-is-not-fs", f("ext4", nil, nil, false), system.FsInfo{Type: "crypto_LUKS"}, "err"},
		{"table", f("ext4", nil, nil, false), system.FsInfo{PartTableType: "gpt"}, "err"},
	}
	for _, c := range cases {
		got, err := decideFilesystem(c.fs, c.found)
		if c.want == "err" {
			if !errors.Is(err, ErrBadFilesystem) {
				t.Errorf("%s: got %q, %v", c.name, got, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s: got %q, %v; want %s", c.name, got, err, c.want)
		}
	}
}

func TestDecideLuks(t *testing.T) {
	src := config.Resource{Source: ptr("data:,key")}
	base := config.Luks{Name: "root", Device: ptr("/dev/x"), KeyFile: src, Label: ptr("L"), UUID: ptr("AAAA")}
	luks2 := luksFound{Info: system.FsInfo{Type: "crypto_LUKS", Label: "L", UUID: "aaaa"}, IsLuks2: true}
	if d, err := decideLuks(base, luks2); err != nil || d != luksReuse {
		t.Fatalf("reuse: %s %v", d, err)
	}
	if d, err := decideLuks(base, luksFound{}); err != nil || d != luksFormat {
		t.Fatalf("empty: %s %v", d, err)
	}
	if _, err := decideLuks(base, luksFound{Info: system.FsInfo{Type: "crypto_LUKS"}}); !errors.Is(err, ErrLUKS1) {
		t.Fatalf("luks1: %v", err)
	}
	if _, err := decideLuks(base, luksFound{Info: system.FsInfo{Type: "ext4"}}); !errors.Is(err, ErrBadVolume) {
		t.Fatalf("ext4: %v", err)
	}
	wipe := base
	wipe.WipeVolume = ptr(true)
	if d, _ := decideLuks(wipe, luksFound{Info: system.FsInfo{Type: "crypto_LUKS"}}); d != luksFormat {
		t.Fatalf("wipe: %s", d)
	}
	// An existing LUKS2 volume that cannot be reused is refused (never
	// formatted over) unless wipeVolume is set, as the reference does.
	for name, mut := range map[string]func(*config.Luks){
		"label":     func(l *config.Luks) { l.Label = ptr("M") },
		"discard":   func(l *config.Luks) { l.Discard = ptr(true) },
		"generated": func(l *config.Luks) { l.KeyFile = config.Resource{} },
		"clevis":    func(l *config.Luks) { l.Clevis.Tpm2 = ptr(true) },
	} {
		l := base
		mut(&l)
		if d, err := decideLuks(l, luks2); !errors.Is(err, ErrBadVolume) || !strings.Contains(err.Error(), "could not be reused") {
			t.Errorf("%s: %s %v", name, d, err)
		}
		l.WipeVolume = ptr(true)
		if d, err := decideLuks(l, luks2); err != nil || d != luksFormat {
			t.Errorf("%s with wipeVolume: %s %v", name, d, err)
		}
	}
}

func TestClevisConfig(t *testing.T) {
	adv := `{"payload":"x","protected":"y","signature":"z"}`
	l := config.Luks{Name: "r", Clevis: config.Clevis{Tpm2: ptr(true), Threshold: ptr(2),
		Tang: []config.Tang{{URL: "http://10.0.2.2:8780", Thumbprint: ptr("THP"), Advertisement: &adv}}}}
	e := &env{}
	pin, cfg, secrets, err := clevisConfig(context.Background(), e, l)
	if err != nil || pin != "sss" || len(secrets) != 0 {
		t.Fatal(pin, secrets, err)
	}
	var got map[string]any
	json.Unmarshal([]byte(cfg), &got)
	want := map[string]any{"t": 2.0, "pins": map[string]any{"tpm2": map[string]any{},
		"tang": []any{map[string]any{"url": "http://10.0.2.2:8780", "thp": "THP", "adv": map[string]any{"payload": "x", "protected": "y", "signature": "z"}}}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("cfg %s", cfg)
	}
	if unlockProvable(l) || !luksNeedsNetwork(l) {
		t.Fatal("tang with adv + tpm2 at t=2 cannot be proved now")
	}
	l.Clevis.Threshold = nil
	if !unlockProvable(l) {
		t.Fatal("tpm2 alone meets t=1")
	}
	c := config.Luks{Clevis: config.Clevis{Custom: config.ClevisCustom{Pin: ptr("tpm2"), Config: ptr(`{"pcr_ids":"7"}`), NeedsNetwork: ptr(false)}}}
	if pin, cfg, sec, _ := clevisConfig(context.Background(), e, c); len(sec) != 1 || sec[0] != cfg || pin != "tpm2" || cfg != `{"pcr_ids":"7"}` || luksNeedsNetwork(c) {
		t.Fatal(pin, cfg)
	}
}

// Real cryptsetup on image files: LUKS1 and LUKS2 headers are told apart
// and their label, UUID and discard flag read (no dm-crypt needed).
func TestProbeLuksOnImages(t *testing.T) {
	key := t.TempDir() + "/key"
	os.WriteFile(key, []byte("secret"), 0o400)
	e := &env{run: system.NewRunner(nil, nil), log: logDiscard()}
	mk := func(args ...string) string {
		img := newImage(t, 20)
		cmd := exec.Command("cryptsetup", append(append([]string{"luksFormat", "--batch-mode", "--key-file", key, "--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000"}, args...), img)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		return img
	}
	l1 := mk("--type", "luks1")
	f, err := probeLuks(context.Background(), e, l1)
	if err != nil || f.Info.Type != "crypto_LUKS" || f.IsLuks2 {
		t.Fatalf("luks1: %+v %v", f, err)
	}
	if _, err := decideLuks(config.Luks{KeyFile: config.Resource{Source: ptr("data:,x")}}, f); !errors.Is(err, ErrLUKS1) {
		t.Fatalf("luks1 decision: %v", err)
	}
	l2 := mk("--type", "luks2", "--label", "vol", "--uuid", "6c1c9a2e-0000-4000-8000-f1a7e0000002")
	exec.Command("cryptsetup", "config", "--label", "vol", l2).Run()
	f, err = probeLuks(context.Background(), e, l2)
	if err != nil || !f.IsLuks2 || f.Info.Label != "vol" || f.Info.UUID != "6c1c9a2e-0000-4000-8000-f1a7e0000002" || f.Discard {
		t.Fatalf("luks2: %+v %v", f, err)
	}
}
