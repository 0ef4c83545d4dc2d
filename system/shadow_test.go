package system

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/flintboot/flint/log"
)

func ptr[T any](v T) *T { return &v }

const canaryHash = "$6$canarysalt$CANARYHASHcanaryhash0123456789"

func TestShadowArgv(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		do   func(r Runner) error
		want []string
	}{
		{"add user full", func(r Runner) error {
			return AddUser(ctx, r, "/sysroot", User{Name: "core", UID: ptr(1000), Gecos: ptr("Core User"),
				HomeDir: ptr("/var/home/core"), PrimaryGroup: ptr("core"), Shell: ptr("/bin/bash"),
				Groups: []string{"wheel", "sudo"}, NoUserGroup: true, NoLogInit: true, System: true,
				PasswordHash: ptr(canaryHash)})
		}, []string{
			"useradd --root /sysroot --home-dir /var/home/core --create-home --no-user-group --system --no-log-init --password '*' --uid 1000 --comment 'Core User' --gid core --groups wheel,sudo --shell /bin/bash core",
			"chpasswd --encrypted --root /sysroot <stdin: 50 bytes>",
		}},
		{"add user minimal", func(r Runner) error {
			return AddUser(ctx, r, "/", User{Name: "bob", NoCreateHome: true})
		}, []string{"useradd --root / --no-create-home --password '*' bob"}},
		{"add user empty hash locks", func(r Runner) error {
			return AddUser(ctx, r, "/", User{Name: "bob", PasswordHash: ptr("")})
		}, []string{"useradd --root / --create-home --password '*' bob"}},
		{"modify user", func(r Runner) error {
			return ModifyUser(ctx, r, "/sysroot", User{Name: "core", HomeDir: ptr("/home/c"), UID: ptr(1001),
				Shell: ptr("/bin/zsh"), Groups: []string{"adm"}, NoCreateHome: true, PasswordHash: ptr(canaryHash)})
		}, []string{
			"usermod --root /sysroot --home /home/c --move-home --uid 1001 --groups adm --shell /bin/zsh core",
			"chpasswd --encrypted --root /sysroot <stdin: 50 bytes>",
		}},
		{"modify user only password", func(r Runner) error {
			return ModifyUser(ctx, r, "/sysroot", User{Name: "core", PasswordHash: ptr(canaryHash)})
		}, []string{"chpasswd --encrypted --root /sysroot <stdin: 50 bytes>"}},
		{"modify user lock", func(r Runner) error {
			return ModifyUser(ctx, r, "/sysroot", User{Name: "core", PasswordHash: ptr("")})
		}, []string{"usermod --root /sysroot --password '*' core"}},
		{"modify user nothing", func(r Runner) error {
			return ModifyUser(ctx, r, "/sysroot", User{Name: "core", System: true})
		}, nil},
		{"delete user", func(r Runner) error { return DeleteUser(ctx, r, "/sysroot", "core") },
			[]string{"userdel --remove --root /sysroot core"}},
		{"add group", func(r Runner) error {
			return AddGroup(ctx, r, "/sysroot", Group{Name: "docker", GID: ptr(998), System: true, PasswordHash: ptr(canaryHash)})
		}, []string{"groupadd --root /sysroot --gid 998 --system docker", "chgpasswd --encrypted --root /sysroot <stdin: 52 bytes>"}},
		{"add group plain", func(r Runner) error { return AddGroup(ctx, r, "/sysroot", Group{Name: "g"}) },
			[]string{"groupadd --root /sysroot g"}},
		{"modify group", func(r Runner) error {
			return ModifyGroup(ctx, r, "/sysroot", Group{Name: "docker", GID: ptr(999)})
		}, []string{"groupmod --root /sysroot --gid 999 docker"}},
		{"modify group nothing", func(r Runner) error { return ModifyGroup(ctx, r, "/sysroot", Group{Name: "docker"}) }, nil},
		{"delete group", func(r Runner) error { return DeleteGroup(ctx, r, "/sysroot", "docker") },
			[]string{"groupdel --root /sysroot docker"}},
	} {
		d := &Recorder{}
		if err := c.do(d); err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got := d.Lines(); (len(got) > 0 || len(c.want) > 0) && !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, c.want)
		}
		for _, call := range d.Calls() {
			if strings.Contains(strings.Join(call.Args, " "), "CANARY") {
				t.Errorf("%s: hash in argv of %s", c.name, call.Name)
			}
			if call.Stdin != nil && (string(call.Stdin) != "core:"+canaryHash+"\n" && string(call.Stdin) != "docker:"+canaryHash+"\n") {
				t.Errorf("%s: stdin %q", c.name, call.Stdin)
			}
			if call.Stdin != nil && !reflect.DeepEqual(call.Secret, []string{canaryHash}) {
				t.Errorf("%s: Secret not set", c.name)
			}
		}
	}
}

