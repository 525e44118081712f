package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// The approvals' AgentOS contract: agno's approvals router
// (libs/agno/agno/os/routers/approvals/schema.py and router.py) answers
// ApprovalResponse, PaginatedResponse[ApprovalResponse],
// ApprovalCountResponse and ApprovalStatusResponse; a paused run's tool
// executions carry approval_type and approval_id (models/response.py
// ToolExecution).

var approvalStatuses = []string{"pending", "approved", "rejected", "expired", "cancelled"}

// libs/agno/agno/os/routers/approvals/schema.py ApprovalResponse.
var approvalShape = &shape{Name: "ApprovalResponse", Source: "os/routers/approvals/schema.py", Fields: []field{
	req("id", "string"), req("run_id", "string"), req("session_id", "string"),
	req("status", "string").enum(approvalStatuses...), req("source_type", "string").enum("agent", "team", "workflow"),
	opt("approval_type", "string|null").enum("required", "audit"),
	opt("pause_type", "string|null").enum("confirmation", "user_input", "external_execution"),
	opt("tool_name", "string|null"), opt("tool_args", "object|null"), opt("expires_at", "integer|null"),
	opt("agent_id", "string|null"), opt("team_id", "string|null"), opt("workflow_id", "string|null"),
	opt("user_id", "string|null"), opt("schedule_id", "string|null"), opt("schedule_run_id", "string|null"),
	opt("source_name", "string|null"), opt("requirements", "array|null").items("object"),
	opt("context", "object|null"), opt("resolution_data", "object|null"), opt("resolved_by", "string|null"),
	opt("resolved_at", "integer|null"), opt("created_at", "integer|null"), opt("updated_at", "integer|null"),
	opt("run_status", "string|null").enum(runStatuses...),
}}

// libs/agno/agno/os/schema.py PaginatedResponse[ApprovalResponse] (the
// router's response_model for GET /approvals).
var approvalPageShape = &shape{Name: "PaginatedResponse[ApprovalResponse]", Source: "os/schema.py", Fields: []field{
	req("data", "array").of(approvalShape), req("meta", "object").of(paginationShape),
}}

// libs/agno/agno/os/routers/approvals/schema.py ApprovalCountResponse.
var approvalCountShape = &shape{Name: "ApprovalCountResponse", Source: "os/routers/approvals/schema.py", Fields: []field{
	req("count", "integer"),
}}

// libs/agno/agno/os/routers/approvals/schema.py ApprovalStatusResponse.
var approvalStatusShape = &shape{Name: "ApprovalStatusResponse", Source: "os/routers/approvals/schema.py", Fields: []field{
	req("approval_id", "string"), req("status", "string").enum(approvalStatuses...), req("run_id", "string"),
	opt("resolved_at", "integer|null"), opt("resolved_by", "string|null"),
}}

// approvalsContractConfig: approval-gated (approval: required) and
// approval-audited (a confirmation recorded with approval: audit).
const approvalsContractConfig = `
models:
  approval:
    provider: scripted
    model: approval-1
    chunks: 2
    script:
      - tool_calls:
          - name: calculator
            arguments: {expression: "6*7"}
        reply: "The calculator was approved and returned {{tool_result}}."
        rejected_reply: "Rejected. Note: {{note}}"
agents:
  - id: approval-audited
    name: Approval audited
    model: approval
    tools:
      - name: calculator
        requires_confirmation: true
        approval: audit
`

// TestAgentOSApprovalsContract checks the approvals routes and the paused
// run's tool executions against agno's models, on SQLite and Postgres.
func TestAgentOSApprovalsContract(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		checkApprovalsContract(t, startGateway(t, withGatedAgent(t, approvalsContractConfig)))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		b := newBackends(t, "")
		checkApprovalsContract(t, startReplica(t, "pg", withGatedAgent(t, approvalsContractConfig), "AGENTGATE_DATABASE_URL="+b.DatabaseURL).gateway)
	})
}

