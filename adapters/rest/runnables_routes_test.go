package rest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/internal/testutil"
)

// TestTeamAndWorkflowDescriptions checks GET /teams, /teams/{id},
// /workflows, /workflows/{id}, and that /config and /info count them.
func TestTeamAndWorkflowDescriptions(t *testing.T) {
	t.Parallel()
	base, _ := runnableServer(t)
	c := newClient(t, base, "agent_os:admin")
	var teams []TeamResponse
	c.json(http.MethodGet, "/teams", nil, http.StatusOK, &teams)
	if len(teams) != 3 || teams[0].ID != "relay" || teams[1].ID != "slowteam" || teams[2].ID != "gate" {
		t.Fatalf("GET /teams = %+v", teams)
	}
	var team map[string]any
	c.json(http.MethodGet, "/teams/relay", nil, http.StatusOK, &team)
	members, _ := team["members"].([]any)
	if team["db_id"] != "db" || team["mode"] != "coordinate" || len(members) != 2 {
		t.Fatalf("GET /teams/relay = %v", team)
	}
	if m := members[0].(map[string]any); m["id"] != "alpha" || m["db_id"] != "db" {
		t.Errorf("member = %v, want alpha's AgentResponse", m)
	}
	var flow map[string]any
	c.json(http.MethodGet, "/workflows/flow", nil, http.StatusOK, &flow)
	steps, _ := flow["steps"].([]any)
	if len(steps) != 2 || flow["workflow_agent"] != false {
		t.Fatalf("GET /workflows/flow = %v", flow)
	}
	if s := steps[0].(map[string]any); s["name"] != "research" || s["agent"].(map[string]any)["id"] != "alpha" {
		t.Errorf("step 0 = %v, want research running alpha", s)
	}
	var flows []WorkflowResponse
	c.json(http.MethodGet, "/workflows", nil, http.StatusOK, &flows)
	if len(flows) != 2 {
		t.Errorf("GET /workflows = %+v", flows)
	}
	for _, p := range []string{"/teams/nope", "/workflows/nope", "/teams/alpha", "/workflows/relay"} {
		if st, b := c.do(http.MethodGet, p, nil); st != http.StatusNotFound {
			t.Errorf("GET %s: %d %s, want 404", p, st, b)
		}
	}
	var cfg ConfigBody
	c.json(http.MethodGet, "/config", nil, http.StatusOK, &cfg)
	if len(cfg.Agents) != 4 || len(cfg.Teams) != 3 || len(cfg.Workflows) != 2 || cfg.Teams[0].DBID != "db" {
		t.Errorf("GET /config: agents %v teams %v workflows %v", cfg.Agents, cfg.Teams, cfg.Workflows)
	}
	var info InfoBody
	c.json(http.MethodGet, "/info", nil, http.StatusOK, &info)
	if info.AgentCount != 4 || info.TeamCount != 3 || info.WorkflowCount != 2 {
		t.Errorf("GET /info = %+v", info)
	}
}

