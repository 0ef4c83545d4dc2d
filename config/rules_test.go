package config

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/coreos/go-semver/semver"
	"github.com/coreos/vcontext/report"
)

// entry is one expected report entry: severity, JSON path, message.
type entry struct {
	kind report.EntryKind
	path string
	msg  string
}

func E(path, msg string) entry { return entry{report.Error, path, msg} }
func W(path, msg string) entry { return entry{report.Warn, path, msg} }

// ruleCase is one rule exercised for every spec version in [since, until].
type ruleCase struct {
	name string
	// origin is where the rule comes from, first word first:
	//   "3.x.0 …"  the spec version whose reference validator (coreos/
	//              ignition config/v3_x/types) introduced it, and the file;
	//   "legacy …" a rule of the legacy 2.x validator only: it must never
	//              fire for a 3.x config (the case wants no entries);
	//   "flint: …" flint's own rule, a deliberate difference from the
	//              reference (docs/validation.md), for every 3.x version.
	origin string
	since  string // first version the case applies to ("" = 3.0.0)
	until  string // last version ("" = newest)
	body   string // the config without the ignition.version member
	want   []entry
}

// legacyOnly are the messages of rules that only the legacy 2.x validator
// has (config/legacy/validate.go). No 3.x config may ever get one.
var legacyOnly = []string{
	"shouldExist is false for a partition and other partition(s) has start or size 0",
	"partitions misaligned",
	"cannot mix MBs and sectors within a disk",
	"cannot set both append and overwrite to true",
	"filesystem is missing mount or path",
	"filesystem has both mount and path defined",
	"cannot use both create object and mount-level options field",
	"cannot use both create object and wipeFilesystem field",
	"the create object has been deprecated in favor of mount-level options",
	"no filesystem specified",
	"size is deprecated; use sizeMB instead",
	"start is deprecated; use startMB instead",
	"the create object has been deprecated in favor of user-level options",
	"invalid networkd unit extension",
	"invalid networkd drop-in extension",
	"permissions unset, defaulting to 0000",
	"all header names in the list must be unique",
}

// checkNoLegacyRule fails when a 3.x report holds an entry of a rule that
// exists only in the legacy validator.
func checkNoLegacyRule(t *testing.T, r Report) {
	t.Helper()
	for _, e := range r.Entries {
		for _, m := range legacyOnly {
			if strings.Contains(e.Message, m) {
				t.Errorf("legacy-only rule applied to a 3.x config: %s", e.String())
			}
		}
	}
}

// checkOrigin fails when the case's origin is missing or malformed, when it
// expects entries for a version older than the one that introduced the
// rule, or when a legacy-only rule is expected to fire for 3.x.
func checkOrigin(t *testing.T, c ruleCase, v VersionInfo) {
	t.Helper()
	first, _, _ := strings.Cut(c.origin, " ")
	switch {
	case first == "legacy":
		if len(c.want) > 0 {
			t.Fatalf("case %q: a legacy-only rule (%s) must not give entries for 3.x", c.name, c.origin)
		}
	case first == "flint:":
	default:
		o, err := LookupVersion(first)
		if err != nil {
			t.Fatalf("case %q: origin %q: want a 3.x version, \"legacy …\" or \"flint: …\"", c.name, c.origin)
		}
		if len(c.want) > 0 && v.Version.LessThan(o.Version) {
			t.Fatalf("case %q expects entries for %s, but its rule comes from %s", c.name, v.Version, o.Version)
		}
	}
}

func versionsBetween(t *testing.T, since, until string) []VersionInfo {
	t.Helper()
	lo, hi := 0, len(Versions)-1
	if since != "" {
		lo = mustSince(since)
	}
	if until != "" {
		hi = mustSince(until)
	}
	return Versions[lo : hi+1]
}

func withVersion(v VersionInfo, body string) []byte {
	ig := fmt.Sprintf(`"ignition":{"version":%q}`, v.Version.String())
	if strings.Contains(body, `"ignition":{`) {
		return []byte("{" + strings.Replace(body, `"ignition":{`, `"ignition":{"version":"`+v.Version.String()+`",`, 1) + "}")
	}
	if strings.TrimSpace(body) == "" {
		return []byte("{" + ig + "}")
	}
	return []byte("{" + ig + "," + body + "}")
}

func entriesOf(r Report) []entry {
	var out []entry
	for _, e := range r.Entries {
		out = append(out, entry{e.Kind, e.Context.String(), e.Message})
	}
	return out
}

func sortEntries(es []entry) []string {
	var s []string
	for _, e := range es {
		s = append(s, fmt.Sprintf("%s %s: %s", e.kind, e.path, e.msg))
	}
	sort.Strings(s)
	return s
}

func runRuleCases(t *testing.T, cases []ruleCase) {
	for _, c := range cases {
		for _, v := range versionsBetween(t, c.since, c.until) {
			t.Run(c.name+"/"+v.Version.String(), func(t *testing.T) {
				checkOrigin(t, c, v)
				raw := withVersion(v, c.body)
				_, r, err := Parse(raw)
				checkNoLegacyRule(t, r)
				got := sortEntries(entriesOf(r))
				want := sortEntries(c.want)
				if strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Fatalf("config %s\ngot:\n  %s\nwant:\n  %s", raw, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
				}
				hasErr := false
				for _, e := range c.want {
					hasErr = hasErr || e.kind == report.Error
				}
				if hasErr != (err != nil) {
					t.Fatalf("err = %v, want error: %v", err, hasErr)
				}
			})
		}
	}
}

const sha512sum = "sha512-" + "00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"

