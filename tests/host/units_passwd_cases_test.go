package host

import (
	"os"
	"strings"
	"testing"
)

func TestUnits(t *testing.T)  { runCases(t, unitCases()) }
func TestPasswd(t *testing.T) { runCases(t, passwdCases()) }

func units(s string) string {
	return `{"ignition":{"version":"$version"},"systemd":{"units":[` + s + `]}}`
}

const svc = `[Unit]\nDescription=test\n[Service]\nType=oneshot\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n`
const svcText = "[Unit]\nDescription=test\n[Service]\nType=oneshot\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n"

const preset = "/etc/systemd/system-preset/20-flint.preset"

func unitCases() []tc {
	return []tc{
		{name: "systemd.unit.create", fs: []string{"xfs", "btrfs"}, config: units(`{"name":"foo.service","enabled":true,"contents":"` + svc + `","dropins":[{"name":"a.conf","contents":"[Service]\nEnvironment=A=1\n"}]}`),
			check: func(t *testing.T, r *root) {
				wantFile(t, r, "/etc/systemd/system/foo.service", svcText, 0o644, 0, 0)
				wantFile(t, r, "/etc/systemd/system/foo.service.d/a.conf", "[Service]\nEnvironment=A=1\n", 0o644, 0, 0)
				wantFile(t, r, preset, "enable foo.service\n", 0o644, 0, 0)
			}},
		{name: "systemd.unit.modify", config: units(`{"name":"foo.service","contents":"` + svc + `"}`),
			setup: func(t *testing.T, r *root) { writeFile(t, r, "/etc/systemd/system/foo.service", "old", 0o600) },
			check: func(t *testing.T, r *root) {
				wantFile(t, r, "/etc/systemd/system/foo.service", svcText, 0o644, 0, 0)
				wantMissing(t, r, preset)
			}},
		{name: "systemd.unit.mask", config: units(`{"name":"foo.service","mask":true}`),
			check: func(t *testing.T, r *root) { wantSymlink(t, r, "/etc/systemd/system/foo.service", "/dev/null") }},
		{name: "unit.mask", config: units(`{"name":"foo.service","mask":true}`),
			setup: func(t *testing.T, r *root) { writeFile(t, r, "/etc/systemd/system/foo.service", svcText, 0o644) },
			check: func(t *testing.T, r *root) { wantSymlink(t, r, "/etc/systemd/system/foo.service", "/dev/null") }},
		{name: "unit.unmask", config: units(`{"name":"foo.service","mask":false},{"name":"bar.service","mask":false}`),
			setup: func(t *testing.T, r *root) {
				symlink(t, r, "/etc/systemd/system/foo.service", "/dev/null")
				symlink(t, r, "/etc/systemd/system/bar.service", "/usr/lib/systemd/system/bar.service")
			},
			check: func(t *testing.T, r *root) {
				wantMissing(t, r, "/etc/systemd/system/foo.service")
				wantSymlink(t, r, "/etc/systemd/system/bar.service", "/usr/lib/systemd/system/bar.service")
			}},
		{name: "unit.create.emptydropin", config: units(`{"name":"foo.service","dropins":[{"name":"empty.conf","contents":""},{"name":"none.conf"}]}`),
			check: func(t *testing.T, r *root) {
				wantFile(t, r, "/etc/systemd/system/foo.service.d/empty.conf", "", 0o644, 0, 0)
				wantMissing(t, r, "/etc/systemd/system/foo.service.d/none.conf")
			}},
		{name: "instantiated.unit.create", config: units(`{"name":"echo@.service","contents":"[Service]\nExecStart=/bin/echo %i\n[Install]\nWantedBy=multi-user.target\n"},{"name":"echo@bar.service","enabled":true},{"name":"echo@foo.service","enabled":true}`),
			check: func(t *testing.T, r *root) {
				wantContains(t, r, "/etc/systemd/system/echo@.service", "ExecStart=/bin/echo %i")
				wantFile(t, r, preset, "enable echo@.service bar foo\n", 0o644, 0, 0)
			}},
		{name: "unit.presets.sorted", config: units(`{"name":"zz.service","enabled":true},{"name":"aa.service","enabled":false},{"name":"mm.socket","enabled":true},{"name":"t@2.timer","enabled":true},{"name":"t@1.timer","enabled":true},{"name":"bb.service","enabled":true}`),
			check: func(t *testing.T, r *root) {
				// aa.service is not enabled in the root: no disable line for it
				wantFile(t, r, preset, "enable bb.service\nenable mm.socket\nenable t@.timer 1 2\nenable zz.service\n", 0o644, 0, 0)
			}},
		{name: "unit.presets.sorted.enabled.disable", config: units(`{"name":"zz.service","enabled":true},{"name":"aa.service","enabled":false},{"name":"t@2.timer","enabled":false},{"name":"t@1.timer","enabled":false}`),
			setup: func(t *testing.T, r *root) {
				writeFile(t, r, "/usr/lib/systemd/system/aa.service", svcText, 0o644)
				symlink(t, r, "/etc/systemd/system/multi-user.target.wants/aa.service", "/usr/lib/systemd/system/aa.service")
				writeFile(t, r, "/usr/lib/systemd/system/t@.timer", "[Timer]\nOnCalendar=daily\n[Install]\nWantedBy=timers.target\n", 0o644)
				symlink(t, r, "/etc/systemd/system/timers.target.wants/t@2.timer", "/usr/lib/systemd/system/t@.timer")
			},
			check: func(t *testing.T, r *root) {
				wantFile(t, r, preset, "disable aa.service\ndisable t@.timer 2\nenable zz.service\n", 0o644, 0, 0)
				// the links are gone, and the directories they left empty
				wantMissing(t, r, "/etc/systemd/system/multi-user.target.wants")
				wantMissing(t, r, "/etc/systemd/system/timers.target.wants")
			}},
		// two disabled units share a .wants directory, with a unit written
		// between them: the second check sees what the first removed, so
		// the directory left empty goes too
		{name: "unit.disable.shared.wants", config: units(`{"name":"aa.service","enabled":false},{"name":"mid.service","contents":"[Service]\nExecStart=/bin/true\n"},{"name":"bb.service","enabled":false}`),
			setup: func(t *testing.T, r *root) {
				writeFile(t, r, "/usr/lib/systemd/system/aa.service", svcText, 0o644)
				writeFile(t, r, "/usr/lib/systemd/system/bb.service", svcText, 0o644)
				symlink(t, r, "/etc/systemd/system/multi-user.target.wants/aa.service", "/usr/lib/systemd/system/aa.service")
				symlink(t, r, "/etc/systemd/system/multi-user.target.wants/bb.service", "/usr/lib/systemd/system/bb.service")
			},
			check: func(t *testing.T, r *root) {
				wantMissing(t, r, "/etc/systemd/system/multi-user.target.wants")
				wantContains(t, r, "/etc/systemd/system/mid.service", "ExecStart=/bin/true")
				wantFile(t, r, preset, "disable aa.service\ndisable bb.service\n", 0o644, 0, 0)
			}},
		// enabled:false for a unit that is not enabled writes nothing at all
		{name: "unit.disable.not.enabled.writes.nothing", config: units(`{"name":"aa.service","enabled":false},{"name":"bb.service","enabled":false}`),
			setup: func(t *testing.T, r *root) { writeFile(t, r, "/usr/lib/systemd/system/bb.service", svcText, 0o644) },
			check: func(t *testing.T, r *root) {
				wantMissing(t, r, "/etc/systemd/system-preset")
				wantMissing(t, r, "/etc/systemd/system")
			}},
		// enabled:false undoes an existing enablement with systemctl --root
		{name: "unit.remove.symlinks", config: units(`{"name":"foo.service","enabled":false}`),
			setup: func(t *testing.T, r *root) {
				writeFile(t, r, "/etc/systemd/system/foo.service", svcText, 0o644)
				symlink(t, r, "/etc/systemd/system/multi-user.target.wants/foo.service", "/etc/systemd/system/foo.service")
			},
			check: func(t *testing.T, r *root) {
				wantMissing(t, r, "/etc/systemd/system/multi-user.target.wants/foo.service")
				wantFile(t, r, preset, "disable foo.service\n", 0o644, 0, 0)
			}},
	}
}

