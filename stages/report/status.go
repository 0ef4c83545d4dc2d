// Package report answers "what happened on first boot": `flint status`
// (one line: done, failed at which stage and why, in progress, never ran),
// `flint analyze` (per-operation timings from the result file) and `flint
// collect-logs` (a tarball for a bug report, with nothing secret in it).
//
// Everything here only reads: the result file and the first-boot-in-
// progress stamp in the target root (flint's own files, read without
// following a symlink planted there), and on the running machine the run
// directory (this boot's stage records and failure summary) and the
// journal. The opt-in report to a URL during the boot is package post.
package report

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/flintboot/flint/stages"
	"github.com/flintboot/flint/stages/engine"
	"github.com/flintboot/flint/system"
)

// Outcome is what `flint status` found.
type Outcome string

const (
	Done    Outcome = "done"    // provisioned: every stage succeeded
	Failed  Outcome = "failed"  // a stage failed, or a first boot was interrupted
	Running Outcome = "running" // a first boot is in progress on this machine
	NotRun  Outcome = "not-run" // no first boot recorded
)

// Options say where to look.
type Options struct {
	// Root is the target root: "/" on the provisioned machine, /sysroot in
	// the initramfs, or a mounted image.
	Root  string
	Paths system.Paths
	// Live says whether Root belongs to the running machine, so that its
	// run directory (Paths.RunDir: this boot's stage records and failure
	// summary), its kernel command line and its journal describe it too.
	// The zero value decides from Root (see IsLive).
	Live Live
}

// Live is a tri-state: LiveAuto (from the root), LiveYes, LiveNo. It is a
// boolean command-line flag (--live, --live=false).
type Live int8

const (
	LiveAuto Live = iota
	LiveYes
	LiveNo
)

func (l *Live) String() string {
	if l == nil || *l == LiveAuto {
		return "auto"
	}
	return strconv.FormatBool(*l == LiveYes)
}

// Set implements flag.Value.
func (l *Live) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	*l = LiveNo
	if b {
		*l = LiveYes
	}
	return nil
}

// IsBoolFlag makes --live work without a value.
func (l *Live) IsBoolFlag() bool { return true }

// IsLive reports whether o describes the running machine: Live, or with
// LiveAuto a root that is the running machine's own: "/" after
// switch-root, or /sysroot, where the initramfs mounts it. Any other
// directory is taken for an image inspected from outside, whose state is
// only what is written in it.
func (o Options) IsLive() bool {
	switch o.Live {
	case LiveYes:
		return true
	case LiveNo:
		return false
	}
	r := filepath.Clean(orDefault(o.Root, "/"))
	return r == "/" || r == "/sysroot"
}

// Snapshot is everything flint left behind about its first boot.
type Snapshot struct {
	Result *stages.Result // the result file; nil when there is none
	Stamp  *Stamp         // the first-boot-in-progress stamp; nil when none
	// State is this boot's state from the run directory (live only); nil
	// when there is none.
	State *stages.State
	// Failure is <run dir>/failure.txt (live only).
	Failure string
	// BootID is the running kernel's boot id.
	BootID string
	// Warnings are files that could not be used (unreadable, a symlink).
	Warnings []string
}

// Stamp is the content of engine.InProgressStamp.
type Stamp struct {
	BootID  string `json:"bootId"`
	Started string `json:"started"`
	Stage   string `json:"stage"`
	Version string `json:"flintVersion,omitempty"`
}

// maxStateBytes bounds what is read of flint's own files.
const maxStateBytes = 16 << 20

