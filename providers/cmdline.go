package providers

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/flintboot/flint/log"
)

// CmdlineConfig is what the kernel command line says about the config.
type CmdlineConfig struct {
	URL    string // flint.config.url / ignition.config.url / flatcar.config.url / coreos.config.url
	URLKey string // which key the URL came from
	Device string // flint.config.device / ignition.config.device (a filesystem label)
	Path   string // flint.config.path / ignition.config.path
}

// URL keys in priority order: when several are given, the first in this
// list wins; a key given twice takes its last value (like the kernel).
var cmdlineURLKeys = []string{"flint.config.url", "ignition.config.url", "flatcar.config.url", "coreos.config.url"}

// SplitCmdline splits a kernel command line into parameters the way the
// kernel does: whitespace separates, double quotes group (and are removed).
func SplitCmdline(s string) []string {
	var out []string
	var cur strings.Builder
	inQuote, have := false, false
	for _, r := range s {
		switch {
		case r == '"':
			inQuote = !inQuote
			have = true
		case !inQuote && (r == ' ' || r == '\t' || r == '\n' || r == '\r'):
			if have {
				out = append(out, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteRune(r)
			have = true
		}
	}
	if have {
		out = append(out, cur.String())
	}
	return out
}

// ParseCmdline extracts the config keys from a kernel command line.
func ParseCmdline(s string) CmdlineConfig {
	vals := map[string]string{}
	for _, p := range SplitCmdline(s) {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			continue
		}
		vals[k] = v
	}
	var c CmdlineConfig
	for _, k := range cmdlineURLKeys {
		if v, ok := vals[k]; ok && v != "" {
			c.URL, c.URLKey = v, k
			break
		}
	}
	c.Device = firstNonEmpty(vals["flint.config.device"], vals["ignition.config.device"])
	c.Path = firstNonEmpty(vals["flint.config.path"], vals["ignition.config.path"])
	return c
}

// readCmdline returns the parsed command line of env.
func readCmdline(env *Env) (CmdlineConfig, error) {
	b, err := os.ReadFile(env.CmdlinePath)
	if err != nil {
		return CmdlineConfig{}, fmt.Errorf("reading kernel command line: %w", err)
	}
	return ParseCmdline(string(b)), nil
}

func fetchCmdline(ctx context.Context, env *Env) ([]byte, error) {
	c, err := readCmdline(env)
	if err != nil {
		return nil, err
	}
	switch {
	case c.URL != "":
		env.Log.Info("config URL from kernel command line (%s): %s", c.URLKey, log.Redact(c.URL))
		b, err := fetchConfigURL(ctx, env, c.URL)
		if err != nil {
			return nil, fmt.Errorf("fetching config from %s=%s: %w", c.URLKey, log.Redact(c.URL), err)
		}
		return b, nil
	case c.Device != "" || c.Path != "":
		if c.Device == "" || c.Path == "" {
			return nil, errors.New("kernel command line: ignition.config.device and ignition.config.path must be given together")
		}
		if strings.Contains(c.Device, "/") {
			return nil, fmt.Errorf("kernel command line: config device label %q must be a single path component", c.Device)
		}
		dev, _, err := waitLabel(ctx, env, []string{c.Device}, env.timeout("cmdline.device", 30*time.Second))
		if err != nil {
			return nil, err
		}
		b, _, err := readFromDevice(ctx, env, dev, "", strings.TrimPrefix(c.Path, "/"))
		if err != nil {
			return nil, fmt.Errorf("reading %s from device labelled %s: %w", c.Path, c.Device, err)
		}
		if len(strings.TrimSpace(string(b))) == 0 {
			return nil, ErrNoConfig
		}
		return b, nil
	}
	return nil, ErrOffline
}

// fetchConfigURL fetches a config from a URL with any scheme the fetcher
// knows, with the size cap; empty content is "no config".
func fetchConfigURL(ctx context.Context, env *Env, url string) ([]byte, error) {
	b, err := env.Fetcher.FetchBytes(ctx, get(url), MaxConfigSize)
	if err != nil {
		return nil, err
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil, ErrNoConfig
	}
	return b, nil
}

// findUserIgn returns the path and content of the first user.ign.
func findUserIgn(env *Env) (string, []byte, error) {
	for _, d := range env.SystemConfigDirs {
		p := d + "/user.ign"
		b, err := readCapped(p)
		if err == nil {
			return p, b, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return p, nil, err
		}
	}
	return "", nil, ErrOffline
}
