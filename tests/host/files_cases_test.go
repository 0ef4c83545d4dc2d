package host

import (
	"encoding/base64"
	"os"
	"testing"
)

func TestFiles(t *testing.T) { runCases(t, fileCases()) }

// other is a second file in negative configs: it must not be written when
// the first entry fails (conflicts and fetch failures come before writes).
const other = `{"path":"/other","contents":{"source":"data:,other"}}`

func fileCases() []tc {
	c64 := base64.StdEncoding.EncodeToString(gz(contentsText))
	neg := func(name, min, cfg, errHas string, setup func(*testing.T, *root)) tc {
		return tc{name: name, min: min, negative: true, errHas: errHas, config: cfg, setup: setup,
			check: func(t *testing.T, r *root) { wantMissing(t, r, "/other") }}
	}
	file := func(entry string) string {
		return `{"ignition":{"version":"$version"},"storage":{"files":[` + entry + `]}}`
	}
	asdf := func(t *testing.T, r *root) { wantFile(t, r, "/foo/bar", contentsText, 0o644, 0, 0) }
	return []tc{
		{name: "files.create", fs: []string{"xfs", "btrfs"}, config: file(`{"path":"/foo/bar","contents":{"source":"data:,example%20file%0A"}}`),
			check: func(t *testing.T, r *root) {
				wantFile(t, r, "/foo/bar", "example file\n", 0o644, 0, 0)
				wantDir(t, r, "/foo", 0o755, 0, 0)
				wantContains(t, r, "/etc/.flint-result.json", `"name": "files"`, `"status": "succeeded"`, `"userConfigProvided": true`)
				wantContains(t, r, "/etc/.ignition-result.json", `"provisioningDate"`, `"provisioningBootID"`)
			}},
		{name: "files.create.base64", config: file(`{"path":"/foo/bar","contents":{"source":"data:;base64,` + base64.StdEncoding.EncodeToString([]byte(contentsText)) + `"}}`), check: asdf},
		{name: "files.owner.byid", config: file(`{"path":"/foo/bar","contents":{"source":"data:,x"},"user":{"id":500},"group":{"id":501}}`),
			check: func(t *testing.T, r *root) { wantFile(t, r, "/foo/bar", "x", 0o644, 500, 501) }},
		{name: "files.owner.byname", passwd: true, config: file(`{"path":"/foo/bar","contents":{"source":"data:,x"},"user":{"name":"core"},"group":{"name":"docker"}}`),
			check: func(t *testing.T, r *root) { wantFile(t, r, "/foo/bar", "x", 0o644, 500, 999) }},
		{name: "files.create.force", config: file(`{"path":"/foo/bar","overwrite":true,"contents":{"source":"data:,new"}}`),
			setup: func(t *testing.T, r *root) { writeFile(t, r, "/foo/bar", "old", 0o600) },
			check: func(t *testing.T, r *root) { wantFile(t, r, "/foo/bar", "new", 0o644, 0, 0) }},
		{name: "files.append.withcreate", config: file(`{"path":"/foo/bar","contents":{"source":"data:,hello%0A"},"append":[{"source":"data:,a%0A"},{"source":"http://$http/contents"}]}`),
			check: func(t *testing.T, r *root) { wantFile(t, r, "/foo/bar", "hello\na\n"+contentsText, 0o644, 0, 0) }},
		{name: "files.append.existing", config: file(`{"path":"/foo/bar","append":[{"source":"data:,more%0A"}]}`),
			setup: func(t *testing.T, r *root) { writeFile(t, r, "/foo/bar", "old\n", 0o640) },
			check: func(t *testing.T, r *root) { wantFile(t, r, "/foo/bar", "old\nmore\n", 0o640, 0, 0) }},
		{name: "files.append.nonexistent", config: file(`{"path":"/foo/bar","append":[{"source":"data:,more%0A"}],"mode":384}`),
			check: func(t *testing.T, r *root) { wantFile(t, r, "/foo/bar", "more\n", 0o600, 0, 0) }},
		{name: "files.defaultperms", config: file(`{"path":"/foo/bar","contents":{"source":"data:,x"}},{"path":"/foo/empty"}`),
			check: func(t *testing.T, r *root) {
				wantFile(t, r, "/foo/bar", "x", 0o644, 0, 0)
				wantFile(t, r, "/foo/empty", "", 0o644, 0, 0)
			}},
		{name: "files.customperms", config: file(`{"path":"/foo/bar","contents":{"source":"data:,x"},"mode":493}`),
			check: func(t *testing.T, r *root) { wantFile(t, r, "/foo/bar", "x", 0o755, 0, 0) }},
		// setuid/setgid/sticky: honoured from 3.6, masked before (#2042)
		{name: "files.customperms.pre-#2042-fix", config: file(`{"path":"/foo/bar","contents":{"source":"data:,x"},"mode":4077}`),
			check: func(t *testing.T, r *root) {
				want := os.FileMode(0o755)
				if r.version >= "3.6.0" {
					want |= os.ModeSetuid | os.ModeSetgid | os.ModeSticky
				}
				wantFile(t, r, "/foo/bar", "x", want, 0, 0)
			}},
		{name: "files.create.compressed", config: file(`{"path":"/foo/bar","contents":{"compression":"gzip","source":"data:;base64,` + c64 + `"}}`), check: asdf},
		{name: "files.create.withhash.dataurl", config: file(`{"path":"/foo/bar","contents":{"source":"data:,asdf%0Afdsa%0A","verification":{"hash":"sha512-` + sha512Hex(contentsText) + `"}}}`), check: asdf},
		{name: "files.create.withhash.dataurl.sha256", min: "3.1.0", config: file(`{"path":"/foo/bar","contents":{"source":"data:,asdf%0Afdsa%0A","verification":{"hash":"sha256-` + sha256Hex(contentsText) + `"}}}`), check: asdf},
		{name: "files.create.withhash.http", config: file(`{"path":"/foo/bar","contents":{"source":"http://$http/contents","verification":{"hash":"sha512-` + sha512Hex(contentsText) + `"}}}`), check: asdf},
		{name: "files.create.withhash.http.sha256", min: "3.1.0", config: file(`{"path":"/foo/bar","contents":{"source":"http://$http/contents","verification":{"hash":"sha256-` + sha256Hex(contentsText) + `"}}}`), check: asdf},
		{name: "files.create.withhash.http.headers", min: "3.1.0", config: file(`{"path":"/foo/bar","contents":{"source":"http://$http/contents_headers","httpHeaders":[{"name":"` + headerName + `","value":"` + headerValue + `"}],"verification":{"hash":"sha512-` + sha512Hex(contentsText) + `"}}}`), check: asdf},
		{name: "files.create.http", config: file(`{"path":"/foo/bar","contents":{"source":"http://$http/contents"}}`), check: asdf},
		{name: "files.create.http.compressed", config: file(`{"path":"/foo/bar","contents":{"source":"http://$http/contents_compressed","compression":"gzip"}}`), check: asdf},
		{name: "files.create.http.headers", min: "3.1.0", config: file(`{"path":"/foo/bar","contents":{"source":"http://$http/contents_headers","httpHeaders":[{"name":"` + headerName + `","value":"` + headerValue + `"}]}}`), check: asdf},
		{name: "files.create.http.headers.redirect", min: "3.1.0", config: file(`{"path":"/foo/bar","contents":{"source":"http://$http/contents_headers_redirect","httpHeaders":[{"name":"` + headerName + `","value":"` + headerValue + `"}]}}`), check: asdf},
		{name: "files.create.http.headers.overwrite", min: "3.1.0", config: file(`{"path":"/foo/bar","contents":{"source":"http://$http/contents_headers_overwrite","httpHeaders":[{"name":"User-Agent","value":"flint-test-agent"},{"name":"Accept","value":"text/plain"}]}}`), check: asdf},
		{name: "files.create.tftp", config: file(`{"path":"/foo/bar","contents":{"source":"tftp://$tftp/contents"}}`), check: asdf},
		{name: "files.create.many.remote", config: file(`{"path":"/a/1","contents":{"source":"http://$http/contents"}},{"path":"/a/2","contents":{"source":"tftp://$tftp/contents"}},{"path":"/a/3","contents":{"source":"http://$http/contents_compressed","compression":"gzip"}},{"path":"/a/4","contents":{"source":"http://$http/contents"},"append":[{"source":"tftp://$tftp/contents"}]}`),
			check: func(t *testing.T, r *root) {
				for _, p := range []string{"/a/1", "/a/2", "/a/3"} {
					wantFile(t, r, p, contentsText, 0o644, 0, 0)
				}
				wantFile(t, r, "/a/4", contentsText+contentsText, 0o644, 0, 0)
				entries, _ := os.ReadDir(r.dir)
				for _, e := range entries {
					if e.Name() != "a" && e.Name() != "etc" {
						t.Fatalf("leftover in root: %s", e.Name())
					}
				}
			}},

		neg("files.verification.badhash.dataurl", "", file(other+`,{"path":"/foo/bar","contents":{"source":"data:,asdf","verification":{"hash":"sha512-`+sha512Hex("nope")+`"}}}`), "do not match verification.hash", nil), // validate refuses it first
		neg("files.verification.badhash.dataurl.sha256", "3.1.0", file(other+`,{"path":"/foo/bar","contents":{"source":"data:,asdf","verification":{"hash":"sha256-`+sha256Hex("nope")+`"}}}`), "do not match verification.hash", nil),
		neg("files.verification.badhash.http", "", file(other+`,{"path":"/foo/bar","contents":{"source":"http://$http/contents","verification":{"hash":"sha512-`+sha512Hex("nope")+`"}}}`), "hash verification failed", nil),
		neg("files.verification.badhash.http.sha256", "3.1.0", file(other+`,{"path":"/foo/bar","contents":{"source":"http://$http/contents","verification":{"hash":"sha256-`+sha256Hex("nope")+`"}}}`), "hash verification failed", nil),
		neg("files.create.http.notfound", "", file(other+`,{"path":"/foo/bar","contents":{"source":"http://$http/nope"}}`), "not found", nil),
		neg("files.create.http.invalidheader", "3.1.0", file(other+`,{"path":"/foo/bar","contents":{"source":"http://$http/contents_headers","httpHeaders":[{"name":"`+headerName+`","value":"wrong"}]}}`), "failed to fetch", nil),
		neg("files.create.tftp.notfound", "", file(other+`,{"path":"/foo/bar","contents":{"source":"tftp://$tftp/nope"}}`), "/nope", nil),
		neg("files.create.overwrite.false", "", file(other+`,{"path":"/foo/bar","contents":{"source":"data:,new"}}`), "overwrite is false",
			func(t *testing.T, r *root) { writeFile(t, r, "/foo/bar", "old", 0o644) }),
		neg("files.creates.overwrite.false.overdir", "", file(other+`,{"path":"/foo/bar","contents":{"source":"data:,new"}}`), "overwrite is false",
			func(t *testing.T, r *root) { mkdir(t, r, "/foo/bar") }),
		neg("files.leading.component.file", "", file(other+`,{"path":"/foo/bar/baz","contents":{"source":"data:,new"}}`), "not a directory",
			func(t *testing.T, r *root) { writeFile(t, r, "/foo/bar", "x", 0o644) }),
	}
}
