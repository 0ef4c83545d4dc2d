package disks

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/flintboot/flint/config"
	"github.com/flintboot/flint/stages"
	"github.com/flintboot/flint/system"
)

// planDisk reads dev's table and decides every partition (no writes).
func planDisk(ctx context.Context, e *env, d config.Disk, dev string) (*diskPlan, error) {
	t, err := ReadTable(dev)
	if err != nil {
		return nil, err
	}
	wipe := isTrue(d.WipeTable)
	active := map[int]bool{}
	if isBlockDevice(dev) {
		busy, diskWhy, err := busyPartitions(dev)
		if err != nil {
			return nil, err
		}
		if diskWhy != "" && len(busy) == 0 {
			return nil, fmt.Errorf("refusing to partition %s: the disk is %s", dev, diskWhy)
		}
		if wipe && len(busy) > 0 {
			var ns []string
			for n, why := range busy {
				ns = append(ns, fmt.Sprintf("%d (%s)", n, why))
			}
			sort.Strings(ns)
			return nil, fmt.Errorf("refusing to wipe the partition table of %s: active partitions %s", dev, strings.Join(ns, ", "))
		}
		for n := range busy {
			active[n] = true
		}
	}
	view := t
	if wipe {
		view = &Table{SectorSize: t.SectorSize, Sectors: t.Sectors}
	}
	specs := specsFromConfig(d.Partitions, view)
	specs, err = resolveDimensions(ctx, e.run, dev, wipe, view, specs)
	if err != nil {
		return nil, err
	}
	decs, ops, err := decide(view, wipe, specs, active)
	if err != nil {
		return nil, err
	}
	dp := &diskPlan{Device: d.Device, cfg: d, Dev: dev, WipeTable: wipe, Table: t, Decisions: decs}
	if !ops.empty() {
		dp.Args = ops.args()
	}
	return dp, nil
}

func sectorsMiB(v *int64, ss int64) string {
	if v == nil {
		return "default"
	}
	return fmt.Sprintf("%d (%.1f MiB)", *v, float64(*v*ss)/(1<<20))
}

func (d *diskPlan) actions() []stages.Action {
	var a []stages.Action
	if d.pending() {
		return []stages.Action{{Op: "wait-device", Target: d.Device,
			Detail: "not present now: would wait for it (disk to partition), then plan its partitions before any write"}}
	}
	if d.WipeTable {
		a = append(a, stages.Action{Op: "wipe-table", Target: d.Device})
	}
	for _, x := range d.Decisions {
		p := x.Spec
		target := fmt.Sprintf("%s partition %d", d.Device, p.Number)
		detail := ""
		switch x.Action {
		case partCreate, partRecreate, partResize, partKeep:
			detail = fmt.Sprintf("start %s, size %s", sectorsMiB(p.Start, d.Table.SectorSize), sectorsMiB(p.Size, d.Table.SectorSize))
			if p.Label != nil {
				detail += fmt.Sprintf(", label %q", *p.Label)
			}
			if p.TypeGUID != nil {
				detail += ", type " + *p.TypeGUID
			}
			if p.GUID != nil {
				detail += ", guid " + *p.GUID
			}
		}
		if x.Reason != "" {
			detail += "; " + x.Reason
		}
		a = append(a, stages.Action{Op: x.Action + "-partition", Target: target, Detail: strings.TrimPrefix(detail, "; ")})
	}
	if d.Args != nil {
		a = append(a, stages.Action{Op: "sgdisk", Target: d.Dev, Detail: strings.Join(d.Args, " ")})
	}
	return a
}

// changedKernelNames are the kernel names of the disk and partitions whose
// contents or geometry the write changes.
func (d *diskPlan) changedKernelNames() map[string]bool {
	out := map[string]bool{}
	if d.pending() || d.Args == nil || !isBlockDevice(d.Dev) {
		return out
	}
	kname := filepath.Base(d.Dev)
	parts, _ := kernelPartitions(kname)
	if d.WipeTable {
		for _, p := range parts {
			out[p.Name] = true
		}
	}
	for _, x := range d.Decisions {
		if x.Action == partKeep || x.Action == partAbsent {
			continue
		}
		if p, ok := parts[x.Spec.Number]; ok {
			out[p.Name] = true
		}
	}
	return out
}

