package disks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/flintboot/flint/config"
	"github.com/flintboot/flint/stages"
	"github.com/flintboot/flint/system"
)

// LUKS decisions.
const (
	luksFormat = "format" // (wipefs,) luksFormat, open, bind
	luksReuse  = "reuse"  // an existing matching LUKS2 volume, opened with the key
	luksLater  = "decide" // device changes before: probed when applying
)

var (
	// ErrLUKS1: an existing LUKS1 volume is never reused nor overwritten
	// without wipeVolume.
	ErrLUKS1 = errors.New("volume is LUKS1; only LUKS2 volumes are supported")
	// ErrBadVolume: the device holds something that is not LUKS and
	// wipeVolume is false.
	ErrBadVolume = errors.New("volume is not of the correct type")
)

type luksPlan struct {
	L        config.Luks
	Name     string
	Device   string
	Decision string
}

func luksDevice(l config.Luks) string { return strOr(l.Device, "") }

func hasClevis(l config.Luks) bool {
	c := l.Clevis
	return len(c.Tang) > 0 || isTrue(c.Tpm2) || (c.Custom.Pin != nil && *c.Custom.Pin != "")
}

func hasKeySource(l config.Luks) bool { return l.KeyFile.Source != nil && *l.KeyFile.Source != "" }

// luksFound is what planning learnt about an existing volume.
type luksFound struct {
	Info    system.FsInfo
	IsLuks2 bool
	Discard bool // allow-discards in the LUKS2 header
}

// decideLuks: wipeVolume or an empty device → format; a LUKS2 volume is
// reused when a key file is given, no clevis binding is wanted, and label,
// UUID and discard match. Anything else is refused, as the reference
// does: an existing LUKS2 volume that cannot be reused ("… could not be
// reused: <why>"), LUKS1, any other signature. Only wipeVolume lets a
// volume be formatted over.
func decideLuks(l config.Luks, f luksFound) (string, error) {
	if isTrue(l.WipeVolume) {
		return luksFormat, nil
	}
	if f.Info.Type == "" && f.Info.PartTableType == "" {
		return luksFormat, nil
	}
	if f.Info.Type != "crypto_LUKS" {
		found := f.Info.Type
		if found == "" {
			found = "partition table " + f.Info.PartTableType
		}
		return "", fmt.Errorf("%w (found %s) and wipeVolume is false", ErrBadVolume, found)
	}
	if !f.IsLuks2 {
		return "", ErrLUKS1
	}
	var why []string
	if !hasKeySource(l) {
		why = append(why, "the config must specify a key file")
	}
	if hasClevis(l) {
		why = append(why, "the config must not specify clevis bindings")
	}
	if l.Label != nil && *l.Label != f.Info.Label {
		why = append(why, fmt.Sprintf("label %q, want %q", f.Info.Label, *l.Label))
	}
	if l.UUID != nil && !strings.EqualFold(*l.UUID, f.Info.UUID) {
		why = append(why, fmt.Sprintf("UUID %s, want %s", f.Info.UUID, *l.UUID))
	}
	if isTrue(l.Discard) != f.Discard {
		why = append(why, fmt.Sprintf("allow-discards %t, want %t", f.Discard, isTrue(l.Discard)))
	}
	if len(why) > 0 {
		return "", fmt.Errorf("%w: the existing LUKS2 volume could not be reused (%s) and wipeVolume is false",
			ErrBadVolume, strings.Join(why, "; "))
	}
	return luksReuse, nil
}

