package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flintboot/flint/stages"
	"github.com/flintboot/flint/stages/engine"
)

// runEnv isolates `flint run` from the host: run dir, system config dirs
// (flint's and Ignition's), kernel command line and boot id all point into
// a temp dir. It returns that dir.
func runEnv(t *testing.T, cmdline string) string {
	t.Helper()
	d := t.TempDir()
	for _, kv := range [][2]string{
		{"FLINT_RUN_DIR", filepath.Join(d, "run")},
		{"FLINT_LOCAL_CONFIG_DIR", filepath.Join(d, "etc-flint")},
		{"FLINT_SYSTEM_CONFIG_DIR", filepath.Join(d, "usr-lib-flint")},
		{"IGNITION_SYSTEM_RUNTIME_CONFIG_DIR", filepath.Join(d, "run-ignition")},
		{"IGNITION_SYSTEM_LOCAL_CONFIG_DIR", filepath.Join(d, "etc-ignition")},
		{"IGNITION_SYSTEM_CONFIG_DIR", filepath.Join(d, "usr-lib-ignition")},
		{"FLINT_KERNEL_CMDLINE_PATH", filepath.Join(d, "cmdline")},
		{"IGNITION_KERNEL_CMDLINE_PATH", filepath.Join(d, "cmdline")},
		{"FLINT_CONFIG_FILE", filepath.Join(d, "config.ign")},
	} {
		t.Setenv(kv[0], kv[1])
	}
	if err := os.WriteFile(filepath.Join(d, "cmdline"), []byte(cmdline+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	setBoot(t, d, "boot-1")
	return d
}

// setBoot fakes the kernel's boot id.
func setBoot(t *testing.T, d, id string) {
	t.Helper()
	p := filepath.Join(d, "boot_id")
	if err := os.WriteFile(p, []byte(id+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("FLINT_BOOT_ID_FILE", p)
}

func flint(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	err := Run(context.Background(), append([]string{"flint"}, args...), strings.NewReader(""), &o, &e)
	return o.String(), e.String(), ExitCode(err)
}

func runStages(t *testing.T, root string, names ...string) {
	t.Helper()
	for _, s := range names {
		if _, e, code := flint(t, "run", "--stage", s, "--platform", "file", "--root", root, "--log-to-stdout"); code != 0 {
			t.Fatalf("stage %s: exit %d\n%s", s, code, e)
		}
	}
}

const goodConfig = `{"ignition":{"version":"3.4.0"},
 "storage":{"files":[{"path":"/etc/hello.txt","mode":420,"contents":{"source":"data:,hello"}}]}}`

func TestRunStagesInOrder(t *testing.T) {
	d := runEnv(t, "")
	if err := os.WriteFile(filepath.Join(d, "config.ign"), []byte(goodConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(d, "root")
	os.MkdirAll(root, 0o755)
	runStages(t, root, "fetch-offline", "kargs", "disks", "mount", "files", "umount")

	b, err := os.ReadFile(filepath.Join(root, "etc/hello.txt"))
	if err != nil || string(b) != "hello" {
		t.Fatalf("hello.txt = %q, %v", b, err)
	}
	fi, err := os.Stat(filepath.Join(d, "run", "config.json"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("config cache: %v %v", fi, err)
	}
	if _, err := os.Stat(filepath.Join(d, "run", "neednet")); err == nil {
		t.Error("need-network flag for an offline config")
	}
	var res stages.Result
	raw, err := os.ReadFile(filepath.Join(root, "etc/.flint-result.json"))
	if err != nil || json.Unmarshal(raw, &res) != nil {
		t.Fatalf("result file: %v\n%s", err, raw)
	}
	if !res.UserConfigProvided || res.ProvisioningBootID != "boot-1" || res.Platform != "file" {
		t.Errorf("result: %+v", res)
	}
	var names []string
	for _, s := range res.Stages {
		names = append(names, s.Name)
	}
	if got := strings.Join(names, ","); got != "fetch-offline,kargs,disks,mount,files" {
		t.Errorf("stages in result: %s", got)
	}
	if _, err := os.Stat(filepath.Join(root, engine.InProgressStamp)); err == nil {
		t.Error("the first-boot-in-progress stamp survived a successful files stage")
	}
	st, err := stages.LoadState(filepath.Join(d, "run", "state"))
	if err != nil || len(st.Stages) != 6 || len(st.FetchedConfigs) == 0 {
		t.Errorf("state: %+v %v", st, err)
	}
}

func TestRunNeedNet(t *testing.T) {
	d := runEnv(t, "")
	// a referenced file on the network: fetch-offline caches the config
	// and raises the flag
	cfg := `{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"/x","contents":{"source":"http://127.0.0.1:9/x"}}]}}`
	os.WriteFile(filepath.Join(d, "config.ign"), []byte(cfg), 0o644)
	runStages(t, filepath.Join(d, "root"), "fetch-offline")
	if _, err := os.Stat(filepath.Join(d, "run", "neednet")); err != nil {
		t.Errorf("no need-network flag: %v", err)
	}

	// the config itself on the network (kernel command line): no cache,
	// the flag, exit 0; then fetch gets it
	d = runEnv(t, "")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(goodConfig)) })}
	go srv.Serve(ln)
	defer srv.Close()
	os.WriteFile(filepath.Join(d, "cmdline"), []byte(fmt.Sprintf("flint.config.url=http://%s/c.ign\n", ln.Addr())), 0o644)
	root := filepath.Join(d, "root")
	runStages(t, root, "fetch-offline")
	if _, err := os.Stat(filepath.Join(d, "run", "neednet")); err != nil {
		t.Errorf("no need-network flag: %v", err)
	}
	if _, err := os.Stat(filepath.Join(d, "run", "config.json")); err == nil {
		t.Error("config cached although it was never fetched")
	}
	runStages(t, root, "fetch", "files")
	if b, _ := os.ReadFile(filepath.Join(root, "etc/hello.txt")); string(b) != "hello" {
		t.Errorf("hello.txt = %q", b)
	}
}

func TestRunFailureSummary(t *testing.T) {
	d := runEnv(t, "")
	const canary = "CANARY-9d1e"
	// the server answers with contents that do not match the hash: a
	// failure only the files stage can see
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("x")) })}
	go srv.Serve(ln)
	defer srv.Close()
	cfg := `{"ignition":{"version":"3.4.0"},"storage":{"files":[
	  {"path":"/etc/secret","contents":{"source":"data:,` + canary + `"}},
	  {"path":"/etc/bad","contents":{"source":"http://` + ln.Addr().String() + `/bad?token=` + canary + `","verification":{"hash":"sha512-` + strings.Repeat("0", 128) + `"}}}]}}`
	os.WriteFile(filepath.Join(d, "config.ign"), []byte(cfg), 0o644)
	root := filepath.Join(d, "root")
	runStages(t, root, "fetch-offline", "fetch", "mount")
	stdout, stderr, code := flint(t, "run", "--stage", "files", "--platform", "file", "--root", root, "--log-to-stdout")
	if code != ExitFailure {
		t.Fatalf("exit %d, want %d", code, ExitFailure)
	}
	summary, err := os.ReadFile(filepath.Join(d, "run", engine.FailureFile))
	if err != nil {
		t.Fatal(err)
	}
	if string(summary) != stderr {
		t.Errorf("stderr and failure.txt differ:\n%s\n---\n%s", stderr, summary)
	}
	for _, want := range []string{"flint: the files stage failed", "hash verification failed", "journalctl -t flint"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("summary lacks %q:\n%s", want, stderr)
		}
	}
	if n := strings.Count(strings.TrimSpace(stderr), "\n") + 1; n > 5 {
		t.Errorf("summary is %d lines, want one short paragraph:\n%s", n, stderr)
	}
	if strings.Contains(stdout+stderr, canary) {
		t.Errorf("secret canary in the output")
	}
	// the stamp stays: this first boot did not finish
	if _, err := os.Stat(filepath.Join(root, engine.InProgressStamp)); err != nil {
		t.Errorf("stamp gone after a failed files stage: %v", err)
	}
}

