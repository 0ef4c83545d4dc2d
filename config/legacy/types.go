// Package legacy reads the spec 1 and spec 2.x Ignition configs that Flatcar
// still boots, validates them under their own rules and translates them to
// flint's 3.x model the way Flatcar does.
package legacy

import "github.com/flintboot/flint/config"

// The 2.x type tree, written once in the newest (2.4.0) shape. A key whose
// `since` tag is newer than the config's declared version is reported as an
// unrecognized key and ignored, exactly as the older parsers did (they had no
// such field).
//
// Scalars are values, not pointers, where the 2.x spec had them so: 2.x had
// no "unset" for them and the translation relies on the zero value.

// Config is a 2.x config.
type Config struct {
	Ignition Ignition `json:"ignition"`
	Networkd Networkd `json:"networkd,omitempty"`
	Passwd   Passwd   `json:"passwd,omitempty"`
	Storage  Storage  `json:"storage,omitempty"`
	Systemd  Systemd  `json:"systemd,omitempty"`
}

type Ignition struct {
	Config   IgnitionConfig  `json:"config,omitempty"`
	Proxy    Proxy           `json:"proxy,omitempty" since:"2.4.0"`
	Security Security        `json:"security,omitempty" since:"2.2.0"`
	Timeouts config.Timeouts `json:"timeouts,omitempty" since:"2.1.0"`
	Version  string          `json:"version,omitempty"`
}

type IgnitionConfig struct {
	Append  []ConfigReference `json:"append,omitempty"`
	Replace *ConfigReference  `json:"replace,omitempty"`
}

type ConfigReference struct {
	HTTPHeaders  []HTTPHeader        `json:"httpHeaders,omitempty" since:"2.4.0"`
	Source       string              `json:"source"`
	Verification config.Verification `json:"verification,omitempty"`
}

type CaReference struct {
	HTTPHeaders  []HTTPHeader        `json:"httpHeaders,omitempty" since:"2.4.0"`
	Source       string              `json:"source"`
	Verification config.Verification `json:"verification,omitempty"`
}

type HTTPHeader struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type Proxy struct {
	HTTPProxy  string               `json:"httpProxy,omitempty"`
	HTTPSProxy string               `json:"httpsProxy,omitempty"`
	NoProxy    []config.NoProxyItem `json:"noProxy,omitempty"`
}

type Security struct {
	TLS TLS `json:"tls,omitempty"`
}

type TLS struct {
	CertificateAuthorities []CaReference `json:"certificateAuthorities,omitempty"`
}

type Networkd struct {
	Units []Networkdunit `json:"units,omitempty"`
}

type Networkdunit struct {
	Contents string           `json:"contents,omitempty"`
	Dropins  []NetworkdDropin `json:"dropins,omitempty" since:"2.2.0"`
	Name     string           `json:"name"`
}

type NetworkdDropin struct {
	Contents string `json:"contents,omitempty"`
	Name     string `json:"name"`
}

type Passwd struct {
	Groups []PasswdGroup `json:"groups,omitempty"`
	Users  []PasswdUser  `json:"users,omitempty"`
}

type PasswdGroup struct {
	Gid          *int   `json:"gid,omitempty"`
	Name         string `json:"name"`
	PasswordHash string `json:"passwordHash,omitempty"`
	System       bool   `json:"system,omitempty"`
}

type PasswdUser struct {
	Create            *Usercreate               `json:"create,omitempty"`
	Gecos             string                    `json:"gecos,omitempty" since:"2.1.0"`
	Groups            []config.Group            `json:"groups,omitempty" since:"2.1.0"`
	HomeDir           string                    `json:"homeDir,omitempty" since:"2.1.0"`
	Name              string                    `json:"name"`
	NoCreateHome      bool                      `json:"noCreateHome,omitempty" since:"2.1.0"`
	NoLogInit         bool                      `json:"noLogInit,omitempty" since:"2.1.0"`
	NoUserGroup       bool                      `json:"noUserGroup,omitempty" since:"2.1.0"`
	PasswordHash      *string                   `json:"passwordHash,omitempty"`
	PrimaryGroup      string                    `json:"primaryGroup,omitempty" since:"2.1.0"`
	SSHAuthorizedKeys []config.SSHAuthorizedKey `json:"sshAuthorizedKeys,omitempty"`
	Shell             string                    `json:"shell,omitempty" since:"2.1.0"`
	System            bool                      `json:"system,omitempty" since:"2.1.0"`
	UID               *int                      `json:"uid,omitempty" since:"2.1.0"`
}

