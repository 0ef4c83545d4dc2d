package resource

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// startTFTPD runs Debian's tftpd-hpa on a free loopback port serving dir.
func startTFTPD(t *testing.T, dir string) string {
	t.Helper()
	bin, err := exec.LookPath("in.tftpd")
	if err != nil {
		bin = "/usr/sbin/in.tftpd"
	}
	for try := 0; try < 5; try++ {
		pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := pc.LocalAddr().String()
		pc.Close()
		cmd := exec.Command(bin, "--foreground", "--listen", "--address", addr, "--secure", "--user", "root", dir)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting in.tftpd (apt package tftpd-hpa): %v", err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			t.Logf("in.tftpd on %s exited: %v: %s", addr, err, stderr.String())
			continue
		case <-time.After(300 * time.Millisecond):
		}
		t.Cleanup(func() {
			cmd.Process.Kill()
			<-done
		})
		return addr
	}
	t.Fatal("could not start in.tftpd")
	return ""
}

func TestTFTP(t *testing.T) {
	dir := t.TempDir()
	content := pseudo(3<<20 + 5)
	os.WriteFile(filepath.Join(dir, "big.bin"), content, 0o644)
	os.MkdirAll(filepath.Join(dir, "pxe"), 0o755)
	os.WriteFile(filepath.Join(dir, "pxe", "cfg.ign.gz"), gz(t, []byte(`{"x":1}`)), 0o644)
	addr := startTFTPD(t, dir)
	f := newFetcher(t, Options{TotalTimeout: 20 * time.Second})

	out := filepath.Join(t.TempDir(), "big")
	if err := f.FetchToFile(bg(), Source{URL: "tftp://" + addr + "/big.bin", Hash: sha512Of(content)}, out, 0o644); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(out); !bytes.Equal(got, content) {
		t.Fatalf("content differs (%d bytes)", len(got))
	}
	b, err := f.FetchBytes(bg(), Source{URL: "tftp://" + addr + "/pxe/cfg.ign.gz", Compression: "gzip", Hash: sha256Of([]byte(`{"x":1}`))}, 0)
	if err != nil || string(b) != `{"x":1}` {
		t.Fatalf("%q %v", b, err)
	}
	_, err = f.FetchBytes(bg(), Source{URL: "tftp://" + addr + "/big.bin", Hash: sha512Of([]byte("x"))}, 0)
	mustContain(t, err, "hash verification failed", "tftp://"+addr+"/big.bin")
	_, err = f.FetchBytes(bg(), Source{URL: "tftp://" + addr + "/missing"}, 0)
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
}

func TestTFTPDefaultPort(t *testing.T) {
	// Nothing listens on 127.0.0.1:69: the error names the default port.
	f := newFetcher(t, Options{TotalTimeout: 300 * time.Millisecond})
	_, err := f.FetchBytes(bg(), Source{URL: "tftp://127.0.0.1/x"}, 0)
	if err == nil {
		t.Fatal("expected failure")
	}
	mustContain(t, err, "127.0.0.1:69")
}

type s3Fixture struct {
	srv      *httptest.Server
	client   *s3.Client
	mu       sync.Mutex
	auth     []string
	heads    int
	region   string
	versions []string
}

func newS3Fixture(t *testing.T) *s3Fixture {
	t.Helper()
	fx := &s3Fixture{}
	faker := gofakes3.New(s3mem.New(), gofakes3.WithLogger(gofakes3.DiscardLog()))
	h := faker.Server()
	fx.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fx.mu.Lock()
		if r.Method == http.MethodGet {
			fx.auth = append(fx.auth, r.Header.Get("Authorization"))
		}
		if r.Method == http.MethodHead && strings.Count(strings.Trim(r.URL.Path, "/"), "/") == 0 {
			fx.heads++
			if fx.region != "" {
				w.Header().Set("X-Amz-Bucket-Region", fx.region)
			}
		}
		fx.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(fx.srv.Close)
	fx.client = s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(fx.srv.URL),
		UsePathStyle: true,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKTEST", SecretAccessKey: "secret"}, nil
		}),
	})
	return fx
}

