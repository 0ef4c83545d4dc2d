package providers

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"time"
)

// sdkHTTPClient is the HTTP client for SDK-based metadata clients (aws
// IMDS, gcp metadata). It honours the fetcher's proxy-free dial and
// response-header timeout, and sends every request to env.MetadataBase
// when that is set (tests).
func sdkHTTPClient(env *Env) *http.Client {
	if env.HTTPClient != nil {
		return env.HTTPClient
	}
	opts := env.Fetcher.Options()
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		DialContext:           d.DialContext,
		ResponseHeaderTimeout: opts.ResponseHeaderTimeout,
		DisableCompression:    true,
	}
	if opts.DialContext != nil {
		tr.DialContext = opts.DialContext
	}
	var rt http.RoundTripper = tr
	if env.MetadataBase != "" {
		if b, err := url.Parse(env.MetadataBase); err == nil {
			rt = rebaseTransport{base: b, next: tr}
		}
	}
	return &http.Client{Transport: rt}
}

type rebaseTransport struct {
	base *url.URL
	next http.RoundTripper
}

func (t rebaseTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.URL.Scheme = t.base.Scheme
	r.URL.Host = t.base.Host
	r.Host = t.base.Host
	return t.next.RoundTrip(r)
}

// withTotal bounds ctx by the fetcher's total timeout (SDK clients do not go
// through the fetcher, which applies it itself).
func withTotal(ctx context.Context, env *Env) (context.Context, context.CancelFunc) {
	if t := env.Fetcher.Options().TotalTimeout; t > 0 {
		return context.WithTimeout(ctx, t)
	}
	return context.WithCancel(ctx)
}
