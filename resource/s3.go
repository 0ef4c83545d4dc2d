package resource

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
)

// s3Target is a parsed s3:// or arn: source.
type s3Target struct {
	bucket      string // bucket name
	accessPoint string // "<name>-<account>" of an access point ARN
	key         string
	versionID   string
	region      string // known region (access points), else ""
	hint        string // region to ask first
	name        string // bucket name for region discovery
}

var partitionRegion = map[string]string{
	"aws":        "us-east-1",
	"aws-cn":     "cn-north-1",
	"aws-us-gov": "us-gov-west-1",
}

func parseS3(raw, hint string) (*s3Target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	t := &s3Target{versionID: u.Query().Get("versionId"), hint: hint}
	if t.hint == "" {
		t.hint = "us-east-1"
	}
	switch u.Scheme {
	case "s3":
		t.bucket, t.name = u.Host, u.Host
		t.key = strings.TrimPrefix(u.Path, "/")
	case "arn":
		a, err := arn.Parse("arn:" + u.Opaque)
		if err != nil {
			return nil, fmt.Errorf("parsing ARN: %w", err)
		}
		if a.Service != "s3" {
			return nil, fmt.Errorf("ARN service %q is not s3", a.Service)
		}
		if h, ok := partitionRegion[a.Partition]; ok {
			t.hint = h
		}
		if name, rest, ok := strings.Cut(a.Resource, "/object/"); ok && strings.HasPrefix(name, "accesspoint/") {
			if a.Region == "" {
				return nil, errors.New("multi-region access points are not supported")
			}
			ap := strings.TrimPrefix(name, "accesspoint/")
			if ap == "" || strings.Contains(ap, "/") || a.AccountID == "" {
				return nil, errors.New("invalid S3 access point ARN")
			}
			t.accessPoint = ap + "-" + a.AccountID
			t.key = rest
			t.region = a.Region
		} else {
			if a.Region != "" || a.AccountID != "" {
				return nil, errors.New("invalid S3 bucket ARN")
			}
			t.bucket, t.key, _ = strings.Cut(a.Resource, "/")
			t.name = t.bucket
		}
	}
	if t.bucket == "" && t.accessPoint == "" || t.key == "" {
		return nil, errors.New("S3 source needs a bucket and a key")
	}
	return t, nil
}

// emptySHA256 is the SigV4 payload hash of a GET (no body).
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// s3Opener GETs an S3 object over the fetcher's HTTP client: the bucket's
// region is discovered first (unless an access point ARN names it), the
// request is addressed like the AWS SDK does (virtual-host, dual-stack;
// path-style for S3Endpoint and for bucket names that are not DNS labels)
// and signed with SigV4 when credentials are available.
func (f *Fetcher) s3Opener(client *http.Client, opts Options, raw string) (opener, error) {
	t, err := parseS3(raw, opts.S3RegionHint)
	if err != nil {
		return nil, err
	}
	red := redact(raw)
	lg := opts.logger()
	var regionMu sync.Mutex
	return func(ctx context.Context, attempt int) (io.ReadCloser, error) {
		regionMu.Lock()
		region := t.region
		regionMu.Unlock()
		if region == "" {
			r, err := bucketRegion(ctx, client, opts.S3Endpoint, t.name, t.hint)
			if err != nil {
				return nil, err
			}
			regionMu.Lock()
			t.region = r
			regionMu.Unlock()
			region = r
		}
		var creds *AWSCredentials
		if opts.AWSCredentials != nil {
			c, err := opts.AWSCredentials(ctx)
			if err != nil {
				lg.Warn("no AWS credentials, fetching %s anonymously: %v", red, err)
			} else {
				creds = &c
			}
		}
		u, err := t.objectURL(opts.S3Endpoint, region)
		if err != nil {
			return nil, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return nil, fmt.Errorf("building request: %w", err)
		}
		req.Header.Set("User-Agent", opts.UserAgent)
		req.Header.Set("Accept-Encoding", "identity")
		if creds != nil {
			signV4(req, *creds, region, time.Now())
		}
		lg.Info("GET %s (region %s): attempt #%d", red, region, attempt)
		resp, err := client.Do(req)
		if err != nil {
			return nil, transient(fmt.Errorf("GET %s: %w", red, stripURL(err)))
		}
		lg.Info("GET result: %s", resp.Status)
		if resp.StatusCode == http.StatusOK {
			return withSize(resp.Body, resp.ContentLength), nil
		}
		detail := s3ErrorDetail(resp)
		switch code := resp.StatusCode; {
		case code == http.StatusNotFound:
			return nil, fmt.Errorf("GET %s: %w: %s%s", red, ErrNotFound, resp.Status, detail)
		case code >= 500 || code == http.StatusTooManyRequests:
			return nil, transient(fmt.Errorf("GET %s: server responded %s%s", red, resp.Status, detail))
		default:
			return nil, fmt.Errorf("GET %s: %w: %s%s", red, ErrFailed, resp.Status, detail)
		}
	}, nil
}

