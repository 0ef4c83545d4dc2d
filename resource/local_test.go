package resource

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"testing"
)

func TestDataURLs(t *testing.T) {
	content := pseudo(6 << 20)
	small := []byte("hello, flint: 100% data\n")
	f := newFetcher(t, Options{Offline: true})
	cases := []struct {
		name string
		src  Source
		want []byte
	}{
		{"base64", Source{URL: "data:text/plain;base64," + base64.StdEncoding.EncodeToString(small)}, small},
		{"percent", Source{URL: "data:," + url.PathEscape(string(small))}, small},
		{"percent hash", Source{URL: "data:,hello%20world", Hash: sha256Of([]byte("hello world"))}, []byte("hello world")},
		{"gzip base64", Source{URL: "data:;base64," + base64.StdEncoding.EncodeToString(gz(t, small)), Compression: "gzip", Hash: sha512Of(small)}, small},
		{"large gzip", Source{URL: "data:;base64," + base64.StdEncoding.EncodeToString(gz(t, content)), Compression: "gzip", Hash: sha512Of(content)}, content},
		{"large", Source{URL: "data:;base64," + base64.StdEncoding.EncodeToString(content)}, content},
		{"empty data", Source{URL: "data:,"}, []byte{}},
		{"empty source", Source{URL: ""}, []byte{}},
		{"empty source hash", Source{URL: "", Hash: sha512Of(nil)}, []byte{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := f.FetchBytes(bg(), c.src, 0)
			if err != nil || !bytes.Equal(got, c.want) {
				t.Fatalf("%v (%d bytes, want %d)", err, len(got), len(c.want))
			}
		})
	}
	_, err := f.FetchBytes(bg(), Source{URL: "data:,abc", Hash: sha512Of([]byte("abd"))}, 0)
	mustContain(t, err, "hash verification failed", "data:")
	_, err = f.FetchBytes(bg(), Source{URL: "data:;base64,!!!"}, 0)
	mustContain(t, err, "decoding data URL")
	_, err = f.FetchBytes(bg(), Source{URL: "data:,notgzip", Compression: "gzip"}, 0)
	mustContain(t, err, "decompressing")
}

func TestOfflineNeedsNet(t *testing.T) {
	f := newFetcher(t, Options{Offline: true})
	for _, u := range []string{"http://example.com/x", "https://example.com/x", "tftp://10.0.0.1/x", "s3://b/k", "arn:aws:s3:::b/k", "gs://b/o"} {
		if !NeedsNetwork(u) {
			t.Errorf("NeedsNetwork(%q) = false", u)
		}
		_, err := f.FetchBytes(bg(), Source{URL: u}, 0)
		if !errors.Is(err, ErrNeedNet) {
			t.Errorf("%s: want ErrNeedNet, got %v", u, err)
		}
	}
	for _, u := range []string{"", "data:,x", "file:///etc/hostname", "oem:///x"} {
		if NeedsNetwork(u) {
			t.Errorf("NeedsNetwork(%q) = true", u)
		}
	}
	_, err := f.FetchBytes(bg(), Source{URL: "ftp://x/y"}, 0)
	if !errors.Is(err, ErrUnsupportedScheme) {
		t.Fatalf("ftp: %v", err)
	}
}

func TestFileScheme(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a b.txt")
	os.WriteFile(p, []byte("local"), 0o600)
	f := newFetcher(t, Options{Offline: true})
	u := (&url.URL{Scheme: "file", Path: p}).String()
	b, err := f.FetchBytes(bg(), Source{URL: u, Hash: sha256Of([]byte("local"))}, 0)
	if err != nil || string(b) != "local" {
		t.Fatalf("%q %v", b, err)
	}
	_, err = f.FetchBytes(bg(), Source{URL: "file:relative/path"}, 0)
	mustContain(t, err, "path is not absolute")
	_, err = f.FetchBytes(bg(), Source{URL: "file:///nonexistent/flint"}, 0)
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing file: %v", err)
	}
}

func TestOEMLookaside(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "base"), 0o755)
	os.WriteFile(filepath.Join(dir, "base", "base.ign"), []byte(`{"ignition":{}}`), 0o644)
	f := newFetcher(t, Options{Offline: true, OEMLookasideDir: dir, OEMDevice: filepath.Join(dir, "no-such-device")})
	b, err := f.FetchBytes(bg(), Source{URL: "oem:///base/base.ign"}, 0)
	if err != nil || string(b) != `{"ignition":{}}` {
		t.Fatalf("%q %v", b, err)
	}
	_, err = f.FetchBytes(bg(), Source{URL: "oem:///missing.ign"}, 0)
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
	_, err = f.FetchBytes(bg(), Source{URL: "oem://host/x"}, 0)
	mustContain(t, err, "path is not absolute")
	// The environment variable names the default lookaside dir.
	t.Setenv("FLINT_OEM_LOOKASIDE_DIR", dir)
	f2 := newFetcher(t, Options{})
	if f2.Options().OEMLookasideDir != dir {
		t.Fatalf("env not used: %q", f2.Options().OEMLookasideDir)
	}
}
