package report

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/flintboot/flint/config"
	"github.com/flintboot/flint/log"
	"github.com/flintboot/flint/providers"
	"github.com/flintboot/flint/stages"
	"github.com/flintboot/flint/system"
)

// CollectOptions configure Collect.
type CollectOptions struct {
	Options
	Runner  system.Runner // runs journalctl; nil: system.NewRunner(nil, system.ToolsFromEnv())
	Version string        // flint's version
}

// Dir is the directory every file of the tarball is in.
const Dir = "flint-logs"

// journalLines bounds each journal file of the tarball.
const journalLines = 20000

// configURLArgs are the kernel arguments that carry a config (or report)
// URL; their values are redacted like config sources.
var configURLArgs = []string{"flint.config.url", "ignition.config.url", "coreos.config.url", "flatcar.config.url", "flint.report.url"}

// Collect writes a gzipped tarball for a bug report to w and returns the
// names of the files in it:
//
//   - README.txt: what is in the tarball and where it came from;
//   - status.txt, status.json: `flint status`;
//   - analyze.txt: `flint analyze show` and `flint analyze blame`;
//   - flint-result.json, ignition-result.json: the result files as written
//     (they hold no config, and errors in them are redacted);
//   - state.json, failure.txt: this boot's stage records and failure summary
//     (live machine only);
//   - config.json: the effective config with every secret redacted
//     (config.Redacted: password hashes, header values, unit bodies,
//     data: URL bodies and URL userinfo/query); never the config itself;
//   - cmdline.txt: the kernel command line, config URLs redacted (live);
//   - platform.txt: the platform id and where it was found;
//   - journal.txt, journal-units.txt: `journalctl -t flint` and the flint
//     units' journal of the provisioning boot (when journalctl is there),
//     every URL redacted.
//
// Nothing that is not redacted by construction goes in: the config cache
// is read only to be redacted, and an unparsable one is left out.
func Collect(ctx context.Context, w io.Writer, o CollectOptions) ([]string, error) {
	snap, err := Read(o.Options)
	if err != nil {
		return nil, err
	}
	st := Evaluate(snap, o.Options)
	a := &archive{now: time.Now()}
	gz := gzip.NewWriter(w)
	a.tw = tar.NewWriter(gz)

	var readme strings.Builder
	fmt.Fprintf(&readme, "flint collect-logs, flint %s, %s\nroot: %s (live machine: %v)\n\n", o.Version,
		a.now.UTC().Format(time.RFC3339), orDefault(o.Root, "/"), o.IsLive())
	note := func(format string, args ...any) { fmt.Fprintf(&readme, format+"\n", args...) }

	sj, _ := json.MarshalIndent(st, "", "  ")
	a.add("status.txt", []byte(st.Line()+"\n"))
	a.add("status.json", append(sj, '\n'))
	var an bytes.Buffer
	Show(&an, snap, snap.Records())
	an.WriteString("\n")
	Blame(&an, snap.Records())
	a.add("analyze.txt", an.Bytes())

	root := orDefault(o.Root, "/")
	for _, f := range []struct{ name, path string }{
		{"flint-result.json", orDefault(o.Paths.ResultFile, system.DefaultPaths().ResultFile)},
		{"ignition-result.json", stages.IgnitionResultFile},
	} {
		b, err := readOwn(root, f.path)
		switch {
		case err == nil && json.Valid(b):
			a.add(f.name, b)
		case err == nil:
			note("%s: %s is not JSON, left out", f.name, f.path)
		default:
			note("%s: %s: %v", f.name, f.path, shortErr(err))
		}
	}

	if o.IsLive() {
		if snap.State != nil {
			b, _ := json.MarshalIndent(redactState(snap.State), "", "  ")
			a.add("state.json", append(b, '\n'))
		} else {
			note("state.json: no state in %s", o.Paths.RunDir)
		}
		if snap.Failure != "" {
			a.add("failure.txt", []byte(log.RedactText(snap.Failure)+"\n"))
		}
		if b, from := redactedConfig(o.Paths); b != nil {
			a.add("config.json", b)
			note("config.json: %s", from)
		} else {
			note("config.json: %s", from)
		}
		if b, err := os.ReadFile(o.Paths.Cmdline); err == nil {
			a.add("cmdline.txt", []byte(RedactCmdline(string(b))+"\n"))
		} else {
			note("cmdline.txt: %v", shortErr(err))
		}
	} else {
		note("state.json, failure.txt, config.json, cmdline.txt: only collected on the live machine (--root / or /sysroot)")
	}
	a.add("platform.txt", []byte(platform(o, snap)))

	for _, j := range []struct {
		name string
		args []string
	}{
		{"journal.txt", []string{"-t", log.Identifier}},
		{"journal-units.txt", []string{"-u", "flint-*"}},
	} {
		b, why := journal(ctx, o, snap, j.args)
		if b != nil {
			a.add(j.name, b)
		}
		if why != "" {
			note("%s: %s", j.name, why)
		}
	}
	for _, wn := range snap.Warnings {
		note("warning: %s", log.RedactText(wn))
	}
	a.names = append([]string{"README.txt"}, a.names...)
	a.addFirst("README.txt", []byte(readme.String()))
	if err := a.flush(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return a.names, nil
}

// CollectTo writes the tarball to the file name (default
// flint-logs-<UTC time>.tar.gz; "-" writes to stdout) and says on stderr
// what it wrote.
func CollectTo(ctx context.Context, name string, stdout, stderr io.Writer, o CollectOptions) error {
	if name == "" {
		name = "flint-logs-" + time.Now().UTC().Format("20060102T150405Z") + ".tar.gz"
	}
	if name == "-" {
		_, err := Collect(ctx, stdout, o)
		return err
	}
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	names, err := Collect(ctx, f, o)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		fmt.Fprintf(stderr, "wrote %s: %s\n", name, strings.Join(names, ", "))
	}
	return err
}

