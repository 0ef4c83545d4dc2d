// Package resource is flint's one fetcher. It turns a source URL (http,
// https, tftp, s3, arn, gs, data, oem, file or the empty source) into a byte
// stream, decompressing and verifying it on the way, with retries, proxies,
// custom CAs and timeouts. It streams: memory use does not grow with the size
// of what is fetched.
//
// The package knows nothing about configs, stages or platforms: callers hand
// it plain Source and Options values.
package resource

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/flintboot/flint/log"
)

// Header is one HTTP request header.
type Header struct{ Name, Value string }

// Source describes one thing to fetch.
type Source struct {
	// URL: http, https, tftp, s3 (?versionId=), arn (bucket and access point
	// ARNs), gs, data, "" (empty content), oem:///path, file:///abs/path.
	URL string
	// Headers are only allowed for http and https.
	Headers []Header
	// Compression is "" or "gzip" (not allowed with s3 and arn).
	Compression string
	// Hash is "" or "<function>-<hex>" (sha512, sha256), computed over the
	// decompressed stream.
	Hash string

	// Method is the HTTP verb (default GET; PUT for IMDS tokens).
	Method string
	// RetryCodes are HTTP status codes retried like 5xx (e.g. Azure 404/410/429).
	RetryCodes []int
	// Body is an optional request body, resent on every attempt.
	Body []byte
}

// Proxy is the ignition.proxy section. Environment variables are never used.
type Proxy struct {
	HTTPProxy  string
	HTTPSProxy string
	NoProxy    []string
}

// Options configure a Fetcher. The zero value is usable.
type Options struct {
	// ResponseHeaderTimeout bounds each HTTP attempt until response headers
	// arrive: 0 means DefaultResponseHeaderTimeout (Ignition's default of
	// timeouts.httpResponseHeaders), a negative value no limit.
	ResponseHeaderTimeout time.Duration
	// TotalTimeout bounds a whole fetch including retries: the config's
	// timeouts.httpTotal (0 = none, Ignition's semantics; the caller's ctx
	// deadline applies as well).
	TotalTimeout time.Duration
	// Limit caps every fetch, retries included, whatever TotalTimeout says:
	// the bound is the smaller of the two that are set (0 = no cap).
	// flint apply sets it (DefaultApplyLimit unless told otherwise) so that
	// no resource is retried for ever; flint run leaves it 0.
	Limit time.Duration
	// Proxy, when set, chooses the proxy of each request (see proxyFunc).
	Proxy *Proxy
	// Offline makes every source that needs the network fail with ErrNeedNet.
	Offline bool
	// UserAgent defaults to "flint".
	UserAgent string

	// S3Endpoint overrides the S3 endpoint (path-style addressing); tests and
	// S3-compatible stores.
	S3Endpoint string
	// S3RegionHint is the region asked first when discovering a bucket's
	// region (the aws provider sets it from IMDS); default us-east-1.
	S3RegionHint string
	// AWSCredentials signs S3 requests; nil means anonymous. When retrieving
	// credentials fails the fetch falls back to anonymous.
	AWSCredentials AWSCredentialsFunc
	// GCSEndpoint defaults to https://storage.googleapis.com.
	GCSEndpoint string
	// GCSToken, when set, returns an OAuth2 access token sent as
	// "Authorization: Bearer <token>" for gs:// sources. An error or an empty
	// token means anonymous.
	GCSToken func(ctx context.Context) (string, error)
	// OEMLookasideDir is searched first for oem:// sources; default /oem,
	// or $FLINT_OEM_LOOKASIDE_DIR.
	OEMLookasideDir string
	// OEMDevice is mounted read-only when the lookaside dir lacks the file;
	// default /dev/disk/by-label/OEM, or $FLINT_OEM_DEVICE.
	OEMDevice string
	// DialContext replaces the network dialer (tests route names to loopback).
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// Log receives the fetcher's progress and retry lines (sources
	// redacted); nil discards them.
	Log *log.Logger
	// ProgressInterval is how often a long transfer logs its bytes, rate
	// and time left (0: every 5 s; negative: never).
	ProgressInterval time.Duration
}

// progressEvery is the progress interval in effect (0: none).
func (o *Options) progressEvery() time.Duration {
	switch {
	case o.ProgressInterval < 0:
		return 0
	case o.ProgressInterval == 0:
		return 5 * time.Second
	}
	return o.ProgressInterval
}

// logger returns o.Log (a nil *log.Logger discards).
func (o *Options) logger() *log.Logger { return o.Log }

