package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/flintboot/flint/providers"
	"github.com/flintboot/flint/stages"
	"github.com/flintboot/flint/system"
)

// First boot in progress
//
// The mount stage (the first stage that sees the target root) writes the
// stamp InProgressStamp into the target root before it changes anything
// there; a successful files stage removes it, after the files stage made
// everything durable and wrote the result files. The stamp records the
// boot id. When the mount or files stage finds a stamp left by another
// boot, a first boot was interrupted half way (power loss, reset, a crash
// after the disks were partitioned and formatted) and the disks may be
// half-provisioned: flint refuses to run again unless the kernel command
// line has flint.rerun=force. The disks stage, which may repartition and
// reformat, checks first: when root= names a device that exists already it
// looks for the stamp on a read-only mount of it. The stamp lives on the
// target root because that is the one place that survives a reboot, belongs
// to the machine being provisioned and goes away when the disks stage
// re-creates the root filesystem (a clean re-provisioning).
//
// The stamp is one of flint's own files in the root: it is read and
// written without following a symlink planted at its path (a symlink
// there counts as a stamp from an unknown boot).

// InProgressStamp is the first-boot-in-progress stamp, relative to the
// target root.
const InProgressStamp = "/etc/.flint-in-progress"

// RerunForceArg on the kernel command line overrides the stamp check.
const RerunForceArg = "flint.rerun=force"

// ErrInterrupted is returned when a stamp from another boot is found.
var ErrInterrupted = errors.New("an earlier first boot was interrupted")

// stamp is the content of InProgressStamp.
type stamp struct {
	BootID  string `json:"bootId"`
	Started string `json:"started"`
	Stage   string `json:"stage"`
	Version string `json:"flintVersion,omitempty"`
}

// guard is the interrupted-first-boot check of one `flint run` stage.
type guard struct {
	c       *stages.Context
	stage   string
	cmdline []string
}

func (g *guard) forced() bool {
	for _, a := range g.cmdline {
		if a == RerunForceArg {
			return true
		}
	}
	return false
}

// check refuses a root stamped by another boot and (re)writes the stamp for
// this boot before the mount or files stage changes the root.
func (g *guard) check() error {
	const op = "checking for an interrupted first boot"
	boot := g.c.Paths.BootID()
	old, err := readStamp(g.c.Root)
	if err != nil {
		return stages.Op(op, err)
	}
	if old != nil && old.BootID != boot {
		if !g.forced() {
			return stages.Op(op, interruptedError(old))
		}
		g.c.Log.Warn("%s: ignoring the stamp of an interrupted first boot (boot %s, started %s, stage %s)",
			RerunForceArg, old.BootID, old.Started, old.Stage)
	}
	s := stamp{BootID: boot, Started: time.Now().UTC().Format(time.RFC3339), Stage: g.stage, Version: g.c.Version}
	if old != nil && old.BootID == boot {
		s.Started = old.Started
	}
	b, _ := json.Marshal(s)
	if err := system.WriteInRoot(g.c.Root, InProgressStamp, strings.NewReader(string(b)+"\n"), 0o644); err != nil {
		return stages.Op("writing the first-boot-in-progress stamp", err)
	}
	return nil
}

// clear removes the stamp after a successful files stage.
func (g *guard) clear() error {
	return stages.Op("removing the first-boot-in-progress stamp", system.RemoveInRoot(g.c.Root, InProgressStamp))
}

// early runs before the disks stage, which may repartition and reformat:
// when the kernel's root= names a device that exists already, it mounts it
// read-only on a scratch directory and looks for a stamp from another
// boot. A root that does not exist yet (the config creates it) or cannot be
// mounted is left to the check in the mount stage.
func (g *guard) early(ctx context.Context) error {
	const op = "checking for an interrupted first boot"
	c := g.c
	dev := rootDevice(g.cmdline)
	if dev == "" {
		return nil
	}
	if _, err := os.Stat(dev); err != nil {
		c.Log.Info("root device %s not present yet: the interrupted-first-boot check waits for the mount stage", dev)
		return nil
	}
	info, err := system.Probe(ctx, c.Runner, dev)
	if err != nil || info.Type == "" {
		return nil
	}
	opts := []string{"ro"}
	switch info.Type {
	case "ext4", "ext3", "ext2":
		opts = append(opts, "noload") // no journal replay on a read-only look
	case "xfs":
		opts = append(opts, "norecovery")
	case "btrfs":
	default:
		return nil // swap, LUKS, RAID members...: not a root to look into
	}
	dir := filepath.Join(c.Paths.RunDir, "rootcheck")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return stages.Op(op, err)
	}
	if err := system.Mount(ctx, c.Runner, c.Log, dev, dir, info.Type, opts); err != nil {
		c.Log.Warn("cannot look into %s for an interrupted first boot (%v): the mount stage checks again", dev, err)
		return nil
	}
	old, rerr := readStamp(dir)
	if uerr := system.Unmount(ctx, dir); uerr != nil {
		return stages.Op(op, uerr)
	}
	os.Remove(dir)
	if rerr != nil {
		return stages.Op(op, rerr)
	}
	if old != nil && old.BootID != c.Paths.BootID() && !g.forced() {
		return stages.Op(op, interruptedError(old))
	}
	return nil
}

// rootDevice maps the kernel's root= argument to a device path:
// LABEL=, UUID=, PARTLABEL=, PARTUUID= or /dev/...; "" for anything else
// (nfs, tmpfs, none).
func rootDevice(args []string) string {
	v := ""
	for _, a := range args {
		if strings.HasPrefix(a, "root=") {
			v = strings.TrimPrefix(a, "root=")
		}
	}
	for _, p := range []struct{ prefix, dir string }{{"LABEL=", "by-label"}, {"UUID=", "by-uuid"},
		{"PARTLABEL=", "by-partlabel"}, {"PARTUUID=", "by-partuuid"}} {
		if !strings.HasPrefix(v, p.prefix) {
			continue
		}
		name := strings.TrimPrefix(v, p.prefix)
		if name == "" || strings.Contains(name, "/") {
			return ""
		}
		if p.prefix == "UUID=" || p.prefix == "PARTUUID=" {
			name = strings.ToLower(name)
		}
		return "/dev/disk/" + p.dir + "/" + name
	}
	if strings.HasPrefix(v, "/dev/") {
		return v
	}
	return ""
}

func interruptedError(old *stamp) error {
	return fmt.Errorf("%w: boot %s started provisioning at %s and stopped during the %s stage (%s is still there); "+
		"its disks may be half-provisioned, so flint will not run again. Re-provision from a clean disk image, "+
		"or boot once with %s on the kernel command line to run the stages anyway",
		ErrInterrupted, old.BootID, old.Started, old.Stage, InProgressStamp, RerunForceArg)
}

// readStamp returns the stamp in root, nil when there is none.
func readStamp(root string) (*stamp, error) {
	b, err := system.ReadInRoot(root, InProgressStamp)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case errors.Is(err, system.ErrNotRegular):
		return &stamp{BootID: "unknown", Started: "unknown", Stage: "unknown"}, nil
	case err != nil:
		return nil, err
	}
	var s stamp
	if err := json.Unmarshal(b, &s); err != nil || s.BootID == "" {
		// unreadable: still a stamp, from an unknown boot
		return &stamp{BootID: "unknown", Started: "unknown", Stage: "unknown"}, nil
	}
	return &s, nil
}

// readCmdline returns the kernel command line's arguments.
func readCmdline(p system.Paths) []string {
	b, err := os.ReadFile(p.Cmdline)
	if err != nil {
		return nil
	}
	return providers.SplitCmdline(string(b))
}
