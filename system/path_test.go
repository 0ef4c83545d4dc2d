package system

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// makeTree builds a small tree under a fresh root with hostile symlinks.
func makeTree(t testing.TB) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"etc", "var/roothome", "usr/lib", "a/b/c"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "etc/passwd"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{
		"root":       "var/roothome", // relative
		"abs":        "/usr/lib",     // absolute, must map into root
		"slash":      "/",
		"up":         "../../../..",
		"etcup":      "../../etc",
		"a/b/toetc":  "../../etc",
		"loop1":      "loop2",
		"loop2":      "loop1",
		"self":       "self",
		"dangling":   "/nonexistent/x",
		"lib":        "usr/lib",
		"a/file":     "/etc/passwd",
		"a/b/c/deep": "../../../../../../../../etc",
	} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestSecureJoin(t *testing.T) {
	root := makeTree(t)
	for _, c := range []struct {
		in, want, wantFollow string
	}{
		{"", "", ""},
		{"/", "", ""},
		{"/etc/passwd", "/etc/passwd", "/etc/passwd"},
		{"etc/passwd", "/etc/passwd", "/etc/passwd"},
		{"/root", "/root", "/var/roothome"},
		{"/root/.ssh/authorized_keys", "/var/roothome/.ssh/authorized_keys", "/var/roothome/.ssh/authorized_keys"},
		{"/root/", "/var/roothome", "/var/roothome"},
		{"/root/.", "/var/roothome", "/var/roothome"},
		{"/abs/x", "/usr/lib/x", "/usr/lib/x"},
		{"/abs", "/abs", "/usr/lib"},
		{"/slash", "/slash", ""},
		{"/slash/etc/passwd", "/etc/passwd", "/etc/passwd"},
		{"/slash/../../..", "", ""},
		{"../../..", "", ""},
		{"/../../etc/passwd", "/etc/passwd", "/etc/passwd"},
		{"/up/etc", "/etc", "/etc"},
		{"/up", "/up", ""},
		{"/etcup/passwd", "/etc/passwd", "/etc/passwd"},
		{"/a/b/toetc/passwd", "/etc/passwd", "/etc/passwd"},
		{"/a/b/c/deep/passwd", "/etc/passwd", "/etc/passwd"},
		{"/a/b/c/deep/../../../..", "", ""},
		{"/dangling", "/dangling", "/nonexistent/x"},
		{"/dangling/y", "/nonexistent/x/y", "/nonexistent/x/y"},
		{"/new/dir/../file", "/new/file", "/new/file"},
		{"/etc/passwd/x", "/etc/passwd/x", "/etc/passwd/x"},
		{"/lib/../etc", "/usr/etc", "/usr/etc"}, // physical "..": lib is /usr/lib
		{"/a/file", "/a/file", "/etc/passwd"},
		{"//a//b/./c/", "/a/b/c", "/a/b/c"},
		{"/loop1", "/loop1", "!"},
		{"/self", "/self", "!"},
		{"/loop1/x", "!", "!"},
	} {
		for _, follow := range []bool{false, true} {
			want := c.want
			fn := SecureJoin
			if follow {
				want, fn = c.wantFollow, SecureJoinFollow
			}
			got, err := fn(root, c.in)
			if want == "!" {
				if !errors.Is(err, syscall.ELOOP) || !strings.Contains(err.Error(), "too many levels of symbolic links") {
					t.Errorf("follow=%v %q: got %q, %v; want ELOOP", follow, c.in, got, err)
				}
				continue
			}
			if err != nil {
				t.Errorf("follow=%v %q: %v", follow, c.in, err)
				continue
			}
			if got != root+want {
				t.Errorf("follow=%v %q = %q, want %q", follow, c.in, strings.TrimPrefix(got, root), want)
			}
		}
	}
}

func TestSecureJoinRootSlash(t *testing.T) {
	got, err := SecureJoin("/", "/proc/../etc/./hostname")
	if err != nil || got != "/etc/hostname" {
		t.Errorf("got %q %v", got, err)
	}
	if got, _ := SecureJoin("/", "../.."); got != "/" {
		t.Errorf("got %q", got)
	}
	if got, _ := SecureJoin("/tmp/x/", "a"); got != "/tmp/x/a" {
		t.Errorf("got %q", got)
	}
}

