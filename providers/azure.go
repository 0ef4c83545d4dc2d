package providers

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/flintboot/flint/resource"
)

// azure: IMDS userData (Metadata: true; 404, 410 and 429 retried), base64.
// When it is empty, the OVF custom data on the provisioning CD-ROM (a UDF
// disc with ovf-env.xml), waited for indefinitely. Needs the network.
//
// flint does not send Azure's "ready" report (wireserver health): the
// reference Ignition leaves that to the OS (afterburn/WALinuxAgent) too.
type azure struct{}

func (azure) Name() string { return "azure" }

const azureUserDataURL = "http://169.254.169.254/metadata/instance/compute/userData?api-version=2021-01-01&format=text"

func (azure) Fetch(ctx context.Context, env *Env) ([]byte, error) {
	env.fill()
	src := get(env.endpoint(azureUserDataURL), resource.Header{Name: "Metadata", Value: "true"})
	src.RetryCodes = []int{404, 410, 429}
	b, err := env.Fetcher.FetchBytes(ctx, src, MaxConfigSize*4/3+4)
	if err != nil {
		return nil, fmt.Errorf("azure: fetching IMDS userData: %w", err)
	}
	if len(strings.TrimSpace(string(b))) > 0 {
		out, err := decodeBase64(b)
		if err != nil {
			return nil, fmt.Errorf("azure: IMDS userData: %w", err)
		}
		return nonEmpty(out)
	}
	env.Log.Info("azure: IMDS userData is empty, looking for OVF custom data")
	return fetchAzureOVF(ctx, env, []string{"udf"}, env.timeout("azure.ovf", 0))
}

// fetchAzureOVF polls for a disc of one of types carrying ovf-env.xml and
// returns its custom data (CustomData.bin, else the CustomData element of
// ovf-env.xml, base64). timeout 0: forever.
func fetchAzureOVF(ctx context.Context, env *Env, types []string, timeout time.Duration) ([]byte, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	logged := false
	for {
		devs, err := env.FindFSType(types...)
		if err != nil {
			return nil, err
		}
		for _, d := range devs {
			b, ok, err := readAzureOVF(ctx, env, d)
			if ok { // the provisioning disc: its answer is final
				return b, err
			}
			if err != nil {
				env.Log.Warn("azure: %s: %v", d, err)
			}
		}
		if !logged {
			env.Log.Info("azure: waiting for the OVF provisioning disc (%s)", strings.Join(types, " or "))
			logged = true
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("azure: no OVF provisioning disc found: %w", ctx.Err())
		case <-time.After(env.PollInterval):
		}
	}
}

// readAzureOVF mounts dev and reads the custom data; ok is false when dev
// is not a provisioning disc (no ovf-env.xml).
func readAzureOVF(ctx context.Context, env *Env, dev string) (data []byte, ok bool, err error) {
	dir, err := os.MkdirTemp("", "flint-ovf-")
	if err != nil {
		return nil, false, err
	}
	defer os.Remove(dir)
	if err := env.Mount(ctx, dev, dir, ""); err != nil {
		return nil, false, err
	}
	defer func() {
		if uerr := env.Unmount(ctx, dir); uerr != nil {
			err = errors.Join(err, uerr)
		}
	}()
	doc, err := readCapped(filepath.Join(dir, "ovf-env.xml"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	env.Log.Info("azure: found ovf-env.xml on %s", dev)
	b, err := readCapped(filepath.Join(dir, "CustomData.bin"))
	if err == nil {
		out, err := nonEmpty(b)
		return out, true, err
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, true, err
	}
	ovf, err := ParseAzureOVF(doc)
	if err != nil {
		return nil, true, err
	}
	if ovf.CustomData == "" {
		env.Log.Info("azure: no custom data")
		return nil, true, ErrNoConfig
	}
	out, err := decodeBase64([]byte(ovf.CustomData))
	if err != nil {
		return nil, true, fmt.Errorf("azure: custom data: %w", err)
	}
	out, err = nonEmpty(out)
	return out, true, err
}