func TestRunInterruptedFirstBoot(t *testing.T) {
	d := runEnv(t, "")
	os.WriteFile(filepath.Join(d, "config.ign"), []byte(goodConfig), 0o644)
	root := filepath.Join(d, "root")
	// boot 1 stops after the mount stage (power loss)
	runStages(t, root, "fetch-offline", "disks", "mount")
	var s struct{ BootID, Stage string }
	raw, err := os.ReadFile(filepath.Join(root, engine.InProgressStamp))
	if err != nil || json.Unmarshal(raw, &s) != nil || s.BootID != "boot-1" || s.Stage != "mount" {
		t.Fatalf("stamp %q %v", raw, err)
	}
	// boot 2, same disks
	setBoot(t, d, "boot-2")
	os.RemoveAll(filepath.Join(d, "run"))
	runStages(t, root, "fetch-offline", "disks")
	_, stderr, code := flint(t, "run", "--stage", "mount", "--platform", "file", "--root", root, "--log-to-stdout")
	if code != ExitFailure {
		t.Fatalf("second run on half-provisioned disks: exit %d\n%s", code, stderr)
	}
	for _, want := range []string{"mount stage failed", "interrupted first boot", "boot-1", engine.RerunForceArg} {
		if !strings.Contains(stderr, want) {
			t.Errorf("refusal lacks %q:\n%s", want, stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "etc/hello.txt")); err == nil {
		t.Error("files were written despite the refusal")
	}
	// the override
	os.WriteFile(filepath.Join(d, "cmdline"), []byte("flint.firstboot "+engine.RerunForceArg+"\n"), 0o644)
	runStages(t, root, "mount", "files")
	if _, err := os.Stat(filepath.Join(root, engine.InProgressStamp)); err == nil {
		t.Error("stamp left after the forced run finished")
	}
}

func TestRunUsage(t *testing.T) {
	runEnv(t, "")
	for _, args := range [][]string{
		{"run"},
		{"run", "--stage", "files"},
		{"run", "--platform", "qemu"},
		{"run", "--stage", "nope", "--platform", "qemu"},
		{"run", "--stage", "files", "--platform", "nope"},
		{"run", "--stage", "files", "--platform", "qemu", "extra"},
	} {
		if _, e, code := flint(t, args...); code != ExitUsage {
			t.Errorf("%v: exit %d, want %d\n%s", args, code, ExitUsage, e)
		}
	}
	_, e, _ := flint(t, "run", "--stage", "files", "--platform", "nope")
	if !strings.Contains(e, "nope is not a valid platform") {
		t.Errorf("platform error: %s", e)
	}
}

// Ignition's spellings: single dash, "=" or a separate value; Flatcar ids.
func TestRunIgnitionFlagSpellings(t *testing.T) {
	d := runEnv(t, "")
	os.WriteFile(filepath.Join(d, "config.ign"), []byte(goodConfig), 0o644)
	root := filepath.Join(d, "root")
	for _, args := range [][]string{
		{"run", "-stage=fetch-offline", "-platform=file", "-root=" + root, "-log-to-stdout"},
		{"run", "-stage", "files", "-platform", "file", "-root", root, "-log-to-stdout",
			"-config-cache", filepath.Join(d, "run", "config.json"), "-state-file", filepath.Join(d, "run", "state")},
	} {
		if _, e, code := flint(t, args...); code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, code, e)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "etc/hello.txt")); err != nil {
		t.Error(err)
	}
	// a Flatcar OEM id resolves through the platform table
	if _, e, code := flint(t, "run", "--stage", "kargs", "--platform", "ec2", "--root", root, "--log-to-stdout"); code != 0 {
		t.Errorf("--platform ec2: exit %d\n%s", code, e)
	}
}

