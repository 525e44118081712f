package mcp_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	mcpgo "github.com/mark3labs/mcp-go/mcp"

	mcpadapter "github.com/agentgate/agentgate/adapters/mcp"
	"github.com/agentgate/agentgate/auth"
	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/internal/testutil/runnabletest"
)

// TestMCPTeamsAndWorkflows: run_team and run_workflow through mcp-go's
// client in both eras; a team paused by a member continues with
// continue_run; get_config lists the teams and workflows.
func TestMCPTeamsAndWorkflows(t *testing.T) {
	t.Parallel()
	f := serve(t, auth.Config{}, mcpadapter.Config{}, runnabletest.All()...)
	for _, legacy := range []bool{false, true} {
		c, err := connect(t, f.URL, legacy, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		tools, err := c.ListTools(ctx, mcpgo.ListToolsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		names := map[string]bool{}
		for _, tl := range tools.Tools {
			names[tl.Name] = true
		}
		if !names["run_team"] || !names["run_workflow"] || !names["ask_team_crew"] || !names["ask_workflow_pipeline"] {
			t.Fatalf("legacy=%v: tools %v lack run_team/run_workflow or the per-team/workflow tools", legacy, names)
		}
		res, err := callTool(ctx, c, "ask_workflow_pipeline", map[string]any{"message": "ask"}, nil)
		if err != nil || structured(t, res).Content != "echo: echo: ask" || structured(t, res).WorkflowID != "pipeline" {
			t.Fatalf("ask_workflow_pipeline: %v %+v", err, res)
		}

		prog := watchProgress(c)
		res, err = callTool(ctx, c, "run_workflow", map[string]any{"workflow_id": "pipeline", "message": "hi"}, "p1")
		if err != nil || res.IsError {
			t.Fatalf("run_workflow: %v %+v", err, res)
		}
		r := structured(t, res)
		if r.Status != core.RunCompleted || r.WorkflowID != "pipeline" || r.AgentID != "" || r.Content != "echo: echo: hi" {
			t.Fatalf("legacy=%v: run_workflow = %+v", legacy, r)
		}
		// Members' contents are not the workflow's answer: no progress.
		if txt := prog.text(); txt != "" {
			t.Errorf("legacy=%v: progress %q, want none (no content of the workflow's own)", legacy, txt)
		}

		res, err = callTool(ctx, c, "run_team", map[string]any{"team_id": "crew", "message": "go"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		r = structured(t, res)
		if r.Status != core.RunPaused || r.TeamID != "crew" || len(r.PendingTools) != 1 || r.ContinueRun == nil {
			t.Fatalf("legacy=%v: run_team = %+v", legacy, r)
		}
		if r.PendingTools[0].ToolName != runnabletest.ConfirmTool {
			t.Fatalf("pending = %+v", r.PendingTools)
		}
		// Continuing it as an agent's run: not found.
		bad, err := callTool(ctx, c, "continue_run", map[string]any{"run_id": r.RunID, "agent_id": "approver",
			"tools": []map[string]any{{"tool_call_id": r.PendingTools[0].ToolCallID, "confirmed": true}}}, nil)
		if err != nil || !bad.IsError || !strings.Contains(textOf(bad), "not found") {
			t.Fatalf("continue_run with another runnable's agent_id: %v %+v", err, bad)
		}
		res, err = callTool(ctx, c, "continue_run", map[string]any{"run_id": r.RunID,
			"tools": []map[string]any{{"tool_call_id": r.PendingTools[0].ToolCallID, "confirmed": false, "confirmation_note": "no"}}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		r = structured(t, res)
		if r.Status != core.RunCompleted || r.TeamID != "crew" || r.Content != "echo: echo: go\napprover: rejected: no" {
			t.Fatalf("legacy=%v: continued team = %+v", legacy, r)
		}

		res, err = callTool(ctx, c, "get_config", map[string]any{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		txt := textOf(res)
		for _, id := range []string{`"teams":[`, `"id":"crew"`, `"workflows":[`, `"id":"gated"`, `"tool":"ask_team_crew"`} {
			if !strings.Contains(txt, id) {
				t.Errorf("get_config lacks %s: %s", id, txt)
			}
		}
		res, err = callTool(ctx, c, "run_team", map[string]any{"team_id": "nope", "message": "x"}, nil)
		if err != nil || !res.IsError || !strings.Contains(textOf(res), "not found") {
			t.Fatalf("unknown team: %v %+v", err, res)
		}
	}
}

// TestMCPTeamScopes: run_team needs teams:<id>:run, run_workflow
// workflows:<id>:run; continue_run on a team's run needs the team's scope.
func TestMCPTeamScopes(t *testing.T) {
	t.Parallel()
	f := serve(t, auth.Config{Mode: auth.ModeJWT, JWT: auth.JWTConfig{Algorithm: auth.AlgHS256, Key: jwtSecret}},
		mcpadapter.Config{}, runnabletest.All()...)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tok := mintToken(t, "u1", "teams:crew:run", "workflows:pipeline:run")
	body := func(name, args string) string {
		return `{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"` + name + `","arguments":` + args + `}}`
	}
	for _, c := range []struct{ name, args, scope string }{
		{"run_team", `{"team_id":"duo","message":"x"}`, "teams:duo:run"},
		{"run_workflow", `{"workflow_id":"gated","message":"x"}`, "workflows:gated:run"},
	} {
		resp := rpc(t, f.URL, bearerHeader(tok), body(c.name, c.args))
		b := readBody(t, resp)
		if wa := resp.Header.Get("WWW-Authenticate"); resp.StatusCode != http.StatusForbidden || !strings.Contains(wa, `scope="`+c.scope+`"`) {
			t.Errorf("%s: status %d, WWW-Authenticate %q: %s", c.name, resp.StatusCode, wa, b)
		}
	}
	cl, err := connect(t, f.URL, false, bearerHeader(tok))
	if err != nil {
		t.Fatal(err)
	}
	listed, err := cl.ListTools(ctx, mcpgo.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, tl := range listed.Tools {
		seen[tl.Name] = true
	}
	if !seen["ask_team_crew"] || !seen["ask_workflow_pipeline"] || seen["ask_team_duo"] || seen["ask_workflow_gated"] || seen["ask_echo"] {
		t.Errorf("ask tools listed to a caller with teams:crew:run and workflows:pipeline:run: %v", seen)
	}
	resp := rpc(t, f.URL, bearerHeader(tok), body("ask_team_duo", `{"message":"x"}`))
	if b := readBody(t, resp); resp.StatusCode != http.StatusForbidden || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `scope="teams:duo:run"`) {
		t.Errorf("ask_team_duo without its scope: %d %s", resp.StatusCode, b)
	}
	res, err := callTool(ctx, cl, "run_workflow", map[string]any{"workflow_id": "pipeline", "message": "x"}, nil)
	if err != nil || structured(t, res).Status != core.RunCompleted {
		t.Fatalf("run_workflow with its scope: %v %+v", err, res)
	}
	res, err = callTool(ctx, cl, "run_team", map[string]any{"team_id": "crew", "message": "x"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := structured(t, res)
	// Another caller with only the member's scope may not continue the team.
	other, err := connect(t, f.URL, false, bearerHeader(mintToken(t, "u1", "agents:approver:run")))
	if err != nil {
		t.Fatal(err)
	}
	args := map[string]any{"run_id": r.RunID, "tools": []map[string]any{{"tool_call_id": r.PendingTools[0].ToolCallID, "confirmed": true}}}
	if _, err := callTool(ctx, other, "continue_run", args, nil); err == nil || !strings.Contains(err.Error(), "insufficient permissions") {
		t.Fatalf("continue_run without the team's scope: %v", err)
	}
	res, err = callTool(ctx, cl, "continue_run", args, nil)
	if err != nil || structured(t, res).Content != "echo: echo: x\napprover: approved" {
		t.Fatalf("continue_run with the team's scope: %v %+v", err, res)
	}
}
