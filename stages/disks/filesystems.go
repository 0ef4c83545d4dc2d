package disks

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"

	"github.com/flintboot/flint/config"
	"github.com/flintboot/flint/stages"
	"github.com/flintboot/flint/system"
)

// ErrBadFilesystem: an existing filesystem differs from the config and
// wipeFilesystem is false.
var ErrBadFilesystem = errors.New("filesystem is not of the correct type")

// Filesystem decisions.
const (
	fsReuse  = "reuse"  // already correctly formatted
	fsCreate = "create" // wipefs + mkfs (or only wipefs for "none")
	fsLater  = "decide" // device changes before: probed when applying
)

type fsPlan struct {
	FS       config.Filesystem
	Format   string // "" for none
	Decision string
	Found    system.FsInfo
}

func fsFormat(f config.Filesystem) string {
	v := strOr(f.Format, "")
	if v == "none" {
		return ""
	}
	return v
}

// canonicalUUID makes UUIDs comparable: lower case; vfat volume ids
// without the dash.
func canonicalUUID(format, uuid string) string {
	u := strings.ToLower(uuid)
	if format == "vfat" {
		u = strings.ReplaceAll(u, "-", "")
	}
	return u
}

// decideFilesystem is the reuse rule: reuse when !wipeFilesystem and type,
// label and UUID (when given) match; the Flatcar OEM rule reuses an
// existing filesystem labelled OEM whatever its type; any other existing
// filesystem is an error; nothing at all means create.
func decideFilesystem(f config.Filesystem, found system.FsInfo) (string, error) {
	format := fsFormat(f)
	if isTrue(f.WipeFilesystem) {
		return fsCreate, nil
	}
	if found.Label == "OEM" && found.Type != "" && (f.Label == nil || *f.Label == "OEM") {
		return fsReuse, nil
	}
	typ := found.Type
	if typ == "" && found.PartTableType != "" {
		typ = "partition table " + found.PartTableType
	}
	if typ == format &&
		(f.Label == nil || found.Label == *f.Label) &&
		(f.UUID == nil || canonicalUUID(typ, found.UUID) == canonicalUUID(format, *f.UUID)) {
		return fsReuse, nil
	}
	if typ == "" {
		return fsCreate, nil
	}
	return "", fmt.Errorf("%s: %w, label, or UUID (found %s, %q, %s) and a filesystem wipe was not requested",
		f.Device, ErrBadFilesystem, typ, found.Label, found.UUID)
}

// mkfsCommand returns the tool and arguments that create f on dev.
func mkfsCommand(f config.Filesystem, dev string) (string, []string, error) {
	var opts []string
	for _, o := range f.Options {
		opts = append(opts, string(o))
	}
	label, uuid := f.Label, f.UUID
	switch fsFormat(f) {
	case "btrfs":
		a := append(opts, "--force")
		if uuid != nil {
			a = append(a, "-U", *uuid)
		}
		if label != nil {
			a = append(a, "-L", *label)
		}
		return system.ToolMkfsBtrfs, append(a, dev), nil
	case "ext4":
		a := append(opts, "-F")
		if uuid != nil {
			a = append(a, "-U", *uuid)
		}
		if label != nil {
			a = append(a, "-L", *label)
		}
		return system.ToolMkfsExt4, append(a, dev), nil
	case "xfs":
		a := append(opts, "-f")
		if uuid != nil {
			a = append(a, "-m", "uuid="+*uuid)
		}
		if label != nil {
			a = append(a, "-L", *label)
		}
		return system.ToolMkfsXfs, append(a, dev), nil
	case "swap":
		a := append(opts, "-f")
		if uuid != nil {
			a = append(a, "-U", *uuid)
		}
		if label != nil {
			a = append(a, "-L", *label)
		}
		return system.ToolMkswap, append(a, dev), nil
	case "vfat":
		a := opts
		if uuid != nil {
			a = append(a, "-i", strings.ReplaceAll(*uuid, "-", ""))
		}
		if label != nil {
			a = append(a, "-n", *label)
		}
		return system.ToolMkfsFat, append(a, dev), nil
	case "":
		return "", nil, nil
	}
	return "", nil, fmt.Errorf("%s: unsupported filesystem format %q", f.Device, *f.Format)
}

