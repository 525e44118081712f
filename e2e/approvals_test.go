package e2e

// Approvals through the binary: an auto_continue approval resolved on one
// replica continues the run by itself while clients follow its stream on
// both; an expired approval cancels its run (approval_expired) through the
// once-across-replicas sweep; an audit tool's decision is recorded with
// who made it.

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// approvalAgents are agents on replicaConfig's approval model whose
// calculator needs an approval: auto_continue, expiring, and audited.
const approvalAgents = `
  - id: gatekeeper
    name: Gatekeeper
    model: approval
    tools:
      - name: calculator
        approval: required
        auto_continue: true
  - id: expiring
    name: Expiring
    model: approval
    tools:
      - name: calculator
        approval: required
        expires_in: 1s
  - id: audited
    name: Audited
    model: approval
    tools:
      - name: calculator
        requires_confirmation: true
        approval: audit
approvals:
  sweep_interval: 300ms
`

// approvalPage is the part of GET /approvals the tests read.
type approvalPage struct {
	Data []struct {
		ID           string         `json:"id"`
		RunID        string         `json:"run_id"`
		Status       string         `json:"status"`
		ApprovalType string         `json:"approval_type"`
		ToolName     string         `json:"tool_name"`
		ResolvedBy   string         `json:"resolved_by"`
		RunStatus    string         `json:"run_status"`
		Context      map[string]any `json:"context"`
	} `json:"data"`
	Meta struct {
		TotalCount int `json:"total_count"`
	} `json:"meta"`
}

func (g *gateway) approvals(t testing.TB, query string) approvalPage {
	t.Helper()
	var p approvalPage
	decode(t, expectStatus(t, g.get(t, testCtx(t, 10*time.Second), "/approvals?"+query), http.StatusOK), &p)
	return p
}

