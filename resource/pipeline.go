package resource

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/gzip"
	"golang.org/x/sys/unix"

	"github.com/flintboot/flint/log"
)

// sink receives the decompressed content; reset rewinds it for a clean
// retry and reports whether it could.
type sink interface {
	io.Writer
	reset() bool
}

type plainSink struct {
	w io.Writer
	n int64
}

func (s *plainSink) Write(p []byte) (int, error) {
	n, err := s.w.Write(p)
	s.n += int64(n)
	return n, err
}
func (s *plainSink) reset() bool { return s.n == 0 }

type bufSink struct {
	buf   []byte
	limit int64
}

func (s *bufSink) Write(p []byte) (int, error) {
	if s.limit > 0 && int64(len(s.buf)+len(p)) > s.limit {
		return 0, fmt.Errorf("%w (%d bytes)", ErrTooLarge, s.limit)
	}
	s.buf = append(s.buf, p...)
	return len(p), nil
}
func (s *bufSink) reset() bool { s.buf = s.buf[:0]; return true }

// fileSink writes the destination file. Every writebackChunk bytes it
// asks its flusher goroutine to start writeback of what was written
// (sync_file_range without waiting), so disk I/O overlaps the download,
// the caller's final syncfs has little left to do and dirty page cache
// (RAM in an initramfs) is cleaned as fast as the disk allows. Every
// durableChunk bytes the flusher also flushes the file's data to stable
// storage (fdatasync): a device that buffers writes itself (a VM disk
// with a write-back host cache, a loop device) otherwise holds a whole
// large file until the final syncfs and writes it out only then, after
// the transfer, where nothing overlaps it. A file shorter than
// durableChunk is never flushed on its own: the stage's syncfs covers it.
// Submitting writeback costs real CPU (block allocation, building the
// I/O) and can block on a busy queue: on its own goroutine it never
// stalls the writes. The kernel's own dirty limits throttle a writer that
// outruns the disk.
type fileSink struct {
	f      *os.File
	n      int64
	kicked int64      // bytes handed to the flusher so far
	flush  chan int64 // end offsets to start writeback up to
	done   chan struct{}
}

const (
	writebackChunk = 8 << 20
	durableChunk   = 32 << 20
)

func (s *fileSink) Write(p []byte) (int, error) {
	n, err := s.f.Write(p)
	s.n += int64(n)
	if s.n-s.kicked >= writebackChunk {
		if s.flush == nil {
			s.startFlusher()
		}
		select {
		case s.flush <- s.n:
			s.kicked = s.n
		default: // busy: the next kick covers this range too
		}
	}
	return n, err
}

func (s *fileSink) startFlusher() {
	s.flush = make(chan int64, 1)
	s.done = make(chan struct{})
	fd := int(s.f.Fd())
	go func() {
		defer close(s.done)
		from := int64(0)
		for end := range s.flush {
			if end < from { // rewound for a retry
				from = 0
			}
			// Best effort: an error (no support) only loses the overlap;
			// the caller's syncfs still reports write failures.
			unix.SyncFileRange(fd, from, end-from, unix.SYNC_FILE_RANGE_WRITE)
			if end/durableChunk > from/durableChunk {
				unix.Fdatasync(fd)
			}
			from = end
		}
	}()
}

// stop ends the flusher (after its last submission).
func (s *fileSink) stop() {
	if s.flush != nil {
		close(s.flush)
		<-s.done
		s.flush = nil
	}
}

func (s *fileSink) reset() bool {
	if s.n == 0 {
		return true
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return false
	}
	if err := s.f.Truncate(0); err != nil {
		return false
	}
	s.n, s.kicked = 0, 0
	return true
}

// transientError marks a failure worth another attempt; after is the
// server's Retry-After, if any.
type transientError struct {
	err   error
	after time.Duration
}

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

func transient(err error) error { return &transientError{err: err} }

// checkPort refuses a port no connection can use (e.g. 99999): final.
func checkPort(u *url.URL) error {
	p := u.Port()
	if p == "" {
		return nil
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("invalid port %q", p)
	}
	return nil
}

// hashSpec is a parsed Source.Hash.
type hashSpec struct {
	name string
	want string
	new  func() hash.Hash
}

func parseHash(s string) (*hashSpec, error) {
	if s == "" {
		return nil, nil
	}
	name, sum, ok := strings.Cut(s, "-")
	if !ok {
		return nil, fmt.Errorf("malformed hash %q", s)
	}
	var h hashSpec
	switch name {
	case "sha512":
		h = hashSpec{name: name, new: sha512.New}
	case "sha256":
		h = hashSpec{name: name, new: sha256.New}
	default:
		return nil, fmt.Errorf("unrecognized hash function %q", name)
	}
	raw, err := hex.DecodeString(sum)
	if err != nil || len(raw) != h.new().Size() {
		return nil, fmt.Errorf("malformed %s hash", name)
	}
	h.want = strings.ToLower(sum)
	return &h, nil
}

