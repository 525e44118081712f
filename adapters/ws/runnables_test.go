package ws

import (
	"net/http"
	"testing"
	"time"

	"github.com/agentgate/agentgate/auth"
	"github.com/agentgate/agentgate/internal/testutil/runnabletest"
)

// Teams and workflows over /ws: start names exactly one of agent_id,
// team_id and workflow_id; a team paused by a member continues with its
// requirements; the scopes are teams:<id>:run and workflows:<id>:run.

func TestWSStartsTeamsAndWorkflows(t *testing.T) {
	t.Parallel()
	e := startWS(t, Config{}, runnabletest.All()...)
	c := e.dial(t, nil)

	sendFrame(t, c, map[string]any{"action": "start", "id": "w1", "workflow_id": "pipeline", "message": "hi"})
	frames := readUntil(t, c, "WorkflowCompleted")
	ack := frames[0]
	if ack["event"] != "ack" || ack["workflow_id"] != "pipeline" || ack["agent_id"] != nil {
		t.Fatalf("ack = %v", ack)
	}
	var own []any
	for _, f := range frames[1:] {
		if f["parent_run_id"] == nil {
			own = append(own, f["event"])
		}
	}
	want := []any{"WorkflowStarted", "StepStarted", "StepCompleted", "StepStarted", "StepCompleted", "WorkflowCompleted"}
	if len(own) != len(want) {
		t.Fatalf("workflow events = %v, want %v", own, want)
	}
	for i := range want {
		if own[i] != want[i] {
			t.Fatalf("workflow events = %v, want %v", own, want)
		}
	}
	if last := frames[len(frames)-1]; last["content"] != "echo: echo: hi" || last["workflow_id"] != "pipeline" {
		t.Fatalf("WorkflowCompleted = %v", last)
	}

	// A team paused by its member, continued with the requirements.
	sendFrame(t, c, map[string]any{"action": "start", "id": "t1", "team_id": "crew", "message": "go"})
	frames = readUntil(t, c, "TeamRunPaused")
	if frames[0]["team_id"] != "crew" {
		t.Fatalf("ack = %v", frames[0])
	}
	paused := frames[len(frames)-1]
	reqs, _ := paused["requirements"].([]any)
	if len(reqs) != 1 {
		t.Fatalf("TeamRunPaused = %v", paused)
	}
	req := reqs[0].(map[string]any)
	if req["member_agent_id"] != "approver" {
		t.Fatalf("requirement = %v", req)
	}
	req["confirmation"] = true
	runID := paused["run_id"]
	// The run's kind is checked: it is no agent's run.
	sendFrame(t, c, map[string]any{"action": "continue", "id": "t2", "run_id": runID, "agent_id": "approver", "requirements": reqs})
	if f := readFrame(t, c); f["event"] != "error" || f["code"] != CodeNotFound {
		t.Fatalf("continue with another runnable's id = %v", f)
	}
	sendFrame(t, c, map[string]any{"action": "continue", "id": "t3", "run_id": runID, "team_id": "crew", "requirements": reqs})
	frames = readUntil(t, c, "TeamRunCompleted")
	if frames[0]["event"] != "ack" || frames[0]["team_id"] != "crew" {
		t.Fatalf("continue ack = %v", frames[0])
	}
	if last := frames[len(frames)-1]; last["content"] != "echo: echo: go\napprover: approved" {
		t.Fatalf("TeamRunCompleted = %v", last)
	}

	for _, bad := range []map[string]any{
		{"action": "start", "id": "b1", "team_id": "crew", "agent_id": "echo", "message": "x"},
		{"action": "start", "id": "b2", "team_id": "nope", "message": "x"},
		{"action": "continue", "id": "b3", "run_id": runID, "tools": []any{}, "requirements": []any{}},
		{"action": "continue", "id": "b4", "run_id": runID, "requirements": []any{map[string]any{"id": "r"}}},
	} {
		sendFrame(t, c, bad)
		f := readFrame(t, c)
		want := CodeInvalid
		if bad["id"] == "b2" {
			want = CodeNotFound
		}
		if f["event"] != "error" || f["code"] != want || f["id"] != bad["id"] {
			t.Fatalf("%v answered %v, want code %s", bad, f, want)
		}
	}
}

func TestWSTeamAndWorkflowScopes(t *testing.T) {
	t.Parallel()
	const secret = "ws-runnables-hs256-secret-0123456789abcdef"
	authn, err := auth.New(auth.Config{Mode: auth.ModeJWT, JWT: auth.JWTConfig{Algorithm: auth.AlgHS256, Key: secret}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := startWS(t, Config{Auth: authn}, runnabletest.All()...)
	tok, err := auth.MintJWT(auth.MintConfig{Algorithm: auth.AlgHS256}, secret, "u1", []string{"teams:duo:run", "workflows:pipeline:run"}, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	c := e.dial(t, http.Header{"Authorization": {"Bearer " + tok}})
	for _, tc := range []struct {
		frame map[string]any
		want  string // the ack's run terminal event, or an error code
	}{
		{map[string]any{"team_id": "duo"}, "TeamRunCompleted"},
		{map[string]any{"workflow_id": "pipeline"}, "WorkflowCompleted"},
		{map[string]any{"team_id": "crew"}, CodeForbidden},
		{map[string]any{"workflow_id": "gated"}, CodeForbidden},
		{map[string]any{"agent_id": "echo"}, CodeForbidden},
	} {
		f := map[string]any{"action": "start", "id": "s", "message": "hi"}
		for k, v := range tc.frame {
			f[k] = v
		}
		sendFrame(t, c, f)
		if tc.want == CodeForbidden {
			if got := readFrame(t, c); got["event"] != "error" || got["code"] != CodeForbidden {
				t.Fatalf("%v answered %v, want forbidden", tc.frame, got)
			}
			continue
		}
		frames := readUntil(t, c, tc.want)
		if frames[0]["event"] != "ack" {
			t.Fatalf("%v answered %v", tc.frame, frames[0])
		}
	}
}
