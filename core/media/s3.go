package media

import (
	"context"
	"errors"
	"fmt"
	"github.com/agentgate/agentgate/internal/s3client"
	"io"
	"net/http"
	"os"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/agentgate/agentgate/core"
)

// S3Config configures an S3Store (AWS or S3-compatible: MinIO, R2, Ceph).
type S3Config struct {
	// Bucket is required; Prefix is prepended to every key ("media/").
	Bucket, Prefix string
	// Region defaults to us-east-1 when Endpoint is set, else to the
	// environment's.
	Region string
	// Endpoint is an S3-compatible service's URL (empty: AWS).
	Endpoint string
	// PathStyle addresses buckets as endpoint/bucket.
	PathStyle bool
	// Static credentials; empty takes the SDK's default chain.
	AccessKeyID, SecretAccessKey, SessionToken string
	// HTTPClient is the client the SDK uses (default: the SDK's).
	HTTPClient *http.Client
}

// S3Store keeps media as objects Prefix+<key> of a bucket.
type S3Store struct {
	cfg    S3Config
	client *s3.Client
}

// NewS3Store builds the store of cfg. It does not call the service.
func NewS3Store(ctx context.Context, cfg S3Config) (*S3Store, error) {
	if cfg.Bucket == "" {
		return nil, core.Errorf(core.CodeInvalid, "media s3 store: bucket is required")
	}
	if (cfg.AccessKeyID == "") != (cfg.SecretAccessKey == "") {
		return nil, core.Errorf(core.CodeInvalid, "media s3 store: give both access_key_id and secret_access_key, or neither")
	}
	client, err := s3client.New(ctx, s3client.Config{Region: cfg.Region, Endpoint: cfg.Endpoint, PathStyle: cfg.PathStyle,
		AccessKeyID: cfg.AccessKeyID, SecretAccessKey: cfg.SecretAccessKey, SessionToken: cfg.SessionToken, HTTPClient: cfg.HTTPClient},
		func(o *s3.Options) {
			// A ranged GET carries the whole object's checksum, which its
			// range cannot match: validate only where S3 requires it.
			o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		})
	if err != nil {
		return nil, fmt.Errorf("media s3 store: load the AWS configuration: %w", err)
	}
	return &S3Store{cfg: cfg, client: client}, nil
}

func (s *S3Store) object(key string) *string { return aws.String(s.cfg.Prefix + key) }

// missing reports whether err says the object (or bucket) is absent.
func missing(err error) bool {
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	var re *smithyhttp.ResponseError
	return errors.As(err, &nsk) || errors.As(err, &nf) || (errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound)
}

func s3Err(err error, what, key string) error {
	if missing(err) {
		return notFound(key)
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() >= 500 {
		return &core.Error{Code: core.CodeUnavailable, Message: "media store unavailable: " + what, Err: err}
	}
	return fmt.Errorf("media s3 store: %s %s: %w", what, key, err)
}

// Put implements Store. Over plain HTTP the SDK must read the body twice
// (to sign it), so a body that cannot seek is spooled to a temporary file.
func (s *S3Store) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if _, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.cfg.Bucket, Key: s.object(key)}); err == nil {
		return nil // stored once
	} else if !missing(err) {
		return s3Err(err, "check", key)
	}
	body, ok := r.(io.ReadSeeker)
	if !ok {
		tmp, err := os.CreateTemp("", "agentgate-media-*")
		if err != nil {
			return fmt.Errorf("media: %w", err)
		}
		defer os.Remove(tmp.Name())
		defer tmp.Close()
		if _, err := io.Copy(tmp, ctxReader{ctx, r}); err != nil {
			return err
		}
		if _, err := tmp.Seek(0, io.SeekStart); err != nil {
			return err
		}
		body = tmp
	}
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &s.cfg.Bucket, Key: s.object(key), Body: body, ContentLength: aws.Int64(size),
	})
	if err != nil {
		return s3Err(err, "put", key)
	}
	return nil
}

// Open implements Store: the object is read by ranged GETs from wherever
// the reader is sought to, so a range request costs only its range.
func (s *S3Store) Open(ctx context.Context, key string) (io.ReadSeekCloser, int64, error) {
	if !ValidKey(key) {
		return nil, 0, notFound(key)
	}
	head, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.cfg.Bucket, Key: s.object(key)})
	if err != nil {
		return nil, 0, s3Err(err, "open", key)
	}
	size := aws.ToInt64(head.ContentLength)
	return &s3Reader{ctx: ctx, s: s, key: key, size: size}, size, nil
}

// Delete implements Store.
func (s *S3Store) Delete(ctx context.Context, key string) error {
	if !ValidKey(key) {
		return nil
	}
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.cfg.Bucket, Key: s.object(key)})
	if err != nil && !missing(err) {
		return s3Err(err, "delete", key)
	}
	return nil
}

// s3Reader reads an object from pos, opening a ranged GET on the first
// Read after a Seek.
type s3Reader struct {
	ctx  context.Context
	s    *S3Store
	key  string
	size int64
	pos  int64
	body io.ReadCloser
}

func (r *s3Reader) Read(p []byte) (int, error) {
	if r.pos >= r.size {
		return 0, io.EOF
	}
	if r.body == nil {
		out, err := r.s.client.GetObject(r.ctx, &s3.GetObjectInput{
			Bucket: &r.s.cfg.Bucket, Key: r.s.object(r.key),
			Range: aws.String("bytes=" + strconv.FormatInt(r.pos, 10) + "-"),
		})
		if err != nil {
			return 0, s3Err(err, "read", r.key)
		}
		r.body = out.Body
	}
	n, err := r.body.Read(p)
	r.pos += int64(n)
	if err == io.EOF && r.pos < r.size {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func (r *s3Reader) Seek(off int64, whence int) (int64, error) {
	var to int64
	switch whence {
	case io.SeekStart:
		to = off
	case io.SeekCurrent:
		to = r.pos + off
	case io.SeekEnd:
		to = r.size + off
	default:
		return 0, errors.New("media: bad whence")
	}
	if to < 0 {
		return 0, errors.New("media: seek before the start")
	}
	if to != r.pos && r.body != nil {
		r.body.Close()
		r.body = nil
	}
	r.pos = to
	return to, nil
}

func (r *s3Reader) Close() error {
	if r.body != nil {
		return r.body.Close()
	}
	return nil
}