func (fx *s3Fixture) put(t *testing.T, bucket, key string, body []byte) string {
	t.Helper()
	out, err := fx.client.PutObject(bg(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)})
	if err != nil {
		t.Fatalf("put %s/%s: %v", bucket, key, err)
	}
	return aws.ToString(out.VersionId)
}

func TestS3(t *testing.T) {
	fx := newS3Fixture(t)
	if _, err := fx.client.CreateBucket(bg(), &s3.CreateBucketInput{Bucket: aws.String("cfg")}); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.client.PutBucketVersioning(bg(), &s3.PutBucketVersioningInput{Bucket: aws.String("cfg"),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	big := pseudo(4<<20 + 3)
	v1 := fx.put(t, "cfg", "dir/file.ign", []byte("version one"))
	v2 := fx.put(t, "cfg", "dir/file.ign", []byte("version two"))
	fx.put(t, "cfg", "big.bin", big)
	if v1 == "" || v1 == v2 {
		t.Fatalf("versions %q %q", v1, v2)
	}
	f := newFetcher(t, Options{S3Endpoint: fx.srv.URL, TotalTimeout: 10 * time.Second})
	cases := []struct {
		url, want string
	}{
		{"s3://cfg/dir/file.ign", "version two"},
		{"s3://cfg/dir/file.ign?versionId=" + v1, "version one"},
		{"arn:aws:s3:::cfg/dir/file.ign", "version two"},
		{"arn:aws:s3:::cfg/dir/file.ign?versionId=" + v1, "version one"},
	}
	for _, c := range cases {
		b, err := f.FetchBytes(bg(), Source{URL: c.url, Hash: sha256Of([]byte(c.want))}, 0)
		if err != nil || string(b) != c.want {
			t.Fatalf("%s: %q %v", c.url, b, err)
		}
	}
	out := filepath.Join(t.TempDir(), "big")
	if err := f.FetchToFile(bg(), Source{URL: "s3://cfg/big.bin", Hash: sha512Of(big)}, out, 0o644); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(out); !bytes.Equal(got, big) {
		t.Fatal("big object differs")
	}
	_, err := f.FetchBytes(bg(), Source{URL: "s3://cfg/dir/file.ign", Hash: sha256Of([]byte("nope"))}, 0)
	mustContain(t, err, "hash verification failed", "s3://cfg/dir/file.ign")
	_, err = f.FetchBytes(bg(), Source{URL: "s3://cfg/missing"}, 0)
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing key: %v", err)
	}
	_, err = f.FetchBytes(bg(), Source{URL: "s3://nobucket/x"}, 0)
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing bucket: %v", err)
	}
	mustContain(t, err, "could not find bucket nobucket")
	_, err = f.FetchBytes(bg(), Source{URL: "s3://cfg/big.bin", Compression: "gzip"}, 0)
	if !errors.Is(err, ErrCompressionNotSupported) {
		t.Fatalf("compression: %v", err)
	}
	// Anonymous by default: no signature.
	fx.mu.Lock()
	for _, a := range fx.auth {
		if a != "" {
			t.Fatalf("anonymous fetch was signed: %q", a)
		}
	}
	fx.auth = nil
	// Region discovery: the bucket reports its region and the signed
	// request uses it.
	fx.region = "eu-west-3"
	fx.mu.Unlock()
	creds := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: "AKROLE", SecretAccessKey: "s"}, nil
	})
	f2 := newFetcher(t, Options{S3Endpoint: fx.srv.URL, AWSCredentials: creds})
	if _, err := f2.FetchBytes(bg(), Source{URL: "s3://cfg/dir/file.ign"}, 0); err != nil {
		t.Fatal(err)
	}
	fx.mu.Lock()
	if len(fx.auth) != 1 || !strings.Contains(fx.auth[0], "AKROLE/") || !strings.Contains(fx.auth[0], "/eu-west-3/s3/aws4_request") {
		t.Fatalf("signature does not use the discovered region: %q", fx.auth)
	}
	fx.mu.Unlock()
	// Failing credentials fall back to anonymous.
	bad := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{}, errors.New("no EC2 IMDS role found")
	})
	f3 := newFetcher(t, Options{S3Endpoint: fx.srv.URL, AWSCredentials: bad})
	if _, err := f3.FetchBytes(bg(), Source{URL: "s3://cfg/dir/file.ign"}, 0); err != nil {
		t.Fatal(err)
	}
}

