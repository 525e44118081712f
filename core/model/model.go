// Package model defines the small streaming interface every model provider
// implements (scripted, openai, anthropic) and the request and response
// types the built-in agent and team leaders exchange with them, and
// Stream, which makes one request of a run as its events.
package model

import (
	"context"
	"errors"
	"time"

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

// Stream makes one model request of a run as its events: ModelRequestStarted,
// each delta as ReasoningContentDelta or RunContent, then
// ModelRequestCompleted with the usage. info names the model in the events.
// The response's Usage carries the time to the first token. A failure to
// emit an event is returned as it is; the model's own failure is a
// model_error (unless the model named its error type, or ctx ended: then
// ctx's error).
func Stream(ctx context.Context, m Model, req Request, info core.ModelInfo, emit func(context.Context, core.Event) error) (*Response, error) {
	if err := emit(ctx, core.Event{Event: core.EventModelRequestStarted, Model: info.Model, ModelProvider: info.Provider}); err != nil {
		return nil, err
	}
	start := time.Now()
	var ttft float64
	var emitErr error // a failure to record an event is not the model's
	resp, err := m.Generate(ctx, req, func(d Delta) error {
		if ttft == 0 {
			ttft = time.Since(start).Seconds()
		}
		if d.Reasoning != "" {
			if emitErr = emit(ctx, core.Event{Event: core.EventReasoningContentDelta, ReasoningContent: d.Reasoning}); emitErr != nil {
				return emitErr
			}
		}
		if d.Content != "" {
			emitErr = emit(ctx, core.Event{Event: core.EventRunContent, Content: d.Content, ContentType: "str"})
		}
		return emitErr
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if emitErr != nil {
			return nil, emitErr
		}
		var ae *core.AgentError
		if errors.As(err, &ae) {
			return nil, err
		}
		return nil, &core.AgentError{Type: "model_error", Err: err}
	}
	u := &resp.Usage
	u.TimeToFirstToken = ttft
	if err := emit(ctx, core.Event{Event: core.EventModelRequestCompleted, Model: info.Model, ModelProvider: info.Provider,
		InputTokens: u.InputTokens, OutputTokens: u.OutputTokens, TotalTokens: u.TotalTokens, TimeToFirstToken: ttft}); err != nil {
		return nil, err
	}
	return resp, nil
}

// MediaAccepter is implemented by models that take some media natively (in
// a user message's Media, with Data loaded): an OpenAI-compatible model
// images, audio and PDFs, Anthropic images and PDFs. A model that is not
// one takes none: its documents reach it as text, and other media are an
// error of the run.
type MediaAccepter interface {
	AcceptsMedia(kind core.MediaKind, mimeType string) bool
}

// Accepts reports whether m takes a medium natively.
func Accepts(m Model, kind core.MediaKind, mimeType string) bool {
	a, ok := m.(MediaAccepter)
	return ok && a.AcceptsMedia(kind, mimeType)
}
