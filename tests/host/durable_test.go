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
	"strings"
	"testing"
)

// TestApplyDurability traces the flush calls of a `flint apply` on ext4
// (strace -y names each call's file): no fsync at all, no flush of a
// small file on its own, one syncfs for everything the files stage wrote
// and one for the result files written after it, and periodic fdatasync
// of a large remote file while it streams (every 32 MiB), so the stage's
// syncfs does not have to write it all out at the end.
func TestApplyDurability(t *testing.T) {
	if _, err := exec.LookPath("strace"); err != nil {
		t.Fatal("strace is needed (tests/deps/files.txt)")
	}
	big := bytes.Repeat([]byte("flint durability "), (80<<20)/17)
	sum := sha512.Sum512(big)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big" {
			w.Write(big)
			return
		}
		fmt.Fprint(w, r.URL.Path)
	}))
	defer srv.Close()
	base, err := os.MkdirTemp(fsRoots["ext4"], "durable-")
	must(t, err)
	defer os.RemoveAll(base)
	root := filepath.Join(base, "root")
	must(t, os.MkdirAll(root, 0o755))
	files := []string{fmt.Sprintf(`{"path":"/srv/big","contents":{"source":"%s/big","verification":{"hash":"sha512-%s"}}}`,
		srv.URL, hex.EncodeToString(sum[:]))}
	for i := range 20 {
		files = append(files, fmt.Sprintf(`{"path":"/srv/remote%d","contents":{"source":"%s/r%d"}}`, i, srv.URL, i),
			fmt.Sprintf(`{"path":"/srv/local%d","contents":{"source":"data:,l%d"}}`, i, i))
	}
	cfg := filepath.Join(base, "c.ign")
	must(t, os.WriteFile(cfg, []byte(`{"ignition":{"version":"3.4.0"},"storage":{"files":[`+strings.Join(files, ",")+`]}}`), 0o600))
	trace := filepath.Join(base, "trace")
	cmd := exec.Command("strace", "-f", "-qq", "-y", "-e", "trace=fsync,fdatasync,syncfs,sync,msync", "-e", "signal=none", "-o", trace,
		flintBin, "apply", "--root", root, cfg)
	cmd.Env = append(os.Environ(), "FLINT_RUN_DIR="+filepath.Join(base, "run"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("flint apply: %v\n%s", err, out)
	}
	if b, err := os.ReadFile(filepath.Join(root, "srv", "big")); err != nil || !bytes.Equal(b, big) {
		t.Fatalf("/srv/big: %d bytes, %v", len(b), err)
	}
	raw, err := os.ReadFile(trace)
	must(t, err)
	count := map[string]int{}
	for _, l := range strings.Split(string(raw), "\n") {
		// "PID  call(...) = ret"; signal lines ("--- SIGURG ... ---", the
		// runtime's preemption) and resumptions are not calls
		_, call, ok := strings.Cut(l, " ")
		call = strings.TrimSpace(call)
		if !ok || strings.HasPrefix(call, "---") || strings.HasPrefix(call, "+++") || strings.HasPrefix(call, "<...") {
			continue
		}
		name, rest, _ := strings.Cut(call, "(")
		switch {
		case name == "fdatasync" && strings.Contains(rest, "/.big.flint-tmp-"):
			count["fdatasync big"]++
		case name == "syncfs" && strings.Contains(rest, "<"+root):
			count["syncfs root"]++
		default:
			count[name+" "+rest]++
			t.Errorf("unexpected flush: %s", call)
		}
	}
	// 80 MiB: flushed on passing 32 and 64 MiB, the rest by the stage's
	// syncfs; a flusher still busy at 64 MiB lets that one go
	if n := count["fdatasync big"]; n < 1 || n > 2 {
		t.Errorf("%d fdatasync of the large file, want 1 or 2 (one per 32 MiB passed)", n)
	}
	// the files stage's, then the result files'
	if n := count["syncfs root"]; n != 2 {
		t.Errorf("%d syncfs of the root, want 2", n)
	}
}
