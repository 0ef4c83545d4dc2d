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
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

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
	// arrive (the config default is 10s; 0 means no limit).
	ResponseHeaderTimeout time.Duration
	// TotalTimeout bounds a whole fetch including retries (0 = none; the
	// caller's ctx deadline applies as well).
	TotalTimeout time.Duration
	// Proxy, when set, is evaluated with golang.org/x/net/http/httpproxy.
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
	AWSCredentials aws.CredentialsProvider
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
	// Log receives attempts, retries and results (sources redacted); nil
	// discards.
	Log *log.Logger
}

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

// AcceptHeader is sent with every HTTP fetch unless overridden.
const AcceptHeader = "application/vnd.coreos.ignition+json;version=3.6.0, application/vnd.flint+json, */*;q=0.1"

// Fetcher fetches sources. It is safe for concurrent use; SetOptions and
// AddCA may be called between fetches.
type Fetcher struct {
	mu     sync.RWMutex
	opts   Options
	cas    []*x509.Certificate
	client *http.Client
}

// New returns a Fetcher for opts.
func New(opts Options) (*Fetcher, error) {
	f := &Fetcher{}
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
			if len(via) >= 10 {
				return errors.New("stopped after 10 redirects")
			}
			// Drop every header the caller set; keep only flint's defaults.
			h := make(http.Header)
			h.Set("User-Agent", opts.UserAgent)
			h.Set("Accept-Encoding", "identity")
			h.Set("Accept", AcceptHeader)
			req.Header = h
			return nil
		},
	}, nil
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

// FetchToFile fetches src into a temporary file beside dst (created with
// mode), fsyncs it and renames it to dst only when everything, including the
// hash, checked out. On any failure nothing is left behind and dst is
// untouched.
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
	if err = f.fetch(ctx, src, &fileSink{f: tmp}); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", tmp.Name(), err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", tmp.Name(), err)
	}
	if err = os.Rename(tmp.Name(), dst); err != nil {
		return fmt.Errorf("renaming into %s: %w", dst, err)
	}
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
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

// Job is one file of FetchAll.
type Job struct {
	Source Source
	Dest   string
	Mode   os.FileMode
}

// FetchAll runs FetchToFile for every job with at most workers fetches at a
// time (workers <= 0: 8). The first failure cancels the jobs not yet
// finished; the error names every job that failed.
func (f *Fetcher) FetchAll(ctx context.Context, jobs []Job, workers int) error {
	if workers <= 0 {
		workers = 8
	}
	if workers > len(jobs) {
		workers = len(jobs)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int)
	errs := make([]error, len(jobs))
	var failed atomic.Bool
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				j := jobs[i]
				if err := f.FetchToFile(ctx, j.Source, j.Dest, j.Mode); err != nil {
					// Jobs cut short by another job's failure are not
					// reported: only real failures are.
					if ctx.Err() != nil && failed.Load() {
						continue
					}
					failed.Store(true)
					errs[i] = fmt.Errorf("fetching %s into %s: %w", redact(j.Source.URL), j.Dest, err)
					cancel()
				}
			}
		}()
	}
feed:
	for i := range jobs {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return ctx.Err()
}
