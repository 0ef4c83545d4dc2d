package cli

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/flintboot/flint/stages/report/post"
)

// statusOf runs flint status with args and returns its line and exit code.
func statusOf(t *testing.T, args ...string) (string, int) {
	t.Helper()
	o, e, code := flint(t, append([]string{"status"}, args...)...)
	if e != "" && !strings.HasPrefix(e, "warning:") {
		t.Errorf("status stderr: %s", e)
	}
	return strings.TrimSpace(o), code
}

func writeConfig(t *testing.T, d, cfg string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(d, "config.ign"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
}

func newRoot(t *testing.T, d string) string {
	t.Helper()
	root := filepath.Join(d, "root")
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	return root
}

const statusConfig = `{"ignition":{"version":"3.4.0"},
 "storage":{"directories":[{"path":"/var/www"}],
  "files":[{"path":"/etc/hello.txt","mode":420,"contents":{"source":"data:,hello"}},
           {"path":"/var/www/index.html","contents":{"source":"data:,hi"}}]},
 "systemd":{"units":[{"name":"hello.service","enabled":true,"contents":"[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n"}]}}`

// badHashConfig returns a config whose file, served on loopback, does not
// match its hash: a failure of the files stage that validate cannot see.
func badHashConfig(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("not-what-was-promised")) })}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return `{"ignition":{"version":"3.4.0"},
 "storage":{"files":[{"path":"/etc/bad.txt","contents":{"source":"http://` + ln.Addr().String() + `/bad",
   "verification":{"hash":"sha512-` + zeros128 + `"}}}]}}`
}

const zeros128 = "00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"

// TestStatusAnalyzeThroughRun follows one first boot stage by stage with
// `flint status` (live: the run directory is read too; not live: only the
// root, as an image inspected from outside), then `flint analyze`.
func TestStatusAnalyzeThroughRun(t *testing.T) {
	d := runEnv(t, "")
	writeConfig(t, d, statusConfig)
	root := newRoot(t, d)
	live := []string{"--root", root, "--live"}

	if line, code := statusOf(t, live...); code != ExitStatusNotRun || !strings.HasPrefix(line, "not-run: flint has not provisioned") {
		t.Errorf("before: %d %q", code, line)
	}
	runStages(t, root, "fetch-offline", "kargs", "disks")
	if line, code := statusOf(t, live...); code != ExitStatusRunning || !strings.Contains(line, "3 stages done, the last disks") {
		t.Errorf("after disks: %d %q", code, line)
	}
	runStages(t, root, "mount")
	if line, code := statusOf(t, live...); code != ExitStatusRunning || !strings.Contains(line, "the mount stage (boot boot-1") {
		t.Errorf("after mount: %d %q", code, line)
	}
	// seen from outside, a stamp is an interrupted first boot
	if line, code := statusOf(t, "--root", root); code != ExitStatusFailed || !strings.Contains(line, "interrupted") {
		t.Errorf("image after mount: %d %q", code, line)
	}
	runStages(t, root, "files")
	for _, args := range [][]string{live, {"--root", root}} {
		line, code := statusOf(t, args...)
		if code != ExitOK || !strings.HasPrefix(line, "done: provisioned at ") || !strings.Contains(line, "by boot boot-1 (5 stages") {
			t.Errorf("status %v: %d %q", args, code, line)
		}
	}
	o, _, code := flint(t, "status", "--root", root, "--format", "json")
	var js struct {
		Status string `json:"status"`
		BootID string `json:"bootId"`
		Stages []struct{ Name, Status string }
	}
	if code != 0 || json.Unmarshal([]byte(o), &js) != nil || js.Status != "done" || js.BootID != "boot-1" || len(js.Stages) != 5 {
		t.Errorf("status json (%d): %s", code, o)
	}

	blame, e, code := flint(t, "analyze", "blame", "--root", root)
	if code != 0 {
		t.Fatalf("blame: %d %s", code, e)
	}
	for _, want := range []string{"files: writing 1 directory, 2 files", "files: writing 1 systemd unit operations",
		"by kind, largest total first:", "files: writing\n", "files: flushing filesystems to disk"} {
		if !strings.Contains(blame, want) {
			t.Errorf("blame lacks %q:\n%s", want, blame)
		}
	}
	show, _, code := flint(t, "analyze", "show", "--root", root)
	if code != 0 || !strings.Contains(show, "provisioning boot boot-1") {
		t.Fatalf("show: %d\n%s", code, show)
	}
	prev := -1
	for _, st := range []string{"fetch-offline", "kargs", "disks", "mount", "files"} {
		i := strings.Index(show, "  "+st+" ")
		if i < prev {
			t.Errorf("stage %s missing or out of order in\n%s", st, show)
		}
		prev = i
	}
	if !strings.Contains(show, "  writing 1 directory, 2 files") {
		t.Errorf("show lacks the files stage's operations:\n%s", show)
	}
	if _, _, code := flint(t, "analyze", "blame", "--root", t.TempDir()); code != ExitFailure {
		t.Errorf("analyze of an empty root: exit %d", code)
	}
	if _, _, code := flint(t, "analyze", "bogus"); code != ExitUsage {
		t.Errorf("analyze bogus: exit %d", code)
	}
	if _, _, code := flint(t, "status", "--format", "yaml"); code != ExitUsage {
		t.Errorf("status --format yaml: exit %d", code)
	}
}

