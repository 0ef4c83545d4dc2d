// Package providers maps a platform id to the code that obtains the user
// config on that platform (a metadata service, a config drive, a hypervisor
// channel, ...). The list of platforms is one explicit table (table.go); every
// platform lives in its own file; the pure parts (decoders, OVF parsing,
// command line parsing, label probing, endpoint selection) are tested on
// golden files under testdata/.
//
// Besides the platforms there are two pseudo-providers, cmdline and system,
// which Acquire consults first (kernel command line → user.ign → platform).
package providers

import (
	"context"
	"errors"
	"net/http"
	"os"
	"time"

	"github.com/flintboot/flint/log"
	"github.com/flintboot/flint/resource"
	"github.com/flintboot/flint/system"
)

// The three outcomes besides success, kept apart as the reference does.
var (
	// ErrNoConfig: the platform has no user config (empty or absent user data,
	// a cloud-config script, ...). Provisioning continues with base configs.
	ErrNoConfig = errors.New("not a config (empty)")
	// ErrOffline: the provider cannot be used on this machine (e.g. the VMware
	// backdoor is absent). Acquire moves to the next source.
	ErrOffline = errors.New("config provider was not online")
	// ErrNeedNet: the provider needs the network and the fetcher is offline
	// (the fetch-offline stage). Same value as resource.ErrNeedNet so
	// errors.Is works for either.
	ErrNeedNet = resource.ErrNeedNet
	// ErrNotSupported: the platform cannot do what was asked (e.g. DelConfig).
	ErrNotSupported = errors.New("not supported on this platform")
	// ErrUnknownPlatform: Lookup got an id that is not in the table.
	ErrUnknownPlatform = errors.New("unknown platform id")
)

// MaxConfigSize caps user data and configs read by providers (64 MiB).
const MaxConfigSize = 64 << 20

// Provider obtains the raw user config on one platform.
type Provider interface {
	// Name is the canonical platform id (aliases resolve to it).
	Name() string
	// Fetch returns the raw config bytes, ErrNoConfig when the platform has
	// none, ErrOffline when this provider cannot work here, or an error.
	Fetch(ctx context.Context, env *Env) ([]byte, error)
}

// Initer is implemented by providers that prepare something before Fetch
// (e.g. aws: IMDS token and region). Init may return ErrNeedNet.
type Initer interface {
	Init(ctx context.Context, env *Env) error
}

// FetcherConfigurer is implemented by providers that give the fetcher
// platform credentials (aws: instance-role credentials and the S3 region
// hint; gcp: a token source for gs://). Stages call it after Init and
// apply the result with Fetcher.SetOptions.
type FetcherConfigurer interface {
	ConfigureFetcher(ctx context.Context, env *Env, opts *resource.Options) error
}

// StatusReporter is implemented by providers that report each stage's
// outcome to the platform (packet's phone-home). err is the stage error or
// nil.
type StatusReporter interface {
	Status(ctx context.Context, env *Env, stage string, err error) error
}

// ConfigDeleter is implemented by providers that can remove the config from
// the hypervisor after provisioning (flint rmcfg).
type ConfigDeleter interface {
	DelConfig(ctx context.Context, env *Env) error
}

// OutputFile is a file a provider asks the files stage to write into the
// target root.
type OutputFile struct {
	Path string // absolute path inside the root
	Mode os.FileMode
	Data []byte
}

// FilesFetcher is implemented by providers that, besides the config, hand
// files to the files stage (hyperv: the KVP pool files).
type FilesFetcher interface {
	FetchWithFiles(ctx context.Context, env *Env) ([]byte, []OutputFile, error)
}