func TestParseS3(t *testing.T) {
	cases := []struct {
		in, hint                        string
		bucket, key, ver, region, first string
		err                             string
	}{
		{in: "s3://b/k/x?versionId=v", bucket: "b", key: "k/x", ver: "v", first: "us-east-1"},
		{in: "s3://b/k", hint: "ap-south-1", bucket: "b", key: "k", first: "ap-south-1"},
		{in: "arn:aws-cn:s3:::b/k", hint: "ap-south-1", bucket: "b", key: "k", first: "cn-north-1"},
		{in: "arn:aws-us-gov:s3:::b/k", bucket: "b", key: "k", first: "us-gov-west-1"},
		{in: "arn:aws:s3:us-west-2:123456789012:accesspoint/ap/object/dir/k?versionId=z",
			bucket: "arn:aws:s3:us-west-2:123456789012:accesspoint/ap", key: "dir/k", ver: "z", region: "us-west-2"},
		{in: "arn:aws:s3::123456789012:accesspoint/mrap/object/k", err: "multi-region"},
		{in: "arn:aws:iam::123:role/x", err: "not s3"},
		{in: "s3://b", err: "bucket and a key"},
	}
	for _, c := range cases {
		got, err := parseS3(c.in, c.hint)
		if c.err != "" {
			mustContain(t, err, c.err)
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", c.in, err)
		}
		if got.bucket != c.bucket || got.key != c.key || got.versionID != c.ver || got.region != c.region || (c.first != "" && got.hint != c.first) {
			t.Errorf("%s: got %+v", c.in, got)
		}
	}
}

