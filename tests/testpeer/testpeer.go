// Package testpeer starts the emulators of tests/peers (a module of its
// own, so their dependencies stay out of flint's module graph) as loopback
// processes for tests. Only _test.go files import it.
//
// The peers are built once per content of tests/peers into a cache
// directory ($FLINT_PEER_CACHE, else the user cache dir, else the temp dir)
// and reused by every test package and run until their sources change.
package testpeer

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Names of the peers.
const (
	S3   = "s3"   // gofakes3
	GCS  = "gcs"  // fake-gcs-server
	IMDS = "imds" // amazon-ec2-metadata-mock
)

// Peer is one running peer process.
type Peer struct {
	URL  string // base URL, e.g. http://127.0.0.1:41234
	Addr string // host:port
	// Info is the peer's ready file (url, addr and peer-specific fields
	// such as the S3 peer's "versions").
	Info    map[string]json.RawMessage
	logPath string
}

// Request is one line of a peer's request log.
type Request struct {
	Method string `json:"method"`
	Host   string `json:"host"`
	Path   string `json:"path"`
	Query  string `json:"query"`
	Auth   string `json:"auth"`
	Status int    `json:"status"`
}

// Object is one entry of an -objects manifest: entries with the same bucket
// and key become successive versions (S3).
type Object struct {
	Bucket string `json:"bucket"`
	Key    string `json:"key"`
	Text   string `json:"text,omitempty"`
	File   string `json:"file,omitempty"`
}

// Objects writes a manifest for the -objects flag and returns its path.
// Contents larger than a few bytes go through files.
func Objects(t testing.TB, objs []Object, contents map[int][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for i, b := range contents {
		p := filepath.Join(dir, fmt.Sprintf("obj%d", i))
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		objs[i].File = p
	}
	b, _ := json.Marshal(objs)
	p := filepath.Join(dir, "objects.json")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Start builds (if needed) and starts peer name with args, waits until it
// serves, and stops it when the test ends.
func Start(t testing.TB, name string, args ...string) *Peer {
	t.Helper()
	bin := Binary(t, name)
	dir := t.TempDir()
	ready := filepath.Join(dir, "ready.json")
	p := &Peer{logPath: filepath.Join(dir, "requests.log")}
	cmd := exec.Command(bin, append([]string{"-ready", ready, "-log", p.logPath}, args...)...)
	cmd.Dir = dir
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting peer %s: %v", name, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(unix.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() && out.Len() > 0 {
			t.Logf("peer %s output:\n%s", name, out.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, err := os.ReadFile(ready)
		if err == nil {
			if err := json.Unmarshal(b, &p.Info); err != nil {
				t.Fatalf("peer %s ready file: %v", name, err)
			}
			json.Unmarshal(p.Info["url"], &p.URL)
			json.Unmarshal(p.Info["addr"], &p.Addr)
			return p
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("peer %s exited before serving: %v\n%s", name, err, out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("peer %s did not start in 30s\n%s", name, out.String())
		}
	}
}

// Requests returns the requests the peer has served so far.
func (p *Peer) Requests(t testing.TB) []Request {
	t.Helper()
	f, err := os.Open(p.logPath)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var reqs []Request
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var r Request
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("request log: %v", err)
		}
		reqs = append(reqs, r)
	}
	return reqs
}

// ResetLog forgets the requests logged so far.
func (p *Peer) ResetLog(t testing.TB) {
	t.Helper()
	if err := os.Truncate(p.logPath, 0); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
}

// Binary returns the path of peer name's binary, building every peer into
// the cache first when the sources changed.
func Binary(t testing.TB, name string) string {
	t.Helper()
	src, err := sourceDir()
	if err != nil {
		t.Fatal(err)
	}
	key, err := sourceKey(src)
	if err != nil {
		t.Fatal(err)
	}
	cache := os.Getenv("FLINT_PEER_CACHE")
	if cache == "" {
		if c, err := os.UserCacheDir(); err == nil {
			cache = filepath.Join(c, "flint-test-peers")
		} else {
			cache = filepath.Join(os.TempDir(), "flint-test-peers")
		}
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(cache, key)
	bin := filepath.Join(out, name)
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	// One build at a time across test processes (go test runs packages
	// in parallel).
	lock, err := os.OpenFile(filepath.Join(cache, "build.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	defer unix.Flock(int(lock.Fd()), unix.LOCK_UN)
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	tmp, err := os.MkdirTemp(cache, "build-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		gobin = "go"
	}
	cmd := exec.Command(gobin, "build", "-o", tmp+"/", "./...")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "GOWORK=off", "CGO_ENABLED=0", "GOFLAGS=-mod=readonly -buildvcs=false")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the test peers in %s: %v\n%s", src, err, b)
	}
	if err := os.Rename(tmp, out); err != nil {
		t.Fatal(err)
	}
	return bin
}

// sourceDir finds tests/peers beside this file, or from the module root.
func sourceDir() (string, error) {
	if _, file, _, ok := runtime.Caller(0); ok {
		d := filepath.Join(filepath.Dir(file), "..", "peers")
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
	}
	b, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("finding the flint module: %w", err)
	}
	d := filepath.Join(filepath.Dir(strings.TrimSpace(string(b))), "tests", "peers")
	if _, err := os.Stat(filepath.Join(d, "go.mod")); err != nil {
		return "", fmt.Errorf("no test peers module at %s: %w", d, err)
	}
	return d, nil
}

// sourceKey hashes every file of the peers module and the Go version.
func sourceKey(dir string) (string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "go.mod") || strings.HasSuffix(p, "go.sum")) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	sort.Strings(files)
	h := sha256.New()
	fmt.Fprintln(h, runtime.Version())
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		rel, _ := filepath.Rel(dir, f)
		fmt.Fprintf(h, "%s %d\n", rel, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}
