// Package anthropic is the model provider for Anthropic's Messages API on
// the official anthropic-sdk-go SDK.
//
// Each Generate call is one streamed POST /v1/messages. The conversation is
// mapped as the API wants it: system messages become the top-level system
// prompt, consecutive messages of one role are merged (the API requires
// alternating user and assistant turns), an assistant message becomes its
// text and tool_use blocks, and consecutive tool results become one user
// turn of tool_result blocks.
//
// Extended thinking: with ThinkingBudget > 0 the model thinks before it
// answers and the thinking is streamed as Delta.Reasoning. core.Message has
// no place for the signed thinking blocks, so they are not replayed. The API
// rejects a tool-use continuation with thinking on unless the assistant
// turn's thinking blocks are sent back, so thinking is requested only when
// the conversation ends with a user message (a new assistant turn starts);
// the requests that carry tool results back within that turn go without
// thinking. Earlier turns' thinking is not needed by the API.
package anthropic

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	sdk "github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/model"
)

// Defaults.
const (
	DefaultBaseURL    = "https://api.anthropic.com"
	DefaultTimeout    = 120 * time.Second
	DefaultMaxRetries = 2
	DefaultMaxTokens  = 4096
)

// legacyAPIVersion is the API version that still accepts sampling
// parameters (temperature); the SDK's own, 2026-10-21, rejects them.
const legacyAPIVersion = "2023-06-01"

// Config configures one model.
type Config struct {
	// Model is the model id (required), e.g. claude-sonnet-4-5.
	Model string
	// BaseURL is the API root, without /v1 (default https://api.anthropic.com).
	BaseURL string
	// APIKey is the x-api-key; empty reads ANTHROPIC_API_KEY. One of them
	// is required unless Headers carries x-api-key or Authorization.
	APIKey string
	// Timeout bounds one request including its streamed body (default 120s).
	// A retried request gets the full timeout again.
	Timeout time.Duration
	// MaxRetries is how often a request failing with 408/409/429/5xx/529
	// or a connection error is retried, with backoff honouring Retry-After
	// (default 2; negative: none).
	MaxRetries int
	// MaxTokens caps the reply (required by the API; default 4096, or
	// ThinkingBudget+4096 when that is larger). It must exceed
	// ThinkingBudget.
	MaxTokens int64
	// Temperature, when set, is sent. API version 2026-10-21, which the SDK
	// speaks, rejects sampling parameters, so a request carrying temperature
	// is sent with anthropic-version 2023-06-01 (unless Headers sets
	// anthropic-version).
	Temperature *float64
	// ThinkingBudget > 0 turns on extended thinking with that many budget
	// tokens (the API wants at least 1024); thinking deltas become
	// ReasoningContentDelta events. Thinking is requested only on requests
	// that start an assistant turn; see the package documentation.
	ThinkingBudget int64
	// Headers are added to every request (and win over the SDK's).
	Headers map[string]string
	// HTTPClient replaces the default client (tests).
	HTTPClient *http.Client
}

// Model is an Anthropic model. It is safe for concurrent use.
type Model struct {
	cfg    Config
	client sdk.Client
}

