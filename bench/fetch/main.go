// Command fetch benchmarks package resource: `go run ./bench/fetch`.
//
// Part 1 fetches one large file over loopback HTTP with sha512 verification
// (plain and gzip-compressed) into a file, and compares the wall time with
// the floor: the slowest of the single steps done alone (transfer to
// io.Discard, sha512 of the bytes, gunzip of the bytes, writing and fsyncing
// a file of that size). Each fetch runs in a child process whose peak RSS
// (VmHWM) is reported.
//
// Part 2 fetches many small files with hashes, sequentially and with
// Fetcher.FetchAll's bounded pool, from a server that adds a fixed latency
// to every request to model a real network.
package main

import (
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/flintboot/flint/resource"
)

func main() {
	child := flag.Bool("child", false, "internal: run one fetch and report JSON")
	url := flag.String("url", "", "internal")
	hash := flag.String("hash", "", "internal")
	comp := flag.String("compression", "", "internal")
	out := flag.String("out", "", "internal")
	sizes := flag.String("sizes", "256,2048", "large-file sizes in MiB")
	many := flag.Int("many", 500, "number of small files")
	smallKiB := flag.Int("small-kib", 64, "small file size in KiB")
	latency := flag.Duration("latency", 3*time.Millisecond, "per-request server latency for the small files")
	workers := flag.Int("workers", 16, "FetchAll workers")
	dirFlag := flag.String("dir", "", "scratch directory (default: a new one under /var/tmp)")
	flag.Parse()
	if *child {
		if err := runChild(*url, *hash, *comp, *out); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if err := run(*sizes, *many, *smallKiB, *latency, *workers, *dirFlag); err != nil {
		fmt.Fprintln(os.Stderr, "bench/fetch:", err)
		os.Exit(1)
	}
}

type childResult struct {
	Seconds float64 `json:"seconds"`
	HWMKiB  int64   `json:"hwm_kib"`
}

func runChild(url, hash, comp, out string) error {
	f, err := resource.New(resource.Options{ResponseHeaderTimeout: 10 * time.Second})
	if err != nil {
		return err
	}
	start := time.Now()
	if err := f.FetchToFile(context.Background(), resource.Source{URL: url, Hash: hash, Compression: comp}, out, 0o644); err != nil {
		return err
	}
	res := childResult{Seconds: time.Since(start).Seconds(), HWMKiB: vmHWM()}
	return json.NewEncoder(os.Stdout).Encode(res)
}

func vmHWM() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n
		}
	}
	return -1
}

// genData writes size bytes of mildly compressible data to path (and, when
// gzPath is set, the gzip-compressed stream to gzPath) without holding it in
// memory; it returns the sha512 of the data.
func genData(path, gzPath string, size int64) (string, error) {
	fh, err := os.Create(path)
	if err != nil {
		return "", err
	}
	defer fh.Close()
	ws := []io.Writer{}
	bw := bufio.NewWriterSize(fh, 1<<20)
	ws = append(ws, bw)
	var zw *gzip.Writer
	var zbw *bufio.Writer
	if gzPath != "" {
		zf, err := os.Create(gzPath)
		if err != nil {
			return "", err
		}
		defer zf.Close()
		zbw = bufio.NewWriterSize(zf, 1<<20)
		zw, _ = gzip.NewWriterLevel(zbw, gzip.BestSpeed)
		ws = append(ws, zw)
	}
	h := sha512.New()
	ws = append(ws, h)
	w := io.MultiWriter(ws...)
	words := []string{"flint ", "ignition ", "partition ", "systemd ", "0x7f3a ", "config ", "\n", "sha512 ", "boot "}
	buf := make([]byte, 0, 1<<20)
	x := uint64(88172645463325252)
	for written := int64(0); written < size; {
		buf = buf[:0]
		for len(buf) < cap(buf)-16 {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			if x%5 == 0 {
				buf = strconv.AppendUint(buf, x>>40, 36)
			} else {
				buf = append(buf, words[x%uint64(len(words))]...)
			}
		}
		n := min(int64(len(buf)), size-written)
		if _, err := w.Write(buf[:n]); err != nil {
			return "", err
		}
		written += n
	}
	if err := bw.Flush(); err != nil {
		return "", err
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return "", err
		}
		if err := zbw.Flush(); err != nil {
			return "", err
		}
	}
	return "sha512-" + hex.EncodeToString(h.Sum(nil)), nil
}

