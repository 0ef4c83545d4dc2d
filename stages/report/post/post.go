// Package post is the opt-in report of a first boot to a URL: with
// flint.report.url=https://… on the kernel command line, flint POSTs one
// JSON document after the last stage of the boot (files) or after a stage
// that failed. Nothing in the config turns it on (the spec is not
// extended), and it never delays the boot by more than Bound.
//
// The document (Report) holds the machine id, the boot id, the platform,
// every stage's status and durations, and on failure the redacted failure
// summary; never the config or anything from it.
package post

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/flintboot/flint/log"
	"github.com/flintboot/flint/resource"
	"github.com/flintboot/flint/stages"
	"github.com/flintboot/flint/system"
)

// Arg is the kernel argument that turns the report on.
const Arg = "flint.report.url"

// LastStage is the stage after which a successful boot is reported.
const LastStage = "files"

// Bound is the longest a report may take, retries included: a receiver
// that is down or a network that never comes up delays the boot by at most
// this much.
const Bound = 15 * time.Second

// attemptTimeout bounds one attempt until the response headers arrive.
const attemptTimeout = 5 * time.Second

// ContentType is the report's media type.
const ContentType = "application/vnd.flint.report+json"

// Report is the JSON document sent.
type Report struct {
	FlintVersion string  `json:"flintVersion"`
	MachineID    string  `json:"machineId,omitempty"`
	ProductUUID  string  `json:"productUuid,omitempty"`
	BootID       string  `json:"bootId"`
	Platform     string  `json:"platform"`
	Status       string  `json:"status"` // "succeeded" or "failed"
	FailedStage  string  `json:"failedStage,omitempty"`
	Failure      string  `json:"failure,omitempty"`
	Stages       []Stage `json:"stages"`
	Sent         string  `json:"sent"`
}

// Stage is one stage's record in the report.
type Stage struct {
	Name       string    `json:"name"`
	Status     string    `json:"status"`
	Started    time.Time `json:"started"`
	DurationMS int64     `json:"durationMs"`
	Actions    int       `json:"actions"`
	Error      string    `json:"error,omitempty"`
}

// URL returns the report URL from the kernel command line (the last
// flint.report.url=), "" when there is none.
func URL(cmdline []string) string {
	u := ""
	for _, a := range cmdline {
		if v, ok := strings.CutPrefix(a, Arg+"="); ok {
			u = v
		}
	}
	return u
}

// Options are one report.
type Options struct {
	URL      string
	Root     string // target root: its /etc/machine-id is preferred
	Paths    system.Paths
	Platform string
	Version  string
	State    *stages.State
	// Stage is the stage that just ran; Failure its redacted failure
	// summary ("" when it succeeded).
	Stage   string
	Failure string
	Log     *log.Logger
	// Fetch overrides the fetcher options (tests: DialContext); Log is
	// always Options.Log.
	Fetch resource.Options
	// Bound overrides the package's Bound (0: Bound).
	Bound time.Duration
}

// Build makes the report document.
func Build(o Options) Report {
	r := Report{FlintVersion: o.Version, BootID: o.Paths.BootID(), Platform: o.Platform, Status: "succeeded",
		MachineID: machineID(o.Root), ProductUUID: productUUID(), Sent: time.Now().UTC().Format(time.RFC3339)}
	if o.State != nil {
		for _, s := range o.State.Stages {
			r.Stages = append(r.Stages, Stage{Name: s.Name, Status: s.Status, Started: s.Started,
				DurationMS: s.DurationMS, Actions: s.Actions, Error: log.RedactText(s.Error)})
		}
	}
	if o.Failure != "" {
		r.Status, r.FailedStage, r.Failure = "failed", o.Stage, log.RedactText(o.Failure)
	}
	if r.Stages == nil {
		r.Stages = []Stage{}
	}
	return r
}

// Send POSTs the report to o.URL through the fetcher (retries with backoff
// and jitter), giving up after Bound. It only logs: a report that cannot
// be sent never fails the boot.
func Send(ctx context.Context, o Options) {
	red := log.Redact(o.URL)
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		o.Log.Warn("%s=%s: not an http(s) URL, no report sent", Arg, red)
		return
	}
	body, err := json.Marshal(Build(o))
	if err != nil {
		o.Log.Warn("building the report: %v", err)
		return
	}
	fo := o.Fetch
	fo.Log = o.Log
	fo.Offline = false
	if fo.ResponseHeaderTimeout == 0 {
		fo.ResponseHeaderTimeout = attemptTimeout
	}
	f, err := resource.New(fo)
	if err != nil {
		o.Log.Warn("reporting to %s: %v", red, err)
		return
	}
	bound := o.Bound
	if bound <= 0 {
		bound = Bound
	}
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	done := o.Log.Op("reporting the %s stage to %s", o.Stage, red)
	_, err = f.FetchBytes(ctx, resource.Source{URL: o.URL, Method: "POST", Body: body,
		Headers: []resource.Header{{Name: "Content-Type", Value: ContentType}}}, 64<<10)
	if err != nil {
		err = fmt.Errorf("%w (giving up; the report is bounded to %s)", err, bound)
	}
	done(err)
}

var hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)

// machineID is the target root's /etc/machine-id when it has one, else
// the running system's (the initramfs's, set up by systemd).
func machineID(root string) string {
	for _, try := range []func() ([]byte, error){
		func() ([]byte, error) { return system.ReadInRoot(root, "/etc/machine-id") },
		func() ([]byte, error) { return os.ReadFile("/etc/machine-id") },
	} {
		if b, err := try(); err == nil {
			if id := strings.TrimSpace(string(b)); hex32.MatchString(id) {
				return id
			}
		}
	}
	return ""
}

// productUUID is the firmware's system UUID (SMBIOS), when readable and
// set.
func productUUID() string {
	b, err := os.ReadFile("/sys/class/dmi/id/product_uuid")
	if err != nil {
		return ""
	}
	id := strings.ToLower(strings.TrimSpace(string(b)))
	if strings.Trim(id, "0-") == "" || len(id) > 64 {
		return ""
	}
	return id
}
