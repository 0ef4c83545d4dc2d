// Command fetch benchmarks remote contents as a user sees them (`make bench`,
// as root): whole `flint apply` processes writing into a freshly made,
// loop-mounted ext4, a syncfs of that filesystem counted in flint's wall
// time and in the floor's, against the floor measured in the same run.
//
// Rows (one table):
//   - N MiB over loopback HTTP + sha512: flint ÷ the slowest single step done
//     alone (download to /dev/null; sha512 of the bytes; writing N MiB to the
//     same filesystem + syncfs); flint's peak RSS and its peak extra disk use
//     (filesystem usage above the final state while it runs).
//   - the same, gzip-compressed: ÷ the slowest step, here inflating alone
//     with flint's inflater (klauspost/compress); and that inflater against
//     compress/gzip.
//   - many small remote files: one sequential fetcher (resource.Fetcher,
//     one file after the other, + syncfs) ÷ flint apply.
//   - the binary's size.
package main

import (
	"bufio"
	"bytes"
	stdgzip "compress/gzip"
	"context"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
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
	"sync/atomic"
	"time"

	"github.com/flintboot/flint/bench/internal/summary"

	"github.com/klauspost/compress/gzip"
	"golang.org/x/sys/unix"

	"github.com/flintboot/flint/resource"
)

type row struct {
	name, floorName, target string
	flint, floor            float64 // seconds
	ratio                   float64
	ok                      bool
	rssKiB, extra           int64 // -1: not measured
	note                    string
}

func main() {
	bin := flag.String("flint", "bin/flint", "the flint binary")
	sizes := flag.String("sizes", "256,2048", "large-file sizes in MiB (the first also gzip-compressed)")
	many := flag.Int("many", 500, "number of small files")
	smallKiB := flag.Int("small-kib", 64, "small file size in KiB")
	latency := flag.Duration("latency", 3*time.Millisecond, "per-request server latency for the small files")
	reps := flag.Int("reps", 5, "repetitions of each measurement (best counts)")
	flag.Parse()
	if os.Getenv("FLINT_BENCH_PRIVATE") == "" && os.Geteuid() == 0 {
		// mounts stay in a private mount namespace, whatever happens
		self, err := os.Executable()
		if err == nil {
			cmd := exec.Command("unshare", append([]string{"-m", "--propagation", "private", self}, os.Args[1:]...)...)
			cmd.Env = append(os.Environ(), "FLINT_BENCH_PRIVATE=1")
			cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
			if err := cmd.Run(); err != nil {
				os.Exit(1)
			}
			return
		}
	}
	if err := run(*bin, *sizes, *many, *smallKiB, *latency, *reps); err != nil {
		fmt.Fprintln(os.Stderr, "bench/fetch:", err)
		os.Exit(1)
	}
}

func run(bin, sizes string, many, smallKiB int, latency time.Duration, reps int) error {
	if os.Geteuid() != 0 {
		return errors.New("needs root (loop-mounted ext4)")
	}
	bin, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("/var/tmp", "flint-bench-fetch-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	data := filepath.Join(work, "data")
	os.MkdirAll(data, 0o755)
	small := smallFiles(many, smallKiB)
	mux := http.NewServeMux()
	mux.Handle("/data/", http.StripPrefix("/data/", http.FileServer(http.Dir(data))))
	mux.HandleFunc("/small/", func(w http.ResponseWriter, r *http.Request) {
		i, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/small/"))
		if err != nil || i < 0 || i >= len(small) {
			http.NotFound(w, r)
			return
		}
		time.Sleep(latency)
		w.Header().Set("Content-Length", strconv.Itoa(len(small[i])))
		w.Write(small[i])
	})
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	defer srv.Close()
	base := "http://" + ln.Addr().String()

	var rows []row
	for i, s := range strings.Split(sizes, ",") {
		mib, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return fmt.Errorf("bad size %q", s)
		}
		rs, err := bigRows(work, data, base, bin, mib, i == 0, reps)
		if err != nil {
			return err
		}
		rows = append(rows, rs...)
	}
	r, err := manyRow(work, base, bin, small, latency, reps)
	if err != nil {
		return err
	}
	rows = append(rows, r)
	if st, err := os.Stat(bin); err == nil {
		rows = append(rows, row{name: "binary size", target: "≤ 9 MiB", rssKiB: -1, extra: -1,
			ok: st.Size() <= 9<<20, note: fmt.Sprintf("%d bytes (%.2f MiB)", st.Size(), float64(st.Size())/(1<<20))})
	}
	printTable(rows)
	return nil
}