func redact(u string) string {
	if u == "" {
		return "<empty source>"
	}
	return log.Redact(u)
}

// fetch validates src, picks the scheme and runs the attempt loop.
func (f *Fetcher) fetch(ctx context.Context, src Source, s sink) error {
	opts, client := f.state()
	red := redact(src.URL)
	hs, err := parseHash(src.Hash)
	if err != nil {
		return fmt.Errorf("%s: %w", red, err)
	}
	switch src.Compression {
	case "", "gzip":
	default:
		return fmt.Errorf("%s: unsupported compression %q", red, src.Compression)
	}
	if src.URL == "" {
		return finish(red, hs, s, nil)
	}
	u, err := url.Parse(src.URL)
	if err != nil {
		return fmt.Errorf("parsing source URL %s: %w", red, err)
	}
	if len(src.Headers) > 0 && u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%s: %w", red, ErrHeadersNotSupported)
	}
	switch u.Scheme {
	case "http", "https", "gs", "tftp", "s3", "arn", "data", "file", "oem":
	default:
		return fmt.Errorf("%s: %w %q", red, ErrUnsupportedScheme, u.Scheme)
	}
	if opts.Offline && NeedsNetwork(src.URL) {
		return fmt.Errorf("%s: %w", red, ErrNeedNet)
	}
	if err := checkPort(u); err != nil {
		return fmt.Errorf("%s: %w", red, err)
	}
	var open opener
	switch u.Scheme {
	case "http", "https":
		open = f.httpOpener(client, opts, u, src)
	case "gs":
		open, err = f.gsOpener(client, opts, u, src)
	case "tftp":
		open = tftpOpener(u)
	case "s3", "arn":
		if src.Compression != "" {
			return fmt.Errorf("%s: %w", red, ErrCompressionNotSupported)
		}
		open, err = f.s3Opener(client, opts, src.URL)
	case "data":
		open, err = dataOpener(src.URL)
	case "file":
		open, err = fileOpener(u)
	case "oem":
		open, err = oemOpener(opts, u)
	default:
		return fmt.Errorf("%s: %w %q", red, ErrUnsupportedScheme, u.Scheme)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", red, err)
	}
	if limit := boundOf(opts.TotalTimeout, opts.Limit); limit > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, limit)
		defer cancel()
	}
	return f.retry(ctx, opts.logger(), red, func(ctx context.Context, attempt int) error {
		body, err := open(ctx, attempt)
		if err != nil {
			return err
		}
		defer body.Close()
		var pr *progress
		if every := opts.progressEvery(); every > 0 {
			pr = &progress{log: opts.logger(), red: red, every: every, size: -1}
			if sb, ok := body.(*sizedBody); ok {
				pr.size = sb.size
			}
		}
		return process(red, body, src.Compression, NeedsNetwork(src.URL), hs, s, pr, f.chunks)
	})
}

// boundOf is the smaller of the positive durations (0 when neither is).
func boundOf(a, b time.Duration) time.Duration {
	switch {
	case a <= 0:
		return max(b, 0)
	case b <= 0:
		return a
	}
	return min(a, b)
}

// opener starts one attempt and returns the raw (still compressed) body.
// Errors worth retrying are wrapped with transient.
type opener func(ctx context.Context, attempt int) (io.ReadCloser, error)

// retry runs attempt until it succeeds, fails permanently or ctx expires.
// Backoff starts at 200ms, doubles, is capped at 5s, plus up to 50% jitter;
// a server's Retry-After (capped at maxRetryAfter) is waited out when it is
// longer, plus up to 25% jitter so that a fleet told the same delay does not
// come back at the same instant. Only ctx (TotalTimeout, Limit, the
// caller's deadline) ends retrying: permanent errors return at once.
func (f *Fetcher) retry(ctx context.Context, lg *log.Logger, red string, attempt func(context.Context, int) error) error {
	const (
		first = 200 * time.Millisecond
		limit = 5 * time.Second
	)
	delay := first
	var last error
	for n := 1; ; n++ {
		if ctx.Err() != nil {
			return timeoutErr(ctx, last)
		}
		err := attempt(ctx, n)
		if err == nil {
			return nil
		}
		var te *transientError
		if !errors.As(err, &te) {
			return err
		}
		last = te.err
		if ctx.Err() != nil {
			return timeoutErr(ctx, last)
		}
		wait := delay + rand.N(delay/2+1)
		if ra := min(te.after, maxRetryAfter); ra > 0 {
			wait = max(wait, ra+rand.N(ra/4+1))
		}
		lg.Info("%s: attempt #%d failed, retrying in %s: %v", red, n, wait.Round(time.Millisecond), last)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return timeoutErr(ctx, last)
		case <-t.C:
		}
		delay = min(delay*2, limit)
	}
}