// New returns the model.
func New(cfg Config) (*Model, error) {
	if strings.TrimSpace(cfg.Model) == "" {
		return nil, errors.New("anthropic: a model id is required")
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	if cfg.APIKey == "" {
		cfg.APIKey = os.Getenv("ANTHROPIC_API_KEY")
	}
	if cfg.APIKey == "" && !hasHeader(cfg.Headers, "x-api-key") && !hasHeader(cfg.Headers, "authorization") {
		return nil, errors.New("anthropic: no API key: set the api key or ANTHROPIC_API_KEY")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = DefaultMaxRetries
	} else if cfg.MaxRetries < 0 {
		cfg.MaxRetries = 0
	}
	if cfg.ThinkingBudget < 0 {
		return nil, fmt.Errorf("anthropic: thinking budget %d is negative", cfg.ThinkingBudget)
	}
	switch {
	case cfg.MaxTokens < 0:
		return nil, fmt.Errorf("anthropic: max tokens %d is negative", cfg.MaxTokens)
	case cfg.MaxTokens == 0:
		cfg.MaxTokens = max(DefaultMaxTokens, cfg.ThinkingBudget+DefaultMaxTokens)
	case cfg.ThinkingBudget > 0 && cfg.MaxTokens <= cfg.ThinkingBudget:
		return nil, fmt.Errorf("anthropic: max tokens (%d) must exceed the thinking budget (%d)", cfg.MaxTokens, cfg.ThinkingBudget)
	}
	httpClient := cfg.HTTPClient
	if httpClient == nil {
		httpClient = &http.Client{}
	}
	opts := []option.RequestOption{
		// The configuration is explicit: no credential, base URL or header
		// comes from the environment or a profile on disk.
		option.WithoutEnvironmentDefaults(),
		option.WithBaseURL(cfg.BaseURL),
		option.WithHTTPClient(httpClient),
		option.WithMaxRetries(cfg.MaxRetries),
		option.WithRequestTimeout(cfg.Timeout),
	}
	if cfg.APIKey != "" {
		// The API's own header, which it prefers; the SDK would send the key
		// as a bearer token, which servers speaking the older wire format
		// (proxies, compatible servers) do not read.
		opts = append(opts, option.WithHeader("x-api-key", cfg.APIKey))
	}
	if cfg.Temperature != nil {
		opts = append(opts, option.WithHeader("anthropic-version", legacyAPIVersion))
	}
	for k, v := range cfg.Headers {
		opts = append(opts, option.WithHeader(k, v))
	}
	return &Model{cfg: cfg, client: sdk.NewClient(opts...)}, nil
}

func hasHeader(h map[string]string, name string) bool {
	for k, v := range h {
		if strings.EqualFold(k, name) && v != "" {
			return true
		}
	}
	return false
}

// Provider implements model.Model.
func (m *Model) Provider() string { return "anthropic" }

// ID implements model.Model.
func (m *Model) ID() string { return m.cfg.Model }

// Generate implements model.Model.
func (m *Model) Generate(ctx context.Context, req model.Request, onDelta func(model.Delta) error) (*model.Response, error) {
	params, err := m.params(req)
	if err != nil {
		return nil, err
	}
	var opts []option.RequestOption
	if m.cfg.Temperature != nil {
		opts = append(opts, option.WithJSONSet("temperature", *m.cfg.Temperature))
	}
	stream := m.client.Messages.NewStreaming(ctx, params, opts...)
	defer stream.Close()

	acc := newAccumulator()
	for stream.Next() {
		if err := acc.add(stream.Current(), onDelta); err != nil {
			return nil, err
		}
	}
	if err := stream.Err(); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("anthropic: no complete reply within the %v timeout: %w", m.cfg.Timeout, err)
		}
		return nil, describe(err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return acc.response()
}

// params maps the request to the Messages API.
func (m *Model) params(req model.Request) (sdk.MessageNewParams, error) {
	system, msgs, err := convertMessages(req.Messages)
	if err != nil {
		return sdk.MessageNewParams{}, err
	}
	p := sdk.MessageNewParams{
		Model:     sdk.Model(m.cfg.Model),
		MaxTokens: m.cfg.MaxTokens,
		Messages:  msgs,
	}
	if system != "" {
		p.System = []sdk.TextBlockParam{{Text: system}}
	}
	for _, t := range req.Tools {
		p.Tools = append(p.Tools, convertTool(t))
	}
	if m.cfg.ThinkingBudget > 0 && startsTurn(req.Messages) {
		th := sdk.ThinkingConfigParamOfEnabled(m.cfg.ThinkingBudget)
		th.OfEnabled.Display = sdk.ThinkingConfigEnabledDisplaySummarized
		p.Thinking = th
	}
	return p, nil
}

// AcceptsMedia implements model.MediaAccepter: PNG, JPEG, GIF and WebP
// images (image blocks) and PDFs (document blocks), what Claude takes.
func (m *Model) AcceptsMedia(kind core.MediaKind, mimeType string) bool {
	switch kind {
	case core.MediaImage:
		switch mimeType {
		case "image/png", "image/jpeg", "image/gif", "image/webp":
			return true
		}
	case core.MediaDocument:
		return mimeType == "application/pdf"
	}
	return false
}

// startsTurn reports whether the conversation's last message (systems
// aside) is the user's: the request starts a new assistant turn rather than
// continuing one with tool results.
func startsTurn(msgs []core.Message) bool {
	for i := len(msgs) - 1; i >= 0; i-- {
		switch msgs[i].Role {
		case "system":
			continue
		case "user":
			return true
		default:
			return false
		}
	}
	return false
}

// convertMessages maps core messages to the system prompt and the API's
// alternating user/assistant turns.
func convertMessages(in []core.Message) (string, []sdk.MessageParam, error) {
	var (
		system []string
		out    []sdk.MessageParam
	)
	add := func(role string, blocks []sdk.ContentBlockParamUnion) {
		if len(blocks) == 0 {
			return
		}
		if n := len(out); n > 0 {
			last := &out[n-1]
			if role == "user" && last.OfUser != nil {
				last.OfUser.Content = append(last.OfUser.Content, blocks...)
				return
			}
			if role == "assistant" && last.OfAssistant != nil {
				last.OfAssistant.Content = append(last.OfAssistant.Content, blocks...)
				return
			}
		}
		if role == "user" {
			out = append(out, sdk.NewUserMessage(blocks...))
		} else {
			out = append(out, sdk.NewAssistantMessage(blocks...))
		}
	}
	for i, msg := range in {
		switch msg.Role {
		case "system":
			if strings.TrimSpace(msg.Content) != "" {
				system = append(system, msg.Content)
			}
		case "user":
			var blocks []sdk.ContentBlockParamUnion
			for _, m := range msg.Media {
				b64 := base64.StdEncoding.EncodeToString(m.Data)
				if m.Kind == core.MediaImage {
					blocks = append(blocks, sdk.NewImageBlockBase64(m.MIMEType, b64))
				} else {
					blocks = append(blocks, sdk.NewDocumentBlock(sdk.Base64PDFSourceParam{Data: b64}))
				}
			}
			if msg.Content != "" {
				blocks = append(blocks, sdk.NewTextBlock(msg.Content))
			}
			add("user", blocks)
		case "assistant":
			var blocks []sdk.ContentBlockParamUnion
			if strings.TrimSpace(msg.Content) != "" {
				blocks = append(blocks, sdk.NewTextBlock(msg.Content))
			}
			for _, call := range msg.ToolCalls {
				blocks = append(blocks, sdk.NewToolUseBlock(call.ID, toolInput(call.Arguments), call.Name))
			}
			add("assistant", blocks)
		case "tool":
			res := sdk.ToolResultBlockParam{ToolUseID: msg.ToolCallID}
			if msg.Content != "" {
				res.Content = []sdk.ToolResultBlockParamContentUnion{{OfText: &sdk.TextBlockParam{Text: msg.Content}}}
			}
			add("user", []sdk.ContentBlockParamUnion{{OfToolResult: &res}})
		default:
			return "", nil, fmt.Errorf("anthropic: message %d has unknown role %q", i, msg.Role)
		}
	}
	return strings.Join(system, "\n\n"), out, nil
}

// toolInput is a tool call's arguments as the tool_use input object: empty
// (or anything but a JSON object) becomes {}.
func toolInput(args json.RawMessage) json.RawMessage {
	var obj map[string]json.RawMessage
	if len(args) == 0 || json.Unmarshal(args, &obj) != nil || obj == nil {
		return json.RawMessage(`{}`)
	}
	return args
}

// convertTool maps a tool to a client tool with its JSON schema.
func convertTool(t core.ToolInfo) sdk.ToolUnionParam {
	schema := sdk.ToolInputSchemaParam{Properties: map[string]any{}}
	for k, v := range t.Parameters {
		switch k {
		case "type":
			// Always "object".
		case "properties":
			if v != nil {
				schema.Properties = v
			}
		case "required":
			schema.Required = stringList(v)
			if schema.Required == nil && v != nil {
				setExtra(&schema, k, v)
			}
		default:
			setExtra(&schema, k, v)
		}
	}
	tp := sdk.ToolParam{Name: t.Name, InputSchema: schema}
	if t.Description != "" {
		tp.Description = sdk.String(t.Description)
	}
	return sdk.ToolUnionParam{OfTool: &tp}
}

func setExtra(s *sdk.ToolInputSchemaParam, k string, v any) {
	if s.ExtraFields == nil {
		s.ExtraFields = map[string]any{}
	}
	s.ExtraFields[k] = v
}

func stringList(v any) []string {
	switch l := v.(type) {
	case []string:
		return slices.Clone(l)
	case []any:
		out := make([]string, 0, len(l))
		for _, e := range l {
			s, ok := e.(string)
			if !ok {
				return nil
			}
			out = append(out, s)
		}
		return out
	}
	return nil
}

// block is one content block of the streamed reply.
type block struct {
	typ      string
	id, name string
	input    strings.Builder // tool_use: the concatenated partial_json
	start    string          // tool_use: the input given in content_block_start
}

// accumulator folds the stream's events into the response.
type accumulator struct {
	blocks     map[int64]*block
	order      []int64
	content    strings.Builder
	usage      sdk.MessageDeltaUsage // input side from message_start, overridden by message_delta
	output     int64
	stopReason string
	started    bool
	stopped    bool
}

func newAccumulator() *accumulator { return &accumulator{blocks: map[int64]*block{}} }

func (a *accumulator) add(ev sdk.MessageStreamEventUnion, onDelta func(model.Delta) error) error {
	switch ev.Type {
	case "message_start":
		a.started = true
		u := ev.Message.Usage
		a.usage.InputTokens = u.InputTokens
		a.usage.CacheCreationInputTokens = u.CacheCreationInputTokens
		a.usage.CacheReadInputTokens = u.CacheReadInputTokens
		a.output = u.OutputTokens
	case "content_block_start":
		cb := ev.ContentBlock
		b := &block{typ: cb.Type, id: cb.ID, name: cb.Name}
		if _, seen := a.blocks[ev.Index]; !seen {
			a.order = append(a.order, ev.Index)
		}
		a.blocks[ev.Index] = b
		switch cb.Type {
		case "text":
			return a.emit(onDelta, model.Delta{Content: cb.Text})
		case "thinking":
			return a.emit(onDelta, model.Delta{Reasoning: cb.Thinking})
		case "tool_use":
			b.start = cb.JSON.Input.Raw()
		}
	case "content_block_delta":
		d := ev.Delta
		switch d.Type {
		case "text_delta":
			return a.emit(onDelta, model.Delta{Content: d.Text})
		case "thinking_delta":
			return a.emit(onDelta, model.Delta{Reasoning: d.Thinking})
		case "input_json_delta":
			b, ok := a.blocks[ev.Index]
			if !ok {
				return fmt.Errorf("anthropic: input_json_delta for unknown content block %d", ev.Index)
			}
			b.input.WriteString(d.PartialJSON)
		}
		// signature_delta and citations_delta carry nothing we keep.
	case "message_delta":
		if r := ev.Delta.StopReason; r != "" {
			a.stopReason = string(r)
		}
		u := ev.Usage
		a.output = u.OutputTokens
		if u.JSON.InputTokens.Valid() {
			a.usage.InputTokens = u.InputTokens
		}
		if u.JSON.CacheCreationInputTokens.Valid() {
			a.usage.CacheCreationInputTokens = u.CacheCreationInputTokens
		}
		if u.JSON.CacheReadInputTokens.Valid() {
			a.usage.CacheReadInputTokens = u.CacheReadInputTokens
		}
	case "message_stop":
		a.stopped = true
	}
	return nil
}

func (a *accumulator) emit(onDelta func(model.Delta) error, d model.Delta) error {
	if d.Content == "" && d.Reasoning == "" {
		return nil
	}
	a.content.WriteString(d.Content)
	if onDelta == nil {
		return nil
	}
	return onDelta(d)
}

func (a *accumulator) response() (*model.Response, error) {
	if !a.started || !a.stopped {
		return nil, errors.New("anthropic: the stream ended before the message was complete")
	}
	resp := &model.Response{Content: a.content.String()}
	order := slices.Clone(a.order)
	slices.Sort(order)
	for _, i := range order {
		b := a.blocks[i]
		if b.typ != "tool_use" {
			continue
		}
		raw := strings.TrimSpace(b.input.String())
		if raw == "" {
			raw = strings.TrimSpace(b.start)
		}
		if raw == "" || raw == "null" {
			raw = "{}"
		}
		if !json.Valid([]byte(raw)) {
			return nil, fmt.Errorf("anthropic: tool call %s (%s) has incomplete input JSON (stop reason %s)", b.name, b.id, a.stopReason)
		}
		resp.ToolCalls = append(resp.ToolCalls, core.ToolCall{ID: b.id, Name: b.name, Arguments: json.RawMessage(raw)})
	}
	in := a.usage.InputTokens + a.usage.CacheCreationInputTokens + a.usage.CacheReadInputTokens
	resp.Usage = core.Metrics{InputTokens: in, OutputTokens: a.output, TotalTokens: in + a.output}
	return resp, nil
}

// apiError is an API error (an error status, or an error event in the
// stream) described by its status, type and message; it unwraps to the
// SDK's *anthropic.Error.
type apiError struct {
	msg string
	err error
}

func (e *apiError) Error() string { return e.msg }
func (e *apiError) Unwrap() error { return e.err }

// describe names the status and the server's message of an API error.
func describe(err error) error {
	var ae *sdk.Error
	if !errors.As(err, &ae) {
		return fmt.Errorf("anthropic: %w", err)
	}
	typ, msg := string(ae.Type()), ae.Message
	if msg == "" {
		msg = strings.TrimSpace(ae.RawJSON())
		if len(msg) > 300 {
			msg = msg[:300] + "..."
		}
	}
	var b strings.Builder
	b.WriteString("anthropic: ")
	if ae.StatusCode >= 400 {
		fmt.Fprintf(&b, "%d ", ae.StatusCode)
	} else {
		b.WriteString("stream error: ")
	}
	if typ == "" && ae.StatusCode >= 400 {
		typ = http.StatusText(ae.StatusCode)
	}
	if typ != "" {
		b.WriteString(typ)
		if msg != "" {
			b.WriteString(": ")
		}
	}
	b.WriteString(msg)
	if ae.RequestID != "" {
		fmt.Fprintf(&b, " (request %s)", ae.RequestID)
	}
	return &apiError{msg: b.String(), err: err}
}

var _ model.Model = (*Model)(nil)