// planFilesystems probes every stable device now (concurrently) and
// defers the others.
func planFilesystems(ctx context.Context, e *env, fss []config.Filesystem, stable func(string) (string, bool)) ([]*fsPlan, error) {
	var out []*fsPlan
	var probe []*fsPlan
	for _, f := range fss {
		if f.Format == nil || *f.Format == "" {
			continue // nothing to create (e.g. only a mount path on virtiofs)
		}
		fp := &fsPlan{FS: f, Format: fsFormat(f), Decision: fsLater}
		if _, _, err := mkfsCommand(f, "x"); err != nil {
			return nil, err
		}
		if _, ok := stable(f.Device); ok {
			probe = append(probe, fp)
		}
		out = append(out, fp)
	}
	errs := parallel(len(probe), func(i int) error {
		fp := probe[i]
		found, err := probeFS(ctx, e, fp.FS.Device)
		if err != nil {
			return err
		}
		d, err := decideFilesystem(fp.FS, found)
		if err != nil {
			return err
		}
		fp.Found, fp.Decision = found, d
		return nil
	})
	if err := joinErrs(errs); err != nil {
		return nil, err
	}
	return out, nil
}

// probeFS runs blkid, tolerating an ambivalent probe the way the reference
// does (the signature blkid still reports wins; logged as a warning).
func probeFS(ctx context.Context, e *env, dev string) (system.FsInfo, error) {
	fi, err := system.Probe(ctx, e.run, dev)
	if errors.Is(err, system.ErrAmbivalentProbe) {
		e.log.Warn("%s carries more than one signature: %v", dev, err)
		return system.FsInfo{Type: "ambivalent"}, nil
	}
	return fi, err
}

func (f *fsPlan) action() stages.Action {
	format := strOr(f.FS.Format, "")
	detail := "format " + format
	if f.FS.Label != nil {
		detail += fmt.Sprintf(", label %q", *f.FS.Label)
	}
	if f.FS.UUID != nil {
		detail += ", uuid " + *f.FS.UUID
	}
	switch f.Decision {
	case fsReuse:
		return stages.Action{Op: "reuse-filesystem", Target: f.FS.Device, Detail: detail + "; already correctly formatted"}
	case fsLater:
		detail += "; decided after the device is set up"
	}
	return stages.Action{Op: "mkfs", Target: f.FS.Device, Detail: detail}
}

// applyFilesystem returns the device it changed ("" when reused).
func applyFilesystem(ctx context.Context, e *env, f *fsPlan) (string, error) {
	dev, err := e.wait(ctx, f.FS.Device, "filesystem "+strOr(f.FS.Format, ""))
	if err != nil {
		return "", err
	}
	if f.Decision == fsLater {
		found, err := probeFS(ctx, e, dev)
		if err != nil {
			return "", err
		}
		if f.Decision, err = decideFilesystem(f.FS, found); err != nil {
			return "", err
		}
		f.Found = found
	}
	if f.Decision == fsReuse {
		e.log.Info("filesystem at %s is already correctly formatted. Skipping mkfs...", f.FS.Device)
		return "", nil
	}
	tool, args, err := mkfsCommand(f.FS, dev)
	if err != nil {
		return "", err
	}
	// wipefs erases the signatures blkid finds; when the probe found none
	// there is nothing to erase before mkfs (format "none" always wipes:
	// that is all it does).
	if tool == "" || f.Found != (system.FsInfo{}) {
		if _, err := e.run.Run(ctx, system.Cmd{Name: system.ToolWipefs, Args: []string{"-a", dev}}); err != nil {
			return "", fmt.Errorf("wiping %s: %w", f.FS.Device, err)
		}
	} else {
		e.log.Debugf("%s carries no signature: nothing to wipe before mkfs", f.FS.Device)
	}
	if tool != "" {
		if _, err := e.run.Run(ctx, system.Cmd{Name: tool, Args: args}); err != nil {
			return dev, fmt.Errorf("creating %s on %s: %w", strOr(f.FS.Format, ""), f.FS.Device, err)
		}
	}
	return dev, nil
}

// parallel runs f(0..n-1) on up to GOMAXPROCS goroutines and returns the
// errors (nil entries dropped).
func parallel(n int, f func(i int) error) []error {
	if n == 0 {
		return nil
	}
	// Tools spend much of their time in process start-up and I/O: run at
	// least 4 at once even on small machines.
	workers := max(runtime.GOMAXPROCS(0), 4)
	if workers > n {
		workers = n
	}
	errs := make([]error, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				errs[i] = f(i)
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	var out []error
	for _, err := range errs {
		if err != nil {
			out = append(out, err)
		}
	}
	return out
}
