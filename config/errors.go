package config

import (
	"errors"
	"fmt"
)

// The error catalogue. Texts are the ones users of ignition-validate know,
// so that tools reading them keep working.
var (
	// general
	ErrInvalid          = errors.New("config is not valid")
	ErrEmpty            = errors.New("not a config (empty)")
	ErrDuplicate        = errors.New("duplicate entry defined")
	ErrInvalidVersion   = errors.New("invalid config version (couldn't parse)")
	ErrUnknownVersion   = errors.New("unsupported config version")
	ErrCompressionInval = errors.New("invalid compression method")
	ErrMergeInvalid     = errors.New("merging configs resulted in an invalid config")

	// urls, resources, headers, hashes
	ErrInvalidScheme                   = errors.New("invalid url scheme")
	ErrInvalidURL                      = errors.New("unable to parse url")
	ErrInvalidS3ARN                    = errors.New("invalid S3 ARN format")
	ErrInvalidS3VersionID              = errors.New("invalid S3 object VersionId")
	ErrSourceRequired                  = errors.New("source is required")
	ErrVerificationAndNilSource        = errors.New("source must be specified if verification is specified")
	ErrEmptyHTTPHeaderName             = errors.New("HTTP header name can't be empty")
	ErrInvalidHTTPHeader               = errors.New("unable to parse HTTP header")
	ErrUnsupportedSchemeForHTTPHeaders = errors.New("cannot use HTTP headers with this source scheme")
	ErrHashMalformed                   = errors.New("malformed hash specifier")
	ErrHashUnrecognized                = errors.New("unrecognized hash function")
	ErrHashWrongSize                   = errors.New("incorrect size for hash sum")
	ErrInvalidProxy                    = errors.New("proxies must be http(s)")
	ErrInsecureProxy                   = errors.New("insecure plaintext HTTP proxy specified for HTTPS resources")

	// paths, nodes, files
	ErrNoPath                   = errors.New("path not specified")
	ErrPathRelative             = errors.New("path not absolute")
	ErrDirtyPath                = errors.New("path is not fully simplified")
	ErrFileIllegalMode          = errors.New("illegal file mode")
	ErrModeSpecialBits          = errors.New("setuid/setgid/sticky bits are not supported or functional in spec versions older than 3.6.0")
	ErrOverwriteAndNilSource    = errors.New("overwrite must be false if source is unspecified")
	ErrBothIDAndNameSet         = errors.New("cannot set both id and name")
	ErrFileUsedSymlink          = errors.New("file path includes link in config")
	ErrDirectoryUsedSymlink     = errors.New("directory path includes link in config")
	ErrLinkUsedSymlink          = errors.New("link path includes link in config")
	ErrLinkTargetRequired       = errors.New("link target is required")
	ErrHardLinkToDirectory      = errors.New("hard link target is a directory")
	ErrHardLinkSpecifiesOwner   = errors.New("user/group ignored for hard link")
	ErrPathConflictsSystemd     = errors.New("path conflicts with systemd unit or dropin")
	ErrPartitionsOverwritten    = errors.New("filesystem overwrites partitioned device")
	ErrFilesystemImplicitWipe   = errors.New("device matches disk with wipeTable enabled; filesystem will be wiped")
	ErrDiskDeviceRequired       = errors.New("disk device is required")
	ErrPartitionNumbersCollide  = errors.New("partition numbers collide")
	ErrPartitionsOverlap        = errors.New("partitions overlap")
	ErrDuplicateLabels          = errors.New("cannot use the same partition label twice")
	ErrNeedLabelOrNumber        = errors.New("a partition number >= 1 or a label must be specified")
	ErrShouldNotExistWithOthers = errors.New("shouldExist specified false with other options also specified")
	ErrLabelTooLong             = errors.New("partition labels may not exceed 36 characters")
	ErrLabelContainsColon       = errors.New("partition label will be truncated to text before the colon")
	ErrDoesntMatchGUIDRegex     = errors.New(`doesn't match the form "01234567-89AB-CDEF-EDCB-A98765432101"`)

	// filesystems
	ErrFilesystemInvalidFormat = errors.New("invalid filesystem format")
	ErrLabelNeedsFormat        = errors.New("filesystem must specify format if label is specified")
	ErrFormatNilWithOthers     = errors.New("format cannot be empty when path, label, uuid, wipeFilesystem, options, or mountOptions is specified")
	ErrNoDevice                = errors.New("device not specified")
	ErrVirtiofsLabel           = errors.New("filesystem labels cannot be set when using virtiofs")
	ErrVirtiofsTagTooLong      = errors.New("virtiofs device tag cannot be longer than 36 bytes")
	ErrVirtiofsUUID            = errors.New("filesystem uuid cannot be set for non-block-device filesystems")
	ErrVirtiofsWipe            = errors.New("wipeFilesystem cannot be set for non-block-device filesystems")
	ErrVirtiofsOptions         = errors.New("filesystem options (mkfs) cannot be set for non-block-device filesystems")

	// raid
	ErrRaidLevelRequired         = errors.New("raid level is required")
	ErrUnrecognizedRaidLevel     = errors.New("unrecognized raid level")
	ErrRaidDevicesRequired       = errors.New("raid devices required")
	ErrSparesUnsupportedForLevel = errors.New("spares unsupported for linear and raid0 arrays")

	// luks, clevis, cex
	ErrLuksNameContainsSlash  = errors.New("device names cannot contain slashes")
	ErrLuksLabelTooLong       = errors.New("luks device labels cannot be longer than 47 characters")
	ErrInvalidLuksKeyFile     = errors.New("invalid key-file source")
	ErrClevisPinRequired      = errors.New("missing required custom clevis pin")
	ErrClevisConfigRequired   = errors.New("missing required custom clevis config")
	ErrUnknownClevisPin       = errors.New("unsupported clevis pin")
	ErrClevisCustomWithOthers = errors.New("cannot use custom clevis config with tpm2, tang, or threshold")
	ErrTangThumbprintRequired = errors.New("thumbprint is required")
	ErrInvalidTangAdv         = errors.New("advertisement is not valid JSON")
	ErrCexWithClevis          = errors.New("cannot use cex with clevis")
	ErrCexWithKeyFile         = errors.New("cannot use key file with cex")

	// systemd
	ErrInvalidSystemdExt = errors.New("invalid systemd unit extension")
	ErrInvalidDropinExt  = errors.New("invalid systemd drop-in extension")
)