var (
	// ErrNeedNet is returned in offline mode for sources that need the network.
	ErrNeedNet = errors.New("resource requires networking")
	// ErrNotFound is an HTTP 404 (or a missing TFTP/S3/local file).
	ErrNotFound = errors.New("resource not found")
	// ErrFailed is a non-retryable failure status (4xx other than 404).
	ErrFailed = errors.New("failed to fetch resource")
	// ErrTimeout is returned when the total timeout or ctx deadline expires
	// while retrying; the last attempt's error is wrapped too.
	ErrTimeout = errors.New("unable to fetch resource in time")
	// ErrHashMismatch is a verification failure.
	ErrHashMismatch = errors.New("hash verification failed")
	// ErrUnsupportedScheme is an unknown URL scheme.
	ErrUnsupportedScheme = errors.New("unsupported source scheme")
	// ErrCompressionNotSupported is compression with s3/arn.
	ErrCompressionNotSupported = errors.New("compression is not supported with that scheme")
	// ErrHeadersNotSupported is httpHeaders with a non-HTTP scheme.
	ErrHeadersNotSupported = errors.New("headers are only supported with http and https")
	// ErrTooLarge is FetchBytes' limit being exceeded.
	ErrTooLarge = errors.New("resource exceeds the size limit")
)

const (
	// DefaultResponseHeaderTimeout is the per-attempt bound on waiting for
	// response headers when the config sets none (Ignition's default).
	DefaultResponseHeaderTimeout = 10 * time.Second
	// DefaultApplyLimit is the default of Options.Limit for
	// flint apply: long enough for a slow mirror of a large image, short
	// enough that a resource that never answers fails the run.
	DefaultApplyLimit = 5 * time.Minute
	// maxRetryAfter caps how long a Retry-After header can make one wait.
	maxRetryAfter = 2 * time.Minute
)

// AcceptHeader is sent with every HTTP fetch unless overridden.
const AcceptHeader = "application/vnd.coreos.ignition+json;version=3.6.0, application/vnd.flint+json, */*;q=0.1"

// Fetcher fetches sources. It is safe for concurrent use; SetOptions and
// AddCA may be called between fetches.
type Fetcher struct {
	mu     sync.RWMutex
	opts   Options
	cas    []*x509.Certificate
	client *http.Client
	chunks *chunkBudget // spare pipeline chunks shared by its fetches
}

// New returns a Fetcher for opts.
func New(opts Options) (*Fetcher, error) {
	f := &Fetcher{chunks: newChunkBudget()}
	if err := f.SetOptions(opts); err != nil {
		return nil, err
	}
	return f, nil
}

