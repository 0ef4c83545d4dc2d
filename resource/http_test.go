package resource

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestHTTPDefaultAndUserHeaders(t *testing.T) {
	var got http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		io.WriteString(w, "hello")
	}))
	defer srv.Close()
	f := newFetcher(t, Options{UserAgent: "flint/9.9"})
	b, err := f.FetchBytes(bg(), Source{URL: srv.URL + "/x"}, 0)
	if err != nil || string(b) != "hello" {
		t.Fatalf("got %q, %v", b, err)
	}
	if got.Get("User-Agent") != "flint/9.9" || got.Get("Accept-Encoding") != "identity" || got.Get("Accept") != AcceptHeader {
		t.Fatalf("default headers wrong: %v", got)
	}
	_, err = f.FetchBytes(bg(), Source{URL: srv.URL + "/x", Headers: []Header{{"Accept", "text/plain"}, {"X-Auth", "s3cret"}}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got.Get("Accept") != "text/plain" || got.Get("X-Auth") != "s3cret" || got.Get("User-Agent") != "flint/9.9" {
		t.Fatalf("user headers not applied: %v", got)
	}
	// Headers are refused for other schemes.
	_, err = f.FetchBytes(bg(), Source{URL: "data:,x", Headers: []Header{{"A", "b"}}}, 0)
	if !errors.Is(err, ErrHeadersNotSupported) {
		t.Fatalf("want ErrHeadersNotSupported, got %v", err)
	}
}

func TestHTTPMethodAndBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s", r.Method, b)
	}))
	defer srv.Close()
	f := newFetcher(t, Options{})
	b, err := f.FetchBytes(bg(), Source{URL: srv.URL, Method: "PUT", Body: []byte("tok")}, 0)
	if err != nil || string(b) != "PUT tok" {
		t.Fatalf("got %q, %v", b, err)
	}
}

// TestRedirectHeaders: on the same host a redirect keeps the configured
// headers (Go's default policy); once it leaves the host, or goes from
// https to http, only flint's defaults are sent; Referer never is.
func TestRedirectHeaders(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]http.Header{}
	record := func(name string, w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[name] = r.Header.Clone()
		mu.Unlock()
	}
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		record("other"+r.URL.Path, w, r)
		if r.URL.Path == "/bounce" {
			// back to the first host: the headers stay dropped
			http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
			return
		}
		io.WriteString(w, "elsewhere")
	}))
	defer other.Close()
	mux := http.NewServeMux()
	var srvURL string
	mux.HandleFunc("/a", func(w http.ResponseWriter, r *http.Request) {
		record("a", w, r)
		http.Redirect(w, r, "/b?token=q-canary", http.StatusFound)
	})
	mux.HandleFunc("/b", func(w http.ResponseWriter, r *http.Request) {
		record("b", w, r)
		io.WriteString(w, "moved")
	})
	mux.HandleFunc("/away", func(w http.ResponseWriter, r *http.Request) {
		record("away", w, r)
		http.Redirect(w, r, other.URL+"/c", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/roundtrip", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/bounce?to="+url.QueryEscape(srvURL+"/b"), http.StatusFound)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	srvURL = srv.URL
	f := newFetcher(t, Options{})
	hdrs := []Header{{"X-Secret", "v"}, {"Authorization", "Bearer t"}, {"Cookie", "session=c"}, {"Accept", "text/x-flint"}}
	b, err := f.FetchBytes(bg(), Source{URL: srv.URL + "/a", Headers: hdrs}, 0)
	if err != nil || string(b) != "moved" {
		t.Fatalf("got %q, %v", b, err)
	}
	for _, name := range []string{"a", "b"} {
		h := seen[name]
		if h.Get("X-Secret") != "v" || h.Get("Authorization") != "Bearer t" || h.Get("Cookie") != "session=c" || h.Get("Accept") != "text/x-flint" {
			t.Fatalf("%s: same-host request lacks the configured headers: %v", name, h)
		}
	}
	if seen["b"].Get("Referer") != "" {
		t.Fatalf("Referer sent: %v", seen["b"])
	}
	b, err = f.FetchBytes(bg(), Source{URL: srv.URL + "/away", Headers: hdrs}, 0)
	if err != nil || string(b) != "elsewhere" {
		t.Fatalf("got %q, %v", b, err)
	}
	want := http.Header{"User-Agent": {"flint"}, "Accept-Encoding": {"identity"}, "Accept": {AcceptHeader}}
	checkDefaults := func(name string) {
		t.Helper()
		h := seen[name].Clone()
		if fmt.Sprint(h) != fmt.Sprint(want) {
			t.Fatalf("%s: cross-host request headers %v, want only %v", name, h, want)
		}
	}
	checkDefaults("other/c")
	// leaving the host and coming back: still only the defaults
	delete(seen, "b")
	b, err = f.FetchBytes(bg(), Source{URL: srv.URL + "/roundtrip", Headers: hdrs}, 0)
	if err != nil || string(b) != "moved" {
		t.Fatalf("got %q, %v", b, err)
	}
	checkDefaults("other/bounce")
	checkDefaults("b")
}

// TestRedirectRefusedSchemes: a redirect to anything but http(s) fails at
// once, without retries.
func TestRedirectRefusedSchemes(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Location", strings.TrimPrefix(r.URL.Path, "/to/"))
		w.WriteHeader(http.StatusFound)
	}))
	defer srv.Close()
	f := newFetcher(t, Options{})
	for _, target := range []string{"file:///etc/shadow", "ftp://example.invalid/x", "gopher://h/x", "data:,x"} {
		n.Store(0)
		start := time.Now()
		_, err := f.FetchBytes(bg(), Source{URL: srv.URL + "/to/" + target}, 0)
		mustContain(t, err, "refusing a redirect to a")
		if errors.Is(err, ErrTimeout) || n.Load() != 1 || time.Since(start) > time.Second {
			t.Fatalf("%s: %v after %d requests, %s", target, err, n.Load(), time.Since(start))
		}
	}
	// a redirect loop ends after 10 hops, once
	loop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		http.Redirect(w, r, "/again", http.StatusFound)
	}))
	defer loop.Close()
	n.Store(0)
	_, err := f.FetchBytes(bg(), Source{URL: loop.URL}, 0)
	mustContain(t, err, "stopped after 10 redirects")
	if n.Load() != 10 {
		t.Fatalf("%d requests", n.Load())
	}
}

