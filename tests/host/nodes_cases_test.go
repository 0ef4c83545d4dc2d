package host

import (
	"os"
	"testing"
)

func TestDirectories(t *testing.T) { runCases(t, dirCases()) }
func TestLinks(t *testing.T)       { runCases(t, linkCases()) }

func storage(s string) string { return `{"ignition":{"version":"$version"},"storage":{` + s + `}}` }

func dirCases() []tc {
	return []tc{
		{name: "directories.create", fs: []string{"xfs", "btrfs"}, config: storage(`"directories":[{"path":"/foo/bar"}]`),
			check: func(t *testing.T, r *root) { wantDir(t, r, "/foo/bar", 0o755, 0, 0) }},
		{name: "directories.create.force", config: storage(`"directories":[{"path":"/foo/bar","overwrite":true,"mode":448}]`),
			setup: func(t *testing.T, r *root) { writeFile(t, r, "/foo/bar", "x", 0o644) },
			check: func(t *testing.T, r *root) { wantDir(t, r, "/foo/bar", 0o700, 0, 0) }},
		{name: "directories.match", config: storage(`"directories":[{"path":"/foo/bar","mode":448,"user":{"id":500}}]`),
			setup: func(t *testing.T, r *root) { writeFile(t, r, "/foo/bar/keep", "k", 0o644) },
			check: func(t *testing.T, r *root) {
				wantDir(t, r, "/foo/bar", 0o700, 500, 0)
				wantFile(t, r, "/foo/bar/keep", "k", 0o644, 0, 0)
			}},
		{name: "directories.match.overwrite", config: storage(`"directories":[{"path":"/foo/bar","overwrite":true}]`),
			setup: func(t *testing.T, r *root) { writeFile(t, r, "/foo/bar/gone", "k", 0o644) },
			check: func(t *testing.T, r *root) {
				wantDir(t, r, "/foo/bar", 0o755, 0, 0)
				wantMissing(t, r, "/foo/bar/gone")
			}},
		{name: "directories.ordering", config: storage(`"directories":[{"path":"/foo/bar/baz","mode":511},{"path":"/foo","mode":448},{"path":"/foo/bar","mode":456}]`),
			check: func(t *testing.T, r *root) {
				wantDir(t, r, "/foo", 0o700, 0, 0)
				wantDir(t, r, "/foo/bar", 0o710, 0, 0)
				wantDir(t, r, "/foo/bar/baz", 0o777, 0, 0)
			}},
		{name: "directories.defaultperms", config: storage(`"directories":[{"path":"/foo/bar"}],"files":[{"path":"/a/b/c/file"}]`),
			check: func(t *testing.T, r *root) {
				wantDir(t, r, "/foo/bar", 0o755, 0, 0)
				wantDir(t, r, "/a/b/c", 0o755, 0, 0)
			}},
		{name: "directories.sticky.3.6", min: "3.6.0", config: storage(`"directories":[{"path":"/tmpdir","mode":1023}]`),
			check: func(t *testing.T, r *root) { wantDir(t, r, "/tmpdir", 0o777|os.ModeSticky, 0, 0) }},
		{name: "directories.create.overwrite.false", negative: true, errHas: "overwrite is false",
			config: storage(`"files":[` + other + `],"directories":[{"path":"/foo/bar"}]`),
			setup:  func(t *testing.T, r *root) { writeFile(t, r, "/foo/bar", "x", 0o644) },
			check:  func(t *testing.T, r *root) { wantMissing(t, r, "/other") }},
	}
}

