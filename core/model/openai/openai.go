// Package openai is the model provider for OpenAI's chat completions API
// and every server that speaks it (Ollama, vLLM, llama.cpp server, LM
// Studio, OpenRouter). Requests go through the official openai-go SDK
// (auth, headers, retries honouring Retry-After, error answers); the
// streamed reply is read by the provider itself (stream.go), which decodes
// each chunk into the few fields it uses.
//
// Requests are always streamed (stream:true with
// stream_options.include_usage, so the final chunk carries the token
// usage). Text deltas are passed on as they arrive; reasoning that
// compatible servers stream in the non-standard delta fields
// reasoning_content (DeepSeek, vLLM) or reasoning (Ollama, OpenRouter) is
// passed on as model.Delta.Reasoning. Tool calls, streamed as fragments
// keyed by index, are reassembled and returned in index order.
//
// Tool call arguments: empty arguments become {}. Arguments that are not
// valid JSON (a model's mistake, or a reply cut off by max_tokens) are not
// an error of the request: the call is returned with Arguments holding the
// text encoded as a JSON string (e.g. "{\"expression\": \"1+"), so the
// tool's argument decoding fails and the model is told so through the
// tool's error result.
package openai

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/model"
)

// DefaultBaseURL is the API root used when Config.BaseURL is empty.
const DefaultBaseURL = "https://api.openai.com/v1"

// placeholderKey is sent when no key is configured, so servers that need
// none (Ollama, llama.cpp, vLLM without --api-key) work.
const placeholderKey = "agentgate-no-key"

// Config configures one model.
type Config struct {
	// Model is the model id sent to the server (required).
	Model string
	// BaseURL is the API root, e.g. http://127.0.0.1:11434/v1 (default
	// https://api.openai.com/v1). The OPENAI_BASE_URL environment variable
	// is not consulted.
	BaseURL string
	// APIKey is the bearer key; empty reads OPENAI_API_KEY. Local servers
	// that need none accept any value: with neither set, a placeholder is
	// sent.
	APIKey string
	// Timeout bounds one request including its streamed body (default
	// 120s). It applies to each attempt; the waits between retries are
	// bounded only by the caller's context.
	Timeout time.Duration
	// MaxRetries is how often a request failing with 408/409/429/5xx or a
	// connection error is retried, with backoff honouring Retry-After
	// (default 2; negative: none). A request whose stream has started is
	// never retried.
	MaxRetries int
	// MaxTokens caps the completion (0: server default). It is sent as
	// max_tokens, which OpenAI still accepts for chat models and which
	// Ollama, vLLM, llama.cpp and LM Studio understand (not all of them
	// know max_completion_tokens).
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
	cfg    Config
	client openai.Client
}

// New returns the model.
func New(cfg Config) (*Model, error) {
	if strings.TrimSpace(cfg.Model) == "" {
		return nil, errors.New("openai: a model id is required")
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("openai: invalid base URL %q: want http(s)://host[:port]/path", cfg.BaseURL)
	}
	if cfg.APIKey == "" {
		cfg.APIKey = os.Getenv("OPENAI_API_KEY")
	}
	if cfg.APIKey == "" {
		cfg.APIKey = placeholderKey
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 120 * time.Second
	}
	switch {
	case cfg.MaxRetries == 0:
		cfg.MaxRetries = 2
	case cfg.MaxRetries < 0:
		cfg.MaxRetries = 0
	}
	opts := []option.RequestOption{
		option.WithBaseURL(cfg.BaseURL),
		option.WithAPIKey(cfg.APIKey),
		option.WithMaxRetries(cfg.MaxRetries),
		option.WithRequestTimeout(cfg.Timeout),
		option.WithMiddleware(normalizeErrorBody),
	}
	for k, v := range cfg.Headers {
		opts = append(opts, option.WithHeader(k, v))
	}
	if cfg.HTTPClient != nil {
		opts = append(opts, option.WithHTTPClient(cfg.HTTPClient))
	}
	return &Model{cfg: cfg, client: openai.NewClient(opts...)}, nil
}

// Provider implements model.Model.
func (m *Model) Provider() string { return "openai" }

// ID implements model.Model.
func (m *Model) ID() string { return m.cfg.Model }

