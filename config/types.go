package config

// The type tree of the newest spec (3.7.0-experimental). It is the only copy
// of the spec's shape in flint: older versions are described by the `since`
// tags below and the rules in versions.go.
//
// Tags:
//   json:"name"        the JSON key
//   since:"3.x.0"      first version that has the key; in an older config the
//                      key is an "Unused key" warning and is ignored
//   secret:"…"         the value is secret; Redacted (redact.go), the one
//                      redaction path for logs, reports and summaries, acts
//                      on these tags alone:
//                        "true"    the whole value is replaced by a marker
//                        "url"     a URL: userinfo, query and fragment are
//                                  dropped, a data: URL keeps its media type
//                        "key"     a resource whose body is secret (a key):
//                                  its "digest" fields are replaced too
//                        "digest"  a hash of the resource's body: replaced
//                                  when the body is secret ("key", or a data:
//                                  URL, whose body is in the config itself)
//                      Every string field is either tagged or listed as
//                      public, with the reason, in redact_test.go.
//
// Optional scalars are pointers so that merging can tell "unset" from a zero
// value, exactly as the reference does.

type Config struct {
	Ignition        Ignition        `json:"ignition"`
	KernelArguments KernelArguments `json:"kernelArguments,omitempty" since:"3.3.0"`
	Passwd          Passwd          `json:"passwd,omitempty"`
	Storage         Storage         `json:"storage,omitempty"`
	Systemd         Systemd         `json:"systemd,omitempty"`
}

type Ignition struct {
	Config   IgnitionConfig `json:"config,omitempty"`
	Proxy    Proxy          `json:"proxy,omitempty" since:"3.1.0"`
	Security Security       `json:"security,omitempty"`
	Timeouts Timeouts       `json:"timeouts,omitempty"`
	Version  string         `json:"version,omitempty"`
}

type IgnitionConfig struct {
	Merge   []Resource `json:"merge,omitempty"`
	Replace Resource   `json:"replace,omitempty"`
}

type Proxy struct {
	HTTPProxy  *string       `json:"httpProxy,omitempty" secret:"url"`
	HTTPSProxy *string       `json:"httpsProxy,omitempty" secret:"url"`
	NoProxy    []NoProxyItem `json:"noProxy,omitempty"`
}

type NoProxyItem string

type Security struct {
	TLS TLS `json:"tls,omitempty"`
}

type TLS struct {
	CertificateAuthorities []Resource `json:"certificateAuthorities,omitempty"`
}

type Timeouts struct {
	HTTPResponseHeaders *int `json:"httpResponseHeaders,omitempty"`
	HTTPTotal           *int `json:"httpTotal,omitempty"`
}

// Resource is the fetchable object shared by config references, CAs, file
// contents, appends and LUKS key files.
type Resource struct {
	Compression  *string      `json:"compression,omitempty"`
	HTTPHeaders  HTTPHeaders  `json:"httpHeaders,omitempty" since:"3.1.0"`
	Source       *string      `json:"source,omitempty" secret:"url"`
	Verification Verification `json:"verification,omitempty"`
}

type HTTPHeaders []HTTPHeader

type HTTPHeader struct {
	Name  string  `json:"name"`
	Value *string `json:"value,omitempty" secret:"true"`
}

type Verification struct {
	Hash *string `json:"hash,omitempty" secret:"digest"`
}

type KernelArguments struct {
	ShouldExist    []KernelArgument `json:"shouldExist,omitempty"`
	ShouldNotExist []KernelArgument `json:"shouldNotExist,omitempty"`
}

type KernelArgument string

type Passwd struct {
	Groups []PasswdGroup `json:"groups,omitempty"`
	Users  []PasswdUser  `json:"users,omitempty"`
}

type PasswdGroup struct {
	Gid          *int    `json:"gid,omitempty"`
	Name         string  `json:"name"`
	PasswordHash *string `json:"passwordHash,omitempty" secret:"true"`
	ShouldExist  *bool   `json:"shouldExist,omitempty" since:"3.2.0"`
	System       *bool   `json:"system,omitempty"`
}

type PasswdUser struct {
	Gecos             *string            `json:"gecos,omitempty"`
	Groups            []Group            `json:"groups,omitempty"`
	HomeDir           *string            `json:"homeDir,omitempty"`
	Name              string             `json:"name"`
	NoCreateHome      *bool              `json:"noCreateHome,omitempty"`
	NoLogInit         *bool              `json:"noLogInit,omitempty"`
	NoUserGroup       *bool              `json:"noUserGroup,omitempty"`
	PasswordHash      *string            `json:"passwordHash,omitempty" secret:"true"`
	PrimaryGroup      *string            `json:"primaryGroup,omitempty"`
	SSHAuthorizedKeys []SSHAuthorizedKey `json:"sshAuthorizedKeys,omitempty"`
	Shell             *string            `json:"shell,omitempty"`
	ShouldExist       *bool              `json:"shouldExist,omitempty" since:"3.2.0"`
	System            *bool              `json:"system,omitempty"`
	UID               *int               `json:"uid,omitempty"`
}

type Group string

type SSHAuthorizedKey string

