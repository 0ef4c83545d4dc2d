// Command disks benchmarks the disks stage inside a QEMU (TCG) guest on the
// reference layout: disk1 GPT with 4 partitions (vfat ESP, LUKS2 root with
// ext4, RAID1 member, ext4 boot), disk2 with the other RAID1 member and a
// btrfs partition; ext4 on the RAID1. It reports the wall time of the whole
// `flint run --stage disks` process (the real binary, with the harness's
// udevadm: the busybox guest has no udevd, its udevadm refreshes the
// /dev/disk links) as a ratio to the sum of the same tool invocations run
// one by one by hand in the same guest, each round ending with one sync on
// both sides (three rounds, alternating). Run as root: go run ./bench/disks
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/flintboot/flint/bench/internal/summary"

	"github.com/flintboot/flint/tests/vm"
)

const config = `{"ignition":{"version":"3.4.0"},"storage":{
 "disks":[
  {"device":"/dev/vda","wipeTable":true,"partitions":[
   {"number":1,"label":"ESP","sizeMiB":64,"typeGuid":"C12A7328-F81F-11D2-BA4B-00A0C93EC93B"},
   {"number":2,"label":"root","sizeMiB":100},
   {"number":3,"label":"raidA","sizeMiB":128,"typeGuid":"A19D880F-05FC-4D3B-A006-743F0F84911E"},
   {"number":4,"label":"boot","sizeMiB":64}]},
  {"device":"/dev/vdb","wipeTable":true,"partitions":[
   {"number":1,"label":"raidB","sizeMiB":128,"typeGuid":"A19D880F-05FC-4D3B-A006-743F0F84911E"},
   {"number":2,"label":"btr","sizeMiB":0}]}],
 "raid":[{"name":"data","level":"raid1","devices":["/dev/vda3","/dev/vdb1"],"options":["--assume-clean"]}],
 "luks":[{"name":"root","device":"/dev/vda2","keyFile":{"source":"data:,bench-key"},"options":["--pbkdf","pbkdf2","--pbkdf-force-iterations","1000"]}],
 "filesystems":[
  {"device":"/dev/vda1","format":"vfat","label":"ESP"},
  {"device":"/dev/mapper/root","format":"ext4","label":"root"},
  {"device":"/dev/md/data","format":"ext4","label":"data"},
  {"device":"/dev/vda4","format":"ext4","label":"boot"},
  {"device":"/dev/vdb2","format":"btrfs","label":"btr"}]}}`

const script = `
up() { awk '{printf "%d", $1*1000}' /proc/uptime; }
t() { ts=$(up); "$@" >/dev/null 2>&1 || { echo "FAIL: $*"; exit 1; }; te=$(up); echo "BENCH-TOOL $(( te - ts )) $1 $2"; }
teardown() {
	cryptsetup close root 2>/dev/null || true
	mdadm --stop /dev/md/data >/dev/null 2>&1 || true
	for d in /dev/vda1 /dev/vda2 /dev/vda3 /dev/vda4 /dev/vdb1 /dev/vdb2; do [ -b $d ] && wipefs -a -q $d; done
	sgdisk --zap-all /dev/vda >/dev/null; sgdisk --zap-all /dev/vdb >/dev/null
	rm -rf /run/flint; sync
}
byhand() {
	printf bench-key >/tmp/key
	s=$(up)
	t sgdisk --zap-all -n1:0:+64M -c1:ESP -t1:C12A7328-F81F-11D2-BA4B-00A0C93EC93B -n2:0:+100M -c2:root -n3:0:+128M -c3:raidA -t3:A19D880F-05FC-4D3B-A006-743F0F84911E -n4:0:+64M -c4:boot /dev/vda
	t sgdisk --zap-all -n1:0:+128M -c1:raidB -t1:A19D880F-05FC-4D3B-A006-743F0F84911E -n2:0:0 -c2:btr /dev/vdb
	t mdadm --create /dev/md/data --force --run --homehost any --level raid1 --raid-devices 2 --assume-clean /dev/vda3 /dev/vdb1
	t cryptsetup luksFormat --type luks2 --batch-mode --key-file /tmp/key --pbkdf pbkdf2 --pbkdf-force-iterations 1000 /dev/vda2
	t cryptsetup luksOpen /dev/vda2 root --key-file /tmp/key --persistent
	t mkfs.fat -n ESP /dev/vda1
	t mkfs.ext4 -F -L root /dev/mapper/root
	t mkfs.ext4 -F -L data /dev/md/data
	t mkfs.ext4 -F -L boot /dev/vda4
	t mkfs.btrfs --force -L btr /dev/vdb2
	t sync
	e=$(up); echo "BENCH-HANDWALL $(( e - s ))"
}
stage() {
	cat /sys/firmware/qemu_fw_cfg/by_name/opt/flint/bench/raw >/tmp/bench.json
	rm -f /tmp/bench.state
	s=$(up)
	flint run --stage disks --platform qemu --config-cache /tmp/bench.json --state-file /tmp/bench.state \
		--log-to-stdout --debug >/tmp/stage.out 2>&1 && sync || { tail -40 /tmp/stage.out; exit 1; }
	e=$(up); echo "BENCH-STAGE $(( e - s ))"
	grep -c 'running:' /tmp/stage.out | sed 's/^/BENCH-EXECS /'
	grep -c 'running: udevadm' /tmp/stage.out | sed 's/^/BENCH-SETTLES /'
	[ -z "$BENCH_LOG" ] || grep -E 'running:|exited|finished|started|waiting|appeared' /tmp/stage.out
}
BENCH_LOG=$(cat /sys/firmware/qemu_fw_cfg/by_name/opt/flint/log/raw 2>/dev/null || true)
for round in 1 2 3; do
	echo "BENCH-ROUND $round"
	byhand; teardown
	stage; teardown
done
`

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench/disks:", err)
		os.Exit(1)
	}
}

