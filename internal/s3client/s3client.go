// Package s3client builds the AWS SDK v2 S3 client of a bucket on AWS or
// an S3-compatible service (MinIO, R2, Ceph), for the packages that read
// or keep objects: knowledge sources (core/knowledge/source) and the
// media store (core/media). Validating the bucket and credentials, and
// what the objects mean, stay with those packages.
package s3client

import (
	"context"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Config is where the client connects and as whom.
type Config struct {
	// Region defaults to us-east-1 when Endpoint is set (S3-compatible
	// services ignore it), else to the environment's (AWS_REGION...).
	Region string
	// Endpoint is an S3-compatible service's URL (empty: AWS).
	Endpoint string
	// PathStyle addresses buckets as endpoint/bucket.
	PathStyle bool
	// Static credentials; empty takes the SDK's default chain
	// (environment, shared files, instance roles).
	AccessKeyID, SecretAccessKey, SessionToken string
	// HTTPClient is the client the SDK uses (default: the SDK's).
	HTTPClient *http.Client
}

// New builds the client of cfg; more adjusts its options. It does not
// call the service.
func New(ctx context.Context, cfg Config, more ...func(*s3.Options)) (*s3.Client, error) {
	region := cfg.Region
	if region == "" && cfg.Endpoint != "" {
		region = "us-east-1"
	}
	var opts []func(*config.LoadOptions) error
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	if cfg.AccessKeyID != "" {
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, cfg.SessionToken)))
	}
	if cfg.HTTPClient != nil {
		opts = append(opts, config.WithHTTPClient(cfg.HTTPClient))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, err
	}
	return s3.NewFromConfig(awsCfg, append([]func(*s3.Options){func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
	}}, more...)...), nil
}
