package providers

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/flintboot/flint/system"
)

// virtualbox: the guest property /Ignition/Config (its
// /Ignition/Config/Encoding must be empty). Guest properties travel over
// the vboxguest driver's HGCM channel; flint talks to it through the Guest
// Additions' VBoxControl tool (the HGCM ioctl protocol is not implemented
// in Go). No property means no config. DelConfig deletes both properties.
type virtualbox struct{}

func (virtualbox) Name() string { return "virtualbox" }

const (
	vboxConfigProp   = "/Ignition/Config"
	vboxEncodingProp = "/Ignition/Config/Encoding"
)

// ParseVBoxControlGet interprets `VBoxControl --nologo guestproperty get`
// output: "Value: <v>" when set; anything else (e.g. "No value set!") is
// unset.
func ParseVBoxControlGet(out string) (string, bool) {
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimRight(l, "\r"), "Value: "); ok {
			return v, true
		}
	}
	return "", false
}

func vboxGet(ctx context.Context, env *Env, prop string) (string, bool, error) {
	res, err := env.Runner.Run(ctx, system.Cmd{Name: ToolVBoxControl, Args: []string{"--nologo", "guestproperty", "get", prop}})
	var ee *system.ExitError
	if errors.As(err, &ee) && ee.ExitCode == 2 { // "No value set!"
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("virtualbox: reading guest property %s: %w", prop, err)
	}
	v, ok := ParseVBoxControlGet(string(res.Stdout))
	return v, ok, nil
}

func (virtualbox) Fetch(ctx context.Context, env *Env) ([]byte, error) {
	env.fill()
	enc, has, err := vboxGet(ctx, env, vboxEncodingProp)
	if err != nil {
		return nil, err
	}
	if has && enc != "" {
		return nil, fmt.Errorf("virtualbox: unsupported config encoding %q in %s", enc, vboxEncodingProp)
	}
	v, has, err := vboxGet(ctx, env, vboxConfigProp)
	if err != nil {
		return nil, err
	}
	if !has {
		env.Log.Info("virtualbox: no guest property %s", vboxConfigProp)
		return nil, ErrNoConfig
	}
	return nonEmpty([]byte(v))
}

func (virtualbox) DelConfig(ctx context.Context, env *Env) error {
	env.fill()
	for _, p := range []string{vboxConfigProp, vboxEncodingProp} {
		if _, err := env.Runner.Run(ctx, system.Cmd{Name: ToolVBoxControl, Args: []string{"--nologo", "guestproperty", "delete", p}}); err != nil {
			return fmt.Errorf("virtualbox: deleting guest property %s: %w", p, err)
		}
	}
	env.Log.Info("virtualbox: config deleted from guest properties")
	return nil
}