func linkCases() []tc {
	neg := func(name, cfg, errHas string, setup func(*testing.T, *root)) tc {
		return tc{name: name, negative: true, errHas: errHas, config: cfg, setup: setup,
			check: func(t *testing.T, r *root) { wantMissing(t, r, "/other") }}
	}
	return []tc{
		{name: "links.sym.create", fs: []string{"xfs", "btrfs"}, config: storage(`"links":[{"path":"/foo/bar","target":"/foo/target"},{"path":"/foo/rel","target":"../x/y","user":{"id":500},"group":{"id":500}}]`),
			check: func(t *testing.T, r *root) {
				wantSymlink(t, r, "/foo/bar", "/foo/target")
				wantSymlink(t, r, "/foo/rel", "../x/y")
				fi, _ := os.Lstat(r.p("/foo/rel"))
				wantMeta(t, "/foo/rel", fi, 0, 500, 500)
			}},
		{name: "links.sym.match", config: storage(`"links":[{"path":"/foo/bar","target":"/foo/target"}]`),
			setup: func(t *testing.T, r *root) { symlink(t, r, "/foo/bar", "/foo/target") },
			check: func(t *testing.T, r *root) { wantSymlink(t, r, "/foo/bar", "/foo/target") }},
		{name: "links.sym.create.force", config: storage(`"links":[{"path":"/foo/bar","target":"/foo/target","overwrite":true}]`),
			setup: func(t *testing.T, r *root) { writeFile(t, r, "/foo/bar", "x", 0o644) },
			check: func(t *testing.T, r *root) { wantSymlink(t, r, "/foo/bar", "/foo/target") }},
		{name: "links.sym.writeover", config: storage(`"links":[{"path":"/foo/bar","target":"/foo/new","overwrite":true}]`),
			setup: func(t *testing.T, r *root) {
				writeFile(t, r, "/foo/old", "x", 0o644)
				symlink(t, r, "/foo/bar", "/foo/old")
			},
			check: func(t *testing.T, r *root) {
				wantSymlink(t, r, "/foo/bar", "/foo/new")
				wantFile(t, r, "/foo/old", "x", 0o644, 0, 0)
			}},
		{name: "links.sym.writeover.broken", config: storage(`"links":[{"path":"/foo/bar","target":"/foo/new","overwrite":true}]`),
			setup: func(t *testing.T, r *root) { symlink(t, r, "/foo/bar", "/nonexistent") },
			check: func(t *testing.T, r *root) { wantSymlink(t, r, "/foo/bar", "/foo/new") }},
		{name: "links.hard.create", fs: []string{"xfs", "btrfs"}, config: storage(`"files":[{"path":"/foo/target","contents":{"source":"data:,t"}}],"links":[{"path":"/foo/bar","target":"/foo/target","hard":true}]`),
			check: func(t *testing.T, r *root) { wantHardlink(t, r, "/foo/bar", "/foo/target") }},
		{name: "links.hard.match", config: storage(`"links":[{"path":"/foo/bar","target":"/foo/target","hard":true}]`),
			setup: func(t *testing.T, r *root) {
				writeFile(t, r, "/foo/target", "t", 0o644)
				must(t, os.Link(r.p("/foo/target"), r.p("/foo/bar")))
			},
			check: func(t *testing.T, r *root) { wantHardlink(t, r, "/foo/bar", "/foo/target") }},
		{name: "links.hard.create.force", config: storage(`"links":[{"path":"/foo/bar","target":"/foo/target","hard":true,"overwrite":true}]`),
			setup: func(t *testing.T, r *root) {
				writeFile(t, r, "/foo/target", "t", 0o644)
				writeFile(t, r, "/foo/bar", "b", 0o644)
			},
			check: func(t *testing.T, r *root) { wantHardlink(t, r, "/foo/bar", "/foo/target") }},
		{name: "links.hard.deep.create.file", config: storage(`"files":[{"path":"/target","contents":{"source":"data:,t"}}],"links":[{"path":"/foo/bar/baz/link","target":"/target","hard":true}]`),
			check: func(t *testing.T, r *root) {
				wantHardlink(t, r, "/foo/bar/baz/link", "/target")
				wantDir(t, r, "/foo/bar/baz", 0o755, 0, 0)
			}},
		{name: "links.hard.create.tosym", config: storage(`"links":[{"path":"/foo/sym","target":"/foo/target"},{"path":"/foo/bar","target":"/foo/sym","hard":true}]`),
			check: func(t *testing.T, r *root) {
				wantSymlink(t, r, "/foo/bar", "/foo/target")
				wantHardlink(t, r, "/foo/bar", "/foo/sym")
			}},
		neg("links.sym.overwritelink", storage(`"files":[`+other+`],"links":[{"path":"/foo/bar","target":"/foo/new"}]`), "overwrite is false",
			func(t *testing.T, r *root) { symlink(t, r, "/foo/bar", "/foo/old") }),
		// /foo/link -> /foo/dir in the root, so both files are the same path
		neg("links.sym.resovledconflicts", storage(`"files":[`+other+`,{"path":"/foo/link/x","contents":{"source":"data:,1"}},{"path":"/foo/dir/x","contents":{"source":"data:,2"}}]`), "resolve to the same path",
			func(t *testing.T, r *root) { mkdir(t, r, "/foo/dir"); symlink(t, r, "/foo/link", "/foo/dir") }),
		neg("links.sym.badmatch", storage(`"files":[`+other+`],"links":[{"path":"/foo/bar","target":"/foo/target"}]`), "overwrite is false",
			func(t *testing.T, r *root) { writeFile(t, r, "/foo/bar", "x", 0o644) }),
		neg("links.sym.create.overwrite.false", storage(`"files":[`+other+`],"links":[{"path":"/foo/bar","target":"/foo/target","overwrite":false}]`), "overwrite is false",
			func(t *testing.T, r *root) { mkdir(t, r, "/foo/bar") }),
		neg("links.sym.create.overwrite.false.overdir", storage(`"files":[`+other+`],"links":[{"path":"/foo/bar","target":"/foo/target"}]`), "overwrite is false",
			func(t *testing.T, r *root) { writeFile(t, r, "/foo/bar/inside", "x", 0o644) }),
		neg("links.hard.badmatch", storage(`"files":[`+other+`],"links":[{"path":"/foo/bar","target":"/foo/target","hard":true}]`), "not a hard link",
			func(t *testing.T, r *root) {
				writeFile(t, r, "/foo/target", "t", 0o644)
				writeFile(t, r, "/foo/bar", "t", 0o644)
			}),
		neg("links.hard.create.overwrite.false", storage(`"files":[`+other+`],"links":[{"path":"/foo/bar","target":"/foo/target","hard":true,"overwrite":false}]`), "overwrite is false",
			func(t *testing.T, r *root) { writeFile(t, r, "/foo/target", "t", 0o644); mkdir(t, r, "/foo/bar") }),
		neg("links.hard.target.missing", storage(`"files":[`+other+`],"links":[{"path":"/foo/bar","target":"/nope","hard":true}]`), "does not exist", nil),
	}
}