type Storage struct {
	Directories []Directory  `json:"directories,omitempty"`
	Disks       []Disk       `json:"disks,omitempty"`
	Files       []File       `json:"files,omitempty"`
	Filesystems []Filesystem `json:"filesystems,omitempty"`
	Links       []Link       `json:"links,omitempty"`
	Luks        []Luks       `json:"luks,omitempty" since:"3.2.0"`
	Raid        []Raid       `json:"raid,omitempty"`
}

type Disk struct {
	Device     string      `json:"device"`
	Partitions []Partition `json:"partitions,omitempty"`
	WipeTable  *bool       `json:"wipeTable,omitempty"`
}

type Partition struct {
	GUID               *string `json:"guid,omitempty"`
	Label              *string `json:"label,omitempty"`
	Number             int     `json:"number,omitempty"`
	Resize             *bool   `json:"resize,omitempty" since:"3.2.0"`
	ShouldExist        *bool   `json:"shouldExist,omitempty"`
	SizeMiB            *int    `json:"sizeMiB,omitempty"`
	StartMiB           *int    `json:"startMiB,omitempty"`
	TypeGUID           *string `json:"typeGuid,omitempty"`
	WipePartitionEntry *bool   `json:"wipePartitionEntry,omitempty"`
}

type Raid struct {
	Devices []Device     `json:"devices,omitempty"`
	Level   *string      `json:"level,omitempty"`
	Name    string       `json:"name"`
	Options []RaidOption `json:"options,omitempty"`
	Spares  *int         `json:"spares,omitempty"`
}

type Device string

type RaidOption string

type Filesystem struct {
	Device         string             `json:"device"`
	Format         *string            `json:"format,omitempty"`
	Label          *string            `json:"label,omitempty"`
	MountOptions   []MountOption      `json:"mountOptions,omitempty" since:"3.1.0"`
	Options        []FilesystemOption `json:"options,omitempty"`
	Path           *string            `json:"path,omitempty"`
	UUID           *string            `json:"uuid,omitempty"`
	WipeFilesystem *bool              `json:"wipeFilesystem,omitempty"`
}

type MountOption string

type FilesystemOption string

// Node is the part shared by files, directories and links. It is embedded;
// its keys appear directly in the entry's JSON object.
type Node struct {
	Group     NodeGroup `json:"group,omitempty"`
	Overwrite *bool     `json:"overwrite,omitempty"`
	Path      string    `json:"path"`
	User      NodeUser  `json:"user,omitempty"`
}

type NodeGroup struct {
	ID   *int    `json:"id,omitempty"`
	Name *string `json:"name,omitempty"`
}

type NodeUser struct {
	ID   *int    `json:"id,omitempty"`
	Name *string `json:"name,omitempty"`
}

type File struct {
	Node
	FileEmbedded1
}

type FileEmbedded1 struct {
	Append   []Resource `json:"append,omitempty"`
	Contents Resource   `json:"contents,omitempty"`
	Mode     *int       `json:"mode,omitempty"`
}

type Directory struct {
	Node
	DirectoryEmbedded1
}

type DirectoryEmbedded1 struct {
	Mode *int `json:"mode,omitempty"`
}

type Link struct {
	Node
	LinkEmbedded1
}

type LinkEmbedded1 struct {
	Hard   *bool   `json:"hard,omitempty"`
	Target *string `json:"target,omitempty"`
}

type Luks struct {
	Cex         Cex          `json:"cex,omitempty" since:"3.5.0"`
	Clevis      Clevis       `json:"clevis,omitempty"`
	Device      *string      `json:"device,omitempty"`
	Discard     *bool        `json:"discard,omitempty" since:"3.4.0"`
	KeyFile     Resource     `json:"keyFile,omitempty" secret:"key"`
	Label       *string      `json:"label,omitempty"`
	Name        string       `json:"name"`
	OpenOptions []OpenOption `json:"openOptions,omitempty" since:"3.4.0"`
	Options     []LuksOption `json:"options,omitempty"`
	UUID        *string      `json:"uuid,omitempty"`
	WipeVolume  *bool        `json:"wipeVolume,omitempty"`
}

type OpenOption string

type LuksOption string

type Cex struct {
	Enabled *bool `json:"enabled,omitempty"`
}

type Clevis struct {
	Custom    ClevisCustom `json:"custom,omitempty"`
	Tang      []Tang       `json:"tang,omitempty"`
	Threshold *int         `json:"threshold,omitempty"`
	Tpm2      *bool        `json:"tpm2,omitempty"`
}

type ClevisCustom struct {
	Config       *string `json:"config,omitempty" secret:"true"`
	NeedsNetwork *bool   `json:"needsNetwork,omitempty"`
	Pin          *string `json:"pin,omitempty"`
}

type Tang struct {
	Advertisement *string `json:"advertisement,omitempty" since:"3.4.0"`
	Thumbprint    *string `json:"thumbprint,omitempty"`
	URL           string  `json:"url,omitempty" secret:"url"`
}

type Systemd struct {
	Units []Unit `json:"units,omitempty"`
}

type Unit struct {
	Contents *string  `json:"contents,omitempty" secret:"true"`
	Dropins  []Dropin `json:"dropins,omitempty"`
	Enabled  *bool    `json:"enabled,omitempty"`
	Mask     *bool    `json:"mask,omitempty"`
	Name     string   `json:"name"`
}

type Dropin struct {
	Contents *string `json:"contents,omitempty" secret:"true"`
	Name     string  `json:"name"`
}
