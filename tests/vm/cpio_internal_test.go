package vm

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestCpioTree writes an archive and unpacks it with GNU cpio.
func TestCpioTree(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.WriteFile(src, []byte("from host"), 0o600); err != nil {
		t.Fatal(err)
	}
	tr := cpioTree{}
	tr.file("usr/bin/x", src, 0o755)
	tr.bytes("/etc/deep/a/b.txt", []byte("abc"), 0o644)
	tr.bytes("odd", []byte("12345"), 0o600) // length not a multiple of 4
	tr.symlink("bin/y", "../usr/bin/x")
	tr.dir("empty/dir")
	var buf bytes.Buffer
	if err := tr.write(&buf); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	os.Mkdir(out, 0o755)
	cmd := exec.Command("cpio", "-id", "--quiet")
	cmd.Dir = out
	cmd.Stdin = &buf
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cpio: %v: %s", err, b)
	}
	check := func(p, want string, mode os.FileMode) {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(out, p))
		if err != nil || string(b) != want {
			t.Errorf("%s: %q, %v", p, b, err)
		}
		if st, err := os.Lstat(filepath.Join(out, p)); err == nil && st.Mode().Perm() != mode {
			t.Errorf("%s: mode %v", p, st.Mode())
		}
	}
	check("usr/bin/x", "from host", 0o755)
	check("etc/deep/a/b.txt", "abc", 0o644)
	check("odd", "12345", 0o600)
	if l, err := os.Readlink(filepath.Join(out, "bin/y")); err != nil || l != "../usr/bin/x" {
		t.Errorf("symlink: %q, %v", l, err)
	}
	if st, err := os.Stat(filepath.Join(out, "empty/dir")); err != nil || !st.IsDir() {
		t.Errorf("dir: %v", err)
	}
}
