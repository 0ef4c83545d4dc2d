package disks

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/flintboot/flint/config"
	"github.com/flintboot/flint/system"
)

// IBM Crypto Express (cex) LUKS volumes, s390x only: the volume key is a
// secure key made by `zkey generate` in the zkey repository, wrapped by the
// card's master key, and the LUKS2 volume uses the protected-key cipher
// paes-xts-plain64 (SPEC-NOTES §5.3, the reference's luks.go).

// cexArch is the only architecture with Crypto Express cards.
const cexArch = "s390x"

func isCex(l config.Luks) bool { return isTrue(l.Cex.Enabled) }

// checkCex refuses, while planning, a cex volume this machine cannot make:
// not s390x, or no online CCA coprocessor queue. validate accepts cex
// (it is a machine reason, not a config one).
func checkCex(e *env, l config.Luks) error {
	if !isCex(l) {
		return nil
	}
	if e.arch != cexArch {
		return fmt.Errorf("LUKS volume %s: cex (IBM Crypto Express secure keys) needs an s390x machine with a Crypto Express card; this machine is %s, nothing was changed",
			l.Name, e.arch)
	}
	if _, err := cexAPQNs(e.sysBusAP); err != nil {
		return fmt.Errorf("LUKS volume %s: cex: %w", l.Name, err)
	}
	return nil
}

// apqnRe matches an adjunct processor queue name: card.domain in hex.
var apqnRe = regexp.MustCompile(`^[0-9a-f]{2}\.[0-9a-f]{4}$`)

// cexAPQNs lists the adjunct processor queues under dir
// (/sys/bus/ap/devices) whose uevent says they are in CCA mode, comma
// separated as zkey --apqns wants them. Queues that say they are offline
// are left out.
func cexAPQNs(dir string) (string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) == 0 {
		return "", fmt.Errorf("no adjunct processor (Crypto Express card) found in %s", dir)
	}
	var out []string
	for _, ent := range ents {
		if !apqnRe.MatchString(ent.Name()) {
			continue
		}
		q := filepath.Join(dir, ent.Name())
		if b, err := os.ReadFile(filepath.Join(q, "online")); err == nil && strings.TrimSpace(string(b)) == "0" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(q, "uevent"))
		if err != nil {
			return "", fmt.Errorf("reading the uevent of adjunct processor queue %s: %w", ent.Name(), err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if _, v, ok := strings.Cut(line, "="); ok && strings.TrimSpace(v) == "cca" {
				out = append(out, ent.Name())
				break
			}
		}
	}
	if len(out) == 0 {
		return "", fmt.Errorf("no Crypto Express queue in CCA mode found in %s", dir)
	}
	sort.Strings(out)
	return strings.Join(out, ","), nil
}

// cexKey is one secure key in the zkey repository.
type cexKey struct {
	name string // zkey key name: ignition-luks-<volume>, as the reference names it
	repo string
	bits int64
}

func cexKeyName(volume string) string { return "ignition-luks-" + volume }

// zkeyGenerateArgs is `zkey generate` for volume's secure key, as the
// reference runs it.
func zkeyGenerateArgs(volume, apqns string) []string {
	return []string{"generate", "--name", cexKeyName(volume), "--key-type", "CCA-AESCIPHER", "--xts",
		"--description", "Secure Key for " + volume + " Volume", "--apqns", apqns}
}

func (k *cexKey) env() []string { return []string{"ZKEY_REPOSITORY=" + k.repo} }

func (k *cexKey) file(ext string) string { return filepath.Join(k.repo, k.name+ext) }

// generateCexKey makes the volume's secure key in the repository with zkey.
func generateCexKey(ctx context.Context, e *env, l config.Luks) (*cexKey, error) {
	apqns, err := cexAPQNs(e.sysBusAP)
	if err != nil {
		return nil, err
	}
	k := &cexKey{name: cexKeyName(l.Name), repo: e.paths.ZkeyRepository}
	if err := os.MkdirAll(k.repo, 0o700); err != nil {
		return nil, fmt.Errorf("creating the zkey repository %s: %w", k.repo, err)
	}
	if _, err := e.run.Run(ctx, system.Cmd{Name: system.ToolZkey, Args: zkeyGenerateArgs(l.Name, apqns), Env: k.env()}); err != nil {
		return nil, fmt.Errorf("generating the cex secure key: %w", err)
	}
	st, err := os.Stat(k.file(".skey"))
	if err != nil {
		return nil, fmt.Errorf("the cex secure key: %w", err)
	}
	k.bits = st.Size() * 8 // cryptsetup wants the key size in bits
	return k, nil
}

// luksFormatArgs are the options luksFormat gets for a secure key.
func (k *cexKey) luksFormatArgs() []string {
	return []string{"--volume-key-file", k.file(".skey"), "--cipher", "paes-xts-plain64",
		"--key-size", strconv.FormatInt(k.bits, 10)}
}

// setVerificationPattern runs `zkey-cryptsetup setvp` after luksFormat.
func (k *cexKey) setVerificationPattern(ctx context.Context, e *env, dev, key string) error {
	if _, err := e.run.Run(ctx, system.Cmd{Name: system.ToolZkeyCryptsetup, Args: []string{"setvp", dev, "--key-file", key}, Env: k.env()}); err != nil {
		return fmt.Errorf("setting the verification pattern of %s: %w", dev, err)
	}
	return nil
}

// repoFiles are the repository files the target root keeps
// (<root>/etc/zkey/repository/<name>): file name → path now.
func (k *cexKey) repoFiles() map[string]string {
	return map[string]string{k.name + ".skey": k.file(".skey"), k.name + ".info": k.file(".info")}
}
