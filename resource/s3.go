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

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// s3Target is a parsed s3:// or arn: source.
type s3Target struct {
	bucket    string // bucket name or access point ARN
	key       string
	versionID string
	region    string // known region (access points), else ""
	hint      string // region to ask first
	name      string // bucket name for region discovery
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
			ap := a
			ap.Resource = name
			t.bucket = ap.String()
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
	if t.bucket == "" || t.key == "" {
		return nil, errors.New("S3 source needs a bucket and a key")
	}
	return t, nil
}

func (f *Fetcher) s3Opener(client *http.Client, opts Options, raw string) (opener, error) {
	t, err := parseS3(raw, opts.S3RegionHint)
	if err != nil {
		return nil, err
	}
	red := redact(raw)
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
		var creds aws.CredentialsProvider = aws.AnonymousCredentials{}
		if opts.AWSCredentials != nil {
			if _, err := opts.AWSCredentials.Retrieve(ctx); err != nil {
				opts.Log.Warn("no AWS credentials, fetching %s anonymously: %v", red, err)
			} else {
				creds = opts.AWSCredentials
			}
		}
		c := s3.New(s3.Options{
			Region:                     region,
			Credentials:                creds,
			HTTPClient:                 client,
			Retryer:                    aws.NopRetryer{},
			ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		}, func(o *s3.Options) {
			if opts.S3Endpoint != "" {
				o.BaseEndpoint = aws.String(opts.S3Endpoint)
				o.UsePathStyle = true
			} else {
				o.EndpointOptions.UseDualStackEndpoint = aws.DualStackEndpointStateEnabled
			}
		})
		in := &s3.GetObjectInput{Bucket: aws.String(t.bucket), Key: aws.String(t.key)}
		if t.versionID != "" {
			in.VersionId = aws.String(t.versionID)
		}
		opts.Log.Info("GET %s (region %s): attempt #%d", red, region, attempt)
		out, err := c.GetObject(ctx, in)
		if err != nil {
			var re *awshttp.ResponseError
			if errors.As(err, &re) {
				code := re.HTTPStatusCode()
				opts.Log.Info("GET result: %d %s", code, http.StatusText(code))
				switch {
				case code == http.StatusNotFound:
					return nil, fmt.Errorf("GET %s: %w: %v", red, ErrNotFound, err)
				case code < 500:
					return nil, fmt.Errorf("GET %s: %w: %v", red, ErrFailed, err)
				}
			}
			return nil, transient(fmt.Errorf("GET %s: %w", red, err))
		}
		opts.Log.Info("GET result: 200 OK")
		return out.Body, nil
	}, nil
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
