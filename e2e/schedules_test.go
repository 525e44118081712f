package e2e

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The schedules' REST routes through the binary, on SQLite and Postgres:
// AgentOS's shapes (agno os/routers/schedules/schema.py), bad input with
// the right status, trigger, history.

// libs/agno/agno/os/routers/schedules/schema.py ScheduleResponse.
var scheduleShape = &shape{Name: "ScheduleResponse", Source: "os/routers/schedules/schema.py", Fields: []field{
	req("id", "string"), req("name", "string"), opt("description", "string|null"), req("method", "string"),
	req("endpoint", "string"), opt("payload", "object|null"), req("cron_expr", "string"), req("timezone", "string"),
	req("timeout_seconds", "integer"), req("max_retries", "integer"), req("retry_delay_seconds", "integer"),
	req("enabled", "boolean"), opt("next_run_at", "integer|null"), opt("created_at", "integer|null"),
	opt("updated_at", "integer|null"),
}}

// ScheduleStateResponse.
var scheduleStateShape = &shape{Name: "ScheduleStateResponse", Source: "os/routers/schedules/schema.py", Fields: []field{
	req("id", "string"), req("name", "string"), req("enabled", "boolean"), opt("next_run_at", "integer|null"),
	opt("updated_at", "integer|null"),
}}

// ScheduleRunResponse.
var scheduleRunShape = &shape{Name: "ScheduleRunResponse", Source: "os/routers/schedules/schema.py", Fields: []field{
	req("id", "string"), req("schedule_id", "string"), req("attempt", "integer"), opt("triggered_at", "integer|null"),
	opt("completed_at", "integer|null"),
	req("status", "string").enum("running", "success", "failed", "paused", "timeout", "cancelled"),
	opt("status_code", "integer|null"), opt("run_id", "string|null"), opt("session_id", "string|null"),
	opt("error", "string|null"), opt("input", "object|null"), opt("output", "object|null"),
	opt("requirements", "array|null"), opt("created_at", "integer|null"),
}}

var schedulePageShape = &shape{Name: "PaginatedResponse[ScheduleResponse]", Source: "os/schema.py", Fields: []field{
	req("data", "array").of(scheduleShape), req("meta", "object").of(paginationShape),
}}

var scheduleRunPageShape = &shape{Name: "PaginatedResponse[ScheduleRunResponse]", Source: "os/schema.py", Fields: []field{
	req("data", "array").of(scheduleRunShape), req("meta", "object").of(paginationShape),
}}

func TestSchedulesREST(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		checkSchedulesREST(t, startGateway(t, contractConfig))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		b := newBackends(t, "")
		checkSchedulesREST(t, startReplica(t, "pg", contractConfig, "AGENTGATE_DATABASE_URL="+b.DatabaseURL).gateway)
	})
}