// loopFS is a freshly made ext4 on a loop device.
type loopFS struct{ img, dev, dir string }

// directIO makes the loop devices read and write their backing file with
// O_DIRECT, as a disk would: a buffered loop device keeps everything in the
// backing file's page cache until the final flush, which then writes it all
// however early the filesystem had started writeback (on both sides).
var directIO = flag.Bool("direct-io", false, "loop devices with direct I/O (losetup --direct-io=on)")

func newLoopFS(work string, size int64) (*loopFS, error) {
	l := &loopFS{img: filepath.Join(work, "fs.img"), dir: filepath.Join(work, "mnt")}
	if err := os.WriteFile(l.img, nil, 0o600); err != nil {
		return nil, err
	}
	if err := os.Truncate(l.img, size); err != nil {
		return nil, err
	}
	args := []string{"--find", "--show", l.img}
	if *directIO {
		args = append([]string{"--direct-io=on"}, args...)
	}
	out, err := exec.Command("losetup", args...).Output()
	if err != nil {
		return nil, fmt.Errorf("losetup: %w", err)
	}
	l.dev = strings.TrimSpace(string(out))
	if b, err := exec.Command("mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0", l.dev).CombinedOutput(); err != nil {
		l.close()
		return nil, fmt.Errorf("mkfs.ext4: %v: %s", err, b)
	}
	os.MkdirAll(l.dir, 0o755)
	if err := unix.Mount(l.dev, l.dir, "ext4", 0, ""); err != nil {
		l.close()
		return nil, fmt.Errorf("mount: %w", err)
	}
	return l, nil
}

func (l *loopFS) close() {
	unix.Unmount(l.dir, 0)
	if l.dev != "" {
		exec.Command("losetup", "--detach", l.dev).Run()
	}
	os.Remove(l.img)
}

func (l *loopFS) syncfs() error {
	fh, err := os.Open(l.dir)
	if err != nil {
		return err
	}
	defer fh.Close()
	return unix.Syncfs(int(fh.Fd()))
}

func (l *loopFS) used() int64 {
	var st unix.Statfs_t
	if unix.Statfs(l.dir, &st) != nil {
		return 0
	}
	return int64(st.Blocks-st.Bfree) * st.Bsize
}

// clear empties the filesystem (outside any timing) and syncs it.
func (l *loopFS) clear() error {
	ents, _ := os.ReadDir(l.dir)
	for _, e := range ents {
		if e.Name() != "lost+found" {
			os.RemoveAll(filepath.Join(l.dir, e.Name()))
		}
	}
	return l.syncfs()
}

type flintRun struct {
	secs   float64
	rssKiB int64
	extra  int64
}

// runFlint times `flint apply --root <fs> cfg` + syncfs, sampling the
// filesystem's usage for the peak above the final state.
func runFlint(bin string, l *loopFS, cfg []byte) (flintRun, error) {
	if err := l.clear(); err != nil {
		return flintRun{}, err
	}
	cfgPath := filepath.Join(filepath.Dir(l.dir), "bench.ign")
	if err := os.WriteFile(cfgPath, cfg, 0o644); err != nil {
		return flintRun{}, err
	}
	cmd := exec.Command(bin, "apply", "--root", l.dir, cfgPath)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return flintRun{}, err
	}
	// Sample the filesystem's usage and flint's VmHWM (the peak RSS of its
	// own address space; wait4's ru_maxrss would report the bench's,
	// inherited through the vfork that starts the child). Every 10 ms:
	// VmHWM is a high-water mark, and a staged copy of the file would
	// show for as long as writing it takes; sampling every 2 ms cost
	// flint's row up to a quarter of its time on 2 CPUs (500 wakeups a
	// second reading /proc and statfs beside the run being measured).
	var peak, hwm atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	status := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
	go func() {
		defer close(sampled)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			if u := l.used(); u > peak.Load() {
				peak.Store(u)
			}
			if h := vmHWM(status); h > hwm.Load() {
				hwm.Store(h)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	err := cmd.Wait()
	if err == nil {
		err = l.syncfs()
	}
	secs := time.Since(start).Seconds()
	close(stop)
	<-sampled
	if err != nil {
		return flintRun{}, fmt.Errorf("flint apply: %v\n%s", err, tail(stderr.String()))
	}
	final := l.used()
	r := flintRun{secs: secs, extra: max(peak.Load()-final, 0), rssKiB: hwm.Load()}
	return r, nil
}

// vmHWM reads VmHWM (KiB) from a /proc/PID/status file (0 when gone).
func vmHWM(status string) int64 {
	b, err := os.ReadFile(status)
	if err != nil {
		return 0
	}
	_, rest, ok := strings.Cut(string(b), "VmHWM:")
	if !ok {
		return 0
	}
	rest, _, _ = strings.Cut(rest, "\n")
	n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
	return n
}

func tail(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-5):], "\n")
}

