package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Shared by the approvals e2e tests: an agent whose calculator call needs
// an approval: required, added to a gateway config, and runs of it.

// gatedAgentYAML is the agent approval-gated: the approval model calls the
// calculator, marked approval: required (which pauses for a confirmation
// an approver resolves).
const gatedAgentYAML = `  - id: approval-gated
    name: Approval gated
    model: approval
    tools:
      - name: calculator
        approval: required
`

// withGatedAgent adds approval-gated to a config's agents (cfg has a
// top-level "agents:" list and a model named approval).
func withGatedAgent(t testing.TB, cfg string) string {
	t.Helper()
	out := strings.Replace(cfg, "\nagents:\n", "\nagents:\n"+gatedAgentYAML, 1)
	if out == cfg {
		t.Fatal("withGatedAgent: the config has no top-level agents list")
	}
	return out
}

// gatedRun is a paused run of approval-gated and its pending approval.
type gatedRun struct {
	RunID, SessionID, ApprovalID, ToolCallID string
}

// pauseGated runs approval-gated with stream=false as tok (form adds
// fields) and returns it PAUSED, with the approval id its paused tool
// carries (approval_type required, as agno's ToolExecution).
func pauseGated(t testing.TB, g *gateway, tok string, form url.Values) gatedRun {
	t.Helper()
	f := url.Values{"message": {"compute 6*7"}, "stream": {"false"}}
	for k, v := range form {
		f[k] = v
	}
	var r struct {
		RunID     string `json:"run_id"`
		SessionID string `json:"session_id"`
		Status    string `json:"status"`
		Tools     []struct {
			ToolCallID   string `json:"tool_call_id"`
			ApprovalID   string `json:"approval_id"`
			ApprovalType string `json:"approval_type"`
		} `json:"tools"`
	}
	decode(t, want(t, g, tok, http.MethodPost, "/agents/approval-gated/runs", formBody(f), http.StatusOK), &r)
	if r.Status != "PAUSED" || len(r.Tools) != 1 || r.Tools[0].ApprovalID == "" || r.Tools[0].ApprovalType != "required" {
		t.Fatalf("run of approval-gated: %+v, want PAUSED with a tool carrying approval_type required and an approval_id", r)
	}
	return gatedRun{RunID: r.RunID, SessionID: r.SessionID, ApprovalID: r.Tools[0].ApprovalID, ToolCallID: r.Tools[0].ToolCallID}
}

// resolveApproval resolves approval id as tok (status approved or
// rejected); it must succeed.
func resolveApproval(t testing.TB, g *gateway, tok, id, status string) {
	t.Helper()
	want(t, g, tok, http.MethodPost, "/approvals/"+id+"/resolve", jsonBody(t, map[string]any{"status": status}), http.StatusOK)
}
