package providers

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Config drives are built with the real tools. The host kernel has no
// iso9660, vfat or udf, so those images are "mounted" by extracting them
// with xorriso/mtools (the provider still finds them by probing the real
// superblock and reads through Env.Mount); ext4 drives are loop-mounted
// for real. Kernel mounts of iso9660/vfat/udf belong to the VM tier.

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// tree writes files (relative path → content) under a new directory.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, c := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func isoImage(t *testing.T, label string, files map[string]string) string {
	img := filepath.Join(t.TempDir(), "drive.iso")
	run(t, "genisoimage", "-quiet", "-V", label, "-R", "-J", "-o", img, tree(t, files))
	return img
}

func vfatImage(t *testing.T, label string, files map[string]string) string {
	img := filepath.Join(t.TempDir(), "drive.img")
	run(t, "mkfs.vfat", "-C", "-n", label, img, "8192")
	src := tree(t, files)
	for p := range files {
		dirs := strings.Split(filepath.Dir(p), "/")
		for i := range dirs {
			if dirs[0] == "." {
				break
			}
			exec.Command("mmd", "-i", img, "::/"+strings.Join(dirs[:i+1], "/")).Run()
		}
		run(t, "mcopy", "-i", img, filepath.Join(src, p), "::/"+p)
	}
	return img
}

func udfImage(t *testing.T, label string, files map[string]string) string {
	img := filepath.Join(t.TempDir(), "drive.udf")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(4 << 20)
	f.Close()
	run(t, "mkudffs", "--media-type=hd", "--lvid="+label, "--vid="+label, img)
	return img
}

func ext4Image(t *testing.T, label string, files map[string]string) string {
	img := filepath.Join(t.TempDir(), "drive.ext4")
	run(t, "mkfs.ext4", "-q", "-F", "-L", label, "-d", tree(t, files), img, "4M")
	return img
}

// imageEnv makes env find images (not block devices) by probing their real
// superblocks, and "mount" them by extracting their content with the
// filesystem's own userspace tool.
func imageEnv(t *testing.T, env *Env, images ...string) {
	t.Helper()
	env.FindLabel = func(label string) (string, error) {
		for _, img := range images {
			info, err := ProbeDevice(img)
			if err != nil {
				return "", err
			}
			if info.Label == label {
				return img, nil
			}
		}
		return "", nil
	}
	env.FindFSType = func(types ...string) ([]string, error) {
		var out []string
		for _, img := range images {
			info, _ := ProbeDevice(img)
			for _, ty := range types {
				if info.Type == ty {
					out = append(out, img)
				}
			}
		}
		return out, nil
	}
	env.Mount = func(ctx context.Context, dev, dir, fstype string) error {
		info, err := ProbeDevice(dev)
		if err != nil {
			return err
		}
		switch info.Type {
		case "iso9660":
			return exec.Command("xorriso", "-osirrox", "on", "-indev", dev, "-extract", "/", dir).Run()
		case "vfat":
			return exec.Command("mcopy", "-s", "-i", dev, "::/", dir).Run()
		}
		return errors.New("cannot extract " + info.Type)
	}
	env.Unmount = func(ctx context.Context, dir string) error {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}
		return nil
	}
}

func TestProbeRealImages(t *testing.T) {
	files := map[string]string{"user-data": "x"}
	cases := []struct {
		img  string
		want FSInfo
	}{
		{isoImage(t, "config-2", files), FSInfo{"iso9660", "config-2"}},
		{isoImage(t, "CIDATA", files), FSInfo{"iso9660", "CIDATA"}},
		{vfatImage(t, "config-2", files), FSInfo{"vfat", "config-2"}},
		{vfatImage(t, "cidata", files), FSInfo{"vfat", "cidata"}},
		{ext4Image(t, "config-2", files), FSInfo{"ext4", "config-2"}},
		{udfImage(t, "azureprov", files), FSInfo{"udf", "azureprov"}},
	}
	for _, c := range cases {
		got, err := ProbeDevice(c.img)
		if err != nil || got != c.want {
			t.Errorf("%s: got %+v, %v; want %+v", filepath.Base(c.img), got, err, c.want)
		}
	}
	// not a filesystem
	junk := filepath.Join(t.TempDir(), "junk")
	os.WriteFile(junk, make([]byte, 100000), 0o644)
	if got, err := ProbeDevice(junk); err != nil || got != (FSInfo{}) {
		t.Errorf("zeros: %+v %v", got, err)
	}
}

const driveConfig = `{"ignition":{"version":"3.3.0"}}`

