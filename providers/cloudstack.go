package providers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/flintboot/flint/log"
)

// cloudstack: a config drive (config-2, cloudstack/userdata/user_data.txt)
// raced against the metadata service on the DHCP server of each interface
// with a systemd-networkd lease. 404 = none.
type cloudstack struct{}

func (cloudstack) Name() string { return "cloudstack" }

// CloudstackServers reads systemd-networkd lease files (dir/<ifindex>) and
// returns the SERVER_ADDRESS of each, in file order, without duplicates.
func CloudstackServers(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading DHCP leases: %w", err)
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	seen := map[string]bool{}
	var out []string
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			continue
		}
		for _, l := range trimmedLines(string(b)) {
			k, v, ok := strings.Cut(l, "=")
			if ok && k == "SERVER_ADDRESS" && net.ParseIP(v) != nil && !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
	}
	return out, nil
}

// CloudstackUserDataURL is the user-data URL on a metadata server.
func CloudstackUserDataURL(server string) string {
	if strings.Contains(server, ":") {
		return "http://[" + server + "]/latest/user-data"
	}
	return "http://" + server + "/latest/user-data"
}

func (c cloudstack) Fetch(ctx context.Context, env *Env) ([]byte, error) {
	env.fill()
	if env.Fetcher.Options().Offline {
		return driveOrNeedNet(ctx, env, "cloudstack", cloudstackDrive)
	}
	branches := map[string]func(context.Context) ([]byte, error){
		"config drive": func(ctx context.Context) ([]byte, error) { return fetchDrive(ctx, env, cloudstackDrive, 0) },
	}
	var urls []string
	if env.MetadataBase != "" {
		urls = []string{env.endpoint("http://metadata/latest/user-data")}
	} else {
		servers, err := CloudstackServers(env.sysPath("/run/systemd/netif/leases"))
		if err != nil {
			env.Log.Warn("cloudstack: %v", err)
		}
		for _, s := range servers {
			urls = append(urls, CloudstackUserDataURL(s))
		}
	}
	for _, u := range urls {
		branches["metadata "+log.Redact(u)] = func(ctx context.Context) ([]byte, error) {
			return fetchHTTP(ctx, env, get(u), notFoundIsEmpty)
		}
	}
	b, err := race(ctx, env, branches)
	if err != nil && !errors.Is(err, ErrNoConfig) {
		return nil, fmt.Errorf("cloudstack: %w", err)
	}
	return b, err
}