func timeIt(fn func() error) (float64, error) {
	start := time.Now()
	err := fn()
	return time.Since(start).Seconds(), err
}

// floor steps, each alone.
func stepTransfer(url string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.CopyBuffer(io.Discard, resp.Body, make([]byte, 128<<10))
	return err
}

func stepHash(path string) error {
	fh, err := os.Open(path)
	if err != nil {
		return err
	}
	defer fh.Close()
	// Read into a buffer first would need the whole file in memory; the
	// file is in the page cache, so reading costs a memcpy next to hashing.
	_, err = io.CopyBuffer(sha512.New(), fh, make([]byte, 128<<10))
	return err
}

func stepGunzip(path string) error {
	fh, err := os.Open(path)
	if err != nil {
		return err
	}
	defer fh.Close()
	zr, err := gzip.NewReader(bufio.NewReaderSize(fh, 128<<10))
	if err != nil {
		return err
	}
	_, err = io.CopyBuffer(io.Discard, zr, make([]byte, 128<<10))
	return err
}

func stepWrite(path string, size int64) error {
	fh, err := os.Create(path)
	if err != nil {
		return err
	}
	buf := make([]byte, 128<<10)
	for i := range buf {
		buf[i] = byte(i)
	}
	for n := int64(0); n < size; n += int64(len(buf)) {
		if _, err := fh.Write(buf[:min(int64(len(buf)), size-n)]); err != nil {
			fh.Close()
			return err
		}
	}
	if err := fh.Sync(); err != nil {
		fh.Close()
		return err
	}
	if err := fh.Close(); err != nil {
		return err
	}
	return os.Remove(path)
}

func fetchInChild(url, hash, comp, out string) (childResult, error) {
	exe, err := os.Executable()
	if err != nil {
		return childResult{}, err
	}
	cmd := exec.Command(exe, "-child", "-url", url, "-hash", hash, "-compression", comp, "-out", out)
	cmd.Stderr = os.Stderr
	b, err := cmd.Output()
	if err != nil {
		return childResult{}, fmt.Errorf("child fetch: %w", err)
	}
	var r childResult
	if err := json.Unmarshal(b, &r); err != nil {
		return r, err
	}
	os.Remove(out)
	return r, nil
}

func serve(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
}

