package providers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/flintboot/flint/resource"
)

// aws (EC2): user data from the instance metadata service (IMDSv2 session
// token first, IMDSv1 when the token endpoint answers 403/404/405; see
// imds.go). A 404 for the user data means none. Init also learns the
// region (S3 hint) and ConfigureFetcher hands the instance-role
// credentials to the fetcher for s3:// and arn: sources.
type aws struct {
	client *imds
	region string
}

func (*aws) Name() string { return "aws" }

const awsIMDSEndpoint = "http://169.254.169.254"

func (a *aws) ensure(env *Env) {
	if a.client == nil {
		a.client = &imds{env: env}
	}
}

// Init looks up the region (15s limit; default us-east-1) for S3.
func (a *aws) Init(ctx context.Context, env *Env) error {
	env.fill()
	if env.Fetcher.Options().Offline {
		return fmt.Errorf("aws: %w", ErrNeedNet)
	}
	a.ensure(env)
	ctx, cancel := context.WithTimeout(ctx, env.timeout("aws.region", 15*time.Second))
	defer cancel()
	r, err := a.client.region(ctx)
	if err != nil {
		env.Log.Warn("aws: could not determine the region, using us-east-1 for S3: %v", err)
		a.region = "us-east-1"
		return nil
	}
	a.region = r
	env.Log.Info("aws: region %s", a.region)
	return nil
}

// Region is the region found by Init ("" before).
func (a *aws) Region() string { return a.region }

func (a *aws) Fetch(ctx context.Context, env *Env) ([]byte, error) {
	env.fill()
	if env.Fetcher.Options().Offline {
		return nil, fmt.Errorf("aws: %w", ErrNeedNet)
	}
	a.ensure(env)
	done := env.Log.Op("aws: fetching user data from IMDS")
	b, err := a.client.get(ctx, "/latest/user-data", MaxConfigSize)
	switch {
	case errors.Is(err, resource.ErrNotFound):
		done(nil)
		env.Log.Info("aws: no user data (404)")
		return nil, ErrNoConfig
	case errors.Is(err, resource.ErrTooLarge):
		err = fmt.Errorf("aws: user data is larger than %d bytes: %w", MaxConfigSize, err)
	case err != nil:
		err = fmt.Errorf("aws: fetching user data: %w", err)
	}
	done(err)
	if err != nil {
		return nil, err
	}
	return nonEmpty(b)
}

// ConfigureFetcher gives the fetcher the instance-role credentials (cached;
// the fetcher falls back to anonymous when none can be had) and the region
// hint for S3 buckets.
func (a *aws) ConfigureFetcher(ctx context.Context, env *Env, opts *resource.Options) error {
	env.fill()
	a.ensure(env)
	opts.AWSCredentials = (&roleCredentials{m: a.client}).get
	if a.region != "" {
		opts.S3RegionHint = a.region
	}
	return nil
}