func probeLuks(ctx context.Context, e *env, dev string) (luksFound, error) {
	var f luksFound
	fi, err := probeFS(ctx, e, dev)
	if err != nil {
		return f, err
	}
	f.Info = fi
	if fi.Type != "crypto_LUKS" {
		return f, nil
	}
	_, err = e.run.Run(ctx, system.Cmd{Name: system.ToolCryptsetup, Args: []string{"isLuks", "--type", "luks2", dev}})
	var xe *system.ExitError
	switch {
	case err == nil:
		f.IsLuks2 = true
	case errors.As(err, &xe):
		return f, nil // LUKS1
	default:
		return f, err
	}
	res, err := e.run.Run(ctx, system.Cmd{Name: system.ToolCryptsetup, Args: []string{"luksDump", "--dump-json-metadata", dev}})
	if err != nil {
		return f, err
	}
	var md struct {
		Config struct {
			Flags []string `json:"flags"`
		} `json:"config"`
	}
	if err := json.Unmarshal(res.Stdout, &md); err != nil {
		return f, fmt.Errorf("parsing the LUKS2 metadata of %s: %w", dev, err)
	}
	for _, fl := range md.Config.Flags {
		if fl == "allow-discards" {
			f.Discard = true
		}
	}
	return f, nil
}

func planLuks(ctx context.Context, e *env, l config.Luks, stable func(string) (string, bool)) (*luksPlan, error) {
	lp := &luksPlan{L: l, Name: l.Name, Device: luksDevice(l), Decision: luksLater}
	if dev, ok := stable(lp.Device); ok {
		f, err := probeLuks(ctx, e, dev)
		if err != nil {
			return nil, fmt.Errorf("LUKS volume %s: %w", l.Name, err)
		}
		if lp.Decision, err = decideLuks(l, f); err != nil {
			return nil, fmt.Errorf("LUKS volume %s on %s: %w", l.Name, lp.Device, err)
		}
	}
	return lp, nil
}

func (l *luksPlan) actions() []stages.Action {
	key := "generated key"
	if hasKeySource(l.L) {
		key = "key file"
	}
	var a []stages.Action
	switch l.Decision {
	case luksReuse:
		a = append(a, stages.Action{Op: "reuse-luks", Target: l.Device, Detail: "open as " + l.Name + " with the " + key})
		return a
	case luksLater:
		key += "; reuse decided after the device is set up"
	}
	if isCex(l.L) {
		key = "cex secure key (zkey), " + key
	}
	if isTrue(l.L.WipeVolume) {
		a = append(a, stages.Action{Op: "wipe-volume", Target: l.Device})
	}
	d := "luks2, " + key
	if l.L.Label != nil {
		d += fmt.Sprintf(", label %q", *l.L.Label)
	}
	if l.L.UUID != nil {
		d += ", uuid " + *l.L.UUID
	}
	a = append(a, stages.Action{Op: "luks-format", Target: l.Device, Detail: d},
		stages.Action{Op: "luks-open", Target: l.Device, Detail: "/dev/mapper/" + l.Name})
	if hasClevis(l.L) {
		pin, _ := clevisPinName(l.L)
		a = append(a, stages.Action{Op: "clevis-bind", Target: l.Device, Detail: pin})
	}
	return a
}

func clevisPinName(l config.Luks) (string, bool) {
	if l.Clevis.Custom.Pin != nil && *l.Clevis.Custom.Pin != "" {
		return *l.Clevis.Custom.Pin, true
	}
	return "sss", false
}