// s3ErrorDetail reads the error code and message of an S3 XML error body
// (" (Code: Message)"), and closes the body.
func s3ErrorDetail(resp *http.Response) string {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	field := func(name string) string {
		_, rest, ok := strings.Cut(string(b), "<"+name+">")
		if !ok {
			return ""
		}
		v, _, _ := strings.Cut(rest, "</"+name+">")
		return strings.TrimSpace(v)
	}
	code, msg := field("Code"), field("Message")
	switch {
	case code == "":
		return ""
	case msg == "":
		return " (" + code + ")"
	}
	return " (" + code + ": " + msg + ")"
}

// objectURL addresses the object: an access point's own host, a bucket's
// virtual host (dual-stack), or path-style under endpoint (tests and
// S3-compatible stores) and for bucket names that cannot be host labels.
func (t *s3Target) objectURL(endpoint, region string) (*url.URL, error) {
	key := "/" + s3Escape(t.key)
	var base, path string
	switch {
	case t.accessPoint != "":
		host := t.accessPoint + ".s3-accesspoint.dualstack." + region + "." + dnsSuffix(region)
		if endpoint != "" {
			base, path = strings.TrimSuffix(endpoint, "/"), "/"+t.accessPoint+key
		} else {
			base, path = "https://"+host, key
		}
	case endpoint != "":
		base, path = strings.TrimSuffix(endpoint, "/"), "/"+s3Escape(t.bucket)+key
	case virtualHostable(t.bucket):
		base, path = "https://"+t.bucket+".s3.dualstack."+region+"."+dnsSuffix(region), key
	default:
		base, path = "https://s3.dualstack."+region+"."+dnsSuffix(region), "/"+s3Escape(t.bucket)+key
	}
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("S3 endpoint: %w", err)
	}
	u.RawPath = strings.TrimSuffix(u.EscapedPath(), "/") + path
	u.Path, err = url.PathUnescape(u.RawPath)
	if err != nil {
		return nil, err
	}
	if t.versionID != "" {
		u.RawQuery = url.Values{"versionId": {t.versionID}}.Encode()
	}
	return u, nil
}

func dnsSuffix(region string) string {
	if strings.HasPrefix(region, "cn-") {
		return "amazonaws.com.cn"
	}
	return "amazonaws.com"
}

// virtualHostable reports whether bucket can be a TLS-valid host label:
// 3-63 lower-case letters, digits and hyphens, no dots.
func virtualHostable(bucket string) bool {
	if len(bucket) < 3 || len(bucket) > 63 || bucket[0] == '-' || bucket[len(bucket)-1] == '-' {
		return false
	}
	for _, c := range bucket {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// s3Escape percent-encodes a key the way SigV4 wants S3 paths: every byte
// but the unreserved ones and "/".
func s3Escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("-_.~/", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// bucketRegion asks S3 for a bucket's region (the x-amz-bucket-region
// header of an anonymous HEAD, which S3 sends even on redirects and denials).
func bucketRegion(ctx context.Context, client *http.Client, endpoint, bucket, hint string) (string, error) {
	var u string
	if endpoint != "" {
		u = strings.TrimSuffix(endpoint, "/") + "/" + url.PathEscape(bucket)
	} else {
		suffix := ".amazonaws.com"
		if strings.HasPrefix(hint, "cn-") {
			suffix = ".amazonaws.com.cn"
		}
		u = "https://s3." + hint + suffix + "/" + url.PathEscape(bucket)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, u, nil)
	if err != nil {
		return "", err
	}
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		return "", transient(fmt.Errorf("finding the region of bucket %s: %w", bucket, stripURL(err)))
	}
	resp.Body.Close()
	if r := resp.Header.Get("X-Amz-Bucket-Region"); r != "" {
		return r, nil
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return "", fmt.Errorf("could not find bucket %s: %w", bucket, ErrNotFound)
	case resp.StatusCode >= 500:
		return "", transient(fmt.Errorf("finding the region of bucket %s: %s", bucket, resp.Status))
	case endpoint != "":
		// S3-compatible stores often do not report regions.
		return hint, nil
	}
	return "", fmt.Errorf("couldn't determine the region for bucket %s: %s", bucket, resp.Status)
}
