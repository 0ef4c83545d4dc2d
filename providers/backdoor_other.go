//go:build !amd64

package providers

import (
	"context"
	"errors"
)

var errNoBackdoor = errors.New("vmware backdoor is only available on amd64")

type backdoorRPC struct{}

func vmwareBackdoorPresent() bool { return false }

func (backdoorRPC) Get(context.Context, string) (string, bool, error) {
	return "", false, errNoBackdoor
}
func (backdoorRPC) Set(context.Context, string, string) error        { return errNoBackdoor }
func (backdoorRPC) SetPrivate(context.Context, string, string) error { return errNoBackdoor }
