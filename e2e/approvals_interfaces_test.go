package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/auth"
)

// Continue is gated on a pending required approval on every interface of
// the real binary (jwt mode, user isolation on): the run's owner, without
// approvals:write, is refused naming the approval (REST 403 with
// approval_id, an MCP tool error, an A2A error, a WebSocket error frame);
// once an admin resolved it over REST, the owner continues with nothing
// more to send and the run completes with the approved call's result.
func TestApprovalsContinueEveryInterface(t *testing.T) {
	t.Parallel()
	g := startGateway(t, withGatedAgent(t, jwtConfig("auth:\n  jwt_algorithm: HS256\n")))
	owner := mint(t, "alice", "agents:run", "agents:read", "sessions:read")
	admin := mint(t, "root", auth.AdminScope)
	const result = "returned 42"

	t.Run("rest", func(t *testing.T) {
		t.Parallel()
		r := pauseGated(t, g, owner, nil)
		path := "/agents/approval-gated/runs/" + r.RunID + "/continue"
		empty := formBody(url.Values{"tools": {"[]"}, "stream": {"false"}})
		var refused struct {
			Detail     string `json:"detail"`
			ApprovalID string `json:"approval_id"`
		}
		decode(t, want(t, g, owner, http.MethodPost, path, empty, http.StatusForbidden), &refused)
		if refused.ApprovalID != r.ApprovalID || !strings.Contains(refused.Detail, r.ApprovalID) {
			t.Fatalf("continue while pending: %+v, want approval_id %s", refused, r.ApprovalID)
		}
		resolveApproval(t, g, admin, r.ApprovalID, "approved")
		var done fullRunContent
		decode(t, want(t, g, owner, http.MethodPost, path, empty, http.StatusOK), &done)
		if done.Status != "COMPLETED" || !strings.Contains(done.Content, result) {
			t.Fatalf("continue after approval: %+v", done)
		}
	})

	t.Run("mcp", func(t *testing.T) {
		t.Parallel()
		r := pauseGated(t, g, owner, nil)
		c, err := mcpConnect(t, g, false, bearer(owner))
		if err != nil {
			t.Fatal(err)
		}
		ctx := testCtx(t, 30*time.Second)
		res, _, err := mcpCall(t, ctx, c, "continue_run", map[string]any{"run_id": r.RunID}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !res.IsError || !strings.Contains(mcpText(res), r.ApprovalID) {
			t.Fatalf("continue_run while pending: error %v, %q; want a tool error naming %s", res.IsError, mcpText(res), r.ApprovalID)
		}
		resolveApproval(t, g, admin, r.ApprovalID, "approved")
		res, out, err := mcpCall(t, ctx, c, "continue_run", map[string]any{"run_id": r.RunID}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.IsError || out.Status != "COMPLETED" || !strings.Contains(out.Content, result) {
			t.Fatalf("continue_run without tools after approval: error %v %q, %+v", res.IsError, mcpText(res), out)
		}
	})

	t.Run("a2a", func(t *testing.T) {
		t.Parallel()
		const ep = "/a2a/agents/approval-gated"
		send := func(text, taskID string) a2aRPC {
			t.Helper()
			extra := map[string]any{}
			if taskID != "" {
				extra["taskId"] = taskID
			}
			_, out := a2aCall(t, g, owner, ep, "SendMessage", a2aMessage(text, extra))
			return out
		}
		taskOf := func(out a2aRPC) a2aTask {
			t.Helper()
			if out.Error != nil {
				t.Fatalf("SendMessage: %+v", out.Error)
			}
			var res struct {
				Task a2aTask `json:"task"`
			}
			decode(t, out.Result, &res)
			return res.Task
		}
		task := taskOf(send("compute 6*7", ""))
		if task.Status.State != "TASK_STATE_INPUT_REQUIRED" {
			t.Fatalf("task: %s", task.Status.State)
		}
		id := approvalOfRun(t, g, admin, task.ID)
		if !strings.Contains(string(task.Status.Message), id) {
			t.Errorf("the input-required message does not carry approval %s: %s", id, task.Status.Message)
		}
		out := send("please go on", task.ID)
		if out.Error == nil || !strings.Contains(out.Error.Message, id) || !strings.Contains(string(out.Error.Data), id) {
			t.Fatalf("continue while pending: %+v, want an error naming %s (and it in the metadata)", out.Error, id)
		}
		resolveApproval(t, g, admin, id, "approved")
		done := taskOf(send("please go on", task.ID))
		if done.Status.State != "TASK_STATE_COMPLETED" || !strings.Contains(done.text(), result) {
			b, _ := json.Marshal(done)
			t.Fatalf("continue without a decision after approval: %s", b)
		}
	})

	t.Run("ws", func(t *testing.T) {
		t.Parallel()
		w, _ := wsDial(t, g, http.Header{"Authorization": {"Bearer " + owner}})
		w.send(map[string]any{"action": "start", "id": "s", "agent_id": "approval-gated", "message": "compute 6*7"})
		ack := w.expect("ack")
		frames := w.untilEnd(ack.RunID, 0)
		paused := frames[len(frames)-1]
		var tools []struct {
			ApprovalID   string `json:"approval_id"`
			ApprovalType string `json:"approval_type"`
		}
		decode(t, paused.Tools, &tools)
		if paused.Event != "RunPaused" || len(tools) != 1 || tools[0].ApprovalID == "" || tools[0].ApprovalType != "required" {
			t.Fatalf("pause: %s", paused)
		}
		id := tools[0].ApprovalID
		w.send(map[string]any{"action": "continue", "id": "c1", "run_id": ack.RunID})
		if f := w.expect("error"); f.Code != "forbidden" || !strings.Contains(f.Detail, id) {
			t.Fatalf("continue while pending: %s, want forbidden naming %s", f, id)
		}
		resolveApproval(t, g, admin, id, "approved")
		w.send(map[string]any{"action": "continue", "id": "c2", "run_id": ack.RunID})
		cont := w.expect("ack")
		evs := w.untilEnd(ack.RunID, paused.EventIndex+1)
		last := evs[len(evs)-1]
		if cont.RunID != ack.RunID || last.Event != "RunCompleted" || !strings.Contains(last.Content, result) {
			t.Fatalf("continue without tools after approval: ack %s, last %s", cont, last)
		}
	})
}

// fullRunContent is a run's status and content (blocking answer).
type fullRunContent struct {
	Status  string `json:"status"`
	Content string `json:"content"`
}

// approvalOfRun is the one approval of run runID, read as tok.
func approvalOfRun(t testing.TB, g *gateway, tok, runID string) string {
	t.Helper()
	var page struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	decode(t, want(t, g, tok, http.MethodGet, "/approvals?run_id="+url.QueryEscape(runID), nil, http.StatusOK), &page)
	if len(page.Data) != 1 {
		t.Fatalf("run %s has %d approvals, want 1", runID, len(page.Data))
	}
	return page.Data[0].ID
}

// TestApprovalsApproverContinuesEveryInterface: the run's owner who may
// approve (approvals:write) is not refused on any interface: a continue
// with a decision goes on and resolves the approval, recorded as the
// caller.
func TestApprovalsApproverContinuesEveryInterface(t *testing.T) {
	t.Parallel()
	g := startGateway(t, withGatedAgent(t, jwtConfig("auth:\n  jwt_algorithm: HS256\n")))
	owner := mint(t, "dana", "agents:run", "agents:read", "approvals:read", "approvals:write")
	const result = "returned 42"
	resolvedBy := func(t *testing.T, id, status string) {
		t.Helper()
		var a struct {
			Status     string `json:"status"`
			ResolvedBy string `json:"resolved_by"`
		}
		decode(t, want(t, g, owner, http.MethodGet, "/approvals/"+id, nil, http.StatusOK), &a)
		if a.Status != status || a.ResolvedBy != "dana" {
			t.Errorf("approval %s after the continue: %+v, want %s by dana", id, a, status)
		}
	}

	t.Run("mcp", func(t *testing.T) {
		t.Parallel()
		r := pauseGated(t, g, owner, nil)
		c, err := mcpConnect(t, g, false, bearer(owner))
		if err != nil {
			t.Fatal(err)
		}
		res, out, err := mcpCall(t, testCtx(t, 30*time.Second), c, "continue_run", map[string]any{"run_id": r.RunID,
			"tools": []any{map[string]any{"tool_call_id": r.ToolCallID, "confirmed": true}}}, nil)
		if err != nil || res.IsError || out.Status != "COMPLETED" || !strings.Contains(out.Content, result) {
			t.Fatalf("continue_run by an approver: %v %q %+v", err, mcpText(res), out)
		}
		resolvedBy(t, r.ApprovalID, "approved")
	})

	t.Run("a2a", func(t *testing.T) {
		t.Parallel()
		const ep = "/a2a/agents/approval-gated"
		var sent struct {
			Task a2aTask `json:"task"`
		}
		a2aResult(t, g, owner, ep, "SendMessage", a2aMessage("compute 6*7", nil), &sent)
		id := approvalOfRun(t, g, owner, sent.Task.ID)
		var done struct {
			Task a2aTask `json:"task"`
		}
		a2aResult(t, g, owner, ep, "SendMessage", a2aMessage("no, not today", map[string]any{"taskId": sent.Task.ID}), &done)
		if done.Task.Status.State != "TASK_STATE_COMPLETED" || !strings.Contains(done.Task.text(), "Rejected") {
			t.Fatalf("an approver's no: %s %q", done.Task.Status.State, done.Task.text())
		}
		resolvedBy(t, id, "rejected")
	})

	t.Run("ws", func(t *testing.T) {
		t.Parallel()
		r := pauseGated(t, g, owner, nil)
		w, _ := wsDial(t, g, http.Header{"Authorization": {"Bearer " + owner}})
		w.send(map[string]any{"action": "continue", "id": "c", "run_id": r.RunID,
			"tools": []any{map[string]any{"tool_call_id": r.ToolCallID, "confirmed": true}}})
		ack := w.expect("ack")
		var last wsFrame
		for last.Event != "RunCompleted" {
			if last = w.read(); last.RunID != ack.RunID || last.Event == "RunError" {
				t.Fatalf("following the continued run: %s", last)
			}
		}
		if !strings.Contains(last.Content, result) {
			t.Fatalf("continued by an approver: %s", last)
		}
		resolvedBy(t, r.ApprovalID, "approved")
	})
}

// TestApprovalsListedAndIsolated: through the binary (jwt mode, user
// isolation on), a paused run's approval is listed and counted for its
// owner and for an admin, not for another user, who cannot read, resolve
// or delete it (404); the owner, not an admin, cannot delete it either.
func TestApprovalsListedAndIsolated(t *testing.T) {
	t.Parallel()
	g := startGateway(t, withGatedAgent(t, jwtConfig("auth:\n  jwt_algorithm: HS256\n")))
	scopes := []string{"agents:run", "agents:read", "approvals:read", "approvals:write", "approvals:delete"}
	alice, bob := mint(t, "alice", scopes...), mint(t, "bob", scopes...)
	admin := mint(t, "root", auth.AdminScope)
	mine := pauseGated(t, g, alice, nil)
	theirs := pauseGated(t, g, bob, nil)

	type page struct {
		Data []struct {
			ID     string `json:"id"`
			RunID  string `json:"run_id"`
			UserID string `json:"user_id"`
			Status string `json:"status"`
		} `json:"data"`
		Meta struct {
			TotalCount int `json:"total_count"`
		} `json:"meta"`
	}
	var p page
	decode(t, want(t, g, alice, http.MethodGet, "/approvals?status=pending", nil, http.StatusOK), &p)
	if len(p.Data) != 1 || p.Data[0].ID != mine.ApprovalID || p.Data[0].RunID != mine.RunID || p.Data[0].UserID != "alice" || p.Meta.TotalCount != 1 {
		t.Errorf("alice's pending approvals: %+v, want only %s", p, mine.ApprovalID)
	}
	decode(t, want(t, g, admin, http.MethodGet, "/approvals", nil, http.StatusOK), &p)
	if len(p.Data) != 2 || p.Meta.TotalCount != 2 {
		t.Errorf("admin lists %+v, want both", p)
	}
	var n struct {
		Count int `json:"count"`
	}
	decode(t, want(t, g, bob, http.MethodGet, "/approvals/count", nil, http.StatusOK), &n)
	if n.Count != 1 {
		t.Errorf("bob counts %d, want 1", n.Count)
	}
	want(t, g, bob, http.MethodGet, "/approvals/"+mine.ApprovalID, nil, http.StatusNotFound)
	want(t, g, bob, http.MethodGet, "/approvals/"+mine.ApprovalID+"/status", nil, http.StatusNotFound)
	want(t, g, bob, http.MethodPost, "/approvals/"+mine.ApprovalID+"/resolve", jsonBody(t, map[string]any{"status": "approved"}), http.StatusNotFound)
	want(t, g, bob, http.MethodDelete, "/approvals/"+mine.ApprovalID, nil, http.StatusNotFound)
	want(t, g, alice, http.MethodDelete, "/approvals/"+mine.ApprovalID, nil, http.StatusNotFound)

	// The owner, an approver of their own runs, resolves it; twice is 409.
	var a struct {
		Status     string `json:"status"`
		ResolvedBy string `json:"resolved_by"`
	}
	decode(t, want(t, g, alice, http.MethodPost, "/approvals/"+mine.ApprovalID+"/resolve",
		jsonBody(t, map[string]any{"status": "approved", "resolved_by": "bob"}), http.StatusOK), &a)
	if a.Status != "approved" || a.ResolvedBy != "alice" {
		t.Errorf("resolved: %+v, want approved by alice (the body said bob)", a)
	}
	want(t, g, alice, http.MethodPost, "/approvals/"+mine.ApprovalID+"/resolve", jsonBody(t, map[string]any{"status": "rejected"}), http.StatusConflict)
	want(t, g, admin, http.MethodDelete, "/approvals/"+theirs.ApprovalID, nil, http.StatusNoContent)
	want(t, g, bob, http.MethodGet, "/approvals/"+theirs.ApprovalID, nil, http.StatusNotFound)
}