func TestRulesIgnition(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{name: "empty", origin: "3.0.0 v3_0/types/config.go (no rule fires)", body: ``},
		{name: "merge source required", origin: "3.1.0 v3_1/types/resource.go validateRequiredSource", since: "3.1.0", body: `"ignition":{"config":{"merge":[{"source":""},{}]}}`,
			want: []entry{E("$.ignition.config.merge.0", "source is required"), E("$.ignition.config.merge.1", "source is required"), E("$.ignition.config.merge.1", "duplicate entry defined")}},
		{name: "merge source not required in 3.0", origin: "flint: the reference's run time refuses it under the newest rules (its validator requires sources from 3.1.0, v3_1/types/resource.go; v3_0 references: URL only)", until: "3.0.0", body: `"ignition":{"config":{"merge":[{"source":""}]}}`,
			want: []entry{E("$.ignition.config.merge.0", "source is required"+RuntimeRuleNote)}},
		{name: "merge bad scheme", origin: "3.1.0 v3_1/types/resource.go validateRequiredSource + url.go", since: "3.1.0", body: `"ignition":{"config":{"merge":[{"source":"ftp://x/y"}]}}`,
			want: []entry{E("$.ignition.config.merge.0", "invalid url scheme"), E("$.ignition.config.merge.0.source", "invalid url scheme")}},
		{name: "merge bad scheme 3.0", origin: "3.0.0 v3_0/types/url.go validateURL", until: "3.0.0", body: `"ignition":{"config":{"merge":[{"source":"ftp://x/y"}]}}`,
			want: []entry{E("$.ignition.config.merge.0.source", "invalid url scheme")}},
		{name: "merge duplicate", origin: "3.0.0 vcontext validate: duplicate Key() in a list", body: `"ignition":{"config":{"merge":[{"source":"http://a/b"},{"source":"http://a/b"}]}}`,
			want: []entry{E("$.ignition.config.merge.1", "duplicate entry defined")}},
		{name: "ca source required", origin: "3.1.0 v3_1/types/tls.go + resource.go validateRequiredSource", since: "3.1.0", body: `"ignition":{"security":{"tls":{"certificateAuthorities":[{"source":""}]}}}`,
			want: []entry{E("$.ignition.security.tls.certificateAuthorities.0", "source is required")}},
		{name: "ca empty source 3.0", origin: "flint: an empty CA bundle holds no certificate (3.1.0+ refuse it as source is required)", until: "3.0.0", body: `"ignition":{"security":{"tls":{"certificateAuthorities":[{"source":""}]}}}`,
			want: []entry{E("$.ignition.security.tls.certificateAuthorities.0.source", "certificate authority bundle holds no PEM certificate")}},
		{name: "replace empty source ok", origin: "3.0.0 v3_0/types/ignition.go (replace source optional)", body: `"ignition":{"config":{"replace":{"source":""}}}`},
		{name: "gs scheme before 3.2", origin: "3.0.0 v3_0/types/url.go scheme list (gs only from 3.2.0)", until: "3.1.0", body: `"storage":{"files":[{"path":"/f","contents":{"source":"gs://b/o"}}]}`,
			want: []entry{E("$.storage.files.0.contents.source", "invalid url scheme")}},
		{name: "gs scheme", origin: "3.2.0 v3_2/types/url.go (gs added)", since: "3.2.0", body: `"storage":{"files":[{"path":"/f","contents":{"source":"gs://b/o"}}]}`},
		{name: "arn scheme before 3.4", origin: "3.0.0 v3_0/types/url.go scheme list (arn only from 3.4.0)", until: "3.3.0", body: `"storage":{"files":[{"path":"/f","contents":{"source":"arn:aws:s3:::b/o"}}]}`,
			want: []entry{E("$.storage.files.0.contents.source", "invalid url scheme")}},
		{name: "arn ok", origin: "3.4.0 v3_4/types/url.go validateS3ARN", since: "3.4.0", body: `"storage":{"files":[{"path":"/f","contents":{"source":"arn:aws:s3:::b/o"}},{"path":"/g","contents":{"source":"arn:aws:s3:us-east-1:123:accesspoint/ap/object/k"}}]}`},
		// aws-sdk-go-v2 arn.Parse checks only prefix and section count
		{name: "arn empty partition", origin: "3.4.0 v3_4/types/url.go + aws-sdk-go-v2 arn.Parse", since: "3.4.0", body: `"storage":{"files":[{"path":"/f","contents":{"source":"arn::s3:::b/o"}}]}`},
		{name: "arn bad", origin: "3.4.0 v3_4/types/url.go validateS3ARN", since: "3.4.0", body: `"storage":{"files":[{"path":"/f","contents":{"source":"arn:aws:s3:::bucket"}},{"path":"/g","contents":{"source":"arn:aws:iam:::b/o"}},{"path":"/h","contents":{"source":"arn:aws:s3:us-east-1:1:accesspoint/ap"}}]}`,
			want: []entry{E("$.storage.files.0.contents.source", "invalid S3 ARN format"), E("$.storage.files.1.contents.source", "invalid S3 ARN format"), E("$.storage.files.2.contents.source", "invalid S3 ARN format")}},
		{name: "oem and file schemes rejected", origin: "3.0.0 v3_*/types/url.go (scheme list)", body: `"storage":{"files":[{"path":"/f","contents":{"source":"oem:///x"}},{"path":"/g","contents":{"source":"file:///x"}}]}`,
			want: []entry{E("$.storage.files.0.contents.source", "invalid url scheme"), E("$.storage.files.1.contents.source", "invalid url scheme")}},
		{name: "s3 versionId", origin: "3.0.0 v3_*/types/url.go (s3 versionId, in every v3_* package)", body: `"storage":{"files":[{"path":"/f","contents":{"source":"s3://b/o?versionId="}}]}`,
			want: []entry{E("$.storage.files.0.contents.source", "invalid S3 object VersionId")}},
		{name: "data url bad", origin: "3.0.0 v3_0/types/url.go (dataurl.DecodeString)", body: `"storage":{"files":[{"path":"/f","contents":{"source":"data:;base64,!!"}}]}`,
			want: []entry{E("$.storage.files.0.contents.source", "invalid data character")}},
		{name: "hash", origin: "3.0.0 v3_0/types/verification.go", body: `"storage":{"files":[{"path":"/a","contents":{"source":"http://x/a","verification":{"hash":"sha512"}}},{"path":"/b","contents":{"source":"http://x/b","verification":{"hash":"md5-00"}}},{"path":"/c","contents":{"source":"http://x/c","verification":{"hash":"sha512-00"}}},{"path":"/d","contents":{"source":"http://x/d","verification":{"hash":"` + sha512sum + `"}}}]}`,
			want: []entry{E("$.storage.files.0.contents.verification.hash", "malformed hash specifier"), E("$.storage.files.1.contents.verification.hash", "unrecognized hash function"), E("$.storage.files.2.contents.verification.hash", "incorrect size for hash sum")}},
		{name: "hash not hex", origin: "flint: the fetcher cannot decode a sum that is not hex", body: `"storage":{"files":[{"path":"/a","contents":{"source":"http://x/a","verification":{"hash":"sha512-` + strings.Repeat("0", 64) + "J" + strings.Repeat("0", 63) + `"}}}]}`,
			want: []entry{E("$.storage.files.0.contents.verification.hash", "malformed hash specifier")}},
		{name: "sha256 before 3.1", origin: "3.0.0 v3_0/types/verification.go (sha512 only; sha256 from 3.1.0)", until: "3.0.0", body: `"storage":{"files":[{"path":"/a","contents":{"source":"http://x/a","verification":{"hash":"sha256-0000000000000000000000000000000000000000000000000000000000000000"}}}]}`,
			want: []entry{E("$.storage.files.0.contents.verification.hash", "unrecognized hash function")}},
		{name: "verification needs source", origin: "3.0.0 v3_0/types/file.go (FileContents.Validate)", body: `"storage":{"files":[{"path":"/a","contents":{"verification":{"hash":"` + sha512sum + `"}}}]}`,
			want: []entry{E("$.storage.files.0.contents.verification.hash", "source must be specified if verification is specified")}},
		{name: "compression", origin: "3.0.0 v3_0/types/file.go (compression)", body: `"storage":{"files":[{"path":"/a","contents":{"source":"http://x/a","compression":"xz"}}]}`,
			want: []entry{E("$.storage.files.0.contents.compression", "invalid compression method")}},
		{name: "headers", origin: "3.1.0 v3_1/types/headers.go + resource.go", since: "3.1.0", body: `"storage":{"files":[{"path":"/a","contents":{"source":"tftp://x/a","httpHeaders":[{"name":"","value":""},{"name":"","value":"v"}]}}]}`,
			want: []entry{E("$.storage.files.0.contents.httpHeaders", "cannot use HTTP headers with this source scheme"), E("$.storage.files.0.contents.httpHeaders.0.name", "HTTP header name can't be empty"), E("$.storage.files.0.contents.httpHeaders.0.value", "unable to parse HTTP header"), E("$.storage.files.0.contents.httpHeaders.1.name", "HTTP header name can't be empty"), E("$.storage.files.0.contents.httpHeaders.1", "duplicate entry defined")}},
		{name: "headers need source", origin: "3.1.0 v3_1/types/resource.go", since: "3.1.0", body: `"storage":{"files":[{"path":"/a","contents":{"httpHeaders":[{"name":"a","value":"b"}]}}]}`,
			want: []entry{E("$.storage.files.0.contents.httpHeaders", "unable to parse url")}},
		{name: "proxy", origin: "3.1.0 v3_1/types/proxy.go", since: "3.1.0", body: `"ignition":{"proxy":{"httpProxy":"ftp://p","httpsProxy":"http://p","noProxy":["a","a"]}}`,
			want: []entry{E("$.ignition.proxy.httpProxy", "proxies must be http(s)"), W("$.ignition.proxy.httpsProxy", "insecure plaintext HTTP proxy specified for HTTPS resources"), E("$.ignition.proxy.noProxy.1", "duplicate entry defined")}},
		{name: "proxy unknown before 3.1", origin: "3.0.0 unknown-key warning (ignition.proxy from 3.1.0)", until: "3.0.0", body: `"ignition":{"proxy":{"httpProxy":"ftp://p"}}`,
			want: []entry{W("$.ignition.proxy", "Unused key proxy (needs spec version 3.1.0 or newer)")}},
	})
}

