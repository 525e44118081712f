package agentgate

// The knowledge bases' config: embedders (OpenAI-compatible /v1/embeddings
// servers) and knowledge bases (id, embedder, chunking defaults, upload
// bound, URL rules), validated with the rest of the config.

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/agentgate/agentgate/core/knowledge"
	"github.com/agentgate/agentgate/core/knowledge/chunk"
)

// EmbedderConfig is one embedder: an OpenAI-compatible /v1/embeddings
// server (OpenAI, Ollama, vLLM, TEI, llama.cpp, LM Studio...).
type EmbedderConfig struct {
	// Provider is openai (the only one: any OpenAI-compatible server).
	Provider string `yaml:"provider"`
	// BaseURL is the API root, up to /v1 (default OpenAI's).
	BaseURL string `yaml:"base_url"`
	// APIKey (default OPENAI_API_KEY for OpenAI's own URL; ${ENV} works).
	APIKey string `yaml:"api_key"`
	// Model is the embedding model (required).
	Model string `yaml:"model"`
	// Dimensions is the length of the model's vectors (required).
	Dimensions int `yaml:"dimensions"`
	// SendDimensions asks the server for that length (OpenAI's
	// text-embedding-3 models can shorten their vectors).
	SendDimensions bool `yaml:"send_dimensions"`
	// BatchSize bounds the texts of one request (default 64).
	BatchSize int `yaml:"batch_size"`
	// MaxRetries of a request on 408/409/429/5xx, with backoff (default 3;
	// -1: none).
	MaxRetries int `yaml:"max_retries"`
	// Timeout bounds one request (default 60s).
	Timeout time.Duration `yaml:"timeout"`
}

// KnowledgeConfig is one knowledge base (/knowledge?knowledge_id=ID).
type KnowledgeConfig struct {
	ID          string `yaml:"id"`
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	// Embedder names one of embedders; empty: keyword search only.
	Embedder string `yaml:"embedder"`
	// Chunker is fixed, recursive (default) or markdown; ChunkSize and
	// ChunkOverlap its defaults (characters; a request may override them).
	Chunker      string `yaml:"chunker"`
	ChunkSize    int    `yaml:"chunk_size"`
	ChunkOverlap int    `yaml:"chunk_overlap"`
	// MaxUploadSize bounds one content ("32MiB" default; a bare number is
	// bytes). Uploads also stay under http.body_limit.
	MaxUploadSize string `yaml:"max_upload_size"`
	// AllowPrivateURLs lets URL ingestion reach private, loopback and
	// link-local addresses (refused by default; egress.allow also lets
	// chosen ones through).
	AllowPrivateURLs bool `yaml:"allow_private_urls"`
	// SearchType is the default of /knowledge/search: vector, keyword or
	// hybrid (default hybrid with an embedder, keyword without).
	SearchType string `yaml:"search_type"`
	// Sources are the base's remote content sources (S3 buckets, GitHub
	// repositories): POST /knowledge/remote-content ingests their files.
	Sources []KnowledgeSourceConfig `yaml:"sources"`
}

// KnowledgeSourceConfig is one remote content source of a knowledge base:
// exactly one of s3 and github.
type KnowledgeSourceConfig struct {
	// ID names the source (config_id of /knowledge/remote-content;
	// required, unique in the base); Name is shown in listings.
	ID     string              `yaml:"id"`
	Name   string              `yaml:"name"`
	S3     *S3SourceConfig     `yaml:"s3"`
	GitHub *GitHubSourceConfig `yaml:"github"`
}

// Type is "s3" or "github" ("" when neither block is set).
func (s KnowledgeSourceConfig) Type() string {
	switch {
	case s.S3 != nil:
		return "s3"
	case s.GitHub != nil:
		return "github"
	}
	return ""
}

// S3SourceConfig is an S3 (or S3-compatible: MinIO, R2, Ceph) bucket.
type S3SourceConfig struct {
	Bucket string `yaml:"bucket"`
	// Prefix is the source's root in the bucket.
	Prefix string `yaml:"prefix"`
	Region string `yaml:"region"`
	// Endpoint is an S3-compatible service's URL (empty: AWS).
	Endpoint string `yaml:"endpoint"`
	// PathStyle addresses buckets as endpoint/bucket.
	PathStyle bool `yaml:"path_style"`
	// AccessKeyID and SecretAccessKey (empty: the SDK's default chain).
	AccessKeyID     string `yaml:"access_key_id"`
	SecretAccessKey string `yaml:"secret_access_key"`
	SessionToken    string `yaml:"session_token"`
}

// GitHubSourceConfig is a GitHub repository.
type GitHubSourceConfig struct {
	// Repo is "owner/name" (required).
	Repo string `yaml:"repo"`
	// Branch (default: the repository's default branch) and Path (the
	// source's root in the repository).
	Branch string `yaml:"branch"`
	Path   string `yaml:"path"`
	// Token is sent as a bearer token (empty: public repositories only).
	Token string `yaml:"token"`
	// APIURL is the REST API's root (default https://api.github.com).
	APIURL string `yaml:"api_url"`
}

