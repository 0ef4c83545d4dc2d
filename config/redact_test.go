package config

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// publicFields are the string fields that are not secret, each with the
// reason. Every string field of the type tree is either tagged secret in
// types.go or listed here: a new field fails TestSecretTagsClassified until
// someone decides.
var publicFields = map[string]string{
	"Ignition.Version":        "the spec version",
	"NoProxyItem":             "host names and domains",
	"Resource.Compression":    "\"gzip\" or empty",
	"HTTPHeader.Name":         "header names are protocol vocabulary; the values are secret",
	"KernelArgument":          "kernel arguments end up in /proc/cmdline, readable by every user",
	"PasswdGroup.Name":        "account names are public (/etc/group)",
	"PasswdUser.Gecos":        "public (/etc/passwd)",
	"PasswdUser.HomeDir":      "public (/etc/passwd)",
	"PasswdUser.Name":         "public (/etc/passwd)",
	"PasswdUser.PrimaryGroup": "public (/etc/passwd)",
	"PasswdUser.Shell":        "public (/etc/passwd)",
	"Group":                   "public (/etc/group)",
	"SSHAuthorizedKey":        "public keys: authorized_keys holds no secret; kept so logs can tell which key was installed",
	"Disk.Device":             "device paths",
	"Partition.GUID":          "partition identifiers, visible in the GPT",
	"Partition.Label":         "visible in the GPT and /dev/disk/by-partlabel",
	"Partition.TypeGUID":      "visible in the GPT",
	"Raid.Level":              "array geometry",
	"Raid.Name":               "visible in /dev/md",
	"Device":                  "device paths",
	"RaidOption":              "mdadm options (no secrets: mdadm takes none on the command line)",
	"Filesystem.Device":       "device paths",
	"Filesystem.Format":       "filesystem type",
	"Filesystem.Label":        "visible in the superblock and /dev/disk/by-label",
	"Filesystem.Path":         "mount point",
	"Filesystem.UUID":         "visible in the superblock",
	"MountOption":             "visible in /proc/mounts",
	"FilesystemOption":        "mkfs options, visible in argv",
	"Node.Path":               "paths",
	"NodeGroup.Name":          "account names are public",
	"NodeUser.Name":           "account names are public",
	"LinkEmbedded1.Target":    "visible with readlink",
	"Luks.Device":             "device paths",
	"Luks.Label":              "visible in the LUKS header",
	"Luks.Name":               "visible in /dev/mapper",
	"Luks.UUID":               "visible in the LUKS header",
	"OpenOption":              "cryptsetup options, visible in argv",
	"LuksOption":              "cryptsetup options, visible in argv",
	"ClevisCustom.Pin":        "the pin's name (tpm2, tang, sss, …)",
	"Tang.Advertisement":      "the server's signed public keys",
	"Tang.Thumbprint":         "the hash of a public key",
	"Unit.Name":               "unit names",
	"Dropin.Name":             "drop-in names",
}

// stringField is a string-valued field (string, *string, []string or a
// named string type) found by walking the type tree.
type stringField struct {
	key    string // "Type.Field", or the named type for list elements
	secret string
}

func stringFields(t reflect.Type, seen map[reflect.Type]bool, out *[]stringField) {
	if seen[t] {
		return
	}
	seen[t] = true
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		ft := f.Type
		for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice {
			ft = ft.Elem()
		}
		switch ft.Kind() {
		case reflect.String:
			key := t.Name() + "." + f.Name
			if ft.Name() != "string" && f.Type.Kind() == reflect.Slice {
				key = ft.Name() // a list of a named string type
			}
			*out = append(*out, stringField{key, f.Tag.Get("secret")})
		case reflect.Struct:
			stringFields(ft, seen, out)
		}
	}
}

func TestSecretTagsClassified(t *testing.T) {
	var fields []stringField
	stringFields(reflect.TypeOf(Config{}), map[reflect.Type]bool{}, &fields)
	seen := map[string]bool{}
	for _, f := range fields {
		seen[f.key] = true
		_, public := publicFields[f.key]
		switch {
		case f.secret != "" && public:
			t.Errorf("%s is tagged secret:%q and listed as public", f.key, f.secret)
		case f.secret == "" && !public:
			t.Errorf("%s: tag it secret in types.go or list it in publicFields with the reason", f.key)
		}
		switch f.secret {
		case "", "true", "url", "digest":
		default:
			t.Errorf("%s: unknown secret tag %q on a string", f.key, f.secret)
		}
	}
	for k := range publicFields {
		if !seen[k] {
			t.Errorf("publicFields lists %s, which is not a string field", k)
		}
	}
	// the secrets issue 13 names must stay tagged
	for _, k := range []string{"PasswdUser.PasswordHash", "PasswdGroup.PasswordHash", "HTTPHeader.Value", "Resource.Source", "Verification.Hash", "ClevisCustom.Config", "Tang.URL", "Unit.Contents", "Dropin.Contents", "Proxy.HTTPProxy"} {
		found := false
		for _, f := range fields {
			found = found || (f.key == k && f.secret != "")
		}
		if !found {
			t.Errorf("%s lost its secret tag", k)
		}
	}
	if tag := reflect.TypeOf(Luks{}).Field(fieldIndex(reflect.TypeOf(Luks{}), "KeyFile")).Tag.Get("secret"); tag != "key" {
		t.Errorf("Luks.KeyFile: secret tag %q, want key", tag)
	}
}