func TestReplicaApprovalAutoContinue(t *testing.T) {
	t.Parallel()
	be := newBackends(t, "")
	cfg := replicaConfig() + approvalAgents
	a := startReplica(t, "A", cfg, be.Env()...)
	b := startReplica(t, "B", cfg, be.Env()...)
	ctx := testCtx(t, 60*time.Second)

	// The starting client on A: its stream stays open through the pause.
	start := follow(a.postForm(t, ctx, "/agents/gatekeeper/runs", url.Values{"message": {"compute 6*7"}, "stream": {"true"}}))
	var runID string
	deadline := time.Now().Add(20 * time.Second)
	for runID == "" {
		if p := b.approvals(t, "status=pending&agent_id=gatekeeper"); len(p.Data) == 1 {
			runID = p.Data[0].RunID
			if p.Data[0].RunStatus != "PAUSED" || p.Data[0].ToolName != "calculator" || p.Data[0].ApprovalType != "required" {
				t.Fatalf("pending approval as listed on B: %+v", p.Data[0])
			}
		} else if time.Now().After(deadline) {
			t.Fatalf("no pending approval listed on B (%d): the run did not pause?", len(p.Data))
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Another client follows the run on B from its start.
	other := follow(b.get(t, ctx, "/agents/gatekeeper/runs/"+runID+"/stream?last_event_index=-1"))
	other.waitFrames(t, 1, 10*time.Second)
	time.Sleep(300 * time.Millisecond)
	for _, f := range []*follower{start, other} {
		select {
		case <-f.done:
			t.Fatalf("a follower's stream ended at the pause: %v", types(f.res.Frames))
		default:
		}
	}

	p := b.approvals(t, "status=pending&run_id="+runID)
	body := expectStatus(t, b.sendJSON(t, ctx, http.MethodPost, "/approvals/"+p.Data[0].ID+"/resolve",
		map[string]any{"status": "approved", "resolved_by": "someone-else"}), http.StatusOK)
	if !strings.Contains(string(body), `"status":"approved"`) || strings.Contains(string(body), "someone-else") {
		t.Fatalf("resolve answer: %s", body)
	}

	for name, f := range map[string]*follower{"the starter on A": start, "the follower on B": other} {
		res := f.wait(t, 30*time.Second)
		evs, errFrame := checkDense(t, res.Frames, 0)
		if errFrame != "" || res.Err != nil {
			t.Fatalf("%s: error %q %v", name, errFrame, res.Err)
		}
		got := make([]string, len(evs))
		for i, e := range evs {
			got[i] = e.Event
		}
		joined := strings.Join(got, ",")
		if !strings.Contains(joined, "RunPaused,RunContinued") || got[len(got)-1] != "RunCompleted" {
			t.Fatalf("%s saw %v", name, got)
		}
		if c := evs[len(evs)-1].Content; !strings.Contains(c, "42") {
			t.Errorf("%s: final content %q lacks the approved result", name, c)
		}
	}
	if p := a.approvals(t, "run_id="+runID); p.Data[0].Status != "approved" || p.Data[0].RunStatus != "COMPLETED" || p.Data[0].ResolvedBy != "anonymous" {
		t.Errorf("the approval as read on A after the run: %+v", p.Data[0])
	}
}

func TestApprovalExpiryCancelsRun(t *testing.T) {
	t.Parallel()
	g := startGateway(t, replicaConfig()+approvalAgents)
	ctx := testCtx(t, 40*time.Second)
	resp := g.postForm(t, ctx, "/agents/expiring/runs", url.Values{"message": {"compute 6*7"}, "stream": {"true"}})
	expectSSE(t, resp)
	frames := readFrames(t, resp.Body)
	resp.Body.Close()
	evs := events(t, frames, 0)
	if evs[len(evs)-1].Event != "RunPaused" {
		t.Fatalf("want the stream to end at RunPaused: %v", types(frames))
	}
	runID := evs[0].RunID
	_, body := g.waitStatus(t, "expiring", runID, "CANCELLED")
	p := g.approvals(t, "run_id="+runID)
	if len(p.Data) != 1 || p.Data[0].Status != "expired" {
		t.Fatalf("approval after expiry: %+v (run %s)", p.Data, body)
	}
	sresp := g.get(t, ctx, "/agents/expiring/runs/"+runID+"/stream?last_event_index="+strconv.FormatInt(evs[len(evs)-1].EventIndex, 10))
	expectSSE(t, sresp)
	rest := readFrames(t, sresp.Body)
	sresp.Body.Close()
	if len(rest) != 1 || rest[0].Event != "RunCancelled" || !strings.Contains(rest[0].Data, `"reason":"approval_expired"`) {
		t.Fatalf("after expiry the stream has %v: %v", types(rest), rest)
	}
}

func TestApprovalAuditRecord(t *testing.T) {
	t.Parallel()
	g := startGateway(t, replicaConfig()+approvalAgents)
	ctx := testCtx(t, 30*time.Second)
	resp := g.postForm(t, ctx, "/agents/audited/runs", url.Values{"message": {"compute 6*7"}, "stream": {"true"}})
	expectSSE(t, resp)
	frames := readFrames(t, resp.Body)
	resp.Body.Close()
	evs := events(t, frames, 0)
	paused := evs[len(evs)-1]
	if paused.Event != "RunPaused" {
		t.Fatalf("want RunPaused: %v", types(frames))
	}
	if p := g.approvals(t, "run_id="+paused.RunID); p.Meta.TotalCount != 0 {
		t.Fatalf("an audit pause listed %d approvals, want none until it is decided", p.Meta.TotalCount)
	}
	var tool struct {
		ToolCallID   string `json:"tool_call_id"`
		ApprovalType string `json:"approval_type"`
	}
	decode(t, paused.Tools[0], &tool)
	if tool.ApprovalType != "audit" {
		t.Fatalf("paused tool: %s", paused.Tools[0])
	}
	tools := `[{"tool_call_id":"` + tool.ToolCallID + `","confirmed":false,"confirmation_note":"not today"}]`
	cresp := g.postForm(t, ctx, "/agents/audited/runs/"+paused.RunID+"/continue", url.Values{"tools": {tools}, "stream": {"false"}})
	expectStatus(t, cresp, http.StatusOK)
	p := g.approvals(t, "approval_type=audit&run_id="+paused.RunID)
	if len(p.Data) != 1 || p.Data[0].Status != "rejected" || p.Data[0].ResolvedBy != "anonymous" || p.Data[0].ToolName != "calculator" {
		t.Fatalf("audit record: %+v", p.Data)
	}
}