func TestRulesNodes(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{name: "paths", origin: "3.0.0 v3_0/types/path.go validatePath", body: `"storage":{"files":[{"path":""},{"path":"a"},{"path":"/a/../b"}],"directories":[{"path":"/d/"}],"links":[{"path":"rel","target":"/t"}]}`,
			want: []entry{E("$.storage.files.0.path", "path not specified"), E("$.storage.files.1.path", "path not absolute"), E("$.storage.files.2.path", "path is not fully simplified"), E("$.storage.directories.0.path", "path is not fully simplified"), E("$.storage.links.0.path", "path not absolute")}},
		{name: "mode", origin: "3.0.0 v3_0/types/mode.go validateMode", body: `"storage":{"files":[{"path":"/a","mode":4096},{"path":"/b","mode":-1}],"directories":[{"path":"/d","mode":99999}]}`,
			want: []entry{E("$.storage.files.0.mode", "illegal file mode"), E("$.storage.files.1.mode", "illegal file mode"), E("$.storage.directories.0.mode", "illegal file mode")}},
		{name: "special bits warn", origin: "3.0.0 v3_0…v3_5/types/mode.go (special-bits warning, added to every pre-3.6 package)", until: "3.5.0", body: `"storage":{"files":[{"path":"/a","mode":2541}]}`,
			want: []entry{W("$.storage.files.0.mode", ErrModeSpecialBits.Error())}},
		{name: "special bits", origin: "3.6.0 v3_6/types/mode.go (special bits honoured)", since: "3.6.0", body: `"storage":{"files":[{"path":"/a","mode":2541}]}`},
		{name: "overwrite needs source", origin: "3.0.0 v3_0/types/file.go", body: `"storage":{"files":[{"path":"/a","overwrite":true}]}`,
			want: []entry{E("$.storage.files.0.overwrite", "overwrite must be false if source is unspecified")}},
		{name: "id and name", origin: "3.0.0 v3_0/types/node.go", body: `"storage":{"files":[{"path":"/a","user":{"id":1,"name":"x"},"group":{"id":1,"name":"x"}}]}`,
			want: []entry{E("$.storage.files.0.user", "cannot set both id and name"), E("$.storage.files.0.group", "cannot set both id and name")}},
		{name: "shared key space", origin: "3.0.0 v3_0/types/storage.go (files/directories/links share Key())", body: `"storage":{"directories":[{"path":"/a"}],"files":[{"path":"/a"},{"path":"/b"}],"links":[{"path":"/b","target":"/x"}]}`,
			want: []entry{E("$.storage.files.0", "duplicate entry defined"), E("$.storage.links.0", "duplicate entry defined")}},
		{name: "through link", origin: "3.0.0 v3_0/types/storage.go", body: `"storage":{"directories":[{"path":"/l/d"}],"files":[{"path":"/l/f"},{"path":"/lx/f"}],"links":[{"path":"/l","target":"/t"},{"path":"/l/m","target":"/t"}]}`,
			want: []entry{E("$.storage.directories.0", "directory path includes link in config"), E("$.storage.files.0", "file path includes link in config"), E("$.storage.links.1", "link path includes link in config")}},
		{name: "hard link to dir", origin: "3.0.0 v3_*/types/storage.go (hard-link checks, in every v3_* package)", body: `"storage":{"directories":[{"path":"/d"},{"path":"/q"}],"links":[{"path":"/h","target":"/d/","hard":true},{"path":"/i","target":"/d"},{"path":"/h2","target":"../q","hard":true}]}`,
			want: []entry{E("$.storage.links.0", "hard link target is a directory"), E("$.storage.links.2", "hard link target is a directory")}},
		{name: "hard link owner", origin: "3.0.0 v3_*/types/storage.go (hard-link checks, in every v3_* package)", body: `"storage":{"links":[{"path":"/h","target":"/t","hard":true,"user":{"id":0},"group":{"name":"g"}}]}`,
			want: []entry{W("$.storage.links.0.user.id", "user/group ignored for hard link"), W("$.storage.links.0.group.name", "user/group ignored for hard link")}},
		{name: "link target", origin: "3.3.0 v3_3/types/storage.go (target became *string, still required)", since: "3.3.0", body: `"storage":{"links":[{"path":"/a"},{"path":"/b","target":""}]}`,
			want: []entry{E("$.storage.links.0.target", "link target is required"), E("$.storage.links.1.target", "link target is required")}},
		{name: "link target not checked before 3.3", origin: "flint: the reference's run time refuses it under the newest rules (its validator requires targets from 3.3.0, v3_3/types/storage.go)", until: "3.2.0", body: `"storage":{"links":[{"path":"/a"}]}`,
			want: []entry{E("$.storage.links.0.target", "link target is required"+RuntimeRuleNote)}},
		// v3_0 … v3_6 types/config.go: Config.Validate checks every version
		{name: "systemd conflict", origin: "3.0.0 v3_*/types/config.go Config.Validate", body: `"storage":{"files":[{"path":"/etc/systemd/system/a.service"},{"path":"/etc/systemd/system/a.service.d/b.conf"}],"directories":[{"path":"/etc/systemd/system/c.service"}]},"systemd":{"units":[{"name":"a.service","contents":"[Unit]","dropins":[{"name":"b.conf","contents":"[Unit]"}]},{"name":"c.service","contents":"[Unit]"},{"name":"d.service","contents":""}]}`,
			want: []entry{E("$.storage.files.0.path", "path conflicts with systemd unit or dropin"), E("$.storage.files.1.path", "path conflicts with systemd unit or dropin"), E("$.storage.directories.0.path", "path conflicts with systemd unit or dropin")}},
		{name: "systemd no conflict without contents", origin: "3.0.0 v3_*/types/config.go Config.Validate", body: `"storage":{"files":[{"path":"/etc/systemd/system/d.service"}]},"systemd":{"units":[{"name":"d.service","contents":"","enabled":true}]}`},
		// v3_3+/types/storage.go: after "link target is required" the
		// hard-link checks of that link are skipped
		{name: "link target skips hard checks", origin: "3.3.0 v3_3/types/storage.go", since: "3.3.0", body: `"storage":{"links":[{"path":"/h","hard":true,"user":{"id":0}}]}`,
			want: []entry{E("$.storage.links.0.target", "link target is required")}},
		{name: "hard link without target before 3.3", origin: "3.0.0 v3_*/types/storage.go; flint: the missing target refused as the reference's run time refuses it", until: "3.2.0", body: `"storage":{"links":[{"path":"/h","hard":true,"user":{"id":0}}]}`,
			want: []entry{W("$.storage.links.0.user.id", "user/group ignored for hard link"), E("$.storage.links.0.target", "link target is required"+RuntimeRuleNote)}},
	})
}

