package files

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/flintboot/flint/stages"
	"github.com/flintboot/flint/system"
)

// selinuxType reads SELINUXTYPE from <root>/etc/selinux/config ("" when
// the root has no SELinux configuration).
func selinuxType(root string) (string, error) {
	b, err := os.ReadFile(filepath.Join(root, "etc/selinux/config"))
	if os.IsNotExist(err) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return parseSelinuxType(b), nil
}

func parseSelinuxType(b []byte) string {
	t := ""
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok && strings.TrimSpace(k) == "SELINUXTYPE" {
			t = strings.Trim(strings.TrimSpace(v), `"'`)
		}
	}
	return t
}

// fileContexts returns the root's file_contexts for its policy type.
func fileContexts(root, typ string) string {
	return filepath.Join(root, "etc/selinux", typ, "contexts/files/file_contexts")
}

// setfilesCmd is the one relabelling call: labels are computed for the
// paths as they will be seen from inside the root (-r), from the root's
// own policy; paths come NUL-separated on stdin.
func setfilesCmd(root, fc string, paths []string) system.Cmd {
	var b bytes.Buffer
	for _, p := range paths {
		b.WriteString(p)
		b.WriteByte(0)
	}
	return system.Cmd{Name: system.ToolSetfiles, Args: []string{"-F0", "-r", root, fc, "-f", "-"}, Stdin: &b}
}

// relabelWritten gives every path the stage wrote the SELinux label the
// root's policy assigns it, with one setfiles call. It is skipped, with a
// log line, when the build turns relabelling off or the root has no
// policy.
func (p *plan) relabelWritten(ctx context.Context, c *stages.Context) error {
	w := &p.written
	if len(w.paths) == 0 {
		return nil
	}
	l := c.Log.With("files")
	if !p.relabel {
		l.Info("not relabelling for SELinux: turned off in this build")
		return nil
	}
	root := p.st.root
	typ, err := selinuxType(root)
	if err != nil {
		return fmt.Errorf("reading the SELinux configuration: %w", err)
	}
	if typ == "" {
		l.Debugf("not relabelling for SELinux: the root has no policy (%s)", filepath.Join(root, "etc/selinux/config"))
		return nil
	}
	fc := fileContexts(root, typ)
	if _, err := os.Stat(fc); err != nil {
		l.Info("not relabelling for SELinux: policy %q has no file contexts (%s)", typ, fc)
		return nil
	}
	// only what is still there (a later entry may have replaced a path)
	var paths []string
	seen := map[string]bool{}
	for _, p := range w.paths {
		if seen[p] {
			continue
		}
		seen[p] = true
		if _, err := os.Lstat(p); err == nil {
			paths = append(paths, p)
		}
	}
	done := l.Op("relabelling %d paths for SELinux policy %q", len(paths), typ)
	_, err = c.Runner.Run(ctx, setfilesCmd(root, fc, paths))
	done(err)
	if err != nil {
		return fmt.Errorf("relabelling for SELinux: %w", err)
	}
	return nil
}