// validateSources checks one knowledge base's sources (p names the base).
func validateSources(p string, srcs []KnowledgeSourceConfig) []error {
	var errs []error
	seen := map[string]bool{}
	for i, s := range srcs {
		q := fmt.Sprintf("%s.sources[%d]", p, i)
		if s.ID == "" {
			errs = append(errs, fmt.Errorf("%s: id is required", q))
		} else {
			q += " (" + s.ID + ")"
			if seen[s.ID] {
				errs = append(errs, fmt.Errorf("%s: id is used twice", q))
			}
			seen[s.ID] = true
			if strings.ContainsAny(s.ID, "/?#% ") {
				errs = append(errs, fmt.Errorf("%s: id must not contain '/', '?', '#', '%%' or spaces", q))
			}
		}
		if (s.S3 == nil) == (s.GitHub == nil) {
			errs = append(errs, fmt.Errorf("%s: exactly one of s3 and github is required", q))
			continue
		}
		if c := s.S3; c != nil {
			if c.Bucket == "" {
				errs = append(errs, fmt.Errorf("%s: s3.bucket is required", q))
			}
			if (c.AccessKeyID == "") != (c.SecretAccessKey == "") {
				errs = append(errs, fmt.Errorf("%s: s3.access_key_id and s3.secret_access_key go together", q))
			}
			if c.Endpoint != "" {
				if u, err := url.Parse(c.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					errs = append(errs, fmt.Errorf("%s: s3.endpoint must be an http(s) URL, not %q", q, c.Endpoint))
				}
			}
		}
		if c := s.GitHub; c != nil {
			owner, repo, ok := strings.Cut(c.Repo, "/")
			if !ok || owner == "" || repo == "" || strings.Contains(repo, "/") {
				errs = append(errs, fmt.Errorf("%s: github.repo must be owner/name, not %q", q, c.Repo))
			}
			if c.APIURL != "" {
				if u, err := url.Parse(c.APIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					errs = append(errs, fmt.Errorf("%s: github.api_url must be an http(s) URL, not %q", q, c.APIURL))
				}
			}
		}
	}
	return errs
}

// validateKnowledge checks embedders and knowledge bases.
func (c *Config) validateKnowledge() []error {
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(c.Embedders)) {
		e := c.Embedders[name]
		p := "embedders." + name
		if e.Provider != "" && e.Provider != "openai" {
			errs = append(errs, fmt.Errorf("%s: provider must be openai (any OpenAI-compatible server), not %q", p, e.Provider))
		}
		if e.Model == "" {
			errs = append(errs, fmt.Errorf("%s: model is required", p))
		}
		if e.Dimensions <= 0 || e.Dimensions > 16000 {
			errs = append(errs, fmt.Errorf("%s: dimensions is required: the length of the model's vectors (1 to 16000)", p))
		}
		if e.BatchSize < 0 || e.BatchSize > 2048 {
			errs = append(errs, fmt.Errorf("%s: batch_size must be 1 to 2048 (0 takes the default, 64)", p))
		}
		if e.MaxRetries < -1 || e.Timeout < 0 {
			errs = append(errs, fmt.Errorf("%s: max_retries must be -1 or more and timeout not negative", p))
		}
	}
	chunkers := chunk.Default()
	seen := map[string]bool{}
	for i, k := range c.Knowledge {
		p := fmt.Sprintf("knowledge[%d]", i)
		if k.ID == "" {
			errs = append(errs, fmt.Errorf("%s: id is required", p))
			continue
		}
		p += " (" + k.ID + ")"
		if seen[k.ID] {
			errs = append(errs, fmt.Errorf("%s: id is used twice", p))
		}
		seen[k.ID] = true
		if k.Embedder != "" {
			if _, ok := c.Embedders[k.Embedder]; !ok {
				errs = append(errs, fmt.Errorf("%s: embedder %q is not declared under embedders", p, k.Embedder))
			}
		}
		if k.Chunker != "" {
			if _, err := chunkers.Get(k.Chunker); err != nil {
				errs = append(errs, fmt.Errorf("%s: chunker: %w (fixed, recursive or markdown)", p, err))
			}
		}
		if k.ChunkSize < 0 || k.ChunkOverlap < 0 || k.ChunkSize > 0 && k.ChunkOverlap >= k.ChunkSize {
			errs = append(errs, fmt.Errorf("%s: chunk_size must be positive and chunk_overlap below it", p))
		}
		if n, err := ParseSize(k.MaxUploadSize); err != nil || n < 0 {
			errs = append(errs, fmt.Errorf("%s: max_upload_size: %v", p, cmpErr(err, "must not be negative")))
		}
		errs = append(errs, validateSources(p, k.Sources)...)
		switch k.SearchType {
		case "", knowledge.SearchKeyword:
		case knowledge.SearchVector, knowledge.SearchHybrid:
			if k.Embedder == "" {
				errs = append(errs, fmt.Errorf("%s: search_type %s needs an embedder", p, k.SearchType))
			}
		default:
			errs = append(errs, fmt.Errorf("%s: search_type must be vector, keyword or hybrid, not %q", p, k.SearchType))
		}
	}
	return errs
}

func cmpErr(err error, msg string) error {
	if err != nil {
		return err
	}
	return errors.New(msg)
}