// Read collects the snapshot. Missing files are no error; unreadable ones
// are Warnings.
func Read(o Options) (*Snapshot, error) {
	s := &Snapshot{BootID: o.Paths.BootID()}
	root := o.Root
	if root == "" {
		root = "/"
	}
	resultPath := o.Paths.ResultFile
	if resultPath == "" {
		resultPath = system.DefaultPaths().ResultFile
	}
	if b, err := readOwn(root, resultPath); err == nil {
		var r stages.Result
		if jerr := json.Unmarshal(b, &r); jerr != nil {
			s.Warnings = append(s.Warnings, fmt.Sprintf("%s: not a result file: %v", resultPath, jerr))
		} else {
			s.Result = &r
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		s.Warnings = append(s.Warnings, err.Error())
	}
	switch b, err := readOwn(root, engine.InProgressStamp); {
	case err == nil:
		var st Stamp
		if json.Unmarshal(b, &st) != nil || st.BootID == "" {
			st = Stamp{BootID: "unknown", Started: "unknown", Stage: "unknown"}
		}
		s.Stamp = &st
	case errors.Is(err, system.ErrNotRegular):
		// a planted symlink counts as a stamp of an unknown boot, as the
		// engine's guard counts it
		s.Stamp = &Stamp{BootID: "unknown", Started: "unknown", Stage: "unknown"}
		s.Warnings = append(s.Warnings, err.Error())
	case !errors.Is(err, fs.ErrNotExist):
		s.Warnings = append(s.Warnings, err.Error())
	}
	if !o.IsLive() {
		return s, nil
	}
	if b, err := readPlain(o.Paths.StateFile()); err == nil {
		var st stages.State
		if jerr := json.Unmarshal(b, &st); jerr != nil {
			s.Warnings = append(s.Warnings, fmt.Sprintf("%s: %v", o.Paths.StateFile(), jerr))
		} else {
			s.State = &st
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		s.Warnings = append(s.Warnings, err.Error())
	}
	if b, err := readPlain(filepath.Join(o.Paths.RunDir, engine.FailureFile)); err == nil {
		s.Failure = strings.TrimSpace(string(b))
	}
	return s, nil
}

// readOwn reads one of flint's files in root without following a symlink
// at its path.
func readOwn(root, p string) ([]byte, error) {
	b, err := system.ReadInRoot(root, p)
	if err == nil && len(b) > maxStateBytes {
		return nil, fmt.Errorf("%s: larger than %d bytes", p, maxStateBytes)
	}
	return b, err
}

// readPlain reads a file of the run directory (tmpfs, flint's own), as a
// regular file only.
func readPlain(p string) ([]byte, error) {
	return readOwn(filepath.Dir(p), filepath.Base(p))
}

// Records are the stage records that describe the first boot: this boot's
// state when it has any, else the result file's.
func (s *Snapshot) Records() []stages.StageRecord {
	if s.State != nil && len(s.State.Stages) > 0 {
		return s.State.Stages
	}
	if s.Result != nil {
		return s.Result.Stages
	}
	return nil
}

// Status is `flint status`'s answer.
type Status struct {
	Status  Outcome `json:"status"`
	Message string  `json:"message"` // the one line, without the outcome word
	// Stage is the stage that failed or is running.
	Stage string `json:"stage,omitempty"`
	Error string `json:"error,omitempty"`
	// BootID is the provisioning boot (result file or stamp).
	BootID           string        `json:"bootId,omitempty"`
	ProvisioningDate string        `json:"provisioningDate,omitempty"`
	Platform         string        `json:"platform,omitempty"`
	FlintVersion     string        `json:"flintVersion,omitempty"`
	DurationMS       int64         `json:"durationMs"`
	Stages           []StageStatus `json:"stages"`
	Warnings         []string      `json:"warnings,omitempty"`
}

// StageStatus is one stage in Status.
type StageStatus struct {
	Name       string `json:"name"`
	Status     string `json:"status"`
	DurationMS int64  `json:"durationMs"`
	Error      string `json:"error,omitempty"`
}

// Line is the one line `flint status` prints.
func (st *Status) Line() string { return string(st.Status) + ": " + st.Message }

const maxLineError = 300

// Evaluate decides the outcome from a snapshot:
//
//  1. a failed stage in this boot's state, or a failure summary → failed;
//  2. a stamp of this boot on the live machine → running;
//  3. a failed stage in the result file → failed; a stamp of another boot
//     (or any stamp in an image) → failed: interrupted; a result file →
//     done;
//  4. stage records of this boot without an outcome yet → running;
//  5. nothing → not run.
func Evaluate(s *Snapshot, o Options) *Status {
	st := &Status{Warnings: s.Warnings, Stages: []StageStatus{}}
	recs := s.Records()
	for _, r := range recs {
		st.Stages = append(st.Stages, StageStatus{Name: r.Name, Status: r.Status, DurationMS: r.DurationMS, Error: r.Error})
		st.DurationMS += r.DurationMS
	}
	if s.Result != nil {
		st.BootID, st.ProvisioningDate, st.Platform, st.FlintVersion =
			s.Result.ProvisioningBootID, s.Result.ProvisioningDate, s.Result.Platform, s.Result.Version
	}
	failedRec := func(rs []stages.StageRecord) *stages.StageRecord {
		for i := range rs {
			if rs[i].Status == "failed" {
				return &rs[i]
			}
		}
		return nil
	}
	var stateRecs []stages.StageRecord
	if s.State != nil {
		stateRecs = s.State.Stages
	}
	if f := failedRec(stateRecs); f != nil {
		st.BootID = s.BootID
		return failedStatus(st, f.Name, f.Error)
	}
	if s.Failure != "" {
		stage, cause := parseFailure(s.Failure)
		st.BootID = s.BootID
		return failedStatus(st, stage, cause)
	}
	if sp := s.Stamp; sp != nil && o.IsLive() && sp.BootID == s.BootID {
		st.Status, st.Stage, st.BootID = Running, sp.Stage, sp.BootID
		st.Message = fmt.Sprintf("first boot in progress: the %s stage (boot %s, started %s)", sp.Stage, sp.BootID, sp.Started)
		return st
	}
	if s.Result != nil {
		if f := failedRec(s.Result.Stages); f != nil {
			return failedStatus(st, f.Name, f.Error)
		}
	}
	if sp := s.Stamp; sp != nil {
		st.Status, st.Stage, st.BootID = Failed, sp.Stage, sp.BootID
		st.Error = fmt.Sprintf("an earlier first boot was interrupted: boot %s started provisioning at %s and stopped during the %s stage (%s is still there)",
			sp.BootID, sp.Started, sp.Stage, engine.InProgressStamp)
		st.Message = st.Error
		return st
	}
	if s.Result != nil {
		st.Status = Done
		st.Message = fmt.Sprintf("provisioned at %s by boot %s (%d stages, %s)", orUnknown(st.ProvisioningDate),
			orUnknown(st.BootID), len(s.Result.Stages), (time.Duration(st.DurationMS) * time.Millisecond).String())
		if st.FlintVersion != "" {
			st.Message += ", flint " + st.FlintVersion
		}
		return st
	}
	if len(stateRecs) > 0 {
		last := stateRecs[len(stateRecs)-1]
		st.Status, st.BootID = Running, s.BootID
		st.Message = fmt.Sprintf("first boot in progress: %d stages done, the last %s (boot %s)", len(stateRecs), last.Name, s.BootID)
		return st
	}
	st.Status = NotRun
	st.Message = fmt.Sprintf("flint has not provisioned %s: no result file %s and no first boot in progress", orDefault(o.Root, "/"), orDefault(o.Paths.ResultFile, system.DefaultPaths().ResultFile))
	return st
}

func failedStatus(st *Status, stage, cause string) *Status {
	st.Status, st.Stage = Failed, stage
	cause = strings.Join(strings.Fields(stages.RedactText(strings.TrimPrefix(cause, stage+": "))), " ")
	if len(cause) > maxLineError {
		cause = cause[:maxLineError] + "…"
	}
	st.Error = cause
	st.Message = fmt.Sprintf("the %s stage failed: %s", orUnknown(stage), cause)
	return st
}

// parseFailure reads the stage and the error out of the failure summary
// (stages.FailureSummary's paragraph).
func parseFailure(text string) (stage, cause string) {
	stage = "unknown"
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(l)
		if rest, ok := strings.CutPrefix(l, "flint: the "); ok {
			if i := strings.Index(rest, " stage failed"); i > 0 {
				stage = rest[:i]
			}
		}
		if rest, ok := strings.CutPrefix(l, "while: "); ok {
			cause = rest + ": " + cause
		}
		if rest, ok := strings.CutPrefix(l, "error: "); ok {
			cause += rest
		}
	}
	if cause == "" {
		cause = strings.Join(strings.Fields(text), " ")
	}
	return stage, cause
}

func orUnknown(s string) string { return orDefault(s, "unknown") }

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// Check reads and evaluates the status; with wait it polls every half
// second while the outcome is Running, until it is not or ctx ends (then it
// returns the last status and ctx's error).
func Check(ctx context.Context, o Options, wait bool) (*Status, error) {
	for {
		s, err := Read(o)
		if err != nil {
			return nil, err
		}
		st := Evaluate(s, o)
		if !wait || st.Status != Running {
			return st, nil
		}
		t := time.NewTimer(500 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return st, ctx.Err()
		case <-t.C:
		}
	}
}

// PrintStatus writes the status line (and warnings, to errw) or, with
// asJSON, the status as a JSON object.
func PrintStatus(w, errw io.Writer, st *Status, asJSON bool) {
	if asJSON {
		b, _ := json.MarshalIndent(st, "", "  ")
		fmt.Fprintln(w, string(b))
		return
	}
	fmt.Fprintln(w, st.Line())
	for _, wn := range st.Warnings {
		fmt.Fprintln(errw, "warning:", wn)
	}
}
