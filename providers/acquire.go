package providers

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/flintboot/flint/log"
)

// Acquire finds the user config the way the fetch stages need it: the
// kernel command line first, then user.ign in the system config directories,
// then the platform's provider. The first source that is online decides:
// its config, ErrNoConfig (continue with base configs only) or its error.
// source names where the answer came from ("cmdline:<url>",
// "system:/etc/flint/user.ign", "platform:aws").
//
// User data meant for cloud-init (#cloud-config or a #! script, possibly
// gzipped) is reported as ErrNoConfig with an info line, as Flatcar does.
//
// files are what a FilesFetcher platform (hyperv) asks the files stage to
// write into the root; they come with the config and with ErrNoConfig.
func Acquire(ctx context.Context, env *Env, platform string) (raw []byte, source string, files []OutputFile, err error) {
	env.fill()
	// 1. kernel command line
	raw, err = fetchCmdline(ctx, env)
	if !errors.Is(err, ErrOffline) {
		c, _ := readCmdline(env)
		source = "cmdline"
		if c.URL != "" {
			source = "cmdline:" + log.Redact(c.URL)
		} else if c.Device != "" {
			source = "cmdline:" + c.Device + ":" + c.Path
		}
		raw, source, err = finishAcquire(env, raw, source, err)
		return raw, source, nil, err
	}
	// 2. user.ign
	if p, b, ferr := findUserIgn(env); !errors.Is(ferr, ErrOffline) {
		source = "system:" + p
		if ferr != nil {
			return nil, source, nil, ferr
		}
		env.Log.Info("using config from %s", p)
		if len(bytes.TrimSpace(b)) == 0 {
			return nil, source, nil, ErrNoConfig
		}
		raw, source, err = finishAcquire(env, b, source, nil)
		return raw, source, nil, err
	}
	// 3. the platform
	p, err := Lookup(platform)
	if err != nil {
		return nil, "", nil, err
	}
	source = "platform:" + p.Name()
	done := env.Log.Op("fetching config from platform %s", p.Name())
	if ff, ok := p.(FilesFetcher); ok {
		raw, files, err = ff.FetchWithFiles(ctx, env)
	} else {
		raw, err = p.Fetch(ctx, env)
	}
	if errors.Is(err, ErrNoConfig) {
		done(nil)
	} else {
		done(err)
	}
	if errors.Is(err, ErrOffline) {
		return nil, source, nil, fmt.Errorf("platform %s: %w", p.Name(), err)
	}
	if err != nil && !errors.Is(err, ErrNoConfig) {
		files = nil
	}
	raw, source, err = finishAcquire(env, raw, source, err)
	return raw, source, files, err
}

func finishAcquire(env *Env, raw []byte, source string, err error) ([]byte, string, error) {
	if err != nil {
		return nil, source, err
	}
	if IsCloudConfig(raw) {
		env.Log.Info("config from %s is a cloud-config or script, not a flint config: continuing without user config", source)
		return nil, source, ErrNoConfig
	}
	return raw, source, nil
}
