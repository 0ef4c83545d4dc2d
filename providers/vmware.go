package providers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"strings"

	"github.com/flintboot/flint/system"
)

// vmware: the config from VMware guestinfo variables, read through the
// VMware backdoor (GuestRPC). Keys, most preferred first:
// guestinfo.ignition.config.data (+ .encoding), guestinfo.coreos.config.data
// (+ .encoding), the same properties inside the OVF environment
// (guestinfo.ovfenv), then guestinfo.{ignition,coreos}.config.url (fetched).
// Off VMware (DMI says otherwise) the provider is not online. DelConfig
// overwrites the data with "{}" and prunes the OVF properties.
type vmware struct{}

func (vmware) Name() string { return "vmware" }

// guestRPC reads and writes guestinfo variables.
type guestRPC interface {
	// Get returns the value of guestinfo.<key>; ok is false when unset.
	Get(ctx context.Context, key string) (value string, ok bool, err error)
	// Set writes a value that is no secret (it may travel in argv).
	Set(ctx context.Context, key, value string) error
	// SetPrivate writes a value that must stay out of argv and logs (the
	// OVF environment, which may carry any property of the appliance).
	SetPrivate(ctx context.Context, key, value string) error
}

var vmwarePrefixes = []string{"ignition", "coreos"}

// DecodeVMware decodes guestinfo config data with its encoding.
func DecodeVMware(data, encoding string) ([]byte, error) {
	switch strings.TrimSpace(encoding) {
	case "":
		return []byte(data), nil
	case "b64", "base64":
		return decodeBase64([]byte(data))
	case "gz", "gzip":
		return gunzip([]byte(data))
	case "gz+base64", "gzip+base64", "gz+b64", "gzip+b64":
		b, err := decodeBase64([]byte(data))
		if err != nil {
			return nil, err
		}
		return gunzip(b)
	}
	return nil, fmt.Errorf("unsupported guestinfo encoding %q", encoding)
}

// VMwareSelection is what ResolveVMware chose.
type VMwareSelection struct {
	Data, Encoding string // config data and its encoding, or
	URL            string // a URL to fetch the config from
	From           string // the key it came from (for logs)
}

// ResolveVMware picks the config source from guestinfo values (lookup
// without the "guestinfo." prefix) and OVF environment properties (keys
// with the prefix). ok is false when there is none.
func ResolveVMware(guest func(key string) (string, bool), ovf map[string]string) (VMwareSelection, bool) {
	for _, p := range vmwarePrefixes {
		if d, ok := guest(p + ".config.data"); ok && d != "" {
			e, _ := guest(p + ".config.data.encoding")
			return VMwareSelection{Data: d, Encoding: e, From: "guestinfo." + p + ".config.data"}, true
		}
	}
	for _, p := range vmwarePrefixes {
		k := "guestinfo." + p + ".config.data"
		if d := ovf[k]; d != "" {
			return VMwareSelection{Data: d, Encoding: ovf[k+".encoding"], From: "ovfenv " + k}, true
		}
	}
	for _, p := range vmwarePrefixes {
		if u, ok := guest(p + ".config.url"); ok && u != "" {
			return VMwareSelection{URL: u, From: "guestinfo." + p + ".config.url"}, true
		}
	}
	for _, p := range vmwarePrefixes {
		k := "guestinfo." + p + ".config.url"
		if u := ovf[k]; u != "" {
			return VMwareSelection{URL: u, From: "ovfenv " + k}, true
		}
	}
	return VMwareSelection{}, false
}

// dmiIs reports whether the DMI system vendor or product name contains s.
func dmiIs(env *Env, s string) bool {
	for _, f := range []string{"sys_vendor", "product_name"} {
		b, err := os.ReadFile(env.sysPath("/sys/class/dmi/id/" + f))
		if err == nil && bytes.Contains(b, []byte(s)) {
			return true
		}
	}
	return false
}

// vmwareRPC returns the GuestRPC channel: vmware-rpctool when installed,
// else the built-in backdoor (amd64).
func vmwareRPC(env *Env) (guestRPC, error) {
	if _, err := env.Runner.Run(context.Background(), system.Cmd{Name: ToolVMwareRpctool, Args: []string{"info-get guestinfo.flint.probe"}}); !errors.Is(err, system.ErrToolNotFound) {
		return rpctool{env.Runner}, nil
	}
	if runtime.GOARCH != "amd64" {
		return nil, fmt.Errorf("vmware: guestinfo access needs vmware-rpctool on %s", runtime.GOARCH)
	}
	if !vmwareBackdoorPresent() {
		return nil, fmt.Errorf("vmware: the VMware backdoor does not answer: %w", ErrOffline)
	}
	return backdoorRPC{}, nil
}

func (vmware) Fetch(ctx context.Context, env *Env) ([]byte, error) {
	env.fill()
	if !dmiIs(env, "VMware") {
		return nil, fmt.Errorf("vmware: not running on VMware (DMI): %w", ErrOffline)
	}
	rpc, err := vmwareRPC(env)
	if err != nil {
		return nil, err
	}
	return fetchVMware(ctx, env, rpc)
}

