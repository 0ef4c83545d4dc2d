package kargs

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/flintboot/flint/config"
	"github.com/flintboot/flint/stages"
	"github.com/flintboot/flint/system"
)

func kargsContext(t *testing.T, helper string, exist, notExist []string) *stages.Context {
	var ka config.KernelArguments
	for _, k := range exist {
		ka.ShouldExist = append(ka.ShouldExist, config.KernelArgument(k))
	}
	for _, k := range notExist {
		ka.ShouldNotExist = append(ka.ShouldNotExist, config.KernelArgument(k))
	}
	tools := system.DefaultTools().With(system.ToolKargsHelper, helper)
	return &stages.Context{Config: config.Config{KernelArguments: ka}, Runner: system.NewRunner(nil, tools), State: &stages.State{}}
}

// The helper gets one --should-exist / --should-not-exist pair per
// argument, in config order, and its failure fails the stage.
func TestKargsHelper(t *testing.T) {
	dir := t.TempDir()
	rec := filepath.Join(dir, "argv")
	helper := filepath.Join(dir, "helper")
	os.WriteFile(helper, []byte("#!/bin/sh\nfor a in \"$@\"; do echo \"$a\"; done > "+rec+"\n[ \"$FAIL\" = \"\" ]\n"), 0o755)

	c := kargsContext(t, helper, []string{"console=ttyS0", "-odd"}, []string{"quiet"})
	p, err := New().Plan(context.Background(), c)
	if err != nil || len(p.Actions()) != 1 || !strings.Contains(p.Actions()[0].Detail, "--should-not-exist quiet") {
		t.Fatalf("plan: %v %v", p, err)
	}
	if err := p.Apply(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(rec)
	want := []string{"--should-exist", "console=ttyS0", "--should-exist", "-odd", "--should-not-exist", "quiet"}
	if got := strings.Fields(string(b)); !reflect.DeepEqual(got, want) {
		t.Errorf("helper argv %q, want %q", got, want)
	}

	t.Setenv("FAIL", "1")
	if err := p.Apply(context.Background(), c); err == nil || !strings.Contains(err.Error(), "updating kernel arguments") {
		t.Errorf("failing helper: %v", err)
	}
}

// Nothing to do: no action, and the helper is never run.
func TestKargsNothing(t *testing.T) {
	c := kargsContext(t, "/nonexistent/helper", nil, nil)
	p, err := New().Plan(context.Background(), c)
	if err != nil || len(p.Actions()) != 0 {
		t.Fatalf("%v %v", p.Actions(), err)
	}
	if err := p.Apply(context.Background(), c); err != nil {
		t.Fatal(err)
	}
}
