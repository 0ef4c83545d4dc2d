package vm_test

import (
	"strings"
	"testing"
	"time"

	"github.com/flintboot/flint/tests/vm"
)

// TestTangHost: the tang fixture serves an advertisement and a thumbprint on loopback.
func TestTangHost(t *testing.T) {
	requireRoot(t)
	start := time.Now()
	tang, err := vm.StartTang(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("tang started in %s", time.Since(start).Round(time.Millisecond))
	adv, err := tang.Adv()
	if err != nil || !strings.Contains(string(adv), `"payload"`) {
		t.Fatalf("adv: %s, %v", adv, err)
	}
	thp, err := tang.Thumbprint()
	if err != nil || len(thp) != 43 {
		t.Fatalf("thumbprint %q: %v", thp, err)
	}
	start = time.Now()
	tang.Close()
	t.Logf("tang stopped in %s", time.Since(start).Round(time.Millisecond))
	if _, err := tang.Adv(); err == nil {
		t.Error("tang still answers after Close")
	}
}