// TestPermanentErrorsFailAtOnce: with no time limit at all, URLs that can
// never work and final statuses return at once instead of retrying.
func TestPermanentErrorsFailAtOnce(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		code, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
		w.WriteHeader(code)
	}))
	defer srv.Close()
	f := newFetcher(t, Options{})
	for _, c := range []struct{ url, want string }{
		{"http://127.0.0.1:99999/x", `invalid port "99999"`},
		{"https://127.0.0.1:0/x", `invalid port "0"`},
		{"tftp://127.0.0.1:70000/x", `invalid port "70000"`},
		{"http://[::1/x", "parsing source URL"},
		{"http://h:port/x", "parsing source URL"},
		{srv.URL + "/400", "400 Bad Request"},
		{srv.URL + "/401", "401 Unauthorized"},
		{srv.URL + "/403", "403 Forbidden"},
		{srv.URL + "/405", "405 Method Not Allowed"},
		{srv.URL + "/410", "410 Gone"},
		{srv.URL + "/404", "resource not found"},
		{srv.URL + "/301", "301"},
	} {
		n.Store(0)
		start := time.Now()
		ctx, cancel := context.WithTimeout(bg(), 20*time.Second)
		_, err := f.FetchBytes(ctx, Source{URL: c.url}, 0)
		cancel()
		mustContain(t, err, c.want)
		if errors.Is(err, ErrTimeout) || n.Load() > 1 || time.Since(start) > time.Second {
			t.Fatalf("%s: %v after %d requests, %s", c.url, err, n.Load(), time.Since(start))
		}
	}
}

