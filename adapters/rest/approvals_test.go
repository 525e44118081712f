package rest

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/auth"
	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/agent"
	"github.com/agentgate/agentgate/core/model/scripted"
	"github.com/agentgate/agentgate/core/tool"
	"github.com/agentgate/agentgate/internal/testutil/enginetest"
	"github.com/agentgate/agentgate/transport/httptransport"
)

// approvalServer serves the REST adapter in jwt mode (user isolation on)
// over an engine with the agent gated, whose calculator call needs an
// approval: required before the run goes on.
func approvalServer(t *testing.T) string {
	t.Helper()
	calc := tool.Calculator()
	calc.Flags = tool.Flags{Approval: core.ApprovalRequired}
	gated, err := agent.New(agent.Config{ID: "gated", Model: scripted.New(scripted.Config{Rules: []scripted.Rule{{
		ToolCalls: []scripted.Call{{Name: "calculator", Arguments: map[string]any{"expression": "6*7"}}},
		Reply:     "result {{tool_result}}", RejectedReply: "rejected: {{note}}",
	}}}), Tools: []*tool.Tool{calc}})
	if err != nil {
		t.Fatal(err)
	}
	env := enginetest.New(t, enginetest.Options{}, gated)
	a, err := auth.New(auth.Config{Mode: auth.ModeJWT, JWT: auth.JWTConfig{Algorithm: auth.AlgHS256, Key: authzTestSecret}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !a.UserIsolation() {
		t.Fatal("user isolation is off by default in jwt mode: the owner checks prove nothing")
	}
	srv := httptransport.New(httptransport.Config{Auth: a})
	pol := auth.NewPolicy()
	Register(srv, env.Engine, Config{Policy: pol})
	if err := pol.CheckCoverage(); err != nil {
		t.Fatal(err)
	}
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
	return "http://" + ln.Addr().String()
}

// approvalJSON is the approval fields the tests read.
type approvalJSON struct {
	ID           string         `json:"id"`
	RunID        string         `json:"run_id"`
	SessionID    string         `json:"session_id"`
	Status       string         `json:"status"`
	SourceType   string         `json:"source_type"`
	ApprovalType string         `json:"approval_type"`
	PauseType    string         `json:"pause_type"`
	ToolName     string         `json:"tool_name"`
	AgentID      string         `json:"agent_id"`
	UserID       string         `json:"user_id"`
	ResolvedBy   string         `json:"resolved_by"`
	ResolvedAt   *int64         `json:"resolved_at"`
	RunStatus    string         `json:"run_status"`
	Resolution   map[string]any `json:"resolution_data"`
}

type approvalPageJSON struct {
	Data []approvalJSON `json:"data"`
	Meta struct {
		Page       int `json:"page"`
		Limit      int `json:"limit"`
		TotalPages int `json:"total_pages"`
		TotalCount int `json:"total_count"`
	} `json:"meta"`
}

// gatedPause runs gated as c (stream=false) and returns the paused run's
// id and the approval id stamped on its paused tool.
func gatedPause(t *testing.T, c *client) (runID, approvalID string) {
	t.Helper()
	var r struct {
		RunID  string `json:"run_id"`
		Status string `json:"status"`
		Tools  []struct {
			ApprovalID   string `json:"approval_id"`
			ApprovalType string `json:"approval_type"`
		} `json:"tools"`
	}
	c.json(http.MethodPost, "/agents/gated/runs", url.Values{"message": {"go"}, "stream": {"false"}}, http.StatusOK, &r)
	if r.Status != "PAUSED" || len(r.Tools) != 1 || r.Tools[0].ApprovalID == "" || r.Tools[0].ApprovalType != "required" {
		t.Fatalf("run of gated: %+v, want PAUSED with one tool carrying an approval id", r)
	}
	return r.RunID, r.Tools[0].ApprovalID
}

func (c *client) approvalIDs(query string) ([]string, approvalPageJSON) {
	c.t.Helper()
	var page approvalPageJSON
	c.json(http.MethodGet, "/approvals"+query, nil, http.StatusOK, &page)
	var ids []string
	for _, a := range page.Data {
		ids = append(ids, a.ID)
	}
	return ids, page
}

func (c *client) count() int {
	c.t.Helper()
	var n struct {
		Count *int `json:"count"`
	}
	c.json(http.MethodGet, "/approvals/count", nil, http.StatusOK, &n)
	if n.Count == nil {
		c.t.Fatal("GET /approvals/count without a count")
	}
	return *n.Count
}

// resolve posts a JSON resolution and returns the status and body.
func (c *client) resolve(id string, body map[string]any) (int, []byte) {
	c.t.Helper()
	b, _ := json.Marshal(body)
	req, err := http.NewRequest(http.MethodPost, c.base+"/approvals/"+id+"/resolve", strings.NewReader(string(b)))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out json.RawMessage
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func sameIDs(got []string, want ...string) bool {
	if len(got) != len(want) {
		return false
	}
	seen := map[string]bool{}
	for _, id := range got {
		seen[id] = true
	}
	for _, id := range want {
		if !seen[id] {
			return false
		}
	}
	return true
}

// TestApprovalRoutes: the /approvals group through the adapter: list with
// each filter and its paging meta, count, get, status, resolve (approved
// and rejected, the caller recorded whatever the body says, twice 409,
// missing 404, bad status 422) and delete (204, then 404).
func TestApprovalRoutes(t *testing.T) {
	base := approvalServer(t)
	const runScopes = "agents:run"
	alice := newUserClient(t, base, "alice", runScopes, "agents:read", "approvals:read", "approvals:write")
	admin := newUserClient(t, base, "root", auth.AdminScope)

	run1, a1 := gatedPause(t, alice)
	run2, a2 := gatedPause(t, alice)
	_, a3 := gatedPause(t, alice)

	ids, page := alice.approvalIDs("")
	if !sameIDs(ids, a1, a2, a3) || page.Meta.TotalCount != 3 || page.Meta.Page != 1 || page.Meta.Limit != 100 || page.Meta.TotalPages != 1 {
		t.Fatalf("GET /approvals: %v %+v, want %s %s %s on one page", ids, page.Meta, a1, a2, a3)
	}
	first := page.Data[0]
	if first.Status != "pending" || first.SourceType != "agent" || first.ApprovalType != "required" || first.PauseType != "confirmation" ||
		first.ToolName != "calculator" || first.AgentID != "gated" || first.UserID != "alice" || first.RunStatus != "PAUSED" ||
		first.ResolvedAt != nil || first.ResolvedBy != "" || first.SessionID == "" {
		t.Errorf("listed approval = %+v", first)
	}

	// Paging: 3 approvals, 2 a page.
	p1, page := alice.approvalIDs("?limit=2&page=1")
	if len(p1) != 2 || page.Meta.TotalCount != 3 || page.Meta.TotalPages != 2 || page.Meta.Page != 1 || page.Meta.Limit != 2 {
		t.Errorf("page 1 of 2: %v %+v", p1, page.Meta)
	}
	p2, page := alice.approvalIDs("?limit=2&page=2")
	if len(p2) != 1 || page.Meta.TotalCount != 3 || page.Meta.Page != 2 || sameIDs(append(p1, p2...), a1, a2, a3) == false {
		t.Errorf("page 2 of 2: %v %+v (page 1 %v)", p2, page.Meta, p1)
	}
	if p3, page := alice.approvalIDs("?limit=2&page=3"); len(p3) != 0 || page.Meta.TotalCount != 3 {
		t.Errorf("page 3 of 2: %v %+v", p3, page.Meta)
	}

	// Each filter, matching and not.
	for q, want := range map[string][]string{
		"?status=pending":                     {a1, a2, a3},
		"?status=approved":                    nil,
		"?agent_id=gated":                     {a1, a2, a3},
		"?agent_id=other":                     nil,
		"?team_id=t":                          nil,
		"?workflow_id=w":                      nil,
		"?source_type=agent":                  {a1, a2, a3},
		"?source_type=team":                   nil,
		"?approval_type=required":             {a1, a2, a3},
		"?approval_type=audit":                nil,
		"?pause_type=confirmation":            {a1, a2, a3},
		"?pause_type=user_input":              nil,
		"?run_id=" + run1:                     {a1},
		"?run_id=" + run2 + "&status=pending": {a2},
		"?user_id=alice":                      {a1, a2, a3},
		"?schedule_id=s":                      nil,
	} {
		got, page := alice.approvalIDs(q)
		if !sameIDs(got, want...) || page.Meta.TotalCount != len(want) {
			t.Errorf("GET /approvals%s: %v (total %d), want %v", q, got, page.Meta.TotalCount, want)
		}
	}
	for _, q := range []string{"?status=maybe", "?source_type=robot", "?approval_type=never", "?limit=0", "?page=0"} {
		if status, b := alice.do(http.MethodGet, "/approvals"+q, nil); status != http.StatusUnprocessableEntity {
			t.Errorf("GET /approvals%s: %d, want 422: %s", q, status, b)
		}
	}
	if n := alice.count(); n != 3 {
		t.Errorf("count = %d, want 3", n)
	}

	// Get and status.
	var got approvalJSON
	alice.json(http.MethodGet, "/approvals/"+a1, nil, http.StatusOK, &got)
	if got.ID != a1 || got.RunID != run1 || got.Status != "pending" || got.RunStatus != "PAUSED" {
		t.Errorf("GET /approvals/%s = %+v", a1, got)
	}
	var st map[string]any
	alice.json(http.MethodGet, "/approvals/"+a1+"/status", nil, http.StatusOK, &st)
	if st["approval_id"] != a1 || st["status"] != "pending" || st["run_id"] != run1 || st["resolved_at"] != nil || st["resolved_by"] != nil {
		t.Errorf("status of a pending approval = %v", st)
	}
	for _, p := range []string{"/approvals/nope", "/approvals/nope/status"} {
		if status, b := alice.do(http.MethodGet, p, nil); status != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404: %s", p, status, b)
		}
	}

	// Resolve: approved, the caller recorded (not the body's resolved_by).
	status, b := alice.resolve(a1, map[string]any{"status": "approved", "resolved_by": "mallory", "resolution_data": map[string]any{"note": "fine"}})
	if status != http.StatusOK {
		t.Fatalf("resolve approved: %d %s", status, b)
	}
	decodeInto(t, b, &got)
	if got.Status != "approved" || got.ResolvedBy != "alice" || got.ResolvedAt == nil || got.Resolution["note"] != "fine" {
		t.Errorf("resolved approval = %+v, want approved by alice (the body said mallory)", got)
	}
	alice.json(http.MethodGet, "/approvals/"+a1+"/status", nil, http.StatusOK, &st)
	if st["status"] != "approved" || st["resolved_by"] != "alice" || st["resolved_at"] == nil {
		t.Errorf("status of a resolved approval = %v", st)
	}
	if status, b := alice.resolve(a1, map[string]any{"status": "rejected"}); status != http.StatusConflict {
		t.Errorf("resolve twice: %d, want 409: %s", status, b)
	}
	if status, b := alice.resolve(a2, map[string]any{"status": "rejected"}); status != http.StatusOK || !strings.Contains(string(b), `"rejected"`) {
		t.Errorf("resolve rejected: %d %s", status, b)
	}
	if status, b := alice.resolve("missing", map[string]any{"status": "approved"}); status != http.StatusNotFound {
		t.Errorf("resolve a missing approval: %d, want 404: %s", status, b)
	}
	for _, body := range []map[string]any{{"status": "maybe"}, {"status": "expired"}, {"status": "pending"}, {}} {
		if status, b := alice.resolve(a3, body); status != http.StatusUnprocessableEntity {
			t.Errorf("resolve with %v: %d, want 422: %s", body, status, b)
		}
	}
	if n := alice.count(); n != 1 {
		t.Errorf("count after two resolutions = %d, want 1", n)
	}
	if ids, _ := alice.approvalIDs("?status=approved"); !sameIDs(ids, a1) {
		t.Errorf("approved = %v, want %s", ids, a1)
	}
	if ids, _ := alice.approvalIDs("?status=rejected"); !sameIDs(ids, a2) {
		t.Errorf("rejected = %v, want %s", ids, a2)
	}

	// Delete: 204, then 404 everywhere.
	if status, b := admin.do(http.MethodDelete, "/approvals/"+a1, nil); status != http.StatusNoContent {
		t.Fatalf("delete: %d, want 204: %s", status, b)
	}
	for _, c := range []struct{ method, path string }{
		{http.MethodDelete, "/approvals/" + a1}, {http.MethodGet, "/approvals/" + a1}, {http.MethodGet, "/approvals/" + a1 + "/status"},
	} {
		if status, b := admin.do(c.method, c.path, nil); status != http.StatusNotFound {
			t.Errorf("%s %s after delete: %d, want 404: %s", c.method, c.path, status, b)
		}
	}
	if ids, page := admin.approvalIDs(""); !sameIDs(ids, a2, a3) || page.Meta.TotalCount != 2 {
		t.Errorf("after delete: %v (%d), want %s %s", ids, page.Meta.TotalCount, a2, a3)
	}
}

// TestApprovalIsolation: under user isolation a non-admin sees, counts,
// polls and resolves only their own runs' approvals (another's is 404),
// deletes none (404), and cannot list another's by asking for their
// user_id; an admin sees all of them.
func TestApprovalIsolation(t *testing.T) {
	base := approvalServer(t)
	scopes := []string{"agents:run", "agents:read", "approvals:read", "approvals:write", "approvals:delete"}
	alice := newUserClient(t, base, "alice", scopes...)
	bob := newUserClient(t, base, "bob", scopes...)
	admin := newUserClient(t, base, "root", auth.AdminScope)

	_, mine := gatedPause(t, alice)
	_, theirs := gatedPause(t, bob)
	_, theirs2 := gatedPause(t, bob)

	if ids, page := alice.approvalIDs(""); !sameIDs(ids, mine) || page.Meta.TotalCount != 1 || page.Meta.TotalPages != 1 {
		t.Errorf("alice lists %v (meta %+v), want only %s", ids, page.Meta, mine)
	}
	if ids, page := alice.approvalIDs("?user_id=bob"); sameIDs(ids, theirs, theirs2) || page.Meta.TotalCount > 1 {
		t.Errorf("alice lists bob's approvals by asking for user_id=bob: %v (%d)", ids, page.Meta.TotalCount)
	}
	if ids, _ := bob.approvalIDs(""); !sameIDs(ids, theirs, theirs2) {
		t.Errorf("bob lists %v, want %s %s", ids, theirs, theirs2)
	}
	if n := alice.count(); n != 1 {
		t.Errorf("alice counts %d, want 1", n)
	}
	if n := bob.count(); n != 2 {
		t.Errorf("bob counts %d, want 2", n)
	}
	if ids, page := admin.approvalIDs(""); !sameIDs(ids, mine, theirs, theirs2) || page.Meta.TotalCount != 3 {
		t.Errorf("admin lists %v (%d), want all three", ids, page.Meta.TotalCount)
	}
	if ids, _ := admin.approvalIDs("?user_id=bob"); !sameIDs(ids, theirs, theirs2) {
		t.Errorf("admin lists bob's: %v", ids)
	}
	if n := admin.count(); n != 3 {
		t.Errorf("admin counts %d, want 3", n)
	}

	for _, p := range []string{"/approvals/" + theirs, "/approvals/" + theirs + "/status"} {
		if status, b := alice.do(http.MethodGet, p, nil); status != http.StatusNotFound {
			t.Errorf("alice GET %s (bob's): %d, want 404: %s", p, status, b)
		}
	}
	if status, b := alice.resolve(theirs, map[string]any{"status": "approved"}); status != http.StatusNotFound {
		t.Errorf("alice resolves bob's: %d, want 404: %s", status, b)
	}
	var a approvalJSON
	bob.json(http.MethodGet, "/approvals/"+theirs, nil, http.StatusOK, &a)
	if a.Status != "pending" {
		t.Errorf("bob's approval after alice's attempt: %s, want still pending", a.Status)
	}
	// A non-admin deletes nothing, not even their own: 404.
	for _, id := range []string{mine, theirs} {
		if status, b := alice.do(http.MethodDelete, "/approvals/"+id, nil); status != http.StatusNotFound {
			t.Errorf("alice DELETE %s: %d, want 404: %s", id, status, b)
		}
	}
	alice.json(http.MethodGet, "/approvals/"+mine, nil, http.StatusOK, &a)

	// Admin: sees, resolves and deletes anyone's.
	admin.json(http.MethodGet, "/approvals/"+theirs, nil, http.StatusOK, &a)
	if status, b := admin.resolve(theirs, map[string]any{"status": "approved", "resolved_by": "bob"}); status != http.StatusOK || !strings.Contains(string(b), `"resolved_by":"root"`) {
		t.Errorf("admin resolves bob's: %d %s, want resolved_by root", status, b)
	}
	if status, b := admin.do(http.MethodDelete, "/approvals/"+theirs2, nil); status != http.StatusNoContent {
		t.Errorf("admin deletes bob's: %d, want 204: %s", status, b)
	}
}

// TestApprovalContinueGate: a continue by the run's owner without
// approvals:write is refused while the approval is pending (403 naming it
// in approval_id); once an approver resolved it, the owner continues with
// an empty tools list and the run completes with the approved call's
// result; a rejection continues it rejected.
func TestApprovalContinueGate(t *testing.T) {
	base := approvalServer(t)
	alice := newUserClient(t, base, "alice", "agents:run", "agents:read")
	admin := newUserClient(t, base, "root", auth.AdminScope)

	for _, decision := range []string{"approved", "rejected"} {
		runID, id := gatedPause(t, alice)
		cont := url.Values{"tools": {"[]"}, "stream": {"false"}}
		status, b := alice.do(http.MethodPost, "/agents/gated/runs/"+runID+"/continue", cont)
		var body map[string]any
		decodeInto(t, b, &body)
		if status != http.StatusForbidden || body["approval_id"] != id || !strings.Contains(body["detail"].(string), id) {
			t.Fatalf("continue while pending: %d %s, want 403 with approval_id %s", status, b, id)
		}
		if status, b := admin.resolve(id, map[string]any{"status": decision}); status != http.StatusOK {
			t.Fatalf("resolve %s: %d %s", decision, status, b)
		}
		var r struct {
			Status  string `json:"status"`
			Content string `json:"content"`
		}
		alice.json(http.MethodPost, "/agents/gated/runs/"+runID+"/continue", cont, http.StatusOK, &r)
		want := "result 42"
		if decision == "rejected" {
			want = "rejected"
		}
		if r.Status != "COMPLETED" || !strings.Contains(r.Content, want) {
			t.Errorf("continue after %s: %+v, want COMPLETED with %q", decision, r, want)
		}
		var st map[string]any
		admin.json(http.MethodGet, "/approvals/"+id+"/status", nil, http.StatusOK, &st)
		if st["run_status"] != "COMPLETED" {
			t.Errorf("run_status after the continue = %v, want COMPLETED", st["run_status"])
		}
	}
}

func decodeInto(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
}

// TestApprovalListPerResourceScopes: a caller admitted to GET /approvals
// by approvals:<id>:read scopes lists and counts only those approvals,
// filtered before paging (total_count tells of no other).
func TestApprovalListPerResourceScopes(t *testing.T) {
	base := approvalServer(t)
	alice := newUserClient(t, base, "alice", "agents:run", "agents:read", "approvals:read")
	_, a1 := gatedPause(t, alice)
	_, a2 := gatedPause(t, alice)
	_, a3 := gatedPause(t, alice)
	if ids, page := alice.approvalIDs(""); !sameIDs(ids, a1, a2, a3) || page.Meta.TotalCount != 3 {
		t.Fatalf("with approvals:read: %v (%d)", ids, page.Meta.TotalCount)
	}
	viewer := newUserClient(t, base, "alice", "approvals:"+a1+":read", "approvals:"+a3+":read", "approvals:nope:read")
	if ids, page := viewer.approvalIDs(""); !sameIDs(ids, a1, a3) || page.Meta.TotalCount != 2 || page.Meta.TotalPages != 1 {
		t.Errorf("with approvals:<a1>:read and <a3>: %v (meta %+v), want only those", ids, page.Meta)
	}
	p1, page := viewer.approvalIDs("?limit=1&page=1")
	p2, _ := viewer.approvalIDs("?limit=1&page=2")
	if len(p1) != 1 || len(p2) != 1 || !sameIDs(append(p1, p2...), a1, a3) || page.Meta.TotalCount != 2 || page.Meta.TotalPages != 2 {
		t.Errorf("paged: %v %v (meta %+v)", p1, p2, page.Meta)
	}
	if ids, _ := viewer.approvalIDs("?status=approved"); len(ids) != 0 {
		t.Errorf("status=approved: %v, want none", ids)
	}
	if n := viewer.count(); n != 2 {
		t.Errorf("count with two per-resource scopes = %d, want 2", n)
	}
	if status, b := viewer.do(http.MethodGet, "/approvals/"+a2, nil); status != http.StatusForbidden {
		t.Errorf("GET an approval the scopes do not name: %d, want 403: %s", status, b)
	}
	// Under isolation, a scope naming another user's approval shows nothing.
	mallory := newUserClient(t, base, "mallory", "approvals:"+a1+":read")
	if ids, page := mallory.approvalIDs(""); len(ids) != 0 || page.Meta.TotalCount != 0 {
		t.Errorf("mallory with approvals:<alice's>:read lists %v (%d)", ids, page.Meta.TotalCount)
	}
}

// TestApprovalApproverContinues: an owner who may approve
// (approvals:write) continues a pending approval's run with decisions of
// their own, which resolve it (recorded as them): approved runs the call,
// rejected rejects it.
func TestApprovalApproverContinues(t *testing.T) {
	base := approvalServer(t)
	carol := newUserClient(t, base, "carol", "agents:run", "agents:read", "approvals:read", "approvals:write")
	for _, confirmed := range []bool{true, false} {
		var r struct {
			RunID string           `json:"run_id"`
			Tools []map[string]any `json:"tools"`
		}
		carol.json(http.MethodPost, "/agents/gated/runs", url.Values{"message": {"go"}, "stream": {"false"}}, http.StatusOK, &r)
		id, _ := r.Tools[0]["approval_id"].(string)
		r.Tools[0]["confirmed"] = confirmed
		b, _ := json.Marshal(r.Tools)
		var done struct {
			Status  string `json:"status"`
			Content string `json:"content"`
		}
		carol.json(http.MethodPost, "/agents/gated/runs/"+r.RunID+"/continue", url.Values{"tools": {string(b)}, "stream": {"false"}}, http.StatusOK, &done)
		var a approvalJSON
		carol.json(http.MethodGet, "/approvals/"+id, nil, http.StatusOK, &a)
		wantContent, wantStatus := "result 42", "approved"
		if !confirmed {
			wantContent, wantStatus = "rejected", "rejected"
		}
		if done.Status != "COMPLETED" || !strings.Contains(done.Content, wantContent) || a.Status != wantStatus || a.ResolvedBy != "carol" {
			t.Errorf("approver continues with confirmed=%v: run %+v, approval %+v", confirmed, done, a)
		}
	}
}
