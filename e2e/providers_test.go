package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core/model/anthropic/anthropictest"
	"github.com/agentgate/agentgate/core/model/openai/openaitest"
)

// The real model providers, end to end: the gateway binary talks to a
// loopback server speaking the provider's wire format (streamed chunks,
// tool-call deltas, usage, errors), through the official SDK. A REST run
// goes through a tool loop (model → calculator → model), then a second
// run in the same session carries the history.

const providerConfig = `
models:
  llm:
    provider: %s
    model: %s
    base_url: %s
    api_key: test-key
    max_retries: 2
    timeout: 20s
agents:
  - id: calc
    model: llm
    instructions: Use the calculator for arithmetic.
    tools: [calculator]
`

// toolLoopRun runs the calc agent (streamed) and checks the events of a
// model → calculator → model loop; it returns the frames' events and the
// RunCompleted payload.
func toolLoopRun(t *testing.T, g *gateway, form url.Values) ([]event, map[string]any) {
	t.Helper()
	ctx := testCtx(t, 30*time.Second)
	resp := g.postForm(t, ctx, "/agents/calc/runs", form)
	expectSSE(t, resp)
	defer resp.Body.Close()
	frames := readFrames(t, resp.Body)
	evs := events(t, frames, 0)
	var seq []string
	for _, ev := range evs {
		if ev.Event != "RunContent" || seq[len(seq)-1] != "RunContent" {
			seq = append(seq, ev.Event)
		}
	}
	want := "RunStarted,ModelRequestStarted,RunContent,ModelRequestCompleted,ToolCallStarted,ToolCallCompleted," +
		"ModelRequestStarted,RunContent,ModelRequestCompleted,RunContentCompleted,RunCompleted"
	if got := strings.Join(seq, ","); got != want {
		t.Fatalf("events:\n got %s\nwant %s", got, want)
	}
	var deltas int
	for _, ev := range evs {
		if ev.Event == "RunContent" {
			deltas++
		}
		if ev.Event == "ToolCallCompleted" && ev.Content != "42" {
			t.Fatalf("calculator returned %q", ev.Content)
		}
	}
	if deltas < 2 {
		t.Fatalf("the reply arrived in %d delta(s), want it streamed", deltas)
	}
	var done map[string]any
	decode(t, []byte(frames[len(frames)-1].Data), &done)
	return evs, done
}

func checkMetrics(t *testing.T, done map[string]any, in, out float64) {
	t.Helper()
	m, _ := done["metrics"].(map[string]any)
	if m["input_tokens"] != in || m["output_tokens"] != out || m["total_tokens"] != in+out {
		t.Fatalf("run metrics %v, want input %v output %v", m, in, out)
	}
	if ttft, _ := m["time_to_first_token"].(float64); ttft <= 0 {
		t.Fatalf("time_to_first_token %v", m["time_to_first_token"])
	}
	if d, _ := m["duration"].(float64); d <= 0 {
		t.Fatalf("duration %v", m["duration"])
	}
}

func TestOpenAIProviderToolLoop(t *testing.T) {
	t.Parallel()
	srv := openaitest.NewServer(t)
	g := startGateway(t, fmt.Sprintf(providerConfig, "openai", "gpt-test", srv.URL()))
	srv.Push(
		// A rate limit first: the SDK waits Retry-After and tries again.
		openaitest.Reply{Error: &openaitest.Error{Status: 429, Message: "slow down", RetryAfter: "1"}},
		openaitest.Reply{Text: "Let me compute.", ToolCalls: []openaitest.ToolCall{{Name: "calculator", Arguments: `{"expression":"6*7"}`}},
			Usage: &openaitest.Usage{PromptTokens: 20, CompletionTokens: 5}},
		openaitest.Reply{Text: "Six times seven is 42.", Chunks: 4, Usage: &openaitest.Usage{PromptTokens: 40, CompletionTokens: 7}},
	)
	start := time.Now()
	evs, done := toolLoopRun(t, g, url.Values{"message": {"what is 6*7?"}, "stream": {"true"}})
	if time.Since(start) < time.Second {
		t.Fatalf("the 429's Retry-After (1s) was not honoured")
	}
	if done["content"] != "Six times seven is 42." {
		t.Fatalf("content %q", done["content"])
	}
	checkMetrics(t, done, 60, 12)

	reqs := srv.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d model requests, want 3 (one refused with 429)", len(reqs))
	}
	second := reqs[2].Body
	if second.Model != "gpt-test" || len(second.Tools) != 1 || reqs[2].Header.Get("Authorization") != "Bearer test-key" {
		t.Fatalf("request: model %q, %d tools, auth %q", second.Model, len(second.Tools), reqs[2].Header.Get("Authorization"))
	}
	roles := []string{}
	for _, m := range second.Messages {
		roles = append(roles, m.Role)
	}
	last := second.Messages[len(second.Messages)-1]
	if strings.Join(roles, ",") != "system,user,assistant,tool" || last.Content != "42" || last.ToolCallID != second.Messages[2].ToolCalls[0].ID {
		t.Fatalf("second request messages: %+v", second.Messages)
	}

	// A second run in the same session, blocking: the model sees the history.
	srv.Push(openaitest.Reply{Text: "You asked about 6*7.", Usage: &openaitest.Usage{PromptTokens: 50, CompletionTokens: 6}})
	ctx := testCtx(t, 20*time.Second)
	b := expectStatus(t, g.postForm(t, ctx, "/agents/calc/runs", url.Values{"message": {"what did I ask?"}, "stream": {"false"},
		"session_id": {evs[0].SessionID}}), http.StatusOK)
	var r run
	decode(t, b, &r)
	if r.Status != "COMPLETED" || r.Content != "You asked about 6*7." {
		t.Fatalf("second run: %s", b)
	}
	hist := srv.Requests()[3].Body.Messages
	if len(hist) < 5 || hist[1].Content != "what is 6*7?" || hist[len(hist)-1].Content != "what did I ask?" {
		t.Fatalf("history sent: %+v", hist)
	}

	// The server refuses the key: the run ends with RunError model_error,
	// naming the status; nothing hangs.
	srv.Push(openaitest.Reply{Error: &openaitest.Error{Status: 401, Message: "Incorrect API key provided", Type: "invalid_request_error"}})
	b = expectStatus(t, g.postForm(t, ctx, "/agents/calc/runs", url.Values{"message": {"hi"}, "stream": {"false"}}), http.StatusOK)
	decode(t, b, &r)
	if r.Status != "ERROR" || !strings.Contains(string(b), "401") || !strings.Contains(string(b), "Incorrect API key") {
		t.Fatalf("failed run: %s", b)
	}
}

