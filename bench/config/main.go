// Command config benchmarks parse + validate of a large generated config
// (20,000 entries) as a user sees it: whole `flint validate` processes
// against, in the same run, whole processes that read the same file and
// decode it with encoding/json into map[string]any (the floor). It prints
// the median wall time of each, their ratio (target ≤ 3×) and each side's
// peak RSS (target for flint ≤ 35 MiB), then the same comparison in-process
// for reference.
//
// Usage: go run ./bench/config [-flint bin/flint] [-runs 9]
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"syscall"
	"time"

	"github.com/flintboot/flint/bench/internal/summary"

	"github.com/flintboot/flint/config"
)

const files, dirs, links, units, users = 6000, 4000, 4000, 3000, 3000 // 20,000 entries

func generate() []byte {
	var b bytes.Buffer
	b.WriteString(`{"ignition":{"version":"3.6.0"},"storage":{"files":[`)
	for i := 0; i < files; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		sum := sha256.Sum256([]byte(fmt.Sprintf("hello %d", i))) // validate checks data: contents against the hash
		fmt.Fprintf(&b, `{"path":"/srv/d%d/f%d","mode":420,"overwrite":true,"contents":{"source":"data:,hello%%20%d","verification":{"hash":"sha256-%x"}},"user":{"id":%d}}`, i%100, i, i, sum, i%1000)
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

// floor is the child side of the floor measurement: read the file and
// decode it into a map, as a program with no rules would.
func floor(path string) {
	raw, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	runtime.KeepAlive(m)
}

type sample struct {
	wall time.Duration
	rss  int64 // KiB
}

func runProc(name string, args ...string) (sample, error) {
	cmd := exec.Command(name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	s := sample{wall: time.Since(start)}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		s.rss = ru.Maxrss
	}
	if err != nil {
		return s, fmt.Errorf("%s %v: %v\n%s", name, args, err, out.String())
	}
	return s, nil
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func stats(ss []sample) (wall time.Duration, rssMed, rssMax float64) {
	var walls []time.Duration
	var rss []int64
	for _, s := range ss {
		walls = append(walls, s.wall)
		rss = append(rss, s.rss)
	}
	sort.Slice(rss, func(i, j int) bool { return rss[i] < rss[j] })
	return median(walls), float64(rss[len(rss)/2]) / 1024, float64(rss[len(rss)-1]) / 1024
}

func main() {
	floorFile := flag.String("floor", "", "internal: run the floor child on this file")
	bin := flag.String("flint", "bin/flint", "flint binary")
	runs := flag.Int("runs", 9, "runs per side (median reported)")
	flag.Parse()
	if *floorFile != "" {
		floor(*floorFile)
		return
	}
	if err := run(*bin, *runs); err != nil {
		fmt.Fprintln(os.Stderr, "bench/config:", err)
		os.Exit(1)
	}
}

func run(bin string, runs int) error {
	bin, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "flint-bench-config-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	raw := generate()
	path := filepath.Join(dir, "big.ign")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		return err
	}
	var fl, fo []sample
	for i := 0; i < runs+1; i++ { // the first round warms the page cache
		a, err := runProc(self, "-floor", path)
		if err != nil {
			return err
		}
		b, err := runProc(bin, "validate", path)
		if err != nil {
			return err
		}
		if i > 0 {
			fo, fl = append(fo, a), append(fl, b)
		}
	}
	fw, frm, frx := stats(fl)
	ow, orm, orx := stats(fo)
	fmt.Printf("config: %d bytes, %d entries (files %d, directories %d, links %d, units %d, users %d); whole processes, median of %d\n",
		len(raw), files+dirs+links+units+users, files, dirs, links, units, users, runs)
	fmt.Printf("  flint validate         %7.1f ms   peak RSS %5.1f MiB (max %5.1f; target <= 35)\n", ms(fw), frm, frx)
	fmt.Printf("  encoding/json -> map   %7.1f ms   peak RSS %5.1f MiB (max %5.1f)\n", ms(ow), orm, orx)
	fmt.Printf("  time ratio             %7.2fx (target <= 3x)\n", float64(fw)/float64(ow))
	summary.Add("validate-big (20,000 entries)", fmt.Sprintf("%.2fx encoding/json, peak RSS %.1f MiB", float64(fw)/float64(ow), frm),
		"<= 3x, RSS <= 35 MiB", float64(fw)/float64(ow) <= 3 && frm <= 35)

	// the same in-process, for reference (no process start, no reading)
	parse := func() {
		if _, r, err := config.Parse(raw); err != nil {
			fmt.Fprintf(os.Stderr, "bench config invalid: %v\n%v\n", err, r)
			os.Exit(1)
		}
	}
	decode := func() {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	parse()
	decode()
	var tp, tf []time.Duration
	for i := 0; i < runs; i++ {
		t0 := time.Now()
		decode()
		tf = append(tf, time.Since(t0))
		t0 = time.Now()
		parse()
		tp = append(tp, time.Since(t0))
	}
	fmt.Printf("  in-process: config.Parse %.1f ms, json->map %.1f ms, ratio %.2fx; allocated %.1f MiB vs %.1f MiB\n",
		ms(median(tp)), ms(median(tf)), float64(median(tp))/float64(median(tf)), allocs(parse), allocs(decode))
	return nil
}

func allocs(fn func()) float64 {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	fn()
	runtime.ReadMemStats(&b)
	return float64(b.TotalAlloc-a.TotalAlloc) / (1 << 20)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
