// Package flintdracut holds the tests of the dracut module's shell parts.
// They run flint-generator with a fake kernel command line and check the
// unit links and the environment file it writes.
package flintdracut

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

type genResult struct {
	links map[string]string // link path relative to the unit dir -> target
	env   string
	kmsg  string
}

// runGenerator runs flint-generator under shell sh with cmdline, a fake
// systemd-detect-virt printing virt (none when virt is ""), and returns what
// it wrote.
func runGenerator(t *testing.T, sh, cmdline, virt string) genResult {
	t.Helper()
	dir := t.TempDir()
	units := filepath.Join(dir, "units")
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	// a PATH with only what the initramfs has, plus the fake detect-virt
	for _, tool := range []string{"mkdir", "ln", "mv"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(p, filepath.Join(bin, tool)); err != nil {
			t.Fatal(err)
		}
	}
	if virt != "" {
		script := "#!/bin/sh\necho " + virt + "\n"
		if err := os.WriteFile(filepath.Join(bin, "systemd-detect-virt"), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cl := filepath.Join(dir, "cmdline")
	if err := os.WriteFile(cl, []byte(cmdline+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	shPath, err := exec.LookPath(sh)
	if err != nil {
		t.Fatalf("%s: %v", sh, err)
	}
	cmd := exec.Command(shPath, "flint-generator", units, units+".early", units+".late")
	cmd.Env = []string{
		"PATH=" + bin,
		"FLINT_KERNEL_CMDLINE_PATH=" + cl,
		"FLINT_ENV_FILE=" + filepath.Join(dir, "run", "flint.env"),
		"FLINT_UNIT_SOURCE_DIR=/usr/lib/systemd/system",
		"FLINT_KMSG=" + filepath.Join(dir, "kmsg"),
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("generator: %v\n%s", err, out)
	}
	if len(out) != 0 {
		t.Errorf("generator printed %q; it must stay quiet", out)
	}
	res := genResult{links: map[string]string{}}
	filepath.Walk(units, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			return nil
		}
		target, _ := os.Readlink(p)
		rel, _ := filepath.Rel(units, p)
		res.links[rel] = target
		return nil
	})
	env, err := os.ReadFile(filepath.Join(dir, "run", "flint.env"))
	if err != nil {
		t.Fatalf("env file: %v", err)
	}
	res.env = string(env)
	kmsg, _ := os.ReadFile(filepath.Join(dir, "kmsg"))
	res.kmsg = string(kmsg)
	return res
}

var firstBootLinks = map[string]string{
	"initrd.target.requires/flint-complete.target":        "/usr/lib/systemd/system/flint-complete.target",
	"flint-complete.target.requires/flint-diskful.target": "/usr/lib/systemd/system/flint-diskful.target",
}

func TestGenerator(t *testing.T) {
	net := map[string]string{
		"flint-fetch.service.wants/network-online.target": "/usr/lib/systemd/system/network-online.target",
	}
	with := func(a, b map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range a {
			m[k] = v
		}
		for k, v := range b {
			m[k] = v
		}
		return m
	}
	cases := []struct {
		name, cmdline, virt string
		links               map[string]string
		platform            string
	}{
		{"not first boot", "console=ttyS0 root=LABEL=r", "", nil, "metal"},
		{"not first boot on qemu", "console=ttyS0", "qemu", nil, "qemu"},
		{"flint.firstboot bare", "flint.firstboot flint.platform.id=qemu", "", firstBootLinks, "qemu"},
		{"ignition aliases", "ignition.firstboot=1 ignition.platform.id=aws", "", firstBootLinks, "aws"},
		{"flatcar detected", "flatcar.first_boot=detected flatcar.oem.id=ec2", "", firstBootLinks, "aws"},
		{"coreos", "coreos.first_boot=1 coreos.oem.id=gce", "kvm", firstBootLinks, "gcp"},
		{"pxe is metal", "flint.firstboot=yes flatcar.oem.id=pxe", "qemu", firstBootLinks, "metal"},
		{"false values", "flint.firstboot=0 ignition.firstboot=no flatcar.first_boot=off coreos.first_boot=", "", nil, "metal"},
		{"last occurrence wins", "flint.firstboot=1 flint.firstboot=0", "", nil, "metal"},
		{"any alias true", "flint.firstboot=0 coreos.first_boot=1", "", firstBootLinks, "metal"},
		{"flint key beats alias", "ignition.platform.id=azure flint.platform.id=qemu flint.firstboot", "", firstBootLinks, "qemu"},
		{"default on kvm", "flint.firstboot", "kvm", firstBootLinks, "qemu"},
		{"default elsewhere", "flint.firstboot", "vmware", firstBootLinks, "metal"},
		{"no detect-virt", "flint.firstboot", "", firstBootLinks, "metal"},
		{"prefix is not the key", "flint.firstbootx flint.platform.idx=aws", "", nil, "metal"},
		{"invalid platform", "flint.firstboot flint.platform.id=a/../b", "", firstBootLinks, "metal"},
		{"no glob expansion", "flint.firstboot flint.platform.id=*", "", firstBootLinks, "metal"},
		{"neednet", "flint.firstboot rd.neednet=1 ip=dhcp flint.config.url=http://10.0.2.2/c.ign", "", with(firstBootLinks, net), "metal"},
		{"neednet without first boot", "rd.neednet=1 ip=dhcp", "", nil, "metal"},
	}
	for _, sh := range []string{"dash", "bash"} {
		for _, c := range cases {
			t.Run(sh+"/"+c.name, func(t *testing.T) {
				r := runGenerator(t, sh, c.cmdline, c.virt)
				want := c.links
				if want == nil {
					want = map[string]string{}
				}
				if !equal(r.links, want) {
					t.Errorf("links:\n got %v\nwant %v", keys(r.links), keys(want))
				}
				for k, v := range want {
					if r.links[k] != v {
						t.Errorf("link %s -> %q, want %q", k, r.links[k], v)
					}
				}
				if wantEnv := "PLATFORM_ID=" + c.platform + "\n"; r.env != wantEnv {
					t.Errorf("env file %q, want %q", r.env, wantEnv)
				}
				if !strings.HasPrefix(r.kmsg, "flint-generator: ") {
					t.Errorf("kmsg %q", r.kmsg)
				}
			})
		}
	}
}

// A missing command line (no /proc) must not break the boot.
func TestGeneratorNoCmdline(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command("sh", "flint-generator", filepath.Join(dir, "u"))
	cmd.Env = []string{"PATH=/usr/bin:/bin", "FLINT_KERNEL_CMDLINE_PATH=" + filepath.Join(dir, "absent"),
		"FLINT_ENV_FILE=" + filepath.Join(dir, "flint.env"), "FLINT_KMSG=/dev/null"}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "flint.env"))
	if err != nil || !strings.HasPrefix(string(b), "PLATFORM_ID=") {
		t.Fatalf("env %q %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "u")); err == nil {
		t.Error("unit dir populated without a first-boot argument")
	}
}

func equal(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			return false
		}
	}
	return true
}