func timed(fn func() error) func() (float64, error) {
	return func() (float64, error) {
		start := time.Now()
		err := fn()
		return time.Since(start).Seconds(), err
	}
}

func fileConfig(path, url, hash, comp string) []byte {
	c := map[string]any{"source": url, "verification": map[string]any{"hash": hash}}
	if comp != "" {
		c["compression"] = comp
	}
	b, _ := json.Marshal(map[string]any{
		"ignition": map[string]any{"version": "3.4.0"},
		"storage":  map[string]any{"files": []any{map[string]any{"path": path, "contents": c}}},
	})
	return b
}

func bigRows(work, data, base, bin string, mib int64, withGzip bool, reps int) ([]row, error) {
	size := mib << 20
	name := fmt.Sprintf("f%d", mib)
	gzPath := ""
	if withGzip {
		gzPath = filepath.Join(data, name+".gz")
	}
	sum, err := genData(filepath.Join(data, name), gzPath, size)
	if err != nil {
		return nil, fmt.Errorf("generating data: %w", err)
	}
	defer os.Remove(filepath.Join(data, name))
	if gzPath != "" {
		defer os.Remove(gzPath)
	}
	// room for the file twice (stage + copy) and the journal
	l, err := newLoopFS(work, 2*size+size/2+512<<20)
	if err != nil {
		return nil, err
	}
	defer l.close()
	runs := reps
	if mib > 512 {
		runs = 1
	}
	type variant struct{ label, file, comp string }
	vs := []variant{{fmt.Sprintf("%d MiB http + sha512", mib), name, ""}}
	if gzPath != "" {
		vs = append(vs, variant{fmt.Sprintf("%d MiB gzip + sha512", mib), name + ".gz", "gzip"})
	}
	var rows []row
	for _, v := range vs {
		url := base + "/data/" + v.file
		steps := []struct {
			name string
			fn   func() error
		}{
			{"download", func() error { return download(url) }},
			{"sha512", func() error { return hashFile(filepath.Join(data, name)) }},
			{"write+sync", func() error { return writeSync(l, size) }},
		}
		if v.comp == "gzip" {
			steps = append(steps, struct {
				name string
				fn   func() error
			}{"inflate", func() error { return inflate(gzPath, false) }})
		}
		r := row{name: v.label, target: "≤ 1.2×; RSS ≤ 48 MiB; extra disk 0"}
		if mib > 512 {
			r.target = "RSS ≤ 48 MiB; extra disk 0"
		}
		// Interleaved repetitions, the best of each: the machine is shared.
		stepBest := make([]float64, len(steps))
		var fr flintRun
		alone := 0.0
		fetcher, err := resource.New(resource.Options{})
		if err != nil {
			return nil, err
		}
		for i := range runs {
			for j, st := range steps {
				d, err := timed(st.fn)()
				if err != nil {
					return nil, fmt.Errorf("floor step %s: %w", st.name, err)
				}
				if i == 0 || d < stepBest[j] {
					stepBest[j] = d
				}
			}
			x, err := runFlint(bin, l, fileConfig("/big", url, sum, v.comp))
			if err != nil {
				return nil, err
			}
			if st, err := os.Stat(filepath.Join(l.dir, "big")); err != nil || st.Size() != size {
				return nil, fmt.Errorf("flint wrote %v (%v), want %d bytes", st, err, size)
			}
			if i == 0 || x.secs < fr.secs {
				fr.secs = x.secs
			}
			fr.rssKiB = max(fr.rssKiB, x.rssKiB)
			fr.extra = max(fr.extra, x.extra)
			d, err := fetchAlone(l, fetcher, resource.Source{URL: url, Hash: sum, Compression: v.comp})
			if err != nil {
				return nil, err
			}
			if i == 0 || d < alone {
				alone = d
			}
		}
		var detail []string
		for j, st := range steps {
			detail = append(detail, fmt.Sprintf("%s %.2fs", st.name, stepBest[j]))
			if stepBest[j] > r.floor {
				r.floorName, r.floor = st.name, stepBest[j]
			}
		}
		r.flint, r.rssKiB, r.extra = fr.secs, fr.rssKiB, fr.extra
		r.ratio = r.flint / r.floor
		r.ok = r.rssKiB <= 48<<10 && r.extra < 1<<20 && (mib > 512 || r.ratio <= 1.2)
		r.note = strings.Join(detail, ", ")
		rows = append(rows, r)
		rows = append(rows, row{name: "  resource.FetchInto alone", floorName: r.floorName, target: "(in-process, no files stage)",
			flint: alone, floor: r.floor, ratio: alone / r.floor, ok: true, rssKiB: -1, extra: -1})
		if v.comp == "gzip" {
			var k, s float64
			for i := range runs + 1 {
				dk, err := timed(func() error { return inflate(gzPath, false) })()
				if err != nil {
					return nil, err
				}
				ds, err := timed(func() error { return inflate(gzPath, true) })()
				if err != nil {
					return nil, err
				}
				if i == 0 || dk < k {
					k = dk
				}
				if i == 0 || ds < s {
					s = ds
				}
			}
			rows = append(rows, row{name: "  inflater: compress/gzip", floorName: "klauspost", target: "> 1× (faster)",
				flint: s, floor: k, ratio: s / k, ok: s > k, rssKiB: -1, extra: -1,
				note: fmt.Sprintf("%d MiB out: compress/gzip %.2fs, klauspost %.2fs", mib, s, k)})
		}
	}
	return rows, nil
}