func timeoutErr(ctx context.Context, last error) error {
	if last == nil {
		last = ctx.Err()
	}
	if errors.Is(ctx.Err(), context.Canceled) && !errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
		return fmt.Errorf("fetch canceled: %w", last)
	}
	return fmt.Errorf("%w: %w", ErrTimeout, last)
}

// trackReader remembers a read error of the raw source, to tell a broken
// transfer (retryable) from corrupt content (final), and reports progress.
type trackReader struct {
	r   io.Reader
	err error
	pr  *progress
}

func (t *trackReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && err != io.EOF {
		t.err = err
	}
	if t.pr != nil {
		t.pr.add(n)
	}
	return n, err
}

// sizedBody is a response body whose length the server announced.
type sizedBody struct {
	io.ReadCloser
	size int64
}

// withSize wraps an HTTP body with its Content-Length (-1: unknown).
func withSize(body io.ReadCloser, size int64) io.ReadCloser {
	return &sizedBody{ReadCloser: body, size: size}
}

// progress logs a long transfer every few seconds: bytes of the raw
// (possibly compressed) stream, rate and, when the size is known, the
// share done and the time left. Sources are the redacted ones.
type progress struct {
	log    *log.Logger
	red    string
	every  time.Duration
	size   int64 // -1: unknown
	start  time.Time
	last   time.Time
	n      int64
	logged bool
}

func (p *progress) add(n int) {
	now := time.Now()
	if p.start.IsZero() {
		p.start, p.last = now, now
	}
	p.n += int64(n)
	if now.Sub(p.last) < p.every {
		return
	}
	p.last = now
	p.logged = true
	el := now.Sub(p.start).Seconds()
	rate := float64(p.n) / max(el, 1e-9)
	msg := fmt.Sprintf("%s: %s", p.red, mib(p.n))
	if p.size > 0 {
		msg += fmt.Sprintf(" of %s (%d%%)", mib(p.size), p.n*100/max(p.size, 1))
	}
	msg += fmt.Sprintf(" at %s/s", mib(int64(rate)))
	if p.size > 0 && p.n < p.size && rate > 0 {
		left := time.Duration(float64(p.size-p.n) / rate * float64(time.Second))
		msg += fmt.Sprintf(", about %s left", left.Round(time.Second))
	}
	p.log.Info("%s", msg)
}

// done logs the total of a transfer that logged progress.
func (p *progress) done() {
	if p == nil || !p.logged {
		return
	}
	el := time.Since(p.start)
	p.log.Info("%s: %s in %s (%s/s)", p.red, mib(p.n), el.Round(100*time.Millisecond),
		mib(int64(float64(p.n)/max(el.Seconds(), 1e-9))))
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// process runs one attempt's content through decompression, hashing and
// the sink. remote tells a body read from the network.
func process(red string, body io.Reader, compression string, remote bool, hs *hashSpec, s sink, pr *progress, budget *chunkBudget) error {
	if !s.reset() {
		return fmt.Errorf("%s: cannot restart a partially written transfer", red)
	}
	raw := body
	if compression == "gzip" && remote {
		// Receiving from a socket charges the kernel's TCP work to the
		// reading thread: 100-300 ms per 256 MiB on the inflater's, the
		// step that bounds the transfer. Another thread takes that part.
		ra := newReadAhead(body)
		defer ra.stop()
		raw = ra
	}
	tr := &trackReader{r: raw, pr: pr}
	var r io.Reader = tr
	if compression == "gzip" {
		// The inflater reads through a large buffer: fewer, bigger reads
		// of the socket than its own 4 KiB one.
		zr, err := gzip.NewReader(bufio.NewReaderSize(tr, 64<<10))
		if err != nil {
			return contentErr(red, tr, s, fmt.Errorf("decompressing: %w", err))
		}
		defer zr.Close()
		r = zr
	}
	var h hash.Hash
	if hs != nil {
		h = hs.new()
	}
	// the step that bounds a long transfer: inflating, else hashing
	lead := leadNone
	switch {
	case compression == "gzip":
		lead = leadRead
	case h != nil:
		lead = leadHash
	}
	if err := pump(r, h, s, budget, lead); err != nil {
		var we *writeError
		if errors.As(err, &we) {
			return fmt.Errorf("%s: %w", red, we.err)
		}
		if compression == "gzip" && tr.err == nil {
			err = fmt.Errorf("decompressing: %w", err)
		}
		return contentErr(red, tr, s, err)
	}
	pr.done()
	return finish(red, hs, s, h)
}

// contentErr classifies a failure while reading: a transfer error is
// transient when the sink can be rewound; anything else is final.
func contentErr(red string, tr *trackReader, s sink, err error) error {
	if tr.err != nil {
		e := fmt.Errorf("%s: reading body: %w", red, tr.err)
		if s.reset() {
			return transient(e)
		}
		return e
	}
	return fmt.Errorf("%s: %w", red, err)
}

func finish(red string, hs *hashSpec, s sink, h hash.Hash) error {
	if hs == nil {
		return nil
	}
	if h == nil {
		h = hs.new()
	}
	got := hex.EncodeToString(h.Sum(nil))
	if got != hs.want {
		// neither hash is printed: the contents may be a secret
		return fmt.Errorf("%s: %w (%s)", red, ErrHashMismatch, hs.name)
	}
	return nil
}

type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }

