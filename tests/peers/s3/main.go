// Command s3 is the S3 test peer: gofakes3 (in-memory, versioned) on
// loopback, seeded from a manifest, optionally refusing requests that are
// not signed with SigV4 for a given access key and region, and reporting a
// bucket region the way S3 does (x-amz-bucket-region on HEAD bucket, even
// when the request is refused).
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/flintboot/flint/tests/peers/internal/peer"
)

type server struct {
	fake       http.Handler
	region     string
	accessKey  string
	secretKey  string
	requireSig bool
	hostBases  []string
}

func main() {
	var pf peer.Flags
	fs := flag.NewFlagSet("s3", flag.ExitOnError)
	pf.Register(fs)
	objects := fs.String("objects", "", "JSON manifest of objects to create (versioned)")
	s := &server{}
	fs.StringVar(&s.region, "region", "", "region of every bucket (x-amz-bucket-region; the signing region required)")
	fs.StringVar(&s.accessKey, "access-key", "", "access key id that signed requests must use")
	fs.StringVar(&s.secretKey, "secret-key", "", "secret key of -access-key (signatures are verified)")
	fs.BoolVar(&s.requireSig, "require-signature", false, "refuse unsigned requests (403 AccessDenied)")
	hostBase := fs.String("host-base", "", "comma-separated host suffixes for virtual-host addressing")
	fs.Parse(os.Args[1:])
	opts := []gofakes3.Option{gofakes3.WithLogger(gofakes3.DiscardLog())}
	if *hostBase != "" {
		s.hostBases = strings.Split(*hostBase, ",")
		opts = append(opts, gofakes3.WithHostBucketBase(s.hostBases...))
	}
	s.fake = gofakes3.New(s3mem.New(), opts...).Server()
	objs, err := peer.ReadObjects(*objects)
	if err != nil {
		peer.Fatal(err)
	}
	versions, err := s.seed(objs)
	if err != nil {
		peer.Fatal(err)
	}
	if err := peer.Serve(pf, s, map[string]any{"versions": versions}); err != nil {
		peer.Fatal(err)
	}
}

// seed creates the buckets (versioning on) and objects through gofakes3's
// own HTTP front, and returns each object's version id in manifest order.
func (s *server) seed(objs []peer.Object) ([]string, error) {
	do := func(method, target, body string) (*httptest.ResponseRecorder, error) {
		req := httptest.NewRequest(method, "http://seed"+target, strings.NewReader(body))
		req.Header.Set("Content-Length", strconv.Itoa(len(body)))
		rec := httptest.NewRecorder()
		s.fake.ServeHTTP(rec, req)
		if rec.Code/100 != 2 {
			return nil, fmt.Errorf("seeding %s %s: %d %s", method, target, rec.Code, rec.Body.String())
		}
		return rec, nil
	}
	made := map[string]bool{}
	var versions []string
	for _, o := range objs {
		if !made[o.Bucket] {
			if _, err := do(http.MethodPut, "/"+o.Bucket, ""); err != nil {
				return nil, err
			}
			if _, err := do(http.MethodPut, "/"+o.Bucket+"?versioning",
				`<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>`); err != nil {
				return nil, err
			}
			made[o.Bucket] = true
		}
		b, err := o.Content()
		if err != nil {
			return nil, err
		}
		rec, err := do(http.MethodPut, "/"+o.Bucket+"/"+(&url.URL{Path: o.Key}).EscapedPath(), string(b))
		if err != nil {
			return nil, err
		}
		versions = append(versions, rec.Header().Get("x-amz-version-id"))
	}
	return versions, nil
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.region != "" && r.Method == http.MethodHead && s.isBucketPath(r) {
		// As S3: the region of an existing bucket is told to anyone,
		// even when the request itself is refused.
		probe := httptest.NewRecorder()
		s.fake.ServeHTTP(probe, r.Clone(r.Context()))
		if probe.Code == http.StatusNotFound {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.Header().Set("X-Amz-Bucket-Region", s.region)
	}
	auth := r.Header.Get("Authorization")
	switch {
	case auth == "" && s.requireSig:
		s3Error(w, http.StatusForbidden, "AccessDenied", "Access Denied")
		return
	case auth != "" && s.accessKey != "":
		if code, status, msg := s.verify(r, auth); status != 0 {
			s3Error(w, status, code, msg)
			return
		}
	}
	s.fake.ServeHTTP(w, r)
}

// isBucketPath reports whether r addresses a bucket (not an object).
func (s *server) isBucketPath(r *http.Request) bool {
	p := strings.Trim(r.URL.Path, "/")
	for _, b := range s.hostBases {
		if strings.HasSuffix(hostOnly(r.Host), "."+b) {
			return p == ""
		}
	}
	return p != "" && !strings.Contains(p, "/")
}

func hostOnly(h string) string {
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[i:], "]") {
		return h[:i]
	}
	return h
}

// verify checks a SigV4 Authorization header: the credential scope must
// name the access key, the region and s3, and the signature must be the
// one the secret key gives for the headers the client signed.
func (s *server) verify(r *http.Request, auth string) (code string, status int, msg string) {
	const algo = "AWS4-HMAC-SHA256 "
	if !strings.HasPrefix(auth, algo) {
		return "InvalidArgument", http.StatusBadRequest, "unsupported authorization type"
	}
	fields := map[string]string{}
	for _, part := range strings.Split(strings.TrimPrefix(auth, algo), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		fields[k] = v
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 || scope[3] != "s3" || scope[4] != "aws4_request" {
		return "AuthorizationHeaderMalformed", http.StatusBadRequest, "malformed credential scope"
	}
	if scope[0] != s.accessKey {
		return "InvalidAccessKeyId", http.StatusForbidden, "The AWS Access Key Id you provided does not exist in our records."
	}
	if s.region != "" && scope[2] != s.region {
		return "AuthorizationHeaderMalformed", http.StatusBadRequest,
			fmt.Sprintf("the region '%s' is wrong; expecting '%s'", scope[2], s.region)
	}
	when, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return "AccessDenied", http.StatusForbidden, "missing or bad X-Amz-Date"
	}
	if d := time.Since(when); d > 15*time.Minute || d < -15*time.Minute {
		return "RequestTimeTooSkewed", http.StatusForbidden, "request time too skewed"
	}
	payload := r.Header.Get("X-Amz-Content-Sha256")
	if payload == "" {
		return "InvalidRequest", http.StatusBadRequest, "missing x-amz-content-sha256"
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	again, err := http.NewRequest(r.Method, scheme+"://"+r.Host+r.URL.RequestURI(), nil)
	if err != nil {
		return "InvalidRequest", http.StatusBadRequest, err.Error()
	}
	for _, name := range strings.Split(fields["SignedHeaders"], ";") {
		if name == "host" {
			continue
		}
		again.Header[http.CanonicalHeaderKey(name)] = r.Header.Values(name)
	}
	creds := aws.Credentials{AccessKeyID: s.accessKey, SecretAccessKey: s.secretKey,
		SessionToken: r.Header.Get("X-Amz-Security-Token")}
	err = v4.NewSigner().SignHTTP(context.Background(), creds, again, payload, "s3", scope[2], when,
		func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err != nil {
		return "InternalError", http.StatusInternalServerError, err.Error()
	}
	if again.Header.Get("Authorization") != auth {
		return "SignatureDoesNotMatch", http.StatusForbidden,
			"The request signature we calculated does not match the signature you provided."
	}
	return "", 0, ""
}

func s3Error(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message></Error>`, code, msg)
}
