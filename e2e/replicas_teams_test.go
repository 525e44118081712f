package e2e

// Teams and workflows across replicas on Postgres + Redis: a team whose
// member pauses on A is continued on B, a workflow paused at a step on A is
// continued on B, cancelling a team from B cancels its running member on
// A, and SIGKILL of A mid-team ends the stream (worker_lost) while a
// background team run is executed again by B.

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// teamReplicaConfig is replicaConfig plus teams and a workflow over its
// agents: broadcast teams need no leader model.
func teamReplicaConfig() string {
	return replicaConfig() + `
teams:
  - id: crew
    name: Crew
    mode: broadcast
    members: [approver, story]
  - id: longcrew
    name: Long crew
    mode: broadcast
    members: [long]
workflows:
  - id: gated
    name: Gated
    steps:
      - name: draft
        agent: story
      - name: publish
        agent: story
        requires_confirmation: true
        confirmation_message: Publish the draft?
`
}

func startTeamPair(t *testing.T, be *backends, env ...string) (a, b *replica) {
	t.Helper()
	a = startReplica(t, "A", teamReplicaConfig(), append(be.Env(), env...)...)
	b = startReplica(t, "B", teamReplicaConfig(), append(be.Env(), env...)...)
	return a, b
}

// childStatuses reads the statuses of runID's child runs from the test's
// schema, by member agent id.
func childStatuses(t *testing.T, be *backends, runID string) map[string]string {
	t.Helper()
	ctx := testCtx(t, 10*time.Second)
	u, err := url.Parse(be.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Del("schema") // the gateway's own parameter, not libpq's
	u.RawQuery = q.Encode()
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Fatalf("connect to the test database: %v", err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT agent_id, status FROM `+pgx.Identifier{be.Schema, "runs"}.Sanitize()+` WHERE parent_run_id = $1`, runID)
	if err != nil {
		t.Fatalf("child runs of %s: %v", runID, err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var agent, status string
		if err := rows.Scan(&agent, &status); err != nil {
			t.Fatal(err)
		}
		out[agent] = status
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// getKindRun is GET /{kind}s/{id}/runs/{run_id}.
func (r *replica) getKindRun(t testing.TB, ctx context.Context, path, runID string) (run, []byte) {
	t.Helper()
	b := expectStatus(t, r.get(t, ctx, path+"/runs/"+runID), http.StatusOK)
	var rn run
	decode(t, b, &rn)
	return rn, b
}

// waitKindFinal polls a team's or workflow's run on r until it is final.
func (r *replica) waitKindFinal(t testing.TB, path, runID string, d time.Duration) (run, []byte) {
	t.Helper()
	ctx := testCtx(t, d+10*time.Second)
	deadline := time.Now().Add(d)
	for {
		rn, b := r.getKindRun(t, ctx, path, runID)
		switch rn.Status {
		case "COMPLETED", "CANCELLED", "ERROR":
			return rn, b
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s still %s on %s after %v: %s", runID, rn.Status, r.Name, d, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ownEvents are the events of the stream's own run (not a member's or a
// step's forwarded ones).
func ownEvents(t testing.TB, frames []frame) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, f := range frames {
		if f.Event == "" || f.Event == "error" {
			continue
		}
		var ev map[string]any
		decode(t, []byte(f.Data), &ev)
		if ev["parent_run_id"] == nil {
			out = append(out, ev)
		}
	}
	return out
}

func TestReplicaTeamMemberPauseContinuedOnB(t *testing.T) {
	t.Parallel()
	be := newBackends(t, "")
	a, b := startTeamPair(t, be)
	ctx := testCtx(t, 40*time.Second)

	resp := a.postForm(t, ctx, "/teams/crew/runs", url.Values{"message": {"compute 6*7"}})
	expectSSE(t, resp)
	frames := readFrames(t, resp.Body)
	resp.Body.Close()
	evs := events(t, frames, 0)
	last := frames[len(frames)-1]
	if last.Event != "TeamRunPaused" {
		t.Fatalf("A's team stream should end at TeamRunPaused: %v", types(frames))
	}
	var paused struct {
		RunID        string           `json:"run_id"`
		Requirements []map[string]any `json:"requirements"`
	}
	decode(t, []byte(last.Data), &paused)
	if len(paused.Requirements) != 1 || paused.Requirements[0]["member_agent_id"] != "approver" || paused.Requirements[0]["member_run_id"] == nil {
		t.Fatalf("TeamRunPaused requirements: %s", last.Data)
	}
	sawMemberPause := false
	for _, f := range frames {
		sawMemberPause = sawMemberPause || (f.Event == "RunPaused" && strings.Contains(f.Data, `"parent_run_id"`))
	}
	if !sawMemberPause {
		t.Errorf("the member's RunPaused is missing from the team stream: %v", types(frames))
	}
	if got := childStatuses(t, be, paused.RunID); got["approver"] != "PAUSED" || got["story"] != "COMPLETED" {
		t.Fatalf("members while the team is paused: %v", got)
	}

	req := paused.Requirements[0]
	req["confirmation"] = true
	if te, ok := req["tool_execution"].(map[string]any); ok {
		te["confirmed"] = true
	}
	reqs, _ := json.Marshal([]map[string]any{req})
	cresp := b.postForm(t, ctx, "/teams/crew/runs/"+paused.RunID+"/continue", url.Values{"requirements": {string(reqs)}})
	expectSSE(t, cresp)
	rest := readFrames(t, cresp.Body)
	cresp.Body.Close()
	revs := events(t, rest, int64(len(evs)))
	if len(revs) == 0 || revs[0].Event != "TeamRunContinued" || revs[len(revs)-1].Event != "TeamRunCompleted" {
		t.Fatalf("B's stream after the continue: %v", types(rest))
	}
	if c := revs[len(revs)-1].Content; !strings.Contains(c, "42") {
		t.Errorf("the team's answer lacks the approved member's result: %q", c)
	}
	if got := childStatuses(t, be, paused.RunID); got["approver"] != "COMPLETED" || got["story"] != "COMPLETED" {
		t.Errorf("members after the continue on B: %v", got)
	}
	for _, g := range []*replica{a, b} {
		if r, body := g.getKindRun(t, ctx, "/teams/crew", paused.RunID); r.Status != "COMPLETED" {
			t.Errorf("team run as read on %s: %s", g.Name, body)
		}
	}
}

func TestReplicaWorkflowStepContinuedOnB(t *testing.T) {
	t.Parallel()
	be := newBackends(t, "")
	a, b := startTeamPair(t, be)
	ctx := testCtx(t, 40*time.Second)

	resp := a.postForm(t, ctx, "/workflows/gated/runs", url.Values{"message": {"write it"}})
	expectSSE(t, resp)
	frames := readFrames(t, resp.Body)
	resp.Body.Close()
	evs := events(t, frames, 0)
	last := frames[len(frames)-1]
	if last.Event != "WorkflowPaused" {
		t.Fatalf("A's workflow stream should end at WorkflowPaused: %v", types(frames))
	}
	sawStepPause := false
	for _, f := range frames {
		sawStepPause = sawStepPause || f.Event == "StepPaused"
	}
	if !sawStepPause {
		t.Errorf("no StepPaused before WorkflowPaused: %v", types(frames))
	}
	var paused struct {
		RunID            string           `json:"run_id"`
		StepRequirements []map[string]any `json:"step_requirements"`
		Requirements     []map[string]any `json:"requirements"`
	}
	decode(t, []byte(last.Data), &paused)
	decision := map[string]any{"confirmed": true}
	switch {
	case len(paused.StepRequirements) == 1:
		for _, k := range []string{"requirement_id", "step_id", "step_name"} {
			if v, ok := paused.StepRequirements[0][k]; ok {
				decision[k] = v
			}
		}
	case len(paused.Requirements) == 1:
		decision["requirement_id"] = paused.Requirements[0]["id"]
	default:
		t.Fatalf("WorkflowPaused names no step requirement: %s", last.Data)
	}
	sr, _ := json.Marshal([]map[string]any{decision})
	cresp := b.postForm(t, ctx, "/workflows/gated/runs/"+paused.RunID+"/continue", url.Values{"step_requirements": {string(sr)}})
	expectSSE(t, cresp)
	rest := readFrames(t, cresp.Body)
	cresp.Body.Close()
	revs := events(t, rest, int64(len(evs)))
	if len(revs) == 0 || revs[len(revs)-1].Event != "WorkflowCompleted" {
		t.Fatalf("B's stream after the continue: %v", types(rest))
	}
	ranPublish := false
	for _, f := range rest {
		ranPublish = ranPublish || (f.Event == "StepCompleted" && strings.Contains(f.Data, `"publish"`))
	}
	if !ranPublish {
		t.Errorf("the confirmed step did not run on B: %v", types(rest))
	}
	if r, body := a.getKindRun(t, ctx, "/workflows/gated", paused.RunID); r.Status != "COMPLETED" {
		t.Errorf("workflow run as read on A: %s", body)
	}
}

func TestReplicaTeamCancelFromB(t *testing.T) {
	t.Parallel()
	be := newBackends(t, "")
	a, b := startTeamPair(t, be)
	ctx := testCtx(t, 40*time.Second)

	resp := a.postForm(t, ctx, "/teams/longcrew/runs", url.Values{"message": {"go on"}})
	expectSSE(t, resp)
	f := follow(resp)
	f.waitFrames(t, 6, 10*time.Second)
	f.mu.Lock()
	runID := f.frames[0].decodeEvent(t).RunID
	f.mu.Unlock()
	if got := childStatuses(t, be, runID); got["long"] != "RUNNING" {
		t.Fatalf("member before the cancel: %v", got)
	}
	expectStatus(t, b.postForm(t, ctx, "/teams/longcrew/runs/"+runID+"/cancel", nil), http.StatusOK)
	res := f.wait(t, 10*time.Second)
	if res.Err != nil {
		t.Fatalf("A's stream broke: %v", res.Err)
	}
	checkDense(t, res.Frames, 0)
	if last := res.Frames[len(res.Frames)-1]; last.Event != "TeamRunCancelled" {
		t.Fatalf("A's stream ends with %s: %v", last.Event, types(res.Frames))
	}
	if got := childStatuses(t, be, runID); got["long"] != "CANCELLED" {
		t.Errorf("member after the team was cancelled from B: %v", got)
	}
	if r, body := b.getKindRun(t, ctx, "/teams/longcrew", runID); r.Status != "CANCELLED" {
		t.Errorf("team run as read on B: %s", body)
	}
}

func TestReplicaTeamKilledMidRun(t *testing.T) {
	t.Parallel()
	be := newBackends(t, "")
	a, b := startTeamPair(t, be, "AGENTGATE_QUEUE_RESCUE_AFTER=3s")
	ctx := testCtx(t, 120*time.Second)

	// A foreground team stream on A, and a background team run A executes.
	resp := a.postForm(t, ctx, "/teams/longcrew/runs", url.Values{"message": {"go on"}})
	expectSSE(t, resp)
	f := follow(resp)
	f.waitFrames(t, 6, 10*time.Second)
	f.mu.Lock()
	fgID := f.frames[0].decodeEvent(t).RunID
	f.mu.Unlock()

	var bg struct {
		RunID string `json:"run_id"`
	}
	decode(t, expectStatus(t, a.postForm(t, ctx, "/teams/longcrew/runs", url.Values{"message": {"go on"}, "background": {"true"}, "stream": {"false"}}), http.StatusAccepted), &bg)
	deadline := time.Now().Add(15 * time.Second)
	for childStatuses(t, be, bg.RunID)["long"] != "RUNNING" {
		if time.Now().After(deadline) {
			t.Fatalf("the background team's member never ran: %v", childStatuses(t, be, bg.RunID))
		}
		time.Sleep(50 * time.Millisecond)
	}

	a.kill(t)
	resp.Body.Close()

	r, body := b.waitKindFinal(t, "/teams/longcrew", fgID, 15*time.Second)
	if r.Status != "ERROR" || r.ErrorType != "worker_lost" {
		t.Fatalf("foreground team after A died, read on B: %s", body)
	}
	all := readFrames(t, b.do(t, ctx, http.MethodGet, "/teams/longcrew/runs/"+fgID+"/stream", nil, "", map[string]string{"Last-Event-ID": "-1"}).Body)
	if own := ownEvents(t, all); len(own) == 0 || own[len(own)-1]["event"] != "TeamRunError" || own[len(own)-1]["error_type"] != "worker_lost" {
		t.Errorf("the team's stream replayed on B should end with TeamRunError worker_lost: %v", types(all))
	}
	if got := childStatuses(t, be, fgID); got["long"] == "RUNNING" {
		t.Errorf("the dead team's member is still RUNNING: %v", got)
	}

	r, body = b.waitKindFinal(t, "/teams/longcrew", bg.RunID, 90*time.Second)
	if r.Status != "COMPLETED" {
		t.Fatalf("background team after A died, read on B: %s", body)
	}
	var done struct {
		Content string `json:"content"`
	}
	decode(t, body, &done)
	if !strings.Contains(done.Content, words(longChunks)[:20]) {
		t.Errorf("background team content after its re-execution on B: %q", done.Content)
	}
}
