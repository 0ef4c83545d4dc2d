package host

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// A merge bomb (configs merging configs merging large configs) stops at
// acquisition's 128 MiB budget for all configs together, and the whole
// flint process stays near that cap on the way (issue: 486 MiB before).
func TestMergeBombMemory(t *testing.T) {
	big := strings.Repeat("A", 8<<20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/leaf"):
			fmt.Fprintf(w, `{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"%s","contents":{"source":"data:,%s"}}]}}`, r.URL.Path, big)
		case r.URL.Path == "/mid.ign":
			var m []string
			for i := 0; i < 8; i++ {
				m = append(m, fmt.Sprintf(`{"source":"http://%s/leaf%s-%d"}`, r.Host, r.URL.Query().Get("t"), i))
			}
			fmt.Fprintf(w, `{"ignition":{"version":"3.4.0","config":{"merge":[%s]}}}`, strings.Join(m, ","))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	var m []string
	for i := 0; i < 10; i++ {
		m = append(m, fmt.Sprintf(`{"source":"%s/mid.ign?t=%d"}`, srv.URL, i))
	}
	cfg := filepath.Join(t.TempDir(), "bomb.ign")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`{"ignition":{"version":"3.4.0","config":{"merge":[%s]}}}`, strings.Join(m, ","))), 0o644)
	cmd := exec.Command(flintBin, "plan", "--root", t.TempDir(), cfg)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "exceed 128 MiB in all") {
		t.Fatalf("merge bomb: %v\n%.2000s", err, out)
	}
	rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss // KiB
	t.Logf("peak RSS %d MiB", rss>>10)
	if rss > 256<<10 {
		t.Errorf("peak RSS %d MiB on the way to the 128 MiB cap, want at most 256 MiB", rss>>10)
	}
}

// flint apply gives up on a resource that never works after its limit
// (--resource-timeout, default 5m), retries included; a permanent error
// (an impossible port is refused by validate; a 403 here) fails at once.
func TestApplyResourceTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/forbidden" {
			http.Error(w, "no", http.StatusForbidden)
			return
		}
		http.Error(w, "try later", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	for _, c := range []struct {
		path, flag, want string
		within           time.Duration
	}{
		{"/flaky", "2s", "unable to fetch resource in time", 20 * time.Second},
		{"/forbidden", "5m", "403", 10 * time.Second},
	} {
		cfg := filepath.Join(t.TempDir(), "c.ign")
		os.WriteFile(cfg, []byte(`{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"/x","contents":{"source":"`+srv.URL+c.path+`"}}]}}`), 0o644)
		start := time.Now()
		out, err := exec.Command(flintBin, "apply", "--resource-timeout", c.flag, "--root", t.TempDir(), cfg).CombinedOutput()
		if err == nil || !strings.Contains(string(out), c.want) {
			t.Errorf("%s: %v\n%s", c.path, err, out)
		}
		if d := time.Since(start); d > c.within {
			t.Errorf("%s: gave up after %s", c.path, d)
		}
	}
}

// flint apply fetches remote files concurrently, at most 8 at a time (the
// files stage's pool), each into place; a failed one fails the apply, names
// its entry, and leaves neither it nor a temporary file behind.
func TestApplyFetchesConcurrently(t *testing.T) {
	var inflight, peak atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := inflight.Add(1)
		for p := peak.Load(); c > p && !peak.CompareAndSwap(p, c); p = peak.Load() {
		}
		time.Sleep(20 * time.Millisecond)
		inflight.Add(-1)
		if r.URL.Path == "/bad" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, r.URL.Path)
	}))
	defer srv.Close()
	entries := func(n int, extra string) string {
		var fs []string
		for i := range n {
			fs = append(fs, fmt.Sprintf(`{"path":"/srv/f%d","contents":{"source":"%s/f%d"}}`, i, srv.URL, i))
		}
		if extra != "" {
			fs = append(fs, extra)
		}
		return `{"ignition":{"version":"3.4.0"},"storage":{"files":[` + strings.Join(fs, ",") + `]}}`
	}
	cfg := filepath.Join(t.TempDir(), "c.ign")
	root := t.TempDir()
	os.WriteFile(cfg, []byte(entries(40, "")), 0o644)
	if out, err := exec.Command(flintBin, "apply", "--root", root, cfg).CombinedOutput(); err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	for i := range 40 {
		if b, _ := os.ReadFile(filepath.Join(root, "srv", fmt.Sprintf("f%d", i))); string(b) != fmt.Sprintf("/f%d", i) {
			t.Fatalf("/srv/f%d = %q", i, b)
		}
	}
	if p := peak.Load(); p < 2 || p > 8 {
		t.Errorf("peak concurrent fetches %d, want 2..8", p)
	}
	root = t.TempDir()
	os.WriteFile(cfg, []byte(entries(3, `{"path":"/srv/bad","contents":{"source":"`+srv.URL+`/bad"}}`)), 0o644)
	out, err := exec.Command(flintBin, "apply", "--root", root, cfg).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "/srv/bad") {
		t.Fatalf("apply with a missing resource: %v\n%s", err, out)
	}
	ents, _ := os.ReadDir(filepath.Join(root, "srv"))
	for _, e := range ents {
		if e.Name() == "bad" || strings.Contains(e.Name(), "flint-tmp") {
			t.Errorf("left behind: /srv/%s", e.Name())
		}
	}
}
