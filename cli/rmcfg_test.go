package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestRmcfgRefusesOtherPlatforms(t *testing.T) {
	for _, id := range []string{"aws", "qemu", "metal", "ec2"} {
		var out, errb bytes.Buffer
		err := Run(context.Background(), []string{"flint", "rmcfg", "--platform", id}, nil, &out, &errb)
		if err == nil || ExitCode(err) != ExitFailure || !strings.Contains(errb.String(), "cannot delete config on this platform") {
			t.Errorf("%s: %v, stderr %q", id, err, errb.String())
		}
	}
	var out, errb bytes.Buffer
	for _, args := range [][]string{{"rmcfg"}, {"rmcfg", "--platform", "nosuch"}} {
		err := Run(context.Background(), append([]string{"flint"}, args...), nil, &out, &errb)
		if ExitCode(err) != ExitUsage {
			t.Errorf("%v: want a usage error, got %v", args, err)
		}
	}
}