// archive buffers the entries so README.txt (written last) comes first.
type archive struct {
	tw      *tar.Writer
	now     time.Time
	names   []string
	entries []tarEntry
}

type tarEntry struct {
	name string
	data []byte
}

func (a *archive) add(name string, data []byte) {
	a.names = append(a.names, name)
	a.entries = append(a.entries, tarEntry{name, data})
}

func (a *archive) addFirst(name string, data []byte) {
	a.entries = append([]tarEntry{{name, data}}, a.entries...)
}

func (a *archive) flush() error {
	if err := a.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: Dir + "/", Mode: 0o755, ModTime: a.now}); err != nil {
		return err
	}
	for _, e := range a.entries {
		h := &tar.Header{Typeflag: tar.TypeReg, Name: Dir + "/" + e.name, Mode: 0o644, Size: int64(len(e.data)), ModTime: a.now}
		if err := a.tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := a.tw.Write(e.data); err != nil {
			return err
		}
	}
	return a.tw.Close()
}

// redactState is a copy of the state with its error texts and sources
// redacted again (they were redacted when recorded). The state holds no key
// material, only the paths of key files.
func redactState(s *stages.State) *stages.State {
	c := *s
	c.Stages = append([]stages.StageRecord(nil), s.Stages...)
	c.FetchedConfigs = append([]stages.FetchedConfig(nil), s.FetchedConfigs...)
	for i := range c.Stages {
		c.Stages[i].Error = log.RedactText(c.Stages[i].Error)
	}
	for i := range c.FetchedConfigs {
		c.FetchedConfigs[i].Source = log.RedactText(c.FetchedConfigs[i].Source)
	}
	return &c
}

// redactedConfig returns the redacted effective config the fetch stage
// saved, or else the config cache (the rendered user config) redacted
// here; nil when there is neither.
func redactedConfig(p system.Paths) ([]byte, string) {
	saved := filepath.Join(p.RunDir, stages.RedactedConfigFile)
	if b, err := readPlain(saved); err == nil {
		// written redacted by the engine; parse and redact again so that a
		// file someone put there cannot smuggle anything in
		var cfg config.Config
		if json.Unmarshal(b, &cfg) == nil {
			if out, err := config.RedactedJSON(cfg); err == nil {
				return append(out, '\n'), "the effective config (base configs + user config), redacted, from " + saved
			}
		}
	}
	cache := p.ConfigCache()
	b, err := readPlain(cache)
	if err != nil {
		return nil, "no config in " + p.RunDir + " (" + shortErr(err) + ")"
	}
	var cfg config.Config
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, "the config cache " + cache + " does not parse; left out"
	}
	out, err := config.RedactedJSON(cfg)
	if err != nil {
		return nil, "redacting the config cache: " + err.Error()
	}
	return append(out, '\n'), "the user config (rendered, without the base configs), redacted, from " + cache
}