func run() error {
	dir, err := os.MkdirTemp("", "flint-bench-disks-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin, err := vm.BuildFlint(dir)
	if err != nil {
		return err
	}
	initrd := filepath.Join(dir, "initramfs.img")
	if err := vm.BuildInitramfs(vm.InitramfsOptions{FlintBinary: bin}, initrd); err != nil {
		return err
	}
	cfgPath := filepath.Join(dir, "bench.json")
	if err := os.WriteFile(cfgPath, []byte(config), 0o644); err != nil {
		return err
	}
	m := &vm.Machine{
		Initramfs: initrd, Script: script, Timeout: 10 * time.Minute,
		Disks: []vm.Disk{{Serial: "disk1", Size: 384 << 20, Path: filepath.Join(dir, "d1.img")},
			{Serial: "disk2", Size: 320 << 20, Path: filepath.Join(dir, "d2.img")}},
		FwCfg: map[string]string{"opt/flint/bench": cfgPath},
	}
	if os.Getenv("FLINT_BENCH_LOG") != "" { // print the stage's command log
		m.FwCfg["opt/flint/log"] = cfgPath
		m.Console = os.Stderr
	}
	res, err := m.Run(context.Background())
	if err != nil {
		return err
	}
	return report(res.Serial)
}

var lineRe = regexp.MustCompile(`(?m)^BENCH-(ROUND|TOOL|HANDWALL|STAGE|EXECS|SETTLES) (\d+)(?: (\S+) ?(\S*))?`)

func report(serial string) error {
	type round struct {
		tools               map[string]int
		sum, hand, stg, n   int
		execs, settles, seq int
	}
	var rounds []*round
	for _, m := range lineRe.FindAllStringSubmatch(serial, -1) {
		v, _ := strconv.Atoi(m[2])
		if m[1] == "ROUND" {
			rounds = append(rounds, &round{tools: map[string]int{}, seq: v})
			continue
		}
		if len(rounds) == 0 {
			continue
		}
		r := rounds[len(rounds)-1]
		switch m[1] {
		case "TOOL":
			r.tools[strings.TrimSpace(m[3]+" "+m[4])] += v
			r.sum += v
			r.n++
		case "HANDWALL":
			r.hand = v
		case "STAGE":
			r.stg = v
		case "EXECS":
			r.execs = v
		case "SETTLES":
			r.settles = v
		}
	}
	if len(rounds) == 0 || rounds[len(rounds)-1].stg == 0 {
		return fmt.Errorf("no results in the serial log:\n%s", tail(serial, 40))
	}
	var ratios []float64
	for _, r := range rounds {
		var names []string
		for n := range r.tools {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Printf("round %d: tools by hand (ms):", r.seq)
		for _, n := range names {
			fmt.Printf(" %s=%d", n, r.tools[n])
		}
		fmt.Println()
		ratio := float64(r.stg) / float64(r.sum)
		ratios = append(ratios, ratio)
		fmt.Printf("round %d: sum of the %d hand-run tool invocations (with sync) %d ms (their script's wall %d ms)\n", r.seq, r.n, r.sum, r.hand)
		fmt.Printf("round %d: flint run --stage disks (whole process, with sync) %d ms, %d commands of which %d udevadm; ratio stage/sum = %.2f\n",
			r.seq, r.stg, r.execs, r.settles, ratio)
	}
	sort.Float64s(ratios)
	med := ratios[len(ratios)/2]
	fmt.Printf("disks stage cost: median ratio %.2f over %d rounds (target <= 1.00)\n", med, len(ratios))
	summary.Add("disks stage", fmt.Sprintf("%.2fx its tools by hand (median of %d)", med, len(ratios)), "<= 1.0x", med <= 1)
	return nil
}

func tail(s string, n int) string {
	l := strings.Split(s, "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}
