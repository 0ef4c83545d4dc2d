package providers

import "context"

// metal: bare metal and PXE have no platform config; the kernel command line
// (flint.config.url, ...) or user.ign supply one. Flatcar's no-op OEM ids
// (cloudsigma, rackspace, rackspace-onmetal, vagrant, interoute, niftycloud)
// use it too.
type metal struct{ name string }

func (m metal) Name() string { return m.name }

func (metal) Fetch(context.Context, *Env) ([]byte, error) { return nil, ErrNoConfig }
