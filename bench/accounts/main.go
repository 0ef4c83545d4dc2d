// Command accounts benchmarks the accounts part of `flint apply` (run as
// root): 50 users (hash, two groups, an SSH key, a home from /etc/skel)
// and 20 groups, written into a root on a freshly made loop-mounted ext4,
// the whole flint process timed with a sync counted. Three ways, in the
// same run:
//
//   - in-process: the accounts writer;
//   - tools: the same flint binary on a root whose nsswitch.conf names a
//     source flint does not model, so it runs the shadow tools per account
//     (what flint did before, and what Ignition does);
//   - floor: `tar -x` of the resulting /etc and /home (+ sync).
//
// It also counts the processes flint started (strace -f -e execve), and
// times 1,000 and 2,000 users to show that adding accounts is linear.
//
// Usage: go run ./bench/accounts [-flint bin/flint] [-runs 3]
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/flintboot/flint/bench/internal/summary"
)

func main() {
	bin := flag.String("flint", "bin/flint", "flint binary")
	runs := flag.Int("runs", 3, "runs per measurement (best is reported)")
	flag.Parse()
	if err := run(*bin, *runs); err != nil {
		fmt.Fprintln(os.Stderr, "bench/accounts:", err)
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

func config() []byte {
	var groups, users []any
	for i := 0; i < 20; i++ {
		groups = append(groups, map[string]any{"name": fmt.Sprintf("grp%d", i)})
	}
	for i := 0; i < 50; i++ {
		users = append(users, map[string]any{"name": fmt.Sprintf("user%d", i), "gecos": fmt.Sprintf("User %d", i),
			"passwordHash":      fmt.Sprintf("$6$salt%d$benchbenchbenchbenchbench", i),
			"groups":            []string{fmt.Sprintf("grp%d", i%20), "wheel"},
			"sshAuthorizedKeys": []string{fmt.Sprintf("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKey%d u%d@example", i, i)}})
	}
	b, _ := json.Marshal(map[string]any{"ignition": map[string]any{"version": "3.4.0"},
		"passwd": map[string]any{"groups": groups, "users": users}})
	return b
}

// fresh makes a new ext4 on a loop device, mounts it and seeds a root;
// the returned func unmounts and detaches.
func fresh(work string, tools bool) (string, func(), error) {
	img := filepath.Join(work, "fs.img")
	os.Remove(img)
	f, err := os.Create(img)
	if err != nil {
		return "", nil, err
	}
	f.Truncate(256 << 20)
	f.Close()
	dev, err := sh("losetup", "--find", "--show", img)
	if err != nil {
		return "", nil, err
	}
	dev = strings.TrimSpace(dev)
	mnt := filepath.Join(work, "mnt")
	os.MkdirAll(mnt, 0o755)
	done := func() { sh("umount", mnt); sh("losetup", "-d", dev) }
	if _, err := sh("mkfs.ext4", "-q", "-F", dev); err != nil {
		done()
		return "", nil, err
	}
	if _, err := sh("mount", dev, mnt); err != nil {
		sh("losetup", "-d", dev)
		return "", nil, err
	}
	root := filepath.Join(mnt, "root")
	defs, err := os.ReadFile("/etc/login.defs")
	if err != nil {
		done()
		return "", nil, err
	}
	files := map[string]string{
		"etc/passwd":       "root:x:0:0:root:/root:/bin/bash\ncore:x:500:500::/home/core:/bin/bash\n",
		"etc/group":        "root:x:0:\nwheel:x:10:root\ncore:x:500:\n",
		"etc/shadow":       "root:*:19000:0:99999:7:::\ncore:*:19000:0:99999:7:::\n",
		"etc/gshadow":      "root:*::\nwheel:*::root\ncore:!::\n",
		"etc/login.defs":   string(defs),
		"etc/skel/.bashrc": "# bashrc\n", "etc/skel/.profile": "# profile\n",
	}
	if tools {
		files["etc/nsswitch.conf"] = "passwd: files sss\ngroup: files sss\n"
	}
	for k, v := range files {
		p := filepath.Join(root, k)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
			done()
			return "", nil, err
		}
	}
	os.MkdirAll(filepath.Join(root, "home"), 0o755)
	sh("sync")
	return root, done, nil
}

func timed(f func() error) (time.Duration, error) {
	t := time.Now()
	if err := f(); err != nil {
		return 0, err
	}
	if _, err := sh("sync"); err != nil {
		return 0, err
	}
	return time.Since(t), nil
}

func run(bin string, runs int) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("must run as root")
	}
	bin, _ = filepath.Abs(bin)
	work, err := os.MkdirTemp("", "flint-bench-accounts-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	cfg := filepath.Join(work, "accounts.ign")
	if err := os.WriteFile(cfg, config(), 0o600); err != nil {
		return err
	}
	applyCfg := func(root, strace, cfg string) error {
		args := []string{bin, "apply", "--root", root, cfg}
		name := bin
		if strace != "" {
			name, args = "strace", append([]string{"-f", "-qq", "-e", "trace=execve", "-o", strace}, args...)
		} else {
			args = args[1:]
		}
		cmd := exec.Command(name, args...)
		cmd.Env = append(os.Environ(), "FLINT_RUN_DIR="+filepath.Join(work, "run"))
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("flint apply: %v\n%s", err, out)
		}
		return nil
	}
	apply := func(root, strace string) error { return applyCfg(root, strace, cfg) }
	best := map[string]time.Duration{}
	procs := map[string]int{}
	tarball := filepath.Join(work, "result.tar")
	for i := 0; i < runs; i++ {
		for _, mode := range []string{"in-process", "tools"} {
			root, done, err := fresh(work, mode == "tools")
			if err != nil {
				return err
			}
			d, err := timed(func() error { return apply(root, "") })
			if err == nil && mode == "in-process" && i == 0 {
				_, err = sh("tar", "-C", root, "-cf", tarball, "etc", "home")
			}
			done()
			if err != nil {
				return err
			}
			if best[mode] == 0 || d < best[mode] {
				best[mode] = d
			}
		}
		// floor: the resulting files unpacked on a fresh filesystem
		root, done, err := fresh(work, false)
		if err != nil {
			return err
		}
		os.RemoveAll(filepath.Join(root, "etc"))
		d, err := timed(func() error { _, err := sh("tar", "-C", root, "-xpf", tarball); return err })
		done()
		if err != nil {
			return err
		}
		if best["floor"] == 0 || d < best["floor"] {
			best["floor"] = d
		}
	}
	for _, mode := range []string{"in-process", "tools"} {
		root, done, err := fresh(work, mode == "tools")
		if err != nil {
			return err
		}
		trace := filepath.Join(work, "trace-"+mode)
		err = apply(root, trace)
		done()
		if err != nil {
			return err
		}
		b, _ := os.ReadFile(trace)
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, "execve(") && !strings.Contains(l, "= -1") && !strings.Contains(l, bin) {
				procs[mode]++
			}
		}
	}
	fmt.Printf("accounts: 50 users (hash, 2 groups, SSH key, home from skel) + 20 groups, loop ext4, sync counted, best of %d\n", runs)
	fmt.Printf("  %-12s %10s %8s %s\n", "", "wall", "ratio", "processes started by flint")
	for _, mode := range []string{"in-process", "tools", "floor"} {
		p := "-"
		if mode != "floor" {
			p = fmt.Sprint(procs[mode])
		}
		fmt.Printf("  %-12s %10s %7.1fx %s\n", mode, best[mode].Round(time.Millisecond), float64(best[mode])/float64(best["floor"]), p)
		if mode == "in-process" {
			summary.Add("accounts (50 users, 20 groups)", fmt.Sprintf("%.1fx floor, %s processes (tools: %s)", float64(best[mode])/float64(best["floor"]), p, best["tools"].Round(time.Millisecond)),
				"0 processes", p == "0")
		}
	}
	// scaling: N users with a home each, added to the same root; each
	// account must cost the same however many came before it
	var scale [2]time.Duration
	for k, n := range []int{1000, 2000} {
		path := filepath.Join(work, fmt.Sprintf("users%d.ign", n))
		if err := os.WriteFile(path, manyUsers(n), 0o600); err != nil {
			return err
		}
		for range runs {
			root, done, err := fresh(work, false)
			if err != nil {
				return err
			}
			d, err := timed(func() error { return applyCfg(root, "", path) })
			done()
			if err != nil {
				return err
			}
			if scale[k] == 0 || d < scale[k] {
				scale[k] = d
			}
		}
	}
	growth := float64(scale[1]) / float64(scale[0])
	fmt.Printf("  1,000 users %s, 2,000 users %s: x%.2f (linear: ~2)\n", scale[0].Round(time.Millisecond), scale[1].Round(time.Millisecond), growth)
	summary.Add("accounts 2,000 / 1,000 users", fmt.Sprintf("%.2fx (%d / %d ms)", growth, scale[1].Milliseconds(), scale[0].Milliseconds()),
		"linear (~2x; quadratic would be ~4x)", growth < 3)
	return nil
}

// manyUsers is a config of n users with nothing but a name (a home from
// /etc/skel each, ids allocated).
func manyUsers(n int) []byte {
	users := make([]any, n)
	for i := range users {
		users[i] = map[string]any{"name": fmt.Sprintf("u%05d", i)}
	}
	b, _ := json.Marshal(map[string]any{"ignition": map[string]any{"version": "3.4.0"}, "passwd": map[string]any{"users": users}})
	return b
}