func checkSchedulesREST(t *testing.T, g *gateway) {
	ctx := testCtx(t, 60*time.Second)
	send := func(method, path string, body any, status int) []byte {
		t.Helper()
		return expectStatus(t, g.sendJSON(t, ctx, method, path, body), status)
	}
	detail := func(b []byte) string {
		var e struct {
			Detail string `json:"detail"`
		}
		decode(t, b, &e)
		return e.Detail
	}

	// AgentOS's form (endpoint + method) as agno's clients send it.
	created := conform(t, "POST /schedules", scheduleShape, send(http.MethodPost, "/schedules", map[string]any{
		"name": "Morning report", "cron_expr": "0 9 * * 1-5", "endpoint": "/agents/assistant/runs", "method": "POST",
		"payload": map[string]any{"message": "report"}, "timezone": "Europe/Berlin", "description": "weekdays",
	}, http.StatusCreated))
	id, _ := created["id"].(string)
	if created["enabled"] != true || created["timezone"] != "Europe/Berlin" || created["next_run_at"] == nil {
		t.Errorf("created: %v", created)
	}
	// Ours: a target.
	other := conform(t, "POST /schedules (target)", scheduleShape, send(http.MethodPost, "/schedules", map[string]any{
		"name": "every-minute", "cron_expr": "* * * * *", "target": map[string]any{"kind": "agent", "id": "assistant"},
		"payload": map[string]any{"message": "hello"}, "max_retries": 2, "catch_up": "none",
	}, http.StatusCreated))
	if other["endpoint"] != "/agents/assistant/runs" || other["method"] != "POST" {
		t.Errorf("a target's endpoint: %v", other)
	}
	otherID, _ := other["id"].(string)

	// Bad input.
	bad := func(body map[string]any, status int, mention string) {
		t.Helper()
		base := map[string]any{"name": "bad-" + mention, "cron_expr": "@daily", "target": map[string]any{"kind": "agent", "id": "assistant"},
			"payload": map[string]any{"message": "x"}}
		for k, v := range body {
			base[k] = v
		}
		b := send(http.MethodPost, "/schedules", base, status)
		if !strings.Contains(detail(b), mention) {
			t.Errorf("POST /schedules %v: %d %s, want it to name %s", body, status, b, mention)
		}
	}
	bad(map[string]any{"cron_expr": "every day"}, http.StatusUnprocessableEntity, "cron_expr")
	bad(map[string]any{"timezone": "Mars/Base"}, http.StatusUnprocessableEntity, "timezone")
	bad(map[string]any{"name": "Morning report"}, http.StatusConflict, "already exists")
	bad(map[string]any{"target": map[string]any{"kind": "agent", "id": "nobody"}}, http.StatusUnprocessableEntity, "target")
	bad(map[string]any{"target": nil, "endpoint": "/sessions"}, http.StatusUnprocessableEntity, "endpoint")
	bad(map[string]any{"name": "!bang"}, http.StatusUnprocessableEntity, "name")
	send(http.MethodGet, "/schedules/no-such-schedule", nil, http.StatusNotFound)

	// Read, list, page.
	conform(t, "GET /schedules/{id}", scheduleShape, send(http.MethodGet, "/schedules/"+id, nil, http.StatusOK))
	page := conform(t, "GET /schedules", schedulePageShape, send(http.MethodGet, "/schedules?limit=1&page=2", nil, http.StatusOK))
	if data, _ := page["data"].([]any); len(data) != 1 || page["meta"].(map[string]any)["total_count"] != jsonNumber(2) {
		t.Errorf("GET /schedules?limit=1&page=2: %v", page)
	}
	send(http.MethodGet, "/schedules?limit=1001", nil, http.StatusUnprocessableEntity)

	// Update.
	upd := conform(t, "PATCH /schedules/{id}", scheduleShape, send(http.MethodPatch, "/schedules/"+id, map[string]any{
		"cron_expr": "30 8 * * *", "timeout_seconds": 30}, http.StatusOK))
	if upd["cron_expr"] != "30 8 * * *" || upd["timeout_seconds"] != jsonNumber(30) || upd["name"] != "Morning report" {
		t.Errorf("PATCH: %v", upd)
	}
	send(http.MethodPatch, "/schedules/"+id, map[string]any{"name": "every-minute"}, http.StatusConflict)
	send(http.MethodPatch, "/schedules/"+id, map[string]any{"timezone": "Nowhere"}, http.StatusUnprocessableEntity)

	// Trigger: runs now, answers the finished run.
	run := conform(t, "POST /schedules/{id}/trigger", scheduleRunShape, send(http.MethodPost, "/schedules/"+id+"/trigger", nil, http.StatusOK))
	if run["status"] != "success" || run["run_id"] == nil || run["schedule_id"] != id {
		t.Errorf("trigger: %v", run)
	}
	if out, _ := run["output"].(map[string]any); out["content"] != "You said: report" {
		t.Errorf("trigger output: %v", run["output"])
	}
	runs := conform(t, "GET /schedules/{id}/runs", scheduleRunPageShape, send(http.MethodGet, "/schedules/"+id+"/runs", nil, http.StatusOK))
	if data, _ := runs["data"].([]any); len(data) != 1 {
		t.Errorf("runs: %v", runs)
	}
	runID, _ := run["id"].(string)
	conform(t, "GET /schedules/{id}/runs/{run_id}", scheduleRunShape, send(http.MethodGet, "/schedules/"+id+"/runs/"+runID, nil, http.StatusOK))
	send(http.MethodGet, "/schedules/"+otherID+"/runs/"+runID, nil, http.StatusNotFound)
	// The run is an ordinary run of the agent.
	if r, body := g.getRun(t, ctx, "assistant", run["run_id"].(string)); r.Status != "COMPLETED" {
		t.Errorf("the triggered run: %s", body)
	}

	// Disable, then trigger is a conflict; enable.
	off := conform(t, "POST /schedules/{id}/disable", scheduleStateShape, send(http.MethodPost, "/schedules/"+id+"/disable", nil, http.StatusOK))
	if off["enabled"] != false {
		t.Errorf("disable: %v", off)
	}
	send(http.MethodPost, "/schedules/"+id+"/trigger", nil, http.StatusConflict)
	if l := conform(t, "GET /schedules?enabled=false", schedulePageShape, send(http.MethodGet, "/schedules?enabled=false", nil, http.StatusOK)); len(l["data"].([]any)) != 1 {
		t.Errorf("disabled ones: %v", l)
	}
	on := conform(t, "POST /schedules/{id}/enable", scheduleStateShape, send(http.MethodPost, "/schedules/"+id+"/enable", nil, http.StatusOK))
	if on["enabled"] != true || on["next_run_at"] == nil {
		t.Errorf("enable: %v", on)
	}

	// Delete.
	send(http.MethodDelete, "/schedules/"+id, nil, http.StatusNoContent)
	send(http.MethodGet, "/schedules/"+id, nil, http.StatusNotFound)
	send(http.MethodGet, "/schedules/"+id+"/runs", nil, http.StatusNotFound)
	send(http.MethodDelete, "/schedules/"+id, nil, http.StatusNotFound)
}