// Env is everything a provider may touch. NewEnv fills in the defaults;
// tests override single fields.
type Env struct {
	// Fetcher is the one fetcher (timeouts, proxy, offline mode).
	Fetcher *resource.Fetcher
	// Runner runs the few tools some platforms need (modprobe, vmur,
	// VBoxControl, vmware-rpctool, ...).
	Runner system.Runner
	// CmdlinePath is the kernel command line: $FLINT_KERNEL_CMDLINE_PATH,
	// else $IGNITION_KERNEL_CMDLINE_PATH, else /proc/cmdline.
	CmdlinePath string
	// SystemConfigDirs are searched in order for user.ign (default:
	// system.PathsFromEnv().ConfigDirs()).
	SystemConfigDirs []string
	// MetadataBase, when set, replaces scheme://host[:port] of every metadata
	// endpoint (tests only). From $FLINT_TEST_METADATA_BASE.
	MetadataBase string
	// SysRoot prefixes /sys, /dev, /run and /var paths the providers read
	// (fw_cfg, DMI, bootfifo, DHCP leases, the Hyper-V KVP device and pool
	// files); "" means "/". Tests only: from $FLINT_TEST_SYSROOT.
	SysRoot string
	// FindLabel returns the block device holding a filesystem with label
	// (exact match); "" when none exists right now.
	FindLabel func(label string) (dev string, err error)
	// FindFSType returns the block devices whose filesystem type is one of
	// types (azure's UDF/ISO9660 CD-ROM search).
	FindFSType func(types ...string) ([]string, error)
	// Mount mounts dev read-only on dir with filesystem type fstype
	// ("" = probe); Unmount undoes it.
	Mount   func(ctx context.Context, dev, dir, fstype string) error
	Unmount func(ctx context.Context, dir string) error
	// PollInterval is how often device waits re-check (default 1s).
	PollInterval time.Duration
	// Timeouts overrides per-platform give-up times (tests use short ones);
	// keys are the names documented in docs/platforms.md, e.g.
	// "ibmcloud.drive", "cmdline.device", "aws.region".
	Timeouts map[string]time.Duration
	// HTTPClient is used by the SDK-based clients (aws IMDS, gcp metadata).
	// nil means a client built from Fetcher's options.
	HTTPClient *http.Client
	// Getenv reads environment variables (os.Getenv by default).
	Getenv func(string) string
	// WorkDir is where the file provider resolves ./config.ign ("" = cwd).
	WorkDir string
	// Log receives what the providers do; nil discards.
	Log *log.Logger
}

// NewEnv returns an Env with production defaults around fetcher, runner
// and logger.
func NewEnv(fetcher *resource.Fetcher, runner system.Runner, l *log.Logger) *Env {
	e := &Env{Fetcher: fetcher, Runner: runner, Log: l}
	e.fill()
	return e
}

func (e *Env) getenv(k string) string {
	if e.Getenv != nil {
		return e.Getenv(k)
	}
	return os.Getenv(k)
}

// fill sets every unset field to its default.
func (e *Env) fill() {
	if e.Fetcher == nil {
		e.Fetcher, _ = resource.New(resource.Options{Log: e.Log})
	}
	if e.Runner == nil {
		e.Runner = system.NewRunner(e.Log, Tools(system.ToolsFromEnv()))
	}
	if e.CmdlinePath == "" {
		e.CmdlinePath = firstNonEmpty(e.getenv("FLINT_KERNEL_CMDLINE_PATH"), e.getenv("IGNITION_KERNEL_CMDLINE_PATH"), "/proc/cmdline")
	}
	if e.SystemConfigDirs == nil {
		e.SystemConfigDirs = system.PathsFromEnv().ConfigDirs()
	}
	if e.MetadataBase == "" {
		e.MetadataBase = e.getenv(MetadataBaseEnv)
	}
	if e.SysRoot == "" {
		e.SysRoot = e.getenv(SysRootEnv)
	}
	if e.FindLabel == nil {
		e.FindLabel = func(label string) (string, error) { return findLabel(e.sysPath("/"), label) }
	}
	if e.FindFSType == nil {
		e.FindFSType = func(types ...string) ([]string, error) { return findFSType(e.sysPath("/"), types...) }
	}
	if e.Mount == nil {
		e.Mount = mountRO
	}
	if e.Unmount == nil {
		e.Unmount = system.Unmount
	}
	if e.PollInterval == 0 {
		e.PollInterval = time.Second
	}
}

// timeout returns the give-up time for key, def unless overridden.
func (e *Env) timeout(key string, def time.Duration) time.Duration {
	if d, ok := e.Timeouts[key]; ok {
		return d
	}
	return def
}

// sysPath returns p under SysRoot.
func (e *Env) sysPath(p string) string {
	if e.SysRoot == "" || e.SysRoot == "/" {
		return p
	}
	return e.SysRoot + p
}

// MetadataBaseEnv is the one environment variable that points every metadata
// endpoint at a test server (scheme://host:port, no path). Tests only.
const MetadataBaseEnv = "FLINT_TEST_METADATA_BASE"

// SysRootEnv prefixes the machine paths the providers read (Env.SysRoot).
// Tests only.
const SysRootEnv = "FLINT_TEST_SYSROOT"

// Extra tools the providers run through system.Runner.
const (
	ToolVBoxControl   = "VBoxControl"
	ToolVMwareRpctool = "vmware-rpctool"
)

// Tools returns t plus the tools only providers use (VBoxControl,
// vmware-rpctool), each overridable like the others with FLINT_TOOL_<NAME>.
func Tools(t system.Tools) system.Tools {
	for _, n := range []string{ToolVBoxControl, ToolVMwareRpctool} {
		if _, ok := t[n]; ok {
			continue
		}
		bin := n
		if v := os.Getenv(system.ToolEnvVar(n)); v != "" {
			bin = v
		}
		t = t.With(n, bin)
	}
	return t
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}