// clevisConfig builds the pin and its JSON config: a custom pin as given,
// else sss with the threshold over the tang servers (advertisement given,
// or fetched now through the fetcher) and tpm2. secrets are the parts of
// the config that must not reach a log or an error: tang URLs with
// userinfo or a query, and their userinfo and query; a custom pin's
// config.
func clevisConfig(ctx context.Context, e *env, l config.Luks) (pin, cfg string, secrets []string, err error) {
	c := l.Clevis
	if p, custom := clevisPinName(l); custom {
		cfg := strOr(c.Custom.Config, "{}")
		if strings.TrimSpace(cfg) != "{}" {
			secrets = []string{cfg} // custom.config is secret-marked
		}
		return p, cfg, secrets, nil
	}
	type tang struct {
		URL string          `json:"url"`
		Thp string          `json:"thp,omitempty"`
		Adv json.RawMessage `json:"adv,omitempty"`
	}
	pins := map[string]any{}
	var tangs []tang
	for _, t := range c.Tang {
		secrets = append(secrets, urlSecrets(t.URL)...)
		x := tang{URL: t.URL, Thp: strOr(t.Thumbprint, "")}
		if t.Advertisement != nil && *t.Advertisement != "" {
			x.Adv = json.RawMessage(*t.Advertisement)
		} else {
			adv, err := fetchAdv(ctx, e, t.URL)
			if err != nil {
				return "", "", nil, err
			}
			x.Adv = adv
		}
		tangs = append(tangs, x)
	}
	if len(tangs) > 0 {
		pins["tang"] = tangs
	}
	if isTrue(c.Tpm2) {
		pins["tpm2"] = map[string]any{}
	}
	t := 1
	if c.Threshold != nil {
		t = *c.Threshold
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // URLs appear as written, so that redaction finds them
	if err := enc.Encode(map[string]any{"t": t, "pins": pins}); err != nil {
		return "", "", nil, err
	}
	return "sss", strings.TrimSpace(b.String()), secrets, nil
}

// fetchAdv fetches a tang server's advertisement (<url>/adv, query kept)
// through flint's retrying fetcher, as the reference does before binding.
func fetchAdv(ctx context.Context, e *env, raw string) ([]byte, error) {
	shown := config.RedactURL(raw)
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("tang server %s: the URL does not parse", shown)
	}
	u.Path = path.Join("/", u.Path, "adv")
	u.RawPath = ""
	adv, err := e.fetcher.FetchBytes(ctx, stages.ToSource(config.Resource{Source: ptr(u.String())}), 1<<20)
	if err != nil {
		return nil, fmt.Errorf("fetching the advertisement of tang server %s: %s", shown,
			system.Redact(err.Error(), urlSecrets(u.String())))
	}
	if !json.Valid(adv) {
		return nil, fmt.Errorf("tang server %s: the advertisement is not JSON", shown)
	}
	return adv, nil
}

// urlSecrets returns what of a URL must not be shown: nothing for a plain
// URL; with userinfo or a query, the URL itself (as written and as
// re-encoded) and its userinfo and query.
func urlSecrets(raw string) []string {
	u, err := url.Parse(raw)
	if err != nil {
		return []string{raw}
	}
	if u.User == nil && u.RawQuery == "" && u.Fragment == "" && !strings.HasSuffix(raw, "?") {
		return nil
	}
	out := []string{raw, u.String()}
	if u.User != nil {
		out = append(out, u.User.String())
	}
	if u.RawQuery != "" {
		out = append(out, "?"+u.RawQuery)
	}
	if u.Fragment != "" {
		out = append(out, "#"+u.EscapedFragment())
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// unlockProvable reports whether the bindings can be proved now: enough
// pins that need no offline-only data (tang servers reached for their
// advertisement, tpm2) to meet the threshold.
func unlockProvable(l config.Luks) bool {
	c := l.Clevis
	if _, custom := clevisPinName(l); custom {
		return false
	}
	n := 0
	for _, t := range c.Tang {
		if t.Advertisement == nil || *t.Advertisement == "" {
			n++
		}
	}
	if isTrue(c.Tpm2) {
		n++
	}
	t := 1
	if c.Threshold != nil {
		t = *c.Threshold
	}
	return n >= t
}

// luksNeedsNetwork: tang pins, or a custom pin that says so.
func luksNeedsNetwork(l config.Luks) bool {
	if _, custom := clevisPinName(l); custom {
		return isTrue(l.Clevis.Custom.NeedsNetwork)
	}
	return len(l.Clevis.Tang) > 0
}

// keyFilePath is where the volume's key lives while flint runs (0400).
func keyFilePath(e *env, name string) string {
	return filepath.Join(e.paths.RunDir, "luks-keys", name)
}

// writeKey provides the key file: fetched from keyFile.source, or 4096
// random bytes hex-encoded (also for cex volumes, whose key slot only
// guards a secure key that needs the Crypto Express card). It is created
// 0400 and never logged.
func writeKey(ctx context.Context, e *env, l config.Luks) (string, bool, error) {
	p := keyFilePath(e, l.Name)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return "", false, err
	}
	os.Remove(p) // a stale key from an earlier run (0400: not writable)
	if hasKeySource(l) {
		if err := e.fetcher.FetchToFile(ctx, stages.ToSource(l.KeyFile), p, 0o400); err != nil {
			return "", false, fmt.Errorf("fetching the key file: %w", err)
		}
		return p, false, nil
	}
	raw := make([]byte, 4096)
	if _, err := rand.Read(raw); err != nil {
		return "", false, fmt.Errorf("generating a key: %w", err)
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o400)
	if err != nil {
		return "", false, err
	}
	_, err = f.Write([]byte(hex.EncodeToString(raw)))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(p)
		return "", false, fmt.Errorf("writing the generated key: %w", err)
	}
	return p, true, nil
}

