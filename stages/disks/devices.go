package disks

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/flintboot/flint/system"
)

// kernelPart is a partition as the kernel sees it (/sys/class/block).
type kernelPart struct {
	Name   string // kernel name, e.g. vda1
	Number int
	Start  int64 // 512-byte units
	Size   int64 // 512-byte units
	MajMin string
}

func sysClassBlock() string { return system.PathsFromEnv().SysClassBlock }

func readSysInt(p string) (int64, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}

// kernelPartitions lists the partitions the kernel knows for disk kname.
func kernelPartitions(kname string) (map[int]kernelPart, error) {
	dir := filepath.Join(sysClassBlock(), kname)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("listing partitions of %s: %w", kname, err)
	}
	out := map[int]kernelPart{}
	for _, e := range ents {
		pdir := filepath.Join(dir, e.Name())
		n, err := readSysInt(filepath.Join(pdir, "partition"))
		if err != nil {
			continue
		}
		kp := kernelPart{Name: e.Name(), Number: int(n)}
		if kp.Start, err = readSysInt(filepath.Join(pdir, "start")); err != nil {
			return nil, fmt.Errorf("reading %s: %w", pdir, err)
		}
		if kp.Size, err = readSysInt(filepath.Join(pdir, "size")); err != nil {
			return nil, fmt.Errorf("reading %s: %w", pdir, err)
		}
		if b, err := os.ReadFile(filepath.Join(pdir, "dev")); err == nil {
			kp.MajMin = strings.TrimSpace(string(b))
		}
		out[kp.Number] = kp
	}
	return out, nil
}

// inUse reports why kernel block device kname (with device number majmin)
// is busy: mounted, held by another device (dm, md) or an active swap. ""
// means free.
func inUse(kname, majmin string, mounts []system.MountInfo, swaps map[string]bool) string {
	if ents, err := os.ReadDir(filepath.Join(sysClassBlock(), kname, "holders")); err == nil && len(ents) > 0 {
		var hs []string
		for _, e := range ents {
			hs = append(hs, e.Name())
		}
		return "held by " + strings.Join(hs, ",")
	}
	for _, m := range mounts {
		if fmt.Sprintf("%d:%d", m.Major, m.Minor) == majmin {
			return "mounted on " + m.MountPoint
		}
	}
	if swaps[kname] {
		return "in use as swap"
	}
	return ""
}

// activeSwaps returns the kernel names of active swap devices.
func activeSwaps() map[string]bool {
	out := map[string]bool{}
	f, err := os.Open("/proc/swaps")
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) == 0 || fs[0] == "Filename" {
			continue
		}
		if p, err := filepath.EvalSymlinks(fs[0]); err == nil {
			out[filepath.Base(p)] = true
		}
	}
	return out
}

// busyPartitions returns the numbers of dev's partitions in use and, when
// the whole disk itself is in use, why.
func busyPartitions(dev string) (map[int]string, string, error) {
	kname := filepath.Base(dev)
	parts, err := kernelPartitions(kname)
	if err != nil {
		return nil, "", err
	}
	mounts, err := system.Mounts()
	if err != nil {
		return nil, "", err
	}
	swaps := activeSwaps()
	busy := map[int]string{}
	for n, p := range parts {
		if why := inUse(p.Name, p.MajMin, mounts, swaps); why != "" {
			busy[n] = why
		}
	}
	diskWhy := ""
	if b, err := os.ReadFile(filepath.Join(sysClassBlock(), kname, "dev")); err == nil {
		diskWhy = inUse(kname, strings.TrimSpace(string(b)), mounts, swaps)
	}
	return busy, diskWhy, nil
}

// isBlockDevice reports whether p (symlinks followed) is a block device.
func isBlockDevice(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode()&os.ModeDevice != 0 && st.Mode()&os.ModeCharDevice == 0
}