func checkApprovalsContract(t *testing.T, g *gateway) {
	ctx := testCtx(t, 50*time.Second)
	get := func(path string) []byte {
		t.Helper()
		return expectStatus(t, g.get(t, ctx, path), http.StatusOK)
	}

	// A paused run (blocking answer): its tools and requirements carry the
	// approval, as agno's ToolExecution.
	resp := g.postForm(t, ctx, "/agents/approval-gated/runs", url.Values{"message": {"compute 6*7"}, "stream": {"false"}})
	paused := conform(t, "paused run", runOutputShape, expectStatus(t, resp, http.StatusOK))
	tools, _ := paused["tools"].([]any)
	if paused["status"] != "PAUSED" || len(tools) != 1 {
		t.Fatalf("paused run: %v", paused)
	}
	tool := tools[0].(map[string]any)
	approvalID, _ := tool["approval_id"].(string)
	if tool["approval_type"] != "required" || approvalID == "" || tool["requires_confirmation"] != true {
		t.Fatalf("paused tool = %v, want approval_type required, an approval_id and requires_confirmation", tool)
	}
	runID := paused["run_id"].(string)
	reqs, _ := paused["requirements"].([]any)
	if len(reqs) != 1 || reqs[0].(map[string]any)["tool_execution"].(map[string]any)["approval_id"] != approvalID {
		t.Errorf("requirements = %v, want the tool execution with approval_id %s", reqs, approvalID)
	}

	// The same on the stream's RunPaused event.
	resp = g.postForm(t, ctx, "/agents/approval-gated/runs", url.Values{"message": {"compute 6*7"}, "stream": {"true"}})
	expectSSE(t, resp)
	frames := readFrames(t, resp.Body)
	resp.Body.Close()
	last := frames[len(frames)-1]
	if last.Event != "RunPaused" {
		t.Fatalf("stream: %v, want it to end at RunPaused", types(frames))
	}
	ev := conform(t, "RunPaused", eventShape, []byte(last.Data))
	evTools, _ := ev["tools"].([]any)
	if len(evTools) != 1 || evTools[0].(map[string]any)["approval_type"] != "required" || evTools[0].(map[string]any)["approval_id"] == "" {
		t.Errorf("RunPaused tools = %v, want approval_type and approval_id", ev["tools"])
	}
	secondID, _ := evTools[0].(map[string]any)["approval_id"].(string)

	// The stored run (GET, RunOutput) keeps them.
	listed := conform(t, "GET run", runOutputShape, get("/agents/approval-gated/runs/"+runID))
	if lt, _ := listed["tools"].([]any); len(lt) != 1 || lt[0].(map[string]any)["approval_id"] != approvalID {
		t.Errorf("GET /agents/approval-gated/runs/%s tools = %v", runID, listed["tools"])
	}

	// The routes.
	page := conform(t, "GET /approvals", approvalPageShape, get("/approvals"))
	if data, _ := page["data"].([]any); len(data) != 2 {
		t.Errorf("GET /approvals lists %d approvals, want 2", len(data))
	}
	conform(t, "GET /approvals?status=pending&limit=1", approvalPageShape, get("/approvals?status=pending&limit=1&page=2"))
	count := conform(t, "GET /approvals/count", approvalCountShape, get("/approvals/count"))
	if fmt.Sprint(count["count"]) != "2" {
		t.Errorf("count = %v", count)
	}
	a := conform(t, "GET /approvals/{id}", approvalShape, get("/approvals/"+approvalID))
	if a["status"] != "pending" || a["run_id"] != runID || a["tool_name"] != "calculator" || a["agent_id"] != "approval-gated" ||
		a["run_status"] != "PAUSED" || a["source_name"] != "Approval gated" {
		t.Errorf("approval = %v", a)
	}
	st := conform(t, "GET /approvals/{id}/status", approvalStatusShape, get("/approvals/"+approvalID+"/status"))
	if st["status"] != "pending" || st["resolved_at"] != nil || st["resolved_by"] != nil {
		t.Errorf("status = %v", st)
	}
	resp = g.sendJSON(t, ctx, http.MethodPost, "/approvals/"+approvalID+"/resolve", map[string]any{"status": "approved", "resolution_data": map[string]any{"note": "ok"}})
	resolved := conform(t, "POST /approvals/{id}/resolve", approvalShape, expectStatus(t, resp, http.StatusOK))
	if resolved["status"] != "approved" || jsonType(resolved["resolved_at"]) != "integer" {
		t.Errorf("resolved = %v", resolved)
	}
	conform(t, "GET /approvals/{id}/status resolved", approvalStatusShape, get("/approvals/"+approvalID+"/status"))
	resp = g.sendJSON(t, ctx, http.MethodPost, "/approvals/"+secondID+"/resolve", map[string]any{"status": "rejected"})
	conform(t, "POST /approvals/{id}/resolve rejected", approvalShape, expectStatus(t, resp, http.StatusOK))

	// Continued with nothing more to send: the approved call ran.
	resp = g.postForm(t, ctx, "/agents/approval-gated/runs/"+runID+"/continue", url.Values{"tools": {"[]"}, "stream": {"false"}})
	done := conform(t, "continued run", runOutputShape, expectStatus(t, resp, http.StatusOK))
	if done["status"] != "COMPLETED" || !strings.Contains(done["content"].(string), "returned 42") {
		t.Errorf("continued run = %v", done)
	}
	a = conform(t, "GET /approvals/{id} continued", approvalShape, get("/approvals/"+approvalID))
	if a["run_status"] != "COMPLETED" {
		t.Errorf("run_status after the continue = %v", a["run_status"])
	}

	// approval: audit — the continue writes a resolved record.
	resp = g.postForm(t, ctx, "/agents/approval-audited/runs", url.Values{"message": {"compute 6*7"}, "stream": {"false"}})
	ap := conform(t, "audited pause", runOutputShape, expectStatus(t, resp, http.StatusOK))
	at := ap["tools"].([]any)[0].(map[string]any)
	if at["approval_type"] != "audit" {
		t.Errorf("audited tool = %v, want approval_type audit", at)
	}
	at["confirmed"] = true
	b := jsonBody(t, []any{at})
	resp = g.postForm(t, ctx, "/agents/approval-audited/runs/"+ap["run_id"].(string)+"/continue", url.Values{"tools": {string(b.data)}, "stream": {"false"}})
	conform(t, "audited continue", runOutputShape, expectStatus(t, resp, http.StatusOK))
	audits := conform(t, "GET /approvals?approval_type=audit", approvalPageShape, get("/approvals?approval_type=audit"))
	list, _ := audits["data"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["status"] != "approved" || list[0].(map[string]any)["run_id"] != ap["run_id"] {
		t.Errorf("audit records = %v", list)
	}
}
