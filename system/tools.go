// Package system is flint's host layer: the only place that runs external
// commands (see Runner), plus the building blocks the disks, mount and files
// stages use (device waits, udev settling, blkid probing, mounts, passwd and
// group lookups, shadow-utils wrappers, atomic writes and root-confined path
// resolution). It knows commands, not the config spec.
package system

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Logical tool names. A Cmd names one of these; Tools maps it to the binary
// that is actually executed.
const (
	ToolSgdisk         = "sgdisk"
	ToolPartx          = "partx"
	ToolMdadm          = "mdadm"
	ToolCryptsetup     = "cryptsetup"
	ToolClevis         = "clevis"
	ToolWipefs         = "wipefs"
	ToolBlkid          = "blkid"
	ToolMkfsExt4       = "mkfs.ext4"
	ToolMkfsXfs        = "mkfs.xfs"
	ToolMkfsBtrfs      = "mkfs.btrfs"
	ToolMkfsFat        = "mkfs.fat"
	ToolMkswap         = "mkswap"
	ToolMount          = "mount"
	ToolUmount         = "umount"
	ToolUdevadm        = "udevadm"
	ToolUseradd        = "useradd"
	ToolUsermod        = "usermod"
	ToolUserdel        = "userdel"
	ToolGroupadd       = "groupadd"
	ToolGroupmod       = "groupmod"
	ToolGroupdel       = "groupdel"
	ToolChpasswd       = "chpasswd"
	ToolChgpasswd      = "chgpasswd"
	ToolSystemctl      = "systemctl"
	ToolModprobe       = "modprobe"
	ToolSetfiles       = "setfiles"
	ToolKargsHelper    = "flint-kargs-helper"
	ToolDmsetup        = "dmsetup"
	ToolZkey           = "zkey"
	ToolZkeyCryptsetup = "zkey-cryptsetup"
	ToolChccwdev       = "chccwdev"
	ToolVmur           = "vmur"
	ToolCioIgnore      = "cio_ignore"
	ToolJournalctl     = "journalctl" // flint collect-logs
)

// Tools maps a logical tool name to the binary to execute: either a bare
// name (looked up in $PATH when the command runs) or an absolute path.
//
// Environment overrides (read by ToolsFromEnv; meant for tests and for
// distributions that install helpers in odd places). The variable name is
// FLINT_TOOL_ + the logical name upper-cased with every character that is not
// a letter or digit turned into "_":
//
//	logical name         variable                        default
//	sgdisk               FLINT_TOOL_SGDISK               sgdisk
//	partx                FLINT_TOOL_PARTX                partx
//	mdadm                FLINT_TOOL_MDADM                mdadm
//	cryptsetup           FLINT_TOOL_CRYPTSETUP           cryptsetup
//	clevis               FLINT_TOOL_CLEVIS               clevis
//	wipefs               FLINT_TOOL_WIPEFS               wipefs
//	blkid                FLINT_TOOL_BLKID                blkid
//	mkfs.ext4            FLINT_TOOL_MKFS_EXT4            mkfs.ext4
//	mkfs.xfs             FLINT_TOOL_MKFS_XFS             mkfs.xfs
//	mkfs.btrfs           FLINT_TOOL_MKFS_BTRFS           mkfs.btrfs
//	mkfs.fat             FLINT_TOOL_MKFS_FAT             mkfs.fat
//	mkswap               FLINT_TOOL_MKSWAP               mkswap
//	mount                FLINT_TOOL_MOUNT                mount
//	umount               FLINT_TOOL_UMOUNT               umount
//	udevadm              FLINT_TOOL_UDEVADM              udevadm
//	useradd              FLINT_TOOL_USERADD              useradd
//	usermod              FLINT_TOOL_USERMOD              usermod
//	userdel              FLINT_TOOL_USERDEL              userdel
//	groupadd             FLINT_TOOL_GROUPADD             groupadd
//	groupmod             FLINT_TOOL_GROUPMOD             groupmod
//	groupdel             FLINT_TOOL_GROUPDEL             groupdel
//	chpasswd             FLINT_TOOL_CHPASSWD             chpasswd
//	chgpasswd            FLINT_TOOL_CHGPASSWD            chgpasswd
//	systemctl            FLINT_TOOL_SYSTEMCTL            systemctl
//	modprobe             FLINT_TOOL_MODPROBE             modprobe
//	setfiles             FLINT_TOOL_SETFILES             setfiles
//	flint-kargs-helper   FLINT_TOOL_FLINT_KARGS_HELPER   flint-kargs-helper
//	dmsetup              FLINT_TOOL_DMSETUP              dmsetup
//	zkey                 FLINT_TOOL_ZKEY                 zkey
//	zkey-cryptsetup      FLINT_TOOL_ZKEY_CRYPTSETUP      zkey-cryptsetup
//	chccwdev             FLINT_TOOL_CHCCWDEV             chccwdev
//	vmur                 FLINT_TOOL_VMUR                 vmur
//	cio_ignore           FLINT_TOOL_CIO_IGNORE           cio_ignore
//
// A Cmd whose Name is not in the map is refused (ErrUnknownTool): every
// binary flint can run is listed here.
type Tools map[string]string

