package resource

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"sort"
	"strings"
	"time"
)

// AWSCredentials sign S3 requests (AWS Signature Version 4).
type AWSCredentials struct {
	AccessKeyID, SecretAccessKey, SessionToken string
}

// AWSCredentialsFunc returns the credentials to sign with; the provider
// that hands them out caches them. An error means "fetch anonymously".
type AWSCredentialsFunc func(ctx context.Context) (AWSCredentials, error)

// signV4 signs an S3 GET without a body with AWS Signature Version 4
// (header form): the canonical request over method, the once-escaped
// path, the sorted query and the signed headers (host, x-amz-content-sha256,
// x-amz-date and, with a session token, x-amz-security-token).
func signV4(req *http.Request, c AWSCredentials, region string, now time.Time) {
	const service, algo = "s3", "AWS4-HMAC-SHA256"
	amzDate := now.UTC().Format("20060102T150405Z")
	day := amzDate[:8]
	req.Header.Set("X-Amz-Date", amzDate)
	req.Header.Set("X-Amz-Content-Sha256", emptySHA256)
	if c.SessionToken != "" {
		req.Header.Set("X-Amz-Security-Token", c.SessionToken)
	}
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	if h, port, ok := strings.Cut(host, ":"); ok && ((port == "80" && req.URL.Scheme == "http") || (port == "443" && req.URL.Scheme == "https")) {
		host = h
	}
	headers := map[string]string{"host": host, "x-amz-content-sha256": emptySHA256, "x-amz-date": amzDate}
	if c.SessionToken != "" {
		headers["x-amz-security-token"] = c.SessionToken
	}
	names := make([]string, 0, len(headers))
	for n := range headers {
		names = append(names, n)
	}
	sort.Strings(names)
	var canonHeaders strings.Builder
	for _, n := range names {
		canonHeaders.WriteString(n + ":" + strings.TrimSpace(headers[n]) + "\n")
	}
	signed := strings.Join(names, ";")
	path := req.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	canon := strings.Join([]string{req.Method, path, canonicalQuery(req), canonHeaders.String(), signed, emptySHA256}, "\n")
	scope := day + "/" + region + "/" + service + "/aws4_request"
	sum := sha256.Sum256([]byte(canon))
	toSign := algo + "\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
	key := []byte("AWS4" + c.SecretAccessKey)
	for _, part := range []string{day, region, service, "aws4_request"} {
		key = hmacSHA256(key, part)
	}
	sig := hex.EncodeToString(hmacSHA256(key, toSign))
	req.Header.Set("Authorization", algo+" Credential="+c.AccessKeyID+"/"+scope+", SignedHeaders="+signed+", Signature="+sig)
}

func hmacSHA256(key []byte, s string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return m.Sum(nil)
}

// canonicalQuery is the query with keys and values escaped as SigV4 wants
// (everything but A-Z a-z 0-9 - _ . ~), sorted by key, then value.
func canonicalQuery(req *http.Request) string {
	q := req.URL.Query()
	var pairs []string
	for k, vs := range q {
		for _, v := range vs {
			pairs = append(pairs, sigEscape(k)+"="+sigEscape(v))
		}
	}
	sort.Strings(pairs)
	return strings.Join(pairs, "&")
}

func sigEscape(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}