func run(sizes string, many, smallKiB int, latency time.Duration, workers int, dir string) error {
	if dir == "" {
		d, err := os.MkdirTemp("/var/tmp", "flint-bench-fetch-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	data := filepath.Join(dir, "data")
	os.MkdirAll(data, 0o755)
	base, stop, err := serve(http.FileServer(http.Dir(data)))
	if err != nil {
		return err
	}
	defer stop()

	fmt.Printf("resource fetch benchmark (loopback HTTP, %d CPUs)\n\n", numCPU())
	fmt.Printf("%-22s %9s %-9s %9s %9s %7s %10s\n", "case", "size", "floor", "floor s", "fetch s", "ratio", "peak RSS")
	for _, s := range strings.Split(sizes, ",") {
		mib, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return fmt.Errorf("bad size %q", s)
		}
		size := mib << 20
		name := fmt.Sprintf("f%d", mib)
		gzName := ""
		if mib <= 512 {
			gzName = name + ".gz"
		}
		gzPath := ""
		if gzName != "" {
			gzPath = filepath.Join(data, gzName)
		}
		sum, err := genData(filepath.Join(data, name), gzPath, size)
		if err != nil {
			return fmt.Errorf("generating data: %w", err)
		}
		type variant struct {
			label, file, comp string
		}
		vs := []variant{{"sha512", name, ""}}
		if gzName != "" {
			vs = append(vs, variant{"gzip+sha512", gzName, "gzip"})
		}
		for _, v := range vs {
			url := base + "/" + v.file
			steps := []struct {
				name string
				fn   func() error
			}{
				{"transfer", func() error { return stepTransfer(url) }},
				{"sha512", func() error { return stepHash(filepath.Join(data, name)) }},
				{"write", func() error { return stepWrite(filepath.Join(dir, "w.tmp"), size) }},
			}
			if v.comp == "gzip" {
				steps = append(steps, struct {
					name string
					fn   func() error
				}{"gunzip", func() error { return stepGunzip(gzPath) }})
			}
			floorName, floor := "", 0.0
			var detail []string
			for _, st := range steps {
				best := 0.0
				for i := range 2 {
					d, err := timeIt(st.fn)
					if err != nil {
						return fmt.Errorf("floor step %s: %w", st.name, err)
					}
					if i == 0 || d < best {
						best = d
					}
				}
				detail = append(detail, fmt.Sprintf("%s %.3fs", st.name, best))
				if best > floor {
					floorName, floor = st.name, best
				}
			}
			var best childResult
			for i := range 2 {
				r, err := fetchInChild(url, sum, v.comp, filepath.Join(dir, "out"))
				if err != nil {
					return err
				}
				if i == 0 || r.Seconds < best.Seconds {
					best.Seconds = r.Seconds
				}
				best.HWMKiB = max(best.HWMKiB, r.HWMKiB)
			}
			fmt.Printf("%-22s %6d MiB %-9s %9.3f %9.3f %6.2fx %6.1f MiB\n", v.label, mib, floorName, floor, best.Seconds, best.Seconds/floor, float64(best.HWMKiB)/1024)
			fmt.Printf("%-22s steps alone: %s\n", "", strings.Join(detail, ", "))
		}
		os.Remove(filepath.Join(data, name))
		if gzPath != "" {
			os.Remove(gzPath)
		}
	}
	return manyFiles(dir, many, smallKiB, latency, workers)
}

func manyFiles(dir string, count, kib int, latency time.Duration, workers int) error {
	files := make([][]byte, count)
	for i := range files {
		b := make([]byte, kib<<10)
		for j := range b {
			b[j] = byte(i*31 + j*7)
		}
		files[i] = b
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
		if err != nil || i < 0 || i >= len(files) {
			http.NotFound(w, r)
			return
		}
		time.Sleep(latency)
		w.Header().Set("Content-Length", strconv.Itoa(len(files[i])))
		w.Write(files[i])
	})
	base, stop, err := serve(h)
	if err != nil {
		return err
	}
	defer stop()
	out := filepath.Join(dir, "many")
	mk := func(sub string) []resource.Job {
		os.RemoveAll(filepath.Join(out, sub))
		os.MkdirAll(filepath.Join(out, sub), 0o755)
		jobs := make([]resource.Job, len(files))
		for i, b := range files {
			s := sha512.Sum512(b)
			jobs[i] = resource.Job{
				Source: resource.Source{URL: fmt.Sprintf("%s/%d", base, i), Hash: "sha512-" + hex.EncodeToString(s[:])},
				Dest:   filepath.Join(out, sub, strconv.Itoa(i)),
				Mode:   0o644,
			}
		}
		return jobs
	}
	f, err := resource.New(resource.Options{ResponseHeaderTimeout: 10 * time.Second})
	if err != nil {
		return err
	}
	ctx := context.Background()
	seqJobs := mk("seq")
	seq, err := timeIt(func() error {
		for _, j := range seqJobs {
			if err := f.FetchToFile(ctx, j.Source, j.Dest, j.Mode); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	parJobs := mk("par")
	par, err := timeIt(func() error { return f.FetchAll(ctx, parJobs, workers) })
	if err != nil {
		return err
	}
	fmt.Printf("\n%d x %d KiB with sha512, server latency %s per request\n", count, kib, latency)
	fmt.Printf("%-22s %9s %9s %7s\n", "case", "seq s", "pool s", "speedup")
	fmt.Printf("%-22s %9.3f %9.3f %6.2fx\n", fmt.Sprintf("FetchAll %d workers", workers), seq, par, seq/par)
	return nil
}

func numCPU() int {
	b, _ := os.ReadFile("/proc/cpuinfo")
	return max(1, strings.Count(string(b), "processor\t:"))
}