// fetchAlone times resource.FetchInto of src into a new file on l + syncfs,
// in this process: the fetcher's own share of the flint row.
func fetchAlone(l *loopFS, f *resource.Fetcher, src resource.Source) (float64, error) {
	if err := l.clear(); err != nil {
		return 0, err
	}
	start := time.Now()
	fh, err := os.Create(filepath.Join(l.dir, "alone"))
	if err != nil {
		return 0, err
	}
	_, err = f.FetchInto(context.Background(), src, fh)
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = l.syncfs()
	}
	return time.Since(start).Seconds(), err
}

func download(url string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.CopyBuffer(io.Discard, resp.Body, make([]byte, 128<<10))
	return err
}

func hashFile(path string) error {
	fh, err := os.Open(path)
	if err != nil {
		return err
	}
	defer fh.Close()
	// the file is in the page cache: reading costs a memcpy beside hashing
	_, err = io.CopyBuffer(sha512.New(), fh, make([]byte, 128<<10))
	return err
}

func inflate(path string, std bool) error {
	fh, err := os.Open(path)
	if err != nil {
		return err
	}
	defer fh.Close()
	var zr io.Reader
	if std {
		zr, err = stdgzip.NewReader(bufio.NewReaderSize(fh, 64<<10))
	} else {
		zr, err = gzip.NewReader(bufio.NewReaderSize(fh, 64<<10))
	}
	if err != nil {
		return err
	}
	_, err = io.CopyBuffer(io.Discard, zr, make([]byte, 128<<10))
	return err
}

func writeSync(l *loopFS, size int64) error {
	if err := l.clear(); err != nil {
		return err
	}
	path := filepath.Join(l.dir, "w.tmp")
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
	if err := fh.Close(); err != nil {
		return err
	}
	return l.syncfs()
}