func applyLuks(ctx context.Context, e *env, lp *luksPlan, st *stages.State) error {
	l := lp.L
	dev, err := e.wait(ctx, lp.Device, "LUKS volume "+l.Name)
	if err != nil {
		return err
	}
	if lp.Decision == luksLater {
		f, err := probeLuks(ctx, e, dev)
		if err != nil {
			return err
		}
		if lp.Decision, err = decideLuks(l, f); err != nil {
			return fmt.Errorf("%s: %w", lp.Device, err)
		}
	}
	key, generated, err := writeKey(ctx, e, l)
	if err != nil {
		return err
	}
	cs := func(args ...string) error {
		_, err := e.run.Run(ctx, system.Cmd{Name: system.ToolCryptsetup, Args: args})
		return err
	}
	mapper := "/dev/mapper/" + l.Name
	openArgs := []string{"luksOpen", dev, l.Name, "--key-file", key, "--persistent"}
	if isTrue(l.Discard) {
		openArgs = append(openArgs, "--allow-discards")
	}
	for _, o := range l.OpenOptions {
		openArgs = append(openArgs, string(o))
	}

	if lp.Decision == luksReuse {
		e.log.Info("volume %s on %s already exists with the right parameters, reusing it", l.Name, lp.Device)
		if _, err := os.Stat(mapper); err != nil {
			if err := cs(openArgs...); err != nil {
				return fmt.Errorf("opening the existing volume with the configured key: %w", err)
			}
		}
	} else {
		if isTrue(l.WipeVolume) {
			if _, err := e.run.Run(ctx, system.Cmd{Name: system.ToolWipefs, Args: []string{"-a", dev}}); err != nil {
				return fmt.Errorf("wiping %s: %w", dev, err)
			}
		}
		args := []string{"luksFormat", "--type", "luks2", "--batch-mode", "--key-file", key}
		if l.Label != nil {
			args = append(args, "--label", *l.Label)
		}
		if l.UUID != nil {
			args = append(args, "--uuid", *l.UUID)
		}
		for _, o := range l.Options {
			args = append(args, string(o))
		}
		var cex *cexKey
		if isCex(l) {
			if cex, err = generateCexKey(ctx, e, l); err != nil {
				return err
			}
			args = append(args, cex.luksFormatArgs()...)
		}
		if err := cs(append(args, dev)...); err != nil {
			return fmt.Errorf("formatting %s: %w", dev, err)
		}
		if cex != nil {
			if err := cex.setVerificationPattern(ctx, e, dev, key); err != nil {
				return err
			}
			for name, p := range cex.repoFiles() {
				setMap(&st.LuksCexRepoFiles, name, p)
			}
		}
		if err := cs(openArgs...); err != nil {
			return fmt.Errorf("opening %s: %w", dev, err)
		}
		if hasClevis(l) {
			if err := bindClevis(ctx, e, l, dev, key); err != nil {
				return err
			}
		}
	}

	uuid, err := readLuksUUID(dev)
	if err != nil {
		return err
	}
	setMap(&st.LuksUUIDs, l.Name, uuid)
	if hasClevis(l) {
		setBool(&st.LuksClevis, l.Name)
	}
	if luksNeedsNetwork(l) {
		setBool(&st.LuksNetwork, l.Name)
	}
	if generated && hasClevis(l) && lp.Decision != luksReuse {
		// The clevis bindings are the only way in: drop the generated key.
		if err := cs("luksRemoveKey", "--batch-mode", dev, key); err != nil {
			return fmt.Errorf("removing the generated key slot of %s: %w", dev, err)
		}
		os.Remove(key)
	} else {
		setMap(&st.LuksKeyFiles, l.Name, key)
	}
	_, err = e.wait(ctx, mapper, "LUKS volume "+l.Name+" just opened")
	return err
}