// TestRetryAfter: 429 and 503 with Retry-After (seconds, HTTP date) are
// waited out, with jitter on top; the backoff still applies when longer.
func TestRetryAfter(t *testing.T) {
	var mu sync.Mutex
	var times []time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		times = append(times, time.Now())
		c := len(times)
		mu.Unlock()
		switch c {
		case 1:
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
		case 2:
			w.Header().Set("Retry-After", time.Now().Add(2*time.Second).UTC().Format(http.TimeFormat))
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			io.WriteString(w, "ok")
		}
	}))
	defer srv.Close()
	f := newFetcher(t, Options{})
	b, err := f.FetchBytes(bg(), Source{URL: srv.URL}, 0)
	if err != nil || string(b) != "ok" || len(times) != 3 {
		t.Fatalf("%q %v after %d", b, err, len(times))
	}
	if g := times[1].Sub(times[0]); g < time.Second || g > 1250*time.Millisecond+200*time.Millisecond {
		t.Errorf("Retry-After: 1 gave a gap of %s", g)
	}
	// an HTTP date has one-second resolution: 1-2 s remain
	if g := times[2].Sub(times[1]); g < time.Second || g > 2500*time.Millisecond+200*time.Millisecond {
		t.Errorf("Retry-After date gave a gap of %s", g)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{"": 0, "0": 0, "-3": 0, "7": 7 * time.Second, "junk": 0,
		"Thu, 01 Jan 2026 00:00:30 GMT": 30 * time.Second, "Wed, 31 Dec 2025 23:00:00 GMT": 0} {
		if got := retryAfter(in, now); got != want {
			t.Errorf("retryAfter(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestLimitCapsTotal: Options.Limit bounds a fetch retried for ever by the
// config (no httpTotal), and the smaller of Limit and TotalTimeout wins.
func TestLimitCapsTotal(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer srv.Close()
	for _, c := range []struct{ total, limit, want time.Duration }{
		{0, 800 * time.Millisecond, 800 * time.Millisecond},
		{30 * time.Second, 800 * time.Millisecond, 800 * time.Millisecond},
		{800 * time.Millisecond, 30 * time.Second, 800 * time.Millisecond},
	} {
		f := newFetcher(t, Options{TotalTimeout: c.total, Limit: c.limit})
		start := time.Now()
		_, err := f.FetchBytes(bg(), Source{URL: srv.URL}, 0)
		el := time.Since(start)
		if !errors.Is(err, ErrTimeout) || el < c.want || el > c.want+time.Second {
			t.Fatalf("total %s limit %s: %v after %s", c.total, c.limit, err, el)
		}
		mustContain(t, err, "502 Bad Gateway")
	}
	if d := newFetcher(t, Options{}).Options().ResponseHeaderTimeout; d != 10*time.Second {
		t.Fatalf("default response header timeout %s", d)
	}
	if d := newFetcher(t, Options{ResponseHeaderTimeout: -1}).Options().ResponseHeaderTimeout; d >= 0 {
		t.Fatalf("negative (no limit) became %s", d)
	}
}

func TestHTTPSWithAddedCA(t *testing.T) {
	ca := newTestCA(t)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "secure")
	}))
	srv.TLS = ca.serverConfig(t)
	srv.StartTLS()
	defer srv.Close()

	f := newFetcher(t, Options{TotalTimeout: 700 * time.Millisecond})
	_, err := f.FetchBytes(bg(), Source{URL: srv.URL}, 0)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("want timeout with untrusted cert, got %v", err)
	}
	mustContain(t, err, "certificate")

	if err := f.AddCA([]byte("-----BEGIN CERTIFICATE-----\ngarbage\n")); err == nil || !strings.Contains(err.Error(), "unable to decode PEM block") {
		t.Fatalf("garbage PEM: %v", err)
	}
	if err := f.AddCA(append(append([]byte{}, ca.pem...), "\njunk"...)); err == nil {
		t.Fatal("trailing junk accepted")
	}
	if err := f.AddCA(ca.pem); err != nil {
		t.Fatal(err)
	}
	b, err := f.FetchBytes(bg(), Source{URL: srv.URL}, 0)
	if err != nil || string(b) != "secure" {
		t.Fatalf("got %q, %v", b, err)
	}
	// CAs survive SetOptions.
	if err := f.SetOptions(Options{ResponseHeaderTimeout: time.Second}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.FetchBytes(bg(), Source{URL: srv.URL}, 0); err != nil {
		t.Fatal(err)
	}
}

// testProxy is a forward proxy: absolute-URI GETs and CONNECT tunnels. It
// resolves every host to backend, so names that exist nowhere still work
// and prove the proxy was used.
type testProxy struct {
	backend  string // host:port
	plain    atomic.Int32
	connects atomic.Int32
}