func keys(m map[string]string) []string {
	var k []string
	for x := range m {
		k = append(k, x)
	}
	sort.Strings(k)
	return k
}

// flint-failure shows the summary flint wrote, framed, in one piece, and a
// generic line when flint could not write one.
func TestFailureScript(t *testing.T) {
	dir := t.TempDir()
	summary := filepath.Join(dir, "failure.txt")
	text := "flint: the files stage failed, so this machine was not provisioned.\n  while: writing file \"/etc/x\"\n  error: boom\nRead the full log with: journalctl -t flint\n"
	os.WriteFile(summary, []byte(text), 0o644)
	for _, c := range []struct{ file, want string }{
		{summary, strings.TrimSpace(text)},
		{filepath.Join(dir, "absent"), "flint: a stage failed. Read the full log with: journalctl -t flint"},
	} {
		cmd := exec.Command("sh", "flint-failure.sh")
		cmd.Env = []string{"PATH=/usr/bin:/bin", "FLINT_FAILURE_FILE=" + c.file}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) < 3 || !strings.Contains(lines[0], " flint ") || !strings.HasPrefix(lines[len(lines)-1], "=====") {
			t.Fatalf("not framed:\n%s", out)
		}
		const hint = "\nFor a bug report: flint collect-logs --root /sysroot -o /run/flint-logs.tar.gz"
		if got := strings.Join(lines[1:len(lines)-1], "\n"); got != c.want+hint {
			t.Errorf("body %q, want %q", got, c.want)
		}
	}
}