// bindClevis runs `clevis luks bind` and, when the bindings can be proved
// now, closes the volume and unlocks it through clevis. The key reaches
// clevis as a file; tang URL userinfo and queries are redacted from every
// log line and error (clevis takes its pin configuration only as an
// argument, so clevis and its children see it: docs/disks.md).
func bindClevis(ctx context.Context, e *env, l config.Luks, dev, key string) error {
	pin, cfg, secrets, err := clevisConfig(ctx, e, l)
	if err != nil {
		return err
	}
	if _, err := e.run.Run(ctx, system.Cmd{Name: system.ToolClevis, Secret: secrets,
		Args: []string{"luks", "bind", "-f", "-k", key, "-d", dev, pin, cfg}}); err != nil {
		return fmt.Errorf("binding %s with clevis (%s): %s", dev, pin, system.Redact(err.Error(), secrets))
	}
	if !unlockProvable(l) {
		e.log.Info("clevis binding of %s not proved by unlocking now (offline advertisement or custom pin)", dev)
		return nil
	}
	if _, err := e.run.Run(ctx, system.Cmd{Name: system.ToolCryptsetup, Args: []string{"luksClose", l.Name}}); err != nil {
		return fmt.Errorf("closing %s to prove the clevis binding: %w", l.Name, err)
	}
	if _, err := e.run.Run(ctx, system.Cmd{Name: system.ToolClevis, Secret: secrets,
		Args: []string{"luks", "unlock", "-d", dev, "-n", l.Name}}); err != nil {
		return fmt.Errorf("unlocking %s with clevis: %s", dev, system.Redact(err.Error(), secrets))
	}
	return nil
}

func setMap(m *map[string]string, k, v string) {
	if *m == nil {
		*m = map[string]string{}
	}
	(*m)[k] = v
}

func setBool(m *map[string]bool, k string) {
	if *m == nil {
		*m = map[string]bool{}
	}
	(*m)[k] = true
}

// readLuksUUID reads the UUID from the LUKS header (LUKS1 and LUKS2 keep
// it as 40 bytes of text at offset 168) instead of running cryptsetup.
func readLuksUUID(dev string) (string, error) {
	f, err := os.Open(dev)
	if err != nil {
		return "", fmt.Errorf("reading the LUKS UUID of %s: %w", dev, err)
	}
	defer f.Close()
	hdr := make([]byte, 208)
	if _, err := f.ReadAt(hdr, 0); err != nil {
		return "", fmt.Errorf("reading the LUKS UUID of %s: %w", dev, err)
	}
	if string(hdr[:6]) != "LUKS\xba\xbe" {
		return "", fmt.Errorf("reading the LUKS UUID of %s: no LUKS header", dev)
	}
	return strings.TrimRight(string(hdr[168:208]), "\x00"), nil
}
