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
	"reflect"
	"sort"
	"time"

	"github.com/coreos/vcontext/report"

	"github.com/flintboot/flint/config"
	"github.com/flintboot/flint/config/legacy"
	"github.com/flintboot/flint/log"
	"github.com/flintboot/flint/resource"
	"github.com/flintboot/flint/system"
)

// ErrInvalidMerge is returned when the merged config fails validation.
var ErrInvalidMerge = errors.New("merging configs resulted in an invalid config")

// maxReferenceDepth bounds merge/replace recursion (a config referencing
// itself would otherwise loop forever).
const maxReferenceDepth = 10

// maxConfigBytes bounds what one acquisition reads in all: the user config,
// the base configs and every referenced config together. A reference bomb
// (configs merging configs) stops at this budget instead of growing memory
// with every level.
const maxConfigBytes = 128 << 20

// UserConfig is the user config handed to acquisition. A nil *UserConfig
// means there is none (the platform has no user data): the base configs
// alone are used. Raw is parsed even when empty, so an empty file given to
// apply fails as validate fails ("not a config (empty)").
type UserConfig struct {
	Raw []byte
	// Source names Raw for logs and the state (a path or redacted URL).
	Source string
}

// AcquireOptions describe where a config comes from.
type AcquireOptions struct {
	User *UserConfig
	// Fetcher renders merge/replace references and CAs; required when the
	// config references anything.
	Fetcher *resource.Fetcher
	// BaseDirs are the system config directories in priority order
	// (highest first); see system.Paths.ConfigDirs. Nil: no base configs.
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

// Acquire parses the user config (any supported version), renders its
// references through the fetcher, merges it over the base configs and
// validates the result.
func Acquire(ctx context.Context, o AcquireOptions) (*Acquired, error) {
	a := &Acquired{}
	r := &renderer{o: &o, a: a, budget: maxConfigBytes}

	base, err := r.loadBase(ctx)
	if err != nil {
		return nil, err
	}
	a.Base = base

	user := config.Config{Ignition: config.Ignition{Version: config.MaxVersion.String()}}
	if u := o.User; u != nil {
		a.UserProvided = true
		if err := r.spend(len(u.Raw), u.Source); err != nil {
			return a, err
		}
		cfg, rpt, err := legacy.ParseAny(u.Raw)
		a.Report = rpt
		logReport(o.Log, "user config "+u.Source, rpt)
		if err != nil {
			return a, fmt.Errorf("parsing user config %s: %w", u.Source, err)
		}
		a.Fetched = append(a.Fetched, FetchedConfig{Kind: "user", Source: u.Source, SHA512: sum(u.Raw)})
		o.Log.Info("user config %s (%d bytes)", u.Source, len(u.Raw))
		// The base config's fetch settings apply while fetching the user
		// config's references.
		if err := r.updateFetcher(ctx, &base); err != nil {
			return a, err
		}
		user, err = r.render(ctx, cfg, 0, "user")
		if err != nil {
			return a, err
		}
	}
	a.User = user
	eff := config.Merge(config.Merge(config.Config{}, base), user)
	eff.Ignition.Version = config.MaxVersion.String()
	// Only a merge makes a new config: without base configs or references
	// the effective config is the user config, validated when parsed (and
	// valid under the newest rules too: config TestValidConfigValidAfterMerge).
	merged := len(a.Fetched) > 1 || !reflect.ValueOf(base).IsZero()
	if merged {
		if rpt := config.Validate(eff); rpt.IsFatal() {
			logReport(o.Log, "merged config", rpt)
			return a, ErrInvalidMerge
		}
	}
	a.Effective = eff
	return a, nil
}

// logReport logs validation entries at their own severity: errors as
// errors, warnings as warnings.
func logReport(l *log.Logger, what string, rpt config.Report) {
	for _, e := range rpt.Entries {
		switch e.Kind {
		case report.Error:
			l.Error("%s: %s", what, e.String())
		case report.Warn:
			l.Warn("%s: %s", what, e.String())
		default:
			l.Info("%s: %s", what, e.String())
		}
	}
}

func sum(raw []byte) string {
	h := sha512.Sum512(raw)
	return hex.EncodeToString(h[:])
}

type renderer struct {
	o      *AcquireOptions
	a      *Acquired
	budget int // config bytes this acquisition may still read
}

// charge spends what a fetch limited to the budget returned; a fetch cut
// off at the limit is the budget exceeded.
func (r *renderer) charge(raw []byte, err error, what string) error {
	switch {
	case errors.Is(err, resource.ErrTooLarge):
		return r.spend(r.budget+1, what)
	case err != nil:
		return err
	}
	return r.spend(len(raw), what)
}

// spend takes n bytes from the acquisition's budget.
func (r *renderer) spend(n int, what string) error {
	if n > r.budget {
		return fmt.Errorf("%s: the configs of this machine exceed %d MiB in all: %w", what, maxConfigBytes>>20, resource.ErrTooLarge)
	}
	r.budget -= n
	return nil
}

// loadBase merges base.d fragments (sorted by file name; for one name the
// highest-priority directory wins) and then base.platform.d/<platform>.
func (r *renderer) loadBase(ctx context.Context) (config.Config, error) {
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
			if err := r.spend(len(raw), p); err != nil {
				return base, err
			}
			cfg, rpt, err := legacy.ParseAny(raw)
			logReport(r.o.Log, "base config "+p, rpt)
			if err != nil {
				return base, fmt.Errorf("parsing base config %s: %w", p, err)
			}
			r.a.Fetched = append(r.a.Fetched, FetchedConfig{Kind: kind, Source: p, SHA512: sum(raw)})
			if err := r.updateFetcher(ctx, &cfg); err != nil {
				return base, err
			}
			cfg, err = r.render(ctx, cfg, 0, kind)
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
func (r *renderer) render(ctx context.Context, cfg config.Config, depth int, kind string) (config.Config, error) {
	if depth > maxReferenceDepth {
		return cfg, fmt.Errorf("config references nested deeper than %d levels", maxReferenceDepth)
	}
	if err := r.updateFetcher(ctx, &cfg); err != nil {
		return cfg, err
	}
	if rep := cfg.Ignition.Config.Replace; rep.Source != nil && *rep.Source != "" {
		child, err := r.fetchConfig(ctx, rep, kind)
		if err != nil {
			return cfg, err
		}
		return r.render(ctx, child, depth+1, kind)
	}
	merges := cfg.Ignition.Config.Merge
	cfg.Ignition.Config = config.IgnitionConfig{}
	acc := cfg
	for _, m := range merges {
		child, err := r.fetchConfig(ctx, m, kind)
		if err != nil {
			return cfg, err
		}
		child, err = r.render(ctx, child, depth+1, kind)
		if err != nil {
			return cfg, err
		}
		acc = config.Merge(acc, child)
		if err := r.updateFetcher(ctx, &acc); err != nil {
			return cfg, err
		}
	}
	acc.Ignition.Config = config.IgnitionConfig{}
	return acc, nil
}

func (r *renderer) fetchConfig(ctx context.Context, res config.Resource, kind string) (config.Config, error) {
	src := log.Redact(*res.Source)
	if r.o.Fetcher == nil {
		return config.Config{}, fmt.Errorf("fetching referenced config %s: no fetcher", src)
	}
	done := r.o.Log.Op("fetching referenced config %s", src)
	raw, err := r.o.Fetcher.FetchBytes(ctx, ToSource(res), int64(r.budget)+1)
	err = r.charge(raw, err, "referenced config "+src)
	done(err)
	if err != nil {
		return config.Config{}, fmt.Errorf("fetching referenced config %s: %w", src, err)
	}
	r.a.Fetched = append(r.a.Fetched, FetchedConfig{Kind: kind, Source: src, Referenced: true, SHA512: sum(raw)})
	cfg, rpt, err := legacy.ParseAny(raw)
	logReport(r.o.Log, "referenced config "+src, rpt)
	if err != nil {
		return cfg, fmt.Errorf("parsing referenced config %s: %w", src, err)
	}
	return cfg, nil
}

// updateFetcher applies cfg's timeouts, proxy and CAs to the fetcher, and
// rewrites each CA source to a data URL so later stages never refetch.
func (r *renderer) updateFetcher(ctx context.Context, cfg *config.Config) error {
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
		raw, err := f.FetchBytes(ctx, ToSource(ca), int64(r.budget)+1)
		err = r.charge(raw, err, "CA bundle "+log.Redact(src))
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