// jsonNumber is n as decodeAny decodes it.
func jsonNumber(n int) json.Number { return json.Number(strconv.Itoa(n)) }

// scheduleBody is a valid new schedule of assistant (a unique name),
// daily: it does not fire during a test.
func scheduleBody() map[string]any {
	return map[string]any{"name": "matrix " + randHex(6), "cron_expr": "0 3 * * *",
		"target": map[string]any{"kind": "agent", "id": "assistant"}, "payload": map[string]any{"message": "hi"}}
}

// createSchedule creates a schedule as tok and returns its id.
func createSchedule(t testing.TB, g *gateway, tok string) string {
	t.Helper()
	var sc struct {
		ID string `json:"id"`
	}
	decode(t, want(t, g, tok, http.MethodPost, "/schedules", jsonBody(t, scheduleBody()), http.StatusCreated), &sc)
	return sc.ID
}

// TestSchedulesIsolation: under user isolation a schedule belongs to its
// creator: another user lists none of it and gets 404 for each of its
// routes; an admin sees every one; the runs it fires run as its owner.
func TestSchedulesIsolation(t *testing.T) {
	t.Parallel()
	g := startGateway(t, jwtConfig("auth:\n  jwt_algorithm: HS256\n"))
	scopes := []string{"schedules:read", "schedules:write", "schedules:delete", "agents:read", "agents:run"}
	alice, bob := mint(t, "alice", scopes...), mint(t, "bob", scopes...)
	admin := mint(t, "root", "agent_os:admin")
	id := createSchedule(t, g, alice)
	createSchedule(t, g, bob)

	ids := func(tok string) []string {
		t.Helper()
		var page struct {
			Data []struct {
				ID     string `json:"id"`
				UserID string `json:"user_id"`
			} `json:"data"`
		}
		decode(t, want(t, g, tok, http.MethodGet, "/schedules", nil, http.StatusOK), &page)
		var out []string
		for _, s := range page.Data {
			out = append(out, s.UserID)
		}
		return out
	}
	if got := ids(alice); len(got) != 1 || got[0] != "alice" {
		t.Errorf("alice lists schedules of %v, want only hers", got)
	}
	if got := ids(bob); len(got) != 1 || got[0] != "bob" {
		t.Errorf("bob lists schedules of %v, want only his", got)
	}
	if got := ids(admin); len(got) < 2 {
		t.Errorf("the admin lists %v, want every user's", got)
	}
	for _, r := range []struct {
		method, path string
		body         *reqBody
	}{
		{http.MethodGet, "/schedules/" + id, nil},
		{http.MethodPatch, "/schedules/" + id, jsonBody(t, map[string]any{"description": "mine now"})},
		{http.MethodPost, "/schedules/" + id + "/disable", nil},
		{http.MethodPost, "/schedules/" + id + "/enable", nil},
		{http.MethodPost, "/schedules/" + id + "/trigger", nil},
		{http.MethodGet, "/schedules/" + id + "/runs", nil},
		{http.MethodDelete, "/schedules/" + id, nil},
	} {
		want(t, g, bob, r.method, r.path, r.body, http.StatusNotFound)
	}
	// Alice's trigger runs as alice: the run is hers, not bob's.
	var sr struct {
		Status string `json:"status"`
		RunID  string `json:"run_id"`
	}
	decode(t, want(t, g, alice, http.MethodPost, "/schedules/"+id+"/trigger", nil, http.StatusOK), &sr)
	if sr.Status != "success" {
		t.Fatalf("alice's trigger: %+v", sr)
	}
	want(t, g, alice, http.MethodGet, "/agents/assistant/runs/"+sr.RunID, nil, http.StatusOK)
	want(t, g, bob, http.MethodGet, "/agents/assistant/runs/"+sr.RunID, nil, http.StatusNotFound)
	want(t, g, alice, http.MethodDelete, "/schedules/"+id, nil, http.StatusNoContent)
}