// TestTeamRunModes runs a team in the four modes and reads its runs back.
func TestTeamRunModes(t *testing.T) {
	t.Parallel()
	base, _ := runnableServer(t)
	c := newClient(t, base, "agent_os:admin")

	// Blocking.
	var done core.Run
	c.json(http.MethodPost, "/teams/relay/runs", url.Values{"message": {"hi"}, "stream": {"false"}}, http.StatusOK, &done)
	if done.Status != core.RunCompleted || done.TeamID != "relay" || done.AgentID != "" || done.Content != "alpha: from alpha | beta: from beta" {
		t.Fatalf("blocking team run = %+v", done)
	}
	if done.SessionState["members"] != 2.0 {
		t.Errorf("session_state = %v", done.SessionState)
	}
	var got core.Run
	c.json(http.MethodGet, "/teams/relay/runs/"+done.RunID, nil, http.StatusOK, &got)
	if got.RunID != done.RunID || got.Status != core.RunCompleted {
		t.Errorf("GET run = %+v", got)
	}
	// The team's run is not an agent's nor another team's.
	for _, p := range []string{"/agents/alpha/runs/" + done.RunID, "/teams/gate/runs/" + done.RunID, "/workflows/flow/runs/" + done.RunID} {
		if st, _ := c.do(http.MethodGet, p, nil); st != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, st)
		}
	}
	var listed []RunSchema
	c.json(http.MethodGet, "/teams/relay/runs?session_id="+done.SessionID, nil, http.StatusOK, &listed)
	if len(listed) != 1 || listed[0].RunID != done.RunID || listed[0].RunInput != "hi" {
		t.Errorf("GET /teams/relay/runs = %+v", listed)
	}
	// The session's runs: the team's and its members' (parent_run_id).
	var all []RunSchema
	c.json(http.MethodGet, "/sessions/"+done.SessionID+"/runs", nil, http.StatusOK, &all)
	children := 0
	for _, r := range all {
		if r.ParentRunID == done.RunID {
			children++
		}
	}
	if len(all) != 3 || children != 2 {
		t.Errorf("GET /sessions/{id}/runs = %d runs, %d children of the team's", len(all), children)
	}
	var sess SessionDetail
	c.json(http.MethodGet, "/sessions/"+done.SessionID, nil, http.StatusOK, &sess)
	if sess.SessionType != core.SessionTeam || sess.TeamID != "relay" {
		t.Errorf("team session = %+v", sess.Session)
	}
	// The chat history is the team's conversation, not its members'.
	if len(sess.ChatHistory) != 2 || sess.ChatHistory[0].Content != "hi" || sess.ChatHistory[1].Content != done.Content {
		t.Errorf("team chat_history = %+v", sess.ChatHistory)
	}

	// Background: 202, then poll.
	var acc BackgroundAccepted
	c.json(http.MethodPost, "/teams/relay/runs", url.Values{"message": {"bg"}, "stream": {"false"}, "background": {"true"}}, http.StatusAccepted, &acc)
	testutil.Eventually(t, 10*time.Second, "the background team run completes", func() bool {
		var r core.Run
		c.json(http.MethodGet, "/teams/relay/runs/"+acc.RunID, nil, http.StatusOK, &r)
		return r.Status == core.RunCompleted
	})

	// Streaming (default), and background+stream.
	for _, form := range []url.Values{{"message": {"s"}}, {"message": {"s"}, "background": {"true"}}} {
		evs := c.events(http.MethodPost, "/teams/relay/runs", form)
		if len(evs) < 4 || evs[0].Event != "TeamRunStarted" || evs[len(evs)-1].Event != "TeamRunCompleted" {
			t.Fatalf("team stream %v = %v", form, eventTypes(evs))
		}
		teamRun := evs[0].RunID
		members := map[string]bool{}
		for i, ev := range evs {
			if ev.EventIndex != int64(i) {
				t.Fatalf("event %d has index %d", i, ev.EventIndex)
			}
			if ev.ParentRunID == teamRun && ev.Event == core.EventRunCompleted {
				members[ev.AgentID] = true
			}
		}
		if !members["alpha"] || !members["beta"] {
			t.Errorf("forwarded member completions = %v: %v", members, eventTypes(evs))
		}
		// Resume after index N is exact, as is GET .../stream after N.
		for _, n := range []int{0, 2, len(evs) - 2} {
			tail := c.events(http.MethodPost, "/teams/relay/runs/"+teamRun+"/resume", url.Values{"last_event_index": {strconv.Itoa(n)}})
			if !sameEvents(tail, evs[n+1:]) {
				t.Errorf("resume after %d = %v, want %v", n, eventTypes(tail), eventTypes(evs[n+1:]))
			}
			tail = c.events(http.MethodGet, "/teams/relay/runs/"+teamRun+"/stream?last_event_index="+strconv.Itoa(n), nil)
			if !sameEvents(tail, evs[n+1:]) {
				t.Errorf("stream after %d = %v", n, eventTypes(tail))
			}
		}
		if st, _ := c.do(http.MethodGet, "/teams/relay/runs/"+teamRun+"/stream?last_event_index="+strconv.Itoa(len(evs)-1), nil); st != http.StatusNoContent {
			t.Errorf("stream after the last event: %d, want 204", st)
		}
	}

	// Cancel of an ended run leaves it as it is.
	var cb CancelBody
	c.json(http.MethodPost, "/teams/relay/runs/"+done.RunID+"/cancel", nil, http.StatusOK, &cb)
	if cb.Status != core.RunCompleted || cb.Cancelling {
		t.Errorf("cancel of an ended team run = %+v", cb)
	}
	if st, _ := c.do(http.MethodPost, "/teams/nope/runs", url.Values{"message": {"x"}}); st != http.StatusNotFound {
		t.Errorf("run of an unknown team: %d, want 404", st)
	}
}

