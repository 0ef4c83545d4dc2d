// flint-disks is the test-only driver of the disks VM scenarios: it runs
// the disks stage (stages/disks) on one config file, printing the plan
// ("PLAN ..." lines), then applies it unless -plan is given, and writes the
// resulting stage state as JSON. It lives under testdata so that it is
// built only by the scenarios (into the guest as /usr/bin/flint-disks).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/flintboot/flint/config"
	"github.com/flintboot/flint/log"
	"github.com/flintboot/flint/resource"
	"github.com/flintboot/flint/stages"
	"github.com/flintboot/flint/stages/disks"
	"github.com/flintboot/flint/system"
)

func main() {
	planOnly := flag.Bool("plan", false, "only print the plan")
	statePath := flag.String("state", "", "write the state (JSON) here")
	flag.Parse()
	if err := run(flag.Arg(0), *planOnly, *statePath); err != nil {
		fmt.Printf("FLINT-DISKS-ERROR %v\n", err)
		os.Exit(1)
	}
}

func run(cfgPath string, planOnly bool, statePath string) error {
	raw, err := os.ReadFile(cfgPath)
	if err != nil {
		return err
	}
	cfg, _, err := config.Parse(raw)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	l := log.New(os.Stderr)
	log.SetDefault(l)
	f, err := resource.New(resource.Options{})
	if err != nil {
		return err
	}
	c := &stages.Context{Ctx: context.Background(), Root: "/", Config: cfg, Log: l,
		State: &stages.State{}, Fetcher: f, Runner: system.NewRunner(l, nil), Paths: system.PathsFromEnv()}
	start := time.Now()
	p, err := disks.New().Plan(c)
	if err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	for _, a := range p.Actions() {
		fmt.Printf("PLAN %s\n", a)
	}
	fmt.Printf("FLINT-DISKS-PLANNED ms=%d\n", time.Since(start).Milliseconds())
	if planOnly {
		return nil
	}
	if err := p.Apply(c); err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	fmt.Printf("FLINT-DISKS-DONE ms=%d\n", time.Since(start).Milliseconds())
	if statePath != "" {
		b, _ := json.MarshalIndent(c.State, "", "  ")
		return os.WriteFile(statePath, b, 0o600)
	}
	return nil
}