// applyDisk writes the table in one sgdisk call, then brings the kernel's
// view up to date and checks it.
func applyDisk(ctx context.Context, e *env, d *diskPlan) error {
	if d.Args == nil {
		e.log.Info("partitions of %s already match the config", d.Device)
		return nil
	}
	args := append(append([]string{}, d.Args...), d.Dev)
	_, err := e.run.Run(ctx, system.Cmd{Name: system.ToolSgdisk, Args: args})
	if err != nil && d.WipeTable {
		// Zapping a corrupt table exits 2 the first time; the reference retries.
		e.log.Warn("sgdisk on %s failed, retrying once: %v", d.Dev, err)
		_, err = e.run.Run(ctx, system.Cmd{Name: system.ToolSgdisk, Args: args})
	}
	if err != nil {
		return fmt.Errorf("writing the partition table: %w", err)
	}
	if !isBlockDevice(d.Dev) {
		return nil // an image file: no kernel view to update
	}
	return syncKernel(ctx, e, d)
}

// syncKernel makes the kernel's partitions match the new table: partx only
// where the kernel's view differs (sgdisk's BLKRRPART usually did it all),
// udev settle, then a final check.
func syncKernel(ctx context.Context, e *env, d *diskPlan) error {
	t, err := ReadTable(d.Dev)
	if err != nil {
		return err
	}
	want := map[int]TableEntry{}
	for _, x := range t.Entries {
		want[x.Number] = x
	}
	kname := filepath.Base(d.Dev)
	check := func() ([]string, map[int]string, error) {
		kp, err := kernelPartitions(kname)
		if err != nil {
			return nil, nil, err
		}
		var bad []string
		fix := map[int]string{}
		for _, x := range d.Decisions {
			n := x.Spec.Number
			w, should := want[n]
			k, has := kp[n]
			switch {
			case should && !has:
				bad = append(bad, fmt.Sprintf("partition %d missing in the kernel", n))
				fix[n] = "--add"
			case !should && has:
				bad = append(bad, fmt.Sprintf("partition %d still known to the kernel", n))
				fix[n] = "--delete"
			case should && has:
				ws, wz := w.Start*t.SectorSize/512, w.Size*t.SectorSize/512
				if k.Start != ws || k.Size != wz {
					bad = append(bad, fmt.Sprintf("partition %d: kernel has start %d size %d, table has start %d size %d (512-byte sectors)", n, k.Start, k.Size, ws, wz))
					fix[n] = "--update"
				}
			}
		}
		// With a wiped table, partitions outside the config must go too.
		if d.WipeTable {
			for n, k := range kp {
				if _, ok := want[n]; !ok {
					bad = append(bad, fmt.Sprintf("partition %d (%s) still known to the kernel", n, k.Name))
					fix[n] = "--delete"
				}
			}
		}
		return bad, fix, nil
	}
	_, fix, err := check()
	if err != nil {
		return err
	}
	nums := make([]int, 0, len(fix))
	for n := range fix {
		nums = append(nums, n)
	}
	sort.Ints(nums)
	for _, n := range nums {
		_, err := e.run.Run(ctx, system.Cmd{Name: system.ToolPartx, Args: []string{fix[n], "--nr", fmt.Sprint(n), d.Dev}})
		if err != nil {
			e.log.Warn("partx %s --nr %d %s failed: %v", fix[n], n, d.Dev, err)
		}
	}
	if len(fix) > 0 {
		if err := e.settle(ctx, "partitions updated with partx", d.Dev); err != nil {
			return err
		}
	}
	bad, _, err := check()
	if err != nil {
		return err
	}
	if len(bad) > 0 {
		return fmt.Errorf("the kernel's view of %s does not match the new table: %s", d.Dev, strings.Join(bad, "; "))
	}
	return nil
}
