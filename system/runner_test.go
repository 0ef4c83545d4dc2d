package system

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flintboot/flint/log"
)

func shTools() Tools { return DefaultTools().With("sh", "/bin/sh") }

func newTestRunner(t *testing.T) (Runner, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	return NewRunner(log.New(&buf), shTools()), &buf
}

func TestRunnerSuccess(t *testing.T) {
	r, logs := newTestRunner(t)
	dir := t.TempDir()
	res, err := r.Run(context.Background(), Cmd{
		Name:  "sh",
		Args:  []string{"-c", `read x; echo "in=$x env=$FLINT_T pwd=$(pwd)"; echo warn >&2`},
		Stdin: strings.NewReader("hello\n"),
		Env:   []string{"FLINT_T=v1"},
		Dir:   dir,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("in=hello env=v1 pwd=%s\n", dir)
	if string(res.Stdout) != want {
		t.Errorf("stdout %q, want %q", res.Stdout, want)
	}
	if string(res.Stderr) != "warn\n" || res.ExitCode != 0 || res.Duration <= 0 {
		t.Errorf("result %+v", res)
	}
	l := logs.String()
	if !strings.Contains(l, `DEBUG    : running: sh -c 'read x;`) || !strings.Contains(l, "sh exited 0 after") {
		t.Errorf("logs:\n%s", l)
	}
}

func TestRunnerFailureRedactedTail(t *testing.T) {
	r, logs := newTestRunner(t)
	secret := "S3cr3t-canary"
	script := `for i in $(seq 1 30); do echo "line $i" >&2; done; echo "bad key $1" >&2; echo out; exit 3`
	res, err := r.Run(context.Background(), Cmd{Name: "sh", Args: []string{"-c", script, "sh", secret}, Secret: []string{secret}})
	var xe *ExitError
	if !errors.As(err, &xe) {
		t.Fatalf("err %v (%T), want *ExitError", err, err)
	}
	if xe.ExitCode != 3 || res.ExitCode != 3 || xe.Tool != "sh" || string(res.Stdout) != "out\n" {
		t.Errorf("exit %d/%d tool %q stdout %q", xe.ExitCode, res.ExitCode, xe.Tool, res.Stdout)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "sh failed with exit code 3: ") {
		t.Errorf("message %q", msg)
	}
	if strings.Contains(msg, secret) || strings.Contains(logs.String(), secret) {
		t.Errorf("secret leaked:\n%s\n%s", msg, logs.String())
	}
	if !strings.Contains(msg, "bad key <redacted>") {
		t.Errorf("message lacks redacted line: %q", msg)
	}
	lines := strings.Split(xe.StderrTail, "\n")
	if len(lines) != StderrTailLines || lines[0] != "line 12" {
		t.Errorf("tail has %d lines starting %q", len(lines), lines[0])
	}
	if !strings.Contains(logs.String(), "running: sh -c") || !strings.Contains(logs.String(), "<redacted>") ||
		!strings.Contains(logs.String(), "sh exited 3 after") {
		t.Errorf("logs:\n%s", logs.String())
	}
}

func TestRunnerUnknownAndMissingTool(t *testing.T) {
	r, _ := newTestRunner(t)
	_, err := r.Run(context.Background(), Cmd{Name: "no-such-logical"})
	if !errors.Is(err, ErrUnknownTool) {
		t.Errorf("unknown: %v", err)
	}
	r2 := NewRunner(log.New(&bytes.Buffer{}), DefaultTools().With(ToolSgdisk, "/nonexistent/sgdisk"))
	_, err = r2.Run(context.Background(), Cmd{Name: ToolSgdisk})
	if !errors.Is(err, ErrToolNotFound) || !strings.Contains(err.Error(), "sgdisk") {
		t.Errorf("missing: %v", err)
	}
}

func TestRunnerContextCancel(t *testing.T) {
	r, _ := newTestRunner(t)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := r.Run(ctx, Cmd{Name: "sh", Args: []string{"-c", "sleep 20"}})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v", err)
	}
	var xe *ExitError
	if !errors.As(err, &xe) || xe.ExitCode != -1 {
		t.Errorf("err %#v", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("cancel took %s", time.Since(start))
	}
}

func TestRunnerToolFromEnvScript(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "fake-wipefs")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"fake $*\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(ToolEnvVar(ToolWipefs), script)
	r := NewRunner(log.New(&bytes.Buffer{}), ToolsFromEnv())
	res, err := r.Run(context.Background(), Cmd{Name: ToolWipefs, Args: []string{"-a", "/dev/x"}})
	if err != nil || string(res.Stdout) != "fake -a /dev/x\n" {
		t.Fatalf("%q %v", res.Stdout, err)
	}
}

func TestQuoteArgvAndRedact(t *testing.T) {
	for _, c := range []struct {
		args    []string
		secrets []string
		want    string
	}{
		{[]string{"--new=1:0:+100M", "/dev/vda"}, nil, "sgdisk --new=1:0:+100M /dev/vda"},
		{[]string{"a b", "", "it's", "$HOME"}, nil, `sgdisk 'a b' '' 'it'\''s' '$HOME'`},
		{[]string{"--password", "$6$salt$hash"}, []string{"$6$salt$hash"}, "sgdisk --password '<redacted>'"},
		{[]string{"x=abcdef"}, []string{"abc", "abcdef"}, "sgdisk 'x=<redacted>'"},
		{[]string{"ab", "cd"}, []string{"ab cd", ""}, "sgdisk <redacted>"}, // a secret spanning two arguments
	} {
		if got := QuoteArgv("sgdisk", c.args, c.secrets); got != c.want {
			t.Errorf("QuoteArgv(%q, %q) = %q, want %q", c.args, c.secrets, got, c.want)
		}
	}
	if got := Redact("k=abcdef abc", []string{"abc", "abcdef"}); got != "k=<redacted> <redacted>" {
		t.Errorf("Redact = %q", got)
	}
}

func TestRecorder(t *testing.T) {
	d := &Recorder{}
	ctx := context.Background()
	if _, err := d.Run(ctx, Cmd{Name: ToolChpasswd, Args: []string{"-e"}, Stdin: strings.NewReader("u:H\n"), Secret: []string{"H"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Run(ctx, Cmd{Name: ToolSgdisk, Args: []string{"--zap-all", "/dev/vda"}}); err != nil {
		t.Fatal(err)
	}
	calls := d.Calls()
	if len(calls) != 2 || string(calls[0].Stdin) != "u:H\n" {
		t.Fatalf("calls %+v", calls)
	}
	lines := d.Lines()
	if lines[0] != "chpasswd -e <stdin: 4 bytes>" || lines[1] != "sgdisk --zap-all /dev/vda" {
		t.Errorf("lines %q", lines)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := d.Run(cctx, Cmd{Name: ToolBlkid}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}
