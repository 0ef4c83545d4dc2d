package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// openPTY returns a pseudo-terminal pair (master, slave).
func openPTY(t *testing.T) (*os.File, *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("no pseudo-terminals here: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	return m, s
}

// TestApplyProgressLine: `flint apply` with stderr on a terminal keeps a
// progress line under the log lines (erased and redrawn around each line,
// erased at the end); with stderr on a pipe there is none.
func TestApplyProgressLine(t *testing.T) {
	root := t.TempDir()
	cfgPath := filepath.Join(t.TempDir(), "c.ign")
	os.WriteFile(cfgPath, []byte(statusConfig), 0o644)

	m, s := openPTY(t)
	var got bytes.Buffer
	done := make(chan struct{})
	go func() { io.Copy(&got, m); close(done) }()
	err := Run(context.Background(), []string{"flint", "apply", "--root", root, cfgPath}, strings.NewReader(""), io.Discard, s)
	s.Close()
	<-done
	m.Close()
	if err != nil {
		t.Fatalf("apply: %v\n%s", err, got.String())
	}
	out := got.String()
	for _, want := range []string{"\r\x1b[KINFO     : files: [started]  writing 1 directory, 2 files",
		"\r\x1b[Kflint files [", " done", "\r\x1b[KINFO     : flint apply finished successfully"} {
		if !strings.Contains(out, want) {
			t.Errorf("terminal output lacks %q:\n%q", want, out)
		}
	}
	if !strings.HasSuffix(strings.TrimRight(out, "\r\n"), "\r\x1b[K") && !strings.HasSuffix(out, "successfully\r\n") {
		t.Errorf("the progress line was left on the terminal: %q", out[max(0, len(out)-120):])
	}

	// not a terminal: plain lines
	r, w, _ := os.Pipe()
	var plain bytes.Buffer
	pdone := make(chan struct{})
	go func() { io.Copy(&plain, r); close(pdone) }()
	err = Run(context.Background(), []string{"flint", "apply", "--root", t.TempDir(), cfgPath}, strings.NewReader(""), io.Discard, w)
	w.Close()
	<-pdone
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(plain.String(), "\x1b") || !strings.Contains(plain.String(), "[finished] writing 1 directory") {
		t.Errorf("output to a pipe: %q", plain.String())
	}
}