func fetchVMware(ctx context.Context, env *Env, rpc guestRPC) ([]byte, error) {
	var rerr error
	guest := func(k string) (string, bool) {
		v, ok, err := rpc.Get(ctx, k)
		if err != nil && rerr == nil {
			rerr = err
		}
		return v, ok
	}
	// direct guestinfo first: avoid reading ovfenv when not needed
	ovf := map[string]string{}
	sel, ok := ResolveVMware(guest, nil)
	if rerr != nil {
		return nil, fmt.Errorf("vmware: reading guestinfo: %w", rerr)
	}
	if !ok || sel.URL != "" {
		if doc, has, err := rpc.Get(ctx, "ovfenv"); err == nil && has && doc != "" {
			if props, perr := ParseOVFProperties([]byte(doc)); perr == nil {
				ovf = props
			} else {
				env.Log.Warn("vmware: %v", perr)
			}
		}
		sel, ok = ResolveVMware(guest, ovf)
	}
	if !ok {
		env.Log.Info("vmware: no config in guestinfo or the OVF environment")
		return nil, ErrNoConfig
	}
	env.Log.Info("vmware: using %s", sel.From)
	if sel.URL != "" {
		return fetchConfigURL(ctx, env, sel.URL)
	}
	b, err := DecodeVMware(sel.Data, sel.Encoding)
	if err != nil {
		return nil, fmt.Errorf("vmware: %s: %w", sel.From, err)
	}
	return nonEmpty(b)
}

// DelConfig replaces the config by "{}" (base64 e30K) and removes the
// config properties from the OVF environment.
func (vmware) DelConfig(ctx context.Context, env *Env) error {
	env.fill()
	if !dmiIs(env, "VMware") {
		return fmt.Errorf("vmware: not running on VMware (DMI): %w", ErrOffline)
	}
	rpc, err := vmwareRPC(env)
	if err != nil {
		return err
	}
	if err := delVMware(ctx, rpc); err != nil {
		return err
	}
	env.Log.Info("vmware: config deleted from guestinfo")
	return nil
}

func delVMware(ctx context.Context, rpc guestRPC) error {
	for _, p := range vmwarePrefixes {
		if _, ok, err := rpc.Get(ctx, p+".config.data"); err != nil {
			return err
		} else if ok {
			if err := rpc.Set(ctx, p+".config.data", "e30K"); err != nil {
				return fmt.Errorf("vmware: deleting guestinfo.%s.config.data: %w", p, err)
			}
			if err := rpc.Set(ctx, p+".config.data.encoding", "base64"); err != nil {
				return fmt.Errorf("vmware: setting guestinfo.%s.config.data.encoding: %w", p, err)
			}
		}
	}
	doc, has, err := rpc.Get(ctx, "ovfenv")
	if err != nil {
		return err
	}
	if has && doc != "" {
		pruned := PruneOVFConfig(doc)
		if pruned != doc {
			if err := rpc.SetPrivate(ctx, "ovfenv", pruned); err != nil {
				return fmt.Errorf("vmware: pruning guestinfo.ovfenv: %w", err)
			}
		}
	}
	return nil
}

var ovfConfigProp = regexp.MustCompile(`(?s)[ \t]*<(?:\w+:)?Property\b[^>]*?\bkey="guestinfo\.(?:ignition|coreos)\.config\.[^"]*"[^>]*?(?:/>|>.*?</(?:\w+:)?Property>)[ \t]*\r?\n?`)

// PruneOVFConfig removes the guestinfo.{ignition,coreos}.config.* property
// elements from an OVF environment document, leaving the rest untouched.
func PruneOVFConfig(doc string) string {
	return ovfConfigProp.ReplaceAllString(doc, "")
}

// rpctool is GuestRPC through open-vm-tools' vmware-rpctool.
type rpctool struct{ r system.Runner }

func (t rpctool) Get(ctx context.Context, key string) (string, bool, error) {
	res, err := t.r.Run(ctx, system.Cmd{Name: ToolVMwareRpctool, Args: []string{"info-get guestinfo." + key}})
	var ee *system.ExitError
	if errors.As(err, &ee) && ee.ExitCode == 1 {
		return "", false, nil // "No value found"
	}
	if err != nil {
		return "", false, err
	}
	return strings.TrimSuffix(string(res.Stdout), "\n"), true, nil
}

func (t rpctool) Set(ctx context.Context, key, value string) error {
	_, err := t.r.Run(ctx, system.Cmd{Name: ToolVMwareRpctool, Args: []string{"info-set guestinfo." + key + " " + value}})
	return err
}

// errPrivateArgv: vmware-rpctool takes the whole RPC, value included, as
// its one argument (it reads nothing from stdin), where every user of the
// machine can read it.
var errPrivateArgv = errors.New("vmware-rpctool would get the value on its command line, readable by every process; writing it needs the VMware backdoor (amd64)")

// SetPrivate goes through the backdoor in-process, never through
// vmware-rpctool's argv.
func (t rpctool) SetPrivate(ctx context.Context, key, value string) error {
	if !vmwareBackdoorPresent() {
		return fmt.Errorf("vmware: writing guestinfo.%s: %w", key, errPrivateArgv)
	}
	return backdoorRPC{}.Set(ctx, key, value)
}
