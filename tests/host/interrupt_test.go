package host

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// tempFiles lists flint's temporary files (".<name>.flint-tmp-<random>")
// anywhere under dir.
func tempFiles(dir string) []string {
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".") && strings.Contains(d.Name(), ".flint-tmp-") {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// TestInterruptedApply stops `flint apply` while it streams a large
// remote file, with SIGTERM (flint removes its temporary file and exits
// with the failure code) and with SIGKILL (the temporary file stays behind
// under flint's one name pattern); in both cases nothing else in the root
// has changed, a re-run succeeds, and no temporary file is left anywhere.
func TestInterruptedApply(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		for _, fsType := range []string{"ext4", "xfs"} {
			t.Run(sig.String()+"/"+fsType, func(t *testing.T) {
				t.Parallel()
				base, err := os.MkdirTemp(fsRoots[fsType], "interrupt-")
				must(t, err)
				defer os.RemoveAll(base)
				r := &root{dir: filepath.Join(base, "root"), version: "3.4.0"}
				must(t, os.MkdirAll(r.dir, 0o755))
				writeFile(t, r, "/etc/keep", "keep", 0o644)
				id := randHex()
				cfg := expand(`{"ignition":{"version":"3.4.0"},"storage":{
				  "files":[{"path":"/etc/a","contents":{"source":"data:,a"}},
				           {"path":"/var/big/blob","mode":384,"contents":{"source":"http://$http/slow?id=`+id+`&mib=48"}},
				           {"path":"/etc/small","contents":{"source":"http://$http/contents"}}],
				  "directories":[{"path":"/srv/d"}]}}`, r)
				cfgPath := filepath.Join(base, "c.ign")
				must(t, os.WriteFile(cfgPath, []byte(cfg), 0o600))
				before := snapshot(t, r.dir)
				apply := func() *exec.Cmd {
					cmd := exec.Command(flintBin, "apply", "--root", r.dir, cfgPath)
					cmd.Env = append(os.Environ(), "FLINT_RUN_DIR="+filepath.Join(base, "run"))
					return cmd
				}
				cmd := apply()
				var out strings.Builder
				cmd.Stdout, cmd.Stderr = &out, &out
				must(t, cmd.Start())
				// wait until the big file is streaming into its temporary file
				deadline := time.Now().Add(60 * time.Second)
				for {
					if tf := tempFiles(r.dir); len(tf) > 0 {
						if fi, err := os.Stat(tf[0]); err == nil && fi.Size() > 1<<20 {
							break
						}
					}
					if time.Now().After(deadline) {
						cmd.Process.Kill()
						cmd.Wait()
						t.Fatalf("no temporary file appeared:\n%s", out.String())
					}
					time.Sleep(20 * time.Millisecond)
				}
				must(t, cmd.Process.Signal(sig))
				err = cmd.Wait()
				if err == nil {
					t.Fatalf("flint apply succeeded after %v:\n%s", sig, out.String())
				}
				left := tempFiles(r.dir)
				switch sig {
				case syscall.SIGTERM:
					if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() <= 0 {
						t.Fatalf("after SIGTERM flint should exit with its failure code, got %v:\n%s", err, out.String())
					}
					if len(left) > 0 {
						t.Fatalf("SIGTERM left temporary files %v:\n%s", left, out.String())
					}
				case syscall.SIGKILL:
					blob := false
					for _, l := range left {
						blob = blob || strings.HasPrefix(filepath.Base(l), ".blob.flint-tmp-")
					}
					if !blob {
						t.Fatalf("after SIGKILL want the leftover .blob.flint-tmp-*, got %v", left)
					}
				}
				// nothing visible changed: every fetch comes before the first
				// write (directories in which temporary files came and went
				// have a new mtime, nothing else)
				var visible []string
				for _, l := range snapshot(t, r.dir) {
					if !strings.Contains(l, ".flint-tmp-") {
						visible = append(visible, l)
					}
				}
				if !equalSnap(dirMtimeless(before), dirMtimeless(visible)) {
					t.Fatalf("the interrupted run changed the root:\nbefore %v\nafter  %v", before, visible)
				}
				// a re-run succeeds and leaves no debris
				rerun := apply()
				if b, err := rerun.CombinedOutput(); err != nil {
					t.Fatalf("re-run failed: %v\n%s", err, b)
				}
				if left := tempFiles(r.dir); len(left) > 0 {
					t.Fatalf("temporary files left after the re-run: %v", left)
				}
				fi, err := os.Stat(r.p("/var/big/blob"))
				must(t, err)
				if fi.Size() != 48<<20 || fi.Mode().Perm() != 0o600 {
					t.Fatalf("/var/big/blob: size %d mode %v", fi.Size(), fi.Mode())
				}
				wantFile(t, r, "/etc/a", "a", 0o644, 0, 0)
				wantFile(t, r, "/etc/small", contentsText, 0o644, 0, 0)
				wantDir(t, r, "/srv/d", 0o755, 0, 0)
			})
		}
	}
}

// dirMtimeless drops the size and mtime of directories from snapshot
// lines ("path mode uid:gid size mtime(4 fields) ino...").
func dirMtimeless(snap []string) []string {
	out := make([]string, len(snap))
	for i, l := range snap {
		f := strings.Fields(l)
		m := 1
		if strings.HasPrefix(l, " ") {
			m = 0 // the root itself: empty path
		}
		if len(f) > m+6 && strings.HasPrefix(f[m], "d") {
			l = strings.Join(append(f[:m+2:m+2], f[m+7:]...), " ")
		}
		out[i] = l
	}
	return out
}
