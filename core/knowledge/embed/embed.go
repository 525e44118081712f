// Package embed holds the embedders of knowledge ingestion and search
// (knowledge.Embedder): OpenAI-compatible /v1/embeddings servers (OpenAI,
// Ollama, vLLM, TEI, llama.cpp...) through the official openai-go SDK,
// batched and retried with backoff on 408/409/429/5xx (the SDK's retry,
// which honours Retry-After).
package embed

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/agentgate/agentgate/core"
)

// Defaults of Config.
const (
	DefaultBatchSize  = 64
	DefaultMaxRetries = 3
	DefaultTimeout    = 60 * time.Second
	// MaxBatchSize is the most inputs one request carries (OpenAI's limit
	// is 2048).
	MaxBatchSize = 2048
)

// Config configures an OpenAI-compatible embedder.
type Config struct {
	// ID names the embedder (the config's key).
	ID string
	// BaseURL is the API's base, up to and including /v1
	// (default https://api.openai.com/v1).
	BaseURL string
	// APIKey is sent as a bearer token (local servers take any).
	APIKey string
	// Model is the embedding model (required).
	Model string
	// Dimensions is the vectors' length (required): sent to the server as
	// dimensions when SendDimensions, and checked on every answer.
	Dimensions int
	// SendDimensions sends dimensions in the request (OpenAI's
	// text-embedding-3 models shorten their vectors to it; many servers
	// refuse the field).
	SendDimensions bool
	// BatchSize bounds the texts of one request (default 64).
	BatchSize int
	// MaxRetries is the retries of one request on 408/409/429/5xx and
	// connection errors, with exponential backoff (default 3; negative:
	// none).
	MaxRetries int
	// Timeout bounds one request attempt (default 60s).
	Timeout time.Duration
	// HTTPClient makes the calls (default the SDK's).
	HTTPClient *http.Client
}

// OpenAI is an embedder speaking OpenAI's /v1/embeddings.
type OpenAI struct {
	cfg    Config
	client openai.Client
}

// New checks cfg and returns the embedder.
func New(cfg Config) (*OpenAI, error) {
	var errs []error
	if strings.TrimSpace(cfg.Model) == "" {
		errs = append(errs, errors.New("model is required"))
	}
	if cfg.Dimensions <= 0 {
		errs = append(errs, errors.New("dimensions must be positive (the length of the model's vectors)"))
	}
	if cfg.BatchSize < 0 || cfg.BatchSize > MaxBatchSize {
		errs = append(errs, fmt.Errorf("batch_size must be between 1 and %d (0 takes the default, %d)", MaxBatchSize, DefaultBatchSize))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("embedder %q: %w", cfg.ID, err)
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = "https://api.openai.com/v1"
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	switch {
	case cfg.MaxRetries == 0:
		cfg.MaxRetries = DefaultMaxRetries
	case cfg.MaxRetries < 0:
		cfg.MaxRetries = 0
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	opts := []option.RequestOption{
		option.WithBaseURL(cfg.BaseURL),
		option.WithAPIKey(cfg.APIKey),
		option.WithMaxRetries(cfg.MaxRetries),
		option.WithRequestTimeout(cfg.Timeout),
	}
	if cfg.HTTPClient != nil {
		opts = append(opts, option.WithHTTPClient(cfg.HTTPClient))
	}
	return &OpenAI{cfg: cfg, client: openai.NewClient(opts...)}, nil
}

// ID implements knowledge.Embedder.
func (e *OpenAI) ID() string { return e.cfg.ID }

// Dimensions implements knowledge.Embedder.
func (e *OpenAI) Dimensions() int { return e.cfg.Dimensions }

// Model is the embedding model.
func (e *OpenAI) Model() string { return e.cfg.Model }

// Embed implements knowledge.Embedder: one vector per text, in order,
// in batches of BatchSize.
func (e *OpenAI) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, 0, len(texts))
	for start := 0; start < len(texts); start += e.cfg.BatchSize {
		end := min(start+e.cfg.BatchSize, len(texts))
		vecs, err := e.batch(ctx, texts[start:end])
		if err != nil {
			return nil, err
		}
		out = append(out, vecs...)
	}
	return out, nil
}

func (e *OpenAI) batch(ctx context.Context, texts []string) ([][]float32, error) {
	// An empty input is refused by OpenAI: a blank text is sent as one
	// space (its vector is as meaningless as the text).
	in := make([]string, len(texts))
	for i, t := range texts {
		if strings.TrimSpace(t) == "" {
			t = " "
		}
		in[i] = t
	}
	p := openai.EmbeddingNewParams{
		Input:          openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: in},
		Model:          openai.EmbeddingModel(e.cfg.Model),
		EncodingFormat: openai.EmbeddingNewParamsEncodingFormatFloat,
	}
	if e.cfg.SendDimensions {
		p.Dimensions = openai.Int(int64(e.cfg.Dimensions))
	}
	res, err := e.client.Embeddings.New(ctx, p)
	if err != nil {
		return nil, e.wrap(err)
	}
	if len(res.Data) != len(texts) {
		return nil, core.Errorf(core.CodeUnavailable, "embedder %q: the server answered %d embeddings for %d inputs", e.cfg.ID, len(res.Data), len(texts))
	}
	out := make([][]float32, len(texts))
	for _, d := range res.Data {
		idx := int(d.Index)
		if idx < 0 || idx >= len(texts) || out[idx] != nil {
			return nil, core.Errorf(core.CodeUnavailable, "embedder %q: the server answered a bad or repeated index %d", e.cfg.ID, d.Index)
		}
		if len(d.Embedding) != e.cfg.Dimensions {
			return nil, core.Errorf(core.CodeUnavailable, "embedder %q: model %q answered vectors of %d dimensions, the config says %d (set dimensions to match the model)",
				e.cfg.ID, e.cfg.Model, len(d.Embedding), e.cfg.Dimensions)
		}
		v := make([]float32, len(d.Embedding))
		for j, x := range d.Embedding {
			v[j] = float32(x)
		}
		out[idx] = v
	}
	return out, nil
}

// wrap makes the SDK's error a clear one: the status and the server's
// message, naming the embedder.
func (e *OpenAI) wrap(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("embedder %q: %w", e.cfg.ID, err)
	}
	var apiErr *openai.Error
	if errors.As(err, &apiErr) {
		msg := strings.TrimSpace(apiErr.Message)
		if msg == "" {
			msg = http.StatusText(apiErr.StatusCode)
		}
		return core.Errorf(core.CodeUnavailable, "embedder %q: %s answered %d: %s", e.cfg.ID, e.cfg.BaseURL, apiErr.StatusCode, truncate(msg, 300))
	}
	return core.Errorf(core.CodeUnavailable, "embedder %q: cannot reach %s: %v", e.cfg.ID, e.cfg.BaseURL, err)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
