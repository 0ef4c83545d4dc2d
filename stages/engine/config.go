package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/flintboot/flint/log"
	"github.com/flintboot/flint/providers"
	"github.com/flintboot/flint/resource"
	"github.com/flintboot/flint/stages"
)

// ConfigSource is where acquisition finds the user config: a platform
// (what `flint run` does: the kernel command line, then user.ign in the
// system config directories, then the platform's provider) or a config
// already read from a file or stdin (`flint apply`, `flint plan`).
type ConfigSource struct {
	// Platform is the canonical platform id.
	Platform string
	// FetchTimeout bounds the provider's fetch of the user config (0: none).
	FetchTimeout time.Duration
	// File, when non-nil, is the user config itself; Platform then only
	// selects base.platform.d/<Platform>.
	File *stages.UserConfig
}

// acquisition is everything one acquisition needs besides the source.
type acquisition struct {
	src      ConfigSource
	fetcher  *resource.Fetcher
	env      *providers.Env // for the platform's provider; nil with a File
	baseDirs []string
	log      *log.Logger
	// cache, when set, is read instead of acquiring again if it exists, and
	// written after a fresh acquisition.
	cache string
	// needNetOK: fetch-offline, where "needs the network" is an answer.
	needNetOK bool

	// fromProvider: the platform was asked (not the cache, not a file);
	// providerFiles is what it handed over besides the config.
	fromProvider  bool
	providerFiles []providers.OutputFile
}

// errNeedNet reports that fetch-offline found the network is needed.
var errNeedNet = errors.New("the config needs the network")

// acquire is the one acquisition path of run, apply and plan:
// source (provider or file) → fetch → parse → render merge/replace →
// merge over the base configs → validate → cache.
func (a *acquisition) acquire(ctx context.Context) (*stages.Acquired, error) {
	o := stages.AcquireOptions{Fetcher: a.fetcher, BaseDirs: a.baseDirs, Platform: a.src.Platform, Log: a.log}
	what := "reading the config"
	switch {
	case a.cache != "" && exists(a.cache):
		raw, err := os.ReadFile(a.cache)
		if err != nil {
			return nil, stages.Op("reading the cached config", err)
		}
		a.log.Info("using the config cached at %s", a.cache)
		o.User = &stages.UserConfig{Raw: raw, Source: a.cache}
		what = "reading the cached config"
	case a.src.File != nil:
		o.User = a.src.File
		what = "reading the config " + a.src.File.Source
	default:
		u, err := a.fromPlatform(ctx)
		if err != nil {
			return nil, err
		}
		o.User = u
		if u != nil {
			what = "reading the config from " + u.Source
		}
	}
	acq, err := stages.Acquire(ctx, o)
	if err != nil {
		if a.needNetOK && errors.Is(err, resource.ErrNeedNet) {
			a.log.Info("a config referenced by the user config needs the network")
			return nil, errNeedNet
		}
		return nil, stages.Op(what, err)
	}
	if a.cache != "" && !exists(a.cache) {
		if err := stages.WriteCache(a.cache, acq.User); err != nil {
			return nil, stages.Op("caching the config", err)
		}
	}
	if what != "reading the cached config" {
		// issue 15: the journal event with its fixed MESSAGE_ID
		for _, fc := range acq.Fetched {
			if fc.Kind == "user" {
				a.log.ConfigFetched(fc.Source)
			}
		}
	}
	return acq, nil
}

// fromPlatform asks the kernel command line, user.ign and the platform's
// provider for the user config; nil means there is none.
func (a *acquisition) fromPlatform(ctx context.Context) (*stages.UserConfig, error) {
	fctx, cancel := ctx, context.CancelFunc(func() {})
	if a.src.FetchTimeout > 0 {
		fctx, cancel = context.WithTimeout(ctx, a.src.FetchTimeout)
	}
	raw, source, files, err := providers.Acquire(fctx, a.env, a.src.Platform)
	cancel()
	a.fromProvider, a.providerFiles = err == nil || errors.Is(err, providers.ErrNoConfig), files
	where := source
	if where == "" {
		where = "platform " + a.src.Platform
	}
	switch {
	case errors.Is(err, providers.ErrNeedNet) && a.needNetOK:
		a.log.Info("the config source %s needs the network", where)
		return nil, errNeedNet
	case errors.Is(err, providers.ErrNoConfig):
		a.log.Info("no user config from %s: using the base configs only", where)
		return nil, nil
	case err != nil:
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("unable to fetch the config in time (%s): %w", a.src.FetchTimeout, err)
		}
		return nil, stages.Op("fetching the config from "+where, err)
	}
	return &stages.UserConfig{Raw: raw, Source: source}, nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return !errors.Is(err, fs.ErrNotExist)
}

// cacheMissing is the error of a stage that needs the cache and finds none.
func cacheMissing(p string) error {
	return stages.Op("reading the cached config",
		fmt.Errorf("%s does not exist: the fetch-offline or fetch stage must run first", p))
}
