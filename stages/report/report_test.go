package report

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/flintboot/flint/log"
	"github.com/flintboot/flint/stages"
)

func TestRedactCmdline(t *testing.T) {
	in := `BOOT_IMAGE=/vmlinuz root=LABEL=r flint.config.url=https://u:pw@h.example/c.ign?sig=S3CRET ignition.config.url=data:,{"x":1}` +
		` quiet mypassword=hunter2 rd.luks.key=/k api_token=T0K flint.report.url=https://r/x?t=S3CRET other=http://a:b@c/d?e=f "console=ttyS0 x"`
	got := RedactCmdline(in)
	want := `BOOT_IMAGE=/vmlinuz root=LABEL=r flint.config.url=https://h.example/c.ign ignition.config.url=data:,<redacted>` +
		` quiet mypassword=<redacted> rd.luks.key=<redacted> api_token=<redacted> flint.report.url=https://r/x other=http://c/d "console=ttyS0 x"`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestEvaluate(t *testing.T) {
	now := time.Now().UTC()
	ok := []stages.StageRecord{{Name: "fetch-offline", Status: "succeeded", DurationMS: 10}, {Name: "files", Status: "succeeded", DurationMS: 20}}
	failed := []stages.StageRecord{{Name: "disks", Status: "failed", Error: "disks: partitioning /dev/vda: sgdisk failed with exit code 4"}}
	live := Options{Root: "/", Live: LiveYes}
	image := Options{Root: "/mnt"}
	for _, c := range []struct {
		name string
		s    Snapshot
		o    Options
		want Outcome
		line string
	}{
		{"nothing", Snapshot{BootID: "b"}, live, NotRun, "not-run: flint has not provisioned /"},
		{"done", Snapshot{BootID: "b", Result: &stages.Result{ProvisioningBootID: "a", ProvisioningDate: now.Format(time.RFC3339), Stages: ok}}, image, Done,
			"done: provisioned at " + now.Format(time.RFC3339) + " by boot a (2 stages, 30ms)"},
		{"failed in state", Snapshot{BootID: "b", State: &stages.State{Stages: failed}}, live, Failed,
			"failed: the disks stage failed: partitioning /dev/vda: sgdisk failed with exit code 4"},
		{"failure summary only", Snapshot{BootID: "b", Failure: "flint: the fetch stage failed, so ...\n  while: fetching the config from platform aws\n  error: resource not found\nRead ..."},
			live, Failed, "failed: the fetch stage failed: fetching the config from platform aws: resource not found"},
		{"running", Snapshot{BootID: "b", Stamp: &Stamp{BootID: "b", Stage: "files", Started: "t"}, State: &stages.State{Stages: ok[:1]}}, live, Running,
			"running: first boot in progress: the files stage (boot b, started t)"},
		{"stamp in an image", Snapshot{BootID: "b", Stamp: &Stamp{BootID: "b", Stage: "mount", Started: "t"}}, image, Failed,
			"failed: an earlier first boot was interrupted: boot b started provisioning at t and stopped during the mount stage"},
		{"result failed, stamp of this boot: rerun running", Snapshot{BootID: "b", Stamp: &Stamp{BootID: "b", Stage: "files"},
			Result: &stages.Result{Stages: failed}}, live, Running, "running: "},
		{"early stages", Snapshot{BootID: "b", State: &stages.State{Stages: ok[:1]}}, live, Running, "running: first boot in progress: 1 stages done, the last fetch-offline"},
	} {
		st := Evaluate(&c.s, c.o)
		if st.Status != c.want || !strings.HasPrefix(st.Line(), c.line) {
			t.Errorf("%s: %s %q, want %s %q", c.name, st.Status, st.Line(), c.want, c.line)
		}
	}
}

func TestBlameShowWithoutOps(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	recs := []stages.StageRecord{
		{Name: "fetch-offline", Status: "succeeded", Started: t0, DurationMS: 5},
		{Name: "files", Status: "failed", Started: t0.Add(time.Second), DurationMS: 1500, Error: "files: boom", OpSummary: log.OpSummary{
			Ops:     []log.OpRecord{{Op: `writing file "/a"`, Kind: "writing file", Started: t0.Add(1100 * time.Millisecond), DurationUS: 900, Failed: true}},
			Kinds:   []log.KindStat{{Kind: "writing file", Count: 100, TotalUS: 50000, MaxUS: 900, Failed: 1}},
			OpCount: 100}},
	}
	var b bytes.Buffer
	Blame(&b, recs[:1])
	if got := b.String(); got != "no operation timings recorded; the stages, slowest first:\n       5ms fetch-offline (succeeded)\n" {
		t.Errorf("blame without ops: %q", got)
	}
	b.Reset()
	Blame(&b, recs)
	for _, want := range []string{`     900us files: writing file "/a"  (failed)`, "(1 of 100 operations shown", "      50ms    100      900us  files: writing file  (1 failed)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("blame lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	Show(&b, nil, recs)
	for _, want := range []string{"+0us  fetch-offline", "+1.000s  files", "1.500s  failed (0 actions, 100 operations)", "error: files: boom",
		`+1.100s     900us  writing file "/a"  (failed)`, "(99 faster operations not kept"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("show lacks %q:\n%s", want, b.String())
		}
	}
}