func TestRulesDisks(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{name: "device", origin: "3.0.0 v3_0/types/disk.go", body: `"storage":{"disks":[{"device":""},{"device":"sda"}]}`,
			want: []entry{E("$.storage.disks.0.device", "disk device is required"), E("$.storage.disks.1.device", "path not absolute")}},
		{name: "partitions", origin: "3.0.0 v3_0/types/partition.go + disk.go", body: `"storage":{"disks":[{"device":"/dev/sda","partitions":[{"number":1,"label":"a:b"},{"number":1,"label":"0123456789012345678901234567890123456"},{"label":"x","guid":"nope","typeGuid":""},{}]}]}`,
			want: []entry{E("$.storage.disks.0.partitions.0.label", "partition label will be truncated to text before the colon"), E("$.storage.disks.0.partitions.1.label", "partition labels may not exceed 36 characters"),
				E("$.storage.disks.0.partitions.2.guid", `doesn't match the form "01234567-89AB-CDEF-EDCB-A98765432101"`), E("$.storage.disks.0.partitions.3", "a partition number >= 1 or a label must be specified"),
				E("$.storage.disks.0.partitions.1", "partition numbers collide"), E("$.storage.disks.0.partitions.1", "duplicate entry defined")}},
		{name: "labels collide", origin: "3.0.0 v3_0/types/disk.go partitionLabelsCollide", body: `"storage":{"disks":[{"device":"/dev/sda","partitions":[{"number":1,"label":"a"},{"number":2,"label":"a"}]}]}`,
			want: []entry{E("$.storage.disks.0.partitions.1", "cannot use the same partition label twice")}},
		{name: "overlap", origin: "3.0.0 v3_0/types/disk.go partitionsOverlap", body: `"storage":{"disks":[{"device":"/dev/sda","partitions":[{"number":1,"startMiB":1,"sizeMiB":10},{"number":2,"startMiB":5,"sizeMiB":10},{"number":3,"startMiB":0,"sizeMiB":10}]}]}`,
			want: []entry{E("$.storage.disks.0.partitions.1", "partitions overlap")}},
		{name: "fill size ends at start", origin: "3.0.0 v3_0/types/disk.go partitionsOverlap", body: `"storage":{"disks":[{"device":"/dev/sda","partitions":[{"number":1,"startMiB":1,"sizeMiB":0},{"number":2,"startMiB":2,"sizeMiB":10}]}]}`},
		{name: "should not exist", origin: "3.0.0 v3_0/types/partition.go (ErrShouldNotExistWithOthers)", body: `"storage":{"disks":[{"device":"/dev/sda","partitions":[{"number":1,"shouldExist":false,"sizeMiB":1},{"label":"b"}]}]}`,
			want: []entry{E("$.storage.disks.0.partitions.0", "shouldExist specified false with other options also specified")}},
		// The legacy-only rule must not fire for any 3.x version: deleting
		// partitions next to number-0 partitions without starts is valid.
		{name: "zeroes with shouldExist false", origin: "legacy v2_3/v2_4 types/disk.go partitionsMixZeroesAndNonexistence (in v3_* until Ignition v2.26, dropped by #2234)", body: `"storage":{"disks":[{"device":"/dev/sda","partitions":[{"number":1,"shouldExist":false,"wipePartitionEntry":true},{"label":"a","sizeMiB":100},{"number":0,"label":"b"},{"number":3,"shouldExist":false}]}]}`},
		{name: "filesystems", origin: "3.0.0 v3_0/types/filesystem.go (label lengths in every v3_* package)", body: `"storage":{"filesystems":[{"device":"/dev/a","label":"x"},{"device":"/dev/b","format":"ntfs"},{"device":"/dev/c","format":"ext4","label":"12345678901234567"},{"device":"/dev/d","format":"vfat","label":"123456789012"},{"device":"/dev/e","path":""},{"device":"/dev/f","wipeFilesystem":true}]}`,
			want: []entry{E("$.storage.filesystems.0.format", ErrFormatNilWithOthers.Error()), E("$.storage.filesystems.0.label", "filesystem must specify format if label is specified"), E("$.storage.filesystems.1.format", "invalid filesystem format"),
				E("$.storage.filesystems.2.label", "filesystem labels cannot be longer than 16 characters when using ext4"), E("$.storage.filesystems.3.label", "filesystem labels cannot be longer than 11 characters when using vfat"), E("$.storage.filesystems.5.format", ErrFormatNilWithOthers.Error())}},
		{name: "format none", origin: "3.3.0 v3_3/types/filesystem.go (none added)", since: "3.3.0", body: `"storage":{"filesystems":[{"device":"/dev/a","format":"none"}]}`},
		{name: "format none before 3.3", origin: "3.0.0 v3_0/types/filesystem.go format list (none from 3.3.0)", until: "3.2.0", body: `"storage":{"filesystems":[{"device":"/dev/a","format":"none"}]}`,
			want: []entry{E("$.storage.filesystems.0.format", "invalid filesystem format")}},
		{name: "virtiofs", origin: "3.7.0-experimental v3_7_experimental/types/filesystem.go", since: "3.7.0-experimental", body: `"storage":{"filesystems":[{"device":"tag","format":"virtiofs","path":"/mnt"},{"device":"0123456789012345678901234567890123456","format":"virtiofs","label":"l","uuid":"u","wipeFilesystem":true,"options":["x"]}]}`,
			want: []entry{E("$.storage.filesystems.1.device", ErrVirtiofsTagTooLong.Error()), E("$.storage.filesystems.1.label", ErrVirtiofsLabel.Error()), E("$.storage.filesystems.1.uuid", ErrVirtiofsUUID.Error()), E("$.storage.filesystems.1.wipeFilesystem", ErrVirtiofsWipe.Error()), E("$.storage.filesystems.1.options", ErrVirtiofsOptions.Error())}},
		{name: "virtiofs before 3.7", origin: "3.0.0 v3_0/types/filesystem.go format list (virtiofs from 3.7.0-experimental)", until: "3.6.0", body: `"storage":{"filesystems":[{"device":"/dev/a","format":"virtiofs"}]}`,
			want: []entry{E("$.storage.filesystems.0.format", "invalid filesystem format")}},
		{name: "raid", origin: "3.0.0 v3_0/types/raid.go", body: `"storage":{"raid":[{"name":"a"},{"name":"b","level":"raid0","spares":1,"devices":["/dev/x","/dev/x"]},{"name":"c","level":"raid7","devices":["/dev/y"]}]}`,
			want: []entry{E("$.storage.raid.0.level", "raid level is required"), E("$.storage.raid.0.devices", "raid devices required"), E("$.storage.raid.1.level", "spares unsupported for linear and raid0 arrays"), E("$.storage.raid.1.devices.1", "duplicate entry defined"), E("$.storage.raid.2.level", "unrecognized raid level")}},
	})
}

