// Command config benchmarks config.Parse (parse + validate) on a large
// generated config against encoding/json decoding the same bytes into
// map[string]any, in the same run. Run: go run ./bench/config
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/flintboot/flint/config"
)

const (
	files, dirs, links, units, users = 6000, 4000, 4000, 3000, 3000 // 20,000 entries
	iterations                       = 7
)

func generate() []byte {
	var b bytes.Buffer
	b.WriteString(`{"ignition":{"version":"3.6.0"},"storage":{"files":[`)
	for i := 0; i < files; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"path":"/srv/d%d/f%d","mode":420,"overwrite":true,"contents":{"source":"data:,hello%%20%d","verification":{"hash":"sha256-%064x"}},"user":{"id":%d}}`, i%100, i, i, i, i%1000)
	}
	b.WriteString(`],"directories":[`)
	for i := 0; i < dirs; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"path":"/srv/dir%d","mode":493,"group":{"name":"g%d"}}`, i, i%50)
	}
	b.WriteString(`],"links":[`)
	for i := 0; i < links; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"path":"/srv/l/%d/link%d","target":"/srv/d%d/f%d","hard":%v}`, i%64, i, i%100, i, i%10 == 0)
	}
	b.WriteString(`]},"systemd":{"units":[`)
	for i := 0; i < units; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"name":"svc%d.service","enabled":true,"contents":"[Unit]\nDescription=svc %d\n[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n","dropins":[{"name":"10-env.conf","contents":"[Service]\nEnvironment=N=%d\n"}]}`, i, i, i)
	}
	b.WriteString(`]},"passwd":{"users":[`)
	for i := 0; i < users; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"name":"user%d","uid":%d,"groups":["wheel","g%d"],"sshAuthorizedKeys":["ssh-ed25519 AAAAC3Nza%d user%d"],"shell":"/bin/bash"}`, i, 2000+i, i%50, i, i)
	}
	b.WriteString(`]}}`)
	return b.Bytes()
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// peakHeap samples HeapInuse while fn runs and returns the maximum.
func peakHeap(fn func()) uint64 {
	runtime.GC()
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	fn()
	close(stop)
	<-done
	return peak.Load()
}

func allocs(fn func()) uint64 {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	fn()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

func vmHWM() string {
	st, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "n/a"
	}
	for _, l := range strings.Split(string(st), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			return strings.TrimSpace(strings.TrimPrefix(l, "VmHWM:"))
		}
	}
	return "n/a"
}

func main() {
	raw := generate()
	parse := func() {
		_, r, err := config.Parse(raw)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench config invalid: %v (%d entries)\n", err, len(r.Entries))
			os.Exit(1)
		}
	}
	floor := func() {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	parse() // warm up and check validity
	floor()
	var tp, tf []time.Duration
	for i := 0; i < iterations; i++ {
		t0 := time.Now()
		floor()
		tf = append(tf, time.Since(t0))
		t0 = time.Now()
		parse()
		tp = append(tp, time.Since(t0))
	}
	mp, mf := median(tp), median(tf)
	fmt.Printf("config bytes:              %d (%d entries: files %d, directories %d, links %d, units %d, users %d)\n",
		len(raw), files+dirs+links+units+users, files, dirs, links, units, users)
	fmt.Printf("config.Parse (median of %d): %v\n", iterations, mp)
	fmt.Printf("json→map[string]any median: %v\n", mf)
	fmt.Printf("ratio:                     %.2fx (target <= 3x)\n", float64(mp)/float64(mf))
	fmt.Printf("allocated per Parse:       %.1f MiB (json→map: %.1f MiB)\n", float64(allocs(parse))/(1<<20), float64(allocs(floor))/(1<<20))
	fmt.Printf("peak heap in use (Parse):  %.1f MiB (json→map: %.1f MiB)\n", float64(peakHeap(parse))/(1<<20), float64(peakHeap(floor))/(1<<20))
	fmt.Printf("process VmHWM:             %s\n", vmHWM())
}
