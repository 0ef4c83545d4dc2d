// Package stages is flint's engine: the ordered stage table, config
// acquisition, the state passed between stages and the result file. Each
// stage lives in its own sub-package and implements Stage.
package stages

import (
	"context"

	"github.com/flintboot/flint/config"
	"github.com/flintboot/flint/log"
	"github.com/flintboot/flint/resource"
	"github.com/flintboot/flint/system"
)

// Action is one step a stage will take, as shown by `flint plan` and logged
// before it is applied. Detail never holds secrets.
type Action struct {
	Op     string // e.g. "create-partition", "write-file", "mkfs"
	Target string // device or path
	Detail string // human-readable specifics
}

// Plan is what a stage decided to do after reading the machine. Planning
// changes nothing; conflicts are found during planning, before the first
// write (DESIGN rule 5).
type Plan interface {
	Actions() []Action
	Apply(ctx context.Context, c *Context) error
}

// Stage is one provisioning stage.
type Stage interface {
	Name() string
	Plan(ctx context.Context, c *Context) (Plan, error)
}

// Context is everything a stage may use, filled in by the engine. The
// request's context.Context is passed alongside, never stored here.
type Context struct {
	Root     string        // target root, e.g. /sysroot ("/" for the live system)
	Config   config.Config // effective config (base + user, rendered)
	Platform string
	Log      *log.Logger
	State    *State

	// Fetcher fetches every remote resource (file contents, key files,
	// referenced configs). Set by the engine; offline in fetch-offline.
	Fetcher *resource.Fetcher
	// Runner runs every external command.
	Runner system.Runner
	// Paths are flint's on-disk locations (run dir, result file, ...).
	Paths system.Paths
	// AuthorizedKeysFragment selects ~/.ssh/authorized_keys.d/flint (true,
	// the default) or the plain ~/.ssh/authorized_keys (Flatcar).
	AuthorizedKeysFragment bool
	// UserConfigProvided is recorded in the result file.
	UserConfigProvided bool
	// Version is flint's version, for the result file.
	Version string
	// FetchWorkers bounds concurrent remote fetches (0: a default).
	FetchWorkers int
}

// ProviderFile is a file a platform asks the files stage to write into the
// root (absolute path in the root, mode, contents).
type ProviderFile struct {
	Path string `json:"path"`
	Mode uint32 `json:"mode"`
	Data []byte `json:"data"`
}

// State is carried between stage invocations (written to the state file
// between processes, 0600). Key material stays in files with 0400/0600
// modes, never in the state itself.
type State struct {
	// LuksKeyFiles maps a LUKS volume name to the path of its key file
	// (under the run directory), for the files stage to persist into
	// /etc/luks/<name> and /etc/crypttab.
	LuksKeyFiles map[string]string `json:"luksKeyFiles,omitempty"`
	// LuksUUIDs maps a LUKS volume name to its LUKS UUID.
	LuksUUIDs map[string]string `json:"luksUUIDs,omitempty"`
	// LuksNetwork lists LUKS volumes whose unlocking needs the network
	// (tang pins, custom pins with needsNetwork): crypttab gets _netdev.
	LuksNetwork map[string]bool `json:"luksNetwork,omitempty"`
	// LuksClevis lists LUKS volumes bound with clevis (no key file persisted).
	LuksClevis map[string]bool `json:"luksClevis,omitempty"`
	// NotatedDirectories are directories the mount stage created.
	NotatedDirectories []string `json:"notatedDirectories,omitempty"`

	// FetchedConfigs lists the configs acquisition used (sources redacted).
	FetchedConfigs []FetchedConfig `json:"fetchedConfigs,omitempty"`
	// ProviderFiles are files the platform handed over with the config
	// (hyperv: the KVP pool files), for the files stage to write. They may
	// hold the config itself, like the config cache.
	ProviderFiles []ProviderFile `json:"providerFiles,omitempty"`
	// Stages records every stage run so far, in order, for the result file.
	Stages []StageRecord `json:"stages,omitempty"`
}
