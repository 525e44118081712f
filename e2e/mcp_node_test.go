package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMCPNodeSDK drives e2e/node/mcp_client.mjs: the official MCP
// TypeScript SDK (@modelcontextprotocol/sdk, 2025-11-25 session mode)
// against the binary's /mcp — initialize, tools/list, a streamed run with
// onprogress, a paused run continued, a failed run, bad arguments, and an
// aborted call (notifications/cancelled) whose run must end CANCELLED. The
// SDK validates structured results against the tools' output schemas. It
// needs node and e2e/node/node_modules (`npm ci` in e2e/node); it fails
// rather than skips without them.
func TestMCPNodeSDK(t *testing.T) {
	t.Parallel()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not installed (Node 20+ is needed for the MCP SDK test): %v", err)
	}
	if _, err := os.Stat(filepath.Join("node", "node_modules", "@modelcontextprotocol", "sdk", "package.json")); err != nil {
		t.Fatalf("e2e/node/node_modules is missing @modelcontextprotocol/sdk: run `npm ci` in e2e/node (make node-deps): %v", err)
	}
	g := startGateway(t, mcpAgents)

	ctx := testCtx(t, 60*time.Second)
	cmd := exec.CommandContext(ctx, node, "mcp_client.mjs")
	cmd.Dir = "node"
	cmd.Env = cleanEnv("AGENTGATE_URL="+g.URL, "TIMEOUT_MS=50000")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node mcp_client.mjs: %v\nstdout:\n%s\nstderr:\n%s\ngateway:\n%s", err, stdout.String(), stderr.String(), tail(g.Logs(), 4000))
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var sum struct {
		SessionID       string `json:"session_id"`
		ProtocolVersion string `json:"protocol_version"`
		Server          struct {
			Name string `json:"name"`
		} `json:"server"`
		Tools     []string `json:"tools"`
		Completed struct {
			RunID    string `json:"run_id"`
			Content  string `json:"content"`
			Progress int    `json:"progress"`
		} `json:"completed"`
		Continued struct {
			RunID   string `json:"run_id"`
			Tool    string `json:"tool"`
			Content string `json:"content"`
		} `json:"continued"`
		Failed struct {
			RunID     string `json:"run_id"`
			Error     string `json:"error"`
			ErrorType string `json:"error_type"`
		} `json:"failed"`
		Cancelled struct {
			RunID        string `json:"run_id"`
			Status       string `json:"status"`
			ProgressSeen int    `json:"progress_seen"`
		} `json:"cancelled"`
	}
	decode(t, []byte(lines[len(lines)-1]), &sum)
	t.Logf("MCP TypeScript SDK: %s", lines[len(lines)-1])

	if sum.ProtocolVersion != "2025-11-25" || !strings.HasPrefix(sum.SessionID, "mcp-session-") || sum.Server.Name != "agentgate" {
		t.Errorf("handshake: version %q, session %q, server %q", sum.ProtocolVersion, sum.SessionID, sum.Server.Name)
	}
	if want := "ask_approval-demo ask_broken ask_slow ask_story cancel_run continue_run get_config get_session_runs get_sessions run_agent"; strings.Join(sum.Tools, " ") != want {
		t.Errorf("tools %v", sum.Tools)
	}
	if sum.Completed.Content != mcpStory || sum.Completed.Progress < 2 {
		t.Errorf("streamed run: %+v", sum.Completed)
	}
	if sum.Continued.Tool != "calculator" || sum.Continued.Content != "The calculator says 42." {
		t.Errorf("continued run: %+v", sum.Continued)
	}
	if sum.Failed.Error != "the model is down" || sum.Failed.ErrorType != "model_error" {
		t.Errorf("failed run: %+v", sum.Failed)
	}
	// The gateway agrees with what the SDK saw.
	for _, c := range []struct{ agent, runID, status string }{
		{"story", sum.Completed.RunID, "COMPLETED"},
		{"approval-demo", sum.Continued.RunID, "COMPLETED"},
		{"broken", sum.Failed.RunID, "ERROR"},
		{"slow", sum.Cancelled.RunID, "CANCELLED"},
	} {
		r, b := g.getRun(t, ctx, c.agent, c.runID)
		if r.Status != c.status {
			t.Errorf("run %s of %s: %s", c.runID, c.agent, b)
		}
	}
	// The aborted run was cut short: far fewer than its 40 chunks arrived.
	r, _ := g.getRun(t, ctx, "slow", sum.Cancelled.RunID)
	if r.EventCount >= 40 {
		t.Errorf("the aborted run went on: %d events", r.EventCount)
	}
}
