package providers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/flintboot/flint/resource"
)

// imds is a client of the EC2 instance metadata service through the one
// fetcher (its retries, timeouts and logging): IMDSv2 first — a session
// token from PUT /latest/api/token sent with every request — and plain
// IMDSv1 requests when the token endpoint answers 403, 404 or 405.
type imds struct {
	env *Env

	mu      sync.Mutex
	token   string
	v1      bool // the service has no token endpoint
	expires time.Time
}

const (
	imdsTokenTTL    = 6 * time.Hour
	imdsTokenHeader = "X-aws-ec2-metadata-token"
)

func (m *imds) url(path string) string {
	return firstNonEmpty(m.env.MetadataBase, awsIMDSEndpoint) + path
}

// session returns the headers of a request: the token, or none for IMDSv1.
func (m *imds) session(ctx context.Context) ([]resource.Header, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.v1 {
		return nil, nil
	}
	if m.token != "" && time.Now().Before(m.expires) {
		return []resource.Header{{Name: imdsTokenHeader, Value: m.token}}, nil
	}
	ttl := fmt.Sprint(int(imdsTokenTTL.Seconds()))
	b, err := m.env.Fetcher.FetchBytes(ctx, resource.Source{URL: m.url("/latest/api/token"), Method: "PUT",
		Headers: []resource.Header{{Name: "X-aws-ec2-metadata-token-ttl-seconds", Value: ttl}}, RetryCodes: []int{429}}, 4096)
	switch {
	case errors.Is(err, resource.ErrNotFound) || errors.Is(err, resource.ErrFailed):
		// 403 (tokens disabled), 404, 405: an IMDSv1-only service
		m.env.Log.Info("aws: IMDS has no session tokens (%v): using IMDSv1", err)
		m.v1 = true
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("aws: IMDS session token: %w", err)
	}
	m.token, m.expires = strings.TrimSpace(string(b)), time.Now().Add(imdsTokenTTL-time.Minute)
	return []resource.Header{{Name: imdsTokenHeader, Value: m.token}}, nil
}

// get fetches one metadata path (at most limit bytes); a 404 wraps
// resource.ErrNotFound.
func (m *imds) get(ctx context.Context, path string, limit int64) ([]byte, error) {
	h, err := m.session(ctx)
	if err != nil {
		return nil, err
	}
	return m.env.Fetcher.FetchBytes(ctx, resource.Source{URL: m.url(path), Headers: h, RetryCodes: []int{429}}, limit)
}

// region is the instance's region (placement/region).
func (m *imds) region(ctx context.Context) (string, error) {
	b, err := m.get(ctx, "/latest/meta-data/placement/region", 256)
	if err != nil {
		return "", err
	}
	r := strings.TrimSpace(string(b))
	if r == "" {
		return "", errors.New("aws: IMDS returned an empty region")
	}
	return r, nil
}

// roleCredentials hands the instance role's credentials to the fetcher,
// read from IMDS on first use and again shortly before they expire.
type roleCredentials struct {
	m *imds

	mu      sync.Mutex
	cached  resource.AWSCredentials
	expires time.Time // zero: not cached
}

const roleCredsPath = "/latest/meta-data/iam/security-credentials/"

func (r *roleCredentials) get(ctx context.Context) (resource.AWSCredentials, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.expires.IsZero() && time.Now().Before(r.expires) {
		return r.cached, nil
	}
	b, err := r.m.get(ctx, roleCredsPath, 4096)
	if err != nil {
		return resource.AWSCredentials{}, fmt.Errorf("aws: instance role: %w", err)
	}
	role, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	if role == "" {
		return resource.AWSCredentials{}, errors.New("aws: the instance has no IAM role")
	}
	if b, err = r.m.get(ctx, roleCredsPath+role, 64<<10); err != nil {
		return resource.AWSCredentials{}, fmt.Errorf("aws: credentials of the instance role: %w", err)
	}
	var c struct {
		Code, AccessKeyId, SecretAccessKey, Token string
		Expiration                                time.Time
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return resource.AWSCredentials{}, errors.New("aws: credentials of the instance role are not valid JSON")
	}
	if c.Code != "" && c.Code != "Success" {
		return resource.AWSCredentials{}, fmt.Errorf("aws: credentials of the instance role: code %q", c.Code)
	}
	r.cached = resource.AWSCredentials{AccessKeyID: c.AccessKeyId, SecretAccessKey: c.SecretAccessKey, SessionToken: c.Token}
	r.expires = time.Now().Add(time.Hour)
	if !c.Expiration.IsZero() {
		r.expires = c.Expiration.Add(-5 * time.Minute)
	}
	return r.cached, nil
}
