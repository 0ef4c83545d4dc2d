package vm

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Tang is a tang server on 127.0.0.1 (Debian's tangd behind socat), for clevis tests.
// A guest with Machine.Net reaches it at GuestURL.
type Tang struct {
	Port   int
	DB     string // key directory (tangd-keygen)
	cmd    *exec.Cmd
	done   chan struct{}
	mu     sync.Mutex
	stderr bytes.Buffer
}

// StartTang generates keys in dir/db and serves them on a free loopback port.
func StartTang(dir string) (*Tang, error) {
	db := filepath.Join(dir, "db")
	if err := os.MkdirAll(db, 0o755); err != nil {
		return nil, err
	}
	if out, err := exec.Command("/usr/libexec/tangd-keygen", db).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("tangd-keygen (install tang): %w: %s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	t := &Tang{Port: port, DB: db, done: make(chan struct{})}
	t.cmd = exec.Command("socat", fmt.Sprintf("TCP-LISTEN:%d,bind=127.0.0.1,reuseaddr,fork", port),
		"EXEC:/usr/libexec/tangd "+db)
	t.cmd.Stderr = lockedWriter{&t.mu, &t.stderr}
	t.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // Close kills socat's forked children too
	t.cmd.WaitDelay = time.Second
	if err := t.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start socat (install socat): %w", err)
	}
	go func() { t.cmd.Wait(); close(t.done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := t.Adv(); err == nil {
			return t, nil
		}
		select {
		case <-t.done:
			return nil, fmt.Errorf("tang (socat) exited: %s", t.Log())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Close()
			return nil, fmt.Errorf("tang on port %d did not answer: %s", port, t.Log())
		}
	}
}

// URL is the host-side URL, GuestURL the one a guest on QEMU user networking uses.
func (t *Tang) URL() string      { return "http://127.0.0.1:" + strconv.Itoa(t.Port) }
func (t *Tang) GuestURL() string { return "http://10.0.2.2:" + strconv.Itoa(t.Port) }

// Adv fetches the signed advertisement (JWS), for offline binding.
func (t *Tang) Adv() ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", t.URL()+"/adv", nil)
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != 200 {
		err = fmt.Errorf("tang /adv: %s", resp.Status)
	}
	return b, err
}

// Thumbprint returns the S256 thumbprint of the signing key (clevis "thp").
func (t *Tang) Thumbprint() (string, error) {
	out, err := exec.Command("tang-show-keys", strconv.Itoa(t.Port)).Output()
	if err != nil {
		return "", fmt.Errorf("tang-show-keys: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// Log is what tangd printed: one line per request, e.g. "POST /rec/<kid> => 200".
func (t *Tang) Log() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.stderr.String()
}

// Close stops the server.
func (t *Tang) Close() {
	select {
	case <-t.done:
		return
	default:
	}
	syscall.Kill(-t.cmd.Process.Pid, syscall.SIGKILL)
	<-t.done
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
