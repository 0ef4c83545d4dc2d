package resource

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test mounts a loop device and must run as root")
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// oemImage builds a filesystem image of fstype holding files and attaches it
// to a loop device.
func oemImage(t *testing.T, fstype string, files map[string][]byte) string {
	t.Helper()
	src := t.TempDir()
	for p, b := range files {
		os.MkdirAll(filepath.Dir(filepath.Join(src, p)), 0o755)
		if err := os.WriteFile(filepath.Join(src, p), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	img := filepath.Join(t.TempDir(), "oem.img")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 160<<20); err != nil {
		t.Fatal(err)
	}
	switch fstype {
	case "ext4":
		run(t, "mkfs.ext4", "-q", "-F", "-L", "OEM", "-d", src, img)
	case "btrfs":
		run(t, "mkfs.btrfs", "-q", "-f", "-L", "OEM", "--rootdir", src, img)
	}
	dev := run(t, "losetup", "--find", "--show", "--read-only", img)
	t.Cleanup(func() { exec.Command("losetup", "--detach", dev).Run() })
	return dev
}

func mountsContaining(t *testing.T, s string) int {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), s)
}

func TestOEMPartition(t *testing.T) {
	requireRoot(t)
	content := pseudo(1<<20 + 9)
	for _, fstype := range []string{"ext4", "btrfs"} {
		t.Run(fstype, func(t *testing.T) {
			dev := oemImage(t, fstype, map[string][]byte{"config.ign": []byte(`{"oem":1}`), "images/big.bin": content})
			look := t.TempDir()
			f := newFetcher(t, Options{Offline: true, OEMLookasideDir: look, OEMDevice: dev})
			b, err := f.FetchBytes(bg(), Source{URL: "oem:///config.ign", Hash: sha256Of([]byte(`{"oem":1}`))}, 0)
			if err != nil || string(b) != `{"oem":1}` {
				t.Fatalf("%q %v", b, err)
			}
			out := filepath.Join(t.TempDir(), "big")
			if err := f.FetchToFile(bg(), Source{URL: "oem:///images/big.bin", Hash: sha512Of(content)}, out, 0o644); err != nil {
				t.Fatal(err)
			}
			if got, _ := os.ReadFile(out); !bytes.Equal(got, content) {
				t.Fatal("content differs")
			}
			_, err = f.FetchBytes(bg(), Source{URL: "oem:///nope"}, 0)
			if !errors.Is(err, ErrNotFound) {
				t.Fatalf("missing: %v", err)
			}
			if n := mountsContaining(t, "flint-oem-"); n != 0 {
				t.Fatalf("%d OEM mounts left behind", n)
			}
			// The lookaside dir wins over the partition.
			os.WriteFile(filepath.Join(look, "config.ign"), []byte("lookaside"), 0o644)
			b, err = f.FetchBytes(bg(), Source{URL: "oem:///config.ign"}, 0)
			if err != nil || string(b) != "lookaside" {
				t.Fatalf("%q %v", b, err)
			}
		})
	}
}