func TestRulesLuks(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{name: "luks before 3.2", origin: "3.0.0 unknown-key warning (storage.luks from 3.2.0)", until: "3.1.0", body: `"storage":{"luks":[{"name":"a"}]}`,
			want: []entry{W("$.storage.luks", "Unused key luks (needs spec version 3.2.0 or newer)")}},
		{name: "luks basics", origin: "3.2.0 v3_2/types/luks.go", since: "3.2.0", body: `"storage":{"luks":[{"name":"a/b","label":"012345678901234567890123456789012345678901234567"},{"name":"c","device":"/dev/c","keyFile":{"source":"ftp://k"}}]}`,
			want: []entry{E("$.storage.luks.0.name", "device names cannot contain slashes"), E("$.storage.luks.0.label", "luks device labels cannot be longer than 47 characters"), E("$.storage.luks.0.device", "disk device is required"), E("$.storage.luks.1.keys", "invalid key-file source"), E("$.storage.luks.1.keyFile.source", "invalid url scheme")}},
		{name: "clevis", origin: "3.2.0 v3_2/types/luks.go + tang.go", since: "3.2.0", body: `"storage":{"luks":[{"name":"a","device":"/dev/a","clevis":{"tpm2":true,"custom":{"pin":"tpm2","config":"{}"},"tang":[{"url":"ftp://t"},{"url":"ftp://t","thumbprint":"x"}]}}]}`,
			want: []entry{E("$.storage.luks.0.clevis", "cannot use custom clevis config with tpm2, tang, or threshold"), E("$.storage.luks.0.clevis.tang.0.url", "invalid url scheme"), E("$.storage.luks.0.clevis.tang.0.thumbprint", "thumbprint is required"), E("$.storage.luks.0.clevis.tang.1.url", "invalid url scheme"), E("$.storage.luks.0.clevis.tang.1", "duplicate entry defined")}},
		// v3_3+/types/clevis.go: custom counts when pin or config is
		// non-empty or needsNetwork is true
		{name: "clevis custom needsNetwork", origin: "3.3.0 v3_3/types/clevis.go", since: "3.3.0", body: `"storage":{"luks":[{"name":"b","device":"/dev/b","clevis":{"custom":{"needsNetwork":true}}},{"name":"c","device":"/dev/c","clevis":{"custom":{"pin":"","needsNetwork":false}}}]}`,
			want: []entry{E("$.storage.luks.0.clevis.custom.pin", "missing required custom clevis pin"), E("$.storage.luks.0.clevis.custom.config", "missing required custom clevis config")}},
		{name: "clevis custom config only", origin: "3.3.0 v3_3/types/clevis.go", since: "3.3.0", body: `"storage":{"luks":[{"name":"b","device":"/dev/b","clevis":{"custom":{"config":"{}"}}}]}`,
			want: []entry{E("$.storage.luks.0.clevis.custom.pin", "missing required custom clevis pin")}},
		// v3_2/types/custom.go: checked only when pin or config is set; an
		// empty pin is "unsupported"
		{name: "clevis custom 3.2", origin: "3.2.0 v3_2/types/custom.go", since: "3.2.0", until: "3.2.0", body: `"storage":{"luks":[{"name":"b","device":"/dev/b","clevis":{"custom":{"needsNetwork":true}}},{"name":"c","device":"/dev/c","clevis":{"custom":{"config":"{}"}}}]}`,
			want: []entry{E("$.storage.luks.1.clevis.custom.pin", "unsupported clevis pin"), E("$.storage.luks.0.clevis.custom.pin", "missing required custom clevis pin"+RuntimeRuleNote),
				E("$.storage.luks.0.clevis.custom.config", "missing required custom clevis config"+RuntimeRuleNote)}},
		// v3_2/types/luks.go: a given custom object (*Custom) conflicts
		// with tpm2 even when empty; v3_3+: only a non-empty pin does
		{name: "clevis empty custom with tpm2 3.2", origin: "3.2.0 v3_2/types/luks.go (*Custom)", since: "3.2.0", until: "3.2.0", body: `"storage":{"luks":[{"name":"b","device":"/dev/b","clevis":{"tpm2":true,"custom":{}}}]}`,
			want: []entry{E("$.storage.luks.0.clevis", "cannot use custom clevis config with tpm2, tang, or threshold")}},
		{name: "clevis empty custom with tpm2", origin: "3.3.0 v3_3/types/luks.go", since: "3.3.0", body: `"storage":{"luks":[{"name":"b","device":"/dev/b","clevis":{"tpm2":true,"custom":{"config":"{}"}}}]}`,
			want: []entry{E("$.storage.luks.0.clevis.custom.pin", "missing required custom clevis pin")}},
		// threshold other than 0 (not 1) conflicts with a custom pin
		{name: "clevis custom with threshold 1", origin: "3.2.0 v3_2/types/luks.go", since: "3.2.0", body: `"storage":{"luks":[{"name":"b","device":"/dev/b","clevis":{"threshold":1,"custom":{"pin":"tpm2","config":"{}"}}},{"name":"c","device":"/dev/c","clevis":{"threshold":0,"custom":{"pin":"tpm2","config":"{}"}}}]}`,
			want: []entry{E("$.storage.luks.0.clevis", "cannot use custom clevis config with tpm2, tang, or threshold")}},
		{name: "clevis pin restricted", origin: "3.2.0 v3_2…v3_5/types/clevis.go (pins tpm2/tang/sss)", since: "3.2.0", until: "3.5.0", body: `"storage":{"luks":[{"name":"a","device":"/dev/a","clevis":{"custom":{"pin":"trustee","config":"{}"}}}]}`,
			want: []entry{E("$.storage.luks.0.clevis.custom.pin", "unsupported clevis pin")}},
		{name: "clevis pin free", origin: "3.6.0 v3_6/types/clevis.go (any pin)", since: "3.6.0", body: `"storage":{"luks":[{"name":"a","device":"/dev/a","clevis":{"custom":{"pin":"trustee","config":"{}"}}}]}`},
		{name: "tang advertisement", origin: "3.4.0 v3_4/types/tang.go (advertisement added)", since: "3.4.0", body: `"storage":{"luks":[{"name":"a","device":"/dev/a","clevis":{"tang":[{"url":"http://t","thumbprint":"x","advertisement":"{"}]}}]}`,
			want: []entry{E("$.storage.luks.0.clevis.tang.0.advertisement", "advertisement is not valid JSON")}},
		{name: "cex", origin: "3.5.0 v3_5/types/luks.go (cex added)", since: "3.5.0", body: `"storage":{"luks":[{"name":"a","device":"/dev/a","cex":{"enabled":true},"clevis":{"tpm2":true},"keyFile":{"source":"http://k"}}]}`,
			want: []entry{E("$.storage.luks.0.cex", "cannot use cex with clevis"), E("$.storage.luks.0.cex", "cannot use key file with cex")}},
		// v3_5+/types/clevis.go IsPresent: a custom needsNetwork alone or
		// threshold 0 does not count as clevis
		{name: "cex with custom needsNetwork only", origin: "3.5.0 v3_5/types/clevis.go IsPresent", since: "3.5.0", body: `"storage":{"luks":[{"name":"a","device":"/dev/a","cex":{"enabled":true},"clevis":{"threshold":0,"custom":{"config":"{}"}}}]}`,
			want: []entry{E("$.storage.luks.0.clevis.custom.pin", "missing required custom clevis pin")}},
		{name: "open options dup", origin: "3.4.0 v3_4/types/luks.go (openOptions added; vcontext dups)", since: "3.4.0", body: `"storage":{"luks":[{"name":"a","device":"/dev/a","openOptions":["x","x"],"options":["y","y"]}]}`,
			want: []entry{E("$.storage.luks.0.openOptions.1", "duplicate entry defined")}},
	})
}