func (p *testProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodConnect {
		p.connects.Add(1)
		up, err := net.Dial("tcp", p.backend)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		hj := w.(http.Hijacker)
		conn, brw, err := hj.Hijack()
		if err != nil {
			up.Close()
			return
		}
		conn.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n"))
		go func() { io.Copy(up, brw); up.Close() }()
		io.Copy(conn, up)
		conn.Close()
		return
	}
	if !r.URL.IsAbs() {
		http.Error(w, "not a proxy request", http.StatusBadRequest)
		return
	}
	p.plain.Add(1)
	out, _ := http.NewRequest(r.Method, "http://"+p.backend+r.URL.RequestURI(), r.Body)
	out.Host = r.Host
	out.Header = r.Header.Clone()
	out.Header.Set("X-Via-Proxy", "yes")
	resp, err := http.DefaultTransport.RoundTrip(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}

func TestProxy(t *testing.T) {
	ca := newTestCA(t)
	var sawProxyHeader atomic.Bool
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Via-Proxy") == "yes" {
			sawProxyHeader.Store(true)
		}
		io.WriteString(w, "via "+r.Host)
	})
	plainSrv := httptest.NewServer(h)
	defer plainSrv.Close()
	tlsSrv := httptest.NewUnstartedServer(h)
	tlsSrv.TLS = ca.serverConfig(t, "secure.flint-test.invalid")
	tlsSrv.StartTLS()
	defer tlsSrv.Close()

	hp := &testProxy{backend: strings.TrimPrefix(plainSrv.URL, "http://")}
	hproxy := httptest.NewServer(hp)
	defer hproxy.Close()
	sp := &testProxy{backend: strings.TrimPrefix(tlsSrv.URL, "https://")}
	sproxy := httptest.NewServer(sp)
	defer sproxy.Close()

	f := newFetcher(t, Options{Proxy: &Proxy{HTTPProxy: hproxy.URL, HTTPSProxy: sproxy.URL, NoProxy: []string{"direct.flint-test.invalid"}}})
	if err := f.AddCA(ca.pem); err != nil {
		t.Fatal(err)
	}
	b, err := f.FetchBytes(bg(), Source{URL: "http://plain.flint-test.invalid/f"}, 0)
	if err != nil || string(b) != "via plain.flint-test.invalid" || hp.plain.Load() != 1 || !sawProxyHeader.Load() {
		t.Fatalf("plain proxy: %q, %v, %d", b, err, hp.plain.Load())
	}
	b, err = f.FetchBytes(bg(), Source{URL: "https://secure.flint-test.invalid/f"}, 0)
	if err != nil || string(b) != "via secure.flint-test.invalid" || sp.connects.Load() != 1 {
		t.Fatalf("CONNECT proxy: %q, %v, %d", b, err, sp.connects.Load())
	}
	// noProxy: goes direct, so the made-up name does not resolve.
	f.SetOptions(Options{TotalTimeout: 500 * time.Millisecond, Proxy: &Proxy{HTTPProxy: hproxy.URL, NoProxy: []string{"direct.flint-test.invalid"}}})
	_, err = f.FetchBytes(bg(), Source{URL: "http://direct.flint-test.invalid/f"}, 0)
	if err == nil || hp.plain.Load() != 1 {
		t.Fatalf("noProxy host went through the proxy: %v, %d", err, hp.plain.Load())
	}
	// Environment variables are never used.
	t.Setenv("HTTP_PROXY", hproxy.URL)
	f.SetOptions(Options{TotalTimeout: 500 * time.Millisecond})
	if _, err := f.FetchBytes(bg(), Source{URL: "http://env.flint-test.invalid/f"}, 0); err == nil || hp.plain.Load() != 1 {
		t.Fatalf("HTTP_PROXY from the environment was used: %v", err)
	}
}

func TestResponseHeaderTimeoutRetries(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			select {
			case <-time.After(3 * time.Second):
			case <-r.Context().Done():
			}
			return
		}
		io.WriteString(w, "late")
	}))
	defer srv.Close()
	f := newFetcher(t, Options{ResponseHeaderTimeout: 300 * time.Millisecond})
	start := time.Now()
	b, err := f.FetchBytes(bg(), Source{URL: srv.URL}, 0)
	if err != nil || string(b) != "late" || n.Load() != 2 {
		t.Fatalf("got %q, %v after %d attempts", b, err, n.Load())
	}
	if time.Since(start) > 2500*time.Millisecond {
		t.Fatalf("response header timeout not applied (took %s)", time.Since(start))
	}
}

