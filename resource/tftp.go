package resource

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/pin/tftp/v3"
)

// tftpOpener reads tftp://host[:port]/path in octet mode (default port 69).
// The library retries lost packets itself; a broken transfer is retried
// like any other when the sink can be rewound.
func tftpOpener(u *url.URL) opener {
	host := u.Host
	if _, _, err := net.SplitHostPort(host); err != nil {
		host = net.JoinHostPort(strings.Trim(host, "[]"), "69")
	}
	return func(ctx context.Context, attempt int) (io.ReadCloser, error) {
		c, err := tftp.NewClient(host)
		if err != nil {
			return nil, fmt.Errorf("tftp client for %s: %w", host, err)
		}
		c.SetTimeout(5 * time.Second)
		c.SetRetries(3)
		type result struct {
			wt  io.WriterTo
			err error
		}
		ch := make(chan result, 1)
		go func() {
			wt, err := c.Receive(u.Path, "octet")
			ch <- result{wt, err}
		}()
		var wt io.WriterTo
		select {
		case r := <-ch:
			wt, err = r.wt, r.err
		case <-ctx.Done():
			// The library cannot be interrupted; its own timeout ends the
			// abandoned request.
			return nil, transient(fmt.Errorf("tftp %s%s: %w", host, u.Path, ctx.Err()))
		}
		if err != nil {
			if strings.Contains(err.Error(), "code: 1,") || strings.Contains(strings.ToLower(err.Error()), "not found") {
				return nil, fmt.Errorf("tftp %s: %w: %v", u.Path, ErrNotFound, err)
			}
			return nil, transient(fmt.Errorf("tftp %s%s: %w", host, u.Path, err))
		}
		pr, pw := io.Pipe()
		go func() {
			_, err := wt.WriteTo(pw)
			pw.CloseWithError(err)
		}()
		stop := make(chan struct{})
		go func() {
			select {
			case <-ctx.Done():
				pr.CloseWithError(ctx.Err())
			case <-stop:
			}
		}()
		return &tftpBody{PipeReader: pr, stop: stop}, nil
	}
}

type tftpBody struct {
	*io.PipeReader
	stop chan struct{}
}

func (b *tftpBody) Close() error {
	close(b.stop)
	return b.PipeReader.Close()
}
