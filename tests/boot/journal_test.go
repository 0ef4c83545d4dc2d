package boot

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flintboot/flint/cli"
	"github.com/flintboot/flint/log"
)

// TestJournald runs `flint run` (in process, through cli.Run) against a
// real systemd-journald: the test re-executes itself in a private mount
// namespace with a fresh tmpfs on /run (and on /var/log/journal), starts
// systemd-journald there (it binds /run/systemd/journal/socket itself), and
// reads the entries back with `journalctl -o json`. It checks the fields
// and MESSAGE_IDs of docs/logging.md, that no secret reaches the journal,
// and that `flint collect-logs` puts the journal in its tarball.
func TestJournald(t *testing.T) {
	requireRoot(t)
	if os.Getenv("FLINT_JOURNALD_CHILD") == "" {
		cmd := exec.Command("unshare", "-m", "--propagation", "private", os.Args[0], "-test.run=^TestJournald$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), "FLINT_JOURNALD_CHILD=1")
		out, err := cmd.CombinedOutput()
		t.Logf("in the private namespace:\n%s", out)
		if err != nil || !bytes.Contains(out, []byte("--- PASS: TestJournald")) {
			t.Fatalf("journald test in the private namespace failed: %v", err)
		}
		return
	}
	journald := ""
	for _, p := range []string{"/usr/lib/systemd/systemd-journald", "/lib/systemd/systemd-journald"} {
		if _, err := os.Stat(p); err == nil {
			journald = p
			break
		}
	}
	if journald == "" {
		t.Fatal("systemd-journald not installed (tests/deps/boot.txt: systemd)")
	}
	for _, m := range []string{"/run", "/var/log/journal"} {
		if _, err := os.Stat(m); err != nil {
			continue
		}
		if err := syscall.Mount("tmpfs", m, "tmpfs", 0, "mode=0755"); err != nil {
			t.Fatalf("mount tmpfs on %s: %v", m, err)
		}
	}
	jd := exec.Command(journald)
	var jout bytes.Buffer
	jd.Stdout, jd.Stderr = &jout, &jout
	jd.Env = append(os.Environ(), "SYSTEMD_LOG_TARGET=console")
	if err := jd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		jd.Process.Signal(syscall.SIGTERM)
		jd.Wait()
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat("/run/systemd/journal/socket"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("journald did not create its socket:\n%s", jout.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	const canary = "CANARY-j0urnal"
	good := `{"ignition":{"version":"3.4.0"},
 "storage":{"files":[{"path":"/etc/hello.txt","contents":{"source":"data:,` + canary + `"}}],
  "directories":[{"path":"/var/www"}]},
 "systemd":{"units":[{"name":"s.service","contents":"[Service]\nEnvironment=T=` + canary + `\nExecStart=/bin/true\n"}]}}`
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("not what was promised")) })}
	go srv.Serve(ln)
	defer srv.Close()
	bad := `{"ignition":{"version":"3.4.0"},
 "storage":{"files":[{"path":"/etc/bad.txt","contents":{"source":"http://` + ln.Addr().String() + `/bad?sig=` + canary + `",
   "verification":{"hash":"sha512-` + strings.Repeat("0", 128) + `"}}}]}}`
	goodRoot := flintRuns(t, "good", good, true)
	flintRuns(t, "bad", bad, false)

	out, err := exec.Command("journalctl", "--no-pager", "-o", "json", "SYSLOG_IDENTIFIER="+log.Identifier).Output()
	if err != nil {
		t.Fatalf("journalctl: %v", err)
	}
	if bytes.Contains(out, []byte(canary)) {
		t.Errorf("a secret reached the journal")
	}
	var entries []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var e map[string]any
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("journalctl -o json line: %v", err)
		}
		entries = append(entries, e)
	}
	t.Logf("%d flint journal entries", len(entries))
	str := func(e map[string]any, k string) string { s, _ := e[k].(string); return s }
	find := func(what string, ok func(e map[string]any) bool) map[string]any {
		for _, e := range entries {
			if ok(e) {
				return e
			}
		}
		t.Errorf("no journal entry %s among %d", what, len(entries))
		return map[string]any{}
	}
	for _, stage := range []string{"fetch-offline", "kargs", "disks", "mount", "files"} {
		for _, id := range []string{log.MessageStageStarted, log.MessageStageFinished} {
			e := find(stage+" "+id, func(e map[string]any) bool { return str(e, "MESSAGE_ID") == id && str(e, "FLINT_STAGE") == stage })
			if id == log.MessageStageFinished && str(e, "FLINT_DURATION_USEC") == "" {
				t.Errorf("stage finished without FLINT_DURATION_USEC: %v", e)
			}
		}
	}
	e := find("config fetched", func(e map[string]any) bool { return str(e, "MESSAGE_ID") == log.MessageConfigFetched })
	if str(e, "FLINT_STAGE") != "fetch-offline" || str(e, "FLINT_CONFIG_SOURCE") != "platform:file" || str(e, "FLINT_CONFIG_SHA512") != "" {
		t.Errorf("config fetched entry: %v", e)
	}
	// the files stage writes local contents as one operation per kind of
	// work (a line per file would be 10,000 entries for 5,000 files)
	e = find("finished file write", func(e map[string]any) bool {
		return str(e, "FLINT_OP") == "writing 1 directory, 1 file" && str(e, "FLINT_DURATION_USEC") != ""
	})
	if str(e, "FLINT_STAGE") != "files" || str(e, "PRIORITY") != "6" || !strings.HasPrefix(str(e, "MESSAGE"), "files: [finished] writing 1 directory, 1 file") {
		t.Errorf("operation entry: %v", e)
	}
	e = find("stage failed", func(e map[string]any) bool { return str(e, "MESSAGE_ID") == log.MessageStageFailed })
	t.Logf("stage failed entry: MESSAGE=%q FLINT_STAGE=%q FLINT_DURATION_USEC=%q", str(e, "MESSAGE"), str(e, "FLINT_STAGE"), str(e, "FLINT_DURATION_USEC"))
	if str(e, "FLINT_STAGE") != "files" || !strings.Contains(str(e, "FLINT_ERROR"), "hash verification failed") || str(e, "PRIORITY") != "3" {
		t.Errorf("stage failed entry: %v", e)
	}
	find("failed operation", func(e map[string]any) bool {
		return str(e, "FLINT_OP") != "" && strings.Contains(str(e, "FLINT_ERROR"), "hash verification failed")
	})

	// collect-logs reads the same journal for the provisioning boot
	tgz := filepath.Join(t.TempDir(), "logs.tgz")
	var so, se bytes.Buffer
	if err := cli.Run(context.Background(), []string{"flint", "collect-logs", "--root", goodRoot, "--live", "-o", tgz},
		strings.NewReader(""), &so, &se); err != nil {
		t.Fatalf("collect-logs: %v\n%s", err, se.String())
	}
	files := untarGz(t, tgz)
	j := files["journal.txt"]
	if !strings.Contains(j, "flint") || !strings.Contains(j, "files: stage finished") {
		t.Errorf("journal.txt in the tarball:\n%s\nREADME:\n%s", j, files["README.txt"])
	}
	for name, body := range files {
		if strings.Contains(body, canary) {
			t.Errorf("%s in the tarball holds the canary", name)
		}
	}
}

