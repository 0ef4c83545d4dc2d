package system

import (
	"strings"
	"testing"
)

func TestToolEnvVar(t *testing.T) {
	for name, want := range map[string]string{
		"mkfs.ext4":          "FLINT_TOOL_MKFS_EXT4",
		"zkey-cryptsetup":    "FLINT_TOOL_ZKEY_CRYPTSETUP",
		"cio_ignore":         "FLINT_TOOL_CIO_IGNORE",
		"flint-kargs-helper": "FLINT_TOOL_FLINT_KARGS_HELPER",
		"sgdisk":             "FLINT_TOOL_SGDISK",
	} {
		if got := ToolEnvVar(name); got != want {
			t.Errorf("ToolEnvVar(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestToolsTable(t *testing.T) {
	d := DefaultTools()
	for _, n := range []string{"sgdisk", "partx", "mdadm", "cryptsetup", "clevis", "wipefs", "blkid",
		"mkfs.ext4", "mkfs.xfs", "mkfs.btrfs", "mkfs.fat", "mkswap", "mount", "umount", "udevadm",
		"useradd", "usermod", "userdel", "groupadd", "groupmod", "groupdel", "systemctl", "modprobe",
		"flint-kargs-helper", "dmsetup", "zkey", "zkey-cryptsetup", "chccwdev", "vmur", "cio_ignore",
		"chpasswd", "chgpasswd"} {
		if d[n] != n {
			t.Errorf("default %q = %q", n, d[n])
		}
	}
	env := map[string]string{"FLINT_TOOL_MKFS_EXT4": "/opt/e2fs/mkfs.ext4", "FLINT_TOOL_SGDISK": ""}
	got := toolsFromLookup(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if got["mkfs.ext4"] != "/opt/e2fs/mkfs.ext4" || got["sgdisk"] != "sgdisk" {
		t.Errorf("overrides: %v", got)
	}
	w := got.With("sh", "/bin/sh")
	if _, ok := got["sh"]; ok || w["sh"] != "/bin/sh" {
		t.Error("With must copy")
	}
	if n := w.Names(); !strings.Contains(strings.Join(n, " "), "sh") || len(n) != len(w) {
		t.Errorf("Names %v", n)
	}
}

func TestPaths(t *testing.T) {
	p := DefaultPaths()
	if p.RunDir != "/run/flint" || p.ConfigCache() != "/run/flint/config.json" || p.DevAliasDir() != "/run/flint/dev_aliases" {
		t.Errorf("%+v", p)
	}
	t.Setenv("FLINT_RUN_DIR", "/tmp/flint-run")
	t.Setenv("FLINT_MOUNTINFO", "/tmp/mi")
	p = PathsFromEnv()
	if p.RunDir != "/tmp/flint-run" || p.StateFile() != "/tmp/flint-run/state" || p.NeedNetFlag() != "/tmp/flint-run/neednet" || p.MountInfo != "/tmp/mi" {
		t.Errorf("%+v", p)
	}
}
