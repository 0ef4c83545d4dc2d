package resource

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// httpOpener returns the opener for an http(s) source: one request per
// attempt, retrying transport errors, 5xx and src.RetryCodes.
func (f *Fetcher) httpOpener(client *http.Client, opts Options, u *url.URL, src Source) opener {
	method := src.Method
	if method == "" {
		method = http.MethodGet
	}
	red := redact(src.URL)
	lg := opts.logger()
	return func(ctx context.Context, attempt int) (io.ReadCloser, error) {
		var body io.Reader
		if src.Body != nil {
			body = bytes.NewReader(src.Body)
		}
		req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
		if err != nil {
			return nil, fmt.Errorf("building request: %w", err)
		}
		req.Header.Set("User-Agent", opts.UserAgent)
		req.Header.Set("Accept-Encoding", "identity")
		req.Header.Set("Accept", AcceptHeader)
		for _, h := range src.Headers {
			req.Header.Set(h.Name, h.Value)
		}
		lg.Info("%s %s: attempt #%d", method, red, attempt)
		resp, err := client.Do(req)
		if err != nil {
			var ue *url.Error
			var re *redirectError
			if errors.As(err, &re) || errors.As(err, &ue) && !ue.Timeout() && isPermanentURLError(ue) {
				return nil, fmt.Errorf("%s %s: %w", method, red, stripURL(err))
			}
			return nil, transient(fmt.Errorf("%s %s: %w", method, red, stripURL(err)))
		}
		lg.Info("%s result: %s", method, resp.Status)
		switch {
		case resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusNoContent,
			method != http.MethodGet && resp.StatusCode/100 == 2: // a POST or PUT accepted (201, 202, …)
			return withSize(resp.Body, resp.ContentLength), nil
		case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || slices.Contains(src.RetryCodes, resp.StatusCode):
			drain(resp.Body)
			return nil, &transientError{err: fmt.Errorf("%s %s: server responded %s", method, red, resp.Status),
				after: retryAfter(resp.Header.Get("Retry-After"), time.Now())}
		case resp.StatusCode == http.StatusNotFound:
			drain(resp.Body)
			return nil, fmt.Errorf("%s %s: %w", method, red, ErrNotFound)
		default:
			drain(resp.Body)
			return nil, fmt.Errorf("%s %s: %w: %s", method, red, ErrFailed, resp.Status)
		}
	}
}

// retryAfter parses a Retry-After value: delay seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(min(n, 1<<20)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

func drain(b io.ReadCloser) {
	io.CopyN(io.Discard, b, 4<<10)
	b.Close()
}

// isPermanentURLError reports client-side errors no retry can fix.
func isPermanentURLError(ue *url.Error) bool {
	msg := ue.Err.Error()
	return strings.Contains(msg, "unsupported protocol scheme") ||
		strings.Contains(msg, "invalid header") ||
		strings.Contains(msg, "invalid port")
}

// stripURL removes the url.Error wrapper, whose text carries the full URL
// (userinfo and query included), keeping the operation and cause.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// gsOpener maps gs://bucket/object to the JSON API download URL and fetches
// it through the HTTP path, with a bearer token when one is available.
func (f *Fetcher) gsOpener(client *http.Client, opts Options, u *url.URL, src Source) (opener, error) {
	bucket := u.Host
	object := strings.TrimPrefix(u.Path, "/")
	if bucket == "" || object == "" {
		return nil, errors.New("gs URL needs a bucket and an object")
	}
	raw := strings.TrimSuffix(opts.GCSEndpoint, "/") + "/storage/v1/b/" + url.PathEscape(bucket) +
		"/o/" + url.PathEscape(object) + "?alt=media"
	gu, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("building GCS URL: %w", err)
	}
	inner := src
	inner.URL = raw
	h := f.httpOpener(client, opts, gu, inner)
	return func(ctx context.Context, attempt int) (io.ReadCloser, error) {
		if opts.GCSToken != nil {
			tok, err := opts.GCSToken(ctx)
			if err != nil {
				opts.logger().Warn("gs://%s: no access token, fetching anonymously: %v", bucket, err)
			} else if tok != "" {
				withTok := inner
				withTok.Headers = append(slices.Clone(inner.Headers), Header{"Authorization", "Bearer " + tok})
				return f.httpOpener(client, opts, gu, withTok)(ctx, attempt)
			}
		}
		return h(ctx, attempt)
	}, nil
}