// FuzzSecureJoin builds a tree whose symlink targets come from the fuzzer
// and checks that every result stays under root and that, when following,
// no component of the result (but possibly a missing tail) is a symlink.
func FuzzSecureJoin(f *testing.F) {
	for _, s := range [][3]string{
		{"/", "../..", "l1/l2/x"},
		{"..", "/l1", "d/l1/../../../etc"},
		{"../../../../etc", "d/../l2", "/l2/l1"},
		{"l2", "l1", "l1"},
		{"/d/../../..", ".", "l1/../l1/l2/.."},
		{"d/l1/", "/..//../d", "d/l2/f"},
		{"", "x/../../../", "./l2"},
	} {
		f.Add(s[0], s[1], s[2], true)
		f.Add(s[0], s[1], s[2], false)
	}
	f.Fuzz(func(t *testing.T, t1, t2, p string, follow bool) {
		if strings.IndexByte(t1, 0) >= 0 || strings.IndexByte(t2, 0) >= 0 || t1 == "" || t2 == "" ||
			len(t1) > 4096 || len(t2) > 4096 {
			return
		}
		base := t.TempDir()
		root := filepath.Join(base, "root")
		if err := os.MkdirAll(filepath.Join(root, "d"), 0o755); err != nil {
			t.Fatal(err)
		}
		// a sibling of root that an escape would reach
		if err := os.MkdirAll(filepath.Join(base, "outside"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(t1, filepath.Join(root, "l1")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(t2, filepath.Join(root, "d", "l2")); err != nil {
			t.Fatal(err)
		}
		fn := SecureJoin
		if follow {
			fn = SecureJoinFollow
		}
		got, err := fn(root, p)
		if strings.IndexByte(p, 0) >= 0 {
			if !errors.Is(err, syscall.EINVAL) {
				t.Fatalf("SecureJoin(%q) with NUL: %q, %v", p, got, err)
			}
			return
		}
		if err != nil {
			if errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.ENAMETOOLONG) {
				return
			}
			t.Fatalf("SecureJoin(%q): %v", p, err)
		}
		if got != root && !strings.HasPrefix(got, root+"/") {
			t.Fatalf("SecureJoin(%q) = %q escapes %q", p, got, root)
		}
		if filepath.Clean(got) != got {
			t.Fatalf("SecureJoin(%q) = %q not clean", p, got)
		}
		// Every existing component of the result below root must be a
		// real directory or file, except the last one when not following.
		rel := strings.TrimPrefix(got, root)
		comps := strings.Split(strings.TrimPrefix(rel, "/"), "/")
		cur := root
		for i, c := range comps {
			if c == "" {
				break
			}
			cur += "/" + c
			fi, err := os.Lstat(cur)
			if err != nil {
				break // missing tail is lexical
			}
			last := i == len(comps)-1
			if fi.Mode()&fs.ModeSymlink != 0 && (!last || follow) {
				t.Fatalf("SecureJoin(%q) = %q: component %q is a symlink", p, got, cur)
			}
		}
	})
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f.conf")
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	if err := WriteFileAtomic(p, strings.NewReader("one"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(p, strings.NewReader("two"), 0o640); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	fi, _ := os.Stat(p)
	if err != nil || string(b) != "two" || fi.Mode().Perm() != 0o640 {
		t.Errorf("content %q mode %v err %v", b, fi.Mode(), err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("leftovers: %v", ents)
	}
	// failing reader: target untouched, no temp file left
	if err := WriteFileAtomic(p, iotestErrReader{}, 0o600); err == nil {
		t.Error("want error")
	}
	b, _ = os.ReadFile(p)
	ents, _ = os.ReadDir(dir)
	if string(b) != "two" || len(ents) != 1 {
		t.Errorf("after failure: %q %v", b, ents)
	}
	if err := WriteFileAtomic(filepath.Join(dir, "missing", "f"), strings.NewReader(""), 0o600); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing dir: %v", err)
	}
}

type iotestErrReader struct{}

func (iotestErrReader) Read([]byte) (int, error) { return 0, errors.New("boom") }