func sameEvents(a, b []core.Event) bool {
	return slices.EqualFunc(a, b, func(x, y core.Event) bool {
		return x.EventIndex == y.EventIndex && x.Event == y.Event && x.RunID == y.RunID
	})
}

// TestTeamContinueWithRequirements pauses a team on its member's tool
// call and continues it with agno's requirements, mapped to the member's
// decisions by tool_call_id.
func TestTeamContinueWithRequirements(t *testing.T) {
	t.Parallel()
	base, eng := runnableServer(t)
	c := newClient(t, base, "agent_os:admin")
	var paused core.Run
	c.json(http.MethodPost, "/teams/gate/runs", url.Values{"message": {"compute"}, "stream": {"false"}}, http.StatusOK, &paused)
	if paused.Status != core.RunPaused || len(paused.Requirements) != 1 {
		t.Fatalf("team run = %+v", paused)
	}
	req := paused.Requirements[0]
	if req.MemberAgentID != "hitl" || req.MemberRunID == "" || req.ToolExecution == nil {
		t.Fatalf("requirement = %+v", req)
	}
	path := "/teams/gate/runs/" + paused.RunID + "/continue"
	// A decision naming another member is refused, and the run stays paused.
	wrong := req
	wrong.MemberAgentID = "alpha"
	st, b := c.do(http.MethodPost, path, url.Values{"requirements": {mustJSON(t, []core.RunRequirement{wrong})}, "stream": {"false"}})
	if st != http.StatusBadRequest {
		t.Fatalf("continue naming another member: %d %s, want 400", st, b)
	}
	if st, b := c.do(http.MethodPost, path, url.Values{"stream": {"false"}}); st != http.StatusBadRequest {
		t.Fatalf("continue without requirements or tools: %d %s, want 400", st, b)
	}
	yes := true
	req.Confirmation = &yes
	var done core.Run
	c.json(http.MethodPost, path, url.Values{"requirements": {mustJSON(t, []core.RunRequirement{req})}, "stream": {"false"}}, http.StatusOK, &done)
	if done.Status != core.RunCompleted || done.Content != "alpha: from alpha | hitl: result 42" {
		t.Fatalf("continued team run = %+v", done)
	}
	member, err := eng.Get(t.Context(), req.MemberRunID)
	if err != nil || member.Status != core.RunCompleted || member.ParentRunID != paused.RunID {
		t.Errorf("member run = %+v, %v", member, err)
	}
	if st, _ := c.do(http.MethodPost, path, url.Values{"requirements": {mustJSON(t, []core.RunRequirement{req})}, "stream": {"false"}}); st != http.StatusConflict {
		t.Errorf("second continue: %d, want 409", st)
	}
}