func TestStatusFailedAndInterrupted(t *testing.T) {
	t.Run("failed files stage", func(t *testing.T) {
		d := runEnv(t, "")
		writeConfig(t, d, badHashConfig(t))
		root := newRoot(t, d)
		runStages(t, root, "fetch-offline", "fetch", "kargs", "disks", "mount")
		if _, _, code := flint(t, "run", "--stage", "files", "--platform", "file", "--root", root, "--log-to-stdout"); code != ExitFailure {
			t.Fatalf("files stage with a bad hash: exit %d", code)
		}
		for _, args := range [][]string{{"--root", root, "--live"}, {"--root", root}} {
			line, code := statusOf(t, args...)
			if code != ExitStatusFailed || !strings.HasPrefix(line, "failed: the files stage failed: ") || !strings.Contains(line, "hash verification failed") {
				t.Errorf("status %v: %d %q", args, code, line)
			}
		}
		if _, err := os.Stat(filepath.Join(root, "etc/.ignition-result.json")); err == nil {
			t.Error("Ignition's result file written after a failure")
		}
		blame, _, _ := flint(t, "analyze", "blame", "--root", root)
		if !strings.Contains(blame, "(failed)") {
			t.Errorf("blame does not mark the failed operation:\n%s", blame)
		}
	})
	t.Run("failed before the root", func(t *testing.T) {
		d := runEnv(t, "")
		writeConfig(t, d, `{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"/x","contents":{"source":"data:,a"},"mode":99999}]}}`)
		root := newRoot(t, d)
		if _, _, code := flint(t, "run", "--stage", "fetch-offline", "--platform", "file", "--root", root, "--log-to-stdout"); code != ExitFailure {
			t.Fatalf("invalid config: exit %d", code)
		}
		line, code := statusOf(t, "--root", root, "--live")
		if code != ExitStatusFailed || !strings.HasPrefix(line, "failed: the fetch-offline stage failed: ") || !strings.Contains(line, "not valid") {
			t.Errorf("status: %d %q", code, line)
		}
	})
	t.Run("interrupted", func(t *testing.T) {
		d := runEnv(t, "")
		writeConfig(t, d, statusConfig)
		root := newRoot(t, d)
		runStages(t, root, "fetch-offline", "kargs", "disks", "mount")
		setBoot(t, d, "boot-2")
		os.RemoveAll(filepath.Join(d, "run")) // a new boot: a fresh /run
		line, code := statusOf(t, "--root", root, "--live")
		if code != ExitStatusFailed || !strings.Contains(line, "interrupted: boot boot-1 started provisioning") || !strings.Contains(line, "the mount stage") {
			t.Errorf("status: %d %q", code, line)
		}
	})
	t.Run("symlinked result is not followed", func(t *testing.T) {
		d := runEnv(t, "")
		root := newRoot(t, d)
		fake := filepath.Join(d, "fake.json")
		os.WriteFile(fake, []byte(`{"provisioningBootID":"x","stages":[{"name":"files","status":"succeeded"}]}`), 0o644)
		if err := os.Symlink(fake, filepath.Join(root, "etc/.flint-result.json")); err != nil {
			t.Fatal(err)
		}
		o, e, code := flint(t, "status", "--root", root)
		if code != ExitStatusNotRun || !strings.Contains(e, "not a regular file") {
			t.Errorf("status through a symlink: %d %q %q", code, o, e)
		}
	})
}