// resetServer serves content with Content-Length but breaks the first
// `breaks` connections half-way through the body.
func resetServer(t *testing.T, content []byte, breaks int32) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= breaks {
			conn, brw, err := w.(http.Hijacker).Hijack()
			if err != nil {
				return
			}
			fmt.Fprintf(brw, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", len(content))
			brw.Write(content[:len(content)/2])
			brw.Flush()
			if tc, ok := conn.(*net.TCPConn); ok {
				tc.SetLinger(0) // RST
			}
			conn.Close()
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(content)))
		w.Write(content)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestResetMidBodyRestartsCleanly(t *testing.T) {
	content := pseudo(3 << 20)
	srv, n := resetServer(t, content, 2)
	dir := t.TempDir()
	dst := filepath.Join(dir, "out")
	f := newFetcher(t, Options{})
	if err := f.FetchToFile(bg(), Source{URL: srv.URL, Hash: sha512Of(content)}, dst, 0o640); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(dst)
	if !bytes.Equal(got, content) || n.Load() != 3 {
		t.Fatalf("content mismatch (%d bytes) after %d attempts", len(got), n.Load())
	}
	st, _ := os.Stat(dst)
	if st.Mode().Perm() != 0o640 {
		t.Fatalf("mode %v", st.Mode())
	}
	if names := dirEntries(t, dir); len(names) != 1 {
		t.Fatalf("leftovers: %v", names)
	}
	// FetchBytes restarts as well.
	srv2, _ := resetServer(t, content, 1)
	b, err := f.FetchBytes(bg(), Source{URL: srv2.URL}, 0)
	if err != nil || !bytes.Equal(b, content) {
		t.Fatalf("FetchBytes after reset: %d bytes, %v", len(b), err)
	}
	// A plain writer cannot be rewound once written to: the error is final.
	srv3, n3 := resetServer(t, content, 1)
	var buf bytes.Buffer
	err = f.Fetch(bg(), Source{URL: srv3.URL}, &buf)
	mustContain(t, err, "reading body")
	if n3.Load() != 1 {
		t.Fatalf("plain writer fetch was retried %d times", n3.Load())
	}
}

// A gzip body read from the network goes through a read-ahead: a reset
// half-way is still a transfer error, retried from the start, and
// corrupt data is still final, with the rest of the body never awaited.
func TestGzipBodyErrorsOverHTTP(t *testing.T) {
	content := pseudo(3 << 20)
	packed := gz(t, content)
	srv, n := resetServer(t, packed, 2)
	dir := t.TempDir()
	dst := filepath.Join(dir, "out")
	f := newFetcher(t, Options{})
	if err := f.FetchToFile(bg(), Source{URL: srv.URL, Compression: "gzip", Hash: sha512Of(content)}, dst, 0o644); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, content) || n.Load() != 3 {
		t.Fatalf("content mismatch (%d bytes) after %d attempts", len(got), n.Load())
	}
	if names := dirEntries(t, dir); len(names) != 1 {
		t.Fatalf("leftovers: %v", names)
	}

	// Corrupt data, then a server that never sends the rest: the error
	// comes at once and is not retried.
	bad := bytes.Clone(packed)
	bad[1<<10] ^= 0xff
	var hits atomic.Int32
	release := make(chan struct{})
	stall := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Length", fmt.Sprint(len(bad)))
		w.Write(bad[:len(bad)/2])
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer stall.Close()
	defer close(release)
	done := make(chan error, 1)
	go func() {
		done <- f.FetchToFile(bg(), Source{URL: stall.URL, Compression: "gzip", Hash: sha512Of(content)}, dst, 0o644)
	}()
	select {
	case err := <-done:
		mustContain(t, err, "decompressing")
		if hits.Load() != 1 {
			t.Fatalf("corrupt gzip was fetched %d times", hits.Load())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a corrupt gzip body waited for the rest of a stalled transfer")
	}
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, content) {
		t.Fatal("the failed fetch changed the target")
	}
	if names := dirEntries(t, dir); len(names) != 1 {
		t.Fatalf("leftovers: %v", names)
	}
}

func TestTruncatedBodyNeverSucceeds(t *testing.T) {
	content := pseudo(1 << 20)
	srv, _ := resetServer(t, content, 1<<30)
	dir := t.TempDir()
	dst := filepath.Join(dir, "out")
	f := newFetcher(t, Options{TotalTimeout: time.Second})
	err := f.FetchToFile(bg(), Source{URL: srv.URL}, dst, 0o644)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("want timeout, got %v", err)
	}
	if names := dirEntries(t, dir); len(names) != 0 {
		t.Fatalf("leftovers: %v", names)
	}
}

