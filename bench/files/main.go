// Command files benchmarks `flint apply` (run as root):
//
//  1. 5,000 small files (data URLs), 500 directories and 500 symlinks,
//     against `tar -x` of the same tree on the same filesystem (a loop ext4
//     image) in the same run: wall-time ratio (target ≤ 2×) and flint's peak
//     RSS;
//  2. 50 users with SSH keys, 20 groups and 100 units with drop-ins: wall
//     time and the number of external commands flint ran.
//
// Usage: go run ./bench/files [-flint bin/flint] [-runs 3]
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	bin := flag.String("flint", "bin/flint", "flint binary")
	runs := flag.Int("runs", 3, "runs per measurement (best is reported)")
	flag.Parse()
	if err := run(*bin, *runs); err != nil {
		fmt.Fprintln(os.Stderr, "bench/files:", err)
		os.Exit(1)
	}
}

func sh(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

func run(bin string, runs int) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("must run as root")
	}
	bin, _ = filepath.Abs(bin)
	work, err := os.MkdirTemp("", "flint-bench-files-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	img := filepath.Join(work, "fs.img")
	f, _ := os.Create(img)
	f.Truncate(1 << 30)
	f.Close()
	dev, err := sh("losetup", "--find", "--show", img)
	if err != nil {
		return err
	}
	dev = strings.TrimSpace(dev)
	defer sh("losetup", "-d", dev)
	if _, err := sh("mkfs.ext4", "-q", "-F", dev); err != nil {
		return err
	}
	mnt := filepath.Join(work, "mnt")
	os.MkdirAll(mnt, 0o755)
	if _, err := sh("mount", dev, mnt); err != nil {
		return err
	}
	defer sh("umount", mnt)

	// --- tree benchmark ---
	cfg, tree := treeConfig()
	cfgPath := filepath.Join(work, "tree.ign")
	os.WriteFile(cfgPath, cfg, 0o600)
	// the same tree as a tar archive, made by tar from a reference copy
	ref := filepath.Join(mnt, "ref")
	if err := tree(ref); err != nil {
		return err
	}
	tarball := filepath.Join(work, "tree.tar")
	if _, err := sh("tar", "-C", ref, "-cf", tarball, "."); err != nil {
		return err
	}
	var bestFlint, bestTar time.Duration
	var rss int64
	for i := 0; i < runs; i++ {
		dst := filepath.Join(mnt, fmt.Sprintf("tar%d", i))
		os.MkdirAll(dst, 0o755)
		sh("sync")
		start := time.Now()
		if _, err := sh("tar", "-C", dst, "-xf", tarball); err != nil {
			return err
		}
		sh("sync")
		if d := time.Since(start); bestTar == 0 || d < bestTar {
			bestTar = d
		}
		root := filepath.Join(mnt, fmt.Sprintf("flint%d", i))
		os.MkdirAll(root, 0o755)
		sh("sync")
		cmd := exec.Command(bin, "apply", "--root", root, cfgPath)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		start = time.Now()
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("flint apply: %v\n%s", err, tail(stderr.String()))
		}
		sh("sync")
		if d := time.Since(start); bestFlint == 0 || d < bestFlint {
			bestFlint = d
		}
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && ru.Maxrss > rss {
			rss = ru.Maxrss
		}
		os.RemoveAll(dst)
		os.RemoveAll(root)
	}
	fmt.Printf("tree: 5000 files (data URLs), 500 dirs, 500 symlinks on loop ext4, best of %d\n", runs)
	fmt.Printf("  tar -x      %8.1f ms\n", ms(bestTar))
	fmt.Printf("  flint apply %8.1f ms   ratio %.2fx (target <= 2x)   peak RSS %.1f MiB\n", ms(bestFlint), float64(bestFlint)/float64(bestTar), float64(rss)/1024)

	// --- passwd + units benchmark ---
	root := filepath.Join(mnt, "users")
	if err := seed(root); err != nil {
		return err
	}
	ucfg := usersConfig()
	upath := filepath.Join(work, "users.ign")
	os.WriteFile(upath, ucfg, 0o600)
	cmd := exec.Command(bin, "apply", "--debug", "--root", root, upath)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("flint apply (users): %v\n%s", err, tail(stderr.String()))
	}
	d := time.Since(start)
	n := strings.Count(stderr.String(), "running: ") // one debug line per command the runner starts
	fmt.Printf("users: 50 users with SSH keys, 20 groups, 100 units with drop-ins\n")
	fmt.Printf("  flint apply %8.1f ms   external commands: %d\n", ms(d), n)
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func tail(s string) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	if len(l) > 15 {
		l = l[len(l)-15:]
	}
	return strings.Join(l, "\n")
}

