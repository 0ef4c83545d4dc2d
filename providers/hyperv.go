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
	"time"

	"golang.org/x/sys/unix"

	"github.com/flintboot/flint/system"
)

// hyperv: the config from the Hyper-V KVP "external" pool (pool 0) —
// key ignition.config, or ignition.config.0, .1, ... concatenated.
//
// flint speaks the KVP protocol of the hv_utils driver itself, the way
// hv_kvp_daemon does, on /dev/vmbus/hv_kvp: it registers, then answers the
// host's requests (SET delivers a key/value of a pool) until none has come
// for a second. The host sends its pools only once per boot, to whoever
// registers first, so FetchWithFiles hands all five pools to the files
// stage, which writes them where hv_kvp_daemon keeps them
// (/var/lib/hyperv/.kvp_pool_<N>, 0600: they hold the config), for the
// daemon of the real root to load. flint keeps them there in the
// initramfs too, as the daemon would.
//
// When the device is held by a running hv_kvp_daemon (EBUSY), or never
// appears but a daemon left pool files behind, flint reads the pool files
// instead.
type hyperv struct{}

func (hyperv) Name() string { return "hyperv" }

const (
	kvpKeySize   = 512
	kvpValueSize = 2048
	kvpRecord    = kvpKeySize + kvpValueSize
	kvpPoolDir   = "/var/lib/hyperv"
	kvpDevice    = "/dev/vmbus/hv_kvp"
	kvpPools     = 5 // external, guest, auto, auto-external, auto-internal
)

// The hv_kvp character device exchanges struct hv_kvp_msg of
// <linux/hyperv.h>, little-endian, 7432 bytes: a 4-byte header
// (operation, pool, padding; the reply puts a 32-bit status there) and a
// body union. For GET/SET the body is hv_kvp_exchg_msg_value: value_type,
// key_size, value_size (u32 each, sizes in bytes including the NUL), a
// 512-byte key and a 2048-byte value.
const (
	kvpMsgSize     = 7432
	kvpOffKeySize  = 8
	kvpOffValSize  = 12
	kvpOffKey      = 16
	kvpOffValue    = kvpOffKey + kvpKeySize
	kvpOffVersion  = 4 // hv_kvp_register.version
	kvpOpGet       = 0
	kvpOpSet       = 1
	kvpOpDelete    = 2
	kvpOpEnumerate = 3
	kvpOpRegister1 = 100 // KVP_OP_REGISTER1: a daemon that handles IP injection

	hvSOK   = 0x00000000
	hvEFail = 0x80004005
	hvSCont = 0x80070103 // "no such key" / "no more entries"
)

// kvpPool is one pool's key/value pairs in arrival order (a SET of an
// existing key replaces its value in place, as hv_kvp_daemon does).
type kvpPool struct {
	keys []string
	vals map[string]string
}

func (p *kvpPool) set(k, v string) {
	if p.vals == nil {
		p.vals = map[string]string{}
	}
	if _, ok := p.vals[k]; !ok {
		p.keys = append(p.keys, k)
	}
	p.vals[k] = v
}

func (p *kvpPool) del(k string) {
	if _, ok := p.vals[k]; !ok {
		return
	}
	delete(p.vals, k)
	for i, x := range p.keys {
		if x == k {
			p.keys = append(p.keys[:i], p.keys[i+1:]...)
			break
		}
	}
}

