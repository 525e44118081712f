package mcp_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	mcpgo "github.com/mark3labs/mcp-go/mcp"

	mcpadapter "github.com/agentgate/agentgate/adapters/mcp"
	"github.com/agentgate/agentgate/auth"
	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/internal/testutil"
	"github.com/agentgate/agentgate/transport/httptransport"
)

// These tests serve the adapter on the real transport (fiber app with the
// authentication middleware) on a loopback port, and drive it with
// mcp-go's client and with raw HTTP.

const jwtSecret = "mcp-test-hs256-secret-0123456789abcdef-0123"

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

type fixture struct {
	URL string // http://127.0.0.1:PORT/mcp
	eng *core.Engine
}

// serve starts the transport with authCfg and the adapter with mcfg.
func serve(t *testing.T, authCfg auth.Config, mcfg mcpadapter.Config, agents ...core.Agent) *fixture {
	t.Helper()
	eng := newEngine(t, false, agents...)
	authn, err := auth.New(authCfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptransport.New(httptransport.Config{Auth: authn, HeartbeatInterval: 100 * time.Millisecond, Logger: quiet})
	mcfg.Heartbeat = 100 * time.Millisecond
	mcfg.Logger = quiet
	mcfg.AgentTools = new(true)
	mcpadapter.New(eng, mcfg).Register(srv.App, "/mcp")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return &fixture{URL: "http://" + ln.Addr().String() + "/mcp", eng: eng}
}

func agentsJSON(t *testing.T, js string) []core.Agent { return parseAgents(t, []byte(js)) }

const testAgents = `[
  {"id": "assistant", "name": "Assistant", "description": "Answers.", "chunks": 4, "rules": [{"reply": "one two three four"}]},
  {"id": "slow", "name": "Slow", "chunks": 60, "chunk_delay_ms": 50, "rules": [{"reply": "` +
	`a b c d e f g h i j k l m n o p q r s t u v w x y z a b c d e f g h i j k l m n o p q r s t u v w x y z a b c d e f g h"}]},
  {"id": "approval-demo", "name": "Approval demo", "tools": [{"name": "calculator", "requires_confirmation": true}],
   "rules": [{"tool_calls": [{"name": "calculator", "arguments": {"expression": "6*7"}}], "reply": "It is {{tool_result}}."}]}
]`

// connect starts an mcp-go Streamable HTTP client; legacy pins 2025-11-25
// (initialize + session), otherwise the client uses 2026-07-28.
func connect(t *testing.T, url string, legacy bool, headers map[string]string) (*client.Client, error) {
	t.Helper()
	tr, err := transport.NewStreamableHTTP(url, transport.WithHTTPHeaders(headers), transport.WithHTTPLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	var opts []client.ClientOption
	if legacy {
		opts = append(opts, client.WithProtocolVersion(mcpgo.LATEST_LEGACY_PROTOCOL_VERSION))
	}
	c := client.NewClient(tr, opts...)
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = c.Initialize(ctx, mcpgo.InitializeRequest{Params: mcpgo.InitializeParams{
		ClientInfo: mcpgo.Implementation{Name: "mcp-test", Version: "1"}}})
	return c, err
}

// progressLog collects the progress notifications of a client.
type progressLog struct {
	mu   sync.Mutex
	msgs []string
	seen chan struct{}
}

func watchProgress(c *client.Client) *progressLog {
	p := &progressLog{seen: make(chan struct{}, 1000)}
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

func (p *progressLog) text() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.msgs, "")
}

func callTool(ctx context.Context, c *client.Client, name string, args map[string]any, token any) (*mcpgo.CallToolResult, error) {
	req := mcpgo.CallToolRequest{Params: mcpgo.CallToolParams{Name: name, Arguments: args}}
	if token != nil {
		req.Params.Meta = &mcpgo.Meta{ProgressToken: token}
	}
	return c.CallTool(ctx, req)
}

func structured(t *testing.T, res *mcpgo.CallToolResult) mcpadapter.RunResult {
	t.Helper()
	var r mcpadapter.RunResult
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("structured content %s: %v", b, err)
	}
	return r
}

