// Package platforms is the host tier for the platform hooks on object
// stores: the flint binary runs `flint run --stage …` for aws and gcp
// against the test peers (amazon-ec2-metadata-mock, gofakes3,
// fake-gcs-server) with nothing in flint redirected but the metadata
// service (FLINT_TEST_METADATA_BASE): S3 and GCS are reached at their real
// names (s3.<region>.amazonaws.com, <bucket>.s3.dualstack.<region>.
// amazonaws.com, storage.googleapis.com) over HTTPS on port 443, which a
// private /etc/hosts points at loopback peers with a test CA.
//
// Root: it binds port 443 and runs flint in its own mount namespace
// (unshare) with that /etc/hosts. `unshare -m --propagation private go
// test ./tests/host/...` runs it.
package platforms

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flintboot/flint/tests/testpeer"
)

var flintBin string

func TestMain(m *testing.M) {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "tests/host/platforms must run as root (make test-host)")
		os.Exit(1)
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		fmt.Fprintln(os.Stderr, "tests/host/platforms needs unshare (util-linux)")
		os.Exit(1)
	}
	dir, err := os.MkdirTemp("", "flint-platforms-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	flintBin = os.Getenv("FLINT_BIN")
	if flintBin == "" {
		flintBin = filepath.Join(dir, "flint")
		_, file, _, _ := runtime.Caller(0)
		cmd := exec.Command("go", "build", "-o", flintBin, "./cmd/flint")
		cmd.Dir = filepath.Join(filepath.Dir(file), "..", "..", "..")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building flint: %v\n%s", err, out)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// ca issues the peers' certificates; flint trusts it through SSL_CERT_FILE.
type ca struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	file string
}

func newCA(t *testing.T) *ca {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "flint platforms test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(2 * time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	c := &ca{cert: cert, key: key, file: filepath.Join(t.TempDir(), "ca.pem")}
	os.WriteFile(c.file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	return c
}

// server writes a certificate for names and its key, for a peer.
func (c *ca) server(t *testing.T, names ...string) (certFile, keyFile string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: names[0]},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(2 * time.Hour), DNSNames: names,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := x509.MarshalPKCS8PrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: k}), 0o600)
	return certFile, keyFile
}

// loopback443 returns a loopback address whose port 443 is free.
func loopback443(t *testing.T) string {
	t.Helper()
	for i := 0; i < 50; i++ {
		ip := fmt.Sprintf("127.%d.%d.%d", 40+i%100, os.Getpid()%250, 1+i)
		if l, err := net.Listen("tcp", ip+":443"); err == nil {
			l.Close()
			return ip
		}
	}
	t.Fatal("no loopback address with a free port 443")
	return ""
}

// machine is one first boot: run dirs, kernel command line, boot id and a
// private /etc/hosts, all in a temp dir; Run runs one stage of the binary.
type machine struct {
	t     *testing.T
	dir   string
	root  string
	env   []string
	hosts string
	out   strings.Builder
}

func newMachine(t *testing.T, metadata string, c *ca, hosts map[string]string) *machine {
	t.Helper()
	d := t.TempDir()
	m := &machine{t: t, dir: d, root: filepath.Join(d, "root")}
	os.MkdirAll(m.root, 0o755)
	os.WriteFile(filepath.Join(d, "cmdline"), []byte("BOOT_IMAGE=/vmlinuz root=LABEL=ROOT\n"), 0o644)
	os.WriteFile(filepath.Join(d, "boot_id"), []byte("boot-1\n"), 0o644)
	orig, _ := os.ReadFile("/etc/hosts")
	var h strings.Builder
	h.Write(orig)
	for name, ip := range hosts {
		fmt.Fprintf(&h, "\n%s %s", ip, name)
	}
	h.WriteString("\n")
	m.hosts = filepath.Join(d, "hosts")
	os.WriteFile(m.hosts, []byte(h.String()), 0o644)
	m.env = []string{
		"PATH=" + os.Getenv("PATH"),
		"FLINT_RUN_DIR=" + filepath.Join(d, "run"),
		"FLINT_LOCAL_CONFIG_DIR=" + filepath.Join(d, "etc-flint"),
		"FLINT_SYSTEM_CONFIG_DIR=" + filepath.Join(d, "usr-lib-flint"),
		"IGNITION_SYSTEM_RUNTIME_CONFIG_DIR=" + filepath.Join(d, "run-ignition"),
		"IGNITION_SYSTEM_LOCAL_CONFIG_DIR=" + filepath.Join(d, "etc-ignition"),
		"IGNITION_SYSTEM_CONFIG_DIR=" + filepath.Join(d, "usr-lib-ignition"),
		"FLINT_KERNEL_CMDLINE_PATH=" + filepath.Join(d, "cmdline"),
		"FLINT_BOOT_ID_FILE=" + filepath.Join(d, "boot_id"),
		"FLINT_TEST_METADATA_BASE=" + metadata,
		"SSL_CERT_FILE=" + c.file,
	}
	return m
}

