// Package peer is what the test peers share: the loopback listener, the
// ready file the launcher waits for, and the request log tests read.
package peer

import (
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// Flags are the switches every peer has.
type Flags struct {
	Listen  string
	Ready   string
	Log     string
	TLSCert string
	TLSKey  string
}

// Register adds the common flags to fs.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.Listen, "listen", "127.0.0.1:0", "loopback address to listen on")
	fs.StringVar(&f.Ready, "ready", "", "file to write {\"url\":…} into once serving")
	fs.StringVar(&f.Log, "log", "", "file to append one JSON line per request to")
	fs.StringVar(&f.TLSCert, "tls-cert", "", "PEM certificate: serve HTTPS")
	fs.StringVar(&f.TLSKey, "tls-key", "", "PEM key for -tls-cert")
}

// Request is one line of the request log.
type Request struct {
	Method string `json:"method"`
	Host   string `json:"host"`
	Path   string `json:"path"` // escaped path
	Query  string `json:"query"`
	Auth   string `json:"auth"`
	Status int    `json:"status"`
}

type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Serve listens on f.Listen (loopback only), serves h with request logging,
// writes the ready file with the base URL and the extra fields, and runs
// until SIGTERM/SIGINT.
func Serve(f Flags, h http.Handler, extra map[string]any) error {
	host, _, err := net.SplitHostPort(f.Listen)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("test peers listen on loopback only, not %q", host)
	}
	l, err := net.Listen("tcp", f.Listen)
	if err != nil {
		return err
	}
	var logMu sync.Mutex
	var logFile *os.File
	if f.Log != "" {
		logFile, err = os.OpenFile(f.Log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
	}
	wrapped := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Recorded before the handler runs: handlers may rewrite r.URL.
		req := Request{Method: r.Method, Host: r.Host, Path: r.URL.EscapedPath(),
			Query: r.URL.RawQuery, Auth: r.Header.Get("Authorization")}
		rec := &recorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		if logFile == nil {
			return
		}
		req.Status = rec.status
		line, _ := json.Marshal(req)
		logMu.Lock()
		logFile.Write(append(line, '\n'))
		logMu.Unlock()
	})
	srv := &http.Server{Handler: wrapped, ReadHeaderTimeout: 10 * time.Second}
	scheme := "http"
	if f.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(f.TLSCert, f.TLSKey)
		if err != nil {
			return err
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}}
		l = tls.NewListener(l, srv.TLSConfig)
		scheme = "https"
	}
	if f.Ready != "" {
		info := map[string]any{"url": scheme + "://" + l.Addr().String(), "addr": l.Addr().String()}
		for k, v := range extra {
			info[k] = v
		}
		b, _ := json.Marshal(info)
		tmp := f.Ready + ".tmp"
		if err := os.WriteFile(tmp, b, 0o644); err != nil {
			return err
		}
		if err := os.Rename(tmp, f.Ready); err != nil {
			return err
		}
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sig
		srv.Close()
	}()
	if err := srv.Serve(l); err != http.ErrServerClosed {
		return err
	}
	return nil
}

// Object is one entry of a peer's -objects manifest. Entries with the same
// bucket and key become successive versions.
type Object struct {
	Bucket string `json:"bucket"`
	Key    string `json:"key"`
	Text   string `json:"text,omitempty"`
	File   string `json:"file,omitempty"` // content read from this file
}

// Content returns the object's bytes.
func (o Object) Content() ([]byte, error) {
	if o.File != "" {
		return os.ReadFile(o.File)
	}
	return []byte(o.Text), nil
}

// ReadObjects reads a manifest (a JSON array of Object); "" is none.
func ReadObjects(path string) ([]Object, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var objs []Object
	if err := json.Unmarshal(b, &objs); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return objs, nil
}

// Fatal prints err and exits non-zero.
func Fatal(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
