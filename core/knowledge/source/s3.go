package source

import (
	"context"
	"errors"
	"github.com/agentgate/agentgate/internal/s3client"
	"io"
	"net/http"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/knowledge"
)

// S3Config configures an S3 (or S3-compatible: MinIO, R2, Ceph...) source.
type S3Config struct {
	// ID and Name name the source in /knowledge/{id}/sources (ID
	// defaults to "s3-<bucket>", Name to the bucket).
	ID, Name string
	// Bucket is required; Prefix is the source's root in it.
	Bucket, Prefix string
	// Region defaults to us-east-1 when Endpoint is set (S3-compatible
	// services ignore it), else to the environment's (AWS_REGION...).
	Region string
	// Endpoint is an S3-compatible service's URL (empty: AWS).
	Endpoint string
	// PathStyle addresses buckets as endpoint/bucket (what most
	// S3-compatible services need) instead of bucket.endpoint.
	PathStyle bool
	// AccessKeyID and SecretAccessKey (and SessionToken) are static
	// credentials; empty takes the SDK's default chain (environment,
	// shared files, instance roles).
	AccessKeyID, SecretAccessKey, SessionToken string
	// HTTPClient is the client the SDK uses (default: the SDK's).
	HTTPClient *http.Client
}

// S3 is a source on an S3 bucket.
type S3 struct {
	cfg    S3Config
	client *s3.Client
}

var _ knowledge.Source = (*S3)(nil)

// NewS3 builds the source of cfg. It does not call the service.
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	if cfg.Bucket == "" {
		return nil, invalid("s3 source: bucket is required")
	}
	if (cfg.AccessKeyID == "") != (cfg.SecretAccessKey == "") {
		return nil, invalid("s3 source %q: give both access_key_id and secret_access_key, or neither", cfg.Bucket)
	}
	if cfg.ID == "" {
		cfg.ID = "s3-" + cfg.Bucket
	}
	if cfg.Name == "" {
		cfg.Name = cfg.Bucket
	}
	client, err := s3client.New(ctx, s3client.Config{Region: cfg.Region, Endpoint: cfg.Endpoint, PathStyle: cfg.PathStyle,
		AccessKeyID: cfg.AccessKeyID, SecretAccessKey: cfg.SecretAccessKey, SessionToken: cfg.SessionToken, HTTPClient: cfg.HTTPClient})
	if err != nil {
		return nil, errorf(err, "s3 source %q: load the AWS configuration", cfg.Bucket)
	}
	return &S3{cfg: cfg, client: client}, nil
}

func (s *S3) ID() string     { return s.cfg.ID }
func (s *S3) Name() string   { return s.cfg.Name }
func (s *S3) Type() string   { return "s3" }
func (s *S3) Prefix() string { return s.cfg.Prefix }

// s3Err classifies an SDK error: a missing key or bucket is not found, a
// refused credential forbidden, anything else unavailable.
func s3Err(err error, what string) error {
	var nsk *types.NoSuchKey
	var nsb *types.NoSuchBucket
	var re *smithyhttp.ResponseError
	switch {
	case errors.As(err, &nsk), errors.As(err, &nsb):
		return &core.Error{Code: core.CodeNotFound, Message: what + ": not found", Err: err}
	case errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound:
		return &core.Error{Code: core.CodeNotFound, Message: what + ": not found", Err: err}
	case errors.As(err, &re) && (re.HTTPStatusCode() == http.StatusForbidden || re.HTTPStatusCode() == http.StatusUnauthorized):
		return &core.Error{Code: core.CodeForbidden, Message: what + ": the storage refused the credentials", Err: err}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return &core.Error{Code: core.CodeUnavailable, Message: what + ": the storage could not be reached", Err: err}
}

// List lists one level under the root + prefix.
func (s *S3) List(ctx context.Context, prefix, delimiter string, limit, page int) ([]string, []knowledge.RemoteFile, int, error) {
	limit, page = paging(limit, page)
	full := joinRoot(s.cfg.Prefix, prefix)
	in := &s3.ListObjectsV2Input{Bucket: aws.String(s.cfg.Bucket), Prefix: aws.String(full)}
	if delimiter != "" {
		in.Delimiter = aws.String(delimiter)
	}
	folders := []string{}
	var files []knowledge.RemoteFile
	p := s3.NewListObjectsV2Paginator(s.client, in)
	for p.HasMorePages() && len(folders)+len(files) < MaxListed {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, nil, 0, s3Err(err, "s3 bucket "+s.cfg.Bucket+": list "+full)
		}
		for _, cp := range out.CommonPrefixes {
			folders = append(folders, aws.ToString(cp.Prefix))
		}
		for _, o := range out.Contents {
			key := aws.ToString(o.Key)
			if strings.HasSuffix(key, "/") && aws.ToInt64(o.Size) == 0 {
				continue // a folder marker
			}
			f := knowledge.RemoteFile{Key: key, Name: path.Base(key), Size: aws.ToInt64(o.Size), ContentType: contentType(key)}
			if o.LastModified != nil {
				f.LastModified = o.LastModified.UTC().Format(time.RFC3339)
			}
			files = append(files, f)
		}
	}
	sort.Strings(folders)
	sort.Slice(files, func(i, j int) bool { return files[i].Key < files[j].Key })
	total := len(files)
	start := min((page-1)*limit, total)
	end := min(start+limit, total)
	return folders, append([]knowledge.RemoteFile{}, files[start:end]...), total, nil
}

// Open opens the object key (a key List answered).
func (s *S3) Open(ctx context.Context, key string) (io.ReadCloser, knowledge.RemoteFile, error) {
	if !within(s.cfg.Prefix, key) {
		return nil, knowledge.RemoteFile{}, notFound("s3 bucket "+s.cfg.Bucket, key)
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(key)})
	if err != nil {
		return nil, knowledge.RemoteFile{}, s3Err(err, "s3 bucket "+s.cfg.Bucket+": "+key)
	}
	f := knowledge.RemoteFile{Key: key, Name: path.Base(key), Size: aws.ToInt64(out.ContentLength), ContentType: aws.ToString(out.ContentType)}
	if f.ContentType == "" || f.ContentType == "binary/octet-stream" || f.ContentType == "application/octet-stream" {
		if t := contentType(key); t != "" {
			f.ContentType = t
		}
	}
	if out.LastModified != nil {
		f.LastModified = out.LastModified.UTC().Format(time.RFC3339)
	}
	return out.Body, f, nil
}
