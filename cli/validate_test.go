package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flintboot/flint/config"
)

// validateJSON runs `flint validate --format json FILE` on cfg.
func validateJSON(t *testing.T, cfg string) (config.ReportJSON, int) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "config.ign")
	if err := os.WriteFile(f, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := flint(t, "validate", "--format", "json", f)
	var res config.ReportJSON
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("validate output is not JSON: %v\n%s\n%s", err, out, errOut)
	}
	return res, code
}

// TestValidateRefusesWhatApplyCannotDo: every input that passed validate
// and then failed in apply (issue 13) is refused by `flint validate` with
// the JSON path, line and column of the entry.
func TestValidateRefusesWhatApplyCannotDo(t *testing.T) {
	long := strings.Repeat("x", 256)
	for _, c := range []struct {
		name, body, path, msg string
	}{
		// item 2: ids wrap to root
		{"negative uid", `"passwd":{"users":[{"name":"a","uid":-5}]}`, "$.passwd.users.0.uid", "id must be between 0 and 4294967294"},
		{"negative gid", `"passwd":{"groups":[{"name":"g","gid":-7}]}`, "$.passwd.groups.0.gid", "id must be between"},
		{"uid wraps to 1000", `"passwd":{"users":[{"name":"a","uid":4294968296}]}`, "$.passwd.users.0.uid", "id must be between"},
		{"file owner id", `"storage":{"files":[{"path":"/f","user":{"id":-1}}]}`, "$.storage.files.0.user.id", "id must be between"},
		{"directory group id", `"storage":{"directories":[{"path":"/d","group":{"id":4294967295}}]}`, "$.storage.directories.0.group.id", "id must be between"},
		{"link owner id", `"storage":{"links":[{"path":"/l","target":"/t","user":{"id":-3}}]}`, "$.storage.links.0.user.id", "id must be between"},
		// item 3: unit and drop-in names systemd would not accept
		{"unit with slash", `"systemd":{"units":[{"name":"../../etc/x.service","contents":"[Unit]"}]}`, "$.systemd.units.0.name", "invalid unit name"},
		{"unit with newline", `"systemd":{"units":[{"name":"a.service\nenable evil.service","enabled":true}]}`, "$.systemd.units.0.name", "invalid unit name"},
		{"unit with NUL", `"systemd":{"units":[{"name":"a\u0000.service"}]}`, "$.systemd.units.0.name", "contains a NUL byte"},
		{"unit too long", `"systemd":{"units":[{"name":"` + long + `.service"}]}`, "$.systemd.units.0.name", "invalid unit name"},
		{"unit starting with @", `"systemd":{"units":[{"name":"@x.service"}]}`, "$.systemd.units.0.name", "invalid unit name"},
		{"drop-in with slash", `"systemd":{"units":[{"name":"a.service","dropins":[{"name":"../../b.conf","contents":"[Unit]"}]}]}`, "$.systemd.units.0.dropins.0.name", "invalid drop-in name"},
		{"drop-in with newline", `"systemd":{"units":[{"name":"a.service","dropins":[{"name":"a\nb.conf"}]}]}`, "$.systemd.units.0.dropins.0.name", "invalid drop-in name"},
		// item 4: knowable from the config, refused before the first write
		{"NUL in path", `"storage":{"files":[{"path":"/a\u0000b"}]}`, "$.storage.files.0.path", "NUL"},
		{"empty user name", `"passwd":{"users":[{"name":""}]}`, "$.passwd.users.0.name", "user name is empty"},
		{"user name -bad", `"passwd":{"users":[{"name":"-bad"}]}`, "$.passwd.users.0.name", "invalid user name"},
		{"user name with colon", `"passwd":{"users":[{"name":"a:b"}]}`, "$.passwd.users.0.name", "invalid user name"},
		{"user name with space", `"passwd":{"users":[{"name":"a b"}]}`, "$.passwd.users.0.name", "invalid user name"},
		{"group name with comma", `"passwd":{"groups":[{"name":"a,b"}]}`, "$.passwd.groups.0.name", "invalid group name"},
		{"password hash with colon", `"passwd":{"users":[{"name":"a","passwordHash":"$6$s$h:x"}]}`, "$.passwd.users.0.passwordHash", "password hash"},
		{"password hash with newline", `"passwd":{"users":[{"name":"a","passwordHash":"$6$s$h\nroot::0:0::/:/bin/sh"}]}`, "$.passwd.users.0.passwordHash", "password hash"},
		{"group password hash", `"passwd":{"groups":[{"name":"g","passwordHash":"a\nb"}]}`, "$.passwd.groups.0.passwordHash", "password hash"},
		{"gecos with colon", `"passwd":{"users":[{"name":"a","gecos":"x:0:0"}]}`, "$.passwd.users.0.gecos", "passwd file"},
		{"home with newline", `"passwd":{"users":[{"name":"a","homeDir":"/h\nx"}]}`, "$.passwd.users.0.homeDir", "passwd file"},
		{"relative home", `"passwd":{"users":[{"name":"a","homeDir":"home/a"}]}`, "$.passwd.users.0.homeDir", "absolute"},
		{"shell with colon", `"passwd":{"users":[{"name":"a","shell":"/bin/sh:x"}]}`, "$.passwd.users.0.shell", "passwd file"},
		{"supplementary group", `"passwd":{"users":[{"name":"a","groups":["wheel","a b"]}]}`, "$.passwd.users.0.groups.1", "invalid group"},
		{"ssh key with newline", `"passwd":{"users":[{"name":"a","sshAuthorizedKeys":["ssh-ed25519 AAAA a\ncommand=\"x\" ssh-rsa B"]}]}`, "$.passwd.users.0.sshAuthorizedKeys.0", "SSH key"},
		{"path component too long", `"storage":{"files":[{"path":"/` + long + `"}]}`, "$.storage.files.0.path", "255 bytes"},
		{"path too long", `"storage":{"directories":[{"path":"` + strings.Repeat("/"+long[:200], 21) + `"}]}`, "$.storage.directories.0.path", "4095 bytes"},
		{"file at the root", `"storage":{"files":[{"path":"/"}]}`, "$.storage.files.0.path", "root directory"},
		{"file below a file", `"storage":{"files":[{"path":"/a"},{"path":"/a/b"}]}`, "$.storage.files.1.path", "below a file"},
		{"header value with newline", `"storage":{"files":[{"path":"/a","contents":{"source":"http://h/a","httpHeaders":[{"name":"X","value":"a\r\nEvil: 1"}]}}]}`, "$.storage.files.0.contents.httpHeaders.0.value", "HTTP header value"},
		{"header name not a token", `"storage":{"files":[{"path":"/a","contents":{"source":"http://h/a","httpHeaders":[{"name":"X Y","value":"v"}]}}]}`, "$.storage.files.0.contents.httpHeaders.0.name", "HTTP header name"},
		// item 5: a URL that can never work
		{"impossible port", `"storage":{"files":[{"path":"/a","contents":{"source":"http://h:99999/"}}]}`, "$.storage.files.0.contents.source", "port must be between 1 and 65535"},
		{"port 0", `"storage":{"files":[{"path":"/a","contents":{"source":"https://h:0/x"}}]}`, "$.storage.files.0.contents.source", "port must be between"},
		{"no host", `"storage":{"files":[{"path":"/a","contents":{"source":"http:///x"}}]}`, "$.storage.files.0.contents.source", "no host"},
		{"malformed url", `"storage":{"files":[{"path":"/a","contents":{"source":"http://h:x/"}}]}`, "$.storage.files.0.contents.source", "unable to parse url"},
		{"merge port", `"ignition":{"config":{"merge":[{"source":"http://h:70000/c"}]}}`, "$.ignition.config.merge.0.source", "port must be between"},
		{"proxy port", `"ignition":{"proxy":{"httpsProxy":"http://p:99999"}}`, "$.ignition.proxy.httpsProxy", "port must be between"},
		// item 6: timeouts
		{"httpTotal overflow", `"ignition":{"timeouts":{"httpTotal":18446744074}}`, "$.ignition.timeouts.httpTotal", "timeout must be between 0 and 9223372036 seconds"},
		{"negative httpResponseHeaders", `"ignition":{"timeouts":{"httpResponseHeaders":-1}}`, "$.ignition.timeouts.httpResponseHeaders", "timeout must be between"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ig := `"ignition":{"version":"3.4.0"}`
			body := c.body
			if strings.HasPrefix(body, `"ignition":{`) {
				ig, body = `"ignition":{"version":"3.4.0",`+strings.TrimPrefix(body, `"ignition":{`), ""
			}
			cfg := "{" + ig
			if body != "" {
				cfg += ",\n" + body
			}
			cfg += "}"
			res, code := validateJSON(t, cfg)
			if code != ExitFailure || res.Valid {
				t.Fatalf("exit %d, valid %v; want the config refused\n%+v", code, res.Valid, res)
			}
			for _, e := range res.Entries {
				if e.Kind == "error" && e.Path == c.path && strings.Contains(e.Message, c.msg) {
					if e.Line < 1 || e.Column < 1 {
						t.Fatalf("entry without a position: %+v", e)
					}
					return
				}
			}
			t.Fatalf("no error at %s containing %q: %+v", c.path, c.msg, res.Entries)
		})
	}
}

