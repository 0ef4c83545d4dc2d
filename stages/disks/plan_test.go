package disks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flintboot/flint/config"
	"github.com/flintboot/flint/log"
	"github.com/flintboot/flint/resource"
	"github.com/flintboot/flint/system"
)

// Planning never waits for a device: a disk that is not there is planned
// as "wait-device" at once (with an hour-long device timeout a wait would
// hang the test); applying waits, bounded, and says for what.
func TestPlanDoesNotWaitApplyDoes(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "by-id", "virtio-late")
	cfg := diskConfig(missing, true, config.Partition{Number: 1, SizeMiB: ptr(1)})
	c := testContext(t, cfg, &recording{r: nil})
	var logs bytes.Buffer
	c.Log = log.New(&logs)
	p, err := (&Stage{DeviceTimeout: time.Hour}).Plan(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	acts := p.Actions()
	if len(acts) != 1 || acts[0].Op != "wait-device" || acts[0].Target != missing || !strings.Contains(acts[0].Detail, "would wait") {
		t.Fatalf("plan: %v", acts)
	}
	if n := len(c.Runner.(*recording).take()); n != 0 {
		t.Fatalf("planning a missing disk ran %d commands", n)
	}
	p, _ = (&Stage{DeviceTimeout: 150 * time.Millisecond}).Plan(context.Background(), c)
	err = p.Apply(context.Background(), c)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), missing+" (disk to partition) did not appear within") {
		t.Fatalf("apply: %v", err)
	}
	if !strings.Contains(logs.String(), "waiting up to 150ms for device "+missing+" (disk to partition)") {
		t.Errorf("logs:\n%s", logs.String())
	}
}

// A disk that appears while Apply waits is planned then, before any write,
// and its conflicts refuse the stage with nothing written.
func TestApplyPlansALateDisk(t *testing.T) {
	img := newImage(t, 32)
	sgdisk(t, "-n1:0:+4M", "-c1:data", img)
	before, _ := os.ReadFile(img)
	late := filepath.Join(t.TempDir(), "late.img")
	cfg := diskConfig(late, false, config.Partition{Number: 1, Label: ptr("other")})
	c := testContext(t, cfg, &recording{r: system.NewRunner(nil, nil)})
	p, err := (&Stage{DeviceTimeout: time.Minute}).Plan(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(100 * time.Millisecond)
		os.Symlink(img, late)
	}()
	err = p.Apply(context.Background(), c)
	if err == nil || !strings.Contains(err.Error(), "partition 1 didn't match: label did not match") {
		t.Fatalf("apply: %v", err)
	}
	after, _ := os.ReadFile(img)
	if !bytes.Equal(before, after) {
		t.Fatal("the late disk was written before its plan was complete")
	}
}

func TestCexRefusedOffS390x(t *testing.T) {
	l := config.Luks{Name: "root", Device: ptr("/dev/disk/by-partlabel/root"), Cex: config.Cex{Enabled: ptr(true)}}
	var cfg config.Config
	cfg.Storage.Luks = []config.Luks{l}
	c := testContext(t, cfg, &recording{r: nil})
	_, err := (&Stage{Arch: "amd64"}).Plan(context.Background(), c)
	if err == nil || !strings.Contains(err.Error(), "needs an s390x machine") || !strings.Contains(err.Error(), "this machine is amd64") {
		t.Fatalf("amd64: %v", err)
	}
	if n := len(c.Runner.(*recording).take()); n != 0 {
		t.Fatalf("the refusal ran %d commands", n)
	}
	// s390x without a CCA queue: refused too, naming what is missing.
	ap := t.TempDir()
	_, err = (&Stage{Arch: "s390x", SysBusAP: ap}).Plan(context.Background(), c)
	if err == nil || !strings.Contains(err.Error(), "no adjunct processor") {
		t.Fatalf("s390x without cards: %v", err)
	}
}

