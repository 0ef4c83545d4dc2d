package config

import (
	"github.com/coreos/go-semver/semver"
)

// VersionInfo is one row of the version table: what a spec version accepts
// beyond the field set (fields carry their own `since` tags in types.go).
type VersionInfo struct {
	Version      semver.Version
	Experimental bool
	// URL schemes a resource source may use.
	Schemes map[string]bool
	// Hash functions accepted in verification.hash.
	Hashes map[string]bool
	// Filesystem formats accepted in storage.filesystems[].format.
	Formats map[string]bool
	// Custom clevis pins are restricted to tpm2/tang/sss (3.2–3.5).
	RestrictedClevisPins bool
	// setuid/setgid/sticky bits in modes are honoured (3.6+); older
	// versions warn and mask them.
	SpecialModeBits bool
	// Resource.compression exists outside file contents/appends (3.1+).
	CompressionEverywhere bool
	// Config references and CAs are full resources whose source is
	// required (3.1+); in 3.0 they are plain references checked only for
	// a valid URL.
	RequiredSources bool
	// Link targets are validated as required (3.3+, when the reference
	// made the target an optional pointer).
	LinkTargetRequired bool
	// clevis.custom is an optional object whose mere presence counts (3.2:
	// the reference's *Custom with plain string pin/config); from 3.3 on
	// custom is present when pin or config is non-empty or needsNetwork
	// is true.
	ClevisCustomPointer bool
	// Added documents what the version added, for `flint schema` and docs.
	Added string
}

func set(items ...string) map[string]bool {
	m := make(map[string]bool, len(items))
	for _, i := range items {
		m[i] = true
	}
	return m
}

func with(base map[string]bool, items ...string) map[string]bool {
	m := make(map[string]bool, len(base)+len(items))
	for k := range base {
		m[k] = true
	}
	for _, i := range items {
		m[i] = true
	}
	return m
}

var (
	// coreos/ignition config/v3_*/types/url.go: 3.0 and 3.1 accept http,
	// https, tftp, s3 and data; 3.2 adds gs; 3.4 adds arn. (oem:// and
	// file:// exist only in Flatcar's patch set and an unmerged upstream
	// pull request; ignition-validate rejects them, so flint does too.)
	schemes30 = set("http", "https", "tftp", "s3", "data")
	schemes32 = with(schemes30, "gs")
	schemes34 = with(schemes32, "arn")

	formats30 = set("ext4", "btrfs", "xfs", "vfat", "swap")
	formats33 = with(formats30, "none")
	formats37 = with(formats33, "virtiofs")
)

// Versions is the table of every supported spec version, oldest first. The
// last row is the newest; Config is its shape.
var Versions = []VersionInfo{
	{Version: *semver.New("3.0.0"), Schemes: schemes30, Hashes: set("sha512"), Formats: formats30,
		Added: "base v3 spec"},
	{Version: *semver.New("3.1.0"), Schemes: schemes30, Hashes: set("sha512", "sha256"), Formats: formats30, CompressionEverywhere: true, RequiredSources: true,
		Added: "httpHeaders, compression on every resource, ignition.proxy, filesystems[].mountOptions, sha256"},
	{Version: *semver.New("3.2.0"), Schemes: schemes32, Hashes: set("sha512", "sha256"), Formats: formats30, CompressionEverywhere: true, RequiredSources: true, RestrictedClevisPins: true, ClevisCustomPointer: true,
		Added: "storage.luks, partitions[].resize, users/groups shouldExist, gs:// URLs"},
	{Version: *semver.New("3.3.0"), Schemes: schemes32, Hashes: set("sha512", "sha256"), Formats: formats33, CompressionEverywhere: true, RequiredSources: true, LinkTargetRequired: true, RestrictedClevisPins: true,
		Added: "kernelArguments, filesystem format none"},
	{Version: *semver.New("3.4.0"), Schemes: schemes34, Hashes: set("sha512", "sha256"), Formats: formats33, CompressionEverywhere: true, RequiredSources: true, LinkTargetRequired: true, RestrictedClevisPins: true,
		Added: "tang advertisement, luks discard and openOptions, arn: URLs"},
	{Version: *semver.New("3.5.0"), Schemes: schemes34, Hashes: set("sha512", "sha256"), Formats: formats33, CompressionEverywhere: true, RequiredSources: true, LinkTargetRequired: true, RestrictedClevisPins: true,
		Added: "luks cex"},
	{Version: *semver.New("3.6.0"), Schemes: schemes34, Hashes: set("sha512", "sha256"), Formats: formats33, CompressionEverywhere: true, RequiredSources: true, LinkTargetRequired: true, SpecialModeBits: true,
		Added: "setuid/setgid/sticky mode bits honoured; any custom clevis pin"},
	{Version: *semver.New("3.7.0-experimental"), Experimental: true, Schemes: schemes34, Hashes: set("sha512", "sha256"), Formats: formats37, CompressionEverywhere: true, RequiredSources: true, LinkTargetRequired: true, SpecialModeBits: true,
		Added: "filesystem format virtiofs"},
}

// MaxStable is the newest stable version; MaxVersion the newest accepted.
var (
	MaxStable  = Versions[len(Versions)-2].Version
	MaxVersion = Versions[len(Versions)-1].Version
)

// versionIndex returns the row of an exactly supported version, or -1.
func versionIndex(v semver.Version) int {
	for i, r := range Versions {
		if r.Version == v {
			return i
		}
	}
	return -1
}

// LookupVersion returns the row for an exact version string ("3.4.0").
func LookupVersion(s string) (VersionInfo, error) {
	v, err := semver.NewVersion(s)
	if err != nil {
		return VersionInfo{}, ErrInvalidVersion
	}
	i := versionIndex(*v)
	if i < 0 {
		return VersionInfo{}, ErrUnknownVersion
	}
	return Versions[i], nil
}
