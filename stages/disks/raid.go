package disks

import (
	"context"
	"fmt"
	"strings"

	"github.com/flintboot/flint/config"
	"github.com/flintboot/flint/stages"
	"github.com/flintboot/flint/system"
)

type raidPlan struct {
	Name    string
	Path    string   // the array device awaited afterwards
	Devices []string // as configured
	Args    []string // mdadm arguments before the member devices
}

// raidDevicePath is where the array appears: /dev/md/<name>, or the name
// itself when it is a /dev path.
func raidDevicePath(name string) string {
	if strings.HasPrefix(name, "/dev/") {
		return name
	}
	return "/dev/md/" + name
}

// raidArgs builds `mdadm --create` (without the member devices).
func raidArgs(r config.Raid) ([]string, error) {
	if r.Level == nil || *r.Level == "" {
		return nil, fmt.Errorf("RAID array %s: no level", r.Name)
	}
	spares := 0
	if r.Spares != nil {
		spares = *r.Spares
	}
	active := len(r.Devices) - spares
	if active < 1 {
		return nil, fmt.Errorf("RAID array %s: %d devices with %d spares", r.Name, len(r.Devices), spares)
	}
	a := []string{"--create", raidDevicePath(r.Name), "--force", "--run", "--homehost", "any",
		"--level", *r.Level, "--raid-devices", fmt.Sprint(active)}
	if spares > 0 {
		a = append(a, "--spare-devices", fmt.Sprint(spares))
	}
	for _, o := range r.Options {
		a = append(a, string(o))
	}
	return a, nil
}

func planRaid(r config.Raid) (*raidPlan, error) {
	args, err := raidArgs(r)
	if err != nil {
		return nil, err
	}
	rp := &raidPlan{Name: r.Name, Path: raidDevicePath(r.Name), Args: args}
	for _, d := range r.Devices {
		rp.Devices = append(rp.Devices, string(d))
	}
	return rp, nil
}

func (r *raidPlan) action() stages.Action {
	return stages.Action{Op: "create-raid", Target: r.Path, Detail: strings.Join(r.Args[3:], " ") + " " + strings.Join(r.Devices, " ")}
}

func applyRaid(ctx context.Context, e *env, r *raidPlan) error {
	devs := make([]string, 0, len(r.Devices))
	for _, d := range r.Devices {
		real, err := e.wait(ctx, d, "member of RAID array "+r.Name)
		if err != nil {
			return err
		}
		devs = append(devs, real)
	}
	args := append(append([]string{}, r.Args...), devs...)
	if _, err := e.run.Run(ctx, system.Cmd{Name: system.ToolMdadm, Args: args}); err != nil {
		return err
	}
	_, err := e.wait(ctx, r.Path, "RAID array "+r.Name+" just created")
	return err
}
