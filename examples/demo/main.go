// Command demo is `make demo`: it boots a machine with flint.
//
// It builds flint and the dracut initramfs with the 30flint module (the
// tests/boot harness: tests/vm's dracut builder, cached), makes a small
// ext4 root, and boots a QEMU guest (TCG) with the config through fw_cfg,
// as a cloud or hypervisor would hand it over. The stages are shown as they
// run; after switch-root the provisioned root prints `flint status`, `flint
// analyze blame` and the files, users and units flint wrote. A config that
// fails stops in the initramfs emergency target: the failure paragraph is
// shown, and the collect-logs tarball is saved next to the config.
//
//	go run ./examples/demo [-config examples/webserver.ign] [-all]
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/flintboot/flint/tests/boot"
	"github.com/flintboot/flint/tests/vm"
)

// rootInit is the provisioned root's /sbin/init: what a user would look at
// after the first boot.
const rootInit = `#!/bin/sh
export PATH=/bin:/sbin:/usr/bin
mount -t proc proc /proc 2>/dev/null
exec >/dev/console 2>&1
say() { printf '\n\033[1m== %s\033[0m\n' "$*" | sed 's/^/DEMO| /'; }
{
say "switched root: this is the provisioned root, on its first boot"
say "flint status"
flint status; echo "(exit status $?)"
say "flint analyze blame"
flint analyze blame
say "files, directories and links flint wrote"
find / -xdev -newer /etc/os-release \( -type f -o -type d -o -type l \) 2>/dev/null | grep -v -e '^/proc' -e '^/run' -e '^/tmp' -e '^/dev' -e '^/sys' -e '^/$' -e '^/etc$' -e '^/home$' -e '^/mnt$' | sort | while read -r p; do
  stat -c '%A %4u:%-4g %n' "$p"
done
say "users and groups flint added"
grep -v -e '^root:' /etc/passwd
grep -v -e '^root:' -e '^wheel:' -e '^users:' /etc/group
say "systemd units and presets"
ls -l /etc/systemd/system 2>/dev/null
cat /etc/systemd/system-preset/20-flint.preset 2>/dev/null
} 2>&1 | sed 's/^/DEMO| /'
echo "DEMO-END"
sync
poweroff -f
`

var (
	unitRe  = regexp.MustCompile(`flint \(([a-z-]+)\)`)
	stageRe = regexp.MustCompile(`flint\[\d+\]: (.*)`)
)

func main() {
	config := flag.String("config", "examples/webserver.ign", "the config to boot with")
	all := flag.Bool("all", false, "show the whole serial console, not only flint's lines")
	flag.Parse()
	if err := run(*config, *all); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func say(format string, args ...any) { fmt.Printf("\n\033[1m== "+format+"\033[0m\n", args...) }

func run(config string, all bool) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("run as root (dracut and mkfs need it), e.g. sudo make demo")
	}
	cfg, err := filepath.Abs(config)
	if err != nil {
		return err
	}
	if _, err := os.Stat(cfg); err != nil {
		return err
	}
	vmlinuz, _, kver, err := vm.Kernel()
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "flint-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	start := time.Now()

	say("building flint and the initramfs (dracut, the 30flint module, kernel %s)", kver)
	flint, err := boot.BuildFlint(work)
	if err != nil {
		return err
	}
	initrd, err := boot.Initramfs(work, flint, func(s string) { fmt.Println(s) })
	if err != nil {
		return err
	}
	root, err := boot.MakeRoot(boot.RootOptions{Dir: work, Init: rootInit, Files: map[string]string{"/usr/bin/flint": flint}})
	if err != nil {
		return err
	}

	// A config that fetches from http://10.0.2.2:8173/ (the host, as QEMU
	// user networking shows it) gets examples/www/ served there and the
	// network in the initramfs.
	args := "flint.firstboot flint.platform.id=qemu root=LABEL=flintroot"
	raw, _ := os.ReadFile(cfg)
	needNet := bytes.Contains(raw, []byte("//"+guestHost+"/"))
	if needNet {
		stopHTTP, err := serve(filepath.Join(filepath.Dir(cfg), "www"))
		if err != nil {
			return err
		}
		defer stopHTTP()
		args += " rd.neednet=1 ip=dhcp"
	}
	say("booting a QEMU guest (TCG) with %s through fw_cfg", config)
	fmt.Println("kernel arguments:", args)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	failure := false
	m := boot.Machine{
		Kernel: vmlinuz, Initramfs: initrd,
		// journald forwards flint's journal to the console, where the
		// demo picks the lines of the stages out
		Cmdline: args + " systemd.journald.forward_to_console=1",
		Net:     needNet,
		Disks:   []string{root},
		FwCfg:   map[string]string{"opt/com.coreos/config": cfg},
		Timeout: 6 * time.Minute,
		Console: func(l string) {
			switch {
			case all:
				fmt.Println(l)
			case strings.Contains(l, "systemd[1]:") && !strings.Contains(l, "skipped"), strings.Contains(l, "dracut-cmdline"):
				// systemd's own copy of the status lines, the command line
			case strings.HasPrefix(l, "DEMO| "):
				fmt.Println(strings.TrimPrefix(l, "DEMO| "))
			case strings.Contains(l, "=== flint ==="):
				failure = true
				fmt.Println(l)
			case failure && !strings.Contains(l, "DEMO-END"):
				if strings.HasPrefix(l, "=====") {
					failure = false
				}
				fmt.Println(l)
			case stageRe.MatchString(l):
				fmt.Println("  " + stageRe.FindStringSubmatch(l)[1])
			case unitRe.MatchString(l) || strings.Contains(l, "Switching root") || strings.Contains(l, "emergency"):
				fmt.Println(strings.TrimSpace(l))
			}
		},
	}
	res, err := m.Boot(ctx, work)
	if res == nil {
		return err
	}
	provisioned := strings.Contains(res.Serial, "DEMO-END")
	if logs := res.Ports["org.flintboot.collect-logs"]; len(logs) > 0 {
		out := strings.TrimSuffix(cfg, filepath.Ext(cfg)) + "-logs.tar.gz"
		if werr := os.WriteFile(out, logs, 0o644); werr == nil {
			say("flint collect-logs, written by the emergency target to a virtio port: %s", out)
			showTarball(logs)
		}
	}
	if err != nil {
		return err
	}
	say("done in %s", time.Since(start).Round(time.Second))
	if !provisioned {
		return fmt.Errorf("the machine did not reach its provisioned root (see the failure above; -all shows the whole console)")
	}
	return nil
}

// guestHost is the demo's file server as the guest sees it.
const guestHost = "10.0.2.2:8173"

// serve serves dir on 127.0.0.1:8173 (the guest's 10.0.2.2:8173).
func serve(dir string) (func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:8173")
	if err != nil {
		return nil, fmt.Errorf("serving %s for the guest: %w", dir, err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Printf("  (host) %s %s\n", r.Method, r.URL.Path)
		http.FileServer(http.Dir(dir)).ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	return func() { srv.Close() }, nil
}

// showTarball lists the tarball and prints its status line.
func showTarball(b []byte) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		fmt.Println("(not a gzip stream:", err, ")")
		return
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err != nil {
			return
		}
		body, _ := io.ReadAll(tr)
		if h.Typeflag != tar.TypeReg {
			continue
		}
		fmt.Printf("  %-28s %6d bytes\n", h.Name, len(body))
		if strings.HasSuffix(h.Name, "/status.txt") {
			fmt.Printf("    %s", body)
		}
	}
}
