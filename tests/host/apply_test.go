package host

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPlanChangesNothing snapshots a seeded root, runs `flint plan` with a
// config touching every kind of entry, and requires the tree unchanged
// and every action listed.
func TestPlanChangesNothing(t *testing.T) {
	for _, fsType := range []string{"ext4", "xfs", "btrfs"} {
		t.Run(fsType, func(t *testing.T) {
			base, err := os.MkdirTemp(fsRoots[fsType], "plan-")
			must(t, err)
			defer os.RemoveAll(base)
			r := &root{dir: filepath.Join(base, "root"), outside: filepath.Join(base, "outside"), version: "3.4.0"}
			must(t, os.MkdirAll(r.dir, 0o755))
			seedPasswd(t, r.dir)
			writeFile(t, r, "/etc/old", "old", 0o644)
			mkdir(t, r, "/var/lib/gone/sub")
			symlink(t, r, "/escape", "/")
			cfg := expand(`{"ignition":{"version":"$version"},
			 "passwd":{"users":[{"name":"new","sshAuthorizedKeys":["`+key1+`"],"passwordHash":"$6$x$SECRETHASH"},{"name":"core","shell":"/bin/sh"}],"groups":[{"name":"g9"}]},
			 "storage":{"files":[{"path":"/etc/old","overwrite":true,"contents":{"source":"http://$http/contents"}},{"path":"/escape/tmp/x","contents":{"source":"data:,x"}}],
			  "directories":[{"path":"/var/lib/gone","overwrite":true}],
			  "links":[{"path":"/usr/bin/l","target":"/bin/sh"},{"path":"/etc/hl","target":"/etc/old","hard":true}]},
			 "systemd":{"units":[{"name":"a.service","enabled":true,"contents":"[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n"},{"name":"b.service","mask":true}]}}`, r)
			cfgPath := filepath.Join(base, "c.ign")
			must(t, os.WriteFile(cfgPath, []byte(cfg), 0o600))
			before := snapshot(t, r.dir)
			cmd := exec.Command(flintBin, "plan", "--root", r.dir, cfgPath)
			cmd.Env = append(os.Environ(), "FLINT_RUN_DIR="+filepath.Join(base, "run"))
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("flint plan: %v\n%s", err, out)
			}
			after := snapshot(t, r.dir)
			if !equalSnap(before, after) {
				t.Fatalf("flint plan changed the root:\nbefore %v\nafter  %v", before, after)
			}
			for _, want := range []string{"fetch ", "groupadd ", "useradd ", "usermod ", "ssh-keys ", "remove ", "write-file ", "/etc/old",
				"/escape/tmp/x", "mkdir ", "/var/lib/gone", "symlink ", "hardlink ", "write-unit ", "mask ", "write-preset "} {
				if !strings.Contains(string(out), want) {
					t.Errorf("plan output lacks %q:\n%s", want, out)
				}
			}
			if strings.Contains(string(out), "SECRETHASH") {
				t.Fatalf("plan output shows the password hash:\n%s", out)
			}
		})
	}
}