// TestValidateAcceptsWhatApplyCan: the limits are not stricter than the
// tools: boundary values pass.
func TestValidateAcceptsWhatApplyCan(t *testing.T) {
	cfg := `{"ignition":{"version":"3.4.0","timeouts":{"httpTotal":9223372036,"httpResponseHeaders":0}},
	"passwd":{"users":[{"name":"Core.User_1-x$","uid":4294967294,"gecos":"José, room 1","homeDir":"/var/home/core","shell":"/bin/bash","groups":["wheel","10"],"sshAuthorizedKeys":["ssh-ed25519 AAAA core\n"]}],
	  "groups":[{"name":"g","gid":0}]},
	"storage":{"files":[{"path":"/` + strings.Repeat("x", 255) + `","contents":{"source":"http://h:65535/x","httpHeaders":[{"name":"X-Token","value":"a\tb"}]}}]},
	"systemd":{"units":[{"name":"foo@bar-1:2\\x2d.service","dropins":[{"name":"10-x.conf","contents":"[Unit]"}]},{"name":"-.mount","mask":true}]}}`
	res, code := validateJSON(t, cfg)
	if code != 0 || !res.Valid {
		t.Fatalf("exit %d: %+v", code, res)
	}
}

// TestValidateBlank: empty and white-space-only inputs are not configs.
func TestValidateBlank(t *testing.T) {
	for _, in := range []string{"", " ", "\n\t \r\n"} {
		f := filepath.Join(t.TempDir(), "c.ign")
		if err := os.WriteFile(f, []byte(in), 0o600); err != nil {
			t.Fatal(err)
		}
		out, _, code := flint(t, "validate", f)
		if code != ExitFailure || !strings.Contains(out, "not a config (empty)") {
			t.Errorf("validate %q: exit %d, output %q", in, code, out)
		}
		res, code := validateJSON(t, in)
		if code != ExitFailure || res.Valid || res.Error != "not a config (empty)" {
			t.Errorf("validate --format json %q: exit %d, %+v", in, code, res)
		}
	}
}

// TestPlanRefusesWhatApplyCannotDo: plan goes through the same gate and
// changes nothing.
func TestPlanRefusesWhatApplyCannotDo(t *testing.T) {
	root := t.TempDir()
	for _, body := range []string{
		`"passwd":{"users":[{"name":"x","uid":-5}]}`,
		`"systemd":{"units":[{"name":"../x.service","contents":"[Unit]"}]}`,
		`"storage":{"files":[{"path":"/a","contents":{"source":"http://h:99999/"}}]}`,
	} {
		f := filepath.Join(t.TempDir(), "c.ign")
		if err := os.WriteFile(f, []byte(`{"ignition":{"version":"3.4.0"},`+body+`}`), 0o600); err != nil {
			t.Fatal(err)
		}
		out, errOut, code := flint(t, "plan", "--root", root, f)
		if code != ExitFailure {
			t.Errorf("plan %s: exit %d\n%s%s", body, code, out, errOut)
		}
		if strings.Contains(out, "useradd") || strings.Contains(out, "write-unit") {
			t.Errorf("plan printed actions for an invalid config:\n%s", out)
		}
	}
	if ents, _ := os.ReadDir(root); len(ents) != 0 {
		t.Errorf("plan wrote into the root: %v", ents)
	}
}
