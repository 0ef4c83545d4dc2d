package stages

import (
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/flintboot/flint/config"
	"github.com/flintboot/flint/log"
	"github.com/flintboot/flint/resource"
	"github.com/flintboot/flint/system"
)

// ParseFunc parses a config of any accepted version into the newest shape
// (config.Parse, or the legacy-aware parser of the cli).
type ParseFunc func(raw []byte) (config.Config, config.Report, error)

// ErrInvalidMerge is returned when the merged config fails validation.
var ErrInvalidMerge = errors.New("merging configs resulted in an invalid config")

// maxReferenceDepth bounds merge/replace recursion (a config referencing
// itself would otherwise loop forever).
const maxReferenceDepth = 10

// maxConfigSize bounds one fetched config.
const maxConfigSize = 128 << 20

// AcquireOptions describe where a config comes from.
type AcquireOptions struct {
	// Raw is the user config; empty means "no user config" (an empty
	// config is used and UserProvided is false).
	Raw []byte
	// Source names Raw for logs and the state (a path or redacted URL).
	Source string
	// Parse defaults to config.Parse.
	Parse ParseFunc
	// Fetcher renders merge/replace references and CAs; required when the
	// config references anything.
	Fetcher *resource.Fetcher
	// BaseDirs are the system config directories in priority order
	// (highest first); see SystemConfigDirs. Nil: no base configs.
	BaseDirs []string
	// Platform selects base.platform.d/<Platform>.
	Platform string
	Log      *log.Logger
}

// Acquired is the outcome of acquisition.
type Acquired struct {
	// User is the rendered user config (references resolved, CA sources
	// turned into data URLs): what the config cache holds.
	User config.Config
	// Base is the merged base config (base.d then base.platform.d).
	Base config.Config
	// Effective is merge(base, user), validated.
	Effective    config.Config
	UserProvided bool
	Fetched      []FetchedConfig
	Report       config.Report
}

// SystemConfigDirs returns the directories base configs are read from, in
// priority order: flint's run, local and system dirs, each followed by its
// Ignition alias (flint's dir wins over Ignition's at the same level). The
// Ignition aliases honour IGNITION_SYSTEM_RUNTIME_CONFIG_DIR,
// IGNITION_SYSTEM_LOCAL_CONFIG_DIR and IGNITION_SYSTEM_CONFIG_DIR.
func SystemConfigDirs(p system.Paths) []string {
	env := func(k, def string) string {
		if v := os.Getenv(k); v != "" {
			return v
		}
		return def
	}
	return []string{
		p.RunDir, env("IGNITION_SYSTEM_RUNTIME_CONFIG_DIR", "/run/ignition"),
		p.LocalConfigDir, env("IGNITION_SYSTEM_LOCAL_CONFIG_DIR", "/etc/ignition"),
		p.SystemConfigDir, env("IGNITION_SYSTEM_CONFIG_DIR", "/usr/lib/ignition"),
	}
}

// Acquire parses the user config, renders its references through the
// fetcher, merges it over the base configs and validates the result.
func Acquire(ctx context.Context, o AcquireOptions) (*Acquired, error) {
	if o.Parse == nil {
		o.Parse = config.Parse
	}
	if o.Log == nil {
		o.Log = log.Default()
	}
	a := &Acquired{}
	r := &renderer{ctx: ctx, o: &o, a: a}

	base, err := r.loadBase()
	if err != nil {
		return nil, err
	}
	a.Base = base

	user := config.Config{Ignition: config.Ignition{Version: config.MaxVersion.String()}}
	if len(bytes.TrimSpace(o.Raw)) > 0 {
		a.UserProvided = true
		cfg, rpt, err := o.Parse(o.Raw)
		a.Report = rpt
		for _, e := range rpt.Entries {
			o.Log.Warn("user config: %s", e.String())
		}
		if err != nil {
			return a, fmt.Errorf("parsing user config %s: %w", o.Source, err)
		}
		a.Fetched = append(a.Fetched, FetchedConfig{Kind: "user", Source: o.Source, SHA512: sum(o.Raw)})
		o.Log.Info("user config %s (sha512 %s)", o.Source, sum(o.Raw)[:16])
		// The base config's fetch settings apply while fetching the user
		// config's references.
		if err := r.updateFetcher(&base); err != nil {
			return a, err
		}
		user, err = r.render(cfg, 0, "user")
		if err != nil {
			return a, err
		}
	}
	a.User = user
	eff := config.Merge(config.Merge(config.Config{}, base), user)
	eff.Ignition.Version = config.MaxVersion.String()
	if rpt := config.Validate(eff); rpt.IsFatal() {
		for _, e := range rpt.Entries {
			o.Log.Error("merged config: %s", e.String())
		}
		return a, ErrInvalidMerge
	}
	a.Effective = eff
	return a, nil
}