// TestCollectLogsCanaries provisions through `flint run` with secrets in
// every place a config has them (config URL userinfo and query on the
// kernel command line, a password hash, a header value, a data: URL body,
// a source URL's userinfo and query, a unit body) and checks that none of
// them reaches the tarball, while what it is for is in it.
func TestCollectLogsCanaries(t *testing.T) {
	const c = "CANARY-c0ll3ct"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	cfg := `{"ignition":{"version":"3.4.0"},
 "passwd":{"users":[{"name":"flinttest","passwordHash":"$6$` + c + `-hash"}]},
 "storage":{"files":[
  {"path":"/etc/inline.txt","contents":{"source":"data:,` + c + `-body"}},
  {"path":"/etc/remote.txt","contents":{"source":"http://u:` + c + `-pw@127.0.0.1:` + port + `/f?sig=` + c + `-sig",
    "httpHeaders":[{"name":"Authorization","value":"Bearer ` + c + `-hdr"}]}}]},
 "systemd":{"units":[{"name":"s.service","contents":"[Service]\nEnvironment=TOKEN=` + c + `-unit\nExecStart=/bin/true\n"}]}}`
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/config.ign":
			w.Write([]byte(cfg))
		case "/f":
			w.Write([]byte("remote contents"))
		default:
			http.NotFound(w, r)
		}
	})}
	go srv.Serve(ln)
	defer srv.Close()
	d := runEnv(t, "flint.config.url=http://admin:"+c+"-cmdpw@127.0.0.1:"+port+"/config.ign?token="+c+"-cmdq quiet api_token="+c+"-arg")
	root := newRoot(t, d)
	for p, s := range map[string]string{"passwd": "root:x:0:0:root:/root:/bin/sh\n", "group": "root:x:0:\n",
		"shadow": "root:*:19000:0:99999:7:::\n", "gshadow": "root:*::\n"} {
		os.WriteFile(filepath.Join(root, "etc", p), []byte(s), 0o600)
	}
	var logs strings.Builder
	for _, s := range []string{"fetch-offline", "fetch", "kargs", "disks", "mount", "files"} {
		o, e, code := flint(t, "run", "--stage", s, "--platform", "file", "--root", root, "--log-to-stdout")
		logs.WriteString(o + e)
		if code != 0 {
			t.Fatalf("stage %s: exit %d\n%s%s", s, code, o, e)
		}
	}
	if strings.Contains(logs.String(), c) {
		t.Errorf("a canary reached flint run's output")
	}
	out := filepath.Join(d, "logs.tar.gz")
	if _, e, code := flint(t, "collect-logs", "--root", root, "--live", "-o", out); code != 0 || !strings.Contains(e, "wrote "+out) {
		t.Fatalf("collect-logs: %d %s", code, e)
	}
	files := untar(t, out)
	t.Logf("README.txt:\n%s", files["README.txt"])
	for name, body := range files {
		if strings.Contains(body, c) {
			t.Errorf("%s holds a canary:\n%s", name, body)
		}
	}
	for name, want := range map[string][]string{
		"README.txt":        {"flint collect-logs"},
		"status.txt":        {"done: provisioned"},
		"analyze.txt":       {"fetching /etc/remote.txt", "by kind"},
		"flint-result.json": {`"provisioningBootID": "boot-1"`},
		"state.json":        {`"fetchedConfigs"`},
		"config.json":       {`"/etc/remote.txt"`, `"source":"http://127.0.0.1:` + port + `/f"`, `"passwordHash":"<redacted>"`, `"data:,<redacted>"`},
		"cmdline.txt":       {"flint.config.url=http://127.0.0.1:" + port + "/config.ign quiet api_token=<redacted>"},
		"platform.txt":      {"file (result file)"},
	} {
		body, ok := files[name]
		if !ok {
			t.Errorf("no %s in the tarball (%d files; README:\n%s)", name, len(files), files["README.txt"])
			continue
		}
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Errorf("%s lacks %q:\n%s", name, w, body)
			}
		}
	}
}