// run runs `flint run --stage stage --platform platform --debug` in a
// mount namespace of its own with the machine's /etc/hosts.
func (m *machine) run(platform, stage string) (string, int) {
	m.t.Helper()
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c",
		`mount --bind "$0" /etc/hosts && exec "$@"`, m.hosts,
		flintBin, "run", "--stage", stage, "--platform", platform, "--root", m.root, "--log-to-stdout", "--debug")
	cmd.Env = m.env
	b, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		m.t.Fatalf("running flint: %v", err)
	}
	fmt.Fprintf(&m.out, "== %s (exit %d)\n%s", stage, code, b)
	return string(b), code
}

// boot runs the stages in order and fails the test at the first failure.
func (m *machine) boot(platform string, stages ...string) {
	m.t.Helper()
	for _, s := range stages {
		if _, code := m.run(platform, s); code != 0 {
			m.t.Fatalf("stage %s: exit %d\n%s", s, code, m.out.String())
		}
	}
}

func (m *machine) file(p string) string {
	b, err := os.ReadFile(filepath.Join(m.root, p))
	if err != nil {
		m.t.Errorf("%s: %v", p, err)
	}
	return string(b)
}

// noSecrets checks flint's output and the files it wrote for the secrets.
func (m *machine) noSecrets(secrets ...string) {
	m.t.Helper()
	texts := map[string]string{"output": m.out.String()}
	for _, p := range []string{"run/state", "root/etc/.flint-result.json", "root/etc/.ignition-result.json", "run/failure.txt"} {
		if b, err := os.ReadFile(filepath.Join(m.dir, p)); err == nil {
			texts[p] = string(b)
		}
	}
	for where, text := range texts {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				m.t.Errorf("secret %q in %s", s, where)
			}
		}
	}
}

const (
	awsRegion = "us-west-2"
	awsKey    = "ASIAFLINTROLE"
	awsSecret = "SECRET-CANARY-4be1f0"
	awsToken  = "SESSION-CANARY-93d2aa"
	bucket    = "flint-bucket"
)

func userDataFile(t *testing.T, cfg string) string {
	p := filepath.Join(t.TempDir(), "user-data")
	os.WriteFile(p, []byte(cfg), 0o644)
	return p
}