func fieldIndex(t reflect.Type, name string) int {
	f, _ := t.FieldByName(name)
	return f.Index[0]
}

// filler fills every string leaf of a config through reflection: secret
// leaves get a numbered canary, public ones a numbered public value, so a
// newly tagged field is covered without touching this test.
type filler struct {
	n       int
	dataURL bool // url leaves are data: URLs (bodies in the config)
	canary  []string
	public  []string
}

func (f *filler) fill(v reflect.Value, tag string, secretBody bool) {
	switch v.Kind() {
	case reflect.Pointer:
		n := reflect.New(v.Type().Elem())
		f.fill(n.Elem(), tag, secretBody)
		v.Set(n)
	case reflect.Slice:
		n := reflect.MakeSlice(v.Type(), 1, 1)
		f.fill(n.Index(0), tag, secretBody)
		v.Set(n)
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			ft := t.Field(i).Tag.Get("secret")
			// a data: source makes the resource's body (and its hash)
			// secret
			body := secretBody || ft == "key" || (f.dataURL && hasURLField(t))
			f.fill(v.Field(i), ft, body)
		}
	case reflect.String:
		f.n++
		c := fmt.Sprintf("CANARY%03dX", f.n)
		p := fmt.Sprintf("public%03d", f.n)
		switch {
		case tag == "true", tag == "digest" && secretBody:
			v.SetString(c)
			f.canary = append(f.canary, c)
		case tag == "url" && f.dataURL:
			v.SetString("data:text/plain;base64," + c)
			f.canary = append(f.canary, c)
		case tag == "url":
			// userinfo, query and fragment are secret; host and path
			// are what logs keep
			v.SetString("https://u" + c + ":p" + c + "@" + p + ".example/" + p + "?token=" + c + "#" + c)
			f.canary = append(f.canary, c)
			f.public = append(f.public, p+".example/"+p)
		default:
			v.SetString(p)
			f.public = append(f.public, p)
		}
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int:
		v.SetInt(int64(f.n))
	}
}

func hasURLField(t reflect.Type) bool {
	for i := 0; i < t.NumField(); i++ {
		if t.Field(i).Tag.Get("secret") == "url" {
			return true
		}
	}
	return false
}

