// Package fetch holds the fetch-offline and fetch stages. Acquiring the
// config is the engine's job (stages.Acquire); the stages themselves only
// decide whether the network is needed.
package fetch

import (
	"context"
	"fmt"

	"github.com/flintboot/flint/config"
	"github.com/flintboot/flint/resource"
	"github.com/flintboot/flint/stages"
)

// Stage is fetch (Offline false) or fetch-offline (Offline true).
type Stage struct{ Offline bool }

// Name implements stages.Stage.
func (s Stage) Name() string {
	if s.Offline {
		return "fetch-offline"
	}
	return "fetch"
}

// NeedsNetwork lists why cfg needs the network: non-data sources, Tang
// servers without an advertisement, custom clevis pins that need it.
func NeedsNetwork(cfg config.Config) []string {
	var why []string
	res := func(where string, r config.Resource) {
		if r.Source != nil && resource.NeedsNetwork(*r.Source) {
			why = append(why, where)
		}
	}
	for _, r := range cfg.Ignition.Config.Merge {
		res("ignition.config.merge", r)
	}
	res("ignition.config.replace", cfg.Ignition.Config.Replace)
	for _, r := range cfg.Ignition.Security.TLS.CertificateAuthorities {
		res("ignition.security.tls.certificateAuthorities", r)
	}
	for _, f := range cfg.Storage.Files {
		res(f.Path, f.Contents)
		for _, a := range f.Append {
			res(f.Path+" (append)", a)
		}
	}
	for _, l := range cfg.Storage.Luks {
		res("luks "+l.Name+" keyFile", l.KeyFile)
		for _, t := range l.Clevis.Tang {
			if t.Advertisement == nil || *t.Advertisement == "" {
				why = append(why, "luks "+l.Name+" tang "+t.URL)
			}
		}
		if l.Clevis.Custom.NeedsNetwork != nil && *l.Clevis.Custom.NeedsNetwork {
			why = append(why, "luks "+l.Name+" custom clevis pin")
		}
	}
	return why
}

// Plan implements stages.Stage. fetch is a no-op ("fetch complete");
// fetch-offline plans the need-network flag when the config needs the
// network (the engine creates it: its path is a `flint run` option).
func (s Stage) Plan(ctx context.Context, c *stages.Context) (stages.Plan, error) {
	if !s.Offline {
		return stages.Noop, nil
	}
	why := NeedsNetwork(c.Config)
	if len(why) == 0 {
		return stages.Noop, nil
	}
	return &stages.Actions{
		List: []stages.Action{{Op: "need-net", Target: "network", Detail: fmt.Sprintf("%d resources need the network, first: %s", len(why), why[0])}},
		Do: func(ctx context.Context, c *stages.Context) error {
			c.Log.With("fetch-offline").Info("config needs networking (%s)", why[0])
			return nil
		},
	}, nil
}