func textOf(res *mcpgo.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(mcpgo.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// TestMCPStreamableHTTP runs an agent through mcp-go's client in both
// protocol eras: progress notifications carry the deltas in order, the
// result the answer; a paused run continues with continue_run.
func TestMCPStreamableHTTP(t *testing.T) {
	t.Parallel()
	f := serve(t, auth.Config{Mode: auth.ModeNone}, mcpadapter.Config{}, agentsJSON(t, testAgents)...)
	for _, era := range []struct {
		name   string
		legacy bool
	}{{"2026-07-28", false}, {"2025-11-25", true}} {
		t.Run(era.name, func(t *testing.T) {
			t.Parallel()
			c, err := connect(t, f.URL, era.legacy, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.ProtocolVersion(); got != era.name {
				t.Errorf("negotiated %s, want %s", got, era.name)
			}
			if era.legacy && c.GetSessionId() == "" {
				t.Error("no Mcp-Session-Id in the 2025-11-25 era")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			tools, err := c.ListTools(ctx, mcpgo.ListToolsRequest{})
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, tl := range tools.Tools {
				names = append(names, tl.Name)
			}
			if want := "ask_approval-demo ask_assistant ask_slow cancel_run continue_run get_config get_session_runs get_sessions run_agent"; strings.Join(names, " ") != want {
				t.Errorf("tools: %v, want %s", names, want)
			}

			prog := watchProgress(c)
			res, err := callTool(ctx, c, "run_agent", map[string]any{"agent_id": "assistant", "message": "hi"}, "tok-"+era.name)
			if err != nil {
				t.Fatal(err)
			}
			r := structured(t, res)
			if res.IsError || r.Status != core.RunCompleted || r.Content != "one two three four" || textOf(res) != r.Content {
				t.Fatalf("result: %+v %q", r, textOf(res))
			}
			if got := prog.text(); got != r.Content {
				t.Errorf("progress deltas %q, want %q", got, r.Content)
			}

			res, err = callTool(ctx, c, "ask_approval-demo", map[string]any{"message": "compute"}, nil)
			if err != nil {
				t.Fatal(err)
			}
			p := structured(t, res)
			if p.Status != core.RunPaused || len(p.PendingTools) != 1 || p.ContinueRun == nil {
				t.Fatalf("paused result: %+v", p)
			}
			args := map[string]any{"run_id": p.ContinueRun.RunID, "agent_id": p.ContinueRun.AgentID, "session_id": p.ContinueRun.SessionID,
				"tools": []map[string]any{{"tool_call_id": p.ContinueRun.Tools[0].ToolCallID, "confirmed": true}}}
			res, err = callTool(ctx, c, "continue_run", args, nil)
			if err != nil {
				t.Fatal(err)
			}
			if r := structured(t, res); r.Status != core.RunCompleted || r.Content != "It is 42." || r.RunID != p.RunID {
				t.Fatalf("continued result: %+v", r)
			}
		})
	}
}

// TestMCPClosedStreamCancels: in the 2026-07-28 era a client that closes
// the call's stream cancels the run; in the 2025-11-25 era a dropped
// connection is not a cancellation and the run completes.
func TestMCPClosedStreamCancels(t *testing.T) {
	t.Parallel()
	f := serve(t, auth.Config{Mode: auth.ModeNone}, mcpadapter.Config{}, agentsJSON(t, testAgents)...)
	for _, era := range []struct {
		name   string
		legacy bool
		want   core.RunStatus
	}{{"2026-07-28", false, core.RunCancelled}, {"2025-11-25", true, core.RunCompleted}} {
		t.Run(era.name, func(t *testing.T) {
			t.Parallel()
			c, err := connect(t, f.URL, era.legacy, nil)
			if err != nil {
				t.Fatal(err)
			}
			prog := watchProgress(c)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				_, err := callTool(ctx, c, "run_agent", map[string]any{"agent_id": "slow", "message": "go " + era.name}, "p")
				done <- err
			}()
			for i := 0; i < 3; i++ {
				select {
				case <-prog.seen:
				case <-time.After(10 * time.Second):
					t.Fatal("no progress")
				}
			}
			cancel()
			if err := <-done; err == nil {
				t.Fatal("the cancelled call returned a result")
			}
			runs, err := f.eng.List(context.Background(), core.ListRunsParams{AgentID: "slow"})
			if err != nil {
				t.Fatal(err)
			}
			var id string
			for _, r := range runs {
				if r.Input.InputContent == "go "+era.name {
					id = r.RunID
				}
			}
			if id == "" {
				t.Fatalf("run not found: %+v", runs)
			}
			testutil.WaitRunStatus(t, f.eng, id, era.want, 10*time.Second)
		})
	}
}

// rpc POSTs one JSON-RPC message.
func rpc(t *testing.T, url string, header map[string]string, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestMCPNotificationsCancelled: a 2025-11-25 client's
// notifications/cancelled for an in-flight tools/call cancels the run.
func TestMCPNotificationsCancelled(t *testing.T) {
	t.Parallel()
	f := serve(t, auth.Config{Mode: auth.ModeNone}, mcpadapter.Config{}, agentsJSON(t, testAgents)...)
	resp := rpc(t, f.URL, nil, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`)
	sid := resp.Header.Get("Mcp-Session-Id")
	readBody(t, resp)
	if sid == "" {
		t.Fatal("no session id")
	}
	h := map[string]string{"Mcp-Session-Id": sid, "MCP-Protocol-Version": "2025-11-25"}
	resp = rpc(t, f.URL, h, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"run_agent","arguments":{"agent_id":"slow","message":"stop me"},"_meta":{"progressToken":"p"}}}`)
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("Content-Type %q", ct)
	}
	br := bufio.NewReader(resp.Body)
	var runID string
	for runID == "" {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(line, "notifications/progress") {
			runs, _ := f.eng.List(context.Background(), core.ListRunsParams{AgentID: "slow"})
			for _, r := range runs {
				if r.Input.InputContent == "stop me" {
					runID = r.RunID
				}
			}
		}
	}
	n := rpc(t, f.URL, h, `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":2,"reason":"user stop"}}`)
	if n.StatusCode != http.StatusAccepted {
		t.Errorf("notifications/cancelled: status %d", n.StatusCode)
	}
	readBody(t, n)
	testutil.WaitRunStatus(t, f.eng, runID, core.RunCancelled, 10*time.Second)
}

func mintToken(t *testing.T, sub string, scopes ...string) string {
	t.Helper()
	tok, err := auth.MintJWT(auth.MintConfig{Algorithm: auth.AlgHS256}, jwtSecret, sub, scopes, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func bearerHeader(tok string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + tok}
}

// rpcErrorOf decodes a JSON-RPC error answer.
func rpcErrorOf(t *testing.T, body string) (int, string) {
	t.Helper()
	var m struct {
		Error struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("not a JSON-RPC error: %s", body)
	}
	return m.Error.Code, m.Error.Message
}

// TestMCPAuthJWT: in jwt mode every MCP request needs a token (401 with
// the Bearer challenge), a tool call needs its REST twin's scope (403 with
// insufficient_scope naming it, for run_agent and ask_<agent> alike), and
// user isolation applies as on REST.
func TestMCPAuthJWT(t *testing.T) {
	t.Parallel()
	f := serve(t, auth.Config{Mode: auth.ModeJWT, JWT: auth.JWTConfig{Algorithm: auth.AlgHS256, Key: jwtSecret}},
		mcpadapter.Config{}, agentsJSON(t, testAgents)...)
	call := `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"run_agent","arguments":{"agent_id":"assistant","message":"hi"}}}`

	t.Run("no token", func(t *testing.T) {
		resp := rpc(t, f.URL, nil, call)
		body := readBody(t, resp)
		if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Fatalf("status %d, WWW-Authenticate %q: %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
		}
		if code, _ := rpcErrorOf(t, body); code != mcpadapter.CodeRPCUnauthorized {
			t.Errorf("code %d: %s", code, body)
		}
		if _, err := connect(t, f.URL, false, nil); err == nil {
			t.Error("a client without a token connected")
		}
		bad := rpc(t, f.URL, bearerHeader("not-a-jwt"), call)
		if b := readBody(t, bad); bad.StatusCode != http.StatusUnauthorized {
			t.Errorf("bad token: status %d: %s", bad.StatusCode, b)
		}
	})

	t.Run("missing scope", func(t *testing.T) {
		tok := mintToken(t, "u1", "sessions:read")
		for _, c := range []struct{ name, body string }{
			{"run_agent", call},
			{"ask_assistant", `{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"ask_assistant","arguments":{"message":"hi"}}}`},
		} {
			resp := rpc(t, f.URL, bearerHeader(tok), c.body)
			body := readBody(t, resp)
			wa := resp.Header.Get("WWW-Authenticate")
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(wa, `error="insufficient_scope"`) || !strings.Contains(wa, `scope="agents:assistant:run"`) {
				t.Errorf("%s: status %d, WWW-Authenticate %q: %s", c.name, resp.StatusCode, wa, body)
			}
			if code, msg := rpcErrorOf(t, body); code != mcpadapter.CodeRPCForbidden || !strings.Contains(msg, "insufficient permissions") {
				t.Errorf("%s: error %d %q", c.name, code, msg)
			}
		}
		// Through the real client, in both eras: connecting and listing
		// are allowed (the ask tools it may not run are not listed), the
		// calls are refused.
		for _, legacy := range []bool{false, true} {
			cl, err := connect(t, f.URL, legacy, bearerHeader(tok))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			tools, err := cl.ListTools(ctx, mcpgo.ListToolsRequest{})
			if err != nil {
				t.Fatal(err)
			}
			for _, tl := range tools.Tools {
				if strings.HasPrefix(tl.Name, "ask_") {
					t.Errorf("legacy=%v: %s listed to a caller who may not run it", legacy, tl.Name)
				}
			}
			for _, name := range []string{"run_agent", "ask_assistant"} {
				_, err := callTool(ctx, cl, name, map[string]any{"agent_id": "assistant", "message": "hi"}, nil)
				if name == "ask_assistant" {
					_, err = callTool(ctx, cl, name, map[string]any{"message": "hi"}, nil)
				}
				if err == nil || !strings.Contains(err.Error(), "insufficient permissions") {
					t.Errorf("legacy=%v %s: %v, want a forbidden error", legacy, name, err)
				}
			}
			cancel()
		}
	})

	t.Run("isolation", func(t *testing.T) {
		scopes := []string{"agents:assistant:run", "agents:approval-demo:run", "sessions:read"}
		c1, err := connect(t, f.URL, false, bearerHeader(mintToken(t, "u1", scopes...)))
		if err != nil {
			t.Fatal(err)
		}
		c2, err := connect(t, f.URL, true, bearerHeader(mintToken(t, "u2", scopes...)))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		// user_id is bound to the token's user, whatever the call says.
		res, err := callTool(ctx, c1, "run_agent", map[string]any{"agent_id": "assistant", "message": "mine", "user_id": "u2"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		r := structured(t, res)
		if run, err := f.eng.Get(ctx, r.RunID); err != nil || run.UserID != "u1" {
			t.Fatalf("run %+v (%v): want user u1", run, err)
		}
		paused, err := callTool(ctx, c1, "ask_approval-demo", map[string]any{"message": "compute"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		p := structured(t, paused)
		// u2 can see none of it.
		for _, c := range []struct {
			tool string
			args map[string]any
		}{
			{"get_session_runs", map[string]any{"session_id": r.SessionID}},
			{"cancel_run", map[string]any{"run_id": p.RunID}},
			{"continue_run", map[string]any{"run_id": p.RunID, "tools": []map[string]any{{"tool_call_id": p.PendingTools[0].ToolCallID, "confirmed": true}}}},
			{"run_agent", map[string]any{"agent_id": "assistant", "message": "into u1's session", "session_id": r.SessionID}},
		} {
			res, err := callTool(ctx, c2, c.tool, c.args, nil)
			if err != nil || !res.IsError || !strings.Contains(textOf(res), "not found") {
				t.Errorf("u2 %s: %v %+v, want not found", c.tool, err, res)
			}
		}
		res, err = callTool(ctx, c2, "get_sessions", nil, nil)
		if err != nil || strings.Contains(textOf(res), r.SessionID) {
			t.Errorf("u2 get_sessions shows u1's session: %v %s", err, textOf(res))
		}
		res, err = callTool(ctx, c1, "get_sessions", nil, nil)
		if err != nil || !strings.Contains(textOf(res), r.SessionID) {
			t.Errorf("u1 get_sessions misses its session: %v %s", err, textOf(res))
		}
		// get_config needs config:read.
		if _, err := callTool(ctx, c1, "get_config", nil, nil); err == nil || !strings.Contains(err.Error(), "insufficient permissions") {
			t.Errorf("get_config without config:read: %v", err)
		}
		// u1 still owns the paused run.
		if res, err := callTool(ctx, c1, "cancel_run", map[string]any{"run_id": p.RunID}, nil); err != nil || res.IsError {
			t.Errorf("u1 cancel_run: %v %+v", err, res)
		}
		testutil.WaitRunStatus(t, f.eng, p.RunID, core.RunCancelled, 10*time.Second)
	})
}

// TestMCPOriginGuard: a browser request from a foreign Origin, or one that
// names a foreign Host on the loopback listener (DNS rebinding), gets 403;
// loopback and configured origins and hosts pass.
func TestMCPOriginGuard(t *testing.T) {
	t.Parallel()
	f := serve(t, auth.Config{Mode: auth.ModeNone}, mcpadapter.Config{Settings: mcpadapter.Settings{
		AllowedOrigins: []string{"https://app.example.com"}, AllowedHosts: []string{"gateway.example.com"},
	}}, agentsJSON(t, testAgents)...)
	ping := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`
	for _, c := range []struct {
		name   string
		header map[string]string
		host   string
		want   int
	}{
		{"no origin", nil, "", http.StatusOK},
		{"foreign origin", map[string]string{"Origin": "https://evil.example"}, "", http.StatusForbidden},
		{"null origin", map[string]string{"Origin": "null"}, "", http.StatusForbidden},
		{"loopback origin", map[string]string{"Origin": "http://localhost:3000"}, "", http.StatusOK},
		{"loopback ip origin", map[string]string{"Origin": "http://127.0.0.1:5173"}, "", http.StatusOK},
		{"allowed origin", map[string]string{"Origin": "https://app.example.com"}, "", http.StatusOK},
		{"lookalike origin", map[string]string{"Origin": "https://app.example.com.evil.example"}, "", http.StatusForbidden},
		{"rebound host", nil, "evil.example:80", http.StatusForbidden},
		{"allowed host", nil, "gateway.example.com", http.StatusOK},
		{"localhost host", nil, "localhost", http.StatusOK},
	} {
		req, _ := http.NewRequest(http.MethodPost, f.URL, strings.NewReader(ping))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		for k, v := range c.header {
			req.Header.Set(k, v)
		}
		if c.host != "" {
			req.Host = c.host
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := readBody(t, resp)
		if resp.StatusCode != c.want {
			t.Errorf("%s: status %d, want %d: %s", c.name, resp.StatusCode, c.want, body)
		}
		if c.want == http.StatusForbidden {
			if code, _ := rpcErrorOf(t, body); code != mcpadapter.CodeRPCForbidden {
				t.Errorf("%s: body %s", c.name, body)
			}
		}
	}
}

// TestMCPStdioInProcess serves the tools over stdio pipes to mcp-go's
// client: progress and result as over HTTP; the client leaving cancels the
// run of its call.
func TestMCPStdioInProcess(t *testing.T) {
	t.Parallel()
	eng := newEngine(t, false, agentsJSON(t, testAgents)...)
	srv := mcpadapter.New(eng, mcpadapter.Config{Settings: mcpadapter.Settings{AgentTools: new(true)}, Logger: quiet})
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	served := make(chan error, 1)
	sctx, stop := context.WithCancel(context.Background())
	defer stop()
	go func() {
		served <- srv.ServeStdio(sctx, &auth.Principal{Subject: "local", Kind: auth.KindAnonymous, Admin: true}, inR, outW)
		_ = outW.Close()
	}()
	c := client.NewClient(transport.NewIO(outR, inW, io.NopCloser(bytes.NewReader(nil))))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Initialize(ctx, mcpgo.InitializeRequest{Params: mcpgo.InitializeParams{ClientInfo: mcpgo.Implementation{Name: "stdio-test", Version: "1"}}}); err != nil {
		t.Fatal(err)
	}
	prog := watchProgress(c)
	res, err := callTool(ctx, c, "ask_assistant", map[string]any{"message": "hi"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if r := structured(t, res); r.Status != core.RunCompleted || r.Content != "one two three four" {
		t.Fatalf("result %+v", r)
	}
	deadline := time.Now().Add(5 * time.Second)
	for prog.text() != "one two three four" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // stdio may deliver progress after the result
	}
	if got := prog.text(); got != "one two three four" {
		t.Errorf("progress %q", got)
	}
	// A call in flight when the client goes away: its run is cancelled.
	go func() {
		_, _ = callTool(context.Background(), c, "run_agent", map[string]any{"agent_id": "slow", "message": "orphan"}, "p")
	}()
	<-prog.seen
	var runID string
	for runID == "" {
		runs, _ := eng.List(ctx, core.ListRunsParams{AgentID: "slow"})
		for _, r := range runs {
			runID = r.RunID
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = inW.Close()
	if err := <-served; err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("ServeStdio: %v", err)
	}
	testutil.WaitRunStatus(t, eng, runID, core.RunCancelled, 10*time.Second)
}

// TestMCPHTTPFraming pins the exact SSE body of a streamed tools/call over
// HTTP in the 2026-07-28 era: the progress notifications (written by the
// adapter on the call's own stream), then the result that mcp-go writes
// (with resultType and serverInfo), in order. Heartbeat comments are
// dropped; ids are normalized.
func TestMCPHTTPFraming(t *testing.T) {
	t.Parallel()
	f := serve(t, auth.Config{Mode: auth.ModeNone}, mcpadapter.Config{Version: "test"}, agentsJSON(t, testAgents)...)
	const meta = `"_meta":{"progressToken":"p1","io.modelcontextprotocol/protocolVersion":"2026-07-28",` +
		`"io.modelcontextprotocol/clientInfo":{"name":"raw","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}`
	resp := rpc(t, f.URL, map[string]string{"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call", "Mcp-Name": "run_agent"},
		`{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"run_agent","arguments":{"agent_id":"assistant","message":"hi"},`+meta+`}}`)
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type %q", ct)
	}
	var kept []string
	for _, line := range strings.SplitAfter(readBody(t, resp), "\n") {
		if !strings.HasPrefix(line, ":") {
			kept = append(kept, line)
		}
	}
	got := strings.Join(kept, "")
	got = strings.ReplaceAll(strings.ReplaceAll(got, "\n\n\n", "\n\n"), "\n\n\n", "\n\n")
	var r struct {
		Result struct {
			StructuredContent struct {
				RunID     string `json:"run_id"`
				SessionID string `json:"session_id"`
			} `json:"structuredContent"`
		} `json:"result"`
	}
	last := got[strings.LastIndex(got, "data: ")+len("data: "):]
	if err := json.Unmarshal([]byte(strings.TrimSpace(last)), &r); err != nil {
		t.Fatalf("last event %q: %v", last, err)
	}
	got = strings.NewReplacer(r.Result.StructuredContent.RunID, "RUN", r.Result.StructuredContent.SessionID, "SESSION").Replace(got)
	progress := func(n int, msg string) string {
		return `event: message` + "\n" + `data: {"jsonrpc":"2.0","method":"notifications/progress","params":{"message":"` + msg +
			`","progress":` + itoa(n) + `,"progressToken":"p1"}}` + "\n\n"
	}
	want := progress(1, "one ") + progress(2, "two ") + progress(3, "three ") + progress(4, "four") +
		`event: message` + "\n" + `data: {"jsonrpc":"2.0","id":9,"result":{"_meta":{"io.modelcontextprotocol/serverInfo":{"name":"agentgate","version":"test"}},` +
		`"content":[{"type":"text","text":"one two three four"}],"resultType":"complete",` +
		`"structuredContent":{"run_id":"RUN","session_id":"SESSION","agent_id":"assistant","status":"COMPLETED","content":"one two three four"}}}` + "\n\n"
	if got != want {
		t.Errorf("SSE body:\n%s\nwant:\n%s", got, want)
	}
}

// TestMCPStdioBatch: a JSON-RPC batch on stdio gets an Invalid Request error
// saying batches are not supported, and the next message is served.
func TestMCPStdioBatch(t *testing.T) {
	t.Parallel()
	eng := newEngine(t, false, agentsJSON(t, testAgents)...)
	srv := mcpadapter.New(eng, mcpadapter.Config{Logger: quiet})
	in := strings.NewReader(`[{"jsonrpc":"2.0","id":1,"method":"ping"}]` + "\n" + `{"jsonrpc":"2.0","id":2,"method":"ping"}` + "\n")
	outR, outW := io.Pipe()
	go func() {
		_ = srv.ServeStdio(context.Background(), &auth.Principal{Subject: "local", Kind: auth.KindAnonymous, Admin: true}, in, outW)
		_ = outW.Close()
	}()
	sc := bufio.NewScanner(outR)
	var lines []string
	for len(lines) < 2 && sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) < 2 {
		t.Fatalf("answers: %q", lines)
	}
	if code, msg := rpcErrorOf(t, lines[0]); code != mcpadapter.CodeRPCInvalidRequest || !strings.Contains(msg, "batches are not supported") {
		t.Errorf("the batch's answer: %s", lines[0])
	}
	if !strings.Contains(lines[1], `"id":2`) || !strings.Contains(lines[1], `"result"`) {
		t.Errorf("the ping after the batch: %s", lines[1])
	}
}