// TestRedactedCanaries puts a canary in every secret-tagged field (and in
// the secret parts of every URL) and checks that none survives Redacted,
// that every public value does, and that the input is left alone.
func TestRedactedCanaries(t *testing.T) {
	for _, dataURL := range []bool{false, true} {
		t.Run(fmt.Sprintf("dataURL=%v", dataURL), func(t *testing.T) {
			f := &filler{dataURL: dataURL}
			var cfg Config
			f.fill(reflect.ValueOf(&cfg).Elem(), "", false)
			if len(f.canary) < 10 {
				t.Fatalf("only %d canaries placed", len(f.canary))
			}
			before, err := json.Marshal(cfg)
			if err != nil {
				t.Fatal(err)
			}
			out, err := RedactedJSON(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if after, _ := json.Marshal(cfg); string(after) != string(before) {
				t.Fatal("Redacted modified its input")
			}
			for _, c := range f.canary {
				if !strings.Contains(string(before), c) {
					t.Fatalf("canary %s not in the input", c)
				}
				if strings.Contains(string(out), c) {
					t.Errorf("canary %s survived redaction", c)
				}
			}
			for _, p := range f.public {
				if !strings.Contains(string(out), p) {
					t.Errorf("public value %s lost in redaction", p)
				}
			}
			if !strings.Contains(string(out), RedactedMarker) {
				t.Error("no marker in the redacted config")
			}
		})
	}
}

// TestRedactedConfig checks the redaction of a realistic config value by
// value, and that the marker replaces but never invents.
func TestRedactedConfig(t *testing.T) {
	raw := `{"ignition":{"version":"3.5.0","config":{"merge":[{"source":"https://user:pw@cfg.example/c.ign?sig=abc","httpHeaders":[{"name":"Authorization","value":"Bearer tok"}],"verification":{"hash":"` + sha512sum + `"}}]},
	 "proxy":{"httpsProxy":"http://proxyuser:proxypw@proxy:3128"}},
	"passwd":{"users":[{"name":"core","passwordHash":"$6$salt$hash","sshAuthorizedKeys":["ssh-ed25519 AAAA core"]},{"name":"nohash","passwordHash":""}],"groups":[{"name":"g","passwordHash":"$6$g$h"}]},
	"storage":{"files":[{"path":"/etc/tok","contents":{"source":"data:text/plain;charset=utf-8;base64,c2VjcmV0","verification":{"hash":"sha512-bd2b1aaf7ef4f09be9f52ce2d8d599674d81aa9d6a4421696dc4d93dd0619d682ce56b4d64a9ef097761ced99e0f67265b5f76085e5b0ee7ca4696b2ad6fe2b2"}}},{"path":"/etc/pub","contents":{"source":"http://h/pub","verification":{"hash":"` + sha512sum + `"}}}],
	 "luks":[{"name":"v","device":"/dev/vdb","keyFile":{"source":"https://k.example/key","verification":{"hash":"` + sha512sum + `"}},"clevis":{"tang":[{"url":"http://a:b@tang:7500/?x=1","thumbprint":"tp"}]}}]},
	"systemd":{"units":[{"name":"a.service","contents":"[Service]\nEnvironment=TOKEN=s3cr3t","dropins":[{"name":"x.conf","contents":"[Service]\nEnvironment=K=v"}]}]}}`
	cfg, rpt, err := Parse([]byte(raw))
	if err != nil {
		t.Fatalf("%v\n%s", err, rpt.String())
	}
	// (a custom pin next to tang servers is refused by validate; the
	// redaction must not care)
	cfg.Storage.Luks[0].Clevis.Custom.Config = strPtr(`{"url":"http://t","secret":"x"}`)
	r := Redacted(cfg)
	checks := []struct{ got, want string }{
		{*r.Ignition.Config.Merge[0].Source, "https://cfg.example/c.ign"},
		{*r.Ignition.Config.Merge[0].HTTPHeaders[0].Value, RedactedMarker},
		{r.Ignition.Config.Merge[0].HTTPHeaders[0].Name, "Authorization"},
		{*r.Ignition.Config.Merge[0].Verification.Hash, sha512sum},
		{*r.Ignition.Proxy.HTTPSProxy, "http://proxy:3128"},
		{*r.Passwd.Users[0].PasswordHash, RedactedMarker},
		{*r.Passwd.Users[1].PasswordHash, ""},
		{string(r.Passwd.Users[0].SSHAuthorizedKeys[0]), "ssh-ed25519 AAAA core"},
		{*r.Passwd.Groups[0].PasswordHash, RedactedMarker},
		{*r.Storage.Files[0].Contents.Source, "data:text/plain," + RedactedMarker},
		{*r.Storage.Files[0].Contents.Verification.Hash, RedactedMarker},
		{*r.Storage.Files[1].Contents.Source, "http://h/pub"},
		{*r.Storage.Files[1].Contents.Verification.Hash, sha512sum},
		{*r.Storage.Luks[0].KeyFile.Source, "https://k.example/key"},
		{*r.Storage.Luks[0].KeyFile.Verification.Hash, RedactedMarker},
		{*r.Storage.Luks[0].Clevis.Custom.Config, RedactedMarker},
		{r.Storage.Luks[0].Clevis.Tang[0].URL, "http://tang:7500/"},
		{*r.Storage.Luks[0].Clevis.Tang[0].Thumbprint, "tp"},
		{*r.Systemd.Units[0].Contents, RedactedMarker},
		{*r.Systemd.Units[0].Dropins[0].Contents, RedactedMarker},
		{r.Systemd.Units[0].Dropins[0].Name, "x.conf"},
	}
	for i, c := range checks {
		if c.got != c.want {
			t.Errorf("check %d: got %q, want %q", i, c.got, c.want)
		}
	}
	if *cfg.Passwd.Users[0].PasswordHash != "$6$salt$hash" || *cfg.Systemd.Units[0].Contents == RedactedMarker {
		t.Error("Redacted modified its input")
	}
	js, _ := RedactedJSON(cfg)
	for _, secret := range []string{"pw@", "sig=abc", "Bearer", "proxypw", "$6$", "c2VjcmV0", "s3cr3t", "a:b@", "\"secret\""} {
		if strings.Contains(string(js), secret) {
			t.Errorf("%q in the redacted JSON", secret)
		}
	}
}

func strPtr(s string) *string { return &s }

func TestRedactURL(t *testing.T) {
	for _, c := range [][2]string{
		{"", ""},
		{"https://u:p@h.example:8443/a/b?x=1&y=2#frag", "https://h.example:8443/a/b"},
		{"http://h/p?", "http://h/p"},
		{"s3://bucket/key?versionId=v1", "s3://bucket/key"},
		{"arn:aws:s3:us-east-1:123:accesspoint/ap/object/k?versionId=v", "arn:aws:s3:us-east-1:123:accesspoint/ap/object/k"},
		{"gs://b/o", "gs://b/o"},
		{"tftp://h/f", "tftp://h/f"},
		{"data:,secret", "data:," + RedactedMarker},
		{"data:text/plain;base64,c2VjcmV0", "data:text/plain," + RedactedMarker},
		{"DATA:application/json,{}", "data:application/json," + RedactedMarker},
		{"data:secret-without-comma", "data:," + RedactedMarker},
		{"http://h/%zz?tok=secret", RedactedMarker},
		{"http://u:p@h:99999/", "http://h:99999/"},
	} {
		if got := RedactURL(c[0]); got != c[1] {
			t.Errorf("RedactURL(%q) = %q, want %q", c[0], got, c[1])
		}
	}
}