func TestServerErrorStormThenSuccess(t *testing.T) {
	var n atomic.Int32
	var times []time.Time
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		times = append(times, time.Now())
		mu.Unlock()
		switch c := n.Add(1); {
		case c <= 3:
			w.WriteHeader(http.StatusServiceUnavailable)
		case c == 4:
			w.WriteHeader(http.StatusTooManyRequests)
		default:
			io.WriteString(w, "finally")
		}
	}))
	defer srv.Close()
	logs := captureLog(t)
	f := newFetcher(t, Options{Log: logs.logger})
	b, err := f.FetchBytes(bg(), Source{URL: srv.URL + "/cfg", RetryCodes: []int{429}}, 0)
	if err != nil || string(b) != "finally" || n.Load() != 5 {
		t.Fatalf("got %q, %v after %d", b, err, n.Load())
	}
	// Backoff 200ms, 400ms, 800ms, 1600ms plus jitter in [0, 50%].
	want := []time.Duration{200, 400, 800, 1600}
	for i, w := range want {
		gap := times[i+1].Sub(times[i])
		if gap < w*time.Millisecond || gap > w*time.Millisecond*3/2+150*time.Millisecond {
			t.Errorf("gap %d = %s, want %dms..%dms", i, gap, w, w*3/2)
		}
	}
	for _, s := range []string{"GET " + srv.URL + "/cfg: attempt #1", "attempt #5", "GET result: 503 Service Unavailable", "GET result: 200 OK"} {
		if !strings.Contains(logs.String(), s) {
			t.Errorf("log lacks %q:\n%s", s, logs)
		}
	}
	// A 429 is retried without RetryCodes too (a deliberate difference
	// from Ignition, which gives up: Too Many Requests asks for a retry).
	n.Store(3)
	b, err = f.FetchBytes(bg(), Source{URL: srv.URL}, 0)
	if err != nil || string(b) != "finally" || n.Load() != 5 {
		t.Fatalf("429 without RetryCodes: %q %v after %d", b, err, n.Load())
	}
}

func TestNotFoundAndForbidden(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/forbidden" {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	dir := t.TempDir()
	f := newFetcher(t, Options{})
	err := f.FetchToFile(bg(), Source{URL: srv.URL + "/missing?token=abc"}, filepath.Join(dir, "x"), 0o644)
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("want ErrNotFound, got %v", err)
	}
	mustContain(t, err, srv.URL+"/missing", "resource not found")
	if strings.Contains(err.Error(), "abc") {
		t.Fatalf("error leaks the query: %v", err)
	}
	_, err = f.FetchBytes(bg(), Source{URL: srv.URL + "/forbidden"}, 0)
	if !errors.Is(err, ErrFailed) || errors.Is(err, ErrNotFound) {
		t.Fatalf("want ErrFailed, got %v", err)
	}
	mustContain(t, err, "failed to fetch resource", "403 Forbidden")
	if names := dirEntries(t, dir); len(names) != 0 {
		t.Fatalf("leftovers: %v", names)
	}
}

func TestTotalTimeoutAndDeadline(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()
	f := newFetcher(t, Options{TotalTimeout: 1500 * time.Millisecond})
	start := time.Now()
	_, err := f.FetchBytes(bg(), Source{URL: srv.URL}, 0)
	el := time.Since(start)
	if !errors.Is(err, ErrTimeout) || el < 1400*time.Millisecond || el > 3*time.Second {
		t.Fatalf("got %v after %s", err, el)
	}
	mustContain(t, err, "unable to fetch resource in time", "500 Internal Server Error")
	if n.Load() < 3 {
		t.Fatalf("only %d attempts", n.Load())
	}
	// The caller's deadline works the same way.
	f2 := newFetcher(t, Options{})
	ctx, cancel := context.WithTimeout(bg(), 500*time.Millisecond)
	defer cancel()
	_, err = f2.FetchBytes(ctx, Source{URL: srv.URL}, 0)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("ctx deadline: %v", err)
	}
}

