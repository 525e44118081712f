package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mcpclient "github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	mcpgo "github.com/mark3labs/mcp-go/mcp"
)

// mcpStdio launches `agentgate mcp --stdio --config CFG` under mcp-go's
// stdio client, with its own SQLite file and a clean environment plus env.
func mcpStdio(t *testing.T, cfg string, env ...string) (*mcpclient.Client, *lockedBuffer, error) {
	t.Helper()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "agentgate.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	stderr := &lockedBuffer{}
	env = append([]string{"AGENTGATE_DATABASE_URL=sqlite://" + filepath.Join(dir, "state.db"), "AGENTGATE_LOG_LEVEL=warn"}, env...)
	c, err := mcpclient.NewStdioMCPClientWithOptions(binPath, nil, []string{"mcp", "--stdio", "--config", cfgPath},
		transport.WithCommandFunc(func(ctx context.Context, command string, _ []string, args []string) (*exec.Cmd, error) {
			cmd := exec.CommandContext(ctx, command, args...)
			cmd.Env = cleanEnv(env...)
			cmd.Dir = dir
			return cmd, nil
		}),
		transport.WithCommandStderrWriter(stderr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.Close()
		if out := stderr.String(); strings.Contains(out, "panic:") || strings.Contains(out, "DATA RACE") {
			t.Errorf("agentgate mcp --stdio:\n%s", tail(out, 8000))
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The constructor starts the transport; Start wires the client's
	// notification handlers to it.
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = c.Initialize(ctx, mcpgo.InitializeRequest{Params: mcpgo.InitializeParams{
		ClientInfo: mcpgo.Implementation{Name: "agentgate-e2e-stdio", Version: "1"}}})
	return c, stderr, err
}

// TestMCPStdio drives `agentgate mcp --stdio` with mcp-go's stdio client:
// the same tools as over HTTP on an embedded gateway (no listener):
// streamed progress, a paused run continued, a failed run, and a cancelled
// call (notifications/cancelled) whose run ends CANCELLED. In jwt mode the
// command needs a token, whose scopes apply to every tool call.
func TestMCPStdio(t *testing.T) {
	t.Parallel()
	t.Run("none", func(t *testing.T) {
		t.Parallel()
		c, stderr, err := mcpStdio(t, mcpAgents)
		if err != nil {
			t.Fatalf("initialize: %v\n%s", err, stderr.String())
		}
		ctx := testCtx(t, 45*time.Second)
		tools, err := c.ListTools(ctx, mcpgo.ListToolsRequest{})
		if err != nil || len(tools.Tools) != 10 {
			t.Fatalf("tools/list: %v %d", err, len(tools.Tools))
		}
		prog := mcpWatch(c)
		res, r, err := mcpCall(t, ctx, c, "ask_story", map[string]any{"message": "over stdio"}, "s1")
		if err != nil || res.IsError || r.Status != "COMPLETED" || r.Content != mcpStory {
			t.Fatalf("ask_story: %v %+v", err, r)
		}
		// Over stdio, notifications and responses are written by different
		// goroutines: the last deltas may follow the result.
		deadline := time.Now().Add(5 * time.Second)
		for prog.text() != mcpStory && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if prog.text() != mcpStory {
			t.Errorf("progress %q, want %q", prog.text(), mcpStory)
		}

		_, p, err := mcpCall(t, ctx, c, "run_agent", map[string]any{"agent_id": "approval-demo", "message": "compute"}, nil)
		if err != nil || p.Status != "PAUSED" {
			t.Fatalf("paused: %v %+v", err, p)
		}
		args := p.ContinueRun
		args["tools"] = []map[string]any{{"tool_call_id": p.PendingTools[0].ToolCallID, "confirmed": false, "confirmation_note": "no thanks"}}
		if _, cr, err := mcpCall(t, ctx, c, "continue_run", args, nil); err != nil || cr.Status != "COMPLETED" || cr.Content != "Not computed: no thanks" {
			t.Fatalf("continue_run: %v %+v", err, cr)
		}
		if res, fr, err := mcpCall(t, ctx, c, "ask_broken", map[string]any{"message": "hi"}, nil); err != nil || !res.IsError || fr.Status != "ERROR" {
			t.Fatalf("failed run: %v %+v", err, fr)
		}

		// A cancelled call: mcp-go sends notifications/cancelled on stdio.
		prog.reset()
		cctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			_, _, err := mcpCall(t, cctx, c, "ask_slow", map[string]any{"message": "cancel me"}, "slow")
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
			t.Fatal("the cancelled call returned a result")
		}
		status := ""
		for deadline := time.Now().Add(15 * time.Second); status != "CANCELLED" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			status = mcpStatusOf(t, ctx, c, "slow", "cancel me")
		}
		if status != "CANCELLED" {
			t.Errorf("cancelled call's run is %q", status)
		}
	})

	t.Run("jwt", func(t *testing.T) {
		t.Parallel()
		if _, stderr, err := mcpStdio(t, mcpJWTConfig("")); err == nil {
			t.Error("mcp --stdio started in jwt mode without a token")
		} else if !strings.Contains(stderr.String(), "--token") {
			t.Errorf("no hint about --token: %v\n%s", err, stderr.String())
		}
		c, stderr, err := mcpStdio(t, mcpJWTConfig(""), "AGENTGATE_TOKEN="+mcpToken(t, "carol", "agents:story:run", "sessions:read"))
		if err != nil {
			t.Fatalf("initialize with a token: %v\n%s", err, stderr.String())
		}
		ctx := testCtx(t, 30*time.Second)
		if _, r, err := mcpCall(t, ctx, c, "run_agent", map[string]any{"agent_id": "story", "message": "hi"}, nil); err != nil || r.Status != "COMPLETED" {
			t.Fatalf("run_agent story: %v %+v", err, r)
		}
		for _, call := range []struct {
			name string
			args map[string]any
		}{{"run_agent", map[string]any{"agent_id": "slow", "message": "hi"}}, {"ask_slow", map[string]any{"message": "hi"}}} {
			if _, _, err := mcpCall(t, ctx, c, call.name, call.args, nil); err == nil || !strings.Contains(err.Error(), "insufficient permissions") {
				t.Errorf("%s without agents:slow:run: %v, want forbidden", call.name, err)
			}
		}
	})
}

// mcpStatusOf finds, through get_sessions and get_session_runs, the status
// of agent's run whose input is input.
func mcpStatusOf(t *testing.T, ctx context.Context, c *mcpclient.Client, agent, input string) string {
	t.Helper()
	res, err := c.CallTool(ctx, mcpgo.CallToolRequest{Params: mcpgo.CallToolParams{Name: "get_sessions",
		Arguments: map[string]any{"component_id": agent}}})
	if err != nil {
		t.Fatal(err)
	}
	var page struct {
		Data []struct {
			SessionID string `json:"session_id"`
		} `json:"data"`
	}
	b, _ := json.Marshal(res.StructuredContent)
	decode(t, b, &page)
	for _, s := range page.Data {
		res, err := c.CallTool(ctx, mcpgo.CallToolRequest{Params: mcpgo.CallToolParams{Name: "get_session_runs",
			Arguments: map[string]any{"session_id": s.SessionID}}})
		if err != nil {
			t.Fatal(err)
		}
		var runs struct {
			Runs []struct {
				Input  string `json:"input"`
				Status string `json:"status"`
			} `json:"runs"`
		}
		b, _ := json.Marshal(res.StructuredContent)
		decode(t, b, &runs)
		for _, r := range runs.Runs {
			if r.Input == input {
				return r.Status
			}
		}
	}
	return ""
}