// TestAWSRoleCredentialsThroughRun: the user data from IMDS (v2 token
// first) merges an s3:// config at the fetch stage and has s3:// and
// arn: files at the files stage; the S3 peer refuses unsigned requests and
// verifies SigV4 for the role's key and the instance's region.
func TestAWSRoleCredentialsThroughRun(t *testing.T) {
	c := newCA(t)
	ip := loopback443(t)
	s3Hosts := []string{"s3." + awsRegion + ".amazonaws.com", "s3.us-east-1.amazonaws.com",
		bucket + ".s3.dualstack." + awsRegion + ".amazonaws.com"}
	cert, key := c.server(t, s3Hosts...)
	objs := testpeer.Objects(t, []testpeer.Object{
		{Bucket: bucket, Key: "merged.ign", Text: `{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"/etc/merged.txt","contents":{"source":"data:,merged"}}]}}`},
		{Bucket: bucket, Key: "dir/file.txt", Text: "from s3\n"},
		{Bucket: bucket, Key: "dir/arn.txt", Text: "from arn\n"},
	}, nil)
	s3 := testpeer.Start(t, testpeer.S3, "-objects", objs, "-region", awsRegion, "-access-key", awsKey,
		"-secret-key", awsSecret, "-require-signature", "-host-base", "s3.dualstack."+awsRegion+".amazonaws.com",
		"-listen", ip+":443", "-tls-cert", cert, "-tls-key", key)
	cfg := `{"ignition":{"version":"3.4.0","config":{"merge":[{"source":"s3://` + bucket + `/merged.ign"}]}},
	  "storage":{"files":[
	    {"path":"/etc/from-s3.txt","contents":{"source":"s3://` + bucket + `/dir/file.txt"}},
	    {"path":"/etc/from-arn.txt","contents":{"source":"arn:aws:s3:::` + bucket + `/dir/arn.txt"}}]}}`
	imds := testpeer.Start(t, testpeer.IMDS, "-imdsv2", "-region", awsRegion, "-role", "flint-node",
		"-access-key", awsKey, "-secret-key", awsSecret, "-session-token", awsToken, "-user-data", userDataFile(t, cfg))
	hosts := map[string]string{}
	for _, h := range s3Hosts {
		hosts[h] = ip
	}
	m := newMachine(t, imds.URL, c, hosts)

	// fetch-offline: IMDS needs the network
	if out, code := m.run("aws", "fetch-offline"); code != 0 || !fileExists(filepath.Join(m.dir, "run", "neednet")) {
		t.Fatalf("fetch-offline: exit %d, need-network flag %v\n%s", code, fileExists(filepath.Join(m.dir, "run", "neednet")), out)
	}
	m.boot("aws", "fetch")
	// the fetch stage rendered the s3:// merge with the role's signature
	gets := signedGets(t, s3.Requests(t))
	if len(gets) != 1 || !strings.HasSuffix(gets[0].Path, "/merged.ign") {
		t.Fatalf("S3 GETs after fetch: %+v\n%s", s3.Requests(t), m.out.String())
	}
	m.boot("aws", "kargs", "disks", "mount", "files", "umount")
	if m.file("etc/merged.txt") != "merged" || m.file("etc/from-s3.txt") != "from s3\n" || m.file("etc/from-arn.txt") != "from arn\n" {
		t.Fatalf("files not provisioned\n%s", m.out.String())
	}
	reqs := s3.Requests(t)
	gets = signedGets(t, reqs)
	if len(gets) != 3 {
		t.Fatalf("signed S3 GETs: %d\n%+v", len(gets), reqs)
	}
	askedInstanceRegion := false
	for _, r := range reqs {
		switch {
		case r.Method == http.MethodHead:
			// s3:// asks the instance's region first (an arn: asks its
			// partition's, us-east-1 for aws)
			askedInstanceRegion = askedInstanceRegion || r.Host == "s3."+awsRegion+".amazonaws.com"
		case r.Method == http.MethodGet:
			if r.Host != bucket+".s3.dualstack."+awsRegion+".amazonaws.com" || r.Status != 200 {
				t.Errorf("GET %s%s: %d", r.Host, r.Path, r.Status)
			}
		}
	}
	if !askedInstanceRegion {
		t.Errorf("the bucket's region was never asked at the instance's region (IMDS said %s): %+v", awsRegion, reqs)
	}
	// IMDSv2: a session token first
	ireqs := imds.Requests(t)
	if len(ireqs) == 0 || ireqs[0].Method != http.MethodPut || ireqs[0].Path != "/latest/api/token" {
		t.Errorf("IMDS requests do not start with the v2 token: %+v", ireqs)
	}
	sawCreds := false
	for _, r := range ireqs {
		if strings.HasPrefix(r.Path, "/latest/meta-data/iam/security-credentials/flint-node") && r.Status == 200 {
			sawCreds = true
		}
	}
	if !sawCreds {
		t.Errorf("role credentials never read from IMDS: %+v", ireqs)
	}
	m.noSecrets(awsSecret, awsToken)
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// signedGets returns the GETs signed with the role's key for the
// instance's region (the peer verified the signature: status 200).
func signedGets(t *testing.T, reqs []testpeer.Request) []testpeer.Request {
	var out []testpeer.Request
	for _, r := range reqs {
		if r.Method != http.MethodGet {
			continue
		}
		if !strings.Contains(r.Auth, "Credential="+awsKey+"/") || !strings.Contains(r.Auth, "/"+awsRegion+"/s3/aws4_request") {
			t.Errorf("GET %s not signed with the role for %s: %q", r.Path, awsRegion, r.Auth)
			continue
		}
		if r.Status == 200 {
			out = append(out, r)
		}
	}
	return out
}

// TestS3RefusesAnonymous is the control: the same bucket from a platform
// without credentials (metal, the config in user.ign): flint fetches
// anonymously, the bucket refuses, the files stage fails naming the object
// and writes nothing.
func TestS3RefusesAnonymous(t *testing.T) {
	c := newCA(t)
	ip := loopback443(t)
	s3Hosts := []string{"s3.us-east-1.amazonaws.com", bucket + ".s3.dualstack." + awsRegion + ".amazonaws.com"}
	cert, key := c.server(t, s3Hosts...)
	objs := testpeer.Objects(t, []testpeer.Object{{Bucket: bucket, Key: "dir/file.txt", Text: "from s3\n"}}, nil)
	s3 := testpeer.Start(t, testpeer.S3, "-objects", objs, "-region", awsRegion, "-access-key", awsKey,
		"-secret-key", awsSecret, "-require-signature", "-host-base", "s3.dualstack."+awsRegion+".amazonaws.com",
		"-listen", ip+":443", "-tls-cert", cert, "-tls-key", key)
	hosts := map[string]string{}
	for _, h := range s3Hosts {
		hosts[h] = ip
	}
	m := newMachine(t, "", c, hosts)
	os.MkdirAll(filepath.Join(m.dir, "usr-lib-flint"), 0o755)
	os.WriteFile(filepath.Join(m.dir, "usr-lib-flint", "user.ign"), []byte(`{"ignition":{"version":"3.4.0"},
	  "storage":{"files":[{"path":"/etc/from-s3.txt","contents":{"source":"s3://`+bucket+`/dir/file.txt"}}]}}`), 0o644)
	m.boot("metal", "fetch", "disks", "mount")
	out, code := m.run("metal", "files")
	if code == 0 || !strings.Contains(out, "AccessDenied") || !strings.Contains(out, "dir/file.txt") {
		t.Fatalf("files without credentials: exit %d\n%s", code, out)
	}
	gets := 0
	for _, r := range s3.Requests(t) {
		if r.Method == http.MethodGet {
			gets++
			if r.Auth != "" || r.Status != http.StatusForbidden {
				t.Errorf("GET %+v", r)
			}
		}
	}
	if gets == 0 || fileExists(filepath.Join(m.root, "etc/from-s3.txt")) {
		t.Errorf("%d GETs; file written: %v", gets, fileExists(filepath.Join(m.root, "etc/from-s3.txt")))
	}
}

// gcpMetadata is the GCE metadata server: the user-data attribute and the
// default service account's scopes and token, for requests that carry
// Metadata-Flavor: Google.
type gcpMetadata struct {
	userData, token string
	mu              sync.Mutex
	tokenFetches    int
}

func (g *gcpMetadata) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Metadata-Flavor") != "Google" {
		http.Error(w, "missing Metadata-Flavor", http.StatusForbidden)
		return
	}
	w.Header().Set("Metadata-Flavor", "Google")
	switch r.URL.Path {
	case "/computeMetadata/v1/instance/attributes/user-data":
		w.Write([]byte(g.userData))
	case "/computeMetadata/v1/instance/service-accounts/default/scopes":
		w.Write([]byte("https://www.googleapis.com/auth/cloud-platform\nhttps://www.googleapis.com/auth/logging.write\n"))
	case "/computeMetadata/v1/instance/service-accounts/default/token":
		g.mu.Lock()
		g.tokenFetches++
		g.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": g.token, "expires_in": 3599, "token_type": "Bearer"})
	default:
		http.NotFound(w, r)
	}
}

