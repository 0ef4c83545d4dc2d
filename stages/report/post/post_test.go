package post

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/flintboot/flint/log"
	"github.com/flintboot/flint/stages"
	"github.com/flintboot/flint/system"
)

func TestURL(t *testing.T) {
	if got := URL([]string{"quiet", Arg + "=https://a/x", Arg + "=https://b/y?t=1"}); got != "https://b/y?t=1" {
		t.Errorf("URL = %q", got)
	}
	if URL([]string{"flint.report.urlx=1"}) != "" {
		t.Error("a longer key matched")
	}
}

// TestSendBounded: a receiver that never answers (a closed port) is
// retried until the bound, then given up with a logged error; the caller
// is not delayed much beyond the bound.
func TestSendBounded(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var b bytes.Buffer
	start := time.Now()
	Send(context.Background(), Options{URL: "http://" + addr + "/r?token=CANARY", Stage: "files", Paths: system.DefaultPaths(),
		State: &stages.State{}, Log: log.New(&b), Bound: time.Second})
	d := time.Since(start)
	if d < time.Second || d > 4*time.Second {
		t.Errorf("Send took %s with a 1s bound", d)
	}
	out := b.String()
	if !strings.Contains(out, "[failed]   reporting the files stage to http://"+addr+"/r") || !strings.Contains(out, "bounded to 1s") ||
		!strings.Contains(out, "retrying") {
		t.Errorf("log:\n%s", out)
	}
	if strings.Contains(out, "CANARY") {
		t.Errorf("the report URL's query reached the log:\n%s", out)
	}
}

func TestSendRefusesOtherSchemes(t *testing.T) {
	var b bytes.Buffer
	Send(context.Background(), Options{URL: "file:///etc/passwd", Log: log.New(&b)})
	if !strings.Contains(b.String(), "not an http(s) URL") {
		t.Errorf("log: %s", b.String())
	}
}

func TestBuild(t *testing.T) {
	st := &stages.State{Stages: []stages.StageRecord{{Name: "fetch-offline", Status: "succeeded", DurationMS: 3},
		{Name: "files", Status: "failed", Error: "files: GET https://u:p@h/x?sig=CANARY: 500"}}}
	r := Build(Options{State: st, Stage: "files", Failure: "flint: the files stage failed\n  error: https://h/y?k=CANARY\n", Version: "v", Platform: "qemu",
		Paths: system.DefaultPaths()})
	if r.Status != "failed" || r.FailedStage != "files" || len(r.Stages) != 2 || r.Stages[1].Error != "files: GET https://h/x: 500" ||
		strings.Contains(r.Failure, "CANARY") || r.BootID == "" || r.Sent == "" {
		t.Errorf("report: %+v", r)
	}
	if ok := Build(Options{Paths: system.DefaultPaths()}); ok.Status != "succeeded" || ok.Stages == nil {
		t.Errorf("empty report: %+v", ok)
	}
}