func TestHashAndGzipOverHTTP(t *testing.T) {
	content := pseudo(700 << 10)
	files := map[string][]byte{
		"/plain":   content,
		"/gz":      gz(t, content),
		"/corrupt": func() []byte { b := gz(t, content); b[len(b)/2] ^= 0xff; return b }(),
		"/notgz":   content,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(files[r.URL.Path])
	}))
	defer srv.Close()
	f := newFetcher(t, Options{TotalTimeout: 5 * time.Second})
	dir := t.TempDir()
	cases := []struct {
		name string
		src  Source
		err  string
	}{
		{"sha512 ok", Source{URL: srv.URL + "/plain", Hash: sha512Of(content)}, ""},
		{"sha256 ok", Source{URL: srv.URL + "/plain", Hash: sha256Of(content)}, ""},
		{"gzip sha512 ok", Source{URL: srv.URL + "/gz", Compression: "gzip", Hash: sha512Of(content)}, ""},
		{"sha512 mismatch", Source{URL: srv.URL + "/plain", Hash: sha512Of([]byte("other"))}, "hash verification failed (sha512)"},
		{"sha256 mismatch", Source{URL: srv.URL + "/plain", Hash: sha256Of([]byte("other"))}, "hash verification failed"},
		{"hash of compressed bytes", Source{URL: srv.URL + "/gz", Compression: "gzip", Hash: sha512Of(files["/gz"])}, "hash verification failed"},
		{"corrupt gzip", Source{URL: srv.URL + "/corrupt", Compression: "gzip"}, "decompressing"},
		{"not gzip", Source{URL: srv.URL + "/notgz", Compression: "gzip"}, "decompressing"},
		{"bad hash", Source{URL: srv.URL + "/plain", Hash: "md5-00"}, "unrecognized hash function"},
		{"bad compression", Source{URL: srv.URL + "/plain", Compression: "xz"}, "unsupported compression"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dst := filepath.Join(dir, "target")
			os.WriteFile(dst, []byte("previous"), 0o644)
			err := f.FetchToFile(bg(), c.src, dst, 0o644)
			got, _ := os.ReadFile(dst)
			if c.err == "" {
				if err != nil || !bytes.Equal(got, content) {
					t.Fatalf("%v (%d bytes)", err, len(got))
				}
			} else {
				mustContain(t, err, c.err, srv.URL)
				if string(got) != "previous" {
					t.Fatal("target was modified")
				}
				if errors.Is(err, ErrTimeout) {
					t.Fatal("content error was retried")
				}
			}
			if names := dirEntries(t, dir); len(names) != 1 {
				t.Fatalf("leftovers: %v", names)
			}
		})
	}
	// Streaming Fetch to a writer verifies too.
	var buf bytes.Buffer
	if err := f.Fetch(bg(), Source{URL: srv.URL + "/gz", Compression: "gzip", Hash: sha256Of(content)}, &buf); err != nil || !bytes.Equal(buf.Bytes(), content) {
		t.Fatalf("Fetch: %v", err)
	}
}

func TestLogsAreRedacted(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer srv.Close()
	logs := captureLog(t)
	u, _ := url.Parse(srv.URL)
	u.User = url.UserPassword("admin", "hunter2")
	u.Path = "/c.ign"
	u.RawQuery = "sig=canary-query"
	f := newFetcher(t, Options{TotalTimeout: 600 * time.Millisecond, Log: logs.logger})
	_, err := f.FetchBytes(bg(), Source{URL: u.String(), Headers: []Header{{"Authorization", "canary-header"}}}, 0)
	if err == nil {
		t.Fatal("expected error")
	}
	all := logs.String() + err.Error()
	for _, secret := range []string{"hunter2", "canary-query", "canary-header", "admin"} {
		if strings.Contains(all, secret) {
			t.Fatalf("%q leaked:\n%s", secret, all)
		}
	}
	if !strings.Contains(logs.String(), "GET "+srv.URL+"/c.ign: attempt #1") {
		t.Fatalf("attempt not logged:\n%s", logs)
	}
}

func TestFetchBytesLimit(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(bytes.Repeat([]byte("a"), 1<<20))
	}))
	defer srv.Close()
	f := newFetcher(t, Options{})
	_, err := f.FetchBytes(bg(), Source{URL: srv.URL}, 1000)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("want ErrTooLarge, got %v", err)
	}
	b, err := f.FetchBytes(bg(), Source{URL: srv.URL}, 1<<20)
	if err != nil || len(b) != 1<<20 {
		t.Fatalf("%d, %v", len(b), err)
	}
}

func TestStreamingFetchKeepsGoingPastBuffers(t *testing.T) {
	// A chunked response (no Content-Length) larger than the ring of buffers.
	content := pseudo(5<<20 + 17)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bw := bufio.NewWriterSize(w, 1000)
		for i := 0; i < len(content); i += 77777 {
			bw.Write(content[i:min(i+77777, len(content))])
			bw.Flush()
		}
	}))
	defer srv.Close()
	f := newFetcher(t, Options{})
	var buf bytes.Buffer
	if err := f.Fetch(bg(), Source{URL: srv.URL, Hash: sha512Of(content)}, &buf); err != nil || !bytes.Equal(buf.Bytes(), content) {
		t.Fatalf("%v (%d bytes)", err, buf.Len())
	}
}