type Usercreate struct {
	Gecos        string            `json:"gecos,omitempty"`
	Groups       []UsercreateGroup `json:"groups,omitempty"`
	HomeDir      string            `json:"homeDir,omitempty"`
	NoCreateHome bool              `json:"noCreateHome,omitempty"`
	NoLogInit    bool              `json:"noLogInit,omitempty"`
	NoUserGroup  bool              `json:"noUserGroup,omitempty"`
	PrimaryGroup string            `json:"primaryGroup,omitempty"`
	Shell        string            `json:"shell,omitempty"`
	System       bool              `json:"system,omitempty"`
	UID          *int              `json:"uid,omitempty"`
}

type UsercreateGroup string

type Storage struct {
	Directories []Directory  `json:"directories,omitempty" since:"2.1.0"`
	Disks       []Disk       `json:"disks,omitempty"`
	Files       []File       `json:"files,omitempty"`
	Filesystems []Filesystem `json:"filesystems,omitempty"`
	Links       []Link       `json:"links,omitempty" since:"2.1.0"`
	Raid        []Raid       `json:"raid,omitempty"`
}

type Disk struct {
	Device     string      `json:"device"`
	Partitions []Partition `json:"partitions,omitempty"`
	WipeTable  bool        `json:"wipeTable,omitempty"`
}

type Partition struct {
	GUID               string  `json:"guid,omitempty" since:"2.1.0"`
	Label              *string `json:"label,omitempty"`
	Number             int     `json:"number,omitempty"`
	ShouldExist        *bool   `json:"shouldExist,omitempty" since:"2.3.0"`
	Size               *int    `json:"size,omitempty"`
	SizeMiB            *int    `json:"sizeMiB,omitempty" since:"2.3.0"`
	Start              *int    `json:"start,omitempty"`
	StartMiB           *int    `json:"startMiB,omitempty" since:"2.3.0"`
	TypeGUID           string  `json:"typeGuid,omitempty"`
	WipePartitionEntry bool    `json:"wipePartitionEntry,omitempty" since:"2.3.0"`
}

type Raid struct {
	Devices []config.Device     `json:"devices"`
	Level   string              `json:"level"`
	Name    string              `json:"name"`
	Options []config.RaidOption `json:"options,omitempty" since:"2.3.0"`
	Spares  int                 `json:"spares,omitempty"`
}

type Filesystem struct {
	Mount *Mount  `json:"mount,omitempty"`
	Name  string  `json:"name,omitempty"`
	Path  *string `json:"path,omitempty"`
}

type Mount struct {
	Create         *Create              `json:"create,omitempty"`
	Device         string               `json:"device"`
	Format         string               `json:"format"`
	Label          *string              `json:"label,omitempty" since:"2.1.0"`
	Options        []config.MountOption `json:"options,omitempty" since:"2.1.0"`
	UUID           *string              `json:"uuid,omitempty" since:"2.1.0"`
	WipeFilesystem bool                 `json:"wipeFilesystem,omitempty" since:"2.1.0"`
}

type Create struct {
	Force   bool           `json:"force,omitempty"`
	Options []CreateOption `json:"options,omitempty"`
}

type CreateOption string

// Node is the part shared by files, directories and links.
type Node struct {
	Filesystem string     `json:"filesystem"`
	Group      *NodeGroup `json:"group,omitempty"`
	Overwrite  *bool      `json:"overwrite,omitempty" since:"2.2.0"`
	Path       string     `json:"path"`
	User       *NodeUser  `json:"user,omitempty"`
}

type NodeGroup struct {
	ID   *int   `json:"id,omitempty"`
	Name string `json:"name,omitempty" since:"2.1.0"`
}

type NodeUser struct {
	ID   *int   `json:"id,omitempty"`
	Name string `json:"name,omitempty" since:"2.1.0"`
}

// File, Directory and Link are a Node with their own keys (the 2.x types
// nest those in "Embedded1" structs; the JSON is the same).
type File struct {
	Node
	Append   bool         `json:"append,omitempty" since:"2.2.0"`
	Contents FileContents `json:"contents,omitempty"`
	Mode     *int         `json:"mode,omitempty"`
}

type FileContents struct {
	Compression  string              `json:"compression,omitempty"`
	HTTPHeaders  []HTTPHeader        `json:"httpHeaders,omitempty" since:"2.4.0"`
	Source       string              `json:"source,omitempty"`
	Verification config.Verification `json:"verification,omitempty"`
}

type Directory struct {
	Node
	Mode *int `json:"mode,omitempty"`
}