// TestWorkflowRunAndStepRequirements runs a workflow (its events named
// after it, its steps' events and its agent step forwarded), then pauses
// one on a step and continues it with step_requirements.
func TestWorkflowRunAndStepRequirements(t *testing.T) {
	t.Parallel()
	base, _ := runnableServer(t)
	c := newClient(t, base, "agent_os:admin")
	evs := c.events(http.MethodPost, "/workflows/flow/runs", url.Values{"message": {"topic"}})
	if len(evs) < 4 || evs[0].Event != "WorkflowStarted" || evs[len(evs)-1].Event != "WorkflowCompleted" {
		t.Fatalf("workflow stream = %v", eventTypes(evs))
	}
	var sawStep, sawAgent bool
	for _, ev := range evs {
		sawStep = sawStep || (ev.Event == core.EventStepStarted && ev.StepName == "research" && ev.WorkflowID == "flow")
		sawAgent = sawAgent || (ev.Forwarded() && ev.AgentID == "alpha" && ev.Event == core.EventRunCompleted)
	}
	if !sawStep || !sawAgent {
		t.Errorf("workflow stream lacks its step or its agent's events: %v", eventTypes(evs))
	}
	var run core.Run
	c.json(http.MethodGet, "/workflows/flow/runs/"+evs[0].RunID, nil, http.StatusOK, &run)
	if run.WorkflowID != "flow" || run.Status != core.RunCompleted || len(run.StepResults) == 0 {
		t.Errorf("workflow run = %+v", run)
	}
	var listed []RunSchema
	c.json(http.MethodGet, "/workflows/flow/runs?session_id="+run.SessionID, nil, http.StatusOK, &listed)
	if len(listed) != 1 || listed[0].RunID != run.RunID {
		t.Errorf("GET /workflows/flow/runs lists %d runs, want only the workflow's own", len(listed))
	}
	var sess SessionDetail
	c.json(http.MethodGet, "/sessions/"+run.SessionID, nil, http.StatusOK, &sess)
	if sess.SessionType != core.SessionWorkflow || sess.WorkflowID != "flow" {
		t.Errorf("workflow session = %+v", sess.Session)
	}

	var paused core.Run
	c.json(http.MethodPost, "/workflows/gated/runs", url.Values{"message": {"topic"}, "stream": {"false"}}, http.StatusOK, &paused)
	if paused.Status != core.RunPaused {
		t.Fatalf("gated workflow run = %+v", paused)
	}
	path := "/workflows/gated/runs/" + paused.RunID + "/continue"
	for _, bad := range []string{`[{"confirmed": true}]`, `[{"requirement_id": "other", "confirmed": true}]`, `{"x": 1}`,
		`[{"requirement_id": "` + publishRequirement + `", "confirmed": true}]`} { // no channel
		if st, b := c.do(http.MethodPost, path, url.Values{"step_requirements": {bad}, "stream": {"false"}}); st != http.StatusBadRequest {
			t.Errorf("step_requirements %s: %d %s, want 400", bad, st, b)
		}
	}
	decision := `[{"requirement_id": "` + publishRequirement + `", "confirmed": true, "user_input": {"channel": "blog"}}]`
	tail := c.events(http.MethodPost, path, url.Values{"step_requirements": {decision}})
	if len(tail) < 2 || tail[0].Event != "StepContinued" || tail[len(tail)-1].Event != "WorkflowCompleted" {
		t.Fatalf("continued workflow stream = %v", eventTypes(tail))
	}
	var done core.Run
	c.json(http.MethodGet, "/workflows/gated/runs/"+paused.RunID, nil, http.StatusOK, &done)
	if done.Status != core.RunCompleted || done.Content != "from beta / published to blog" {
		t.Errorf("continued workflow run = %+v", done)
	}
}

// TestRunnableScopes checks teams:<id>:run and workflows:<id>:run, and the
// read scopes of the lists.
func TestRunnableScopes(t *testing.T) {
	t.Parallel()
	base, _ := runnableServer(t)
	run := url.Values{"message": {"hi"}, "stream": {"false"}}
	relay := newClient(t, base, "teams:relay:run")
	if st, b := relay.do(http.MethodPost, "/teams/relay/runs", run); st != http.StatusOK {
		t.Errorf("teams:relay:run on relay: %d %s", st, b)
	}
	for _, p := range []string{"/teams/gate/runs", "/workflows/flow/runs", "/agents/alpha/runs"} {
		if st, _ := relay.do(http.MethodPost, p, run); st != http.StatusForbidden {
			t.Errorf("teams:relay:run on %s: %d, want 403", p, st)
		}
	}
	flow := newClient(t, base, "workflows:flow:run")
	if st, b := flow.do(http.MethodPost, "/workflows/flow/runs", run); st != http.StatusOK {
		t.Errorf("workflows:flow:run on flow: %d %s", st, b)
	}
	if st, _ := flow.do(http.MethodPost, "/teams/relay/runs", run); st != http.StatusForbidden {
		t.Errorf("workflows:flow:run on a team: %d, want 403", st)
	}
	reader := newClient(t, base, "teams:relay:read", "workflows:read")
	var teams []TeamResponse
	reader.json(http.MethodGet, "/teams", nil, http.StatusOK, &teams)
	if len(teams) != 1 || teams[0].ID != "relay" {
		t.Errorf("GET /teams with teams:relay:read = %+v", teams)
	}
	if st, _ := reader.do(http.MethodGet, "/teams/gate", nil); st != http.StatusForbidden {
		t.Errorf("GET /teams/gate with teams:relay:read: %d, want 403", st)
	}
	var flows []WorkflowResponse
	reader.json(http.MethodGet, "/workflows", nil, http.StatusOK, &flows)
	if len(flows) != 2 {
		t.Errorf("GET /workflows with workflows:read = %+v", flows)
	}
	if st, _ := reader.do(http.MethodPost, "/teams/relay/runs", run); st != http.StatusForbidden {
		t.Errorf("teams:relay:read running relay: %d, want 403", st)
	}
}

