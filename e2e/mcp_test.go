package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	mcpclient "github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	mcpgo "github.com/mark3labs/mcp-go/mcp"

	"github.com/agentgate/agentgate/auth"
)

// The MCP interface of the real binary, driven by mcp-go's client over
// Streamable HTTP (protocol 2026-07-28, and 2025-11-25 with sessions),
// with raw HTTP for the refusals (401/403) and the Origin guard.

// mcpAgents are the agents of the MCP gateways: story streams a short
// answer, slow streams for about 2 s, approval-demo pauses for a
// confirmation, broken fails.
var mcpAgents = fmt.Sprintf(`
http:
  heartbeat: 200ms
models:
  story:
    provider: scripted
    model: story-1
    chunks: 5
    script:
      - reply: "Once upon a time a gateway spoke MCP."
  slow:
    provider: scripted
    model: slow-1
    chunks: 40
    chunk_delay: 50ms
    script:
      - reply: "%s"
  approval:
    provider: scripted
    model: approval-1
    chunks: 2
    script:
      - tool_calls:
          - name: calculator
            arguments: {expression: "6*7"}
        reply: "The calculator says {{tool_result}}."
        rejected_reply: "Not computed: {{note}}"
  broken:
    provider: scripted
    model: broken-1
    script:
      - error: "the model is down"
agents:
  - id: story
    name: Story
    description: Tells a very short story.
    model: story
  - id: slow
    name: Slow
    model: slow
  - id: approval-demo
    name: Approval demo
    description: Asks before it computes.
    model: approval
    tools:
      - name: calculator
        requires_confirmation: true
  - id: broken
    name: Broken
    model: broken
`, words(40))

const mcpStory = "Once upon a time a gateway spoke MCP."

// mcpJWTSecret signs the tokens of the jwt-mode MCP gateways.
const mcpJWTSecret = "e2e-mcp-hs256-secret-0123456789abcdef-01234"

func mcpJWTConfig(extra string) string {
	return "auth_mode: jwt\njwt_key: \"" + mcpJWTSecret + "\"\nauth:\n  jwt_algorithm: HS256\n" + extra + mcpAgents
}

func mcpBearer(tok string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + tok}
}

func mcpToken(t testing.TB, sub string, scopes ...string) string {
	t.Helper()
	tok, err := auth.MintJWT(auth.MintConfig{Algorithm: auth.AlgHS256}, mcpJWTSecret, sub, scopes, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// mcpConnect starts an mcp-go client on g's /mcp: legacy pins 2025-11-25.
func mcpConnect(t testing.TB, g *gateway, legacy bool, headers map[string]string) (*mcpclient.Client, error) {
	t.Helper()
	tr, err := transport.NewStreamableHTTP(g.URL+"/mcp", transport.WithHTTPHeaders(headers))
	if err != nil {
		t.Fatal(err)
	}
	var opts []mcpclient.ClientOption
	if legacy {
		opts = append(opts, mcpclient.WithProtocolVersion(mcpgo.LATEST_LEGACY_PROTOCOL_VERSION))
	}
	c := mcpclient.NewClient(tr, opts...)
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = c.Initialize(ctx, mcpgo.InitializeRequest{Params: mcpgo.InitializeParams{
		ClientInfo: mcpgo.Implementation{Name: "agentgate-e2e", Version: "1"}}})
	return c, err
}

// mcpProgress collects a client's progress messages.
type mcpProgress struct {
	mu   sync.Mutex
	msgs []string
	seen chan struct{}
}

func mcpWatch(c *mcpclient.Client) *mcpProgress {
	p := &mcpProgress{seen: make(chan struct{}, 10000)}
	c.OnNotification(func(n mcpgo.JSONRPCNotification) {
		if n.Method != string(mcpgo.MethodNotificationProgress) {
			return
		}
		msg, _ := n.Params.AdditionalFields["message"].(string)
		p.mu.Lock()
		p.msgs = append(p.msgs, msg)
		p.mu.Unlock()
		p.seen <- struct{}{}
	})
	return p
}

func (p *mcpProgress) reset() {
	p.mu.Lock()
	p.msgs = nil
	p.mu.Unlock()
	for len(p.seen) > 0 {
		<-p.seen
	}
}

func (p *mcpProgress) text() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.msgs, "")
}