func sum(raw []byte) string {
	h := sha512.Sum512(raw)
	return hex.EncodeToString(h[:])
}

type renderer struct {
	ctx context.Context
	o   *AcquireOptions
	a   *Acquired
}

// loadBase merges base.d fragments (sorted by file name; for one name the
// highest-priority directory wins) and then base.platform.d/<platform>.
func (r *renderer) loadBase() (config.Config, error) {
	var base config.Config
	for _, sub := range []string{"base.d", filepath.Join("base.platform.d", r.o.Platform)} {
		if sub == "base.platform.d" || (r.o.Platform == "" && sub != "base.d") {
			continue
		}
		chosen := map[string]string{}
		for i := len(r.o.BaseDirs) - 1; i >= 0; i-- { // lowest priority first, overwritten by higher
			dir := filepath.Join(r.o.BaseDirs[i], sub)
			ents, err := os.ReadDir(dir)
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					continue
				}
				return base, fmt.Errorf("reading base configs: %w", err)
			}
			for _, e := range ents {
				if e.IsDir() {
					continue
				}
				chosen[e.Name()] = filepath.Join(dir, e.Name())
			}
		}
		names := make([]string, 0, len(chosen))
		for n := range chosen {
			names = append(names, n)
		}
		sort.Strings(names)
		kind := "base"
		if sub != "base.d" {
			kind = "platform-base"
		}
		for _, n := range names {
			p := chosen[n]
			raw, err := os.ReadFile(p)
			if err != nil {
				return base, fmt.Errorf("reading base config: %w", err)
			}
			cfg, rpt, err := r.o.Parse(raw)
			for _, e := range rpt.Entries {
				r.o.Log.Warn("base config %s: %s", p, e.String())
			}
			if err != nil {
				return base, fmt.Errorf("parsing base config %s: %w", p, err)
			}
			r.a.Fetched = append(r.a.Fetched, FetchedConfig{Kind: kind, Source: p, SHA512: sum(raw)})
			if err := r.updateFetcher(&cfg); err != nil {
				return base, err
			}
			cfg, err = r.render(cfg, 0, kind)
			if err != nil {
				return base, err
			}
			base = config.Merge(base, cfg)
			r.o.Log.Info("merged %s config %s", kind, p)
		}
	}
	return base, nil
}

// render resolves cfg's replace and merge references, depth first.
func (r *renderer) render(cfg config.Config, depth int, kind string) (config.Config, error) {
	if depth > maxReferenceDepth {
		return cfg, fmt.Errorf("config references nested deeper than %d levels", maxReferenceDepth)
	}
	if err := r.updateFetcher(&cfg); err != nil {
		return cfg, err
	}
	if rep := cfg.Ignition.Config.Replace; rep.Source != nil && *rep.Source != "" {
		child, err := r.fetchConfig(rep, kind)
		if err != nil {
			return cfg, err
		}
		return r.render(child, depth+1, kind)
	}
	merges := cfg.Ignition.Config.Merge
	cfg.Ignition.Config = config.IgnitionConfig{}
	acc := cfg
	for _, m := range merges {
		child, err := r.fetchConfig(m, kind)
		if err != nil {
			return cfg, err
		}
		child, err = r.render(child, depth+1, kind)
		if err != nil {
			return cfg, err
		}
		acc = config.Merge(acc, child)
		if err := r.updateFetcher(&acc); err != nil {
			return cfg, err
		}
	}
	acc.Ignition.Config = config.IgnitionConfig{}
	return acc, nil
}