// genData writes size bytes of mildly compressible data to path (and, when
// gzPath is set, the gzip stream at the default level) without holding it
// in memory; it returns the sha512 of the data.
func genData(path, gzPath string, size int64) (string, error) {
	fh, err := os.Create(path)
	if err != nil {
		return "", err
	}
	defer fh.Close()
	bw := bufio.NewWriterSize(fh, 1<<20)
	ws := []io.Writer{bw}
	var zw *gzip.Writer
	var zbw *bufio.Writer
	if gzPath != "" {
		zf, err := os.Create(gzPath)
		if err != nil {
			return "", err
		}
		defer zf.Close()
		zbw = bufio.NewWriterSize(zf, 1<<20)
		zw = gzip.NewWriter(zbw)
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

func smallFiles(count, kib int) [][]byte {
	files := make([][]byte, count)
	for i := range files {
		b := make([]byte, kib<<10)
		for j := range b {
			b[j] = byte(i*31 + j*7)
		}
		files[i] = b
	}
	return files
}

// manyRow: flint apply of a config with every small file against one
// sequential fetcher doing the same downloads, hashes and writes.
func manyRow(work, base, bin string, files [][]byte, latency time.Duration, reps int) (row, error) {
	l, err := newLoopFS(work, 1<<30)
	if err != nil {
		return row{}, err
	}
	defer l.close()
	type entry struct {
		Path     string         `json:"path"`
		Contents map[string]any `json:"contents"`
	}
	var es []entry
	var srcs []resource.Source
	for i, b := range files {
		s := sha512.Sum512(b)
		src := resource.Source{URL: fmt.Sprintf("%s/small/%d", base, i), Hash: "sha512-" + hex.EncodeToString(s[:])}
		srcs = append(srcs, src)
		es = append(es, entry{Path: fmt.Sprintf("/many/%d", i), Contents: map[string]any{
			"source": src.URL, "verification": map[string]any{"hash": src.Hash}}})
	}
	cfg, _ := json.Marshal(map[string]any{"ignition": map[string]any{"version": "3.4.0"}, "storage": map[string]any{"files": es}})
	f, err := resource.New(resource.Options{})
	if err != nil {
		return row{}, err
	}
	sequential := func() (float64, error) {
		if err := l.clear(); err != nil {
			return 0, err
		}
		dir := filepath.Join(l.dir, "many")
		os.MkdirAll(dir, 0o755)
		start := time.Now()
		for i, src := range srcs {
			if err := f.FetchToFile(context.Background(), src, filepath.Join(dir, strconv.Itoa(i)), 0o644); err != nil {
				return 0, err
			}
		}
		err := l.syncfs()
		return time.Since(start).Seconds(), err
	}
	var seq, fl float64
	for i := range reps {
		d, err := sequential()
		if err != nil {
			return row{}, err
		}
		r, err := runFlint(bin, l, cfg)
		if err != nil {
			return row{}, err
		}
		if i == 0 || d < seq {
			seq = d
		}
		if i == 0 || r.secs < fl {
			fl = r.secs
		}
	}
	return row{name: fmt.Sprintf("%d × %d KiB remote", len(files), len(files[0])>>10), floorName: "sequential",
		target: "≥ 3× faster", flint: fl, floor: seq, ratio: seq / fl, ok: seq/fl >= 3, rssKiB: -1, extra: -1,
		note: fmt.Sprintf("server latency %s per request; ratio = sequential ÷ flint", latency)}, nil
}

func printTable(rows []row) {
	fmt.Printf("bench/fetch: whole flint apply processes on a fresh loop-mounted ext4, syncfs counted on both sides (%d CPUs)\n\n", numCPU())
	fmt.Printf("%-28s %8s %-11s %8s %7s %9s %10s  %-34s %s\n", "row", "flint s", "floor", "floor s", "ratio", "peak RSS", "extra disk", "target", "")
	for _, r := range rows {
		verdict := "ok"
		if !r.ok {
			verdict = "MISSED"
		}
		if r.name == "binary size" {
			fmt.Printf("%-28s %8s %-11s %8s %7s %9s %10s  %-34s %s  %s\n", r.name, "", "", "", "", "", "", r.target, verdict, r.note)
			summary.Add(r.name, r.note, r.target, r.ok)
			continue
		}
		rss, extra := "", ""
		if r.rssKiB >= 0 {
			rss = fmt.Sprintf("%.1f MiB", float64(r.rssKiB)/1024)
		}
		if r.extra >= 0 {
			extra = fmt.Sprintf("%.1f MiB", float64(r.extra)/(1<<20))
		}
		fmt.Printf("%-28s %8.3f %-11s %8.3f %6.2fx %9s %10s  %-34s %s\n", r.name, r.flint, r.floorName, r.floor, r.ratio, rss, extra, r.target, verdict)
		if !strings.HasPrefix(r.name, " ") { // the indented rows are details
			fig := fmt.Sprintf("%.2fx %s", r.ratio, r.floorName)
			if rss != "" {
				fig += ", RSS " + rss + ", extra disk " + extra
			}
			summary.Add(strings.TrimSpace(r.name), fig, r.target, r.ok)
		}
		if r.note != "" {
			fmt.Printf("%-28s %s\n", "", r.note)
		}
	}
}

func numCPU() int {
	b, _ := os.ReadFile("/proc/cpuinfo")
	return max(1, strings.Count(string(b), "processor\t:"))
}