// EncodeKVPPool renders pairs as a pool file the way hv_kvp_daemon writes
// it: one record per pair, key and value NUL-padded to 512 and 2048 bytes.
func EncodeKVPPool(keys []string, vals map[string]string) []byte {
	out := make([]byte, 0, len(keys)*kvpRecord)
	for _, k := range keys {
		rec := make([]byte, kvpRecord)
		copy(rec[:kvpKeySize], k)
		copy(rec[kvpKeySize:], vals[k])
		out = append(out, rec...)
	}
	return out
}

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
	if v, ok := kv["ignition.config"]; ok && v != "" {
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

// FetchWithFiles returns the config and the five pool files for the
// files stage.
func (hyperv) FetchWithFiles(ctx context.Context, env *Env) ([]byte, []OutputFile, error) {
	env.fill()
	// hv_utils makes the kernel side of KVP (and the device node)
	if _, err := env.Runner.Run(ctx, system.Cmd{Name: system.ToolModprobe, Args: []string{"hv_utils"}}); err != nil {
		env.Log.Warn("hyperv: loading hv_utils: %v", err)
	}
	dev := env.sysPath(kvpDevice)
	// a KVP daemon that ran before flint left pool files: the host sent
	// its pools to the daemon, not again to flint
	daemonRan := kvpPoolFilesExist(env)
	if _, err := os.Stat(dev); err != nil && daemonRan {
		env.Log.Info("hyperv: no %s yet, reading the KVP daemon's pool files", dev)
		return readKVPPoolFiles(env)
	}
	pools, sets, err := readKVPDevice(ctx, env, dev)
	switch {
	case err == nil && sets == 0 && daemonRan:
		env.Log.Info("hyperv: the host sent nothing (a KVP daemon got it first): reading its pool files")
		return readKVPPoolFiles(env)
	case err == nil:
		var files []OutputFile
		for n := range pools {
			files = append(files, OutputFile{
				Path: filepath.Join(kvpPoolDir, ".kvp_pool_"+strconv.Itoa(n)),
				Mode: 0o600,
				Data: EncodeKVPPool(pools[n].keys, pools[n].vals),
			})
		}
		if sets > 0 {
			keepKVPPools(env, files)
		}
		cfg, ok := HypervConfig(pools[0].vals)
		if !ok {
			env.Log.Info("hyperv: KVP pool 0 has no ignition.config key")
			return nil, files, ErrNoConfig
		}
		out, err := nonEmpty(cfg)
		return out, files, err
	case errors.Is(err, errKVPBusy), errors.Is(err, errKVPAbsent):
		env.Log.Info("hyperv: %v: reading the KVP daemon's pool files instead", err)
		return readKVPPoolFiles(env)
	}
	return nil, nil, fmt.Errorf("hyperv: %w", err)
}

// keepKVPPools writes the pools where hv_kvp_daemon keeps them, here (the
// initramfs): the host sends them once per boot, and a second read in this
// boot (fetch after fetch-offline found the config needs the network) or a
// daemon started later finds them there.
func keepKVPPools(env *Env, files []OutputFile) {
	dir := env.sysPath(kvpPoolDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		env.Log.Warn("hyperv: keeping the KVP pools: %v", err)
		return
	}
	for _, f := range files {
		p := filepath.Join(dir, filepath.Base(f.Path))
		if err := system.WriteFileAtomic(p, bytes.NewReader(f.Data), f.Mode); err != nil {
			env.Log.Warn("hyperv: keeping the KVP pools: %v", err)
			return
		}
	}
}

func kvpPoolFilesExist(env *Env) bool {
	for n := 0; n < kvpPools; n++ {
		if _, err := os.Stat(filepath.Join(env.sysPath(kvpPoolDir), ".kvp_pool_"+strconv.Itoa(n))); err == nil {
			return true
		}
	}
	return false
}

var (
	errKVPBusy   = errors.New("the KVP device is held by another process (hv_kvp_daemon)")
	errKVPAbsent = errors.New("no KVP device")
)

// readKVPDevice waits for the device (hyperv.device, 10 s), registers and
// collects the host's SETs until it has been quiet for hyperv.kvp (1 s).
func readKVPDevice(ctx context.Context, env *Env, dev string) (pools [kvpPools]kvpPool, sets int, err error) {
	deadline := time.Now().Add(env.timeout("hyperv.device", 10*time.Second))
	for {
		if _, err := os.Stat(dev); err == nil {
			break
		}
		if time.Now().After(deadline) {
			return pools, 0, fmt.Errorf("%w: %s did not appear (is hv_utils available?)", errKVPAbsent, dev)
		}
		select {
		case <-ctx.Done():
			return pools, 0, ctx.Err()
		case <-time.After(env.PollInterval):
		}
	}
	c, err := openKVP(dev)
	if errors.Is(err, errKVPBusy) {
		return pools, 0, err
	}
	if err != nil {
		return pools, 0, fmt.Errorf("opening %s: %w", dev, err)
	}
	defer c.close()
	done := env.Log.Op("hyperv: reading key/value pairs from %s", dev)
	sets, err = exchangeKVP(ctx, c, &pools, env.timeout("hyperv.kvp", time.Second), env)
	done(err)
	if err != nil {
		return pools, sets, err
	}
	env.Log.Info("hyperv: received %d key/value pairs from the host (pool 0: %d)", sets, len(pools[0].keys))
	return pools, sets, nil
}

// kvpConn is the open device: whole-message reads and writes, and a wait
// for readability.
type kvpConn interface {
	// wait reports whether a message can be read within d.
	wait(d time.Duration) (bool, error)
	read(b []byte) error
	write(b []byte) error
	close()
}

// exchangeKVP is the daemon's side of the protocol on c: register, then
// read each request, handle it and write the reply, until nothing arrives
// for idle. It returns the number of SETs received.
func exchangeKVP(ctx context.Context, c kvpConn, pools *[kvpPools]kvpPool, idle time.Duration, env *Env) (int, error) {
	msg := make([]byte, kvpMsgSize)
	msg[0] = kvpOpRegister1
	if err := c.write(msg); err != nil {
		return 0, fmt.Errorf("registering with the KVP driver: %w", err)
	}
	sets := 0
	registered := false
	for {
		quiet := time.Now().Add(idle)
		for {
			if err := ctx.Err(); err != nil {
				return sets, err
			}
			step := min(time.Until(quiet), 100*time.Millisecond)
			if step <= 0 {
				if !registered {
					return sets, errors.New("the KVP driver did not answer the registration")
				}
				return sets, nil
			}
			ok, err := c.wait(step)
			if err != nil {
				return sets, err
			}
			if ok {
				break
			}
		}
		if err := c.read(msg); err != nil {
			return sets, fmt.Errorf("reading a KVP message: %w", err)
		}
		op, pool := msg[0], int(msg[1])
		if op == kvpOpRegister1 {
			// the driver's answer to our registration: its version
			registered = true
			env.Log.Debugf("hyperv: KVP driver version %q", cString(msg[kvpOffVersion:kvpOffVersion+kvpKeySize]))
			continue
		}
		registered = true
		status := uint32(hvSOK)
		switch {
		case pool >= kvpPools:
			status = hvEFail
		case op == kvpOpSet:
			k := kvpField(msg, kvpOffKey, kvpKeySize, kvpOffKeySize)
			v := kvpField(msg, kvpOffValue, kvpValueSize, kvpOffValSize)
			pools[pool].set(k, v)
			sets++
			env.Log.Debugf("hyperv: KVP pool %d: key %q (%d bytes)", pool, k, len(v))
		case op == kvpOpDelete:
			// hv_kvp_msg_delete: key_size at 4, key at 8
			pools[pool].del(kvpField(msg, 8, kvpKeySize, 4))
		case op == kvpOpGet, op == kvpOpEnumerate:
			// the host asks for guest-side values; the initramfs has none
			// (hv_kvp_daemon answers these in the real root)
			status = hvSCont
		default: // IP injection and unknown operations
			status = hvEFail
		}
		le32put(msg[0:4], status)
		if err := c.write(msg); err != nil {
			return sets, fmt.Errorf("answering a KVP message: %w", err)
		}
	}
}

// kvpField reads a NUL-terminated string of at most max bytes at off whose
// length (including the NUL) is the u32 at sizeOff.
func kvpField(msg []byte, off, max, sizeOff int) string {
	n := int(le32(msg[sizeOff : sizeOff+4]))
	if n > max || n < 0 {
		n = max
	}
	return string(bytes.TrimRight(msg[off:off+n], "\x00"))
}

func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

func le32put(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}

// readKVPPoolFiles reads the pool files hv_kvp_daemon keeps.
func readKVPPoolFiles(env *Env) ([]byte, []OutputFile, error) {
	dir := env.sysPath(kvpPoolDir)
	var files []OutputFile
	var pool0 map[string]string
	for n := 0; n < kvpPools; n++ {
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
	if len(files) == 0 {
		return nil, nil, fmt.Errorf("hyperv: no KVP device and no KVP pool files in %s", dir)
	}
	if pool0 == nil {
		return nil, files, ErrNoConfig
	}
	cfg, ok := HypervConfig(pool0)
	if !ok {
		return nil, files, ErrNoConfig
	}
	out, err := nonEmpty(cfg)
	return out, files, err
}

// kvpDev is the character device (or, in tests, a pty standing in for it).
type kvpDev struct{ fd int }

func openKVP(path string) (kvpConn, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if errors.Is(err, unix.EBUSY) {
		return nil, errKVPBusy
	}
	if err != nil {
		return nil, err
	}
	return &kvpDev{fd: fd}, nil
}

func (d *kvpDev) wait(t time.Duration) (bool, error) {
	fds := []unix.PollFd{{Fd: int32(d.fd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, int(t.Milliseconds()))
	if errors.Is(err, unix.EINTR) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if n > 0 && fds[0].Revents&(unix.POLLERR|unix.POLLNVAL) != 0 {
		return false, fmt.Errorf("KVP device error (poll events %#x)", fds[0].Revents)
	}
	return n > 0 && fds[0].Revents&(unix.POLLIN|unix.POLLHUP) != 0, nil
}

// read fills b: the driver hands over one whole message per read; a
// stream (the tests' pty) may need several.
func (d *kvpDev) read(b []byte) error {
	for got := 0; got < len(b); {
		if got > 0 {
			if ok, err := d.wait(5 * time.Second); err != nil {
				return err
			} else if !ok {
				return fmt.Errorf("short KVP message (%d of %d bytes)", got, len(b))
			}
		}
		n, err := unix.Read(d.fd, b[got:])
		if errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN) {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("KVP device closed after %d of %d bytes", got, len(b))
		}
		got += n
	}
	return nil
}

func (d *kvpDev) write(b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(d.fd, b)
		if errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN) {
			continue
		}
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

func (d *kvpDev) close() { unix.Close(d.fd) }
