package anthropic_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	sdk "github.com/anthropics/anthropic-sdk-go/v2"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/agent"
	"github.com/agentgate/agentgate/core/model"
	"github.com/agentgate/agentgate/core/model/anthropic"
	"github.com/agentgate/agentgate/core/model/anthropic/anthropictest"
	"github.com/agentgate/agentgate/core/tool"
	"github.com/agentgate/agentgate/internal/testutil"
)

const testKey = "sk-ant-test"

// newModel returns a model talking to srv; edit adjusts the config.
func newModel(t *testing.T, srv *anthropictest.Server, edit func(*anthropic.Config)) *anthropic.Model {
	t.Helper()
	cfg := anthropic.Config{Model: "claude-sonnet-4-5", BaseURL: srv.URL(), APIKey: testKey, Timeout: 5 * time.Second}
	if edit != nil {
		edit(&cfg)
	}
	m, err := anthropic.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return m
}

func userRequest(text string) model.Request {
	return model.Request{Messages: []core.Message{{Role: "user", Content: text}}}
}

// asJSON re-encodes v, normalising for comparison.
func asJSON(t *testing.T, v any) string {
	t.Helper()
	if raw, ok := v.(json.RawMessage); ok {
		var x any
		if err := json.Unmarshal(raw, &x); err != nil {
			t.Fatalf("invalid JSON %s: %v", raw, err)
		}
		v = x
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestStreamedTextAndUsage(t *testing.T) {
	srv := anthropictest.NewServer(t)
	srv.Push(anthropictest.Reply{
		Blocks: []anthropictest.Block{{Type: "text", Text: "Hello, world! How are you today?", Chunks: 4}},
		Usage:  anthropictest.Usage{InputTokens: 12, OutputTokens: 7, CacheCreationInputTokens: 3, CacheReadInputTokens: 5},
	})
	m := newModel(t, srv, nil)
	var c testutil.Deltas
	resp, err := m.Generate(context.Background(), userRequest("hi"), c.On)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	content, reasoning, n := c.Text()
	if n != 4 || content != "Hello, world! How are you today?" || reasoning != "" {
		t.Fatalf("deltas: %d pieces %q reasoning %q", n, content, reasoning)
	}
	if c.List()[0].Content != "Hello, w" {
		t.Errorf("first delta %q: not in order", c.List()[0].Content)
	}
	if resp.Content != content || len(resp.ToolCalls) != 0 {
		t.Fatalf("response %+v", resp)
	}
	want := core.Metrics{InputTokens: 20, OutputTokens: 7, TotalTokens: 27}
	if resp.Usage != want {
		t.Fatalf("usage %+v, want %+v", resp.Usage, want)
	}
	if m.Provider() != "anthropic" || m.ID() != "claude-sonnet-4-5" {
		t.Fatalf("provider %q id %q", m.Provider(), m.ID())
	}
}

func TestToolUseBlocksReassembled(t *testing.T) {
	srv := anthropictest.NewServer(t)
	srv.Push(anthropictest.Reply{Blocks: []anthropictest.Block{
		anthropictest.Text("Let me compute both."),
		{Type: "tool_use", ID: "toolu_01A", Name: "calculator", Input: json.RawMessage(`{"expression": "(2+3)*4", "note": "first"}`), Chunks: 6},
		{Type: "tool_use", ID: "toolu_01B", Name: "lookup", Input: json.RawMessage(`{"query": {"city": "Zürich", "days": [1, 2, 3]}}`), Chunks: 9},
		anthropictest.ToolUse("toolu_01C", "now", ""),
	}, Usage: anthropictest.Usage{InputTokens: 50, OutputTokens: 30}})
	m := newModel(t, srv, nil)
	var c testutil.Deltas
	resp, err := m.Generate(context.Background(), userRequest("compute"), c.On)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if resp.Content != "Let me compute both." {
		t.Fatalf("content %q", resp.Content)
	}
	if len(resp.ToolCalls) != 3 {
		t.Fatalf("tool calls %+v", resp.ToolCalls)
	}
	want := []struct{ id, name, args string }{
		{"toolu_01A", "calculator", `{"expression":"(2+3)*4","note":"first"}`},
		{"toolu_01B", "lookup", `{"query":{"city":"Zürich","days":[1,2,3]}}`},
		{"toolu_01C", "now", `{}`},
	}
	for i, w := range want {
		got := resp.ToolCalls[i]
		if got.ID != w.id || got.Name != w.name || asJSON(t, got.Arguments) != w.args {
			t.Errorf("call %d: %s %s %s, want %+v", i, got.ID, got.Name, got.Arguments, w)
		}
	}
	if resp.Usage.TotalTokens != 80 {
		t.Errorf("usage %+v", resp.Usage)
	}
}

func TestThinkingDeltasAreReasoning(t *testing.T) {
	srv := anthropictest.NewServer(t)
	srv.Push(
		anthropictest.Reply{Blocks: []anthropictest.Block{
			{Type: "thinking", Text: "The user wants a sum. 2+3 is 5.", Chunks: 3},
			anthropictest.Text("5"),
		}},
		anthropictest.TextReply("done"),
	)
	m := newModel(t, srv, func(c *anthropic.Config) { c.ThinkingBudget = 2048 })
	var c testutil.Deltas
	resp, err := m.Generate(context.Background(), userRequest("2+3?"), c.On)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	content, reasoning, n := c.Text()
	if reasoning != "The user wants a sum. 2+3 is 5." || content != "5" || n != 4 {
		t.Fatalf("reasoning %q content %q (%d deltas)", reasoning, content, n)
	}
	if resp.Content != "5" {
		t.Fatalf("content %q", resp.Content)
	}
	body := srv.Requests()[0].Body
	if got := asJSON(t, body["thinking"]); got != `{"budget_tokens":2048,"display":"summarized","type":"enabled"}` {
		t.Errorf("thinking %s", got)
	}
	if body["max_tokens"] != float64(2048+4096) {
		t.Errorf("max_tokens %v", body["max_tokens"])
	}

	// A tool-result continuation goes without thinking: the API would want
	// the turn's signed thinking blocks back, which core.Message cannot hold.
	_, err = m.Generate(context.Background(), model.Request{Messages: []core.Message{
		{Role: "user", Content: "2+3?"},
		{Role: "assistant", ToolCalls: []core.ToolCall{{ID: "toolu_1", Name: "calculator", Arguments: json.RawMessage(`{"expression":"2+3"}`)}}},
		{Role: "tool", ToolCallID: "toolu_1", Content: "5"},
	}}, nil)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if th, ok := srv.Requests()[1].Body["thinking"]; ok {
		t.Errorf("continuation carried thinking %v", th)
	}
}

func TestRequestMapping(t *testing.T) {
	srv := anthropictest.NewServer(t)
	srv.Push(anthropictest.TextReply("ok"))
	m := newModel(t, srv, func(c *anthropic.Config) {
		c.MaxTokens = 1000
		c.Headers = map[string]string{"X-Trace": "abc"}
	})
	req := model.Request{
		Messages: []core.Message{
			{Role: "system", Content: "You are terse."},
			{Role: "system", Content: "Answer in English."},
			{Role: "user", Content: "What is 2+3 and 4*5?"},
			{Role: "user", Content: "Be quick."},
			{Role: "assistant", Content: "Checking.", ToolCalls: []core.ToolCall{
				{ID: "toolu_a", Name: "calculator", Arguments: json.RawMessage(`{"expression":"2+3"}`)},
				{ID: "toolu_b", Name: "noop"},
			}},
			{Role: "tool", ToolCallID: "toolu_a", Name: "calculator", Content: "5"},
			{Role: "tool", ToolCallID: "toolu_b", Name: "noop", Content: "20"},
		},
		Tools: []core.ToolInfo{tool.Calculator().Info(), {Name: "noop", Description: "Does nothing."}},
	}
	if _, err := m.Generate(context.Background(), req, nil); err != nil {
		t.Fatalf("Generate: %v", err)
	}
	reqs := srv.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	r := reqs[0]
	if r.Method != "POST" || r.Path != "/v1/messages" {
		t.Fatalf("%s %s", r.Method, r.Path)
	}
	if got := r.Header.Get("x-api-key"); got != testKey {
		t.Errorf("x-api-key %q", got)
	}
	if r.Header.Get("anthropic-version") == "" {
		t.Errorf("no anthropic-version header")
	}
	if got := r.Header.Get("Authorization"); got != "" {
		t.Errorf("authorization %q also sent", got)
	}
	if got := r.Header.Get("X-Trace"); got != "abc" {
		t.Errorf("custom header %q", got)
	}
	var body struct {
		Model     string          `json:"model"`
		MaxTokens int64           `json:"max_tokens"`
		Stream    bool            `json:"stream"`
		System    json.RawMessage `json:"system"`
		Messages  []struct {
			Role    string            `json:"role"`
			Content []json.RawMessage `json:"content"`
		} `json:"messages"`
		Tools       []json.RawMessage `json:"tools"`
		Thinking    json.RawMessage   `json:"thinking"`
		Temperature *float64          `json:"temperature"`
	}
	if err := r.Decode(&body); err != nil {
		t.Fatal(err)
	}
	if body.Model != "claude-sonnet-4-5" || body.MaxTokens != 1000 || !body.Stream || body.Thinking != nil || body.Temperature != nil {
		t.Errorf("body %s", r.Raw)
	}
	if got := asJSON(t, body.System); got != `[{"text":"You are terse.\n\nAnswer in English.","type":"text"}]` {
		t.Errorf("system %s", got)
	}
	roles := []string{}
	for _, msg := range body.Messages {
		roles = append(roles, msg.Role)
	}
	if !reflect.DeepEqual(roles, []string{"user", "assistant", "user"}) {
		t.Fatalf("roles %v in %s", roles, r.Raw)
	}
	wantContent := [][]string{
		{`{"text":"What is 2+3 and 4*5?","type":"text"}`, `{"text":"Be quick.","type":"text"}`},
		{
			`{"text":"Checking.","type":"text"}`,
			`{"id":"toolu_a","input":{"expression":"2+3"},"name":"calculator","type":"tool_use"}`,
			`{"id":"toolu_b","input":{},"name":"noop","type":"tool_use"}`,
		},
		{
			`{"content":[{"text":"5","type":"text"}],"tool_use_id":"toolu_a","type":"tool_result"}`,
			`{"content":[{"text":"20","type":"text"}],"tool_use_id":"toolu_b","type":"tool_result"}`,
		},
	}
	for i, want := range wantContent {
		var got []string
		for _, c := range body.Messages[i].Content {
			got = append(got, asJSON(t, c))
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("message %d content:\n got %v\nwant %v", i, got, want)
		}
	}
	wantTools := []string{
		`{"description":"Evaluates an arithmetic expression with + - * / % ^ and parentheses, e.g. (2+3)*4.","input_schema":{"properties":{"expression":{"description":"The expression to evaluate.","type":"string"}},"required":["expression"],"type":"object"},"name":"calculator"}`,
		`{"description":"Does nothing.","input_schema":{"properties":{},"type":"object"},"name":"noop"}`,
	}
	var gotTools []string
	for _, tl := range body.Tools {
		gotTools = append(gotTools, asJSON(t, tl))
	}
	if !reflect.DeepEqual(gotTools, wantTools) {
		t.Errorf("tools:\n got %v\nwant %v", gotTools, wantTools)
	}
}

func TestSchemaExtrasKept(t *testing.T) {
	srv := anthropictest.NewServer(t)
	srv.Push(anthropictest.TextReply("ok"))
	m := newModel(t, srv, nil)
	req := userRequest("hi")
	req.Tools = []core.ToolInfo{{Name: "search", Parameters: map[string]any{
		"type":                 "object",
		"properties":           map[string]any{"q": map[string]any{"type": "string"}},
		"required":             []any{"q"},
		"additionalProperties": false,
	}}}
	if _, err := m.Generate(context.Background(), req, nil); err != nil {
		t.Fatalf("Generate: %v", err)
	}
	tools, _ := srv.Requests()[0].Body["tools"].([]any)
	if len(tools) != 1 {
		t.Fatalf("tools %v", tools)
	}
	got := asJSON(t, tools[0])
	want := `{"input_schema":{"additionalProperties":false,"properties":{"q":{"type":"string"}},"required":["q"],"type":"object"},"name":"search"}`
	if got != want {
		t.Errorf("tool %s, want %s", got, want)
	}
}

func TestTemperatureUsesLegacyVersion(t *testing.T) {
	srv := anthropictest.NewServer(t)
	srv.Push(anthropictest.TextReply("ok"))
	temp := 0.25
	m := newModel(t, srv, func(c *anthropic.Config) { c.Temperature = &temp })
	if _, err := m.Generate(context.Background(), userRequest("hi"), nil); err != nil {
		t.Fatalf("Generate: %v", err)
	}
	r := srv.Requests()[0]
	if r.Body["temperature"] != 0.25 {
		t.Errorf("temperature %v", r.Body["temperature"])
	}
	if v := r.Header.Get("anthropic-version"); v != "2023-06-01" {
		t.Errorf("anthropic-version %q", v)
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	srv := anthropictest.NewServer(t)
	rl := anthropictest.ErrorReply(429, "rate_limit_error", "Number of request tokens has exceeded your rate limit.")
	rl.RetryAfter = "1"
	srv.Push(rl, anthropictest.TextReply("finally"))
	m := newModel(t, srv, nil)
	start := time.Now()
	resp, err := m.Generate(context.Background(), userRequest("hi"), nil)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if elapsed := time.Since(start); elapsed < 950*time.Millisecond {
		t.Errorf("retried after %v, want ≥ 1s (retry-after)", elapsed)
	}
	if resp.Content != "finally" || len(srv.Requests()) != 2 {
		t.Fatalf("content %q after %d requests", resp.Content, len(srv.Requests()))
	}
	if got := srv.Requests()[1].Header.Get("X-Stainless-Retry-Count"); got != "1" {
		t.Errorf("retry count header %q", got)
	}
}

func TestServerErrorsRetried(t *testing.T) {
	srv := anthropictest.NewServer(t)
	fast := anthropictest.ErrorReply(500, "", "")
	fast.Headers = map[string]string{"retry-after-ms": "10"}
	srv.Push(anthropictest.ErrorReply(529, "overloaded_error", "Overloaded"), fast, anthropictest.TextReply("up again"))
	m := newModel(t, srv, nil)
	resp, err := m.Generate(context.Background(), userRequest("hi"), nil)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if resp.Content != "up again" || len(srv.Requests()) != 3 {
		t.Fatalf("content %q after %d requests", resp.Content, len(srv.Requests()))
	}
}

func TestRetriesExhausted(t *testing.T) {
	srv := anthropictest.NewServer(t)
	busy := anthropictest.ErrorReply(529, "overloaded_error", "Overloaded")
	busy.Headers = map[string]string{"retry-after-ms": "5"}
	srv.Respond(func(anthropictest.Request) anthropictest.Reply { return busy })
	m := newModel(t, srv, func(c *anthropic.Config) { c.MaxRetries = 1 })
	_, err := m.Generate(context.Background(), userRequest("hi"), nil)
	if err == nil || !strings.Contains(err.Error(), "529 overloaded_error: Overloaded") {
		t.Fatalf("err %v", err)
	}
	if n := len(srv.Requests()); n != 2 {
		t.Fatalf("%d requests, want 2", n)
	}
}

func TestAuthErrorNotRetried(t *testing.T) {
	srv := anthropictest.NewServer(t)
	srv.RequireAPIKey("the-right-key")
	m := newModel(t, srv, nil)
	_, err := m.Generate(context.Background(), userRequest("hi"), nil)
	if err == nil {
		t.Fatal("no error")
	}
	if !strings.HasPrefix(err.Error(), "anthropic: 401 authentication_error: invalid x-api-key") {
		t.Fatalf("err %q", err)
	}
	var ae *sdk.Error
	if !errors.As(err, &ae) || ae.StatusCode != 401 {
		t.Fatalf("err %v does not unwrap to the SDK's error", err)
	}
	if n := len(srv.Requests()); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
}

func TestNegativeMaxRetriesMeansNone(t *testing.T) {
	srv := anthropictest.NewServer(t)
	srv.Push(anthropictest.ErrorReply(529, "", ""), anthropictest.TextReply("never"))
	m := newModel(t, srv, func(c *anthropic.Config) { c.MaxRetries = -1 })
	_, err := m.Generate(context.Background(), userRequest("hi"), nil)
	if err == nil || !strings.Contains(err.Error(), "529 overloaded_error") {
		t.Fatalf("err %v", err)
	}
	if n := len(srv.Requests()); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
}

func TestStreamErrorEvent(t *testing.T) {
	srv := anthropictest.NewServer(t)
	srv.Push(anthropictest.Reply{
		Blocks:      []anthropictest.Block{anthropictest.Text("partial answer")},
		StreamError: &anthropictest.Error{Type: "overloaded_error", Message: "Overloaded"},
	})
	m := newModel(t, srv, nil)
	var c testutil.Deltas
	resp, err := m.Generate(context.Background(), userRequest("hi"), c.On)
	if err == nil {
		t.Fatalf("no error, response %+v", resp)
	}
	if !strings.Contains(err.Error(), "overloaded_error: Overloaded") {
		t.Fatalf("err %q", err)
	}
	if content, _, _ := c.Text(); content != "partial answer" {
		t.Errorf("streamed %q before the error", content)
	}
	if n := len(srv.Requests()); n != 1 {
		t.Fatalf("%d requests: a mid-stream error must not be retried", n)
	}
}

func TestOnDeltaErrorStops(t *testing.T) {
	srv := anthropictest.NewServer(t)
	srv.Push(anthropictest.Reply{
		Blocks:     []anthropictest.Block{{Type: "text", Text: "one two three four five six", Chunks: 6}},
		ChunkDelay: 20 * time.Millisecond,
	})
	m := newModel(t, srv, nil)
	stop := errors.New("client went away")
	calls := 0
	_, err := m.Generate(context.Background(), userRequest("hi"), func(model.Delta) error {
		calls++
		if calls == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("err %v, want the callback's", err)
	}
	if calls != 2 {
		t.Fatalf("onDelta called %d times after failing", calls)
	}
}

func TestContextCancelReturnsPromptly(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reply anthropictest.Reply
	}{
		{"before headers", anthropictest.Reply{Delay: 30 * time.Second}},
		{"mid stream", anthropictest.Reply{Stall: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := anthropictest.NewServer(t)
			srv.Push(tc.reply)
			m := newModel(t, srv, func(c *anthropic.Config) { c.Timeout = time.Minute })
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(150*time.Millisecond, cancel)
			start := time.Now()
			_, err := m.Generate(ctx, userRequest("hi"), nil)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err %v, want context.Canceled", err)
			}
			if elapsed := time.Since(start); elapsed > 2*time.Second {
				t.Fatalf("returned after %v", elapsed)
			}
		})
	}
}

func TestTimeoutOnStalledServer(t *testing.T) {
	t.Run("mid stream", func(t *testing.T) {
		srv := anthropictest.NewServer(t)
		srv.Push(anthropictest.Reply{Stall: true})
		m := newModel(t, srv, func(c *anthropic.Config) { c.Timeout = 300 * time.Millisecond })
		start := time.Now()
		_, err := m.Generate(context.Background(), userRequest("hi"), nil)
		if err == nil {
			t.Fatal("no error")
		}
		if elapsed := time.Since(start); elapsed > 2*time.Second {
			t.Fatalf("returned after %v", elapsed)
		}
		if !strings.Contains(err.Error(), "deadline exceeded") {
			t.Errorf("err %q does not say it timed out", err)
		}
	})
	t.Run("before headers, retried once", func(t *testing.T) {
		srv := anthropictest.NewServer(t)
		srv.Respond(func(anthropictest.Request) anthropictest.Reply { return anthropictest.Reply{Delay: 30 * time.Second} })
		m := newModel(t, srv, func(c *anthropic.Config) {
			c.Timeout = 200 * time.Millisecond
			c.MaxRetries = 1
		})
		start := time.Now()
		_, err := m.Generate(context.Background(), userRequest("hi"), nil)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err %v, want a deadline error", err)
		}
		if elapsed := time.Since(start); elapsed > 3*time.Second {
			t.Fatalf("returned after %v", elapsed)
		}
		if n := len(srv.Requests()); n != 2 {
			t.Fatalf("%d attempts, want 2", n)
		}
	})
}

func TestNewValidatesConfig(t *testing.T) {
	t.Setenv("ANTHROPIC_API_KEY", "")
	if _, err := anthropic.New(anthropic.Config{APIKey: "k"}); err == nil {
		t.Error("no error without a model")
	}
	if _, err := anthropic.New(anthropic.Config{Model: "m"}); err == nil || !strings.Contains(err.Error(), "ANTHROPIC_API_KEY") {
		t.Errorf("without a key: %v", err)
	}
	if _, err := anthropic.New(anthropic.Config{Model: "m", APIKey: "k", MaxTokens: 2000, ThinkingBudget: 2000}); err == nil {
		t.Error("no error with max tokens not above the thinking budget")
	}
	if _, err := anthropic.New(anthropic.Config{Model: "m", Headers: map[string]string{"Authorization": "Bearer x"}}); err != nil {
		t.Errorf("key in headers: %v", err)
	}

	srv := anthropictest.NewServer(t)
	srv.Push(anthropictest.TextReply("ok"))
	t.Setenv("ANTHROPIC_API_KEY", "from-env")
	m := newModel(t, srv, func(c *anthropic.Config) { c.APIKey = "" })
	if _, err := m.Generate(context.Background(), userRequest("hi"), nil); err != nil {
		t.Fatalf("Generate: %v", err)
	}
	r := srv.Requests()[0]
	if got := r.Header.Get("x-api-key"); got != "from-env" {
		t.Errorf("x-api-key %q, want the environment's", got)
	}
	if r.Body["max_tokens"] != float64(4096) {
		t.Errorf("default max_tokens %v", r.Body["max_tokens"])
	}
}

func TestAgentToolLoop(t *testing.T) {
	srv := anthropictest.NewServer(t)
	srv.Push(
		anthropictest.Reply{
			Blocks: []anthropictest.Block{
				anthropictest.Text("I'll use the calculator."),
				{Type: "tool_use", ID: "toolu_01Calc", Name: "calculator", Input: json.RawMessage(`{"expression":"(2+3)*4"}`), Chunks: 4},
			},
			Usage: anthropictest.Usage{InputTokens: 100, OutputTokens: 20},
		},
		anthropictest.Reply{
			Blocks: []anthropictest.Block{anthropictest.Text("The answer is 20.")},
			Usage:  anthropictest.Usage{InputTokens: 140, OutputTokens: 8},
		},
	)
	m := newModel(t, srv, nil)
	a, err := agent.New(agent.Config{ID: "calc", Instructions: "Use the calculator for arithmetic.", Model: m, Tools: []*tool.Tool{tool.Calculator()}})
	if err != nil {
		t.Fatal(err)
	}
	out, events, err := testutil.Execute(context.Background(), a, "What is (2+3)*4?")
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	if out.Content != "The answer is 20." {
		t.Fatalf("content %q", out.Content)
	}
	if out.Metrics.InputTokens != 240 || out.Metrics.OutputTokens != 28 {
		t.Errorf("metrics %+v", out.Metrics)
	}
	var started, completed *core.ToolExecution
	for _, ev := range events {
		switch ev.Event {
		case core.EventToolCallStarted:
			started = ev.Tool
		case core.EventToolCallCompleted:
			completed = ev.Tool
		case core.EventToolCallError:
			t.Fatalf("tool error: %s", ev.Error)
		}
	}
	if started == nil || started.ToolCallID != "toolu_01Calc" || started.ToolName != "calculator" {
		t.Fatalf("ToolCallStarted %+v", started)
	}
	if completed == nil || completed.Result != "20" {
		t.Fatalf("ToolCallCompleted %+v", completed)
	}

	reqs := srv.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	var second struct {
		System   []map[string]any `json:"system"`
		Messages []struct {
			Role    string           `json:"role"`
			Content []map[string]any `json:"content"`
		} `json:"messages"`
	}
	if err := reqs[1].Decode(&second); err != nil {
		t.Fatal(err)
	}
	if len(second.System) != 1 || second.System[0]["text"] != "Use the calculator for arithmetic." {
		t.Errorf("system %v", second.System)
	}
	if len(second.Messages) != 3 {
		t.Fatalf("second request messages: %s", reqs[1].Raw)
	}
	asst, last := second.Messages[1], second.Messages[2]
	if asst.Role != "assistant" || len(asst.Content) != 2 || asst.Content[1]["type"] != "tool_use" || asst.Content[1]["id"] != "toolu_01Calc" {
		t.Errorf("assistant turn %+v", asst)
	}
	if last.Role != "user" || len(last.Content) != 1 {
		t.Fatalf("last turn %+v", last)
	}
	res := last.Content[0]
	if res["type"] != "tool_result" || res["tool_use_id"] != "toolu_01Calc" || asJSON(t, res["content"]) != `[{"text":"20","type":"text"}]` {
		t.Errorf("tool result %v", res)
	}
}

func TestScriptJSON(t *testing.T) {
	replies, err := anthropictest.ParseScript([]byte(`[
		{"blocks": [{"type": "thinking", "text": "hm"}, {"type": "tool_use", "id": "toolu_x", "name": "calculator", "input": {"expression": "1+1"}}],
		 "usage": {"input_tokens": 3, "output_tokens": 4}, "chunk_delay": "5ms"},
		{"status": 429, "retry_after": "0", "error": {"type": "rate_limit_error", "message": "slow"}},
		{"delay": "10ms", "blocks": [{"type": "text", "text": "two", "chunks": 1}]}
	]`))
	if err != nil {
		t.Fatal(err)
	}
	if len(replies) != 3 || replies[0].ChunkDelay != 5*time.Millisecond || replies[2].Delay != 10*time.Millisecond || replies[1].Status != 429 {
		t.Fatalf("replies %+v", replies)
	}
	if _, err := anthropictest.ParseScript([]byte(`[{"blokcs": []}]`)); err == nil {
		t.Error("a misspelt field was accepted")
	}
	if _, err := anthropictest.ParseScript([]byte(`[{"blocks": [{"type": "image"}]}]`)); err == nil {
		t.Error("an unknown block type was accepted")
	}
	b, err := json.Marshal(replies[2])
	if err != nil || !strings.Contains(string(b), `"delay":"10ms"`) {
		t.Errorf("marshal %s %v", b, err)
	}

	srv := anthropictest.NewServer(t)
	srv.Push(replies...)
	m := newModel(t, srv, nil)
	var c testutil.Deltas
	resp, err := m.Generate(context.Background(), userRequest("hi"), c.On)
	if err != nil {
		t.Fatal(err)
	}
	if _, reasoning, _ := c.Text(); reasoning != "hm" || len(resp.ToolCalls) != 1 || resp.Usage.TotalTokens != 7 {
		t.Fatalf("response %+v reasoning %q", resp, reasoning)
	}
	resp, err = m.Generate(context.Background(), userRequest("hi"), nil)
	if err != nil || resp.Content != "two" {
		t.Fatalf("after the 429: %+v %v", resp, err)
	}
}