// The ring between reading, hashing and writing holds chunks of
// chunkSize bytes: chunksMin per fetch, always, and as many more (up to
// chunksMax) as the fetcher's shared budget of spare chunks allows, taken
// when the reader finds the ring full. A deep ring lets each step run on
// through the others' stalls (the writer waiting on the journal or on
// dirty-page throttling, the hasher descheduled): with only a few chunks
// a 1 ms stall of the writer stops the hash too. The budget bounds the
// memory of many large fetches at once.
const (
	chunkSize   = 128 << 10
	chunksMin   = 4
	chunksMax   = 64  // 8 MiB per fetch
	chunksSpare = 128 // 16 MiB beyond chunksMin, shared by a Fetcher's fetches
)

var chunkPool = sync.Pool{New: func() any { return &chunk{b: make([]byte, chunkSize)} }}

type chunk struct {
	b    []byte
	n    int
	refs atomic.Int32
}

// chunkBudget is the number of spare chunks a Fetcher's fetches may still
// take beyond chunksMin each.
type chunkBudget struct{ left atomic.Int32 }

func newChunkBudget() *chunkBudget {
	b := &chunkBudget{}
	b.left.Store(chunksSpare)
	return b
}

func (b *chunkBudget) take() bool {
	if b.left.Add(-1) >= 0 {
		return true
	}
	b.left.Add(1)
	return false
}

func (b *chunkBudget) give(n int) { b.left.Add(int32(n)) }

// lead names the step of a pump that bounds its speed: it gets priority
// (boost) once the transfer is long enough to matter.
type lead int

const (
	leadNone lead = iota
	leadRead      // reading, i.e. inflating
	leadHash
)

// boostAfter is how much the lead step must have processed before it
// asks for priority: small files never pay for it.
const boostAfter = 4 << 20

// boost locks the calling goroutine to its thread and raises that thread
// 10 nice levels above where it was (at most to -20); undo restores both.
// A long transfer is as fast as its slowest step, which has a CPU's worth
// of work; the other steps are short bursts (a copy into or out of the
// kernel) that wake up thousands of times. On a machine with few CPUs the
// kernel otherwise runs those bursts on the lead step's CPU as often as on
// the idle one, and the transfer loses a quarter of its speed to it (a
// 256 MiB hashed download on 2 vCPUs: 1.5× the hash alone, 1.15× with
// this). The others still run: the lead step waits for them whenever the
// ring is empty or full. Without the privilege (CAP_SYS_NICE) nothing
// changes.
func boost() (undo func()) {
	runtime.LockOSThread()
	tid := unix.Gettid()
	raw, err := unix.Getpriority(unix.PRIO_PROCESS, tid) // 20 - nice
	if err == nil {
		nice := 20 - raw
		if unix.Setpriority(unix.PRIO_PROCESS, tid, max(nice-10, -20)) == nil {
			return func() {
				unix.Setpriority(unix.PRIO_PROCESS, tid, nice)
				runtime.UnlockOSThread()
			}
		}
	}
	runtime.UnlockOSThread()
	return func() {}
}