// scheduleToolConfig: an agent given the schedule tool set, whose model
// asks for a Monday reminder.
const scheduleToolConfig = `
models:
  reminder:
    provider: scripted
    model: reminder-1
    chunks: 1
    script:
      - tool_calls:
          - name: create_schedule
            arguments: {name: "monday report", cron_expr: "0 9 * * 1", timezone: "Europe/Berlin", message: "Send me the report"}
        reply: "Done: {{tool_result}}"
agents:
  - id: planner
    name: Planner
    model: reminder
    tools: [schedule]
`

// TestScheduleToolSet: "remind me every Monday at 9" from a chat: the
// agent's create_schedule makes a schedule owned by the run's user, which
// that user then sees over REST and another user does not.
func TestScheduleToolSet(t *testing.T) {
	t.Parallel()
	g := startGateway(t, "auth_mode: jwt\njwt_key: \""+authSecret+"\"\nauth:\n  jwt_algorithm: HS256\n"+scheduleToolConfig)
	scopes := []string{"schedules:read", "agents:read", "agents:run"}
	alice, bob := mint(t, "alice", scopes...), mint(t, "bob", scopes...)
	var r struct {
		Status  string `json:"status"`
		Content string `json:"content"`
	}
	decode(t, want(t, g, alice, http.MethodPost, "/agents/planner/runs", formBody(map[string][]string{
		"message": {"remind me every Monday at 9"}, "stream": {"false"}}), http.StatusOK), &r)
	if r.Status != "COMPLETED" || !strings.Contains(r.Content, `"name":"monday report"`) {
		t.Fatalf("the run: %+v", r)
	}
	var page struct {
		Data []struct {
			Name     string `json:"name"`
			UserID   string `json:"user_id"`
			CronExpr string `json:"cron_expr"`
			Timezone string `json:"timezone"`
			Target   struct {
				Kind, ID string
			} `json:"target"`
			Payload map[string]any `json:"payload"`
		} `json:"data"`
	}
	decode(t, want(t, g, alice, http.MethodGet, "/schedules", nil, http.StatusOK), &page)
	if len(page.Data) != 1 {
		t.Fatalf("alice's schedules: %+v", page.Data)
	}
	s := page.Data[0]
	if s.Name != "monday report" || s.UserID != "alice" || s.CronExpr != "0 9 * * 1" || s.Timezone != "Europe/Berlin" ||
		s.Target.ID != "planner" || s.Payload["message"] != "Send me the report" {
		t.Errorf("the schedule: %+v", s)
	}
	decode(t, want(t, g, bob, http.MethodGet, "/schedules", nil, http.StatusOK), &page)
	if len(page.Data) != 0 {
		t.Errorf("bob sees alice's schedule: %+v", page.Data)
	}
}