// Generate implements model.Model.
func (m *Model) Generate(ctx context.Context, req model.Request, onDelta func(model.Delta) error) (*model.Response, error) {
	params, err := m.params(req)
	if err != nil {
		return nil, err
	}
	// The SDK sends the request (auth, headers, retries, error answers);
	// the streamed body is read by sseReader (stream.go).
	var res *http.Response
	if err := m.client.Post(ctx, "chat/completions", params, &res, option.WithJSONSet("stream", true)); err != nil {
		if res != nil && res.Body != nil {
			_ = res.Body.Close()
		}
		return nil, m.wrap(ctx, err)
	}
	defer res.Body.Close()

	var (
		content strings.Builder
		calls   toolCalls
		usage   core.Metrics
		chunks  int
		c       chunk
	)
	events := newSSEReader(res.Body, maxEventSize)
	for {
		data, err := events.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, m.wrap(ctx, err)
		}
		done, err := decodeChunk(data, &c)
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("openai: %w", ctx.Err())
			}
			return nil, err
		}
		if done {
			break
		}
		chunks++
		if u := c.Usage; u != nil && (u.PromptTokens != 0 || u.CompletionTokens != 0 || u.TotalTokens != 0) {
			usage = core.Metrics{InputTokens: u.PromptTokens, OutputTokens: u.CompletionTokens, TotalTokens: u.TotalTokens}
			if usage.TotalTokens == 0 {
				usage.TotalTokens = usage.InputTokens + usage.OutputTokens
			}
		}
		for i := range c.Choices {
			choice := &c.Choices[i]
			if choice.Index != 0 { // only one choice is asked for
				continue
			}
			d := &choice.Delta
			delta := model.Delta{Content: d.Content + d.Refusal, Reasoning: d.reasoning()}
			for j := range d.ToolCalls {
				calls.add(&d.ToolCalls[j])
			}
			if delta.Content == "" && delta.Reasoning == "" {
				continue
			}
			content.WriteString(delta.Content)
			if err := onDelta(delta); err != nil {
				return nil, err
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("openai: %w", err)
	}
	if chunks == 0 {
		return nil, errors.New("openai: the server sent no stream events (does it support stream:true?)")
	}
	return &model.Response{Content: content.String(), ToolCalls: calls.result(), Usage: usage}, nil
}

// params builds the request body.
func (m *Model) params(req model.Request) (openai.ChatCompletionNewParams, error) {
	p := openai.ChatCompletionNewParams{
		Model:         m.cfg.Model,
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	}
	if m.cfg.MaxTokens > 0 {
		p.MaxTokens = openai.Int(m.cfg.MaxTokens)
	}
	if m.cfg.Temperature != nil {
		p.Temperature = openai.Float(*m.cfg.Temperature)
	}
	for i, msg := range req.Messages {
		mp, err := message(msg)
		if err != nil {
			return p, fmt.Errorf("openai: message %d: %w", i, err)
		}
		p.Messages = append(p.Messages, mp)
	}
	for _, t := range req.Tools {
		def := shared.FunctionDefinitionParam{Name: t.Name, Parameters: schema(t.Parameters)}
		if t.Description != "" {
			def.Description = openai.String(t.Description)
		}
		p.Tools = append(p.Tools, openai.ChatCompletionFunctionTool(def))
	}
	return p, nil
}

// message maps one core message to its chat completions shape.
func message(msg core.Message) (openai.ChatCompletionMessageParamUnion, error) {
	switch msg.Role {
	case "system":
		return openai.SystemMessage(msg.Content), nil
	case "developer":
		return openai.DeveloperMessage(msg.Content), nil
	case "user":
		if len(msg.Media) > 0 {
			return openai.UserMessage(userParts(msg)), nil
		}
		return openai.UserMessage(msg.Content), nil
	case "assistant":
		var a openai.ChatCompletionAssistantMessageParam
		// An assistant turn that only calls tools carries no content at
		// all: some servers reject an empty string next to tool_calls.
		if msg.Content != "" || len(msg.ToolCalls) == 0 {
			a.Content.OfString = openai.String(msg.Content)
		}
		for _, tc := range msg.ToolCalls {
			args := strings.TrimSpace(string(tc.Arguments))
			if args == "" || args == "null" {
				args = "{}"
			}
			a.ToolCalls = append(a.ToolCalls, openai.ChatCompletionMessageToolCallUnionParam{
				OfFunction: &openai.ChatCompletionMessageFunctionToolCallParam{
					ID:       tc.ID,
					Function: openai.ChatCompletionMessageFunctionToolCallFunctionParam{Name: tc.Name, Arguments: args},
				},
			})
		}
		return openai.ChatCompletionMessageParamUnion{OfAssistant: &a}, nil
	case "tool":
		return openai.ToolMessage(msg.Content, msg.ToolCallID), nil
	default:
		return openai.ChatCompletionMessageParamUnion{}, fmt.Errorf("unknown role %q", msg.Role)
	}
}

