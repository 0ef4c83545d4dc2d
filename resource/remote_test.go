package resource

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

	"github.com/flintboot/flint/tests/testpeer"
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

// s3Objects seeds the S3 peer: a versioned bucket "cfg" with two versions
// of dir/file.ign and a 4 MiB object.
func s3Objects(t *testing.T, big []byte) string {
	return testpeer.Objects(t, []testpeer.Object{
		{Bucket: "cfg", Key: "dir/file.ign", Text: "version one"},
		{Bucket: "cfg", Key: "dir/file.ign", Text: "version two"},
		{Bucket: "cfg", Key: "big.bin"},
	}, map[int][]byte{2: big})
}

func peerVersions(t *testing.T, p *testpeer.Peer) []string {
	var v []string
	if err := json.Unmarshal(p.Info["versions"], &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestS3(t *testing.T) {
	big := pseudo(4<<20 + 3)
	// The bucket reports its region and verifies the signature of signed
	// requests (for AKROLE in eu-west-3); unsigned ones are served.
	peer := testpeer.Start(t, testpeer.S3, "-objects", s3Objects(t, big), "-region", "eu-west-3",
		"-access-key", "AKROLE", "-secret-key", "s")
	vers := peerVersions(t, peer)
	v1, v2 := vers[0], vers[1]
	if v1 == "" || v1 == v2 {
		t.Fatalf("versions %q %q", v1, v2)
	}
	f := newFetcher(t, Options{S3Endpoint: peer.URL, TotalTimeout: 10 * time.Second})
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
	for _, r := range peer.Requests(t) {
		if r.Auth != "" {
			t.Fatalf("anonymous fetch was signed: %+v", r)
		}
	}
	peer.ResetLog(t)
	// Region discovery: the signed request uses the bucket's region, and
	// the peer accepts the signature.
	creds := AWSCredentialsFunc(func(context.Context) (AWSCredentials, error) {
		return AWSCredentials{AccessKeyID: "AKROLE", SecretAccessKey: "s"}, nil
	})
	f2 := newFetcher(t, Options{S3Endpoint: peer.URL, AWSCredentials: creds})
	b, err := f2.FetchBytes(bg(), Source{URL: "s3://cfg/dir/file.ign?versionId=" + v1}, 0)
	if err != nil || string(b) != "version one" {
		t.Fatalf("signed fetch: %q %v", b, err)
	}
	var gets []testpeer.Request
	for _, r := range peer.Requests(t) {
		if r.Method == "GET" {
			gets = append(gets, r)
		}
	}
	if len(gets) != 1 || gets[0].Status != 200 || !strings.Contains(gets[0].Auth, "AKROLE/") || !strings.Contains(gets[0].Auth, "/eu-west-3/s3/aws4_request") {
		t.Fatalf("signature does not use the discovered region: %+v", gets)
	}
	// A wrong secret is refused by the peer: the signature is checked.
	wrong := AWSCredentialsFunc(func(context.Context) (AWSCredentials, error) {
		return AWSCredentials{AccessKeyID: "AKROLE", SecretAccessKey: "not-it"}, nil
	})
	f4 := newFetcher(t, Options{S3Endpoint: peer.URL, AWSCredentials: wrong, TotalTimeout: 5 * time.Second})
	_, err = f4.FetchBytes(bg(), Source{URL: "s3://cfg/dir/file.ign"}, 0)
	if !errors.Is(err, ErrFailed) {
		t.Fatalf("bad signature: %v", err)
	}
	mustContain(t, err, "403")
	// Failing credentials fall back to anonymous.
	bad := AWSCredentialsFunc(func(context.Context) (AWSCredentials, error) {
		return AWSCredentials{}, errors.New("no EC2 IMDS role found")
	})
	f3 := newFetcher(t, Options{S3Endpoint: peer.URL, AWSCredentials: bad})
	if _, err := f3.FetchBytes(bg(), Source{URL: "s3://cfg/dir/file.ign"}, 0); err != nil {
		t.Fatal(err)
	}
}

// TestS3RequiresSignature: a bucket that refuses unsigned requests is
// read with credentials, and anonymously it fails at once (403 is final).
func TestS3RequiresSignature(t *testing.T) {
	peer := testpeer.Start(t, testpeer.S3, "-objects", s3Objects(t, []byte("b")), "-region", "us-west-2",
		"-access-key", "AKPRIV", "-secret-key", "k", "-require-signature")
	creds := AWSCredentialsFunc(func(context.Context) (AWSCredentials, error) {
		return AWSCredentials{AccessKeyID: "AKPRIV", SecretAccessKey: "k", SessionToken: "session"}, nil
	})
	f := newFetcher(t, Options{S3Endpoint: peer.URL, AWSCredentials: creds, TotalTimeout: 10 * time.Second})
	b, err := f.FetchBytes(bg(), Source{URL: "arn:aws:s3:::cfg/dir/file.ign", Hash: sha256Of([]byte("version two"))}, 0)
	if err != nil || string(b) != "version two" {
		t.Fatalf("%q %v", b, err)
	}
	anon := newFetcher(t, Options{S3Endpoint: peer.URL, TotalTimeout: 10 * time.Second})
	start := time.Now()
	_, err = anon.FetchBytes(bg(), Source{URL: "s3://cfg/dir/file.ign"}, 0)
	if !errors.Is(err, ErrFailed) {
		t.Fatalf("unsigned: %v", err)
	}
	mustContain(t, err, "403")
	if time.Since(start) > 3*time.Second {
		t.Fatalf("a 403 was retried (%s)", time.Since(start))
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
			bucket: "ap-123456789012", key: "dir/k", ver: "z", region: "us-west-2"},
		{in: "arn:aws:s3::123456789012:accesspoint/mrap/object/k", err: "multi-region"},
		{in: "arn:aws:iam::123:role/x", err: "not s3"},
		{in: "s3://b", err: "bucket and a key"},
		{in: "arn:aws:s3:us-west-2:123456789012:accesspoint//object/k", err: "invalid S3 access point ARN"},
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
		if got.bucket+got.accessPoint != c.bucket || got.key != c.key || got.versionID != c.ver || got.region != c.region || (c.first != "" && got.hint != c.first) {
			t.Errorf("%s: got %+v", c.in, got)
		}
	}
}

func TestGCS(t *testing.T) {
	content := pseudo(2<<20 + 1)
	objs := testpeer.Objects(t, []testpeer.Object{
		{Bucket: "bkt", Key: "dir/sub/config.ign", Text: `{"gcs":true}`},
		{Bucket: "bkt", Key: "big"},
	}, map[int][]byte{1: content})
	gcs := testpeer.Start(t, testpeer.GCS, "-objects", objs)
	f := newFetcher(t, Options{GCSEndpoint: gcs.URL, TotalTimeout: 10 * time.Second})
	b, err := f.FetchBytes(bg(), Source{URL: "gs://bkt/dir/sub/config.ign", Hash: sha512Of([]byte(`{"gcs":true}`))}, 0)
	if err != nil || string(b) != `{"gcs":true}` {
		t.Fatalf("%q %v", b, err)
	}
	reqs := gcs.Requests(t)
	if reqs[0].Path+"?"+reqs[0].Query != "/storage/v1/b/bkt/o/dir%2Fsub%2Fconfig.ign?alt=media" || reqs[0].Auth != "" {
		t.Fatalf("request %+v", reqs[0])
	}
	_, err = f.FetchBytes(bg(), Source{URL: "gs://bkt/missing"}, 0)
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing object: %v", err)
	}
	_, err = f.FetchBytes(bg(), Source{URL: "gs://bkt/dir/sub/config.ign", Hash: sha512Of(nil)}, 0)
	mustContain(t, err, "hash verification failed", "gs://bkt/dir/sub/config.ign")

	// A bucket that wants a bearer token: the token source's token is
	// sent; without one the fetch fails at once (401).
	private := testpeer.Start(t, testpeer.GCS, "-objects", objs, "-bearer", "ya29.token")
	f2 := newFetcher(t, Options{GCSEndpoint: private.URL, GCSToken: func(context.Context) (string, error) { return "ya29.token", nil }})
	out := filepath.Join(t.TempDir(), "big")
	if err := f2.FetchToFile(bg(), Source{URL: "gs://bkt/big", Hash: sha512Of(content)}, out, 0o644); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(out); !bytes.Equal(got, content) {
		t.Fatal("big object differs")
	}
	if r := private.Requests(t); r[len(r)-1].Auth != "Bearer ya29.token" || r[len(r)-1].Status != 200 {
		t.Fatalf("token not sent: %+v", r)
	}
	anon := newFetcher(t, Options{GCSEndpoint: private.URL, TotalTimeout: 10 * time.Second})
	_, err = anon.FetchBytes(bg(), Source{URL: "gs://bkt/big"}, 0)
	if !errors.Is(err, ErrFailed) {
		t.Fatalf("anonymous: %v", err)
	}
	mustContain(t, err, "401")
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

// TestS3VirtualHostSigned runs the real AWS addressing against the S3 peer
// over TLS (host names routed to it): region discovery on the hint's
// regional endpoint, then a SigV4-signed GET on the bucket's dual-stack
// virtual host, path-style for a bucket name with dots, keys that need
// escaping, and versionId. The peer refuses unsigned requests and verifies
// every signature.
func TestS3VirtualHostSigned(t *testing.T) {
	ca := newTestCA(t)
	cert, key := ca.serverFiles(t, "s3.us-east-1.amazonaws.com", "s3.eu-west-1.amazonaws.com", "s3.dualstack.eu-west-1.amazonaws.com", "*.s3.dualstack.eu-west-1.amazonaws.com")
	const odd = "dir/a b+ü=(1)&.ign"
	objs := testpeer.Objects(t, []testpeer.Object{
		{Bucket: "vhost", Key: "k.ign", Text: "old"},
		{Bucket: "vhost", Key: "k.ign", Text: "virtual host"},
		{Bucket: "flint.cfg.bucket", Key: odd, Text: "path style"},
	}, nil)
	peer := testpeer.Start(t, testpeer.S3, "-objects", objs, "-tls-cert", cert, "-tls-key", key,
		"-host-base", "s3.dualstack.eu-west-1.amazonaws.com", "-region", "eu-west-1",
		"-access-key", "AKVH", "-secret-key", "vh-secret", "-require-signature")
	vers := peerVersions(t, peer)
	var d net.Dialer
	creds := AWSCredentialsFunc(func(context.Context) (AWSCredentials, error) {
		return AWSCredentials{AccessKeyID: "AKVH", SecretAccessKey: "vh-secret"}, nil
	})
	f := newFetcher(t, Options{S3RegionHint: "eu-west-1", AWSCredentials: creds, TotalTimeout: 10 * time.Second,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, peer.Addr)
		}})
	if err := f.AddCA(ca.pem); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ url, want string }{
		{"s3://vhost/k.ign", "virtual host"},
		{"s3://vhost/k.ign?versionId=" + vers[0], "old"},
		{"s3://flint.cfg.bucket/" + odd, "path style"},
		{"arn:aws:s3:::flint.cfg.bucket/" + odd, "path style"},
	} {
		b, err := f.FetchBytes(bg(), Source{URL: c.url, Hash: sha256Of([]byte(c.want))}, 0)
		if err != nil || string(b) != c.want {
			t.Fatalf("%s: %q %v\n%+v", c.url, b, err, peer.Requests(t))
		}
	}
	var got []string
	for _, r := range peer.Requests(t) {
		got = append(got, fmt.Sprintf("%s %s%s %d", r.Method, r.Host, r.Path, r.Status))
	}
	want := []string{
		"HEAD s3.eu-west-1.amazonaws.com/vhost 403",
		"GET vhost.s3.dualstack.eu-west-1.amazonaws.com/k.ign 200",
		"HEAD s3.eu-west-1.amazonaws.com/vhost 403",
		"GET vhost.s3.dualstack.eu-west-1.amazonaws.com/k.ign 200",
		"HEAD s3.eu-west-1.amazonaws.com/flint.cfg.bucket 403",
		"GET s3.dualstack.eu-west-1.amazonaws.com/flint.cfg.bucket/dir/a%20b%2B%C3%BC%3D%281%29%26.ign 200",
		// an ARN's partition names the region asked first
		"HEAD s3.us-east-1.amazonaws.com/flint.cfg.bucket 403",
		"GET s3.dualstack.eu-west-1.amazonaws.com/flint.cfg.bucket/dir/a%20b%2B%C3%BC%3D%281%29%26.ign 200",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
