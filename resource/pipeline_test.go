package resource

import (
	"bytes"
	"crypto/sha512"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// gatedWriter holds every write until open is closed.
type gatedWriter struct {
	open chan struct{}
	buf  bytes.Buffer
}

func (w *gatedWriter) Write(p []byte) (int, error) {
	<-w.open
	return w.buf.Write(p)
}

// The ring grows past chunksMin while the writer stalls, up to chunksMax,
// taking its spare chunks from the fetcher's budget and giving them back
// when the fetch ends; an exhausted budget leaves a fetch at chunksMin,
// still correct.
func TestPumpRingBudget(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), (chunksMax+8)*chunkSize/16)
	want := sha512.Sum512(data)
	for _, spare := range []int32{chunksSpare, 0} {
		budget := newChunkBudget()
		budget.left.Store(spare)
		w := &gatedWriter{open: make(chan struct{})}
		h := sha512.New()
		var err error
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			err = pump(bytes.NewReader(data), h, w, budget, leadHash)
		}()
		if spare > 0 {
			// the reader runs ahead of the held writer until the ring is full
			wantLeft := spare - (chunksMax - chunksMin)
			deadline := time.Now().Add(10 * time.Second)
			for budget.left.Load() != wantLeft {
				if time.Now().After(deadline) {
					t.Fatalf("budget left %d while the writer stalls, want %d", budget.left.Load(), wantLeft)
				}
				time.Sleep(time.Millisecond)
			}
		}
		close(w.open)
		wg.Wait()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(w.buf.Bytes(), data) || !bytes.Equal(h.Sum(nil), want[:]) {
			t.Fatalf("spare %d: contents or hash differ", spare)
		}
		if got := budget.left.Load(); got != spare {
			t.Fatalf("budget left %d after the fetch, want %d back", got, spare)
		}
	}
}

// threadNice reads the nice value of thread tid of this process.
func threadNice(t *testing.T, tid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/stat", tid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	n, err := strconv.Atoi(f[16])
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// boost raises the calling thread 10 nice levels (as root) and undo puts
// it back; the goroutine stays on that thread meanwhile.
func TestBoost(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root (CAP_SYS_NICE); make test runs the unit tier as root")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // keep this test's view on one thread
		defer runtime.UnlockOSThread()
		tid := unix.Gettid()
		before := threadNice(t, tid)
		undo := boost()
		if got := threadNice(t, tid); got != max(before-10, -20) {
			t.Errorf("boosted nice %d, want %d", got, max(before-10, -20))
		}
		undo()
		if got := threadNice(t, tid); got != before {
			t.Errorf("nice after undo %d, want %d", got, before)
		}
	}()
	<-done
}
