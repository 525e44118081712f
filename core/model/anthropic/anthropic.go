// Package anthropic is the model provider for Anthropic's Messages API on
// the official anthropic-sdk-go SDK.
package anthropic

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/agentgate/agentgate/core/model"
)

// Config configures one model.
type Config struct {
	// Model is the model id (required), e.g. claude-sonnet-4-5.
	Model string
	// BaseURL is the API root (default https://api.anthropic.com).
	BaseURL string
	// APIKey is the x-api-key; empty reads ANTHROPIC_API_KEY.
	APIKey string
	// Timeout bounds one request including its streamed body (default 120s).
	Timeout time.Duration
	// MaxRetries is how often a request failing with 408/409/429/5xx/529
	// or a connection error is retried, with backoff honouring Retry-After
	// (default 2; negative: none).
	MaxRetries int
	// MaxTokens caps the reply (required by the API; default 4096).
	MaxTokens int64
	// Temperature, when set, is sent.
	Temperature *float64
	// ThinkingBudget > 0 turns on extended thinking with that many budget
	// tokens; thinking deltas become ReasoningContentDelta events.
	ThinkingBudget int64
	// Headers are added to every request.
	Headers map[string]string
	// HTTPClient replaces the default client (tests).
	HTTPClient *http.Client
}

// Model is an Anthropic model. It is safe for concurrent use.
type Model struct {
	cfg Config
}

// New returns the model.
func New(cfg Config) (*Model, error) {
	return nil, errors.New("anthropic: not implemented yet")
}

// Provider implements model.Model.
func (m *Model) Provider() string { return "anthropic" }

// ID implements model.Model.
func (m *Model) ID() string { return m.cfg.Model }

// Generate implements model.Model.
func (m *Model) Generate(ctx context.Context, req model.Request, onDelta func(model.Delta) error) (*model.Response, error) {
	return nil, errors.New("anthropic: not implemented yet")
}

var _ model.Model = (*Model)(nil)
