package providers

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flintboot/flint/resource"
)

const testConfig = `{"ignition":{"version":"3.5.0"},"storage":{"files":[{"path":"/etc/hi"}]}}`

// mdPlatform describes one metadata API as documented: where the user data
// lives, what the request must carry, how the body is encoded.
type mdPlatform struct {
	id      string
	path    string            // user-data path
	query   map[string]string // required query parameters
	headers map[string]string // required request headers
	encode  func([]byte) []byte
	// notFoundErr: a 404 is an error on this platform, not "no config"
	notFoundErr bool
	// check is an extra per-request check (e.g. scaleway's source port)
	check func(r *http.Request) error
}

func b64(b []byte) []byte { return []byte(base64.StdEncoding.EncodeToString(b)) }

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

var mdPlatforms = []mdPlatform{
	{id: "akamai", path: "/v1/user-data", headers: map[string]string{"Metadata-Token": "akamai-token-1"}, encode: func(b []byte) []byte { return b64(gz(b)) }},
	{id: "aliyun", path: "/latest/user-data"},
	{id: "applehv", path: "/", headers: map[string]string{"Accept": "application/json"}},
	{id: "azure", path: "/metadata/instance/compute/userData", query: map[string]string{"api-version": "2021-01-01", "format": "text"}, headers: map[string]string{"Metadata": "true"}, encode: b64},
	{id: "brightbox", path: "/openstack/latest/user_data"},
	{id: "cloudstack", path: "/latest/user-data"},
	{id: "digitalocean", path: "/metadata/v1/user-data", notFoundErr: true},
	{id: "exoscale", path: "/1.0/user-data"},
	{id: "gce", path: "/computeMetadata/v1/instance/attributes/user-data", headers: map[string]string{"Metadata-Flavor": "Google"}},
	{id: "hetzner", path: "/hetzner/v1/userdata"},
	{id: "openstack", path: "/openstack/latest/user_data"},
	{id: "oraclecloud", path: "/opc/v2/instance/metadata/user_data", headers: map[string]string{"Authorization": "Bearer Oracle"}, encode: b64},
	{id: "packet", path: "/userdata"},
	{id: "scaleway", path: "/user_data/cloud-init", check: func(r *http.Request) error {
		_, port, _ := net.SplitHostPort(r.RemoteAddr)
		var p int
		fmt.Sscan(port, &p)
		if p < 1 || p > 1022 {
			return fmt.Errorf("source port %d is not privileged", p)
		}
		return nil
	}},
	{id: "upcloud", path: "/metadata/v1/user_data"},
	{id: "vultr", path: "/user-data/user-data"},
}

// mdServer serves one platform's API. mode: "ok", "404", "empty", or a
// literal body prefixed with "raw:".
type mdServer struct {
	*httptest.Server
	p    mdPlatform
	mu   sync.Mutex
	mode string
	errs []error
	hits int
}

func newMDServer(t *testing.T, p mdPlatform, mode string) *mdServer {
	s := &mdServer{p: p, mode: mode}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		s.Close()
		for _, e := range s.errs {
			t.Errorf("%s server: %v", p.id, e)
		}
	})
	return s
}

func (s *mdServer) fail(w http.ResponseWriter, code int, err error) {
	s.mu.Lock()
	s.errs = append(s.errs, err)
	s.mu.Unlock()
	http.Error(w, err.Error(), code)
}

