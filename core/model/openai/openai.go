// Package openai is the model provider for OpenAI's chat completions API
// and every server that speaks it (Ollama, vLLM, llama.cpp server, LM
// Studio, OpenRouter), on the official openai-go SDK.
package openai

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/agentgate/agentgate/core/model"
)

// Config configures one model.
type Config struct {
	// Model is the model id sent to the server (required).
	Model string
	// BaseURL is the API root, e.g. http://127.0.0.1:11434/v1 (default
	// https://api.openai.com/v1).
	BaseURL string
	// APIKey is the bearer key; empty reads OPENAI_API_KEY. Local servers
	// that need none accept any value.
	APIKey string
	// Timeout bounds one request including its streamed body (default 120s).
	Timeout time.Duration
	// MaxRetries is how often a request failing with 408/409/429/5xx or a
	// connection error is retried, with backoff honouring Retry-After
	// (default 2; negative: none).
	MaxRetries int
	// MaxTokens caps the completion (0: server default).
	MaxTokens int64
	// Temperature, when set, is sent.
	Temperature *float64
	// Headers are added to every request.
	Headers map[string]string
	// HTTPClient replaces the default client (tests).
	HTTPClient *http.Client
}

// Model is an OpenAI-compatible chat model. It is safe for concurrent use.
type Model struct {
	cfg Config
}

// New returns the model.
func New(cfg Config) (*Model, error) {
	return nil, errors.New("openai: not implemented yet")
}

// Provider implements model.Model.
func (m *Model) Provider() string { return "openai" }

// ID implements model.Model.
func (m *Model) ID() string { return m.cfg.Model }

// Generate implements model.Model.
func (m *Model) Generate(ctx context.Context, req model.Request, onDelta func(model.Delta) error) (*model.Response, error) {
	return nil, errors.New("openai: not implemented yet")
}

var _ model.Model = (*Model)(nil)