type Link struct {
	Node
	Hard   bool   `json:"hard,omitempty"`
	Target string `json:"target"`
}

type Systemd struct {
	Units []Unit `json:"units,omitempty"`
}

type Unit struct {
	Contents string          `json:"contents,omitempty"`
	Dropins  []SystemdDropin `json:"dropins,omitempty"`
	Enable   bool            `json:"enable,omitempty"`
	Enabled  *bool           `json:"enabled,omitempty" since:"2.1.0"`
	Mask     bool            `json:"mask,omitempty"`
	Name     string          `json:"name"`
}

type SystemdDropin struct {
	Contents string `json:"contents,omitempty"`
	Name     string `json:"name"`
}

// ---- spec 1 ---------------------------------------------------------------

// V1Config is a spec 1 config (`"ignitionVersion": 1`).
type V1Config struct {
	IgnitionVersion int        `json:"ignitionVersion"`
	Storage         V1Storage  `json:"storage,omitempty"`
	Systemd         V1Systemd  `json:"systemd,omitempty"`
	Networkd        V1Networkd `json:"networkd,omitempty"`
	Passwd          V1Passwd   `json:"passwd,omitempty"`
}

type V1Storage struct {
	Disks       []V1Disk       `json:"disks,omitempty"`
	Arrays      []V1Raid       `json:"raid,omitempty"`
	Filesystems []V1Filesystem `json:"filesystems,omitempty"`
}

type V1Disk struct {
	Device     string        `json:"device"`
	WipeTable  bool          `json:"wipeTable,omitempty"`
	Partitions []V1Partition `json:"partitions,omitempty"`
}

type V1Partition struct {
	Label    string `json:"label,omitempty"`
	Number   int    `json:"number"`
	Size     int    `json:"size"`
	Start    int    `json:"start"`
	TypeGUID string `json:"typeGuid,omitempty"`
}

type V1Raid struct {
	Name    string   `json:"name"`
	Level   string   `json:"level"`
	Devices []string `json:"devices,omitempty"`
	Spares  int      `json:"spares,omitempty"`
}

type V1Filesystem struct {
	Device string   `json:"device"`
	Format string   `json:"format"`
	Create *Create  `json:"create,omitempty"`
	Files  []V1File `json:"files,omitempty"`
}

type V1File struct {
	Path     string `json:"path"`
	Contents string `json:"contents,omitempty"`
	Mode     int    `json:"mode,omitempty"`
	UID      int    `json:"uid,omitempty"`
	GID      int    `json:"gid,omitempty"`
}

type V1Systemd struct {
	Units []V1Unit `json:"units,omitempty"`
}

type V1Unit struct {
	Name     string     `json:"name,omitempty"`
	Enable   bool       `json:"enable,omitempty"`
	Mask     bool       `json:"mask,omitempty"`
	Contents string     `json:"contents,omitempty"`
	DropIns  []V1Dropin `json:"dropins,omitempty"`
}

type V1Dropin struct {
	Name     string `json:"name,omitempty"`
	Contents string `json:"contents,omitempty"`
}

type V1Networkd struct {
	Units []V1NetworkdUnit `json:"units,omitempty"`
}

type V1NetworkdUnit struct {
	Name     string `json:"name,omitempty"`
	Contents string `json:"contents,omitempty"`
}

type V1Passwd struct {
	Users  []V1User  `json:"users,omitempty"`
	Groups []V1Group `json:"groups,omitempty"`
}

type V1User struct {
	Name              string        `json:"name,omitempty"`
	PasswordHash      string        `json:"passwordHash,omitempty"`
	SSHAuthorizedKeys []string      `json:"sshAuthorizedKeys,omitempty"`
	Create            *V1UserCreate `json:"create,omitempty"`
}

type V1UserCreate struct {
	UID          *int     `json:"uid,omitempty"`
	GECOS        string   `json:"gecos,omitempty"`
	Homedir      string   `json:"homeDir,omitempty"`
	NoCreateHome bool     `json:"noCreateHome,omitempty"`
	PrimaryGroup string   `json:"primaryGroup,omitempty"`
	Groups       []string `json:"groups,omitempty"`
	NoUserGroup  bool     `json:"noUserGroup,omitempty"`
	System       bool     `json:"system,omitempty"`
	NoLogInit    bool     `json:"noLogInit,omitempty"`
	Shell        string   `json:"shell,omitempty"`
}

type V1Group struct {
	Name         string `json:"name,omitempty"`
	Gid          *int   `json:"gid,omitempty"`
	PasswordHash string `json:"passwordHash,omitempty"`
	System       bool   `json:"system,omitempty"`
}
