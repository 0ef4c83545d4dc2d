package providers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/flintboot/flint/system"
)

// hyperv: the config from the Hyper-V KVP "external" pool (pool 0) —
// key ignition.config, or ignition.config.0, .1, ... concatenated. flint
// reads the pool files the KVP daemon (hv_kvp_daemon) keeps in
// /var/lib/hyperv/.kvp_pool_<N>; speaking the /dev/vmbus/hv_kvp protocol
// itself is not implemented. FetchWithFiles hands the pool files to the
// files stage so the real root keeps them (0600).
type hyperv struct{}

func (hyperv) Name() string { return "hyperv" }

const (
	kvpKeySize   = 512
	kvpValueSize = 2048
	kvpRecord    = kvpKeySize + kvpValueSize
	kvpPoolDir   = "/var/lib/hyperv"
)

// ParseKVPPool parses a KVP pool file: fixed records of a 512-byte key and
// a 2048-byte value, NUL-padded.
func ParseKVPPool(b []byte) (map[string]string, error) {
	if len(b)%kvpRecord != 0 {
		return nil, fmt.Errorf("KVP pool file size %d is not a multiple of %d", len(b), kvpRecord)
	}
	out := map[string]string{}
	for i := 0; i < len(b); i += kvpRecord {
		k := string(bytes.TrimRight(b[i:i+kvpKeySize], "\x00"))
		v := string(bytes.TrimRight(b[i+kvpKeySize:i+kvpRecord], "\x00"))
		if k != "" {
			out[k] = v
		}
	}
	return out, nil
}

// HypervConfig assembles the config from pool 0's key/values.
func HypervConfig(kv map[string]string) ([]byte, bool) {
	if v, ok := kv["ignition.config"]; ok {
		return []byte(v), true
	}
	var b strings.Builder
	n := 0
	for ; ; n++ {
		v, ok := kv["ignition.config."+strconv.Itoa(n)]
		if !ok {
			break
		}
		b.WriteString(v)
	}
	if n == 0 {
		return nil, false
	}
	return []byte(b.String()), true
}

func (h hyperv) Fetch(ctx context.Context, env *Env) ([]byte, error) {
	b, _, err := h.FetchWithFiles(ctx, env)
	return b, err
}

func (hyperv) FetchWithFiles(ctx context.Context, env *Env) ([]byte, []OutputFile, error) {
	env.fill()
	if _, err := env.Runner.Run(ctx, system.Cmd{Name: system.ToolModprobe, Args: []string{"hv_utils"}}); err != nil {
		env.Log.Warn("hyperv: loading hv_utils: %v", err)
	}
	dir := env.sysPath(kvpPoolDir)
	var files []OutputFile
	var pool0 map[string]string
	for n := 0; n < 5; n++ {
		p := filepath.Join(dir, ".kvp_pool_"+strconv.Itoa(n))
		b, err := readCapped(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("hyperv: %w", err)
		}
		files = append(files, OutputFile{Path: filepath.Join(kvpPoolDir, ".kvp_pool_"+strconv.Itoa(n)), Mode: 0o600, Data: b})
		if n == 0 {
			if pool0, err = ParseKVPPool(b); err != nil {
				return nil, nil, fmt.Errorf("hyperv: %s: %w", p, err)
			}
		}
	}
	if pool0 == nil {
		if _, err := os.Stat(dir); err != nil {
			env.Log.Info("hyperv: no KVP pool files in %s", dir)
		}
		return nil, files, ErrNoConfig
	}
	cfg, ok := HypervConfig(pool0)
	if !ok {
		return nil, files, ErrNoConfig
	}
	out, err := nonEmpty(cfg)
	return out, files, err
}