func TestShadowRejectsBadInput(t *testing.T) {
	ctx := context.Background()
	d := &Recorder{}
	for _, err := range []error{
		AddUser(ctx, d, "/", User{Name: "-o"}),
		AddUser(ctx, d, "/", User{Name: "a:b"}),
		AddUser(ctx, d, "/", User{Name: ""}),
		AddUser(ctx, d, "/", User{Name: "ok", Groups: []string{"a,b"}}),
		ModifyUser(ctx, d, "/", User{Name: "ok", PasswordHash: ptr("x\nroot:y")}),
		AddGroup(ctx, d, "/", Group{Name: "g\n"}),
		DeleteGroup(ctx, d, "/", "--help"),
		DeleteUser(ctx, d, "/", "a\x00"),
	} {
		if err == nil {
			t.Error("bad input accepted")
		}
	}
	if calls := d.Lines(); len(calls) != 0 {
		t.Errorf("commands ran for bad input: %q", calls)
	}
}

// seedShadowRoot makes the minimal files shadow-utils need under --root.
func seedShadowRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for name, c := range map[string]string{
		"passwd":  "root:x:0:0:root:/root:/bin/sh\n",
		"group":   "root:x:0:\nwheel:x:10:\n",
		"shadow":  "root:*:19000:0:99999:7:::\n",
		"gshadow": "root:*::\nwheel:!::\n",
	} {
		if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "etc", name), []byte(c), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(root, "home"), 0o755); err != nil {
		t.Fatal(err)
	}
	return root
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root (run the root tier: sudo go test ./system/)")
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestShadowToolsReal(t *testing.T) {
	requireRoot(t)
	root := seedShadowRoot(t)
	var logs bytes.Buffer
	r := NewRunner(log.New(&logs), DefaultTools())
	ctx := context.Background()

	if err := AddGroup(ctx, r, root, Group{Name: "ops", GID: ptr(1500), PasswordHash: ptr(canaryHash)}); err != nil {
		t.Fatal(err)
	}
	if err := AddUser(ctx, r, root, User{Name: "core", UID: ptr(1600), Gecos: ptr("Core User"),
		PrimaryGroup: ptr("ops"), Groups: []string{"wheel"}, Shell: ptr("/bin/sh"),
		HomeDir: ptr("/home/core"), PasswordHash: ptr(canaryHash)}); err != nil {
		t.Fatal(err)
	}
	uid, gid, home, err := LookupUser(root, "core")
	if err != nil || uid != 1600 || gid != 1500 || home != "/home/core" {
		t.Fatalf("core: %d %d %q %v", uid, gid, home, err)
	}
	if fi, err := os.Stat(filepath.Join(root, "home/core")); err != nil || !fi.IsDir() {
		t.Errorf("home not created: %v", err)
	}
	if s := readFile(t, filepath.Join(root, "etc/shadow")); !strings.Contains(s, "core:"+canaryHash+":") {
		t.Errorf("shadow:\n%s", s)
	}
	if s := readFile(t, filepath.Join(root, "etc/gshadow")); !strings.Contains(s, "ops:"+canaryHash+":") {
		t.Errorf("gshadow:\n%s", s)
	}
	if s := readFile(t, filepath.Join(root, "etc/group")); !strings.Contains(s, "wheel:x:10:core") {
		t.Errorf("group:\n%s", s)
	}

	// modify: uid, shell, lock password
	if err := ModifyUser(ctx, r, root, User{Name: "core", UID: ptr(1601), Shell: ptr("/bin/bash"), PasswordHash: ptr("")}); err != nil {
		t.Fatal(err)
	}
	if n, err := LookupUID(root, 1601); err != nil || n != "core" {
		t.Errorf("after usermod: %q %v", n, err)
	}
	if s := readFile(t, filepath.Join(root, "etc/shadow")); !strings.Contains(s, "core:*:") {
		t.Errorf("not locked:\n%s", s)
	}
	if err := ModifyGroup(ctx, r, root, Group{Name: "ops", GID: ptr(1501)}); err != nil {
		t.Fatal(err)
	}
	if g, err := LookupGroup(root, "ops"); err != nil || g != 1501 {
		t.Errorf("ops gid %d %v", g, err)
	}

	// failure: duplicate user → ExitError naming the tool and exit code
	err = AddUser(ctx, r, root, User{Name: "core", NoCreateHome: true})
	var xe *ExitError
	if !errors.As(err, &xe) || xe.Tool != "useradd" || xe.ExitCode != 9 || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("duplicate useradd: %v", err)
	}

	if err := DeleteUser(ctx, r, root, "core"); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := LookupUser(root, "core"); !errors.Is(err, ErrNotFound) {
		t.Errorf("core still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "home/core")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("home not removed: %v", err)
	}
	if err := DeleteGroup(ctx, r, root, "ops"); err != nil {
		t.Fatal(err)
	}
	if _, err := LookupGroup(root, "ops"); !errors.Is(err, ErrNotFound) {
		t.Errorf("ops still there: %v", err)
	}
	if strings.Contains(logs.String(), "CANARY") {
		t.Errorf("hash in logs:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "running: useradd --root ") {
		t.Errorf("argv not logged:\n%s", logs.String())
	}
}