// AcceptsMedia implements model.MediaAccepter: images (image_url parts),
// WAV and MP3 audio (input_audio parts) and PDFs (file parts), what
// OpenAI's vision and audio models take; a server that takes less answers
// the request with its own error.
func (m *Model) AcceptsMedia(kind core.MediaKind, mimeType string) bool {
	switch kind {
	case core.MediaImage:
		return true
	case core.MediaAudio:
		return audioFormat(mimeType) != ""
	case core.MediaDocument:
		return mimeType == "application/pdf"
	}
	return false
}

func audioFormat(mimeType string) string {
	switch mimeType {
	case "audio/wav":
		return "wav"
	case "audio/mpeg":
		return "mp3"
	}
	return ""
}

// userParts is a user message with media as content parts: the text, then
// each medium as a base64 data URL or data.
func userParts(msg core.Message) []openai.ChatCompletionContentPartUnionParam {
	var parts []openai.ChatCompletionContentPartUnionParam
	if msg.Content != "" {
		parts = append(parts, openai.TextContentPart(msg.Content))
	}
	for _, m := range msg.Media {
		b64 := base64.StdEncoding.EncodeToString(m.Data)
		switch {
		case m.Kind == core.MediaImage:
			parts = append(parts, openai.ImageContentPart(openai.ChatCompletionContentPartImageImageURLParam{
				URL: "data:" + m.MIMEType + ";base64," + b64}))
		case m.Kind == core.MediaAudio:
			parts = append(parts, openai.InputAudioContentPart(openai.ChatCompletionContentPartInputAudioInputAudioParam{
				Data: b64, Format: audioFormat(m.MIMEType)}))
		default:
			f := openai.ChatCompletionContentPartFileFileParam{FileData: openai.String("data:" + m.MIMEType + ";base64," + b64)}
			if m.Name != "" {
				f.Filename = openai.String(m.Name)
			}
			parts = append(parts, openai.FileContentPart(f))
		}
	}
	return parts
}

// schema returns a tool's parameters, an empty object schema when none.
func schema(p map[string]any) shared.FunctionParameters {
	if len(p) == 0 {
		return shared.FunctionParameters{"type": "object", "properties": map[string]any{}}
	}
	if t, _ := p["type"].(string); t == "object" {
		if _, ok := p["properties"]; !ok {
			out := make(shared.FunctionParameters, len(p)+1)
			for k, v := range p {
				out[k] = v
			}
			out["properties"] = map[string]any{}
			return out
		}
	}
	return shared.FunctionParameters(p)
}

// toolCalls accumulates streamed tool call fragments.
type toolCalls struct {
	calls   []*toolCall
	byIndex map[int64]*toolCall
}

type toolCall struct {
	index    int64
	id, name string
	args     strings.Builder
}

func (c *toolCalls) add(d *toolCallDelta) {
	if c.byIndex == nil {
		c.byIndex = map[int64]*toolCall{}
	}
	tc := c.byIndex[d.Index]
	// A new id at an index already in use starts a new call: some servers
	// send every call complete, all at index 0.
	if tc == nil || (d.ID != "" && tc.id != "" && d.ID != tc.id) {
		tc = &toolCall{index: d.Index}
		c.byIndex[d.Index] = tc
		c.calls = append(c.calls, tc)
	}
	if d.ID != "" {
		tc.id = d.ID
	}
	if n := d.Function.Name; n != "" && n != tc.name {
		tc.name += n
	}
	tc.args.WriteString(d.Function.Arguments)
}

