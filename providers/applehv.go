package providers

import (
	"context"
	"fmt"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/flintboot/flint/resource"
	"github.com/flintboot/flint/system"
)

// applehv (Apple Virtualization framework / vfkit): the host serves the
// config over HTTP on vsock CID 2 port 1024 (GET http://d/ with
// Accept: application/json). No IP network is needed.
type applehv struct{}

func (applehv) Name() string { return "applehv" }

const (
	applehvCID  = 2
	applehvPort = 1024
)

// vsockDial connects a stream socket to cid:port.
func vsockDial(ctx context.Context, cid, port uint32) (net.Conn, error) {
	fd, err := unix.Socket(unix.AF_VSOCK, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("vsock socket: %w", err)
	}
	if dl, ok := ctx.Deadline(); ok {
		tv := unix.NsecToTimeval(time.Until(dl).Nanoseconds())
		_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv)
	}
	if err := unix.Connect(fd, &unix.SockaddrVM{CID: cid, Port: port}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("vsock connect %d:%d: %w", cid, port, err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return &vsockConn{File: os.NewFile(uintptr(fd), "vsock"), cid: cid, port: port}, nil
}

// vsockConn is a net.Conn over a vsock file (net.FileConn does not know
// AF_VSOCK).
type vsockConn struct {
	*os.File
	cid, port uint32
}

type vsockAddr struct{ cid, port uint32 }

func (a vsockAddr) Network() string { return "vsock" }
func (a vsockAddr) String() string  { return fmt.Sprintf("%d:%d", a.cid, a.port) }

func (c *vsockConn) LocalAddr() net.Addr  { return vsockAddr{unix.VMADDR_CID_ANY, 0} }
func (c *vsockConn) RemoteAddr() net.Addr { return vsockAddr{c.cid, c.port} }

func (applehv) Fetch(ctx context.Context, env *Env) ([]byte, error) {
	env.fill()
	src := get("http://d/", resource.Header{Name: "Accept", Value: "application/json"})
	fetcher := env.Fetcher
	if env.MetadataBase != "" {
		src.URL = env.endpoint(src.URL)
	} else {
		if _, err := os.Stat("/dev/vsock"); err != nil {
			if _, err := env.Runner.Run(ctx, system.Cmd{Name: system.ToolModprobe, Args: []string{"vsock"}}); err != nil {
				env.Log.Warn("applehv: loading vsock: %v", err)
			}
		}
		opts := fetcher.Options()
		opts.Offline = false // vsock is not the IP network
		opts.Proxy = nil
		opts.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return vsockDial(ctx, applehvCID, applehvPort)
		}
		f, err := resource.New(opts)
		if err != nil {
			return nil, err
		}
		fetcher = f
	}
	e := *env
	e.Fetcher = fetcher
	return fetchHTTP(ctx, &e, src, notFoundIsEmpty)
}
