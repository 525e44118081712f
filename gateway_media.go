package agentgate

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"time"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/media"
	"github.com/agentgate/agentgate/storage"
)

// MediaConfig is the media block: where the files, images, audio and video
// of runs are kept, and how large they may be.
type MediaConfig struct {
	// Dir is the directory of the media store (default: "media" next to
	// the SQLite file; with Postgres, ./agentgate-media — set a shared
	// directory or s3 when several replicas serve).
	Dir string `yaml:"dir"`
	// S3, when its bucket is set, keeps media in S3-compatible object
	// storage instead (what replicas share).
	S3 MediaS3Config `yaml:"s3"`
	// MaxFileBytes bounds one medium (default 20 MiB); MaxRunBytes all of
	// one run's (default 4 × max_file_bytes); MaxImagePixels an image's
	// width × height (default 50 million).
	MaxFileBytes   int64 `yaml:"max_file_bytes"`
	MaxRunBytes    int64 `yaml:"max_run_bytes"`
	MaxImagePixels int64 `yaml:"max_image_pixels"`
}

// MediaS3Config is the media block's S3 bucket.
type MediaS3Config struct {
	Bucket          string `yaml:"bucket"`
	Prefix          string `yaml:"prefix"`
	Region          string `yaml:"region"`
	Endpoint        string `yaml:"endpoint"`
	PathStyle       bool   `yaml:"path_style"`
	AccessKeyID     string `yaml:"access_key_id"`
	SecretAccessKey string `yaml:"secret_access_key"`
}

// Validate checks the block.
func (c MediaConfig) Validate() error {
	var errs []error
	if c.MaxFileBytes < 0 || c.MaxRunBytes < 0 || c.MaxImagePixels < 0 {
		errs = append(errs, errors.New("media: max_file_bytes, max_run_bytes and max_image_pixels must not be negative (0 takes the default)"))
	}
	if c.MaxRunBytes > 0 && c.MaxFileBytes > c.MaxRunBytes {
		errs = append(errs, fmt.Errorf("media: max_file_bytes (%d) is over max_run_bytes (%d)", c.MaxFileBytes, c.MaxRunBytes))
	}
	if c.S3.Bucket == "" && (c.S3.Endpoint != "" || c.S3.AccessKeyID != "" || c.S3.Prefix != "") {
		errs = append(errs, errors.New("media.s3: bucket is required"))
	}
	if (c.S3.AccessKeyID == "") != (c.S3.SecretAccessKey == "") {
		errs = append(errs, errors.New("media.s3: give both access_key_id and secret_access_key, or neither"))
	}
	if c.S3.Bucket != "" && c.Dir != "" {
		errs = append(errs, errors.New("media: set dir or s3, not both"))
	}
	return errors.Join(errs...)
}

// limits are the block's limits for core/media.
func (c MediaConfig) limits() media.Limits {
	return media.Limits{MaxBytes: c.MaxFileBytes, MaxPixels: c.MaxImagePixels}
}

// openMedia opens the media store the config names.
func (g *Gateway) openMedia(ctx context.Context, sqlitePath string) error {
	c := g.cfg.Media
	if c.S3.Bucket != "" {
		st, err := media.NewS3Store(ctx, media.S3Config{Bucket: c.S3.Bucket, Prefix: c.S3.Prefix, Region: c.S3.Region,
			Endpoint: c.S3.Endpoint, PathStyle: c.S3.PathStyle, AccessKeyID: c.S3.AccessKeyID, SecretAccessKey: c.S3.SecretAccessKey})
		if err != nil {
			return err
		}
		g.media = st
		g.logger.Info("media store: S3", "bucket", c.S3.Bucket, "prefix", c.S3.Prefix)
		return nil
	}
	dir := c.Dir
	switch {
	case dir != "":
	case sqlitePath != "":
		dir = filepath.Join(filepath.Dir(sqlitePath), "media")
	default:
		dir = "agentgate-media"
		if storage.Kind(g.cfg.DatabaseURL) == storage.Postgres {
			g.logger.Warn("media store: a local directory while the state is in Postgres; replicas do not share it: set media.s3 or a shared media.dir", "dir", dir)
		}
	}
	st, err := media.NewDirStore(dir)
	if err != nil {
		return err
	}
	g.media = st
	return nil
}

// mediaFetchTimeout bounds the download of a medium sent as a URL.
const mediaFetchTimeout = 30 * time.Second

// mediaClient fetches media sent as URLs through the egress guard:
// private, loopback and link-local addresses are refused unless
// egress.allow lets them through.
func (g *Gateway) mediaClient() *http.Client {
	if g.egress == nil {
		return nil
	}
	return g.egress.Client(mediaFetchTimeout)
}

// mediaResolver stores the media runs are sent, for the interfaces.
func (g *Gateway) mediaResolver() *media.Resolver {
	if g.media == nil {
		return nil
	}
	return &media.Resolver{Store: g.media, Client: g.mediaClient(), Limits: g.cfg.Media.limits(), MaxRunBytes: g.cfg.Media.MaxRunBytes}
}

// ingestMedia stores a medium a tool returned, checked as an upload is.
func (g *Gateway) ingestMedia(ctx context.Context, name, mimeType string, data []byte) (core.MediaRef, error) {
	if g.media == nil {
		return core.MediaRef{}, errors.New("the gateway keeps no media")
	}
	return media.IngestBytes(ctx, g.media, data, name, mimeType, g.cfg.Media.limits())
}
