// Package host is the host black-box tier: flint is built as a static
// binary and run with `flint apply --root` against scratch roots on real
// loop-device filesystems (ext4, xfs, btrfs), with real shadow-utils, a
// real HTTP server and tftpd-hpa on 127.0.0.1. Every case runs for every
// spec version from its minimum. Run as root inside a private mount
// namespace: `unshare -m --propagation private go test ./tests/host/...`.
package host

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	flintBin string
	httpAddr string
	tftpAddr string
	// fsRoots maps a filesystem type to the mounted scratch filesystem
	// that holds the per-case roots.
	fsRoots = map[string]string{}
	workDir string
)

// Contents served by the test servers.
const (
	contentsText = "asdf\nfdsa\n"
	headerName   = "X-Flint-Test"
	headerValue  = "s3cr3t-header"
)

func sha512Hex(s string) string { h := sha512.Sum512([]byte(s)); return hex.EncodeToString(h[:]) }
func sha256Hex(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }

func gz(s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "tests/host must run as root in a private mount namespace (make test-host)")
		return 1
	}
	var err error
	workDir, err = os.MkdirTemp("", "flint-host-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(workDir)
	var cleanups []func()
	defer func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}()
	if err := setup(&cleanups); err != nil {
		fmt.Fprintln(os.Stderr, "setup:", err)
		return 1
	}
	return m.Run()
}

func setup(cleanups *[]func()) error {
	// the binary under test
	flintBin = os.Getenv("FLINT_BIN")
	if flintBin == "" {
		flintBin = filepath.Join(workDir, "flint")
		_, file, _, _ := runtime.Caller(0)
		top := filepath.Join(filepath.Dir(file), "..", "..")
		cmd := exec.Command("go", "build", "-o", flintBin, "./cmd/flint")
		cmd.Dir = top
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("building flint: %v\n%s", err, out)
		}
	}
	// HTTP
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return err
	}
	httpAddr = ln.Addr().String()
	srv := &http.Server{Handler: handler()}
	go srv.Serve(ln)
	*cleanups = append(*cleanups, func() { srv.Close() })
	// TFTP
	tdir := filepath.Join(workDir, "tftp")
	os.MkdirAll(tdir, 0o755)
	os.WriteFile(filepath.Join(tdir, "contents"), []byte(contentsText), 0o644)
	stop, err := startTFTPD(tdir)
	if err != nil {
		return err
	}
	*cleanups = append(*cleanups, stop)
	// loop filesystems
	for _, fs := range []string{"ext4", "xfs", "btrfs"} {
		dir, stop, err := loopFS(fs)
		if err != nil {
			return err
		}
		*cleanups = append(*cleanups, stop)
		fsRoots[fs] = dir
	}
	return nil
}

func handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/contents", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(contentsText)) })
	mux.HandleFunc("/contents_compressed", func(w http.ResponseWriter, r *http.Request) { w.Write(gz(contentsText)) })
	// requires the header
	mux.HandleFunc("/contents_headers", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(headerName) != headerValue {
			http.Error(w, "missing header", http.StatusBadRequest)
			return
		}
		w.Write([]byte(contentsText))
	})
	// requires the header, then redirects on the same host: the
	// configured headers go along (as Go's client, and so the reference,
	// sends them)
	mux.HandleFunc("/contents_headers_redirect", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(headerName) != headerValue {
			http.Error(w, "missing header", http.StatusBadRequest)
			return
		}
		http.Redirect(w, r, "/contents_headers", http.StatusFound)
	})
	// default headers overridden by the config
	mux.HandleFunc("/contents_headers_overwrite", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("User-Agent") != "flint-test-agent" || r.Header.Get("Accept") != "text/plain" {
			http.Error(w, "default headers not overridden", http.StatusBadRequest)
			return
		}
		w.Write([]byte(contentsText))
	})
	// /slow?id=X&mib=N streams N MiB; the first request for an id
	// trickles (about 4 MiB/s) so a test can interrupt flint mid-fetch,
	// later ones are fast
	mux.HandleFunc("/slow", slowHandler)
	mux.HandleFunc("/config", func(w http.ResponseWriter, r *http.Request) {
		v := r.URL.Query().Get("v")
		fmt.Fprintf(w, `{"ignition":{"version":%q},"storage":{"files":[{"path":"/merged","contents":{"source":"data:,merged"}}]}}`, v)
	})
	return mux
}

var slowSeen sync.Map

func slowHandler(w http.ResponseWriter, r *http.Request) {
	mib := 64
	fmt.Sscan(r.URL.Query().Get("mib"), &mib)
	_, again := slowSeen.LoadOrStore(r.URL.Query().Get("id"), true)
	w.Header().Set("Content-Length", fmt.Sprint(mib<<20))
	chunk := bytes.Repeat([]byte("flint-slow-body\n"), 64<<10/16)
	fl, _ := w.(http.Flusher)
	for i := 0; i < mib*16; i++ {
		if _, err := w.Write(chunk); err != nil {
			return
		}
		if !again {
			if fl != nil {
				fl.Flush()
			}
			select {
			case <-r.Context().Done():
				return
			case <-time.After(15 * time.Millisecond):
			}
		}
	}
}

func startTFTPD(dir string) (func(), error) {
	bin, err := exec.LookPath("in.tftpd")
	if err != nil {
		bin = "/usr/sbin/in.tftpd"
	}
	for try := 0; try < 5; try++ {
		pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		addr := pc.LocalAddr().String()
		pc.Close()
		cmd := exec.Command(bin, "--foreground", "--listen", "--address", addr, "--secure", "--user", "root", dir)
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("starting in.tftpd (apt package tftpd-hpa): %w", err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
			continue
		case <-time.After(300 * time.Millisecond):
		}
		tftpAddr = addr
		return func() { cmd.Process.Kill(); <-done }, nil
	}
	return nil, fmt.Errorf("could not start in.tftpd")
}

// loopFS creates an image, attaches it to a loop device, makes a
// filesystem and mounts it.
func loopFS(fs string) (string, func(), error) {
	img := filepath.Join(workDir, fs+".img")
	size := int64(512 << 20)
	f, err := os.Create(img)
	if err != nil {
		return "", nil, err
	}
	f.Truncate(size)
	f.Close()
	out, err := exec.Command("losetup", "--find", "--show", img).Output()
	if err != nil {
		return "", nil, fmt.Errorf("losetup: %w", err)
	}
	dev := strings.TrimSpace(string(out))
	detach := func() { exec.Command("losetup", "-d", dev).Run() }
	mkfs := map[string][]string{"ext4": {"mkfs.ext4", "-q", "-F"}, "xfs": {"mkfs.xfs", "-q", "-f"}, "btrfs": {"mkfs.btrfs", "-q", "-f"}}[fs]
	if out, err := exec.Command(mkfs[0], append(mkfs[1:], dev)...).CombinedOutput(); err != nil {
		detach()
		return "", nil, fmt.Errorf("%s: %v: %s", mkfs[0], err, out)
	}
	mnt := filepath.Join(workDir, "mnt-"+fs)
	os.MkdirAll(mnt, 0o755)
	if out, err := exec.Command("mount", "-t", fs, dev, mnt).CombinedOutput(); err != nil {
		detach()
		return "", nil, fmt.Errorf("mount %s: %v: %s", fs, err, out)
	}
	// detaching a mounted loop device marks it autoclear: the kernel frees
	// it when the last mount goes, even if the namespace just exits
	detach()
	return mnt, func() { exec.Command("umount", mnt).Run() }, nil
}
