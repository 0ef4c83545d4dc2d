package providers

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flintboot/flint/resource"
	"github.com/flintboot/flint/tests/testpeer"
)

const awsConfig = `{"ignition":{"version":"3.4.0"}}`

func aemmUserData(data string) string {
	return fmt.Sprintf(`{"userdata":{"values":{"userdata":%q}}}`, base64.StdEncoding.EncodeToString([]byte(data)))
}

func TestAWSIMDSv2(t *testing.T) {
	base := startIMDS(t, aemmUserData(awsConfig), "-imdsv2", "-region", "eu-central-1",
		"-role", "flint-node", "-access-key", "ASIAFLINTTEST", "-secret-key", "s3cr3t", "-session-token", "tok")
	env := testEnv(t, base, 20*time.Second)
	p, _ := Lookup("ec2")
	a := p.(*aws)
	if err := a.Init(ctxT(t, 30*time.Second), env); err != nil {
		t.Fatal(err)
	}
	if a.Region() != "eu-central-1" {
		t.Errorf("region %q", a.Region())
	}
	b, err := a.Fetch(ctxT(t, 30*time.Second), env)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != awsConfig {
		t.Fatalf("got %q", b)
	}
	var opts resource.Options
	if err := a.ConfigureFetcher(ctxT(t, time.Minute), env, &opts); err != nil {
		t.Fatal(err)
	}
	if opts.S3RegionHint != "eu-central-1" || opts.AWSCredentials == nil {
		t.Fatalf("fetcher options not set: %+v", opts)
	}
	creds, err := opts.AWSCredentials(ctxT(t, 30*time.Second))
	if err != nil {
		t.Fatalf("instance-role credentials from the mock: %v", err)
	}
	if creds.AccessKeyID != "ASIAFLINTTEST" || creds.SecretAccessKey != "s3cr3t" || creds.SessionToken != "tok" {
		t.Fatalf("credentials %q", creds.AccessKeyID)
	}
}

// TestAWSRoleCredentialsSignS3 goes from the metadata service to an S3
// fetch: the region and the instance-role credentials that the aws
// provider hands the fetcher sign a GET that the S3 peer, which refuses
// unsigned requests and verifies SigV4 for that key and region, accepts.
func TestAWSRoleCredentialsSignS3(t *testing.T) {
	base := startIMDS(t, aemmUserData(awsConfig), "-imdsv2", "-region", "ap-southeast-2",
		"-role", "flint-node", "-access-key", "ASIAROLE", "-secret-key", "role-secret", "-session-token", "sess")
	objs := testpeer.Objects(t, []testpeer.Object{{Bucket: "private", Key: "cfg.ign", Text: awsConfig}}, nil)
	s3 := testpeer.Start(t, testpeer.S3, "-objects", objs, "-region", "ap-southeast-2",
		"-access-key", "ASIAROLE", "-secret-key", "role-secret", "-require-signature")
	env := testEnv(t, base, 20*time.Second)
	a := &aws{}
	if err := a.Init(ctxT(t, 30*time.Second), env); err != nil {
		t.Fatal(err)
	}
	opts := resource.Options{S3Endpoint: s3.URL, TotalTimeout: 20 * time.Second}
	if err := a.ConfigureFetcher(ctxT(t, time.Minute), env, &opts); err != nil {
		t.Fatal(err)
	}
	f, err := resource.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.FetchBytes(ctxT(t, 30*time.Second), resource.Source{URL: "s3://private/cfg.ign"}, 0)
	if err != nil || string(b) != awsConfig {
		t.Fatalf("%q %v", b, err)
	}
	reqs := s3.Requests(t)
	last := reqs[len(reqs)-1]
	if last.Method != "GET" || last.Status != 200 || !strings.Contains(last.Auth, "Credential=ASIAROLE/") ||
		!strings.Contains(last.Auth, "/ap-southeast-2/s3/aws4_request") {
		t.Fatalf("requests %+v", reqs)
	}
	// Without the credentials the peer refuses the fetch.
	anon, _ := resource.New(resource.Options{S3Endpoint: s3.URL, TotalTimeout: 5 * time.Second})
	if _, err := anon.FetchBytes(ctxT(t, 10*time.Second), resource.Source{URL: "s3://private/cfg.ign"}, 0); !errors.Is(err, resource.ErrFailed) {
		t.Fatalf("anonymous fetch of a private object: %v", err)
	}
}

func TestAWSIMDSv1(t *testing.T) {
	base := startIMDS(t, aemmUserData(awsConfig))
	// the token endpoint answers 404 (an IMDSv1-only service): the client
	// must fall back to plain requests against the real mock
	var tokenCalls atomic.Int32
	u, _ := url.Parse(base)
	proxy := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/latest/api/token" {
			tokenCalls.Add(1)
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("X-aws-ec2-metadata-token") != "" {
			t.Errorf("token sent after fallback")
		}
		proxy.ServeHTTP(w, r)
	}))
	defer srv.Close()
	env := testEnv(t, srv.URL, 20*time.Second)
	b, err := (&aws{}).Fetch(ctxT(t, 30*time.Second), env)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != awsConfig || tokenCalls.Load() == 0 {
		t.Fatalf("got %q, %d token calls", b, tokenCalls.Load())
	}
}

func TestAWSNoUserData(t *testing.T) {
	// an empty path unregisters the user-data route: the mock answers 404
	base := startIMDS(t, `{"userdata":{"paths":{"userdata":"/latest/not-user-data"}}}`, "-imdsv2")
	env := testEnv(t, base, 20*time.Second)
	_, err := (&aws{}).Fetch(ctxT(t, 30*time.Second), env)
	if !errors.Is(err, ErrNoConfig) {
		t.Fatalf("want ErrNoConfig, got %v", err)
	}
}

func TestAWSThrottled(t *testing.T) {
	base := startIMDS(t, aemmUserData(awsConfig), "-imdsv2")
	u, _ := url.Parse(base)
	proxy := httputil.NewSingleHostReverseProxy(u)
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/latest/user-data" && n.Add(1) <= 3 {
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	defer srv.Close()
	env := testEnv(t, srv.URL, 30*time.Second)
	b, err := (&aws{}).Fetch(ctxT(t, 40*time.Second), env)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != awsConfig || n.Load() != 4 {
		t.Fatalf("got %q after %d user-data requests", b, n.Load())
	}
}

func TestAWSUnreachable(t *testing.T) {
	env := testEnv(t, fmt.Sprintf("http://127.0.0.1:%d", freePort(t)), 1500*time.Millisecond)
	start := time.Now()
	_, err := (&aws{}).Fetch(ctxT(t, 20*time.Second), env)
	if err == nil || errors.Is(err, ErrNoConfig) {
		t.Fatalf("want an error, got %v", err)
	}
	if !errors.Is(err, resource.ErrTimeout) {
		t.Errorf("want ErrTimeout, got %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("gave up after %s, limit was 1.5s", d)
	}
}

func TestAWSOffline(t *testing.T) {
	env := testEnv(t, "http://127.0.0.1:1", time.Second)
	opts := env.Fetcher.Options()
	opts.Offline = true
	env.Fetcher.SetOptions(opts)
	if _, err := (&aws{}).Fetch(ctxT(t, 5*time.Second), env); !errors.Is(err, ErrNeedNet) {
		t.Fatalf("want ErrNeedNet, got %v", err)
	}
	if !strings.Contains(ErrNeedNet.Error(), "network") {
		t.Fatal(ErrNeedNet)
	}
}