// TestGCPTokenThroughRun: gs:// at the fetch stage (merge) and the files
// stage, against fake-gcs-server requiring the service account's token.
func TestGCPTokenThroughRun(t *testing.T) {
	const token = "ya29.TOKEN-CANARY-6c0e71"
	c := newCA(t)
	ip := loopback443(t)
	cert, key := c.server(t, "storage.googleapis.com")
	objs := testpeer.Objects(t, []testpeer.Object{
		{Bucket: "flint-gcs", Key: "merged.ign", Text: `{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"/etc/merged.txt","contents":{"source":"data:,merged"}}]}}`},
		{Bucket: "flint-gcs", Key: "dir/file.txt", Text: "from gcs\n"},
	}, nil)
	gcs := testpeer.Start(t, testpeer.GCS, "-objects", objs, "-bearer", token,
		"-listen", ip+":443", "-tls-cert", cert, "-tls-key", key)
	md := &gcpMetadata{token: token, userData: `{"ignition":{"version":"3.4.0","config":{"merge":[{"source":"gs://flint-gcs/merged.ign"}]}},
	  "storage":{"files":[{"path":"/etc/from-gcs.txt","contents":{"source":"gs://flint-gcs/dir/file.txt"}}]}}`}
	srv := httptest.NewServer(md)
	defer srv.Close()
	m := newMachine(t, srv.URL, c, map[string]string{"storage.googleapis.com": ip})
	if _, code := m.run("gcp", "fetch-offline"); code != 0 || !fileExists(filepath.Join(m.dir, "run", "neednet")) {
		t.Fatalf("fetch-offline: exit %d\n%s", code, m.out.String())
	}
	m.boot("gcp", "fetch", "kargs", "disks", "mount", "files", "umount")
	if m.file("etc/merged.txt") != "merged" || m.file("etc/from-gcs.txt") != "from gcs\n" {
		t.Fatalf("files not provisioned\n%s", m.out.String())
	}
	var gets int
	for _, r := range gcs.Requests(t) {
		if r.Method != http.MethodGet {
			continue
		}
		if r.Auth != "Bearer "+token || r.Status != 200 {
			t.Errorf("GCS %s %s: auth %q status %d", r.Method, r.Path, r.Auth, r.Status)
		}
		gets++
	}
	if gets != 2 {
		t.Errorf("GCS GETs: %d, want the merge and the file\n%+v", gets, gcs.Requests(t))
	}
	if md.tokenFetches == 0 {
		t.Error("the token never came from the metadata server")
	}
	m.noSecrets(token)
}