func TestRulesSystemdPasswdKargs(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{name: "units", origin: "3.0.0 v3_0/types/unit.go + shared/validations/unit.go", body: `"systemd":{"units":[{"name":"a.foo","contents":"[Unit"},{"name":"b.service","enabled":true,"contents":"[Unit]\nA=b","dropins":[{"name":"x.txt","contents":"[Service"}]},{"name":"b.service"}]}`,
			want: []entry{E("$.systemd.units.0.name", "invalid systemd unit extension"), E("$.systemd.units.0.contents", "invalid unit content: unable to find end of section"), W("$.systemd.units.1.contents", `unit "b.service" is enabled, but has no install section so enable does nothing`),
				E("$.systemd.units.1.dropins.0.name", "invalid systemd drop-in extension"), E("$.systemd.units.1.dropins.0.contents", "invalid unit content: unable to find end of section"), E("$.systemd.units.2", "duplicate entry defined")}},
		{name: "passwd dups", origin: "3.0.0 vcontext validate: duplicate Key() in a list", body: `"passwd":{"users":[{"name":"a","sshAuthorizedKeys":["k","k"],"groups":["g","g"]},{"name":"a"}],"groups":[{"name":"g"},{"name":"g"}]}`,
			want: []entry{E("$.passwd.users.0.sshAuthorizedKeys.1", "duplicate entry defined"), E("$.passwd.users.0.groups.1", "duplicate entry defined"), E("$.passwd.users.1", "duplicate entry defined"), E("$.passwd.groups.1", "duplicate entry defined")}},
		{name: "kargs shared key space", origin: "3.3.0 v3_3/types/kargs.go (kernelArguments added)", since: "3.3.0", body: `"kernelArguments":{"shouldExist":["a","b","a"],"shouldNotExist":["b"]}`,
			want: []entry{E("$.kernelArguments.shouldExist.2", "duplicate entry defined"), E("$.kernelArguments.shouldNotExist.0", "duplicate entry defined")}},
		{name: "unused keys", origin: "3.0.0 reference's unknown-key warnings (validate.ValidateWithContext)", body: `"storage":{"filez":[],"files":[{"path":"/a","Mode":420}]}`,
			want: []entry{W("$.storage.filez", "Unused key filez; did you mean $.storage.files?"), W("$.storage.files.0.Mode", "Unused key Mode; did you mean $.storage.files.0.mode?")}},
	})
}