func (s *mdServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.hits++
	mode := s.mode
	s.mu.Unlock()
	p := s.p
	if p.id == "akamai" && r.URL.Path == "/v1/token" {
		if r.Method != http.MethodPut || r.Header.Get("Metadata-Token-Expiry-Seconds") != "300" {
			s.fail(w, http.StatusBadRequest, fmt.Errorf("bad token request %s %v", r.Method, r.Header))
			return
		}
		io.WriteString(w, "akamai-token-1")
		return
	}
	if p.id == "gce" {
		w.Header().Set("Metadata-Flavor", "Google")
	}
	if r.URL.Path != p.path {
		http.NotFound(w, r)
		return
	}
	for k, v := range p.headers {
		if got := r.Header.Get(k); got != v {
			s.fail(w, http.StatusUnauthorized, fmt.Errorf("header %s = %q, want %q", k, got, v))
			return
		}
	}
	for k, v := range p.query {
		if got := r.URL.Query().Get(k); got != v {
			s.fail(w, http.StatusBadRequest, fmt.Errorf("query %s = %q, want %q", k, got, v))
			return
		}
	}
	if p.check != nil {
		if err := p.check(r); err != nil {
			s.fail(w, http.StatusForbidden, err)
			return
		}
	}
	switch {
	case mode == "404":
		http.NotFound(w, r)
	case mode == "empty":
	case strings.HasPrefix(mode, "raw:"):
		io.WriteString(w, strings.TrimPrefix(mode, "raw:"))
	default:
		body := []byte(testConfig)
		if p.encode != nil {
			body = p.encode(body)
		}
		w.Write(body)
	}
}

func TestMetadataPlatforms(t *testing.T) {
	for _, p := range mdPlatforms {
		t.Run(p.id, func(t *testing.T) {
			for _, mode := range []string{"ok", "404", "empty"} {
				srv := newMDServer(t, p, mode)
				env := testEnv(t, srv.URL, 3*time.Second)
				prov, err := Lookup(p.id)
				if err != nil {
					t.Fatal(err)
				}
				b, err := prov.Fetch(ctxT(t, 20*time.Second), env)
				switch {
				case mode == "ok":
					if err != nil || string(b) != testConfig {
						t.Fatalf("%s: got %q, %v", mode, b, err)
					}
				case mode == "404" && p.id == "azure":
					// IMDS 404 is retried (not ready yet) until the limit
					if !errors.Is(err, resource.ErrTimeout) {
						t.Fatalf("404: want timeout, got %v", err)
					}
				case mode == "404" && p.notFoundErr:
					if err == nil || errors.Is(err, ErrNoConfig) || !errors.Is(err, resource.ErrNotFound) {
						t.Fatalf("404: want a not-found error, got %v", err)
					}
				case mode == "empty" && p.id == "azure":
					// empty IMDS user data → waits for the OVF disc
					if err == nil {
						t.Fatalf("empty: want an error (no OVF disc), got %q", b)
					}
				default:
					if !errors.Is(err, ErrNoConfig) {
						t.Fatalf("%s: want ErrNoConfig, got %q, %v", mode, b, err)
					}
				}
			}
		})
	}
}

func TestAzureEmptyIMDSWaitsForOVF(t *testing.T) {
	srv := newMDServer(t, mdPlatforms[3], "empty")
	env := testEnv(t, srv.URL, 3*time.Second)
	env.Timeouts = map[string]time.Duration{"azure.ovf": 300 * time.Millisecond}
	var asked []string
	env.FindFSType = func(types ...string) ([]string, error) { asked = append(asked, types...); return nil, nil }
	_, err := azure{}.Fetch(ctxT(t, 10*time.Second), env)
	if err == nil || !strings.Contains(err.Error(), "no OVF provisioning disc") {
		t.Fatalf("got %v", err)
	}
	if len(asked) == 0 || asked[0] != "udf" {
		t.Fatalf("searched for %v", asked)
	}
}

func TestOracleRetries429(t *testing.T) {
	var n int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++
		if n < 3 {
			http.Error(w, "throttled", http.StatusTooManyRequests)
			return
		}
		w.Write(b64([]byte(testConfig)))
	}))
	defer srv.Close()
	b, err := oraclecloud{}.Fetch(ctxT(t, 20*time.Second), testEnv(t, srv.URL, 10*time.Second))
	if err != nil || string(b) != testConfig || n != 3 {
		t.Fatalf("got %q, %v after %d requests", b, err, n)
	}
}