// result returns the calls in index order (stable for equal indexes).
func (c *toolCalls) result() []core.ToolCall {
	if len(c.calls) == 0 {
		return nil
	}
	calls := append([]*toolCall(nil), c.calls...)
	for i := 1; i < len(calls); i++ { // insertion sort: stable, few calls
		for j := i; j > 0 && calls[j].index < calls[j-1].index; j-- {
			calls[j], calls[j-1] = calls[j-1], calls[j]
		}
	}
	out := make([]core.ToolCall, 0, len(calls))
	for i, tc := range calls {
		id := tc.id
		if id == "" {
			id = fmt.Sprintf("call_%d", i)
		}
		out = append(out, core.ToolCall{ID: id, Name: tc.name, Arguments: arguments(tc.args.String())})
	}
	return out
}

// arguments returns streamed argument text as JSON: {} when empty, the
// text itself when it is valid JSON, else the text as a JSON string.
func arguments(s string) json.RawMessage {
	t := strings.TrimSpace(s)
	if t == "" {
		return json.RawMessage("{}")
	}
	if json.Valid([]byte(t)) {
		return json.RawMessage(t)
	}
	b, _ := json.Marshal(s)
	return b
}

// apiError is an error response of the server, after retries.
type apiError struct {
	msg string
	err *openai.Error
}

func (e *apiError) Error() string { return e.msg }
func (e *apiError) Unwrap() error { return e.err }

// wrap turns a request or stream error into the provider's error.
func (m *Model) wrap(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("openai: %w", ctx.Err())
	}
	var ae *openai.Error
	if errors.As(err, &ae) {
		return &apiError{msg: apiErrorMessage(ae), err: ae}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("openai: request timed out after %s: %w", m.cfg.Timeout, err)
	}
	return fmt.Errorf("openai: %w", err)
}

// apiErrorMessage is "openai: 401 Unauthorized: <server's message>".
func apiErrorMessage(e *openai.Error) string {
	msg := fmt.Sprintf("openai: %d", e.StatusCode)
	if t := http.StatusText(e.StatusCode); t != "" {
		msg += " " + t
	}
	detail := e.Message
	if detail == "" && e.Response != nil && e.Response.Body != nil {
		// Not OpenAI's {"error":{...}} shape: vLLM's {"message": ...},
		// {"error": "text"} or plain text.
		body, _ := io.ReadAll(io.LimitReader(e.Response.Body, 4096))
		detail = bodyMessage(body)
	}
	if detail != "" {
		msg += ": " + detail
	}
	return msg
}

// normalizeErrorBody rewrites an error response whose "error" is not an
// object (Ollama-style {"error": "text"}) to OpenAI's shape, which the SDK
// otherwise fails to decode, losing the status code.
func normalizeErrorBody(req *http.Request, next option.MiddlewareNext) (*http.Response, error) {
	res, err := next(req)
	if err != nil || res == nil || res.StatusCode < 400 || res.Body == nil {
		return res, err
	}
	body, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	_ = res.Body.Close()
	var v struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &v) == nil && len(v.Error) > 0 && v.Error[0] != '{' && string(v.Error) != "null" {
		msg := string(v.Error)
		var s string
		if json.Unmarshal(v.Error, &s) == nil {
			msg = s
		}
		body, _ = json.Marshal(map[string]any{"error": map[string]string{"message": msg}})
		res.Header.Del("Content-Length")
	}
	res.ContentLength = int64(len(body))
	res.Body = io.NopCloser(bytes.NewReader(body))
	return res, nil
}

// bodyMessage extracts a readable message from an error body.
func bodyMessage(body []byte) string {
	var v struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
		Detail  string          `json:"detail"`
	}
	if json.Unmarshal(body, &v) == nil {
		var s string
		if json.Unmarshal(v.Error, &s) == nil && s != "" {
			return s
		}
		var obj struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(v.Error, &obj) == nil && obj.Message != "" {
			return obj.Message
		}
		if v.Message != "" {
			return v.Message
		}
		if v.Detail != "" {
			return v.Detail
		}
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

var _ model.Model = (*Model)(nil)