func TestApplyRefusesUnsupported(t *testing.T) {
	runCases(t, []tc{
		{name: "apply.unsupported.filesystems", negative: true, errHas: "cannot apply storage.filesystems live",
			config: `{"ignition":{"version":"$version"},"storage":{"filesystems":[{"device":"/dev/loop99","format":"ext4","path":"/var"}],"files":[` + other + `]}}`,
			check:  func(t *testing.T, r *root) { wantMissing(t, r, "/other") }},
		{name: "apply.unsupported.kargs", min: "3.3.0", negative: true, errHas: "cannot apply kernelArguments live",
			config: `{"ignition":{"version":"$version"},"kernelArguments":{"shouldExist":["quiet"]}}`},
		{name: "apply.ignore.unsupported", args: []string{"--ignore-unsupported"},
			config: `{"ignition":{"version":"$version"},"storage":{"disks":[{"device":"/dev/loop99","wipeTable":true}],"files":[` + other + `]}}`,
			check:  func(t *testing.T, r *root) { wantFile(t, r, "/other", "other", 0o644, 0, 0) }},
		{name: "apply.offline.refuses.network", args: []string{"--offline"}, negative: true, errHas: "resource requires networking",
			config: `{"ignition":{"version":"$version"},"storage":{"files":[` + other + `,{"path":"/x","contents":{"source":"http://$http/contents"}}]}}`,
			check:  func(t *testing.T, r *root) { wantMissing(t, r, "/other") }},
		{name: "config.merge.http", config: `{"ignition":{"version":"$version","config":{"merge":[{"source":"http://$http/config?v=$version"}]}},"storage":{"files":[` + other + `]}}`,
			check: func(t *testing.T, r *root) {
				wantFile(t, r, "/merged", "merged", 0o644, 0, 0)
				wantFile(t, r, "/other", "other", 0o644, 0, 0)
			}},
		{name: "config.replace.http", config: `{"ignition":{"version":"$version","config":{"replace":{"source":"http://$http/config?v=$version"}}},"storage":{"files":[` + other + `]}}`,
			check: func(t *testing.T, r *root) {
				wantFile(t, r, "/merged", "merged", 0o644, 0, 0)
				wantMissing(t, r, "/other")
			}},
		{name: "config.merge.http.notfound", negative: true, errHas: "not found",
			config: `{"ignition":{"version":"$version","config":{"merge":[{"source":"http://$http/nope"}]}},"storage":{"files":[` + other + `]}}`,
			check:  func(t *testing.T, r *root) { wantMissing(t, r, "/other") }},
		{name: "config.merge.badhash", negative: true, errHas: "hash verification failed",
			config: `{"ignition":{"version":"$version","config":{"merge":[{"source":"http://$http/config?v=$version","verification":{"hash":"sha512-` + sha512Hex("x") + `"}}]}}}`},
		{name: "config.invalid", negative: true, errHas: "path not absolute",
			config: `{"ignition":{"version":"$version"},"storage":{"files":[{"path":"relative"}]}}`},
	})
}

// TestBaseConfigs: base.d fragments from flint's and Ignition's directories
// merge under the user config; for one file name flint's dir wins.
func TestBaseConfigs(t *testing.T) {
	runCases(t, []tc{{name: "multidir.base.d.merged.across.dirs", args: []string{"--base-configs"},
		config: `{"ignition":{"version":"$version"},"storage":{"files":[{"path":"/user","contents":{"source":"data:,user"}},{"path":"/both","overwrite":true,"contents":{"source":"data:,user"}}]}}`,
		setup: func(t *testing.T, r *root) {
			frag := func(dir, name, path, val string) {
				must(t, os.MkdirAll(filepath.Join(r.base, dir, "base.d"), 0o755))
				must(t, os.WriteFile(filepath.Join(r.base, dir, "base.d", name), []byte(`{"ignition":{"version":"3.0.0"},"storage":{"files":[{"path":"`+path+`","contents":{"source":"data:,`+val+`"}}]}}`), 0o644))
			}
			frag("flint-lib", "10-a.ign", "/a", "flint")
			frag("ign-lib", "10-a.ign", "/a", "ignition") // shadowed by flint's 10-a.ign
			frag("ign-lib", "20-b.ign", "/b", "ignition")
			frag("ign-etc", "30-c.ign", "/both", "base")
		},
		env: nil,
		check: func(t *testing.T, r *root) {
			wantFile(t, r, "/a", "flint", 0o644, 0, 0)
			wantFile(t, r, "/b", "ignition", 0o644, 0, 0)
			wantFile(t, r, "/both", "user", 0o644, 0, 0)
			wantFile(t, r, "/user", "user", 0o644, 0, 0)
		},
	}})
}