func TestGCS(t *testing.T) {
	content := pseudo(2<<20 + 1)
	gcs, err := fakestorage.NewServerWithOptions(fakestorage.Options{
		NoListener: true,
		InitialObjects: []fakestorage.Object{
			{ObjectAttrs: fakestorage.ObjectAttrs{BucketName: "bkt", Name: "dir/sub/config.ign"}, Content: []byte(`{"gcs":true}`)},
			{ObjectAttrs: fakestorage.ObjectAttrs{BucketName: "bkt", Name: "big"}, Content: content},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var paths, auths []string
	h := gcs.HTTPHandler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.EscapedPath()+"?"+r.URL.RawQuery)
		auths = append(auths, r.Header.Get("Authorization"))
		mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	f := newFetcher(t, Options{GCSEndpoint: srv.URL, TotalTimeout: 10 * time.Second})
	b, err := f.FetchBytes(bg(), Source{URL: "gs://bkt/dir/sub/config.ign", Hash: sha512Of([]byte(`{"gcs":true}`))}, 0)
	if err != nil || string(b) != `{"gcs":true}` {
		t.Fatalf("%q %v", b, err)
	}
	if paths[0] != "/storage/v1/b/bkt/o/dir%2Fsub%2Fconfig.ign?alt=media" || auths[0] != "" {
		t.Fatalf("request %q auth %q", paths[0], auths[0])
	}
	f2 := newFetcher(t, Options{GCSEndpoint: srv.URL, GCSToken: func(context.Context) (string, error) { return "ya29.token", nil }})
	out := filepath.Join(t.TempDir(), "big")
	if err := f2.FetchToFile(bg(), Source{URL: "gs://bkt/big", Hash: sha512Of(content)}, out, 0o644); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(out); !bytes.Equal(got, content) {
		t.Fatal("big object differs")
	}
	mu.Lock()
	if auths[len(auths)-1] != "Bearer ya29.token" {
		t.Fatalf("token not sent: %q", auths)
	}
	mu.Unlock()
	_, err = f.FetchBytes(bg(), Source{URL: "gs://bkt/missing"}, 0)
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing object: %v", err)
	}
	_, err = f.FetchBytes(bg(), Source{URL: "gs://bkt/dir/sub/config.ign", Hash: sha512Of(nil)}, 0)
	mustContain(t, err, "hash verification failed", "gs://bkt/dir/sub/config.ign")
}

// TestS3AccessPointARN fetches through an access point ARN with the real
// endpoint resolution: the SDK picks the access point host name, which the
// test routes to a loopback TLS server holding a certificate for it.
func TestS3AccessPointARN(t *testing.T) {
	ca := newTestCA(t)
	var mu sync.Mutex
	var hosts, paths []string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hosts = append(hosts, r.Host)
		paths = append(paths, r.URL.Path+"?"+r.URL.RawQuery)
		mu.Unlock()
		if r.URL.Path != "/dir/k.ign" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.Write([]byte("through the access point"))
	}))
	srv.TLS = ca.serverConfig(t, "*.s3-accesspoint.dualstack.us-west-2.amazonaws.com", "*.s3-accesspoint.us-west-2.amazonaws.com")
	srv.StartTLS()
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	var d net.Dialer
	f := newFetcher(t, Options{TotalTimeout: 10 * time.Second, DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}})
	if err := f.AddCA(ca.pem); err != nil {
		t.Fatal(err)
	}
	b, err := f.FetchBytes(bg(), Source{URL: "arn:aws:s3:us-west-2:123456789012:accesspoint/myap/object/dir/k.ign?versionId=v7"}, 0)
	if err != nil || string(b) != "through the access point" {
		t.Fatalf("%q %v (hosts %q paths %q)", b, err, hosts, paths)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.HasPrefix(hosts[0], "myap-123456789012.s3-accesspoint.") || !strings.Contains(hosts[0], "us-west-2") || !strings.Contains(paths[0], "versionId=v7") {
		t.Fatalf("request went to %q %q", hosts[0], paths[0])
	}
}

// TestS3RegionDiscoveryAWSNames covers region discovery against the real
// AWS host names (routed to loopback): the HEAD goes to the hint's regional
// endpoint, the GET to the bucket's dual-stack endpoint in its region.
func TestS3RegionDiscoveryAWSNames(t *testing.T) {
	ca := newTestCA(t)
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.Host+r.URL.Path)
		mu.Unlock()
		switch {
		case r.Method == http.MethodHead && r.URL.Path == "/gone":
			w.WriteHeader(http.StatusNotFound)
		case r.Method == http.MethodHead:
			w.Header().Set("X-Amz-Bucket-Region", "eu-west-1")
			w.WriteHeader(http.StatusMovedPermanently)
		default:
			w.Write([]byte("regional"))
		}
	}))
	srv.TLS = ca.serverConfig(t, "s3.ap-south-1.amazonaws.com", "*.s3.dualstack.eu-west-1.amazonaws.com")
	srv.StartTLS()
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	var d net.Dialer
	f := newFetcher(t, Options{S3RegionHint: "ap-south-1", TotalTimeout: 10 * time.Second, DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}})
	if err := f.AddCA(ca.pem); err != nil {
		t.Fatal(err)
	}
	b, err := f.FetchBytes(bg(), Source{URL: "s3://mybucket/k"}, 0)
	if err != nil || string(b) != "regional" {
		t.Fatalf("%q %v (%q)", b, err, seen)
	}
	mu.Lock()
	want := []string{"HEAD s3.ap-south-1.amazonaws.com/mybucket", "GET mybucket.s3.dualstack.eu-west-1.amazonaws.com/k"}
	if len(seen) != 2 || seen[0] != want[0] || seen[1] != want[1] {
		t.Fatalf("requests %q, want %q", seen, want)
	}
	mu.Unlock()
	_, err = f.FetchBytes(bg(), Source{URL: "s3://gone/k"}, 0)
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing bucket: %v", err)
	}
	mustContain(t, err, "could not find bucket gone")
}
