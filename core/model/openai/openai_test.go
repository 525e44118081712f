package openai

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/agent"
	"github.com/agentgate/agentgate/core/model"
	"github.com/agentgate/agentgate/core/model/openai/openaitest"
	"github.com/agentgate/agentgate/core/tool"
	"github.com/agentgate/agentgate/internal/testutil"
)

func newModel(t *testing.T, srv *openaitest.Server, mod func(*Config)) *Model {
	t.Helper()
	cfg := Config{Model: "gpt-test", BaseURL: srv.URL(), APIKey: "sk-test"}
	if mod != nil {
		mod(&cfg)
	}
	m, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return m
}

func userReq(text string) model.Request {
	return model.Request{Messages: []core.Message{{Role: "user", Content: text}}}
}

func TestStreamedTextAndUsage(t *testing.T) {
	t.Parallel()
	srv := openaitest.NewServer(t)
	const text = "Hello there, this reply arrives in several pieces."
	srv.Push(openaitest.Reply{Text: text, Chunks: 5, Usage: &openaitest.Usage{PromptTokens: 12, CompletionTokens: 9, TotalTokens: 21}})
	m := newModel(t, srv, nil)
	var rec testutil.Deltas
	resp, err := m.Generate(context.Background(), userReq("hi"), rec.On)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	content, reasoning, n := rec.Text()
	if n != 5 {
		t.Errorf("got %d deltas, want 5: %+v", n, rec.List())
	}
	want := openaitest.Split(text, 5)
	for i, d := range rec.List() {
		if i < len(want) && d.Content != want[i] {
			t.Errorf("delta %d = %q, want %q", i, d.Content, want[i])
		}
	}
	if content != text || resp.Content != text || reasoning != "" {
		t.Errorf("content: deltas %q, response %q, reasoning %q", content, resp.Content, reasoning)
	}
	if resp.ToolCalls != nil {
		t.Errorf("unexpected tool calls %+v", resp.ToolCalls)
	}
	if want := (core.Metrics{InputTokens: 12, OutputTokens: 9, TotalTokens: 21}); resp.Usage != want {
		t.Errorf("usage = %+v, want %+v", resp.Usage, want)
	}
	reqs := srv.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	b := reqs[0].Body
	if reqs[0].Path != "/v1/chat/completions" || b.Model != "gpt-test" || !b.Stream || b.StreamOptions == nil || !b.StreamOptions.IncludeUsage {
		t.Errorf("request = %s %+v", reqs[0].Path, b)
	}
	if b.MaxTokens != nil || b.MaxCompletionTokens != nil || b.Temperature != nil || len(b.Tools) != 0 {
		t.Errorf("unset options were sent: %s", reqs[0].Raw)
	}
}

func TestUsageTotalDefaultsToSum(t *testing.T) {
	t.Parallel()
	// A hand-written stream: usage without total_tokens, no [DONE].
	stream := `data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"hey"},"finish_reason":"stop"}]}

data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}}

`
	srv := openaitest.NewServer(t, openaitest.Reply{Error: &openaitest.Error{Status: 200, Body: stream}})
	m := newModel(t, srv, nil)
	resp, err := m.Generate(context.Background(), userReq("hi"), func(model.Delta) error { return nil })
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if want := (core.Metrics{InputTokens: 3, OutputTokens: 4, TotalTokens: 7}); resp.Usage != want || resp.Content != "hey" {
		t.Errorf("response = %+v, want usage %+v", resp, want)
	}
}