func passwd(s string) string { return `{"ignition":{"version":"$version"},"passwd":{` + s + `}}` }

func passwdLine(t *testing.T, r *root, file, name string) string {
	t.Helper()
	b, err := os.ReadFile(r.p(file))
	must(t, err)
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, name+":") {
			return l
		}
	}
	return ""
}

const key1 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKey1 one@example"
const key2 = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQKey2 two@example"

func passwdCases() []tc {
	return []tc{
		{name: "users.add", passwd: true, fs: []string{"xfs", "btrfs"},
			config: passwd(`"users":[{"name":"test","uid":1234,"gecos":"Test User","homeDir":"/home/tester","shell":"/bin/sh","groups":["wheel","docker"],"primaryGroup":"wheel","passwordHash":"$6$salt$hashhashhash"},{"name":"sys","system":true,"noCreateHome":true,"noUserGroup":true}]`),
			check: func(t *testing.T, r *root) {
				if l := passwdLine(t, r, "/etc/passwd", "test"); l != "test:x:1234:10:Test User:/home/tester:/bin/sh" {
					t.Fatalf("passwd line %q", l)
				}
				if l := passwdLine(t, r, "/etc/shadow", "test"); !strings.HasPrefix(l, "test:$6$salt$hashhashhash:") {
					t.Fatalf("shadow line %q", l)
				}
				if l := passwdLine(t, r, "/etc/group", "docker"); !strings.Contains(l, "test") {
					t.Fatalf("docker group %q", l)
				}
				wantDir(t, r, "/home/tester", 0, 1234, 10)
				if l := passwdLine(t, r, "/etc/passwd", "sys"); l == "" {
					t.Fatal("system user missing")
				}
				wantMissing(t, r, "/home/sys")
				if strings.Contains(r.out, "hashhashhash") {
					t.Fatalf("password hash leaked into the log:\n%s", r.out)
				}
			}},
		{name: "users.modify", passwd: true, config: passwd(`"users":[{"name":"core","gecos":"Changed","shell":"/bin/sh"}]`),
			check: func(t *testing.T, r *root) {
				if l := passwdLine(t, r, "/etc/passwd", "core"); l != "core:x:500:500:Changed:/home/core:/bin/sh" {
					t.Fatalf("passwd line %q", l)
				}
			}},
		{name: "users.delete", min: "3.2.0", passwd: true, config: passwd(`"users":[{"name":"olduser","shouldExist":false},{"name":"neverexisted","shouldExist":false}]`),
			check: func(t *testing.T, r *root) {
				if l := passwdLine(t, r, "/etc/passwd", "olduser"); l != "" {
					t.Fatalf("olduser still there: %q", l)
				}
				wantMissing(t, r, "/home/olduser")
			}},
		{name: "groups.add", passwd: true, config: passwd(`"groups":[{"name":"g1","gid":4321},{"name":"g2","system":true}]`),
			check: func(t *testing.T, r *root) {
				if l := passwdLine(t, r, "/etc/group", "g1"); l != "g1:x:4321:" {
					t.Fatalf("group line %q", l)
				}
				if l := passwdLine(t, r, "/etc/group", "g2"); l == "" {
					t.Fatal("g2 missing")
				}
			}},
		{name: "groups.delete", min: "3.2.0", passwd: true, config: passwd(`"groups":[{"name":"oldgroup","shouldExist":false}]`),
			check: func(t *testing.T, r *root) {
				if l := passwdLine(t, r, "/etc/group", "oldgroup"); l != "" {
					t.Fatalf("oldgroup still there: %q", l)
				}
			}},
		{name: "groups.ensure.idempotent", passwd: true, config: passwd(`"groups":[{"name":"docker","gid":999},{"name":"core"}]`),
			check: func(t *testing.T, r *root) {
				if l := passwdLine(t, r, "/etc/group", "docker"); l != "docker:x:999:" {
					t.Fatalf("group line %q", l)
				}
			}},
		{name: "users.authorized_keys", passwd: true, config: passwd(`"users":[{"name":"core","sshAuthorizedKeys":["` + key1 + `","` + key2 + `"]},{"name":"new","sshAuthorizedKeys":["` + key1 + `"]}]`),
			check: func(t *testing.T, r *root) {
				wantDir(t, r, "/home/core/.ssh", 0o700, 500, 500)
				wantDir(t, r, "/home/core/.ssh/authorized_keys.d", 0o700, 500, 500)
				wantFile(t, r, "/home/core/.ssh/authorized_keys.d/flint", key1+"\n"+key2+"\n", 0o600, 500, 500)
				wantMissing(t, r, "/home/core/.ssh/authorized_keys")
				wantContains(t, r, "/home/new/.ssh/authorized_keys.d/flint", key1)
			}},
		{name: "users.authorized_keys.flatcar", passwd: true, env: []string{"FLINT_AUTHORIZED_KEYS_FRAGMENT=false"},
			config: passwd(`"users":[{"name":"core","sshAuthorizedKeys":["` + key1 + `"]}]`),
			check: func(t *testing.T, r *root) {
				wantFile(t, r, "/home/core/.ssh/authorized_keys", key1+"\n", 0o600, 500, 500)
				wantMissing(t, r, "/home/core/.ssh/authorized_keys.d")
			}},
		{name: "files.owner.newuser", passwd: true, config: `{"ignition":{"version":"$version"},"passwd":{"users":[{"name":"svc","uid":2000}],"groups":[{"name":"svcgrp","gid":2001}]},"storage":{"files":[{"path":"/srv/x","contents":{"source":"data:,x"},"user":{"name":"svc"},"group":{"name":"svcgrp"}}]}}`,
			check: func(t *testing.T, r *root) { wantFile(t, r, "/srv/x", "x", 0o644, 2000, 2001) }},
		{name: "files.owner.unknown", passwd: true, negative: true, errHas: "nobodyhere",
			config: `{"ignition":{"version":"$version"},"storage":{"files":[` + other + `,{"path":"/srv/x","user":{"name":"nobodyhere"}}]}}`,
			check:  func(t *testing.T, r *root) { wantMissing(t, r, "/other") }},
	}
}