// The disks stage refuses before touching anything when the existing root
// (root= on the kernel command line) holds a stamp from another boot. The
// root is a real ext4 filesystem on a loop device.
func TestRunEarlyGuardBeforeDisks(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root (loop device, mount); make test-unit runs as root")
	}
	d := runEnv(t, "")
	os.WriteFile(filepath.Join(d, "config.ign"), []byte(goodConfig), 0o644)
	tree := filepath.Join(d, "tree")
	os.MkdirAll(filepath.Join(tree, "etc"), 0o755)
	raw := []byte(`{"bootId":"boot-0","started":"2026-01-01T00:00:00Z","stage":"files"}`)
	os.WriteFile(filepath.Join(tree, "etc", ".flint-in-progress"), raw, 0o644)
	img := filepath.Join(d, "root.img")
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", "-L", "flintroot", "-d", tree, img, "16M").CombinedOutput(); err != nil {
		t.Fatalf("mkfs: %v %s", err, out)
	}
	out, err := exec.Command("losetup", "-f", "--show", img).Output()
	if err != nil {
		t.Fatalf("losetup: %v", err)
	}
	loop := strings.TrimSpace(string(out))
	defer exec.Command("losetup", "-d", loop).Run()
	os.WriteFile(filepath.Join(d, "cmdline"), []byte("flint.firstboot root="+loop+"\n"), 0o644)

	root := filepath.Join(d, "sysroot")
	runStages(t, root, "fetch-offline")
	_, stderr, code := flint(t, "run", "--stage", "disks", "--platform", "file", "--root", root, "--log-to-stdout")
	if code != ExitFailure || !strings.Contains(stderr, "the disks stage failed") || !strings.Contains(stderr, "boot-0") {
		t.Fatalf("disks on a root with a foreign stamp: exit %d\n%s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(d, "run", "rootcheck")); err == nil {
		t.Error("scratch mount point left behind")
	}
	// same boot id: a systemd restart of the unit within one boot passes
	raw = []byte(`{"bootId":"boot-1","started":"x","stage":"mount"}`)
	local := filepath.Join(d, "stamp")
	os.WriteFile(local, raw, 0o644)
	cmds := filepath.Join(d, "debugfs.cmds")
	os.WriteFile(cmds, []byte("rm /etc/.flint-in-progress\nwrite "+local+" /etc/.flint-in-progress\n"), 0o644)
	if out, err := exec.Command("debugfs", "-w", "-f", cmds, loop).CombinedOutput(); err != nil {
		t.Fatalf("debugfs: %v %s", err, out)
	}
	runStages(t, root, "disks")
	// the override
	os.WriteFile(filepath.Join(d, "cmdline"), []byte("root="+loop+" "+engine.RerunForceArg+"\n"), 0o644)
	runStages(t, root, "disks")
}