func TestParallelToolCallsReassembled(t *testing.T) {
	t.Parallel()
	srv := openaitest.NewServer(t)
	srv.Push(openaitest.Reply{Chunks: 4, ToolCalls: []openaitest.ToolCall{
		{ID: "call_a", Name: "calculator", Arguments: `{"expression": "(2+3)*4"}`},
		{ID: "call_b", Name: "current_time", Arguments: `{"timezone":"Europe/Paris"}`},
		{ID: "call_c", Name: "no_args"},
		{ID: "call_d", Name: "broken", Arguments: `{"expression": "1+`},
	}})
	m := newModel(t, srv, nil)
	var rec testutil.Deltas
	resp, err := m.Generate(context.Background(), userReq("compute"), rec.On)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if _, _, n := rec.Text(); n != 0 {
		t.Errorf("tool calls produced %d deltas: %+v", n, rec.List())
	}
	want := []core.ToolCall{
		{ID: "call_a", Name: "calculator", Arguments: json.RawMessage(`{"expression": "(2+3)*4"}`)},
		{ID: "call_b", Name: "current_time", Arguments: json.RawMessage(`{"timezone":"Europe/Paris"}`)},
		{ID: "call_c", Name: "no_args", Arguments: json.RawMessage(`{}`)},
		{ID: "call_d", Name: "broken", Arguments: json.RawMessage(`"{\"expression\": \"1+"`)},
	}
	if !reflect.DeepEqual(resp.ToolCalls, want) {
		t.Errorf("tool calls =\n%s\nwant\n%s", dump(resp.ToolCalls), dump(want))
	}
	if resp.Content != "" {
		t.Errorf("content = %q", resp.Content)
	}
}