// The adjunct processor listing as sysfs shows it: card and queue entries;
// only queues in CCA mode that are not offline count.
func TestCexAPQNs(t *testing.T) {
	ap := t.TempDir()
	mk := func(name, uevent, online string) {
		d := filepath.Join(ap, name)
		os.MkdirAll(d, 0o755)
		os.WriteFile(filepath.Join(d, "uevent"), []byte(uevent), 0o644)
		if online != "" {
			os.WriteFile(filepath.Join(d, "online"), []byte(online+"\n"), 0o644)
		}
	}
	mk("card00", "DEV_TYPE=0010\nMODALIAS=ap:t10\nMODE=cca\n", "1")
	mk("00.0001", "DEV_TYPE=0010\nMODALIAS=ap:t10\nMODE=cca\n", "1")
	mk("00.0002", "DEV_TYPE=0010\nMODE=ep11\n", "1")
	mk("01.0001", "MODE=cca\n", "0")
	mk("01.000b", "MODE=cca\n", "")
	got, err := cexAPQNs(ap)
	if err != nil || got != "00.0001,01.000b" {
		t.Fatalf("%q %v", got, err)
	}
	if _, err := cexAPQNs(filepath.Join(ap, "none")); err == nil {
		t.Fatal("no directory")
	}
	os.RemoveAll(filepath.Join(ap, "00.0001"))
	os.RemoveAll(filepath.Join(ap, "01.000b"))
	if _, err := cexAPQNs(ap); err == nil || !strings.Contains(err.Error(), "CCA mode") {
		t.Fatalf("no cca queue: %v", err)
	}
}

func TestCexCommands(t *testing.T) {
	if got := strings.Join(zkeyGenerateArgs("root", "00.0001,01.0002"), " "); got !=
		"generate --name ignition-luks-root --key-type CCA-AESCIPHER --xts --description Secure Key for root Volume --apqns 00.0001,01.0002" {
		t.Errorf("zkey generate %q", got)
	}
	k := &cexKey{name: cexKeyName("root"), repo: "/etc/zkey/repository", bits: 1280}
	if got := strings.Join(k.luksFormatArgs(), " "); got !=
		"--volume-key-file /etc/zkey/repository/ignition-luks-root.skey --cipher paes-xts-plain64 --key-size 1280" {
		t.Errorf("luksFormat %q", got)
	}
	if f := k.repoFiles(); len(f) != 2 || f["ignition-luks-root.info"] != "/etc/zkey/repository/ignition-luks-root.info" {
		t.Errorf("repo files %v", f)
	}
}

// Tang URL userinfo and queries never reach an error or the redaction list
// misses them: the advertisement fetch fails against a real loopback
// server and the error shows the URL without them.
func TestTangURLSecrets(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusNotFound)
	}))
	defer srv.Close()
	secretURL := strings.Replace(srv.URL, "http://", "http://tanguser:CANARYPW@", 1) + "/tang?token=CANARYTOKEN"
	f, err := resource.New(resource.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{fetcher: f, log: logDiscard()}
	l := config.Luks{Name: "v", Clevis: config.Clevis{Tang: []config.Tang{{URL: secretURL, Thumbprint: ptr("THP")}}}}
	_, _, _, err = clevisConfig(context.Background(), e, l)
	if err == nil {
		t.Fatal("404 advertisement accepted")
	}
	if strings.Contains(err.Error(), "CANARY") || !strings.Contains(err.Error(), "fetching the advertisement of tang server") {
		t.Fatalf("error: %v", err)
	}
	adv := `{"payload":"x","protected":"y","signature":"z"}`
	l.Clevis.Tang[0].Advertisement = &adv
	_, cfg, secrets, err := clevisConfig(context.Background(), e, l)
	if err != nil {
		t.Fatal(err)
	}
	var parsed struct {
		Pins struct {
			Tang []struct{ URL string }
		}
	}
	if json.Unmarshal([]byte(cfg), &parsed); len(parsed.Pins.Tang) != 1 || parsed.Pins.Tang[0].URL != secretURL {
		t.Fatalf("config %s", cfg)
	}
	for _, want := range []string{secretURL, "tanguser:CANARYPW", "?token=CANARYTOKEN"} {
		found := false
		for _, s := range secrets {
			found = found || s == want
		}
		if !found {
			t.Errorf("secrets %q lack %q", secrets, want)
		}
	}
	if got := urlSecrets("http://10.0.2.2:8780"); got != nil {
		t.Errorf("plain URL: %q", got)
	}
}
