package config

import (
	"errors"
	"fmt"
)

// The part of the error catalogue that only the spec 1 and 2.x rules
// (config/legacy) use: Flatcar's texts, where no 3.x error has the same one.
var (
	// parsing
	ErrCloudConfig = errors.New("not a config (found coreos-cloudconfig)")
	ErrScript      = errors.New("not a config (found coreos-cloudinit script)")
	ErrDeprecated  = errors.New("config format deprecated")

	// 2.x rules
	ErrDuplicateHTTPHeaders     = errors.New("all header names in the list must be unique")
	ErrPermissionsUnset         = errors.New("permissions unset, defaulting to 0000")
	ErrPartitionsMisaligned     = errors.New("partitions misaligned")
	ErrAppendAndOverwrite       = errors.New("cannot set both append and overwrite to true")
	ErrFilesystemNoMountPath    = errors.New("filesystem is missing mount or path")
	ErrFilesystemMountAndPath   = errors.New("filesystem has both mount and path defined")
	ErrUsedCreateAndMountOpts   = errors.New("cannot use both create object and mount-level options field")
	ErrUsedCreateAndWipe        = errors.New("cannot use both create object and wipeFilesystem field")
	ErrWarningCreateDeprecated  = errors.New("the create object has been deprecated in favor of mount-level options")
	ErrNoFilesystem             = errors.New("no filesystem specified")
	ErrSparesUnsupported2       = errors.New("spares unsupported for arrays with a level greater than 0")
	ErrPartitionsUnitsMismatch  = errors.New("cannot mix MBs and sectors within a disk")
	ErrSizeDeprecated           = errors.New("size is deprecated; use sizeMB instead")
	ErrStartDeprecated          = errors.New("start is deprecated; use startMB instead")
	ErrPasswdCreateDeprecated   = errors.New("the create object has been deprecated in favor of user-level options")
	ErrInvalidNetworkdExt       = errors.New("invalid networkd unit extension")
	ErrInvalidNetworkdDropinExt = errors.New("invalid networkd drop-in extension")
)

// ErrPasswdCreateAndUserLevel: a 2.x user sets both the deprecated create
// object and a user-level field.
func ErrPasswdCreateAndUserLevel(field string) error {
	return fmt.Errorf("cannot use both the create object and the user-level %s field", field)
}
