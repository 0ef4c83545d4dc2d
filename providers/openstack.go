package providers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/flintboot/flint/log"
)

// openstack (and brightbox, which shares it): a config drive labelled
// config-2/CONFIG-2 raced against the metadata service over IPv4 and, per
// interface that is up and has IPv6, the link-local IPv6 address. The first
// answer wins; a 404 from the service means no user data. Drive branches
// wait until cancelled.
type openstack struct{ name string }

func (o openstack) Name() string { return o.name }

const openstackMetadataPath = "/openstack/latest/user_data"

// OpenstackMetadataURLs lists the metadata endpoints to race: IPv4, then one
// link-local IPv6 URL per interface name given.
func OpenstackMetadataURLs(ifaces []string) []string {
	urls := []string{"http://169.254.169.254" + openstackMetadataPath}
	for _, i := range ifaces {
		urls = append(urls, "http://[fe80::a9fe:a9fe%25"+i+"]"+openstackMetadataPath)
	}
	return urls
}

// ipv6Interfaces lists the interfaces that are up, not loopback, and have
// an IPv6 address.
func ipv6Interfaces() []string {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil
	}
	var out []string
	for _, i := range ifs {
		if i.Flags&net.FlagUp == 0 || i.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := i.Addrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() == nil {
				out = append(out, i.Name)
				break
			}
		}
	}
	return out
}

func (o openstack) Fetch(ctx context.Context, env *Env) ([]byte, error) {
	env.fill()
	if env.Fetcher.Options().Offline {
		return driveOrNeedNet(ctx, env, o.name, configDrive)
	}
	branches := map[string]func(context.Context) ([]byte, error){
		"config drive": func(ctx context.Context) ([]byte, error) { return fetchDrive(ctx, env, configDrive, 0) },
	}
	var urls []string
	if env.MetadataBase != "" {
		urls = []string{env.endpoint("http://169.254.169.254" + openstackMetadataPath)}
	} else {
		urls = OpenstackMetadataURLs(ipv6Interfaces())
	}
	for _, u := range urls {
		branches["metadata "+log.Redact(u)] = func(ctx context.Context) ([]byte, error) {
			return fetchHTTP(ctx, env, get(u), notFoundIsEmpty)
		}
	}
	b, err := race(ctx, env, branches)
	if err != nil && !errors.Is(err, ErrNoConfig) {
		return nil, fmt.Errorf("%s: %w", o.name, err)
	}
	return b, err
}

// driveOrNeedNet is the offline (fetch-offline) path of platforms that race
// a drive against the network: a drive that is present now is read,
// otherwise the network is needed.
func driveOrNeedNet(ctx context.Context, env *Env, name string, d driveSpec) ([]byte, error) {
	for _, l := range d.labels {
		dev, err := env.FindLabel(l)
		if err != nil {
			return nil, err
		}
		if dev != "" {
			env.Log.Info("%s: config drive %s present, reading it offline", name, dev)
			b, _, err := readFromDevice(ctx, env, dev, "", d.path)
			if errors.Is(err, errFileMissing) {
				return nil, ErrNoConfig
			}
			if err != nil {
				return nil, err
			}
			return nonEmpty(b)
		}
	}
	return nil, fmt.Errorf("%s: no config drive yet and the metadata service %w", name, ErrNeedNet)
}

// trimmedLines is a helper for lease parsing.
func trimmedLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}