// flintRuns provisions a fresh root with cfg through the stages of a boot
// (flint run, logging to the journal) and returns the root.
func flintRuns(t *testing.T, name, cfg string, succeed bool) string {
	t.Helper()
	d := filepath.Join(t.TempDir(), name)
	root := filepath.Join(d, "root")
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	for k, v := range map[string]string{
		"FLINT_RUN_DIR": filepath.Join(d, "run"), "FLINT_LOCAL_CONFIG_DIR": filepath.Join(d, "etc-flint"),
		"FLINT_SYSTEM_CONFIG_DIR": filepath.Join(d, "usr-lib-flint"), "IGNITION_SYSTEM_RUNTIME_CONFIG_DIR": filepath.Join(d, "run-ign"),
		"IGNITION_SYSTEM_LOCAL_CONFIG_DIR": filepath.Join(d, "etc-ign"), "IGNITION_SYSTEM_CONFIG_DIR": filepath.Join(d, "usr-lib-ign"),
		"FLINT_KERNEL_CMDLINE_PATH": filepath.Join(d, "cmdline"), "IGNITION_KERNEL_CMDLINE_PATH": filepath.Join(d, "cmdline"),
		"FLINT_CONFIG_FILE": filepath.Join(d, "config.ign"),
	} {
		t.Setenv(k, v)
	}
	writeFile(t, d, "cmdline", "quiet\n")
	writeFile(t, d, "config.ign", cfg)
	stages := []string{"fetch-offline", "fetch", "kargs", "disks", "mount", "files"}
	for i, s := range stages {
		var so, se bytes.Buffer
		err := cli.Run(context.Background(), []string{"flint", "run", "--stage", s, "--platform", "file", "--root", root},
			strings.NewReader(""), &so, &se)
		last := i == len(stages)-1
		if err != nil && (succeed || !last) {
			t.Fatalf("%s: stage %s: %v\n%s%s", name, s, err, so.String(), se.String())
		}
		if err == nil && !succeed && last {
			t.Fatalf("%s: stage %s succeeded", name, s)
		}
		if so.Len() > 0 {
			t.Errorf("%s: stage %s logged to stdout with a journal present:\n%s", name, s, so.String())
		}
	}
	return root
}

func untarGz(t *testing.T, p string) map[string]string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	files := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		files[strings.TrimPrefix(h.Name, "flint-logs/")] = string(b)
	}
}