func TestToolCallAccumulationEdgeCases(t *testing.T) {
	t.Parallel()
	var c toolCalls
	delta := func(index int64, id, name, args string) *toolCallDelta {
		d := &toolCallDelta{Index: index, ID: id}
		d.Function.Name, d.Function.Arguments = name, args
		return d
	}
	// Out of order indexes, a server sending complete calls all at index 0,
	// a repeated name, and a call without id.
	c.add(delta(1, "", "second", `{"b":`))
	c.add(delta(0, "x1", "first", `{}`))
	c.add(delta(1, "", "second", `2}`))
	c.add(delta(0, "x2", "third", `{"c":3}`))
	got := c.result()
	want := []core.ToolCall{
		{ID: "x1", Name: "first", Arguments: json.RawMessage(`{}`)},
		{ID: "x2", Name: "third", Arguments: json.RawMessage(`{"c":3}`)},
		{ID: "call_2", Name: "second", Arguments: json.RawMessage(`{"b":2}`)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%s\nwant\n%s", dump(got), dump(want))
	}
}

func TestRequestCarriesMessagesAndTools(t *testing.T) {
	t.Parallel()
	srv := openaitest.NewServer(t, openaitest.Reply{Text: "done"})
	temp := 0.25
	m := newModel(t, srv, func(c *Config) { c.MaxTokens = 256; c.Temperature = &temp })
	req := model.Request{
		Messages: []core.Message{
			{Role: "system", Content: "Be brief."},
			{Role: "user", Content: "What is 2+2 and the time?"},
			{Role: "assistant", ToolCalls: []core.ToolCall{
				{ID: "call_1", Name: "calculator", Arguments: json.RawMessage(`{"expression":"2+2"}`)},
				{ID: "call_2", Name: "current_time"},
			}},
			{Role: "tool", ToolCallID: "call_1", Name: "calculator", Content: "4"},
			{Role: "tool", ToolCallID: "call_2", Name: "current_time", Content: "2025-01-01T00:00:00Z"},
			{Role: "assistant", Content: "4, at midnight."},
			{Role: "user", Content: "Thanks"},
		},
		Tools: []core.ToolInfo{
			tool.Calculator().Info(),
			{Name: "no_params", Description: "Takes nothing."},
			{Name: "obj_no_props", Parameters: map[string]any{"type": "object"}},
		},
	}
	if _, err := m.Generate(context.Background(), req, func(model.Delta) error { return nil }); err != nil {
		t.Fatalf("Generate: %v", err)
	}
	reqs := srv.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	b := reqs[0].Body
	if b.MaxTokens == nil || *b.MaxTokens != 256 || b.MaxCompletionTokens != nil || b.Temperature == nil || *b.Temperature != 0.25 {
		t.Errorf("options: %s", reqs[0].Raw)
	}
	msgs := b.Messages
	if len(msgs) != 7 {
		t.Fatalf("%d messages: %s", len(msgs), reqs[0].Raw)
	}
	for i, want := range []struct{ role, content string }{
		{"system", "Be brief."}, {"user", "What is 2+2 and the time?"}, {"assistant", ""},
		{"tool", "4"}, {"tool", "2025-01-01T00:00:00Z"}, {"assistant", "4, at midnight."}, {"user", "Thanks"},
	} {
		if msgs[i].Role != want.role || msgs[i].Content != want.content {
			t.Errorf("message %d = %s %q, want %s %q", i, msgs[i].Role, msgs[i].Content, want.role, want.content)
		}
	}
	a := msgs[2]
	if a.HasContent {
		t.Errorf("assistant tool call message sent content: %s", reqs[0].Raw)
	}
	if len(a.ToolCalls) != 2 {
		t.Fatalf("assistant tool calls = %+v", a.ToolCalls)
	}
	for i, want := range []struct{ id, name, args string }{{"call_1", "calculator", `{"expression":"2+2"}`}, {"call_2", "current_time", `{}`}} {
		tc := a.ToolCalls[i]
		if tc.ID != want.id || tc.Type != "function" || tc.Function.Name != want.name || tc.Function.Arguments != want.args {
			t.Errorf("tool call %d = %+v, want %+v", i, tc, want)
		}
	}
	if msgs[3].ToolCallID != "call_1" || msgs[4].ToolCallID != "call_2" {
		t.Errorf("tool results: %+v %+v", msgs[3], msgs[4])
	}
	if !msgs[5].HasContent || len(msgs[5].ToolCalls) != 0 {
		t.Errorf("final assistant message: %+v", msgs[5])
	}
	// The raw shape: tool_calls arguments are strings, no content key.
	var raw struct {
		Messages []map[string]json.RawMessage `json:"messages"`
	}
	if err := json.Unmarshal(reqs[0].Raw, &raw); err != nil {
		t.Fatal(err)
	}
	if _, ok := raw.Messages[2]["content"]; ok {
		t.Errorf("assistant tool call message has a content key: %s", raw.Messages[2]["content"])
	}

	if len(b.Tools) != 3 {
		t.Fatalf("tools: %s", reqs[0].Raw)
	}
	calc := b.Tools[0]
	if calc.Type != "function" || calc.Function.Name != "calculator" || !strings.HasPrefix(calc.Function.Description, "Evaluates") {
		t.Errorf("calculator tool = %+v", calc)
	}
	if props, _ := calc.Function.Parameters["properties"].(map[string]any); props["expression"] == nil || calc.Function.Parameters["type"] != "object" {
		t.Errorf("calculator parameters = %v", calc.Function.Parameters)
	}
	empty := map[string]any{"type": "object", "properties": map[string]any{}}
	if np := b.Tools[1]; np.Function.Name != "no_params" || np.Function.Description != "Takes nothing." || !reflect.DeepEqual(np.Function.Parameters, empty) {
		t.Errorf("no_params tool = %+v", np)
	}
	if op := b.Tools[2]; op.Function.Description != "" || !reflect.DeepEqual(op.Function.Parameters, empty) {
		t.Errorf("obj_no_props tool = %+v", op)
	}
}

func TestUnknownRoleFails(t *testing.T) {
	t.Parallel()
	srv := openaitest.NewServer(t)
	m := newModel(t, srv, nil)
	_, err := m.Generate(context.Background(), model.Request{Messages: []core.Message{{Role: "robot"}}}, func(model.Delta) error { return nil })
	if err == nil || !strings.Contains(err.Error(), `unknown role "robot"`) {
		t.Errorf("err = %v", err)
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

func TestReasoningDeltas(t *testing.T) {
	t.Parallel()
	for _, field := range []string{"reasoning_content", "reasoning"} {
		t.Run(field, func(t *testing.T) {
			t.Parallel()
			srv := openaitest.NewServer(t, openaitest.Reply{Reasoning: "Let me think about it.", ReasoningField: field, Text: "Forty-two."})
			m := newModel(t, srv, nil)
			var rec testutil.Deltas
			resp, err := m.Generate(context.Background(), userReq("meaning?"), rec.On)
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}
			content, reasoning, _ := rec.Text()
			if reasoning != "Let me think about it." || content != "Forty-two." || resp.Content != "Forty-two." {
				t.Errorf("reasoning %q, content %q, response %q", reasoning, content, resp.Content)
			}
			if rec.List()[0].Reasoning == "" || rec.List()[0].Content != "" {
				t.Errorf("first delta = %+v", rec.List()[0])
			}
		})
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	t.Parallel()
	srv := openaitest.NewServer(t,
		openaitest.Reply{Error: &openaitest.Error{Status: 429, Message: "Rate limit reached", Type: "requests", Code: "rate_limit_exceeded", RetryAfter: "1"}},
		openaitest.Reply{Text: "finally"})
	m := newModel(t, srv, nil)
	start := time.Now()
	resp, err := m.Generate(context.Background(), userReq("hi"), func(model.Delta) error { return nil })
	elapsed := time.Since(start)
	if err != nil || resp.Content != "finally" {
		t.Fatalf("Generate = %+v, %v", resp, err)
	}
	if elapsed < 900*time.Millisecond {
		t.Errorf("retried after %v, want >= 1s (Retry-After)", elapsed)
	}
	if n := len(srv.Requests()); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
}

func TestRetriesServerErrors(t *testing.T) {
	t.Parallel()
	fail := openaitest.Reply{Error: &openaitest.Error{Status: 500, Message: "The server had an error"}}
	srv := openaitest.NewServer(t, fail, fail, openaitest.Reply{Text: "ok"})
	m := newModel(t, srv, func(c *Config) { c.MaxRetries = 2 })
	resp, err := m.Generate(context.Background(), userReq("hi"), func(model.Delta) error { return nil })
	if err != nil || resp.Content != "ok" {
		t.Fatalf("Generate = %+v, %v", resp, err)
	}
	if n := len(srv.Requests()); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
}

func TestServerErrorsExhaustRetries(t *testing.T) {
	t.Parallel()
	fail := openaitest.Reply{Error: &openaitest.Error{Status: 503, Message: "Overloaded", RetryAfterMS: 10}}
	srv := openaitest.NewServer(t, fail, fail, fail, openaitest.Reply{Text: "too late"})
	m := newModel(t, srv, func(c *Config) { c.MaxRetries = 2 })
	_, err := m.Generate(context.Background(), userReq("hi"), func(model.Delta) error { return nil })
	if err == nil || err.Error() != "openai: 503 Service Unavailable: Overloaded" {
		t.Errorf("err = %v", err)
	}
	if n := len(srv.Requests()); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
}

func TestUnauthorizedIsNotRetried(t *testing.T) {
	t.Parallel()
	srv := openaitest.NewServer(t,
		openaitest.Reply{Error: &openaitest.Error{Status: 401, Message: "Incorrect API key provided", Type: "invalid_request_error", Code: "invalid_api_key"}},
		openaitest.Reply{Text: "must not be reached"})
	m := newModel(t, srv, nil)
	_, err := m.Generate(context.Background(), userReq("hi"), func(model.Delta) error { return nil })
	if err == nil || err.Error() != "openai: 401 Unauthorized: Incorrect API key provided" {
		t.Fatalf("err = %v", err)
	}
	var ae *openai.Error
	if !errors.As(err, &ae) || ae.StatusCode != 401 || ae.Code != "invalid_api_key" {
		t.Errorf("errors.As(*openai.Error) = %v", ae)
	}
	if n := len(srv.Requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestNegativeMaxRetriesDisablesRetry(t *testing.T) {
	t.Parallel()
	srv := openaitest.NewServer(t,
		openaitest.Reply{Error: &openaitest.Error{Status: 429, Message: "Slow down", RetryAfter: "5"}},
		openaitest.Reply{Text: "ok"})
	m := newModel(t, srv, func(c *Config) { c.MaxRetries = -1 })
	start := time.Now()
	_, err := m.Generate(context.Background(), userReq("hi"), func(model.Delta) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "429") || !strings.Contains(err.Error(), "Slow down") {
		t.Errorf("err = %v", err)
	}
	if time.Since(start) > 3*time.Second { // a retry would wait the 5 s Retry-After
		t.Errorf("took %v: it waited for a retry", time.Since(start))
	}
	if n, p := len(srv.Requests()), srv.Pending(); n != 1 || p != 1 {
		t.Errorf("%d requests, %d replies left; want 1 and 1", n, p)
	}
}

func TestNonOpenAIErrorBodies(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		e    openaitest.Error
		want string
	}{
		{"vllm", openaitest.Error{Status: 404, Body: `{"object":"error","message":"The model foo does not exist.","type":"NotFoundError","param":null,"code":404}`}, "openai: 404 Not Found: The model foo does not exist."},
		{"string error", openaitest.Error{Status: 400, Body: `{"error":"model is required"}`}, "openai: 400 Bad Request: model is required"},
		{"plain text", openaitest.Error{Status: 400, Body: "bad request, sorry"}, "openai: 400 Bad Request: bad request, sorry"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := tc.e
			srv := openaitest.NewServer(t, openaitest.Reply{Error: &e})
			m := newModel(t, srv, nil)
			_, err := m.Generate(context.Background(), userReq("hi"), func(model.Delta) error { return nil })
			if err == nil || err.Error() != tc.want {
				t.Errorf("err = %v, want %s", err, tc.want)
			}
		})
	}
}

func TestStreamErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		reply openaitest.Reply
		want  string
	}{
		{"error event", openaitest.Reply{Text: "partial", StreamError: &openaitest.Error{Message: "The server overloaded mid-stream", Type: "server_error"}}, "openai: stream error: The server overloaded mid-stream"},
		{"broken json", openaitest.Reply{Text: "partial", RawEvents: []string{`{"id":"chatcmpl-1","choices":[{"delta":`}}, "openai: invalid stream chunk: "},
		{"no events", openaitest.Reply{Error: &openaitest.Error{Status: 200, Body: "{}"}}, "openai: the server sent no stream events"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := openaitest.NewServer(t, tc.reply)
			m := newModel(t, srv, nil)
			_, err := m.Generate(context.Background(), userReq("hi"), func(model.Delta) error { return nil })
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("err = %v, want prefix %q", err, tc.want)
			}
		})
	}
}