var defaultToolNames = []string{
	ToolSgdisk, ToolPartx, ToolMdadm, ToolCryptsetup, ToolClevis, ToolWipefs, ToolBlkid,
	ToolMkfsExt4, ToolMkfsXfs, ToolMkfsBtrfs, ToolMkfsFat, ToolMkswap, ToolMount, ToolUmount,
	ToolUdevadm, ToolUseradd, ToolUsermod, ToolUserdel, ToolGroupadd, ToolGroupmod, ToolGroupdel,
	ToolChpasswd, ToolChgpasswd, ToolSystemctl, ToolModprobe, ToolSetfiles, ToolKargsHelper,
	ToolDmsetup, ToolZkey, ToolZkeyCryptsetup, ToolChccwdev, ToolVmur, ToolCioIgnore, ToolJournalctl,
}

// DefaultTools returns the built-in table: every logical name maps to itself
// (resolved through $PATH at run time).
func DefaultTools() Tools {
	t := make(Tools, len(defaultToolNames))
	for _, n := range defaultToolNames {
		t[n] = n
	}
	return t
}

// ToolEnvVar returns the environment variable that overrides the binary for
// a logical tool name, e.g. "mkfs.ext4" → "FLINT_TOOL_MKFS_EXT4".
func ToolEnvVar(name string) string {
	var b strings.Builder
	b.WriteString("FLINT_TOOL_")
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z':
			b.WriteRune(r - 'a' + 'A')
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// ToolsFromEnv returns DefaultTools with every FLINT_TOOL_* override from
// the process environment applied (empty values are ignored).
func ToolsFromEnv() Tools { return toolsFromLookup(os.LookupEnv) }

func toolsFromLookup(lookup func(string) (string, bool)) Tools {
	t := DefaultTools()
	for _, n := range defaultToolNames {
		if v, ok := lookup(ToolEnvVar(n)); ok && v != "" {
			t[n] = v
		}
	}
	return t
}

// With returns a copy of t with name mapped to bin (tests use it to point a
// tool at a script).
func (t Tools) With(name, bin string) Tools {
	c := make(Tools, len(t)+1)
	for k, v := range t {
		c[k] = v
	}
	c[name] = bin
	return c
}

// Names lists the logical names in t, sorted.
func (t Tools) Names() []string {
	n := make([]string, 0, len(t))
	for k := range t {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// Paths are the on-disk locations flint uses, in one place.
//
//	field           variable                   default
//	RunDir          FLINT_RUN_DIR              /run/flint
//	LocalConfigDir  FLINT_LOCAL_CONFIG_DIR     /etc/flint
//	SystemConfigDir FLINT_SYSTEM_CONFIG_DIR    /usr/lib/flint
//	ResultFile      FLINT_RESULT_FILE          /etc/.flint-result.json (relative to the target root)
//	LuksKeyDir      FLINT_LUKS_KEY_DIR         /etc/luks (relative to the target root)
//	ZkeyRepository  FLINT_ZKEY_REPOSITORY      /etc/zkey/repository
//	MountInfo       FLINT_MOUNTINFO            /proc/self/mountinfo
//	SysClassBlock   FLINT_SYS_CLASS_BLOCK      /sys/class/block
//	IgnitionRunDir  IGNITION_SYSTEM_RUNTIME_CONFIG_DIR  /run/ignition   (alias of RunDir)
//	IgnitionLocalConfigDir  IGNITION_SYSTEM_LOCAL_CONFIG_DIR  /etc/ignition
//	IgnitionSystemConfigDir IGNITION_SYSTEM_CONFIG_DIR  /usr/lib/ignition
//	BootIDFile      FLINT_BOOT_ID_FILE         /proc/sys/kernel/random/boot_id
//	Cmdline         FLINT_KERNEL_CMDLINE_PATH  /proc/cmdline (also IGNITION_KERNEL_CMDLINE_PATH)
//
// Derived from RunDir (not separately overridable): ConfigCache
// (<RunDir>/config.json), StateFile (<RunDir>/state), NeedNetFlag
// (<RunDir>/neednet), DevAliasDir (<RunDir>/dev_aliases).
type Paths struct {
	RunDir          string
	LocalConfigDir  string
	SystemConfigDir string
	ResultFile      string
	LuksKeyDir      string
	ZkeyRepository  string
	MountInfo       string
	SysClassBlock   string
	BootIDFile      string
	Cmdline         string
	// Ignition's system config directories, read as aliases of flint's.
	IgnitionRunDir, IgnitionLocalConfigDir, IgnitionSystemConfigDir string
}

// DefaultPaths returns the built-in locations.
func DefaultPaths() Paths {
	return Paths{
		RunDir:          "/run/flint",
		LocalConfigDir:  "/etc/flint",
		SystemConfigDir: "/usr/lib/flint",
		ResultFile:      "/etc/.flint-result.json",
		LuksKeyDir:      "/etc/luks",
		ZkeyRepository:  "/etc/zkey/repository",
		MountInfo:       "/proc/self/mountinfo",
		SysClassBlock:   "/sys/class/block",
		BootIDFile:      "/proc/sys/kernel/random/boot_id",
		Cmdline:         "/proc/cmdline",

		IgnitionRunDir:          "/run/ignition",
		IgnitionLocalConfigDir:  "/etc/ignition",
		IgnitionSystemConfigDir: "/usr/lib/ignition",
	}
}

// PathsFromEnv returns DefaultPaths with the FLINT_* overrides applied.
func PathsFromEnv() Paths { return pathsFromLookup(os.LookupEnv) }

func pathsFromLookup(lookup func(string) (string, bool)) Paths {
	p := DefaultPaths()
	for _, o := range []struct {
		env string
		dst *string
	}{
		{"FLINT_RUN_DIR", &p.RunDir},
		{"FLINT_LOCAL_CONFIG_DIR", &p.LocalConfigDir},
		{"FLINT_SYSTEM_CONFIG_DIR", &p.SystemConfigDir},
		{"FLINT_RESULT_FILE", &p.ResultFile},
		{"FLINT_LUKS_KEY_DIR", &p.LuksKeyDir},
		{"FLINT_ZKEY_REPOSITORY", &p.ZkeyRepository},
		{"FLINT_MOUNTINFO", &p.MountInfo},
		{"FLINT_SYS_CLASS_BLOCK", &p.SysClassBlock},
		{"FLINT_BOOT_ID_FILE", &p.BootIDFile},
		{"IGNITION_KERNEL_CMDLINE_PATH", &p.Cmdline},
		{"FLINT_KERNEL_CMDLINE_PATH", &p.Cmdline},
		{"IGNITION_SYSTEM_RUNTIME_CONFIG_DIR", &p.IgnitionRunDir},
		{"IGNITION_SYSTEM_LOCAL_CONFIG_DIR", &p.IgnitionLocalConfigDir},
		{"IGNITION_SYSTEM_CONFIG_DIR", &p.IgnitionSystemConfigDir},
	} {
		if v, ok := lookup(o.env); ok && v != "" {
			*o.dst = v
		}
	}
	return p
}

// ConfigCache is where the effective config is cached (mode 0600).
func (p Paths) ConfigCache() string { return filepath.Join(p.RunDir, "config.json") }

// StateFile holds state passed between stage invocations.
func (p Paths) StateFile() string { return filepath.Join(p.RunDir, "state") }

// ConfigDirs returns the system config directories (user.ign, base.d,
// base.platform.d) in priority order: flint's run, local and system dirs,
// each followed by its Ignition alias (flint's wins at the same level).
func (p Paths) ConfigDirs() []string {
	return []string{p.RunDir, p.IgnitionRunDir, p.LocalConfigDir, p.IgnitionLocalConfigDir,
		p.SystemConfigDir, p.IgnitionSystemConfigDir}
}

// BootID returns the kernel's boot id, "unknown" when it cannot be read.
func (p Paths) BootID() string {
	b, err := os.ReadFile(p.BootIDFile)
	if err != nil || len(strings.TrimSpace(string(b))) == 0 {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

// NeedNetFlag is created by fetch-offline when networking is needed.
func (p Paths) NeedNetFlag() string { return filepath.Join(p.RunDir, "neednet") }

// DevAliasDir holds stable symlinks to resolved device nodes.
func (p Paths) DevAliasDir() string { return filepath.Join(p.RunDir, "dev_aliases") }