// TestFetchInto streams into a caller-owned file: it starts from a clean
// file whatever was in it, a transfer broken mid-body restarts into the
// rewound file (never appended), gzip and hash are checked on the way, and
// the file is neither closed nor renamed.
func TestFetchInto(t *testing.T) {
	content := pseudo(5<<20 + 17)
	srv, n := resetServer(t, content, 2)
	dir := t.TempDir()
	fh, err := os.CreateTemp(dir, ".dest.flint-*")
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	// junk longer than the content, offset in the middle
	fh.Write(bytes.Repeat([]byte("junk"), 2<<20))
	fh.Seek(12345, io.SeekStart)
	f := newFetcher(t, Options{})
	size, err := f.FetchInto(bg(), Source{URL: srv.URL, Hash: sha512Of(content)}, fh)
	if err != nil || size != int64(len(content)) || n.Load() != 3 {
		t.Fatalf("%d bytes, %v after %d attempts", size, err, n.Load())
	}
	if off, _ := fh.Seek(0, io.SeekCurrent); off != size {
		t.Fatalf("offset %d after %d bytes", off, size)
	}
	got, _ := os.ReadFile(fh.Name())
	if !bytes.Equal(got, content) {
		t.Fatalf("content differs (%d bytes)", len(got))
	}
	if names := dirEntries(t, dir); len(names) != 1 {
		t.Fatalf("extra files: %v", names)
	}
	// gzip into the same file again
	zsrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(gz(t, content[:1<<20])) }))
	defer zsrv.Close()
	size, err = f.FetchInto(bg(), Source{URL: zsrv.URL, Compression: "gzip", Hash: sha256Of(content[:1<<20])}, fh)
	if got, _ := os.ReadFile(fh.Name()); err != nil || size != 1<<20 || !bytes.Equal(got, content[:1<<20]) {
		t.Fatalf("gzip: %d bytes, %v", size, err)
	}
	// a hash mismatch is an error; the caller removes the file
	if _, err := f.FetchInto(bg(), Source{URL: zsrv.URL, Compression: "gzip", Hash: sha256Of(nil)}, fh); !errors.Is(err, ErrHashMismatch) {
		t.Fatalf("hash: %v", err)
	}
	// a read-only file is refused before any request
	ro, _ := os.Open(fh.Name())
	defer ro.Close()
	if _, err := f.FetchInto(bg(), Source{URL: zsrv.URL}, ro); err == nil {
		t.Fatal("read-only file accepted")
	}
}

// TestProgressLog: a slow download logs bytes, share, rate and time left
// every interval, then its total, through the given logger, with the
// source redacted; without a Content-Length it logs bytes and rate.
func TestProgressLog(t *testing.T) {
	content := pseudo(3 << 20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/sized" {
			w.Header().Set("Content-Length", strconv.Itoa(len(content)))
		}
		for off := 0; off < len(content); off += 128 << 10 {
			w.Write(content[off : off+128<<10])
			w.(http.Flusher).Flush()
			time.Sleep(40 * time.Millisecond) // about 3 MiB/s
		}
	}))
	defer srv.Close()
	logs := captureLog(t)
	f := newFetcher(t, Options{Log: logs.logger, ProgressInterval: 200 * time.Millisecond})
	u, _ := url.Parse(srv.URL + "/sized?sig=q-canary")
	u.User = url.UserPassword("user", "pw-canary")
	out := filepath.Join(t.TempDir(), "out")
	if err := f.FetchToFile(bg(), Source{URL: u.String(), Hash: sha512Of(content)}, out, 0o644); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "MiB") {
			lines = append(lines, l)
		}
	}
	if len(lines) < 3 {
		t.Fatalf("too few progress lines:\n%s", logs)
	}
	first := lines[0]
	t.Logf("e.g. %s\n%s", first, lines[len(lines)-1])
	for _, s := range []string{srv.URL + "/sized: ", " of 3.0 MiB (", "%) at ", " MiB/s, about ", "s left"} {
		if !strings.Contains(first, s) {
			t.Fatalf("progress line %q lacks %q", first, s)
		}
	}
	if last := lines[len(lines)-1]; !strings.Contains(last, ": 3.0 MiB in ") {
		t.Fatalf("no total line: %q", last)
	}
	if strings.Contains(logs.String(), "canary") {
		t.Fatalf("secret in the log:\n%s", logs)
	}
	// size unknown (chunked)
	logs2 := captureLog(t)
	f2 := newFetcher(t, Options{Log: logs2.logger, ProgressInterval: 200 * time.Millisecond})
	if _, err := f2.FetchBytes(bg(), Source{URL: srv.URL + "/chunked"}, 0); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs2.String(), "MiB/s") || strings.Contains(logs2.String(), " of ") {
		t.Fatalf("chunked progress:\n%s", logs2)
	}
	// a fast fetch logs no progress at all, and negative turns it off
	logs3 := captureLog(t)
	f3 := newFetcher(t, Options{Log: logs3.logger, ProgressInterval: -1})
	if _, err := f3.FetchBytes(bg(), Source{URL: srv.URL + "/sized"}, 0); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs3.String(), "MiB") {
		t.Fatalf("progress logged though disabled:\n%s", logs3)
	}
}