// TestRunnableIsolation checks user isolation on a team's and a
// workflow's runs: another user's run is answered as absent.
func TestRunnableIsolation(t *testing.T) {
	t.Parallel()
	base, _ := runnableServer(t)
	scopes := []string{"teams:run", "workflows:run", "sessions:read"}
	alice, bob := newUserClient(t, base, "alice", scopes...), newUserClient(t, base, "bob", scopes...)
	for _, p := range []string{"/teams/relay", "/workflows/flow"} {
		var run core.Run
		alice.json(http.MethodPost, p+"/runs", url.Values{"message": {"mine"}, "stream": {"false"}}, http.StatusOK, &run)
		if run.UserID != "alice" {
			t.Errorf("%s run user_id = %q, want alice", p, run.UserID)
		}
		alice.json(http.MethodGet, p+"/runs/"+run.RunID, nil, http.StatusOK, nil)
		for _, r := range []struct{ method, path string }{
			{http.MethodGet, p + "/runs/" + run.RunID},
			{http.MethodPost, p + "/runs/" + run.RunID + "/cancel"},
			{http.MethodGet, p + "/runs/" + run.RunID + "/stream"},
			{http.MethodGet, "/sessions/" + run.SessionID + "/runs"},
		} {
			if st, b := bob.do(r.method, r.path, nil); st != http.StatusNotFound {
				t.Errorf("bob %s %s: %d %s, want 404", r.method, r.path, st, b)
			}
		}
		if st, b := bob.do(http.MethodPost, p+"/runs/"+run.RunID+"/resume", url.Values{"last_event_index": {"-1"}}); st != http.StatusNotFound {
			t.Errorf("bob resumes alice's run: %d %s, want 404", st, b)
		}
		var listed []RunSchema
		bob.json(http.MethodGet, p+"/runs?session_id="+run.SessionID, nil, http.StatusOK, &listed)
		if len(listed) != 0 {
			t.Errorf("bob lists alice's runs: %+v", listed)
		}
		// Bob cannot run in alice's session either.
		if st, b := bob.do(http.MethodPost, p+"/runs", url.Values{"message": {"x"}, "stream": {"false"}, "session_id": {run.SessionID}}); st != http.StatusNotFound {
			t.Errorf("bob runs in alice's session: %d %s, want 404", st, b)
		}
	}
}

// TestTeamCancel cancels a running team: its stream ends with
// TeamRunCancelled, and the run and its member's are CANCELLED.
func TestTeamCancel(t *testing.T) {
	t.Parallel()
	base, eng := runnableServer(t)
	c := newClient(t, base, "agent_os:admin")
	var acc BackgroundAccepted
	c.json(http.MethodPost, "/teams/slowteam/runs", url.Values{"message": {"go"}, "stream": {"false"}, "background": {"true"}}, http.StatusAccepted, &acc)
	testutil.Eventually(t, 10*time.Second, "the member is running", func() bool {
		kids, err := eng.List(t.Context(), core.ListRunsParams{ParentRunID: acc.RunID})
		return err == nil && len(kids) == 1 && kids[0].Status == core.RunRunning
	})
	var cb CancelBody
	c.json(http.MethodPost, "/teams/slowteam/runs/"+acc.RunID+"/cancel", nil, http.StatusOK, &cb)
	if !cb.Cancelling && cb.Status != core.RunCancelled {
		t.Fatalf("cancel = %+v", cb)
	}
	evs := c.events(http.MethodGet, "/teams/slowteam/runs/"+acc.RunID+"/stream", nil)
	if len(evs) == 0 || evs[len(evs)-1].Event != "TeamRunCancelled" {
		t.Fatalf("cancelled team stream = %v", eventTypes(evs))
	}
	var run core.Run
	c.json(http.MethodGet, "/teams/slowteam/runs/"+acc.RunID, nil, http.StatusOK, &run)
	if run.Status != core.RunCancelled {
		t.Errorf("team run = %s, want CANCELLED", run.Status)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