func (r *renderer) fetchConfig(res config.Resource, kind string) (config.Config, error) {
	src := *res.Source
	if r.o.Fetcher == nil {
		return config.Config{}, fmt.Errorf("fetching referenced config %s: no fetcher", log.Redact(src))
	}
	done := r.o.Log.Op("fetching referenced config %s", log.Redact(src))
	raw, err := r.o.Fetcher.FetchBytes(r.ctx, ToSource(res), maxConfigSize)
	done(err)
	if err != nil {
		return config.Config{}, fmt.Errorf("fetching referenced config %s: %w", log.Redact(src), err)
	}
	r.o.Log.Debugf("referenced config %s sha512 %s", log.Redact(src), sum(raw))
	r.a.Fetched = append(r.a.Fetched, FetchedConfig{Kind: kind, Source: log.Redact(src), Referenced: true, SHA512: sum(raw)})
	cfg, rpt, err := r.o.Parse(raw)
	for _, e := range rpt.Entries {
		r.o.Log.Warn("referenced config %s: %s", log.Redact(src), e.String())
	}
	if err != nil {
		return cfg, fmt.Errorf("parsing referenced config %s: %w", log.Redact(src), err)
	}
	return cfg, nil
}

// updateFetcher applies cfg's timeouts, proxy and CAs to the fetcher, and
// rewrites each CA source to a data URL so later stages never refetch.
func (r *renderer) updateFetcher(cfg *config.Config) error {
	f := r.o.Fetcher
	if f == nil {
		return nil
	}
	if err := ApplyFetchSettings(f, cfg.Ignition); err != nil {
		return err
	}
	cas := cfg.Ignition.Security.TLS.CertificateAuthorities
	for i, ca := range cas {
		if ca.Source == nil {
			continue
		}
		src := *ca.Source
		raw, err := f.FetchBytes(r.ctx, ToSource(ca), maxConfigSize)
		if err != nil {
			return fmt.Errorf("fetching CA bundle %s: %w", log.Redact(src), err)
		}
		if err := f.AddCA(raw); err != nil {
			return fmt.Errorf("adding CA bundle %s: %w", log.Redact(src), err)
		}
		d := "data:;base64," + base64.StdEncoding.EncodeToString(raw)
		cas[i] = config.Resource{Source: &d}
	}
	return nil
}

// ApplyFetchSettings sets the fetcher's timeouts and proxy from a config's
// ignition section (CAs are added by acquisition, which fetches them).
func ApplyFetchSettings(f *resource.Fetcher, ign config.Ignition) error {
	opts := f.Options()
	if t := ign.Timeouts.HTTPResponseHeaders; t != nil {
		opts.ResponseHeaderTimeout = time.Duration(*t) * time.Second
	}
	if t := ign.Timeouts.HTTPTotal; t != nil {
		opts.TotalTimeout = time.Duration(*t) * time.Second
	}
	p := ign.Proxy
	if p.HTTPProxy != nil || p.HTTPSProxy != nil || len(p.NoProxy) > 0 {
		px := &resource.Proxy{}
		if p.HTTPProxy != nil {
			px.HTTPProxy = *p.HTTPProxy
		}
		if p.HTTPSProxy != nil {
			px.HTTPSProxy = *p.HTTPSProxy
		}
		for _, n := range p.NoProxy {
			px.NoProxy = append(px.NoProxy, string(n))
		}
		opts.Proxy = px
	}
	return f.SetOptions(opts)
}

// ToSource converts a config resource to a fetcher source.
func ToSource(r config.Resource) resource.Source {
	s := resource.Source{}
	if r.Source != nil {
		s.URL = *r.Source
	}
	if r.Compression != nil {
		s.Compression = *r.Compression
	}
	if r.Verification.Hash != nil {
		s.Hash = *r.Verification.Hash
	}
	for _, h := range r.HTTPHeaders {
		v := ""
		if h.Value != nil {
			v = *h.Value
		}
		s.Headers = append(s.Headers, resource.Header{Name: h.Name, Value: v})
	}
	return s
}

// WriteCache writes the rendered config to path (0600, atomic).
func WriteCache(path string, cfg config.Config) error {
	raw, err := json.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("writing config cache: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("writing config cache: %w", err)
	}
	if err := system.WriteFileAtomic(path, bytes.NewReader(raw), 0o600); err != nil {
		return fmt.Errorf("writing config cache: %w", err)
	}
	return nil
}

// ReadCache reads a config written by WriteCache.
func ReadCache(path string) (config.Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return config.Config{}, fmt.Errorf("reading config cache: %w", err)
	}
	var cfg config.Config
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return cfg, fmt.Errorf("reading config cache %s: %w", path, err)
	}
	return cfg, nil
}