// mcpResult is a run tool's structured content.
type mcpResult struct {
	RunID        string `json:"run_id"`
	SessionID    string `json:"session_id"`
	AgentID      string `json:"agent_id"`
	Status       string `json:"status"`
	Content      string `json:"content"`
	Error        string `json:"error"`
	ErrorType    string `json:"error_type"`
	PendingTools []struct {
		ToolCallID string `json:"tool_call_id"`
		ToolName   string `json:"tool_name"`
	} `json:"pending_tools"`
	ContinueRun map[string]any `json:"continue_run"`
}

func mcpCall(t testing.TB, ctx context.Context, c *mcpclient.Client, name string, args map[string]any, token any) (*mcpgo.CallToolResult, mcpResult, error) {
	t.Helper()
	req := mcpgo.CallToolRequest{Params: mcpgo.CallToolParams{Name: name, Arguments: args}}
	if token != nil {
		req.Params.Meta = &mcpgo.Meta{ProgressToken: token}
	}
	res, err := c.CallTool(ctx, req)
	var r mcpResult
	if err == nil && res.StructuredContent != nil {
		b, _ := json.Marshal(res.StructuredContent)
		decode(t, b, &r)
	}
	return res, r, err
}

func mcpText(res *mcpgo.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(mcpgo.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// mcpFindRun finds, through REST, the run of agent whose input is input.
func mcpFindRun(t testing.TB, g *gateway, agent, input string, header map[string]string) (run, bool) {
	t.Helper()
	ctx := testCtx(t, 10*time.Second)
	resp := g.do(t, ctx, http.MethodGet, "/sessions?limit=100&component_id="+url.QueryEscape(agent), nil, "", header)
	var page struct {
		Data []struct {
			SessionID string `json:"session_id"`
		} `json:"data"`
	}
	decode(t, expectStatus(t, resp, http.StatusOK), &page)
	for _, s := range page.Data {
		resp := g.do(t, ctx, http.MethodGet, "/sessions/"+s.SessionID+"/runs", nil, "", header)
		var runs []struct {
			run
			Input struct {
				InputContent string `json:"input_content"`
			} `json:"input"`
		}
		decode(t, expectStatus(t, resp, http.StatusOK), &runs)
		for _, r := range runs {
			if r.Input.InputContent == input {
				return r.run, true
			}
		}
	}
	return run{}, false
}

// TestMCPGoClient drives the binary's /mcp with mcp-go's client in both
// protocol eras: tools/list, a streamed run (progress = the deltas), a
// paused run continued, a failed run (isError), and a call whose client
// goes away: in 2026-07-28 closing the stream cancels the run.
func TestMCPGoClient(t *testing.T) {
	t.Parallel()
	g := startGateway(t, mcpAgents)
	for _, era := range []struct {
		name   string
		legacy bool
	}{{"2026-07-28", false}, {"2025-11-25", true}} {
		t.Run(era.name, func(t *testing.T) {
			c, err := mcpConnect(t, g, era.legacy, nil)
			if err != nil {
				t.Fatalf("initialize: %v", err)
			}
			if c.ProtocolVersion() != era.name {
				t.Errorf("negotiated %q, want %s", c.ProtocolVersion(), era.name)
			}
			ctx := testCtx(t, 30*time.Second)
			tools, err := c.ListTools(ctx, mcpgo.ListToolsRequest{})
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, tl := range tools.Tools {
				names = append(names, tl.Name)
			}
			want := "ask_approval-demo ask_broken ask_slow ask_story cancel_run continue_run get_config get_session_runs get_sessions run_agent"
			if strings.Join(names, " ") != want {
				t.Errorf("tools %v, want %s", names, want)
			}

			prog := mcpWatch(c)
			res, r, err := mcpCall(t, ctx, c, "run_agent", map[string]any{"agent_id": "story", "message": "once " + era.name}, "story-"+era.name)
			if err != nil {
				t.Fatal(err)
			}
			if res.IsError || r.Status != "COMPLETED" || r.Content != mcpStory || mcpText(res) != mcpStory {
				t.Fatalf("run_agent: %+v %q", r, mcpText(res))
			}
			if prog.text() != mcpStory {
				t.Errorf("progress deltas %q, want %q", prog.text(), mcpStory)
			}
			stored, _ := g.getRun(t, ctx, "story", r.RunID)
			if stored.Status != "COMPLETED" || stored.SessionID != r.SessionID || stored.Content != mcpStory {
				t.Errorf("stored run %+v", stored)
			}

			_, p, err := mcpCall(t, ctx, c, "ask_approval-demo", map[string]any{"message": "compute"}, nil)
			if err != nil || p.Status != "PAUSED" || len(p.PendingTools) != 1 || p.PendingTools[0].ToolName != "calculator" {
				t.Fatalf("paused: %v %+v", err, p)
			}
			args := p.ContinueRun
			args["tools"] = []map[string]any{{"tool_call_id": p.PendingTools[0].ToolCallID, "confirmed": true}}
			_, cr, err := mcpCall(t, ctx, c, "continue_run", args, nil)
			if err != nil || cr.Status != "COMPLETED" || cr.Content != "The calculator says 42." || cr.RunID != p.RunID {
				t.Fatalf("continue_run: %v %+v", err, cr)
			}

			res, fr, err := mcpCall(t, ctx, c, "run_agent", map[string]any{"agent_id": "broken", "message": "hi"}, nil)
			if err != nil || !res.IsError || fr.Status != "ERROR" || fr.Error != "the model is down" || fr.ErrorType != "model_error" {
				t.Fatalf("failed run: %v %+v", err, fr)
			}

			// The client goes away in the middle of a run.
			prog.reset()
			input := "leave " + era.name
			cctx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() {
				_, _, err := mcpCall(t, cctx, c, "run_agent", map[string]any{"agent_id": "slow", "message": input}, "slow")
				done <- err
			}()
			for i := 0; i < 3; i++ {
				select {
				case <-prog.seen:
				case <-time.After(15 * time.Second):
					t.Fatal("no progress from the slow run")
				}
			}
			cancel()
			if err := <-done; err == nil {
				t.Fatal("the abandoned call returned a result")
			}
			sr, ok := mcpFindRun(t, g, "slow", input, nil)
			if !ok {
				t.Fatal("the slow run is not stored")
			}
			// 2026-07-28: the closed stream is the cancellation. 2025-11-25:
			// a dropped connection is not (cancel is notifications/cancelled,
			// which the Node SDK test sends), so the run completes.
			wantStatus := "CANCELLED"
			if era.legacy {
				wantStatus = "COMPLETED"
			}
			g.waitStatus(t, "slow", sr.RunID, wantStatus)
		})
	}
}

// mcpPost POSTs a JSON-RPC message to g's /mcp.
func mcpPost(t testing.TB, g *gateway, header map[string]string, body string) (*http.Response, []byte) {
	t.Helper()
	h := map[string]string{"Accept": "application/json, text/event-stream"}
	for k, v := range header {
		h[k] = v
	}
	ctx := testCtx(t, 20*time.Second)
	resp := g.do(t, ctx, http.MethodPost, "/mcp", strings.NewReader(body), "application/json", h)
	return resp, readAll(t, resp)
}

func mcpRPCError(t testing.TB, b []byte) (int, string) {
	t.Helper()
	var m struct {
		Error *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	decode(t, b, &m)
	if m.Error == nil {
		t.Fatalf("not a JSON-RPC error: %s", b)
	}
	return m.Error.Code, m.Error.Message
}

// TestMCPAuth: the jwt-mode binary refuses MCP calls without a token (401
// with a Bearer challenge) and tool calls without their scope (403,
// error="insufficient_scope" naming agents:<id>:run) — run_agent and
// ask_<agent> alike — through raw HTTP and mcp-go's client; a token with
// the scope runs, bound to its own user. A foreign Origin gets 403 even
// with a good token.
func TestMCPAuth(t *testing.T) {
	t.Parallel()
	g := startGateway(t, mcpJWTConfig(""))
	runStory := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"run_agent","arguments":{"agent_id":"story","message":"hi"}}}`
	askStory := `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"ask_story","arguments":{"message":"hi"}}}`

	resp, b := mcpPost(t, g, nil, runStory)
	if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("no token: status %d, challenge %q: %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), b)
	}
	if code, _ := mcpRPCError(t, b); code != -32001 {
		t.Errorf("no token: JSON-RPC code %d", code)
	}
	if _, err := mcpConnect(t, g, false, nil); err == nil {
		t.Error("mcp-go connected without a token")
	}

	weak := mcpToken(t, "alice", "sessions:read", "agents:slow:run")
	for _, body := range []string{runStory, askStory} {
		resp, b := mcpPost(t, g, mcpBearer(weak), body)
		ch := resp.Header.Get("WWW-Authenticate")
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(ch, `error="insufficient_scope"`) || !strings.Contains(ch, `scope="agents:story:run"`) {
			t.Errorf("missing scope: status %d, challenge %q: %s", resp.StatusCode, ch, b)
		}
		if code, msg := mcpRPCError(t, b); code != -32003 || !strings.Contains(msg, "insufficient permissions") {
			t.Errorf("missing scope: error %d %q", code, msg)
		}
	}
	c, err := mcpConnect(t, g, false, mcpBearer(weak))
	if err != nil {
		t.Fatalf("a token with scopes could not connect: %v", err)
	}
	ctx := testCtx(t, 30*time.Second)
	for _, call := range []struct {
		name string
		args map[string]any
	}{{"run_agent", map[string]any{"agent_id": "story", "message": "hi"}}, {"ask_story", map[string]any{"message": "hi"}}} {
		if _, _, err := mcpCall(t, ctx, c, call.name, call.args, nil); err == nil || !strings.Contains(err.Error(), "insufficient permissions") {
			t.Errorf("%s without agents:story:run: %v, want forbidden", call.name, err)
		}
	}
	tools, err := c.ListTools(ctx, mcpgo.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tl := range tools.Tools {
		if strings.HasPrefix(tl.Name, "ask_") && tl.Name != "ask_slow" {
			t.Errorf("%s is listed to a caller who may not run it", tl.Name)
		}
	}

	strong := mcpToken(t, "bob", "agents:story:run", "sessions:read")
	c2, err := mcpConnect(t, g, true, mcpBearer(strong))
	if err != nil {
		t.Fatal(err)
	}
	_, r, err := mcpCall(t, ctx, c2, "ask_story", map[string]any{"message": "as bob", "user_id": "alice"}, nil)
	if err != nil || r.Status != "COMPLETED" {
		t.Fatalf("ask_story with the scope: %v %+v", err, r)
	}
	var stored struct {
		UserID string `json:"user_id"`
	}
	decode(t, expectStatus(t, g.do(t, ctx, http.MethodGet, "/agents/story/runs/"+r.RunID, nil, "", mcpBearer(strong)), http.StatusOK), &stored)
	if stored.UserID != "bob" {
		t.Errorf("run user %q, want bob (bound to the token)", stored.UserID)
	}

	resp, b = mcpPost(t, g, map[string]string{"Authorization": "Bearer " + strong, "Origin": "https://evil.example"}, askStory)
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("foreign origin: status %d: %s", resp.StatusCode, b)
	}
}

// TestMCPOriginGuard: on the loopback listener a foreign Origin or Host
// gets 403; loopback origins and the configured ones pass.
func TestMCPOriginGuard(t *testing.T) {
	t.Parallel()
	g := startGateway(t, "mcp:\n  allowed_origins: [\"https://ide.example.com\"]\n"+mcpAgents)
	init := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`
	for _, c := range []struct {
		origin string
		want   int
	}{
		{"", http.StatusOK},
		{"https://evil.example", http.StatusForbidden},
		{"http://localhost:6274", http.StatusOK},
		{"https://ide.example.com", http.StatusOK},
	} {
		h := map[string]string{}
		if c.origin != "" {
			h["Origin"] = c.origin
		}
		resp, b := mcpPost(t, g, h, init)
		if resp.StatusCode != c.want {
			t.Errorf("Origin %q: status %d, want %d: %s", c.origin, resp.StatusCode, c.want, b)
		}
	}
	// DNS rebinding: a page on evil.example resolved to 127.0.0.1.
	ctx := testCtx(t, 10*time.Second)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.URL+"/mcp", strings.NewReader(init))
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "evil.example:7777"
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if b := readAll(t, resp); resp.StatusCode != http.StatusForbidden {
		t.Errorf("rebound Host: status %d: %s", resp.StatusCode, b)
	}
}