// SetOptions replaces the options (timeouts, proxy, ...) keeping the CAs
// added so far. Used when an intermediate config changes ignition.timeouts
// or ignition.proxy.
func (f *Fetcher) SetOptions(opts Options) error {
	if opts.UserAgent == "" {
		opts.UserAgent = "flint"
	}
	if opts.ResponseHeaderTimeout == 0 {
		opts.ResponseHeaderTimeout = DefaultResponseHeaderTimeout
	}
	if opts.GCSEndpoint == "" {
		opts.GCSEndpoint = "https://storage.googleapis.com"
	}
	if opts.OEMLookasideDir == "" {
		opts.OEMLookasideDir = os.Getenv("FLINT_OEM_LOOKASIDE_DIR")
		if opts.OEMLookasideDir == "" {
			opts.OEMLookasideDir = "/oem"
		}
	}
	if opts.OEMDevice == "" {
		opts.OEMDevice = os.Getenv("FLINT_OEM_DEVICE")
		if opts.OEMDevice == "" {
			opts.OEMDevice = "/dev/disk/by-label/OEM"
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	client, err := newHTTPClient(opts, f.cas)
	if err != nil {
		return err
	}
	f.opts = opts
	f.client = client
	return nil
}

// Options returns the options in effect (with defaults filled in).
func (f *Fetcher) Options() Options {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.opts
}

// AddCA adds every PEM certificate of bundle to the pool used for TLS, on
// top of the system pool.
func (f *Fetcher) AddCA(bundle []byte) error {
	var certs []*x509.Certificate
	rest := bundle
	for len(strings.TrimSpace(string(rest))) > 0 {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return errors.New("unable to decode PEM block")
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return fmt.Errorf("parsing CA certificate: %w", err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return errors.New("unable to decode PEM block: no certificate found")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	all := append(append([]*x509.Certificate{}, f.cas...), certs...)
	client, err := newHTTPClient(f.opts, all)
	if err != nil {
		return err
	}
	f.cas = all
	f.client = client
	return nil
}

func (f *Fetcher) state() (Options, *http.Client) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.opts, f.client
}

func newHTTPClient(opts Options, cas []*x509.Certificate) (*http.Client, error) {
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: opts.ResponseHeaderTimeout,
		DisableCompression:    true,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       90 * time.Second,
	}
	if opts.DialContext != nil {
		tr.DialContext = opts.DialContext
	}
	if len(cas) > 0 {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		for _, c := range cas {
			pool.AddCert(c)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	tr.Proxy = proxyFunc(opts.Proxy)
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			return checkRedirect(opts, req, via)
		},
	}, nil
}

// redirectError is a redirect flint refuses to follow: final, not retried.
type redirectError struct{ msg string }

func (e *redirectError) Error() string { return e.msg }

// checkRedirect follows Go's default policy (at most 10 redirects; the
// request's headers are copied to the next hop), refuses schemes other
// than http and https, and once the chain has left the first request's
// host (or gone from https to http) sends only flint's own default
// headers: Authorization, Cookie and every configured httpHeaders entry
// stay behind.
func checkRedirect(opts Options, req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return &redirectError{"stopped after 10 redirects"}
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return &redirectError{fmt.Sprintf("refusing a redirect to a %q URL", req.URL.Scheme)}
	}
	for i, v := range append(via[1:], req) {
		if !sameHost(via[0].URL, v.URL) || via[i].URL.Scheme == "https" && v.URL.Scheme == "http" {
			h := make(http.Header)
			h.Set("User-Agent", opts.UserAgent)
			h.Set("Accept-Encoding", "identity")
			h.Set("Accept", AcceptHeader)
			req.Header = h
			break
		}
	}
	// Go adds the previous URL as Referer, query (secrets) included.
	req.Header.Del("Referer")
	return nil
}

// sameHost compares host names and ports (default ports filled in).
func sameHost(a, b *url.URL) bool {
	port := func(u *url.URL) string {
		if p := u.Port(); p != "" {
			return p
		}
		if u.Scheme == "https" {
			return "443"
		}
		return "80"
	}
	return strings.EqualFold(a.Hostname(), b.Hostname()) && port(a) == port(b)
}

// NeedsNetwork reports whether fetching rawURL needs the network.
func NeedsNetwork(rawURL string) bool {
	if rawURL == "" {
		return false
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return true
	}
	switch u.Scheme {
	case "data", "file", "oem":
		return false
	}
	return true
}

// Fetch streams src to w: download, decompress, hash and write in one pass.
// When the transfer breaks after bytes were handed to w the error is final
// (w cannot be rewound); before that, it is retried. Use FetchToFile or
// FetchBytes for a fetch that restarts cleanly after a broken transfer.
func (f *Fetcher) Fetch(ctx context.Context, src Source, w io.Writer) error {
	return f.fetch(ctx, src, &plainSink{w: w})
}

// FetchBytes fetches src into memory, failing with ErrTooLarge when the
// decompressed content exceeds limit bytes (limit <= 0: no limit).
func (f *Fetcher) FetchBytes(ctx context.Context, src Source, limit int64) ([]byte, error) {
	s := &bufSink{limit: limit}
	if err := f.fetch(ctx, src, s); err != nil {
		return nil, err
	}
	if s.buf == nil {
		return []byte{}, nil
	}
	return s.buf, nil
}

// FetchInto streams src into dst, a file the caller created and owns (for
// the files stage: a temporary file in the destination's own directory,
// renamed into place by the caller only when FetchInto succeeded). It is
// the one pass source → decompress → hash → dst: nothing is staged or
// buffered whole, so disk use never exceeds the final size.
//
//   - dst must be open for writing and seekable; FetchInto truncates it to
//     zero length first, writes from offset 0 and leaves the offset at the
//     end. It does not close dst.
//   - A transfer broken after bytes were written is retried from scratch:
//     dst is rewound and truncated, never appended to.
//   - Nothing is fsynced: durability is the caller's (one syncfs per
//     target filesystem). Writeback of what was written is started every
//     few MiB (sync_file_range, without waiting) so that dirty pages do not
//     pile up in an initramfs.
//   - It returns the number of bytes in dst. On error the hash has not
//     checked out (or the fetch failed): the caller removes dst.
func (f *Fetcher) FetchInto(ctx context.Context, src Source, dst *os.File) (int64, error) {
	if _, err := dst.Seek(0, io.SeekStart); err != nil {
		return 0, fmt.Errorf("rewinding %s: %w", dst.Name(), err)
	}
	if err := dst.Truncate(0); err != nil {
		return 0, fmt.Errorf("truncating %s: %w", dst.Name(), err)
	}
	s := &fileSink{f: dst}
	err := f.fetch(ctx, src, s)
	s.stop()
	return s.n, err
}

// FetchToFile fetches src into a temporary file beside dst (created with
// mode) and renames it to dst only when everything, including the hash,
// checked out. On any failure nothing is left behind and dst is untouched.
// Like FetchInto it does not fsync: the caller syncs the filesystem.
func (f *Fetcher) FetchToFile(ctx context.Context, src Source, dst string, mode os.FileMode) (err error) {
	dir, base := splitPath(dst)
	tmp, err := os.CreateTemp(dir, "."+base+".flint-*")
	if err != nil {
		return fmt.Errorf("creating temporary file for %s: %w", dst, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(mode); err != nil {
		return fmt.Errorf("setting mode of %s: %w", tmp.Name(), err)
	}
	if _, err = f.FetchInto(ctx, src, tmp); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", tmp.Name(), err)
	}
	if err = os.Rename(tmp.Name(), dst); err != nil {
		return fmt.Errorf("renaming into %s: %w", dst, err)
	}
	return nil
}

func splitPath(p string) (dir, base string) {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return ".", p
	}
	if i == 0 {
		return "/", p[1:]
	}
	return p[:i], p[i+1:]
}