// flint's own rules: what flint refuses although ignition-validate accepts
// it, because applying it can never work (or would write where it must
// not). Each is a deliberate difference from the reference, listed in
// docs/validation.md. Apply refuses only for reasons about the machine.
var (
	// general
	ErrNULByte = errors.New("contains a NUL byte")

	// ids, accounts
	ErrIDRange             = errors.New("id must be between 0 and 4294967294")
	ErrUserNameEmpty       = errors.New("user name is empty")
	ErrGroupNameEmpty      = errors.New("group name is empty")
	ErrInvalidUserName     = errors.New("invalid user name: use at most 32 characters from A-Z a-z 0-9 . _ - (not first), an optional final $, not only digits, not . or ..")
	ErrInvalidGroupName    = errors.New("invalid group name: use at most 32 characters from A-Z a-z 0-9 . _ - (not first), an optional final $, not only digits, not . or ..")
	ErrInvalidGroupRef     = errors.New("invalid group: a group name or a numeric id, without ',', ':', blanks or control characters")
	ErrInvalidOwnerName    = errors.New("no account can have this name: it contains ':', a line break or a control character")
	ErrInvalidPasswordHash = errors.New("password hash contains ':' or a control character (line break, NUL)")
	ErrInvalidPasswdField  = errors.New("contains ':' or a control character, which the passwd file cannot hold")
	ErrHomeDirRelative     = errors.New("home directory must be an absolute path")
	ErrShellInvalid        = errors.New("shell must be an absolute path (or start with '*')")
	ErrSSHKeyLineBreak     = errors.New("SSH key entry contains a line break or a NUL byte inside it (one key per entry)")

	// paths
	ErrPathComponentTooLong = errors.New("path component longer than 255 bytes")
	ErrPathTooLong          = errors.New("path longer than 4095 bytes")
	ErrPathIsRoot           = errors.New("cannot replace the root directory")
	ErrPathUnderFile        = errors.New("path is below a file in config")
	ErrLinkTargetTooLong    = errors.New("link target longer than 4095 bytes")

	// urls, headers, timeouts
	ErrURLNoHost              = errors.New("url has no host")
	ErrURLBadPort             = errors.New("url port must be between 1 and 65535")
	ErrInvalidHTTPHeaderName  = errors.New("HTTP header name is not a valid token")
	ErrInvalidHTTPHeaderValue = errors.New("HTTP header value contains a control character (line break, NUL)")
	ErrTimeoutRange           = errors.New("timeout must be between 0 and 9223372036 seconds")

	// systemd
	ErrInvalidUnitName   = errors.New("invalid unit name: systemd accepts at most 255 bytes from A-Z a-z 0-9 : _ . \\ - and '@' (not first) before the type suffix")
	ErrInvalidDropinName = errors.New("invalid drop-in name: a plain file name of at most 255 bytes, no '/', no control characters, not hidden")
)

func errLabelTooLong(format string, n int) error {
	return fmt.Errorf("filesystem labels cannot be longer than %d characters when using %s", n, format)
}

func errNoInstallSection(unit string) error {
	return fmt.Errorf("unit %q is enabled, but has no install section so enable does nothing", unit)
}
