package stages

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestFailureSummaryRedacts(t *testing.T) {
	inner := errors.New("connection refused")
	err := fmt.Errorf("files: %w", &OpError{Op: "fetching the config from cmdline:https://user:pw@h.example/c.ign?token=abc",
		Err: fmt.Errorf("GET https://user:pw@h.example/c.ign?token=abc: %w", inner)})
	s := FailureSummary("files", err)
	for _, bad := range []string{"pw@", "token=abc", "user:"} {
		if strings.Contains(s, bad) {
			t.Errorf("summary leaks %q:\n%s", bad, s)
		}
	}
	if !strings.Contains(s, "while: fetching the config from cmdline:https://h.example/c.ign") {
		t.Errorf("operation missing:\n%s", s)
	}
	long := FailureSummary("disks", errors.New(strings.Repeat("x", 5000)))
	if len(long) > 1000 {
		t.Errorf("summary not bounded: %d bytes", len(long))
	}
	plain := FailureSummary("disks", fmt.Errorf("disks: creating partition 1 on /dev/vda: %w", errors.New("sgdisk exited 4")))
	if !strings.Contains(plain, "while: creating partition 1 on /dev/vda") || !strings.Contains(plain, "error: sgdisk exited 4") {
		t.Errorf("split:\n%s", plain)
	}
}
