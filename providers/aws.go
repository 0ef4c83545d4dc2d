package providers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"

	"github.com/flintboot/flint/resource"
)

// aws (EC2): user data through the SDK's IMDS client — IMDSv2 session token
// first, IMDSv1 when the token endpoint answers 403/404/405. A 404 for the
// user data means none. Init also learns the region (S3 hint) and
// ConfigureFetcher hands the instance-role credentials to the fetcher for
// s3:// sources.
type aws struct {
	client *imds.Client
	region string
}

func (*aws) Name() string { return "aws" }

const awsIMDSEndpoint = "http://169.254.169.254"

// newIMDS builds the IMDS client: explicit endpoint (never read from the
// environment), enabled, v1 fallback, and a retryer shaped like the
// fetcher's (5xx and 429 retried, backoff capped at 5s, no retry quota;
// the context's deadline ends it).
func newIMDS(env *Env) *imds.Client {
	return imds.New(imds.Options{
		Endpoint:                 firstNonEmpty(env.MetadataBase, awsIMDSEndpoint),
		HTTPClient:               sdkHTTPClient(env),
		ClientEnableState:        imds.ClientEnabled,
		EnableFallback:           awssdk.TrueTernary,
		DisableDefaultMaxBackoff: true,
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = 1 << 20
			o.MaxBackoff = 5 * time.Second
			o.RateLimiter = ratelimit.None
			o.Retryables = append(append([]retry.IsErrorRetryable{}, o.Retryables...),
				retry.IsErrorRetryableFunc(func(err error) awssdk.Ternary {
					if httpStatus(err) == http.StatusTooManyRequests {
						return awssdk.TrueTernary
					}
					return awssdk.UnknownTernary
				}))
		}),
	})
}

func httpStatus(err error) int {
	var se interface{ HTTPStatusCode() int }
	if errors.As(err, &se) {
		return se.HTTPStatusCode()
	}
	return 0
}

func (a *aws) ensure(env *Env) {
	if a.client == nil {
		a.client = newIMDS(env)
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
	out, err := a.client.GetRegion(ctx, &imds.GetRegionInput{})
	if err != nil {
		env.Log.Warn("aws: could not determine the region, using us-east-1 for S3: %v", err)
		a.region = "us-east-1"
		return nil
	}
	a.region = out.Region
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
	ctx, cancel := withTotal(ctx, env)
	defer cancel()
	done := env.Log.Op("aws: fetching user data from IMDS")
	out, err := a.client.GetUserData(ctx, &imds.GetUserDataInput{})
	if err != nil {
		if httpStatus(err) == http.StatusNotFound {
			done(nil)
			env.Log.Info("aws: no user data (404)")
			return nil, ErrNoConfig
		}
		err = fmt.Errorf("aws: fetching user data: %w", err)
		if ctx.Err() != nil {
			err = fmt.Errorf("%w: %w", resource.ErrTimeout, err)
		}
		done(err)
		return nil, err
	}
	defer out.Content.Close()
	b, err := io.ReadAll(io.LimitReader(out.Content, MaxConfigSize+1))
	if err != nil {
		done(err)
		return nil, fmt.Errorf("aws: reading user data: %w", err)
	}
	if len(b) > MaxConfigSize {
		err := fmt.Errorf("aws: user data is larger than %d bytes: %w", MaxConfigSize, resource.ErrTooLarge)
		done(err)
		return nil, err
	}
	done(nil)
	return nonEmpty(b)
}

// ConfigureFetcher gives the fetcher the instance-role credentials (cached;
// the fetcher falls back to anonymous when none can be had) and the region
// hint for S3 buckets.
func (a *aws) ConfigureFetcher(ctx context.Context, env *Env, opts *resource.Options) error {
	env.fill()
	a.ensure(env)
	opts.AWSCredentials = AWSRoleCredentials(a.client)
	if a.region != "" {
		opts.S3RegionHint = a.region
	}
	return nil
}

// AWSRoleCredentials returns cached EC2 instance-role credentials read
// through client.
func AWSRoleCredentials(client *imds.Client) awssdk.CredentialsProvider {
	return awssdk.NewCredentialsCache(ec2rolecreds.New(func(o *ec2rolecreds.Options) { o.Client = client }))
}