func untar(t *testing.T, p string) map[string]string {
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
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		if h.Typeflag == tar.TypeReg {
			files[strings.TrimPrefix(h.Name, "flint-logs/")] = string(b)
		}
	}
	return files
}

// receiver is a loopback report receiver.
type receiver struct {
	mu      sync.Mutex
	reports []post.Report
	raw     []string
	types   []string
	fail    int // answer 503 to this many requests first
	url     string
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if r.Method != http.MethodPost || r.URL.Path != "/report" {
			http.Error(w, "no", http.StatusMethodNotAllowed)
			return
		}
		if rc.fail > 0 {
			rc.fail--
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		b, _ := io.ReadAll(r.Body)
		var rep post.Report
		json.Unmarshal(b, &rep)
		rc.reports = append(rc.reports, rep)
		rc.raw = append(rc.raw, string(b)+" "+r.URL.RawQuery)
		rc.types = append(rc.types, r.Header.Get("Content-Type"))
		w.WriteHeader(http.StatusNoContent)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	rc.url = "http://127.0.0.1:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port) + "/report"
	return rc
}

// TestReportURL: with flint.report.url on the kernel command line, `flint
// run` POSTs one report after the files stage, or after the stage that
// failed; a busy receiver is retried.
func TestReportURL(t *testing.T) {
	t.Run("success", func(t *testing.T) {
		rc := newReceiver(t)
		rc.fail = 2
		d := runEnv(t, "flint.report.url="+rc.url+"?token=CANARY-rep0rt")
		writeConfig(t, d, statusConfig)
		root := newRoot(t, d)
		runStages(t, root, "fetch-offline", "kargs", "disks", "mount", "files")
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if len(rc.reports) != 1 {
			t.Fatalf("%d reports, want 1 (after files)", len(rc.reports))
		}
		r := rc.reports[0]
		var names []string
		for _, s := range r.Stages {
			names = append(names, s.Name+":"+s.Status)
		}
		if r.Status != "succeeded" || r.BootID != "boot-1" || r.Platform != "file" || r.FlintVersion != Version || r.Failure != "" ||
			strings.Join(names, ",") != "fetch-offline:succeeded,kargs:succeeded,disks:succeeded,mount:succeeded,files:succeeded" {
			t.Errorf("report: %+v", r)
		}
		if rc.types[0] != post.ContentType {
			t.Errorf("content type %q", rc.types[0])
		}
		if strings.Contains(strings.SplitN(rc.raw[0], " ", 2)[0], "CANARY") {
			t.Errorf("the report URL's query reached the body: %s", rc.raw[0])
		}
	})
	t.Run("failure", func(t *testing.T) {
		rc := newReceiver(t)
		d := runEnv(t, "flint.report.url="+rc.url)
		writeConfig(t, d, badHashConfig(t))
		root := newRoot(t, d)
		runStages(t, root, "fetch-offline", "fetch", "kargs", "disks", "mount")
		if _, _, code := flint(t, "run", "--stage", "files", "--platform", "file", "--root", root, "--log-to-stdout"); code != ExitFailure {
			t.Fatalf("files: exit %d", code)
		}
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if len(rc.reports) != 1 {
			t.Fatalf("%d reports, want 1", len(rc.reports))
		}
		r := rc.reports[0]
		if r.Status != "failed" || r.FailedStage != "files" || !strings.Contains(r.Failure, "the files stage failed") ||
			!strings.Contains(r.Failure, "hash") || len(r.Stages) != 6 || r.Stages[5].Status != "failed" {
			t.Errorf("report: %+v", r)
		}
	})
}
