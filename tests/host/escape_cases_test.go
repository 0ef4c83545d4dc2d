package host

import (
	"os"
	"testing"
)

// Symlinks in the target root are interpreted inside it: a link to "/",
// a relative link climbing with "..", a symlinked leading directory or a
// home directory pointing outside must never let a write land outside
// the root. runCase checks the host canaries and the sibling directory
// after every case; these cases also check where the write did land.
func TestSymlinkEscapes(t *testing.T) { runCases(t, escapeCases()) }

func escapeCases() []tc {
	return []tc{
		{name: "escape.absolute.link", fs: []string{"xfs", "btrfs"}, config: storage(`"files":[{"path":"/escape/tmp/$canary","contents":{"source":"data:,x"}}]`),
			setup: func(t *testing.T, r *root) { symlink(t, r, "/escape", "/") },
			check: func(t *testing.T, r *root) { wantFile(t, r, "/tmp/"+r.canary, "x", 0o644, 0, 0) }},
		{name: "escape.relative.link", config: storage(`"files":[{"path":"/a/b/up/$canary","contents":{"source":"data:,x"}}],"directories":[{"path":"/a/b/up/d-$canary"}]`),
			setup: func(t *testing.T, r *root) { mkdir(t, r, "/a/b"); symlink(t, r, "/a/b/up", "../../../../../../../..") },
			check: func(t *testing.T, r *root) {
				wantFile(t, r, "/"+r.canary, "x", 0o644, 0, 0)
				wantDir(t, r, "/d-"+r.canary, 0o755, 0, 0)
			}},
		{name: "escape.leading.dir", config: units(`{"name":"$canary.service","contents":"[Service]\nExecStart=/bin/true\n","enabled":true}`),
			// /etc/systemd points at the absolute host path of the sibling dir
			setup: func(t *testing.T, r *root) { symlink(t, r, "/etc/systemd", r.outside) },
			check: func(t *testing.T, r *root) {
				wantFile(t, r, r.outside+"/system/"+r.canary+".service", "[Service]\nExecStart=/bin/true\n", 0o644, 0, 0)
				wantContains(t, r, r.outside+"/system-preset/20-flint.preset", "enable "+r.canary+".service")
			}},
		{name: "escape.leading.dir.relative", config: storage(`"files":[{"path":"/etc/x/$canary","contents":{"source":"data:,x"}}],"links":[{"path":"/etc/x/l","target":"/etc/shadow","hard":true}]`),
			setup: func(t *testing.T, r *root) {
				writeFile(t, r, "/etc/shadow", "inroot", 0o600)
				symlink(t, r, "/etc/x", "../../outside")
			},
			check: func(t *testing.T, r *root) {
				// ../../outside climbs to the root and stays there: /outside
				wantFile(t, r, "/outside/"+r.canary, "x", 0o644, 0, 0)
				wantHardlink(t, r, "/outside/l", "/etc/shadow")
			}},
		{name: "escape.overwrite.link.to.root", config: storage(`"files":[{"path":"/escape","overwrite":true,"contents":{"source":"data:,x"}}]`),
			setup: func(t *testing.T, r *root) { symlink(t, r, "/escape", "/") },
			check: func(t *testing.T, r *root) {
				wantFile(t, r, "/escape", "x", 0o644, 0, 0)
				if _, err := os.Stat("/etc/passwd"); err != nil {
					t.Fatalf("host damaged: %v", err)
				}
			}},
		{name: "escape.hardlink.target", config: storage(`"links":[{"path":"/hl","target":"/escape/etc/shadow","hard":true}]`),
			setup: func(t *testing.T, r *root) {
				writeFile(t, r, "/etc/shadow", "inroot", 0o600)
				symlink(t, r, "/escape", "/")
			},
			check: func(t *testing.T, r *root) { wantHardlink(t, r, "/hl", "/etc/shadow") }},
		{name: "escape.ssh.home", passwd: true, config: passwd(`"users":[{"name":"core","sshAuthorizedKeys":["` + key1 + `"]}]`),
			setup: func(t *testing.T, r *root) {
				must(t, os.RemoveAll(r.p("/home/core")))
				symlink(t, r, "/home/core", r.outside)
			},
			check: func(t *testing.T, r *root) { wantContains(t, r, r.outside+"/.ssh/authorized_keys.d/flint", key1) }},
		{name: "escape.link.loop", negative: true, errHas: "too many levels of symbolic links",
			config: storage(`"files":[` + other + `,{"path":"/l1/$canary","contents":{"source":"data:,x"}}]`),
			setup:  func(t *testing.T, r *root) { symlink(t, r, "/l1", "/l2"); symlink(t, r, "/l2", "l1") },
			check:  func(t *testing.T, r *root) { wantMissing(t, r, "/other") }},
		{name: "escape.directory.over.link", negative: true, errHas: "overwrite is false",
			config: storage(`"files":[` + other + `],"directories":[{"path":"/escape","mode":511}]`),
			setup:  func(t *testing.T, r *root) { symlink(t, r, "/escape", "/") },
			check: func(t *testing.T, r *root) {
				wantMissing(t, r, "/other")
				if fi, _ := os.Stat("/"); fi.Mode().Perm() == 0o777 {
					t.Fatal("host / mode changed")
				}
			}},
	}
}
