// Package model defines the small streaming interface every model provider
// implements (scripted, openai, anthropic) and the request and response
// types the built-in agent exchanges with them.
package model

import (
	"context"

	"github.com/agentgate/agentgate/core"
)

// Model is one configured model. Generate may be called concurrently.
type Model interface {
	// Provider names the provider ("scripted", "openai", ...).
	Provider() string
	// ID is the provider's model id.
	ID() string
	// Generate sends the conversation and streams the reply: onDelta is
	// called for each piece of text (and reasoning) as it arrives; the
	// complete response, including any tool calls, is returned at the end.
	// If onDelta returns an error, Generate stops and returns it.
	Generate(ctx context.Context, req Request, onDelta func(Delta) error) (*Response, error)
}

// Request is one model request.
type Request struct {
	Messages []core.Message
	Tools    []core.ToolInfo
}

// Delta is a streamed piece of the reply.
type Delta struct {
	Content   string
	Reasoning string
}

// Response is a complete model reply.
type Response struct {
	Content   string
	ToolCalls []core.ToolCall
	Usage     core.Metrics
}
