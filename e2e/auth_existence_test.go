package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	mcpgo "github.com/mark3labs/mcp-go/mcp"
)

// absentLike returns an id of the same shape as id that names nothing.
func absentLike(id string) string {
	if len(id) < 8 {
		return id + "-absent"
	}
	return id[:len(id)-8] + "0badf00d"
}

// TestAuthForeignEqualsAbsent: under user isolation every route that takes
// a resource id answers another user's resource exactly as one that does
// not exist — same status, same body byte for byte once the ids are
// replaced by a placeholder — on REST, A2A (both method generations and
// the HTTP+JSON binding), MCP and WebSocket. Creating a session with an id
// that is taken answers the same whoever holds it (the ids are global:
// creating it cannot succeed, and the answer does not say whose it is).
func TestAuthForeignEqualsAbsent(t *testing.T) {
	t.Parallel()
	g := startGateway(t, jwtConfig("auth:\n  jwt_algorithm: HS256\n"))
	alice := mint(t, "alice", userScopes...)
	bob := mint(t, "bob", userScopes...)

	// bob's resources: a session of his own id, a completed run in it, a
	// paused run.
	bobSession := createSession(t, g, bob, map[string]any{"session_id": "bob-private-session-0001"})
	done := completedRun(t, g, bob, "assistant", url.Values{"session_id": {bobSession}})
	paused := pausedRun(t, g, bob, nil)
	absentSession := absentLike(bobSession)
	absentRun := absentLike(done.RunID)
	absentPaused := absentLike(paused.RunID)

	type answer struct {
		status int
		body   string
	}
	// Each probe performs one request as alice on the ids given and
	// returns the answer with the ids replaced.
	type probe struct {
		name   string
		paused bool // the run id is the paused run's (else the completed one's)
		do     func(t *testing.T, session, run string) answer
	}
	norm := func(b []byte, ids ...string) string {
		s := string(b)
		for _, id := range ids {
			if id != "" {
				s = strings.ReplaceAll(s, id, "<ID>")
			}
		}
		return s
	}
	rest := func(method, path string, body func() *reqBody) func(t *testing.T, session, run string) answer {
		return func(t *testing.T, session, run string) answer {
			p := strings.NewReplacer("{session}", session, "{run}", run).Replace(path)
			var rb *reqBody
			if body != nil {
				rb = body()
			}
			resp, b := call(t, g, alice, method, p, rb)
			return answer{resp.StatusCode, norm(b, session, run)}
		}
	}
	continueBody := func() *reqBody { return continueForm(t, paused) }
	a2a := func(method string, params func(session, run string) any) func(t *testing.T, session, run string) answer {
		return func(t *testing.T, session, run string) answer {
			resp, out := a2aCall(t, g, alice, "/a2a/agents/approval-demo", method, params(session, run))
			out.ID = nil
			b, _ := json.Marshal(out)
			return answer{resp.StatusCode, norm(b, session, run)}
		}
	}
	a2aREST := func(method, path string) func(t *testing.T, session, run string) answer {
		return func(t *testing.T, session, run string) answer {
			p := strings.NewReplacer("{run}", run).Replace(path)
			resp, b := callHeader(t, g, method, "/a2a/agents/approval-demo"+p, nil, map[string]string{"Authorization": "Bearer " + alice, "A2A-Version": "1.0"})
			return answer{resp.StatusCode, norm(b, session, run)}
		}
	}
	mc, err := mcpConnect(t, g, false, mcpBearer(alice))
	if err != nil {
		t.Fatal(err)
	}
	mcp := func(tool string, args func(session, run string) map[string]any) func(t *testing.T, session, run string) answer {
		return func(t *testing.T, session, run string) answer {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			res, err := mc.CallTool(ctx, mcpgo.CallToolRequest{Params: mcpgo.CallToolParams{Name: tool, Arguments: args(session, run)}})
			if err != nil {
				return answer{-1, norm([]byte(err.Error()), session, run)}
			}
			return answer{0, fmt.Sprintf("error=%v %s", res.IsError, norm([]byte(mcpText(res)), session, run))}
		}
	}
	ws := func(frame func(session, run string) map[string]any) func(t *testing.T, session, run string) answer {
		return func(t *testing.T, session, run string) answer {
			w, _ := wsDial(t, g, http.Header{"Authorization": {"Bearer " + alice}})
			f := frame(session, run)
			f["id"] = 7
			w.send(f)
			r := w.read()
			return answer{0, norm(r.Raw, session, run)}
		}
	}
	tools := func() []any {
		var out []any
		for _, r := range paused.Requirements {
			var m map[string]any
			_ = json.Unmarshal(r.ToolExecution, &m)
			m["confirmed"] = true
			out = append(out, m)
		}
		return out
	}

	probes := []probe{
		// REST sessions.
		{"GET session", false, rest(http.MethodGet, "/sessions/{session}", nil)},
		{"PATCH session", false, rest(http.MethodPatch, "/sessions/{session}", func() *reqBody { return jsonBody(t, map[string]any{"session_name": "x"}) })},
		{"rename session", false, rest(http.MethodPost, "/sessions/{session}/rename", func() *reqBody { return jsonBody(t, map[string]any{"session_name": "x"}) })},
		{"session runs", false, rest(http.MethodGet, "/sessions/{session}/runs", nil)},
		{"session run", false, rest(http.MethodGet, "/sessions/{session}/runs/{run}", nil)},
		{"DELETE session", false, rest(http.MethodDelete, "/sessions/{session}", nil)},
		// REST runs (a completed and a paused one).
		{"GET run", false, rest(http.MethodGet, "/agents/assistant/runs/{run}", nil)},
		{"GET paused run", true, rest(http.MethodGet, "/agents/approval-demo/runs/{run}", nil)},
		{"cancel run", true, rest(http.MethodPost, "/agents/approval-demo/runs/{run}/cancel", nil)},
		{"continue run", true, rest(http.MethodPost, "/agents/approval-demo/runs/{run}/continue", continueBody)},
		{"resume run", false, rest(http.MethodPost, "/agents/assistant/runs/{run}/resume", func() *reqBody { return formBody(url.Values{"last_event_index": {"0"}}) })},
		{"stream run", false, rest(http.MethodGet, "/agents/assistant/runs/{run}/stream", nil)},
		// A2A.
		{"a2a GetTask", true, a2a("GetTask", func(_, run string) any { return map[string]any{"id": run} })},
		{"a2a CancelTask", true, a2a("CancelTask", func(_, run string) any { return map[string]any{"id": run} })},
		{"a2a SubscribeToTask", true, a2a("SubscribeToTask", func(_, run string) any { return map[string]any{"id": run} })},
		{"a2a continue by message", true, a2a("SendMessage", func(_, run string) any { return a2aMessage("yes", map[string]any{"taskId": run}) })},
		{"a2a push set", true, a2a("CreateTaskPushNotificationConfig", func(_, run string) any {
			return map[string]any{"taskId": run, "url": "https://hooks.example.com/x"}
		})},
		{"a2a push list", true, a2a("ListTaskPushNotificationConfigs", func(_, run string) any { return map[string]any{"taskId": run} })},
		{"a2a push get", true, a2a("GetTaskPushNotificationConfig", func(_, run string) any { return map[string]any{"taskId": run, "id": "c1"} })},
		{"a2a push delete", true, a2a("DeleteTaskPushNotificationConfig", func(_, run string) any { return map[string]any{"taskId": run, "id": "c1"} })},
		{"a2a push v0.3 set", true, a2a("tasks/pushNotificationConfig/set", func(_, run string) any {
			return map[string]any{"taskId": run, "pushNotificationConfig": map[string]any{"url": "https://hooks.example.com/x"}}
		})},
		{"a2a tasks/get", true, a2a("tasks/get", func(_, run string) any { return map[string]any{"id": run} })},
		{"a2a tasks/cancel", true, a2a("tasks/cancel", func(_, run string) any { return map[string]any{"id": run} })},
		{"a2a tasks/resubscribe", true, a2a("tasks/resubscribe", func(_, run string) any { return map[string]any{"id": run} })},
		{"a2a ListTasks by context", false, a2a("ListTasks", func(session, _ string) any { return map[string]any{"contextId": session} })},
		{"a2a REST get task", true, a2aREST(http.MethodGet, "/tasks/{run}")},
		{"a2a REST cancel task", true, a2aREST(http.MethodPost, "/tasks/{run}:cancel")},
		// MCP.
		{"mcp continue_run", true, mcp("continue_run", func(_, run string) map[string]any {
			var ts []any
			for _, x := range tools() {
				ts = append(ts, map[string]any{"tool_call_id": x.(map[string]any)["tool_call_id"], "confirmed": true})
			}
			return map[string]any{"run_id": run, "tools": ts}
		})},
		{"mcp cancel_run", true, mcp("cancel_run", func(_, run string) map[string]any { return map[string]any{"run_id": run} })},
		{"mcp get_session_runs", false, mcp("get_session_runs", func(session, _ string) map[string]any { return map[string]any{"session_id": session} })},
		// WebSocket.
		{"ws subscribe", true, ws(func(_, run string) map[string]any { return map[string]any{"action": "subscribe", "run_id": run} })},
		{"ws continue", true, ws(func(_, run string) map[string]any {
			return map[string]any{"action": "continue", "run_id": run, "tools": tools()}
		})},
		{"ws cancel", true, ws(func(_, run string) map[string]any { return map[string]any{"action": "cancel", "run_id": run} })},
	}
	for _, p := range probes {
		t.Run(p.name, func(t *testing.T) {
			run, absent := done.RunID, absentRun
			if p.paused {
				run, absent = paused.RunID, absentPaused
			}
			foreign := p.do(t, bobSession, run)
			missing := p.do(t, absentSession, absent)
			// Both are refusals of the resource (a list filtered to
			// nothing for ListTasks), not of the caller.
			if lower := strings.ToLower(foreign.body); !strings.Contains(lower, "not found") && !strings.Contains(lower, "not_found") &&
				p.name != "a2a ListTasks by context" {
				t.Errorf("foreign answer %d %s, want not found", foreign.status, foreign.body)
			}
			if foreign != missing {
				t.Errorf("foreign and absent answers differ:\nforeign: %d %s\nabsent:  %d %s", foreign.status, foreign.body, missing.status, missing.body)
			}
		})
	}

	// Nothing alice did reached bob's resources.
	var r fullRun
	decode(t, want(t, g, bob, http.MethodGet, "/agents/approval-demo/runs/"+paused.RunID, nil, http.StatusOK), &r)
	if r.Status != "PAUSED" {
		t.Errorf("bob's paused run is %s after alice's attempts", r.Status)
	}
	want(t, g, bob, http.MethodGet, "/sessions/"+bobSession, nil, http.StatusOK)

	// Creating a session with a taken id: the same answer for bob's id and
	// for one of alice's own.
	aliceSession := createSession(t, g, alice, map[string]any{"session_id": "alice-private-session-01"})
	resp, own := call(t, g, alice, http.MethodPost, "/sessions", jsonBody(t, map[string]any{"session_id": aliceSession}))
	resp2, foreign := call(t, g, alice, http.MethodPost, "/sessions", jsonBody(t, map[string]any{"session_id": bobSession}))
	if resp.StatusCode != resp2.StatusCode || norm(own, aliceSession) != norm(foreign, bobSession) {
		t.Errorf("create with a taken id: own %d %s, foreign %d %s", resp.StatusCode, own, resp2.StatusCode, foreign)
	}
}