// RedactCmdline returns the kernel command line fit for a bug report: the
// config and report URLs without userinfo, query or data: body, the value
// of any argument whose name says it is secret replaced, and every other
// URL redacted.
func RedactCmdline(s string) string {
	var out []string
	for _, a := range providers.SplitCmdline(strings.TrimSpace(s)) {
		k, v, hasV := strings.Cut(a, "=")
		switch {
		case !hasV:
		case contains(configURLArgs, k):
			a = k + "=" + config.RedactURL(v)
		case secretName(k):
			a = k + "=" + config.RedactedMarker
		default:
			a = log.RedactText(a)
		}
		if strings.ContainsAny(a, " \t\"") {
			a = `"` + strings.ReplaceAll(a, `"`, `\"`) + `"`
		}
		out = append(out, a)
	}
	return strings.Join(out, " ")
}

func secretName(k string) bool {
	k = strings.ToLower(k)
	for _, w := range []string{"pass", "secret", "token", "key", "auth", "cred"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// platform says which platform the machine was provisioned for and where
// that was found.
func platform(o CollectOptions, s *Snapshot) string {
	var b strings.Builder
	if s.Result != nil && s.Result.Platform != "" {
		fmt.Fprintf(&b, "%s (result file)\n", s.Result.Platform)
	}
	if o.IsLive() {
		env := filepath.Join(filepath.Dir(filepath.Clean(o.Paths.RunDir)), "flint.env")
		if raw, err := readPlain(env); err == nil {
			for _, l := range strings.Split(string(raw), "\n") {
				if v, ok := strings.CutPrefix(l, "PLATFORM_ID="); ok {
					fmt.Fprintf(&b, "%s (%s, from the kernel command line or detection)\n", strings.TrimSpace(v), env)
				}
			}
		}
		if raw, err := os.ReadFile(o.Paths.Cmdline); err == nil {
			for _, a := range providers.SplitCmdline(string(raw)) {
				for _, k := range []string{"flint.platform.id", "ignition.platform.id", "flatcar.oem.id", "coreos.oem.id"} {
					if v, ok := strings.CutPrefix(a, k+"="); ok {
						fmt.Fprintf(&b, "%s (kernel argument %s)\n", log.RedactText(v), k)
					}
				}
			}
		}
	}
	if b.Len() == 0 {
		return "unknown\n"
	}
	return b.String()
}

// journal runs journalctl for the provisioning boot: the result file's or
// the stamp's boot when known, else the current one; on an image, the
// journal files under its /var/log/journal.
func journal(ctx context.Context, o CollectOptions, s *Snapshot, match []string) ([]byte, string) {
	if o.Runner == nil {
		o.Runner = system.NewRunner(nil, system.ToolsFromEnv())
	}
	args := []string{"--no-pager", "-q", "-o", "short-monotonic", "-n", fmt.Sprint(journalLines)}
	if !o.IsLive() {
		dir := filepath.Join(orDefault(o.Root, "/"), "var/log/journal")
		if _, err := os.Stat(dir); err != nil {
			return nil, "no journal in the image (" + shortErr(err) + ")"
		}
		args = append(args, "-D", dir)
	}
	boot := ""
	if s.Result != nil {
		boot = s.Result.ProvisioningBootID
	} else if s.Stamp != nil {
		boot = s.Stamp.BootID
	} else if o.IsLive() {
		boot = s.BootID
	}
	boot = strings.ReplaceAll(boot, "-", "")
	if len(boot) == 32 {
		args = append(args, "-b", boot)
	} else if o.IsLive() {
		args = append(args, "-b")
	}
	args = append(args, match...)
	res, err := o.Runner.Run(ctx, system.Cmd{Name: system.ToolJournalctl, Args: args})
	if err != nil {
		if errors.Is(err, system.ErrToolNotFound) || errors.Is(err, fs.ErrNotExist) || errors.Is(err, system.ErrUnknownTool) {
			return nil, "journalctl is not installed"
		}
		return nil, "journalctl " + strings.Join(args, " ") + ": " + log.RedactText(err.Error())
	}
	var out bytes.Buffer
	for _, l := range strings.SplitAfter(string(res.Stdout), "\n") {
		out.WriteString(log.RedactText(l))
	}
	if out.Len() == 0 {
		return nil, "journalctl " + strings.Join(args, " ") + ": no entries"
	}
	return out.Bytes(), ""
}

func shortErr(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
