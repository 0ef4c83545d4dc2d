package providers

import (
	"context"
	"errors"
	"time"
)

// ibmcloud (VPC): the cidata drive's /user-data; when no drive appears
// within 30s the machine has no user config.
type ibmcloud struct{}

func (ibmcloud) Name() string { return "ibmcloud" }

func (ibmcloud) Fetch(ctx context.Context, env *Env) ([]byte, error) {
	env.fill()
	b, err := fetchDrive(ctx, env, noCloudDrive, env.timeout("ibmcloud.drive", 30*time.Second))
	if err != nil && errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		env.Log.Info("ibmcloud: no cidata drive appeared, continuing without user config")
		return nil, ErrNoConfig
	}
	return b, err
}
