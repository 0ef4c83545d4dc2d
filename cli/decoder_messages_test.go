package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/flintboot/flint/config"
)

func runValidateArgs(t *testing.T, stdin string, args ...string) (string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	err := Run(context.Background(), append([]string{"flint", "validate"}, args...), strings.NewReader(stdin), &out, &errb)
	if errb.Len() > 0 {
		t.Logf("stderr: %s", errb.String())
	}
	return out.String(), ExitCode(err)
}

// Decoder messages (issue 13 item 10): type errors name the JSON path and
// the JSON type expected, never a Go type; repeated keys and invalid UTF-8
// are warnings with path, line and column that do not change the exit
// status; no raw NUL or other control byte is ever printed.
func TestValidateDecoderMessages(t *testing.T) {
	cases := []struct {
		name, in string
		exit     int
		want     []string
	}{
		{"3.x type error", `{"ignition":{"version":"3.4.0"},
 "storage":{"files":[{"path":"/a","mode":"0644"}]}}`, ExitFailure,
			[]string{"error at $.storage.files.0.mode, line 2 col 42: expected an integer, found a string"}},
		{"3.x object expected", `{"ignition":{"version":"3.4.0"},"passwd":{"users":[{"name":"a"}]},"storage":{"files":{}}}`, ExitFailure,
			[]string{"error at $.storage.files, line 1 col 86: expected an array, found an object"}},
		{"integer out of range", `{"ignition":{"version":"3.4.0"},"passwd":{"users":[{"name":"a","uid":99999999999999999999}]}}`, ExitFailure,
			[]string{"error at $.passwd.users.0.uid", "expected an integer, found 99999999999999999999"}},
		{"version probe type error", `{"ignition":"2.2.0"}`, ExitFailure,
			[]string{"error at $.ignition, line 1 col 13: expected an object, found a string"}},
		{"2.x type error", `{"ignition":{"version":"2.2.0"},"storage":{"files":[{"filesystem":"root","path":"/a","mode":true}]}}`, ExitFailure,
			[]string{"error at $.storage.files.0.mode, line 1 col 93: expected an integer, found a boolean"}},
		{"3.x duplicate key", `{"ignition":{"version":"3.4.0"},
 "passwd":{"users":[{"name":"a","name":"b"}]}}`, ExitOK,
			[]string{`warning at $.passwd.users.0.name, line 2 col 33: duplicate key "name"; the last one wins`}},
		{"2.x duplicate key", `{"ignition":{"version":"2.2.0"},"ignition":{"version":"2.2.0"}}`, ExitOK,
			[]string{`warning at $.ignition, line 1 col 33: duplicate key "ignition"; the last one wins`}},
		{"invalid UTF-8 in a value", "{\"ignition\":{\"version\":\"3.4.0\"},\"storage\":{\"files\":[{\"path\":\"/caf\xe9\"}]}}", ExitOK,
			[]string{"warning at $.storage.files.0.path, line 1 col 61: invalid UTF-8 in a string; replaced by U+FFFD"}},
		{"invalid UTF-8 in a 2.x value", "{\"ignition\":{\"version\":\"2.2.0\"},\"storage\":{\"files\":[{\"filesystem\":\"root\",\"path\":\"/caf\xe9\",\"mode\":420}]}}", ExitOK,
			[]string{"warning at $.storage.files.0.path, line 1 col 81: invalid UTF-8 in a string; replaced by U+FFFD"}},
		{"escaped NUL in a key", `{"ignition":{"version":"3.4.0"},"a\u0000b":1}`, ExitOK,
			[]string{`warning at $.a\x00b, line 1 col 33: Unused key a\x00b`}},
		{"escaped NUL in a 2.x key", `{"ignition":{"version":"2.2.0"},"a\u0000b\u001b[2J":1}`, ExitOK,
			[]string{`warning at $.a\x00b\x1b[2J, line 1 col 33: Config has unrecognized key: a\x00b\x1b[2J`}},
		{"raw NUL in a string", "{\"ignition\":{\"version\":\"3.4.0\"},\"a\x00b\":1}", ExitFailure,
			[]string{`error at line 1 col 35: invalid character '\x00' in string literal`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, code := runValidateArgs(t, c.in, "-")
			if code != c.exit {
				t.Errorf("exit %d, want %d\n%s", code, c.exit, out)
			}
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, bad := range []string{"Go ", "struct", "legacy.", "config.", "unmarshal", "int64"} {
				if strings.Contains(out, bad) {
					t.Errorf("output names Go internals (%q):\n%s", bad, out)
				}
			}
			for _, b := range []byte(out) {
				if b < 0x20 && b != '\n' {
					t.Fatalf("output has a raw control byte %#x:\n%q", b, out)
				}
			}
		})
	}
}

// The JSON form carries the same path, line and column.
func TestValidateJSONTypeError(t *testing.T) {
	out, code := runValidateArgs(t, `{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":7}]}}`, "--format", "json", "-")
	if code != ExitFailure {
		t.Fatalf("exit %d\n%s", code, out)
	}
	var res config.ReportJSON
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if res.Valid || len(res.Entries) != 1 {
		t.Fatalf("%+v", res)
	}
	e := res.Entries[0]
	if e.Kind != "error" || e.Path != "$.storage.files.0.path" || e.Line != 1 || e.Column != 61 || e.Message != "expected a string, found a number" {
		t.Fatalf("%+v", e)
	}
}
