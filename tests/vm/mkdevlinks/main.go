// Command mkdevlinks (re)creates the /dev/disk/by-* links that udev would
// make, in the busybox test initramfs, which has no udev. The guest's udevadm
// stub runs it for "udevadm settle" and "udevadm trigger", and /init once at
// boot. It is part of the VM test harness, not of flint.
//
// One blkid run probes every device (labels, UUIDs, partition labels and
// UUIDs), mdadm names the md arrays, sysfs gives the virtio serials and dm
// names; links that change are replaced atomically (symlink beside, then
// rename), stale ones removed, so that a reader never sees a link missing
// while it is refreshed. Runs are serialized with a lock.
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

var subdirs = []string{"by-id", "by-label", "by-partlabel", "by-uuid", "by-partuuid"}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "mkdevlinks:", err)
		os.Exit(1)
	}
}

// enc escapes a link name as the harness always has: backslash, slash and
// space as \xNN (udev's encoding for them).
func enc(s string) string {
	r := strings.NewReplacer(`\`, `\x5c`, "/", `\x2f`, " ", `\x20`)
	return r.Replace(s)
}

func readTrim(p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func run() error {
	if err := os.MkdirAll("/run/flint-test", 0o755); err != nil {
		return err
	}
	lock, err := os.OpenFile("/run/flint-test/mkdevlinks.lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	want := map[string]string{} // "by-x/name" → target relative to /dev/disk/by-x
	add := func(sub, name, dev string) {
		if name != "" {
			want[sub+"/"+enc(name)] = "../../" + strings.TrimPrefix(dev, "/dev/")
		}
	}
	blocks, _ := filepath.Glob("/sys/block/*")
	for _, d := range blocks {
		n := filepath.Base(d)
		switch {
		case strings.HasPrefix(n, "vd"):
			s := readTrim(filepath.Join(d, "serial"))
			if s == "" {
				continue
			}
			add("by-id", "virtio-"+s, n)
			parts, _ := filepath.Glob(filepath.Join(d, n+"*"))
			for _, p := range parts {
				if num := readTrim(filepath.Join(p, "partition")); num != "" {
					add("by-id", "virtio-"+s+"-part"+num, filepath.Base(p))
				}
			}
		case strings.HasPrefix(n, "dm-"):
			if name := readTrim(filepath.Join(d, "dm", "name")); name != "" {
				add("by-id", "dm-name-"+name, n)
				if u := readTrim(filepath.Join(d, "dm", "uuid")); u != "" {
					add("by-id", "dm-uuid-"+u, n)
				}
			}
		case strings.HasPrefix(n, "md"):
			if _, err := os.Stat(filepath.Join(d, "md")); err != nil {
				continue
			}
			out, err := exec.Command("mdadm", "--detail", "--export", "/dev/"+n).Output()
			if err != nil {
				continue
			}
			kv := exportBlocks(out)
			if len(kv) > 0 {
				if u := kv[0]["MD_UUID"]; u != "" {
					want["by-id/md-uuid-"+u] = "../../" + n
				}
				add("by-id", "md-name-"+kv[0]["MD_NAME"], n)
			}
		}
	}
	out, _ := exec.Command("blkid", "-c", "/dev/null", "-o", "export").Output()
	for _, b := range exportBlocks(out) {
		dev := b["DEVNAME"]
		if st, err := os.Stat(dev); dev == "" || err != nil || st.Mode()&os.ModeDevice == 0 {
			continue
		}
		switch b["TYPE"] {
		case "linux_raid_member", "LVM2_member", "zfs_member": // udev: ID_FS_USAGE=raid, no by-label/by-uuid
		default:
			add("by-label", b["LABEL"], dev)
			add("by-uuid", b["UUID"], dev)
		}
		add("by-partlabel", b["PARTLABEL"], dev)
		add("by-partuuid", b["PARTUUID"], dev)
	}
	return apply(want)
}

// exportBlocks parses `-o export`/`--export` output: KEY=value lines,
// blocks separated by blank lines, blkid's backslash escapes undone.
func exportBlocks(out []byte) []map[string]string {
	var res []map[string]string
	cur := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			if len(cur) > 0 {
				res = append(res, cur)
				cur = map[string]string{}
			}
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		var b strings.Builder
		for i := 0; i < len(v); i++ {
			if v[i] == '\\' && i+1 < len(v) {
				i++
			}
			b.WriteByte(v[i])
		}
		cur[k] = b.String()
	}
	if len(cur) > 0 {
		res = append(res, cur)
	}
	return res
}

func apply(want map[string]string) error {
	for _, s := range subdirs {
		if err := os.MkdirAll(filepath.Join("/dev/disk", s), 0o755); err != nil {
			return err
		}
	}
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p := filepath.Join("/dev/disk", k)
		if cur, err := os.Readlink(p); err == nil && cur == want[k] {
			continue
		}
		tmp := filepath.Join(filepath.Dir(p), ".new-"+filepath.Base(p))
		os.Remove(tmp)
		if err := os.Symlink(want[k], tmp); err != nil {
			return err
		}
		if err := os.Rename(tmp, p); err != nil {
			return err
		}
	}
	for _, s := range subdirs {
		ents, _ := os.ReadDir(filepath.Join("/dev/disk", s))
		for _, e := range ents {
			if _, ok := want[s+"/"+e.Name()]; !ok && e.Type()&os.ModeSymlink != 0 {
				os.Remove(filepath.Join("/dev/disk", s, e.Name()))
			}
		}
	}
	return nil
}
