package host

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A canary goes through every secret-marked field of the config (see
// config.Redacted: password hashes, header values, URL userinfo and query,
// data: bodies, unit and drop-in contents, key files, clevis custom
// configs, proxies, tang URLs) and validate, plan, apply and a whole
// `flint run` boot sequence run under strace -f. None of stdout, stderr,
// the result files, the run directory's reports and the argv of any child
// process may hold it. (What the config asks to write into the root, and
// the 0600 config cache, hold secrets by design and are not searched.)
func TestSecretsNeverLeak(t *testing.T) {
	if _, err := exec.LookPath("strace"); err != nil {
		t.Fatal("strace is needed (tests/deps/accounts.txt)")
	}
	const c = "CANARY7q3x"
	// the server answers the canary URL only with the canary header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Secret") != "hdr-"+c {
			http.Error(w, "no", http.StatusForbidden)
			return
		}
		w.Write([]byte("remote contents"))
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	cfg := fmt.Sprintf(`{"ignition":{"version":"3.5.0",
	  "proxy":{"httpProxy":"http://proxyuser:px-%[1]s@127.0.0.1:9","noProxy":["127.0.0.1"]},
	  "config":{"merge":[{"source":"data:,%%7B%%22ignition%%22%%3A%%7B%%22version%%22%%3A%%223.5.0%%22%%7D%%2C%%22storage%%22%%3A%%7B%%22files%%22%%3A%%5B%%7B%%22path%%22%%3A%%22%%2Fetc%%2Fmerged%%22%%2C%%22contents%%22%%3A%%7B%%22source%%22%%3A%%22data%%3A%%2Cmerged-%[1]s%%22%%7D%%7D%%5D%%7D%%7D"}]}},
	 "passwd":{"users":[{"name":"alice","passwordHash":"$6$salt$hash-%[1]s","sshAuthorizedKeys":["ssh-ed25519 AAAAC3 alice"]}],
	           "groups":[{"name":"devs","passwordHash":"$6$g$grp-%[1]s"}]},
	 "storage":{
	  "files":[{"path":"/etc/inline","contents":{"source":"data:,inline-%[1]s"}},
	           {"path":"/etc/b64","contents":{"source":"data:;base64,%[2]s"}},
	           {"path":"/etc/remote","contents":{"source":"http://user:pw-%[1]s@%[3]s/f?token=q-%[1]s",
	             "httpHeaders":[{"name":"X-Secret","value":"hdr-%[1]s"}]}}],
	  "luks":[{"name":"v","device":"/dev/disk/by-label/nothere","keyFile":{"source":"data:,key-%[1]s"},
	           "clevis":{"tang":[{"url":"http://tu:tp-%[1]s@127.0.0.1:9/?t=%[1]s","thumbprint":"x"}]}},
	          {"name":"w","device":"/dev/disk/by-label/nothere2","clevis":{"custom":{"pin":"sss","config":"{\"t\":1,\"k\":\"cc-%[1]s\"}"}}}]},
	 "systemd":{"units":[{"name":"s.service","contents":"[Service]\nEnvironment=T=unit-%[1]s\n",
	   "dropins":[{"name":"d.conf","contents":"[Service]\nEnvironment=D=drop-%[1]s\n"}]}]}}`,
		c, base64.StdEncoding.EncodeToString([]byte("b64-"+c)), host)

	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "secrets.ign")
	must(t, os.WriteFile(cfgPath, []byte(cfg), 0o600))
	run := filepath.Join(dir, "run")
	env := append(os.Environ(), "FLINT_RUN_DIR="+run, "FLINT_LOCAL_CONFIG_DIR="+filepath.Join(dir, "etc-flint"),
		"FLINT_SYSTEM_CONFIG_DIR="+filepath.Join(dir, "usr-flint"), "IGNITION_SYSTEM_RUNTIME_CONFIG_DIR="+filepath.Join(dir, "run-ign"),
		"IGNITION_SYSTEM_LOCAL_CONFIG_DIR="+filepath.Join(dir, "etc-ign"), "IGNITION_SYSTEM_CONFIG_DIR="+filepath.Join(dir, "usr-ign"),
		"FLINT_KERNEL_CMDLINE_PATH="+filepath.Join(dir, "cmdline"), "FLINT_CONFIG_FILE="+cfgPath,
		"FLINT_BOOT_ID_FILE="+filepath.Join(dir, "boot_id"))
	must(t, os.WriteFile(filepath.Join(dir, "cmdline"), []byte("flint.firstboot\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "boot_id"), []byte("boot-canary\n"), 0o644))

	var searched []string // what was searched, for the failure message
	check := func(what string, b []byte) {
		t.Helper()
		searched = append(searched, what)
		if i := bytes.Index(b, []byte(c)); i >= 0 {
			lo, hi := max(0, i-200), min(len(b), i+100)
			t.Errorf("%s holds the canary: …%s…", what, b[lo:hi])
		}
	}
	traced := func(name string, wantOK bool, args ...string) {
		t.Helper()
		trace := filepath.Join(dir, name+".strace")
		cmd := exec.Command("strace", append([]string{"-f", "-qq", "-s", "65535", "-e", "trace=execve", "-o", trace, flintBin}, args...)...)
		cmd.Env = env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if (err == nil) != wantOK {
			t.Fatalf("flint %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
		}
		check(name+" stdout", stdout.Bytes())
		check(name+" stderr", stderr.Bytes())
		tr, rerr := os.ReadFile(trace)
		if rerr != nil || !bytes.Contains(tr, []byte("execve(")) {
			t.Fatalf("no strace output for %s: %v", name, rerr)
		}
		check(name+" child argv (strace)", tr)
	}

	traced("validate", true, "validate", cfgPath)
	plainRoot := filepath.Join(fsRoots["ext4"], "canary-"+randHex())
	must(t, os.MkdirAll(plainRoot, 0o755))
	seedPasswd(t, plainRoot)
	traced("plan", true, "plan", "--root", plainRoot, "--ignore-unsupported", cfgPath)
	traced("apply", true, "apply", "--root", plainRoot, "--ignore-unsupported", cfgPath)
	if b, err := os.ReadFile(filepath.Join(plainRoot, "etc/remote")); err != nil || string(b) != "remote contents" {
		t.Fatalf("the remote file was not fetched with its header: %q %v", b, err)
	}
	for _, f := range []string{"etc/.flint-result.json", "etc/.ignition-result.json"} {
		b, err := os.ReadFile(filepath.Join(plainRoot, f))
		if err != nil {
			t.Fatal(err)
		}
		check("apply "+f, b)
	}

	// a boot: every stage as the initramfs units run them
	bootRoot := filepath.Join(fsRoots["ext4"], "canary-boot-"+randHex())
	must(t, os.MkdirAll(bootRoot, 0o755))
	seedPasswd(t, bootRoot)
	// (the LUKS volumes need devices: the boot leaves them out)
	bootCfg := strings.Replace(cfg, `"luks":[`, `"x-no-luks":[`, 1)
	must(t, os.WriteFile(cfgPath, []byte(bootCfg), 0o600))
	for _, st := range []string{"fetch-offline", "fetch", "kargs", "disks", "mount", "files", "umount"} {
		traced("run "+st, true, "run", "--stage", st, "--platform", "file", "--root", bootRoot, "--log-to-stdout")
	}
	for _, f := range []string{"etc/.flint-result.json", "etc/.ignition-result.json"} {
		b, err := os.ReadFile(filepath.Join(bootRoot, f))
		if err != nil {
			t.Fatal(err)
		}
		check("run "+f, b)
	}
	ents, _ := os.ReadDir(run)
	for _, e := range ents {
		if e.Name() == "config.json" || e.IsDir() {
			continue // the cache is the config itself (0600), by design
		}
		b, _ := os.ReadFile(filepath.Join(run, e.Name()))
		check("run dir "+e.Name(), b)
	}
	// the failure path: the server refuses a wrong header (itself a
	// canary), so the files stage fails with a failure summary
	failCfg := strings.Replace(bootCfg, `"value":"hdr-`, `"value":"wrong-`, 1)
	must(t, os.WriteFile(cfgPath, []byte(failCfg), 0o600))
	os.RemoveAll(run)
	failRoot := filepath.Join(fsRoots["ext4"], "canary-fail-"+randHex())
	must(t, os.MkdirAll(failRoot, 0o755))
	seedPasswd(t, failRoot)
	for _, st := range []string{"fetch-offline", "fetch", "kargs", "disks", "mount"} {
		traced("run "+st+" (failing)", true, "run", "--stage", st, "--platform", "file", "--root", failRoot, "--log-to-stdout")
	}
	traced("run files (failing)", false, "run", "--stage", "files", "--platform", "file", "--root", failRoot, "--log-to-stdout")
	for _, f := range []string{"failure.txt", "state"} {
		b, err := os.ReadFile(filepath.Join(run, f))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		check("run dir "+f+" after a failure", b)
	}
	if b, err := os.ReadFile(filepath.Join(failRoot, "etc/.flint-result.json")); err == nil {
		check("result file after a failure", b)
	}
	t.Logf("searched: %s", strings.Join(searched, "; "))
}
