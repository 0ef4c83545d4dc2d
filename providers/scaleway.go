package providers

import (
	"context"
	"math/rand/v2"
	"net"

	"github.com/flintboot/flint/resource"
)

// scaleway: user data from the metadata service, which only answers
// requests from a privileged source port, so every attempt dials from a
// random port in 1–1022. 404 = none.
type scaleway struct{}

func (scaleway) Name() string { return "scaleway" }

// privilegedDialer dials TCP from a random source port in 1–1022.
func privilegedDialer(ctx context.Context, network, addr string) (net.Conn, error) {
	var last error
	for range 8 { // another process may hold the port: pick again
		d := net.Dialer{LocalAddr: &net.TCPAddr{Port: 1 + rand.IntN(1022)}}
		c, err := d.DialContext(ctx, network, addr)
		if err == nil {
			return c, nil
		}
		last = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, last
}

func (scaleway) Fetch(ctx context.Context, env *Env) ([]byte, error) {
	opts := env.Fetcher.Options()
	opts.DialContext = privilegedDialer
	f, err := resource.New(opts)
	if err != nil {
		return nil, err
	}
	e := *env
	e.Fetcher = f
	return fetchHTTP(ctx, &e, get(env.endpoint("http://169.254.42.42/user_data/cloud-init")), notFoundIsEmpty)
}