func TestAnthropicProviderToolLoop(t *testing.T) {
	t.Parallel()
	srv := anthropictest.NewServer(t)
	srv.RequireAPIKey("test-key")
	g := startGateway(t, fmt.Sprintf(providerConfig, "anthropic", "claude-test", srv.URL()))
	srv.Push(
		anthropictest.Reply{Status: 529, Error: &anthropictest.Error{Type: "overloaded_error", Message: "Overloaded"}},
		anthropictest.Reply{Blocks: []anthropictest.Block{anthropictest.Text("Let me compute."),
			anthropictest.ToolUse("", "calculator", `{"expression":"6*7"}`)},
			Usage: anthropictest.Usage{InputTokens: 20, OutputTokens: 5}},
		anthropictest.Reply{Blocks: []anthropictest.Block{{Type: "text", Text: "Six times seven is 42.", Chunks: 4}},
			Usage: anthropictest.Usage{InputTokens: 40, OutputTokens: 7}},
	)
	evs, done := toolLoopRun(t, g, url.Values{"message": {"what is 6*7?"}, "stream": {"true"}})
	if done["content"] != "Six times seven is 42." {
		t.Fatalf("content %q", done["content"])
	}
	checkMetrics(t, done, 60, 12)
	reqs := srv.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d model requests, want 3 (one refused with 529)", len(reqs))
	}
	var body struct {
		Model    string `json:"model"`
		System   any    `json:"system"`
		Messages []struct {
			Role    string `json:"role"`
			Content []struct {
				Type      string `json:"type"`
				ToolUseID string `json:"tool_use_id"`
				ID        string `json:"id"`
				Content   any    `json:"content"`
			} `json:"content"`
		} `json:"messages"`
		Tools []map[string]any `json:"tools"`
	}
	if err := reqs[2].Decode(&body); err != nil {
		t.Fatal(err)
	}
	if body.Model != "claude-test" || len(body.Tools) != 1 || body.Tools[0]["input_schema"] == nil || !strings.Contains(fmt.Sprint(body.System), "calculator") {
		t.Fatalf("request: %s", reqs[2].Raw)
	}
	if n := len(body.Messages); n != 3 || body.Messages[1].Role != "assistant" || body.Messages[2].Role != "user" ||
		body.Messages[2].Content[0].Type != "tool_result" || !strings.Contains(fmt.Sprint(body.Messages[2].Content[0].Content), "42") {
		t.Fatalf("second request messages: %s", reqs[2].Raw)
	}
	var toolUseID string
	for _, c := range body.Messages[1].Content {
		if c.Type == "tool_use" {
			toolUseID = c.ID
		}
	}
	if toolUseID == "" || body.Messages[2].Content[0].ToolUseID != toolUseID {
		t.Fatalf("tool_result does not answer the tool_use: %s", reqs[2].Raw)
	}

	// Same session, blocking: the history reaches the model.
	srv.Push(anthropictest.TextReply("You asked about 6*7."))
	ctx := testCtx(t, 20*time.Second)
	b := expectStatus(t, g.postForm(t, ctx, "/agents/calc/runs", url.Values{"message": {"what did I ask?"}, "stream": {"false"},
		"session_id": {evs[0].SessionID}}), http.StatusOK)
	var r run
	decode(t, b, &r)
	if r.Status != "COMPLETED" || r.Content != "You asked about 6*7." {
		t.Fatalf("second run: %s", b)
	}
	if raw := string(srv.Requests()[3].Raw); !strings.Contains(raw, "what is 6*7?") || !strings.Contains(raw, "what did I ask?") {
		t.Fatalf("history not sent: %s", raw)
	}

	// A mid-stream error event ends the run with RunError.
	srv.Push(anthropictest.Reply{Blocks: []anthropictest.Block{anthropictest.Text("partial")},
		StreamError: &anthropictest.Error{Type: "api_error", Message: "Internal server error"}})
	b = expectStatus(t, g.postForm(t, ctx, "/agents/calc/runs", url.Values{"message": {"hi"}, "stream": {"false"}}), http.StatusOK)
	decode(t, b, &r)
	if r.Status != "ERROR" || !strings.Contains(string(b), "Internal server error") {
		t.Fatalf("failed run: %s", b)
	}
	var parsed map[string]any
	_ = json.Unmarshal(b, &parsed)
	if parsed["error_type"] != nil && parsed["error_type"] != "model_error" {
		t.Fatalf("error_type %v", parsed["error_type"])
	}
}
