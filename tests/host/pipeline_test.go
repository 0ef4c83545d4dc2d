package host

import (
	"bytes"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// threadNices reads the nice value of every thread of pid.
func threadNices(pid int) map[int]int {
	out := map[int]int{}
	dir := fmt.Sprintf("/proc/%d/task", pid)
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "stat"))
		if err != nil {
			continue
		}
		// fields after "(comm)": state is the 3rd field, nice the 19th
		i := bytes.LastIndexByte(b, ')')
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 17 {
			continue
		}
		tid, _ := strconv.Atoi(e.Name())
		out[tid], _ = strconv.Atoi(f[16])
	}
	return out
}

// TestApplyBoostsLeadStep: during a long hashed download `flint apply`
// runs the hashing step on a thread 10 nice levels above the rest
// (resource.boost), and a small file never gets one.
func TestApplyBoostsLeadStep(t *testing.T) {
	big := bytes.Repeat([]byte("boost "), (24<<20)/6)
	sum := sha512.Sum512(big)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/big" {
			fmt.Fprint(w, "small")
			return
		}
		// slow enough to be watched: 24 MiB in 256 KiB pieces, 4 ms apart
		for off := 0; off < len(big); off += 256 << 10 {
			w.Write(big[off:min(off+256<<10, len(big))])
			w.(http.Flusher).Flush()
			time.Sleep(4 * time.Millisecond)
		}
	}))
	defer srv.Close()
	for _, c := range []struct {
		name, path string
		boosted    bool
	}{{"large", "/big", true}, {"small", "/small", false}} {
		root := t.TempDir()
		entry := fmt.Sprintf(`{"path":"/f","contents":{"source":"%s%s"}}`, srv.URL, c.path)
		if c.boosted {
			entry = fmt.Sprintf(`{"path":"/f","contents":{"source":"%s%s","verification":{"hash":"sha512-%s"}}}`, srv.URL, c.path, hex.EncodeToString(sum[:]))
		}
		cfg := filepath.Join(t.TempDir(), "c.ign")
		must(t, os.WriteFile(cfg, []byte(`{"ignition":{"version":"3.4.0"},"storage":{"files":[`+entry+`]}}`), 0o600))
		cmd := exec.Command(flintBin, "apply", "--root", root, cfg)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		must(t, cmd.Start())
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		seen := map[int]bool{}
		var err error
	watch:
		for {
			select {
			case err = <-done:
				break watch
			default:
			}
			for _, n := range threadNices(cmd.Process.Pid) {
				seen[n] = true
			}
			time.Sleep(time.Millisecond)
		}
		if err != nil {
			t.Fatalf("%s: flint apply: %v\n%s", c.name, err, out.String())
		}
		if seen[-10] != c.boosted {
			t.Errorf("%s: nice values seen %v, boosted thread (-10) wanted %v", c.name, seen, c.boosted)
		}
		if !seen[0] {
			t.Errorf("%s: no thread at nice 0 seen (%v)", c.name, seen)
		}
	}
}
