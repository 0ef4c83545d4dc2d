package host

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// Debian's reference policy (selinux-policy-default, tests/deps/files.txt)
// provides the file contexts; the host kernel need not run SELinux: the
// labels are security.selinux xattrs that ext4 stores and returns anyway.
const policyDir = "/etc/selinux/default/contexts/files"

func label(t *testing.T, p string) string {
	t.Helper()
	b := make([]byte, 256)
	n, err := unix.Lgetxattr(p, "security.selinux", b)
	if err != nil {
		return ""
	}
	return strings.TrimRight(string(b[:n]), "\x00")
}

func seedPolicy(t *testing.T, r *root) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(policyDir, "file_contexts")); err != nil {
		t.Fatalf("the SELinux reference policy is needed (apt package selinux-policy-default, tests/deps/files.txt): %v", err)
	}
	if _, err := exec.LookPath("setfiles"); err != nil {
		t.Fatalf("setfiles is needed (apt package policycoreutils, tests/deps/files.txt)")
	}
	dst := r.p("/etc/selinux/default/contexts/files")
	must(t, os.MkdirAll(dst, 0o755))
	ents, err := os.ReadDir(policyDir)
	must(t, err)
	for _, e := range ents {
		if e.Type().IsRegular() {
			b, err := os.ReadFile(filepath.Join(policyDir, e.Name()))
			must(t, err)
			must(t, os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644))
		}
	}
	writeFile(t, r, "/etc/selinux/config", "# test policy\nSELINUX=enforcing\nSELINUXTYPE=default\n", 0o644)
}

const selinuxConfig = `{"ignition":{"version":"3.4.0"},
 "storage":{"files":[{"path":"/usr/bin/tool","mode":493,"contents":{"source":"data:,%23!/bin/sh"}},
   {"path":"/etc/app.conf","contents":{"source":"http://$http/contents"}},
   {"path":"/var/log/app/x.log"}],
  "directories":[{"path":"/etc/app.d"}],
  "links":[{"path":"/usr/bin/tool2","target":"tool"}]},
 "systemd":{"units":[{"name":"foo.service","enabled":true,"contents":"[Service]\nExecStart=/usr/bin/tool\n[Install]\nWantedBy=multi-user.target\n"}]}}`

func runFlint(t *testing.T, bin string, r *root, base, cfg string) string {
	t.Helper()
	cfgPath := filepath.Join(base, "c.ign")
	must(t, os.WriteFile(cfgPath, []byte(expand(cfg, r)), 0o600))
	cmd := exec.Command(bin, "apply", "--debug", "--root", r.dir, cfgPath)
	cmd.Env = append(os.Environ(), "FLINT_RUN_DIR="+filepath.Join(base, "run"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("flint apply: %v\n%s", err, out)
	}
	return string(out)
}

func newRoot(t *testing.T) (*root, string) {
	base, err := os.MkdirTemp(fsRoots["ext4"], "selinux-")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(base) })
	r := &root{dir: filepath.Join(base, "root"), version: "3.4.0"}
	must(t, os.MkdirAll(r.dir, 0o755))
	writeFile(t, r, "/etc/keep", "not written by flint", 0o644)
	return r, base
}

// TestSelinuxRelabel: every path the files stage writes gets the label the
// root's policy gives it (one setfiles call), nothing else is touched.
func TestSelinuxRelabel(t *testing.T) {
	r, base := newRoot(t)
	seedPolicy(t, r)
	out := runFlint(t, flintBin, r, base, selinuxConfig)
	if n := strings.Count(out, "[started]  relabelling"); n != 1 {
		t.Fatalf("want one relabelling step, got %d:\n%s", n, out)
	}
	for p, want := range map[string]string{
		"/usr/bin/tool":                   "system_u:object_r:bin_t:s0",
		"/usr/bin/tool2":                  "system_u:object_r:bin_t:s0",
		"/etc/app.conf":                   "system_u:object_r:etc_t:s0",
		"/etc/app.d":                      "system_u:object_r:etc_t:s0",
		"/var/log/app/x.log":              "system_u:object_r:var_log_t:s0",
		"/var/log/app":                    "system_u:object_r:var_log_t:s0",
		"/var/log":                        "system_u:object_r:var_log_t:s0",
		"/etc/systemd/system/foo.service": "system_u:object_r:systemd_unit_t:s0",
		"/etc/systemd/system":             "system_u:object_r:systemd_unit_t:s0",
	} {
		if got := label(t, r.p(p)); got != want {
			t.Errorf("%s labelled %q, want %q", p, got, want)
		}
	}
	if got := label(t, r.p("/etc/systemd/system-preset/20-flint.preset")); got == "" {
		t.Errorf("the preset file has no label")
	}
	// untouched paths keep what they had (nothing)
	for _, p := range []string{"/etc/keep", "/etc/selinux/config", "/etc"} {
		if got := label(t, r.p(p)); got != "" {
			t.Errorf("%s was not written by flint but got label %q", p, got)
		}
	}
}

// TestSelinuxSkipped: a root without a policy, and a build with
// relabelling turned off, get no labels and a log line saying why.
func TestSelinuxSkipped(t *testing.T) {
	t.Run("no-policy", func(t *testing.T) {
		r, base := newRoot(t)
		out := runFlint(t, flintBin, r, base, selinuxConfig)
		if !strings.Contains(out, "not relabelling for SELinux: the root has no policy") {
			t.Fatalf("no log line for the skipped relabelling:\n%s", out)
		}
		if got := label(t, r.p("/usr/bin/tool")); got != "" {
			t.Fatalf("/usr/bin/tool labelled %q without a policy", got)
		}
	})
	t.Run("build-off", func(t *testing.T) {
		bin := filepath.Join(workDir, "flint-norelabel")
		_, file, _, _ := runtime.Caller(0)
		cmd := exec.Command("go", "build", "-o", bin, "-ldflags", "-X github.com/flintboot/flint/stages/files.selinuxRelabel=false", "./cmd/flint")
		cmd.Dir = filepath.Join(filepath.Dir(file), "..", "..")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("building flint: %v\n%s", err, out)
		}
		r, base := newRoot(t)
		seedPolicy(t, r)
		out := runFlint(t, bin, r, base, selinuxConfig)
		if !strings.Contains(out, "not relabelling for SELinux: turned off in this build") {
			t.Fatalf("no log line for the build switch:\n%s", out)
		}
		if got := label(t, r.p("/usr/bin/tool")); got != "" {
			t.Fatalf("/usr/bin/tool labelled %q with relabelling turned off", got)
		}
	})
}