// flint's own files in the target root are never read or written through
// a symlink planted at their paths, absolute or relative.
func TestRunOwnFilesNotFollowed(t *testing.T) {
	d := runEnv(t, "")
	os.WriteFile(filepath.Join(d, "config.ign"), []byte(goodConfig), 0o644)
	root := filepath.Join(d, "root")
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	const canary = `{"canary":"OUTSIDE-7f3a"}`
	outA, outB := filepath.Join(d, "outside-a.json"), filepath.Join(d, "outside-b.json")
	os.WriteFile(outA, []byte(canary), 0o644)
	os.WriteFile(outB, []byte(canary), 0o644)
	os.Symlink(outA, filepath.Join(root, "etc/.flint-result.json"))
	os.Symlink("../../outside-b.json", filepath.Join(root, "etc/.ignition-result.json"))
	runStages(t, root, "fetch-offline", "disks", "mount", "files")
	for _, p := range []string{"etc/.flint-result.json", "etc/.ignition-result.json"} {
		fi, err := os.Lstat(filepath.Join(root, p))
		if err != nil || !fi.Mode().IsRegular() {
			t.Fatalf("%s: %v %v", p, fi, err)
		}
		if b, _ := os.ReadFile(filepath.Join(root, p)); strings.Contains(string(b), "OUTSIDE") {
			t.Errorf("%s copied the outside file as its previous report:\n%s", p, b)
		}
	}
	for _, p := range []string{outA, outB} {
		if b, _ := os.ReadFile(p); string(b) != canary {
			t.Errorf("%s changed: %q", p, b)
		}
	}

	// a planted stamp symlink counts as a stamp of an unknown boot: refused,
	// and the file it points to is neither read nor written
	d = runEnv(t, "")
	os.WriteFile(filepath.Join(d, "config.ign"), []byte(goodConfig), 0o644)
	root = filepath.Join(d, "root")
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	out := filepath.Join(d, "outside-stamp")
	os.WriteFile(out, []byte(`{"bootId":"boot-1","started":"x","stage":"mount"}`), 0o644)
	os.Symlink(out, filepath.Join(root, engine.InProgressStamp))
	runStages(t, root, "fetch-offline", "disks")
	_, stderr, code := flint(t, "run", "--stage", "mount", "--platform", "file", "--root", root, "--log-to-stdout")
	if code != ExitFailure || !strings.Contains(stderr, "interrupted") {
		t.Fatalf("mount with a planted stamp symlink: exit %d\n%s", code, stderr)
	}
	if b, _ := os.ReadFile(out); string(b) != `{"bootId":"boot-1","started":"x","stage":"mount"}` {
		t.Errorf("outside stamp target changed: %q", b)
	}
}