func TestMalformedEncodings(t *testing.T) {
	for _, id := range []string{"oraclecloud", "akamai", "azure"} {
		var p mdPlatform
		for _, x := range mdPlatforms {
			if x.id == id {
				p = x
			}
		}
		srv := newMDServer(t, p, "raw:!!!not base64!!!")
		prov, _ := Lookup(id)
		_, err := prov.Fetch(ctxT(t, 10*time.Second), testEnv(t, srv.URL, 3*time.Second))
		if err == nil || errors.Is(err, ErrNoConfig) || !strings.Contains(err.Error(), "base64") {
			t.Errorf("%s: want a base64 error, got %v", id, err)
		}
	}
	// akamai: valid base64 of broken gzip
	bad := append([]byte{0x1f, 0x8b}, []byte("garbage")...)
	p := mdPlatforms[0]
	srv := newMDServer(t, p, "raw:"+string(b64(bad)))
	_, err := akamai{}.Fetch(ctxT(t, 10*time.Second), testEnv(t, srv.URL, 3*time.Second))
	if err == nil || !strings.Contains(err.Error(), "gzip") {
		t.Errorf("akamai broken gzip: got %v", err)
	}
}

func TestOversizedUserData(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := bytes.Repeat([]byte("x"), 1<<20)
		for i := 0; i <= MaxConfigSize>>20; i++ {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	_, err := hetzner{}.Fetch(ctxT(t, 60*time.Second), testEnv(t, srv.URL, 30*time.Second))
	if !errors.Is(err, resource.ErrTooLarge) || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("want a size error, got %v", err)
	}
}

func TestUnreachableWithinLimit(t *testing.T) {
	base := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	for _, id := range []string{"hetzner", "gcp", "digitalocean", "packet"} {
		prov, _ := Lookup(id)
		start := time.Now()
		_, err := prov.Fetch(ctxT(t, 30*time.Second), testEnv(t, base, time.Second))
		if err == nil || errors.Is(err, ErrNoConfig) {
			t.Errorf("%s: want an error, got %v", id, err)
		}
		if d := time.Since(start); d > 8*time.Second {
			t.Errorf("%s: gave up after %s with a 1s limit", id, d)
		}
	}
}

func TestOfflineNeedsNet(t *testing.T) {
	for _, id := range []string{"aliyun", "akamai", "azure", "gcp", "hetzner", "openstack", "cloudstack", "packet", "oraclecloud"} {
		env := testEnv(t, "http://127.0.0.1:1", time.Second)
		opts := env.Fetcher.Options()
		opts.Offline = true
		env.Fetcher.SetOptions(opts)
		prov, _ := Lookup(id)
		if _, err := prov.Fetch(ctxT(t, 5*time.Second), env); !errors.Is(err, ErrNeedNet) {
			t.Errorf("%s offline: want ErrNeedNet, got %v", id, err)
		}
	}
}

func TestPacketStatus(t *testing.T) {
	var mu sync.Mutex
	var events []PacketEvent
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/metadata" && r.Method == http.MethodGet:
			fmt.Fprintf(w, `{"id":"x","phone_home_url":"https://tinkerbell.example.net/phone-home"}`)
		case r.URL.Path == "/events" && r.Method == http.MethodPost:
			if r.Header.Get("Content-Type") != "application/json" {
				http.Error(w, "content type", http.StatusBadRequest)
				return
			}
			var ev PacketEvent
			if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			mu.Lock()
			events = append(events, ev)
			mu.Unlock()
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	env := testEnv(t, srv.URL, 5*time.Second)
	p, _ := Lookup("packet")
	sr := p.(StatusReporter)
	if err := sr.Status(ctxT(t, 10*time.Second), env, "disks", nil); err != nil {
		t.Fatal(err)
	}
	if err := sr.Status(ctxT(t, 10*time.Second), env, "files", errors.New("writing /etc/x: permission denied")); err != nil {
		t.Fatal(err)
	}
	want := []PacketEvent{
		{State: "running", Message: "[disks] flint stage succeeded"},
		{State: "failed", Message: "[files] flint failed: writing /etc/x: permission denied"},
	}
	if fmt.Sprint(events) != fmt.Sprint(want) {
		t.Fatalf("events %+v", events)
	}
}