// flint's own rules: what apply would refuse for a reason knowable from
// the config alone (issue 13), refused here first with the JSON path. Each
// is a deliberate difference from the reference (docs/validation.md).
func TestRulesFlint(t *testing.T) {
	long := strings.Repeat("x", 256)
	deep := strings.Repeat("/"+strings.Repeat("d", 250), 17) // 4267 bytes
	unit254 := strings.Repeat("u", 246) + ".service"         // 254 bytes
	runRuleCases(t, []ruleCase{
		// ids: -5 wrapped to 0 (root) in apply, 4294968296 to 1000
		{name: "ids", origin: "flint: uid/gid 0..4294967294 ((uid_t)-1 is refused by useradd, ignored by chown)",
			body: `"passwd":{"users":[{"name":"a","uid":-5},{"name":"b","uid":4294968296},{"name":"c","uid":4294967295},{"name":"d","uid":4294967294},{"name":"e","uid":0}],"groups":[{"name":"g","gid":-7},{"name":"h","gid":4294967294}]},
			"storage":{"files":[{"path":"/f","user":{"id":-1},"group":{"id":4294967295}}],"directories":[{"path":"/d","user":{"id":4294967294},"group":{"id":0}}],"links":[{"path":"/l","target":"/t","user":{"id":-2}}]}`,
			want: []entry{E("$.passwd.users.0.uid", ErrIDRange.Error()), E("$.passwd.users.1.uid", ErrIDRange.Error()), E("$.passwd.users.2.uid", ErrIDRange.Error()), E("$.passwd.groups.0.gid", ErrIDRange.Error()),
				E("$.storage.files.0.user.id", ErrIDRange.Error()), E("$.storage.files.0.group.id", ErrIDRange.Error()), E("$.storage.links.0.user.id", ErrIDRange.Error())}},
		{name: "inline contents", origin: "flint: data: contents are checked against their hash and gzip before anything is written", since: "3.1.0",
			body: `"ignition":{"security":{"tls":{"certificateAuthorities":[{"source":"data:,not-a-cert"},{"source":"data:;base64,LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJVRENCOTZBREFnRUNBZ0VCTUFvR0NDcUdTTTQ5QkFNQ01CZ3hGakFVQmdOVkJBTVREV1pzYVc1MElIUmwKYzNRZ1EwRXdIaGNOTWpZd01UQXhNREF3TURBd1doY05ORFl3TVRBeE1EQXdNREF3V2pBWU1SWXdGQVlEVlFRRApFdzFtYkdsdWRDQjBaWE4wSUVOQk1Ga3dFd1lIS29aSXpqMENBUVlJS29aSXpqMERBUWNEUWdBRVdSQ3U5OEVRCm9oVXJSY21qRVN0akpLYlRvVFQ3SExNT2lFcVBrZkdxbjdaZnJkbC8wRE5ydjladUhjbHVMekwxa2piblQyZzUKZFpBNkd6Wmh5K0pTUjZNeU1EQXdEd1lEVlIwVEFRSC9CQVV3QXdFQi96QWRCZ05WSFE0RUZnUVViaEo3UUFZawovVmI0NmhlRjdRS0hkQ0UxT0ZBd0NnWUlLb1pJemowRUF3SURTQUF3UlFJaEFLRzNseHVYUUVWZHVreWpSQy90ClMrVE5ncnhKSXFFL0VjbklsSWpid2VHU0FpQnVub3I0QXkyaUtiZytDQXJ6MnV0M0t5cHZyM2tWNjl4WnJZWVQKc29vNWxRPT0KLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo="}]}}},"storage":{"files":[
			{"path":"/a","contents":{"source":"data:,hello","verification":{"hash":"sha512-9b71d224bd62f3785d96d46ad3ea3d73319bfbc2890caadae2dff72519673ca72323c3d99ba5c11d7c7acc6e14b8c5da0c4663475c2e5c3adef46f73bcdec043"}}},
			{"path":"/b","contents":{"source":"data:,hellO","verification":{"hash":"sha512-9b71d224bd62f3785d96d46ad3ea3d73319bfbc2890caadae2dff72519673ca72323c3d99ba5c11d7c7acc6e14b8c5da0c4663475c2e5c3adef46f73bcdec043"}}},
			{"path":"/c","contents":{"source":"data:;base64,H4sIAAAAAAACA8tIzcnJBwCGphA2BQAAAA==","compression":"gzip","verification":{"hash":"sha256-2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"}}},
			{"path":"/d","contents":{"source":"data:,hello","compression":"gzip"}},
			{"path":"/e","append":[{"source":"data:;base64,H4sIAAAAAAACA8tIzcnJBwCGphA2BQAAAA==","compression":"gzip","verification":{"hash":"sha512-00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"}}]}]}`,
			want: []entry{E("$.ignition.security.tls.certificateAuthorities.0.source", ErrCANoCertificate.Error()), E("$.storage.files.1.contents.verification.hash", ErrInlineHashMismatch.Error()),
				E("$.storage.files.3.contents.source", ErrInlineGzip.Error()), E("$.storage.files.4.append.0.verification.hash", ErrInlineHashMismatch.Error())}},
		{name: "unit names", origin: "flint: systemd unit_name_is_valid (src/basic/unit-name.c)",
			body: `"systemd":{"units":[{"name":"a/b.service"},{"name":"../x.service"},{"name":"a\nb.service"},{"name":"@x.service"},{"name":"a b.service"},{"name":"é.service"},{"name":"` + long[:248] + `.service"},
			{"name":"foo@.service"},{"name":"foo@bar-1:2\\x2d.service"},{"name":"-.mount"},{"name":"a@b@c.timer"},{"name":"a\u0000.service"},{"name":"` + unit254 + `","dropins":[{"name":"x.conf"}]}]}`,
			want: []entry{E("$.systemd.units.0.name", ErrInvalidUnitName.Error()), E("$.systemd.units.1.name", ErrInvalidUnitName.Error()), E("$.systemd.units.2.name", ErrInvalidUnitName.Error()),
				E("$.systemd.units.3.name", ErrInvalidUnitName.Error()), E("$.systemd.units.4.name", ErrInvalidUnitName.Error()), E("$.systemd.units.5.name", ErrInvalidUnitName.Error()), E("$.systemd.units.6.name", ErrInvalidUnitName.Error()),
				E("$.systemd.units.11.name", ErrNULByte.Error()), E("$.systemd.units.12.name", ErrPathComponentTooLong.Error())}},
		{name: "drop-in names", origin: "flint: systemd reads <unit>.d/*.conf, one path component, not hidden",
			body: `"systemd":{"units":[{"name":"a.service","dropins":[{"name":"a/b.conf"},{"name":".conf"},{"name":"..conf"},{"name":"a\tb.conf"},{"name":"` + long[:252] + `.conf"},{"name":"10-ok.conf"},{"name":"../../x.conf"},{"name":"n\u0000.conf"}]}]}`,
			want: []entry{E("$.systemd.units.0.dropins.0.name", ErrInvalidDropinName.Error()), E("$.systemd.units.0.dropins.1.name", ErrInvalidDropinName.Error()), E("$.systemd.units.0.dropins.2.name", ErrInvalidDropinName.Error()),
				E("$.systemd.units.0.dropins.3.name", ErrInvalidDropinName.Error()), E("$.systemd.units.0.dropins.4.name", ErrInvalidDropinName.Error()), E("$.systemd.units.0.dropins.6.name", ErrInvalidDropinName.Error()),
				E("$.systemd.units.0.dropins.7.name", ErrNULByte.Error())}},
		{name: "nul bytes", origin: "flint: no path, name or argument can hold a NUL byte",
			body: `"storage":{"files":[{"path":"/a\u0000b"}],"filesystems":[{"device":"/dev/a","format":"ext4","label":"l\u0000","options":["-E\u0000x"]}],"raid":[{"name":"r\u0000","level":"raid1","devices":["/dev/x"]}]},"passwd":{"users":[{"name":"u\u0000","gecos":"g\u0000","passwordHash":"h\u0000"}]},
			"systemd":{"units":[{"name":"u.service","contents":"[Unit]\nDescription=\u0000"}]}`,
			want: []entry{E("$.storage.files.0.path", ErrNULByte.Error()), E("$.storage.filesystems.0.label", ErrNULByte.Error()), E("$.storage.filesystems.0.options.0", ErrNULByte.Error()), E("$.storage.raid.0.name", ErrNULByte.Error()),
				E("$.passwd.users.0.name", ErrNULByte.Error()), E("$.passwd.users.0.gecos", ErrNULByte.Error()), E("$.passwd.users.0.passwordHash", ErrNULByte.Error())}},
		{name: "nul in kernel arguments", origin: "flint: no argument can hold a NUL byte", since: "3.3.0",
			body: `"kernelArguments":{"shouldExist":["a\u0000b"]}`, want: []entry{E("$.kernelArguments.shouldExist.0", ErrNULByte.Error())}},
		{name: "user and group names", origin: "flint: shadow-utils is_valid_name (Debian's relaxed and upstream's, both)", since: "3.2.0",
			body: `"passwd":{"users":[{"name":""},{"name":"-bad"},{"name":"a:b"},{"name":"a b"},{"name":"a,b"},{"name":"1234"},{"name":"Ab.c_d-e$"},{"name":"` + long[:33] + `"},{"name":"é"},{"name":"."},{"name":"a\nb"},{"name":"x$y"},
			{"name":"5678","shouldExist":false},{"name":"-x","shouldExist":false},{"name":"core"}],"groups":[{"name":""},{"name":"+g"},{"name":"wheel"},{"name":"g:h"},{"name":"99","shouldExist":false}]}`,
			want: []entry{E("$.passwd.users.0.name", ErrUserNameEmpty.Error()), E("$.passwd.users.1.name", ErrInvalidUserName.Error()), E("$.passwd.users.2.name", ErrInvalidUserName.Error()), E("$.passwd.users.3.name", ErrInvalidUserName.Error()),
				E("$.passwd.users.4.name", ErrInvalidUserName.Error()), E("$.passwd.users.5.name", ErrInvalidUserName.Error()), E("$.passwd.users.7.name", ErrInvalidUserName.Error()), E("$.passwd.users.8.name", ErrInvalidUserName.Error()),
				E("$.passwd.users.9.name", ErrInvalidUserName.Error()), E("$.passwd.users.10.name", ErrInvalidUserName.Error()), E("$.passwd.users.11.name", ErrInvalidUserName.Error()), E("$.passwd.users.13.name", ErrInvalidUserName.Error()),
				E("$.passwd.groups.0.name", ErrGroupNameEmpty.Error()), E("$.passwd.groups.1.name", ErrInvalidGroupName.Error()), E("$.passwd.groups.3.name", ErrInvalidGroupName.Error())}},
		{name: "account fields", origin: "flint: useradd/chpasswd refuse ':' and control characters in passwd/shadow fields",
			body: `"passwd":{"users":[{"name":"a","passwordHash":"$6$x:y","gecos":"a:b","homeDir":"rel","shell":"bash"},{"name":"b","passwordHash":"$6$x\ny","gecos":"a\tb","homeDir":"/h:x","shell":"/bin/a\nb"},
			{"name":"c","passwordHash":"$6$ok$hash","gecos":"José, room 1","homeDir":"/var/home/c","shell":"/bin/bash"},{"name":"d","shell":"*","homeDir":"","gecos":""},{"name":"e","homeDir":"/` + long + `"}],
			"groups":[{"name":"g","passwordHash":"a\rb"},{"name":"h","passwordHash":"$6$ok"}]}`,
			want: []entry{E("$.passwd.users.0.passwordHash", ErrInvalidPasswordHash.Error()), E("$.passwd.users.0.gecos", ErrInvalidPasswdField.Error()), E("$.passwd.users.0.homeDir", ErrHomeDirRelative.Error()), E("$.passwd.users.0.shell", ErrShellInvalid.Error()),
				E("$.passwd.users.1.passwordHash", ErrInvalidPasswordHash.Error()), E("$.passwd.users.1.gecos", ErrInvalidPasswdField.Error()), E("$.passwd.users.1.homeDir", ErrInvalidPasswdField.Error()), E("$.passwd.users.1.shell", ErrInvalidPasswdField.Error()),
				E("$.passwd.users.4.homeDir", ErrPathComponentTooLong.Error()), E("$.passwd.groups.0.passwordHash", ErrInvalidPasswordHash.Error())}},
		{name: "group references", origin: "flint: useradd -g/-G take a group name or a numeric id",
			body: `"passwd":{"users":[{"name":"a","primaryGroup":"a,b","groups":["","a b","wheel","12","4294967295"]},{"name":"b","primaryGroup":"4294967295"},{"name":"c","primaryGroup":"100"},{"name":"d","primaryGroup":""}]}`,
			want: []entry{E("$.passwd.users.0.primaryGroup", ErrInvalidGroupRef.Error()), E("$.passwd.users.0.groups.0", ErrInvalidGroupRef.Error()), E("$.passwd.users.0.groups.1", ErrInvalidGroupRef.Error()), E("$.passwd.users.0.groups.4", ErrIDRange.Error()),
				E("$.passwd.users.1.primaryGroup", ErrIDRange.Error())}},
		{name: "ssh keys", origin: "flint: one authorized key per entry",
			body: `"passwd":{"users":[{"name":"a","sshAuthorizedKeys":["ssh-ed25519 AAAA a\nssh-rsa BBBB b","ssh-ed25519 CCCC c\n","ssh-ed25519 DDDD d\r","ssh-ed25519 EEEE e"]}]}`,
			want: []entry{E("$.passwd.users.0.sshAuthorizedKeys.0", ErrSSHKeyLineBreak.Error()), E("$.passwd.users.0.sshAuthorizedKeys.2", ErrSSHKeyLineBreak.Error())}},
		{name: "owner names", origin: "flint: no account name holds ':' or control characters",
			body: `"storage":{"files":[{"path":"/a","user":{"name":"a:b"},"group":{"name":"g\nh"}},{"path":"/b","user":{"name":"core"},"group":{"name":""}}]}`,
			want: []entry{E("$.storage.files.0.user.name", ErrInvalidOwnerName.Error()), E("$.storage.files.0.group.name", ErrInvalidOwnerName.Error())}},
		{name: "path limits", origin: "flint: NAME_MAX 255 and PATH_MAX 4096",
			body: `"storage":{"files":[{"path":"/` + long + `"},{"path":"` + deep + `"},{"path":"/ok/` + long[:255] + `"}],"directories":[{"path":"/d/` + long + `/e"}],"links":[{"path":"/l","target":"/` + strings.Repeat("t", 4095) + `"},{"path":"/m","target":"` + strings.Repeat("t", 4095) + `"}],
			"filesystems":[{"device":"/dev/` + long + `","format":"ext4","path":"/mnt/` + long + `"}],"disks":[{"device":"/dev/disk/by-id/` + long + `"}]}`,
			want: []entry{E("$.storage.files.0.path", ErrPathComponentTooLong.Error()), E("$.storage.files.1.path", ErrPathTooLong.Error()), E("$.storage.directories.0.path", ErrPathComponentTooLong.Error()), E("$.storage.links.0.target", ErrLinkTargetTooLong.Error()),
				E("$.storage.filesystems.0.device", ErrPathComponentTooLong.Error()), E("$.storage.filesystems.0.path", ErrPathComponentTooLong.Error()), E("$.storage.disks.0.device", ErrPathComponentTooLong.Error())}},
		{name: "root and below files", origin: "flint: apply finds a file where it needs a directory",
			body: `"storage":{"files":[{"path":"/"},{"path":"/a"},{"path":"/a/b"},{"path":"/etc/systemd/system"}],"directories":[{"path":"/h/d"},{"path":"/a/c/d"}],"links":[{"path":"/h","target":"/a","hard":true},{"path":"/s","target":"/t"},{"path":"/s2/x","target":"/t"}]},
			"systemd":{"units":[{"name":"x.service","contents":"[Unit]"}]}`,
			want: []entry{E("$.storage.files.0.path", ErrPathIsRoot.Error()), E("$.storage.files.2.path", ErrPathUnderFile.Error()), E("$.storage.directories.0", ErrDirectoryUsedSymlink.Error()), E("$.storage.directories.1.path", ErrPathUnderFile.Error()),
				E("$.storage.files.3.path", ErrPathConflictsSystemd.Error())}},
		{name: "root directory", origin: "flint: apply refuses to replace the root directory",
			body: `"storage":{"directories":[{"path":"/"}],"links":[{"path":"/","target":"/x"}]}`,
			want: []entry{E("$.storage.directories.0.path", ErrPathIsRoot.Error()), E("$.storage.links.0.path", ErrPathIsRoot.Error()), E("$.storage.links.0", "duplicate entry defined")}},
		{name: "url host and port", origin: "flint: a URL that can never be fetched",
			body: `"storage":{"files":[{"path":"/a","contents":{"source":"http://h:99999/"}},{"path":"/b","contents":{"source":"http://h:0/x"}},{"path":"/c","contents":{"source":"https:///x"}},{"path":"/d","contents":{"source":"tftp://:69/x"}},{"path":"/e","contents":{"source":"s3:///k"}},
			{"path":"/f","contents":{"source":"http://h:8080/x"}},{"path":"/g","contents":{"source":"http://[::1]:65535/x"}},{"path":"/h","contents":{"source":"http://h:/x"}},{"path":"/i","contents":{"source":"http://h:x/"}}]}`,
			want: []entry{E("$.storage.files.0.contents.source", ErrURLBadPort.Error()), E("$.storage.files.1.contents.source", ErrURLBadPort.Error()), E("$.storage.files.2.contents.source", ErrURLNoHost.Error()), E("$.storage.files.3.contents.source", ErrURLNoHost.Error()),
				E("$.storage.files.4.contents.source", ErrURLNoHost.Error()), E("$.storage.files.8.contents.source", "unable to parse url")}},
		{name: "url host and port in references", origin: "flint: a URL that can never be fetched", since: "3.1.0",
			body: `"ignition":{"config":{"merge":[{"source":"http://h:65536/c"}]},"proxy":{"httpProxy":"http://p:70000","httpsProxy":"http://:3128"}}`,
			want: []entry{E("$.ignition.config.merge.0", ErrURLBadPort.Error()), E("$.ignition.config.merge.0.source", ErrURLBadPort.Error()), E("$.ignition.proxy.httpProxy", ErrURLBadPort.Error()), E("$.ignition.proxy.httpsProxy", ErrURLNoHost.Error())}},
		{name: "tang url port", origin: "flint: a URL that can never be fetched", since: "3.2.0",
			body: `"storage":{"luks":[{"name":"a","device":"/dev/a","clevis":{"tang":[{"url":"http://t:0","thumbprint":"x"},{"url":"http://t:7500","thumbprint":"y"}]}}]}`,
			want: []entry{E("$.storage.luks.0.clevis.tang.0.url", ErrURLBadPort.Error())}},
		{name: "header names and values", origin: "flint: Go's HTTP client refuses them (httpguts)", since: "3.1.0",
			body: `"storage":{"files":[{"path":"/a","contents":{"source":"http://h/a","httpHeaders":[{"name":"Bad Name","value":"v"},{"name":"X:y","value":"v"},{"name":"X-Inject","value":"a\r\nInjected: 1"},{"name":"X-Tab","value":"a\tb"},{"name":"X-Nul","value":"a\u0000"},{"name":"X-Ok","value":"v"}]}}]}`,
			want: []entry{E("$.storage.files.0.contents.httpHeaders.0.name", ErrInvalidHTTPHeaderName.Error()), E("$.storage.files.0.contents.httpHeaders.1.name", ErrInvalidHTTPHeaderName.Error()),
				E("$.storage.files.0.contents.httpHeaders.2.value", ErrInvalidHTTPHeaderValue.Error()), E("$.storage.files.0.contents.httpHeaders.4.value", ErrNULByte.Error())}},
		{name: "timeouts", origin: "flint: seconds × 1e9 must fit time.Duration; negative means nothing",
			body: `"ignition":{"timeouts":{"httpTotal":18446744074,"httpResponseHeaders":-1}}`,
			want: []entry{E("$.ignition.timeouts.httpTotal", ErrTimeoutRange.Error()), E("$.ignition.timeouts.httpResponseHeaders", ErrTimeoutRange.Error())}},
		{name: "timeouts in range", origin: "flint: seconds × 1e9 must fit time.Duration",
			body: `"ignition":{"timeouts":{"httpTotal":9223372036,"httpResponseHeaders":0}}`},
	})
}

func TestIsBlank(t *testing.T) {
	for _, s := range []string{"", " ", "\n", " \t\r\n "} {
		if !IsBlank([]byte(s)) {
			t.Errorf("IsBlank(%q) = false", s)
		}
	}
	for _, s := range []string{"{}", " x", "\v", "\u00a0"} {
		if IsBlank([]byte(s)) {
			t.Errorf("IsBlank(%q) = true", s)
		}
	}
}

// mustSince parses a `since` tag into a table index.
func mustSince(tag string) int {
	if tag == "" {
		return 0
	}
	v, err := semver.NewVersion(tag)
	if err != nil {
		panic(fmt.Sprintf("config: bad since tag %q", tag))
	}
	i := versionIndex(*v)
	if i < 0 {
		panic(fmt.Sprintf("config: since tag %q is not in the version table", tag))
	}
	return i
}