func TestOnDeltaErrorStops(t *testing.T) {
	t.Parallel()
	srv := openaitest.NewServer(t, openaitest.Reply{Text: "one two three four five six", Chunks: 6, Stall: true})
	m := newModel(t, srv, func(c *Config) { c.Timeout = 10 * time.Second })
	errStop := errors.New("client went away")
	calls := 0
	start := time.Now()
	resp, err := m.Generate(context.Background(), userReq("hi"), func(model.Delta) error {
		calls++
		if calls == 2 {
			return errStop
		}
		return nil
	})
	if !errors.Is(err, errStop) || resp != nil {
		t.Errorf("Generate = %+v, %v; want %v", resp, err, errStop)
	}
	if calls != 2 {
		t.Errorf("onDelta called %d times after failing", calls)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestContextCancelMidStream(t *testing.T) {
	t.Parallel()
	srv := openaitest.NewServer(t, openaitest.Reply{Text: "partial answer", Stall: true})
	m := newModel(t, srv, func(c *Config) { c.Timeout = 30 * time.Second })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan struct{}, 1)
	go func() {
		<-got
		time.Sleep(50 * time.Millisecond)
		cancel()
	}()
	start := time.Now()
	_, err := m.Generate(ctx, userReq("hi"), func(model.Delta) error {
		select {
		case got <- struct{}{}:
		default:
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("returned after %v", d)
	}
}

func TestContextCancelBeforeHeaders(t *testing.T) {
	t.Parallel()
	srv := openaitest.NewServer(t, openaitest.Reply{DelayMS: 10000, Text: "late"})
	m := newModel(t, srv, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := m.Generate(ctx, userReq("hi"), func(model.Delta) error { return nil })
	if !errors.Is(err, context.DeadlineExceeded) || !strings.HasPrefix(err.Error(), "openai: ") {
		t.Errorf("err = %v, want a wrapped context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("returned after %v", d)
	}
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		reply openaitest.Reply
	}{
		{"stalled stream", openaitest.Reply{Text: "slow", Stall: true}},
		{"no headers", openaitest.Reply{DelayMS: 10000}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := openaitest.NewServer(t, tc.reply, openaitest.Reply{Text: "retried"})
			m := newModel(t, srv, func(c *Config) { c.Timeout = 300 * time.Millisecond })
			start := time.Now()
			_, err := m.Generate(context.Background(), userReq("hi"), func(model.Delta) error { return nil })
			if err == nil || !strings.Contains(err.Error(), "timed out after 300ms") {
				t.Errorf("err = %v", err)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("returned after %v", d)
			}
		})
	}
}

func TestHeadersAndAPIKey(t *testing.T) {
	t.Parallel()
	srv := openaitest.NewServer(t, openaitest.Reply{Text: "ok"})
	m := newModel(t, srv, func(c *Config) {
		c.APIKey = "sk-secret-123"
		c.Headers = map[string]string{"X-Agentgate-Test": "yes", "OpenAI-Organization": "org-1"}
	})
	if _, err := m.Generate(context.Background(), userReq("hi"), func(model.Delta) error { return nil }); err != nil {
		t.Fatal(err)
	}
	h := srv.Requests()[0].Header
	if h.Get("Authorization") != "Bearer sk-secret-123" || h.Get("X-Agentgate-Test") != "yes" || h.Get("OpenAI-Organization") != "org-1" {
		t.Errorf("headers = %v", h)
	}
	if m.Provider() != "openai" || m.ID() != "gpt-test" {
		t.Errorf("provider %q id %q", m.Provider(), m.ID())
	}
}

// Not parallel: it sets the environment.
func TestAPIKeyFromEnvironment(t *testing.T) {
	srv := openaitest.NewServer(t, openaitest.Reply{Text: "a", Repeat: true})
	for _, tc := range []struct{ env, want string }{{"sk-from-env", "Bearer sk-from-env"}, {"", "Bearer " + placeholderKey}} {
		t.Setenv("OPENAI_API_KEY", tc.env)
		m := newModel(t, srv, func(c *Config) { c.APIKey = "" })
		if _, err := m.Generate(context.Background(), userReq("hi"), func(model.Delta) error { return nil }); err != nil {
			t.Fatal(err)
		}
		reqs := srv.Requests()
		if got := reqs[len(reqs)-1].Header.Get("Authorization"); got != tc.want {
			t.Errorf("OPENAI_API_KEY=%q: Authorization %q, want %q", tc.env, got, tc.want)
		}
	}
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	if _, err := New(Config{}); err == nil {
		t.Error("New without a model succeeded")
	}
	for _, u := range []string{"ftp://example.com", "localhost:11434", "http://"} {
		if _, err := New(Config{Model: "m", BaseURL: u}); err == nil {
			t.Errorf("New with base URL %q succeeded", u)
		}
	}
	m, err := New(Config{Model: "m", MaxRetries: -5})
	if err != nil {
		t.Fatal(err)
	}
	if m.cfg.BaseURL != DefaultBaseURL || m.cfg.MaxRetries != 0 || m.cfg.Timeout != 120*time.Second {
		t.Errorf("defaults = %+v", m.cfg)
	}
	if m, _ := New(Config{Model: "m"}); m.cfg.MaxRetries != 2 {
		t.Errorf("default MaxRetries = %d", m.cfg.MaxRetries)
	}
}

func TestConcurrentGenerate(t *testing.T) {
	t.Parallel()
	srv := openaitest.NewServer(t)
	srv.Respond(func(r openaitest.Request) openaitest.Reply {
		return openaitest.Reply{Text: "echo: " + r.LastUser()}
	})
	m := newModel(t, srv, nil)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := fmt.Sprintf("message %d", i)
			resp, err := m.Generate(context.Background(), userReq(in), func(model.Delta) error { return nil })
			if err != nil || resp.Content != "echo: "+in {
				t.Errorf("Generate(%q) = %+v, %v", in, resp, err)
			}
		}()
	}
	wg.Wait()
}

func TestAgentToolLoop(t *testing.T) {
	t.Parallel()
	srv := openaitest.NewServer(t,
		openaitest.Reply{ToolCalls: []openaitest.ToolCall{{ID: "call_calc", Name: "calculator", Arguments: `{"expression":"(2+3)*4"}`}}},
		openaitest.Reply{Text: "The answer is 20.", Usage: &openaitest.Usage{PromptTokens: 50, CompletionTokens: 6}})
	m := newModel(t, srv, nil)
	a, err := agent.New(agent.Config{ID: "calc", Instructions: "Use the calculator.", ModelName: "test", Model: m, Tools: []*tool.Tool{tool.Calculator()}})
	if err != nil {
		t.Fatal(err)
	}
	out, events, err := testutil.Execute(context.Background(), a, "What is (2+3)*4?")
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	if out.Content != "The answer is 20." || out.Paused != nil {
		t.Errorf("outcome = %+v", out)
	}
	if len(out.Tools) != 1 || out.Tools[0].ToolName != "calculator" || out.Tools[0].Result != "20" || out.Tools[0].ToolCallError {
		t.Errorf("tools = %+v", out.Tools)
	}
	if out.Metrics.InputTokens < 50 || out.Metrics.OutputTokens < 6 {
		t.Errorf("metrics = %+v", out.Metrics)
	}
	var kinds []core.EventType
	var started, completed *core.Event
	var content strings.Builder
	for i, ev := range events {
		kinds = append(kinds, ev.Event)
		switch ev.Event {
		case core.EventToolCallStarted:
			started = &events[i]
		case core.EventToolCallCompleted:
			completed = &events[i]
		case core.EventRunContent:
			content.WriteString(ev.Content)
		}
	}
	if started == nil || completed == nil || started.Tool == nil || started.Tool.ToolCallID != "call_calc" || completed.Content != "20" {
		t.Errorf("tool events missing or wrong: %v", kinds)
	}
	if content.String() != "The answer is 20." {
		t.Errorf("streamed content = %q (events %v)", content.String(), kinds)
	}
	reqs := srv.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d model requests, want 2", len(reqs))
	}
	if n := len(reqs[0].Body.Tools); n != 1 || reqs[0].Body.Tools[0].Function.Name != "calculator" {
		t.Errorf("first request tools: %s", reqs[0].Raw)
	}
	msgs := reqs[1].Body.Messages
	if len(msgs) != 4 || msgs[0].Role != "system" || msgs[1].Role != "user" {
		t.Fatalf("second request messages: %s", reqs[1].Raw)
	}
	if a := msgs[2]; a.Role != "assistant" || len(a.ToolCalls) != 1 || a.ToolCalls[0].ID != "call_calc" || a.ToolCalls[0].Function.Arguments != `{"expression":"(2+3)*4"}` {
		t.Errorf("assistant message: %+v", a)
	}
	if r := msgs[3]; r.Role != "tool" || r.ToolCallID != "call_calc" || r.Content != "20" {
		t.Errorf("tool result message: %+v", r)
	}
}

func dump(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}