type entry map[string]any

// treeConfig returns the config and a function creating the same tree.
func treeConfig() ([]byte, func(string) error) {
	var files, dirs, links []entry
	type fileT struct{ path, body string }
	var ft []fileT
	var dt []string
	var lt [][2]string
	for d := 0; d < 500; d++ {
		p := fmt.Sprintf("/d%03d/sub", d/10)
		if d%10 != 0 {
			p = fmt.Sprintf("/d%03d/sub%d", d/10, d%10)
		}
		dirs = append(dirs, entry{"path": p})
		dt = append(dt, p)
	}
	for i := 0; i < 5000; i++ {
		p := fmt.Sprintf("%s/f%04d.conf", dt[i%500], i)
		body := fmt.Sprintf("key%d = value %d\nsome more text for file %d\n", i, i*7, i)
		files = append(files, entry{"path": p, "contents": entry{"source": "data:," + url.PathEscape(body)}})
		ft = append(ft, fileT{p, body})
	}
	for i := 0; i < 500; i++ {
		p := fmt.Sprintf("%s/link%03d", dt[i], i)
		tgt := ft[i].path
		links = append(links, entry{"path": p, "target": tgt})
		lt = append(lt, [2]string{p, tgt})
	}
	cfg, _ := json.Marshal(entry{"ignition": entry{"version": "3.4.0"}, "storage": entry{"files": files, "directories": dirs, "links": links}})
	return cfg, func(root string) error {
		for _, d := range dt {
			if err := os.MkdirAll(root+d, 0o755); err != nil {
				return err
			}
		}
		for _, f := range ft {
			if err := os.WriteFile(root+f.path, []byte(f.body), 0o644); err != nil {
				return err
			}
		}
		for _, l := range lt {
			if err := os.Symlink(l[1], root+l[0]); err != nil {
				return err
			}
		}
		return nil
	}
}

func seed(root string) error {
	os.MkdirAll(root+"/etc", 0o755)
	os.MkdirAll(root+"/home", 0o755)
	files := map[string]string{
		"/etc/passwd": "root:x:0:0:root:/root:/bin/bash\n", "/etc/group": "root:x:0:\n",
		"/etc/shadow": "root:*:19000:0:99999:7:::\n", "/etc/gshadow": "root:*::\n",
	}
	for p, s := range files {
		if err := os.WriteFile(root+p, []byte(s), 0o600); err != nil {
			return err
		}
	}
	defs, err := os.ReadFile("/etc/login.defs")
	if err != nil {
		return err
	}
	return os.WriteFile(root+"/etc/login.defs", defs, 0o644)
}

func usersConfig() []byte {
	var users, groups, units []entry
	for g := 0; g < 20; g++ {
		groups = append(groups, entry{"name": fmt.Sprintf("grp%02d", g), "gid": 3000 + g})
	}
	for u := 0; u < 50; u++ {
		users = append(users, entry{"name": fmt.Sprintf("user%02d", u), "uid": 2000 + u,
			"groups":            []string{fmt.Sprintf("grp%02d", u%20)},
			"sshAuthorizedKeys": []string{fmt.Sprintf("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI%040d user%02d@bench", u, u)}})
	}
	for i := 0; i < 100; i++ {
		units = append(units, entry{"name": fmt.Sprintf("svc%03d.service", i), "enabled": i%2 == 0,
			"contents": fmt.Sprintf("[Unit]\nDescription=bench %d\n[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n", i),
			"dropins":  []entry{{"name": "10-env.conf", "contents": fmt.Sprintf("[Service]\nEnvironment=N=%d\n", i)}}})
	}
	cfg, _ := json.Marshal(entry{"ignition": entry{"version": "3.4.0"}, "passwd": entry{"users": users, "groups": groups}, "systemd": entry{"units": units}})
	return cfg
}