// pump copies r to w, hashing into h when non-nil. Reading (and
// decompressing), hashing and writing run on their own goroutines over a
// ring of chunks, so a fetch costs about as much as its slowest step, not
// the sum of them; that step (lead) gets priority once the transfer is
// long. Memory: chunksMin to chunksMax chunks (see above).
func pump(r io.Reader, h hash.Hash, w io.Writer, budget *chunkBudget, lead lead) error {
	free := make(chan *chunk, chunksMax)
	for range chunksMin {
		free <- chunkPool.Get().(*chunk)
	}
	owned := chunksMin
	refs := int32(1)
	var hashCh chan *chunk
	if h != nil {
		refs = 2
		hashCh = make(chan *chunk, chunksMax)
	}
	writeCh := make(chan *chunk, chunksMax)
	release := func(c *chunk) {
		if c.refs.Add(-1) == 0 {
			free <- c
		}
	}
	var failed atomic.Bool
	var werr error
	var wg sync.WaitGroup
	if h != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var done int64
			boosted := lead != leadHash
			for c := range hashCh {
				n := c.n
				h.Write(c.b[:n])
				release(c) // c may be refilled from here on
				if done += int64(n); !boosted && done >= boostAfter {
					boosted = true
					defer boost()()
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for c := range writeCh {
			if werr == nil {
				if _, err := w.Write(c.b[:c.n]); err != nil {
					werr = err
					failed.Store(true)
				}
			}
			release(c)
		}
	}()
	var rerr error
	var read int64
	boosted := lead != leadRead
	for !failed.Load() {
		var c *chunk
		select {
		case c = <-free:
		default:
			if owned < chunksMax && budget.take() {
				c = chunkPool.Get().(*chunk)
				owned++
			} else {
				c = <-free
			}
		}
		n, err := fill(r, c.b)
		if read += int64(n); !boosted && read >= boostAfter {
			boosted = true
			defer boost()()
		}
		if n > 0 {
			c.n = n
			c.refs.Store(refs)
			if hashCh != nil {
				hashCh <- c
			}
			writeCh <- c
		} else {
			free <- c
		}
		if err != nil {
			if err != io.EOF {
				rerr = err
			}
			break
		}
	}
	if hashCh != nil {
		close(hashCh)
	}
	close(writeCh)
	wg.Wait()
	for range owned {
		chunkPool.Put(<-free)
	}
	budget.give(owned - chunksMin)
	if werr != nil {
		return &writeError{werr}
	}
	return rerr
}

// readAhead reads a source on its own goroutine, up to readAheadChunks
// chunks ahead of its one reader. Each Read of the source fills a chunk;
// the source's error (io.EOF included) reaches the reader after the data
// before it, and nothing after it is read. The goroutine touches only the
// source: progress and error tracking stay with the reader. A reader that
// gives up calls stop; a Read of the source still under way then ends
// with the caller's Close of the source.
type readAhead struct {
	full chan aheadChunk
	free chan *chunk
	quit chan struct{}
	cur  *chunk // being read from, up to off
	off  int
	err  error // the source's error, once the reader reached it
}

type aheadChunk struct {
	c   *chunk
	err error
}

const readAheadChunks = 4

func newReadAhead(src io.Reader) *readAhead {
	ra := &readAhead{
		full: make(chan aheadChunk, readAheadChunks),
		free: make(chan *chunk, readAheadChunks),
		quit: make(chan struct{}),
	}
	for range readAheadChunks {
		ra.free <- chunkPool.Get().(*chunk)
	}
	go func() {
		for {
			var c *chunk
			select {
			case c = <-ra.free:
			case <-ra.quit:
				return
			}
			n, err := src.Read(c.b)
			c.n = n
			select {
			case ra.full <- aheadChunk{c, err}:
			case <-ra.quit:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return ra
}

func (ra *readAhead) Read(p []byte) (int, error) {
	for ra.cur == nil || ra.off == ra.cur.n {
		if ra.cur != nil {
			ra.free <- ra.cur // never blocks: the chunk came from free
			ra.cur = nil
		}
		if ra.err != nil {
			return 0, ra.err
		}
		m := <-ra.full
		ra.cur, ra.off, ra.err = m.c, 0, m.err
	}
	n := copy(p, ra.cur.b[ra.off:ra.cur.n])
	ra.off += n
	return n, nil
}

// stop ends the read-ahead. Once the reader has reached the source's
// error the goroutine is done, every chunk but cur is back in free (the
// error came last), and all go back to the pool; before that they are
// left to the collector, since one may still be filling.
func (ra *readAhead) stop() {
	close(ra.quit)
	if ra.err == nil {
		return
	}
	if ra.cur != nil {
		ra.free <- ra.cur
		ra.cur = nil
	}
	for range readAheadChunks {
		chunkPool.Put(<-ra.free)
	}
}

// fill reads until b is full or r fails; io.EOF is returned only at the end.
func fill(r io.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := r.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