func TestConfigDrivePlatforms(t *testing.T) {
	osDrive := map[string]string{"openstack/latest/user_data": driveConfig, "openstack/latest/meta_data.json": "{}"}
	cases := []struct {
		id  string
		img string
	}{
		{"openstack", isoImage(t, "config-2", osDrive)},
		{"brightbox", vfatImage(t, "CONFIG-2", osDrive)},
		{"nutanix", isoImage(t, "config-2", osDrive)},
		{"powervs", vfatImage(t, "config-2", osDrive)},
		{"kubevirt", vfatImage(t, "config-2", osDrive)},
		{"kubevirt", isoImage(t, "cidata", map[string]string{"user-data": driveConfig, "meta-data": ""})},
		{"ibmcloud", isoImage(t, "cidata", map[string]string{"user-data": driveConfig})},
		{"proxmoxve", isoImage(t, "cidata", map[string]string{"user-data": driveConfig})},
		{"proxmoxve", vfatImage(t, "cidata", map[string]string{"user-data": "#cloud-config\nhostname: a\n", "vendor-data": driveConfig})},
		{"cloudstack", isoImage(t, "config-2", map[string]string{"cloudstack/userdata/user_data.txt": driveConfig})},
	}
	for _, c := range cases {
		t.Run(c.id+"/"+filepath.Ext(c.img), func(t *testing.T) {
			// the metadata service (for the racing platforms) never answers
			env := testEnv(t, "http://127.0.0.1:1", time.Hour)
			imageEnv(t, env, c.img)
			p, _ := Lookup(c.id)
			b, err := p.Fetch(ctxT(t, 30*time.Second), env)
			if err != nil || string(b) != driveConfig {
				t.Fatalf("got %q, %v", b, err)
			}
		})
	}
}

func TestConfigDriveMissingFileIsNoConfig(t *testing.T) {
	for _, id := range []string{"nutanix", "ibmcloud", "proxmoxve"} {
		env := testEnv(t, "http://127.0.0.1:1", time.Hour)
		label := "config-2"
		if id != "nutanix" {
			label = "cidata"
		}
		imageEnv(t, env, isoImage(t, label, map[string]string{"meta-data": "x"}))
		p, _ := Lookup(id)
		if _, err := p.Fetch(ctxT(t, 30*time.Second), env); !errors.Is(err, ErrNoConfig) {
			t.Errorf("%s: want ErrNoConfig, got %v", id, err)
		}
	}
}

func TestDriveGiveUpTimes(t *testing.T) {
	// no drive at all: ibmcloud and proxmoxve give up (no config) after
	// their limit; nutanix waits until the context ends
	for _, id := range []string{"ibmcloud", "proxmoxve"} {
		env := testEnv(t, "", time.Hour)
		imageEnv(t, env)
		env.Timeouts = map[string]time.Duration{id + ".drive": 200 * time.Millisecond}
		p, _ := Lookup(id)
		start := time.Now()
		_, err := p.Fetch(ctxT(t, 10*time.Second), env)
		if !errors.Is(err, ErrNoConfig) || time.Since(start) > 5*time.Second {
			t.Errorf("%s: got %v after %s", id, err, time.Since(start))
		}
	}
	env := testEnv(t, "", time.Hour)
	imageEnv(t, env)
	_, err := nutanix{}.Fetch(ctxT(t, 300*time.Millisecond), env)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("nutanix: want the context deadline, got %v", err)
	}
}

func TestOpenstackOfflineReadsPresentDrive(t *testing.T) {
	env := testEnv(t, "", time.Hour)
	opts := env.Fetcher.Options()
	opts.Offline = true
	env.Fetcher.SetOptions(opts)
	imageEnv(t, env, isoImage(t, "config-2", map[string]string{"openstack/latest/user_data": driveConfig}))
	b, err := openstack{name: "openstack"}.Fetch(ctxT(t, 10*time.Second), env)
	if err != nil || string(b) != driveConfig {
		t.Fatalf("got %q, %v", b, err)
	}
}

func TestAzureStackOVFDisc(t *testing.T) {
	ovf := string(readTD(t, "ovf/azure-ovf-env.xml"))
	discs := map[string]map[string]string{
		"element":        {"ovf-env.xml": ovf},
		"CustomData.bin": {"ovf-env.xml": ovf, "CustomData.bin": driveConfig},
	}
	for name, files := range discs {
		env := testEnv(t, "", time.Hour)
		other := isoImage(t, "other", map[string]string{"readme": "not a provisioning disc"})
		imageEnv(t, env, other, isoImage(t, "rd_rdfe_stable", files))
		b, err := azurestack{}.Fetch(ctxT(t, 20*time.Second), env)
		want := `{"ignition":{"version":"3.4.0"}}` + "\n"
		if name == "CustomData.bin" {
			want = driveConfig
		}
		if err != nil || string(b) != want {
			t.Errorf("%s: got %q, %v", name, b, err)
		}
	}
	env := testEnv(t, "", time.Hour)
	imageEnv(t, env, isoImage(t, "prov", map[string]string{"ovf-env.xml": string(readTD(t, "ovf/azure-no-customdata.xml"))}))
	if _, err := (azurestack{}).Fetch(ctxT(t, 20*time.Second), env); !errors.Is(err, ErrNoConfig) {
		t.Errorf("no custom data: want ErrNoConfig, got %v", err)
	}
}
