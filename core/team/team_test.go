package team_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/model/scripted"
	"github.com/agentgate/agentgate/core/team"
	"github.com/agentgate/agentgate/internal/testutil/enginetest"
)

func find(evs []core.Event, typ core.EventType, agentID string) []core.Event {
	var out []core.Event
	for _, ev := range evs {
		if ev.Event == typ && ev.AgentID == agentID {
			out = append(out, ev)
		}
	}
	return out
}

func last(evs []core.Event) core.Event { return evs[len(evs)-1] }

func TestCoordinate(t *testing.T) {
	t.Parallel()
	tm := newTeam(t, team.Config{ID: "research", Name: "Research", Instructions: "Work together.",
		Model: leader(scripted.Rule{
			ToolCalls: []scripted.Call{delegate("researcher", "compute the answer"), delegate("writer", "write it up")},
			Reply:     "Team answer: {{tool_result}}",
		})}, "researcher", "writer")
	eng := newEngine(t, calcMember(t, "researcher"), echoMember(t, "writer"), tm)
	sess := seedSession(t, eng, map[string]any{"topic": "numbers"})
	run, evs := start(t, eng, "research", "what is six times seven?", sess)
	checkFidelity(t, run, evs)
	end := last(evs)
	if end.Event != "TeamRunCompleted" || end.SessionState["topic"] != "numbers" {
		t.Fatalf("end = %+v (%v)", end, types(evs))
	}
	if want := "Team answer: researcher computed 42; writer says: write it up"; end.Content != want {
		t.Fatalf("content = %q, want %q", end.Content, want)
	}
	if n := len(find(evs, "TeamToolCallStarted", "")); n != 2 {
		t.Fatalf("%d delegations, want 2: %v", n, types(evs))
	}
	// The member's own tool call and content are forwarded, labelled.
	if tc := find(evs, core.EventToolCallCompleted, "researcher"); len(tc) != 1 || tc[0].ParentRunID != run.RunID || tc[0].Tool.Result != "42" {
		t.Fatalf("member tool events = %+v", tc)
	}
	if c := find(evs, core.EventRunContent, "writer"); len(c) == 0 || c[0].ParentRunID != run.RunID {
		t.Fatalf("member content = %+v", c)
	}
	kids, err := eng.List(context.Background(), core.ListRunsParams{ParentRunID: run.RunID})
	if err != nil || len(kids) != 2 {
		t.Fatalf("children = %v, %v", kids, err)
	}
	done, _ := eng.Get(context.Background(), run.RunID)
	if done.Status != core.RunCompleted || len(done.Tools) != 2 || done.SessionState["topic"] != "numbers" {
		t.Fatalf("stored run = %+v", done)
	}
	golden(t, "coordinate", "coordinate: the leader delegates to two members (one calls a tool) and synthesises.", frames(t, evs, false))
}

func TestRouteAnswersWithTheMembersReply(t *testing.T) {
	t.Parallel()
	tm := newTeam(t, team.Config{ID: "router", Mode: team.Route,
		Model: leader(scripted.Rule{ToolCalls: []scripted.Call{delegate("writer", "say hello")}, Reply: "the leader must not answer"})},
		"researcher", "writer")
	eng := newEngine(t, calcMember(t, "researcher"), echoMember(t, "writer"), tm)
	run, evs := start(t, eng, "router", "greet me", "")
	checkFidelity(t, run, evs)
	end := last(evs)
	if end.Event != "TeamRunCompleted" || end.Content != "writer says: say hello" {
		t.Fatalf("end = %+v", end)
	}
	if n := len(find(evs, "TeamModelRequestStarted", "")); n != 1 {
		t.Fatalf("the leader made %d requests, want 1 (no synthesis)", n)
	}
	if c := find(evs, "TeamRunContent", ""); len(c) != 0 {
		t.Fatalf("route mode streamed team content: %+v", c)
	}
	golden(t, "route", "route: the leader picks one member; its answer is the reply, verbatim.", frames(t, evs, false))
}

func TestBroadcast(t *testing.T) {
	t.Parallel()
	for _, withLeader := range []bool{true, false} {
		name := map[bool]string{true: "broadcast", false: "broadcast_join"}[withLeader]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := team.Config{ID: "all", Mode: team.Broadcast, MaxParallel: 2}
			if withLeader {
				cfg.Model = leader(scripted.Rule{Reply: "Synthesis of: {{input}}"})
			}
			tm := newTeam(t, cfg, "a", "b", "c")
			eng := newEngine(t, echoMember(t, "a"), echoMember(t, "b"), calcMember(t, "c"), tm)
			run, evs := start(t, eng, "all", "hi", "")
			checkFidelity(t, run, evs)
			end := last(evs)
			joined := "Agent a: a says: hi\n\nAgent b: b says: hi\n\nAgent c: c computed 42"
			want := joined
			if withLeader {
				want = "Synthesis of: hi\n\nThe members answered:\n\n" + joined
			}
			if end.Event != "TeamRunCompleted" || end.Content != want {
				t.Fatalf("end = %q, want %q", end.Content, want)
			}
			for _, m := range []string{"a", "b", "c"} {
				if len(find(evs, core.EventRunCompleted, m)) != 1 {
					t.Fatalf("member %s did not complete: %v", m, types(evs))
				}
			}
			golden(t, name, name+": every member at once (max_parallel 2); member frames grouped per member.", frames(t, evs, true))
		})
	}
}

func TestTasks(t *testing.T) {
	t.Parallel()
	tm := newTeam(t, team.Config{ID: "planner", Mode: team.Tasks, MaxIterations: 3,
		Model: leader(scripted.Rule{
			ToolCalls: []scripted.Call{
				{Name: team.ToolCreateTask, Arguments: map[string]any{"title": "Compute", "description": "six times seven", "assignee": "researcher"}},
				{Name: team.ToolExecuteTask, Arguments: map[string]any{"task_id": "task-1"}},
				{Name: team.ToolMarkAllComplete, Arguments: map[string]any{"summary": "computed"}},
			},
			Reply: "All done: {{tool_result}}",
		})}, "researcher", "writer")
	eng := newEngine(t, calcMember(t, "researcher"), echoMember(t, "writer"), tm)
	run, evs := start(t, eng, "planner", "plan it", "")
	checkFidelity(t, run, evs)
	end := last(evs)
	if end.Event != "TeamRunCompleted" || !strings.Contains(end.Content, "researcher computed 42") {
		t.Fatalf("end = %+v", end)
	}
	created := find(evs, core.EventTeamTaskCreated, "")
	if len(created) != 1 || created[0].TaskID != "task-1" || created[0].Title != "Compute" || created[0].Assignee != "researcher" {
		t.Fatalf("created = %+v", created)
	}
	updated := find(evs, core.EventTeamTaskUpdated, "")
	if len(updated) != 2 || updated[0].TaskStatus != "in_progress" || updated[1].TaskStatus != "completed" || updated[1].TaskResult != "researcher computed 42" {
		t.Fatalf("updated = %+v", updated)
	}
	states := find(evs, core.EventTeamTaskStateUpdated, "")
	final := states[len(states)-1]
	if final.GoalComplete == nil || !*final.GoalComplete || !strings.Contains(final.TaskSummary, "[completed] task-1 Compute") {
		t.Fatalf("state = %+v", final)
	}
	its := find(evs, core.EventTeamTaskIterationStarted, "")
	if len(its) != 2 || its[0].Iteration != 1 || its[1].Iteration != 2 || its[0].MaxIterations != 3 {
		t.Fatalf("iterations = %+v", its)
	}
	if len(find(evs, core.EventTeamTaskIterationCompleted, "")) != 2 {
		t.Fatalf("iterations completed: %v", types(evs))
	}
	golden(t, "tasks", "tasks: the leader creates, executes and completes a task in one iteration, answers in the next.", frames(t, evs, false))
}

func TestTasksStopAtMaxIterations(t *testing.T) {
	t.Parallel()
	// A leader that only ever creates tasks: the loop ends at the bound.
	loop := &funcModel{calls: []scripted.Call{{Name: team.ToolCreateTask, Arguments: map[string]any{"title": "more", "assignee": "writer"}}}}
	tm := newTeam(t, team.Config{ID: "planner", Mode: team.Tasks, MaxIterations: 2, Model: loop}, "writer")
	eng := newEngine(t, echoMember(t, "writer"), tm)
	run, evs := start(t, eng, "planner", "plan forever", "")
	checkFidelity(t, run, evs)
	end := last(evs)
	if end.Event != "TeamRunCompleted" || len(find(evs, core.EventTeamTaskIterationStarted, "")) != 2 ||
		!strings.Contains(end.Content, "task-2 more") {
		t.Fatalf("end = %+v (%v)", end, types(evs))
	}
}

func TestMemberPauseContinuesOnAnotherReplica(t *testing.T) {
	t.Parallel()
	mk := func() []core.Agent {
		return []core.Agent{hitlMember(t, "approver"), echoMember(t, "writer"),
			newTeam(t, team.Config{ID: "research", Model: leader(scripted.Rule{
				ToolCalls: []scripted.Call{delegate("approver", "compute"), delegate("writer", "after")},
				Reply:     "Team: {{tool_result}}",
			})}, "approver", "writer")}
	}
	a, b := replicas(t, mk)
	sess := seedSession(t, a, map[string]any{"k": "v"})
	run, evs := start(t, a, "research", "go", sess)
	end := last(evs)
	if end.Event != "TeamRunPaused" || len(end.Requirements) != 1 {
		t.Fatalf("want TeamRunPaused, got %v", types(evs))
	}
	req := end.Requirements[0]
	if req.MemberAgentID != "approver" || req.MemberRunID == "" || req.ToolExecution == nil || !req.ToolExecution.RequiresConfirmation {
		t.Fatalf("requirement = %+v", req)
	}
	if p := find(evs, core.EventRunPaused, "approver"); len(p) != 1 || p[0].ParentRunID != run.RunID {
		t.Fatalf("the member's RunPaused is not forwarded: %v", types(evs))
	}
	ctx := context.Background()
	yes := true
	_, after, err := b.Continue(ctx, core.ContinueParams{RunID: run.RunID, Tools: []core.ToolExecution{{ToolCallID: req.ToolExecution.ToolCallID, Confirmed: &yes}}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := b.Subscribe(ctx, run.RunID, after)
	if err != nil {
		t.Fatal(err)
	}
	rest := enginetest.Collect(t, s)
	all := append(append([]core.Event(nil), evs...), rest...)
	checkFidelity(t, run, all)
	if rest[0].Event != "TeamRunContinued" || last(rest).Event != "TeamRunCompleted" {
		t.Fatalf("after continue = %v", types(rest))
	}
	if c := last(rest).Content; c != "Team: approved: 42; writer says: after" {
		t.Fatalf("content = %q", c)
	}
	if last(rest).SessionState["k"] != "v" {
		t.Fatalf("session_state = %v", last(rest).SessionState)
	}
	if len(find(rest, core.EventRunContinued, "approver")) != 1 {
		t.Fatalf("the member's RunContinued is missing: %v", types(rest))
	}
	m, _ := b.Get(ctx, req.MemberRunID)
	if m.Status != core.RunCompleted || m.ParentRunID != run.RunID {
		t.Fatalf("member run = %+v", m)
	}
	golden(t, "coordinate_pause", "coordinate with a member that pauses for confirmation, continued on another replica.", frames(t, all, false))
}

func TestBroadcastMembersPauseOneAfterAnother(t *testing.T) {
	t.Parallel()
	tm := newTeam(t, team.Config{ID: "all", Mode: team.Broadcast}, "p1", "p2", "w")
	eng := newEngine(t, hitlMember(t, "p1"), hitlMember(t, "p2"), echoMember(t, "w"), tm)
	ctx := context.Background()
	run, evs := start(t, eng, "all", "x", "")
	all := evs
	yes := true
	for _, want := range []string{"p1", "p2"} {
		end := last(all)
		if end.Event != "TeamRunPaused" || end.Requirements[0].MemberAgentID != want {
			t.Fatalf("want a pause for %s, got %+v", want, end)
		}
		_, after, err := eng.Continue(ctx, core.ContinueParams{RunID: run.RunID, Tools: []core.ToolExecution{{ToolCallID: end.Requirements[0].ToolExecution.ToolCallID, Confirmed: &yes}}})
		if err != nil {
			t.Fatal(err)
		}
		s, _ := eng.Subscribe(ctx, run.RunID, after)
		all = append(all, enginetest.Collect(t, s)...)
	}
	checkFidelity(t, run, all)
	if end := last(all); end.Event != "TeamRunCompleted" || end.Content != "Agent p1: approved: 42\n\nAgent p2: approved: 42\n\nAgent w: w says: x" {
		t.Fatalf("end = %q (%v)", end.Content, types(all))
	}
}

func TestMemberFailure(t *testing.T) {
	t.Parallel()
	mk := func(policy string) *team.Team {
		return newTeam(t, team.Config{ID: "t-" + policy, OnMemberError: policy,
			Model: leader(scripted.Rule{ToolCalls: []scripted.Call{delegate("broken", "try")}, Reply: "Leader saw: {{tool_result}}"})}, "broken")
	}
	eng := newEngine(t, failingMember(t, "broken"), mk(team.TellLeader), mk(team.Fail))

	run, evs := start(t, eng, "t-tell_leader", "go", "")
	checkFidelity(t, run, evs)
	if end := last(evs); end.Event != "TeamRunCompleted" || end.Content != "Leader saw: Error: member broken failed: the model is down" {
		t.Fatalf("tell_leader: %+v", end)
	}
	if e := find(evs, "TeamToolCallError", ""); len(e) != 1 || !e[0].Tool.ToolCallError {
		t.Fatalf("tell_leader: the delegation's error = %+v", e)
	}
	if len(find(evs, core.EventRunError, "broken")) != 1 {
		t.Fatalf("the member's RunError is not forwarded: %v", types(evs))
	}

	run, evs = start(t, eng, "t-fail", "go", "")
	checkFidelity(t, run, evs)
	end := last(evs)
	if end.Event != "TeamRunError" || end.ErrorType != "member_error" || !strings.Contains(end.Content, "member broken failed") {
		t.Fatalf("fail: %+v", end)
	}
	stored, _ := eng.Get(context.Background(), run.RunID)
	if stored.Status != core.RunError || !strings.Contains(stored.Error, "broken") {
		t.Fatalf("fail: stored = %+v", stored)
	}
}

func TestCancelMidMember(t *testing.T) {
	t.Parallel()
	started := make(chan struct{}, 1)
	tm := newTeam(t, team.Config{ID: "slowteam", Model: leader(scripted.Rule{ToolCalls: []scripted.Call{delegate("slow", "wait")}})}, "slow")
	eng := newEngine(t, blockingMember("slow", started), tm)
	ctx := context.Background()
	run, err := eng.Start(ctx, core.StartParams{TeamID: "slowteam", Message: "go"})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("the member never started")
	}
	if _, err := eng.Cancel(ctx, run.RunID); err != nil {
		t.Fatal(err)
	}
	done, err := eng.Wait(ctx, run.RunID, -1)
	if err != nil || done.Status != core.RunCancelled {
		t.Fatalf("team = %+v, %v", done, err)
	}
	kids, _ := eng.List(ctx, core.ListRunsParams{ParentRunID: run.RunID})
	if len(kids) != 1 || kids[0].Status != core.RunCancelled {
		t.Fatalf("members = %+v", kids)
	}
	s, _ := eng.Subscribe(ctx, run.RunID, -1)
	evs := enginetest.Collect(t, s)
	checkFidelity(t, run, evs)
	if last(evs).Event != "TeamRunCancelled" {
		t.Fatalf("events = %v", types(evs))
	}
}

func TestQuietMembers(t *testing.T) {
	t.Parallel()
	off := false
	tm := newTeam(t, team.Config{ID: "quiet", StreamMemberEvents: &off,
		Model: leader(scripted.Rule{ToolCalls: []scripted.Call{delegate("researcher", "compute")}, Reply: "{{tool_result}}"})}, "researcher")
	eng := newEngine(t, calcMember(t, "researcher"), tm)
	run, evs := start(t, eng, "quiet", "go", "")
	checkFidelity(t, run, evs)
	var fwd []core.EventType
	for _, ev := range evs {
		if ev.Forwarded() {
			fwd = append(fwd, ev.Event)
		}
	}
	if len(fwd) != 2 || fwd[0] != core.EventRunStarted || fwd[1] != core.EventRunCompleted {
		t.Fatalf("forwarded = %v", fwd)
	}
	if last(evs).Content != "researcher computed 42" {
		t.Fatalf("content = %q", last(evs).Content)
	}
}

func TestNestedTeam(t *testing.T) {
	t.Parallel()
	inner, err := team.New(team.Config{ID: "inner", Mode: team.Broadcast, Members: []team.Member{{ID: "approver"}}})
	if err != nil {
		t.Fatal(err)
	}
	outer, err := team.New(team.Config{ID: "outer", Model: leader(scripted.Rule{ToolCalls: []scripted.Call{delegate("inner", "compute")}, Reply: "outer: {{tool_result}}"}),
		Members: []team.Member{{Kind: core.KindTeam, ID: "inner"}}})
	if err != nil {
		t.Fatal(err)
	}
	eng := newEngine(t, hitlMember(t, "approver"), inner, outer)
	run, evs := start(t, eng, "outer", "go", "")
	end := last(evs)
	if end.Event != "TeamRunPaused" || end.Requirements[0].MemberAgentID != "approver" {
		t.Fatalf("end = %+v", end)
	}
	ctx := context.Background()
	yes := true
	_, after, err := eng.Continue(ctx, core.ContinueParams{RunID: run.RunID, Tools: []core.ToolExecution{{ToolCallID: end.Requirements[0].ToolExecution.ToolCallID, Confirmed: &yes}}})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := eng.Subscribe(ctx, run.RunID, after)
	rest := enginetest.Collect(t, s)
	checkFidelity(t, run, append(evs, rest...))
	if c := last(rest).Content; c != "outer: approver: approved: 42" {
		t.Fatalf("content = %q (%v)", c, types(rest))
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	t.Parallel()
	m := []team.Member{{ID: "a"}}
	for name, cfg := range map[string]team.Config{
		"no id":        {Members: m, Model: leader()},
		"no members":   {ID: "t", Model: leader()},
		"no model":     {ID: "t", Members: m},
		"bad mode":     {ID: "t", Members: m, Model: leader(), Mode: "vote"},
		"bad policy":   {ID: "t", Members: m, Model: leader(), OnMemberError: "ignore"},
		"twice":        {ID: "t", Members: []team.Member{{ID: "a"}, {ID: "a"}}, Model: leader()},
		"own member":   {ID: "t", Members: []team.Member{{Kind: core.KindTeam, ID: "t"}}, Model: leader()},
		"empty member": {ID: "t", Members: []team.Member{{}}, Model: leader()},
	} {
		if _, err := team.New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := team.New(team.Config{ID: "t", Members: m, Mode: team.Broadcast}); err != nil {
		t.Errorf("broadcast without a leader: %v", err)
	}
}

// A paused member resumes the leader's loop in route and tasks modes too:
// route answers with the member's reply, tasks completes the member's task.
func TestPauseInRouteAndTasks(t *testing.T) {
	t.Parallel()
	route := newTeam(t, team.Config{ID: "r", Mode: team.Route,
		Model: leader(scripted.Rule{ToolCalls: []scripted.Call{delegate("approver", "compute")}})}, "approver")
	tasks := newTeam(t, team.Config{ID: "k", Mode: team.Tasks, Model: leader(scripted.Rule{
		ToolCalls: []scripted.Call{
			{Name: team.ToolCreateTask, Arguments: map[string]any{"title": "Compute", "assignee": "approver"}},
			{Name: team.ToolExecuteTask, Arguments: map[string]any{"task_id": "task-1"}},
		},
		Reply: "tasks: {{tool_result}}",
	})}, "approver")
	eng := newEngine(t, hitlMember(t, "approver"), route, tasks)
	ctx := context.Background()
	for id, want := range map[string]string{"r": "rejected: not now", "k": "tasks: Created task-1 \"Compute\", assigned to approver.; rejected: not now"} {
		run, evs := start(t, eng, id, "go", "")
		end := last(evs)
		if end.Event != "TeamRunPaused" || end.Requirements[0].MemberAgentID != "approver" {
			t.Fatalf("%s: end = %+v", id, end)
		}
		no := false
		_, after, err := eng.Continue(ctx, core.ContinueParams{RunID: run.RunID, Tools: []core.ToolExecution{{ToolCallID: end.Requirements[0].ToolExecution.ToolCallID, Confirmed: &no, ConfirmationNote: "not now"}}})
		if err != nil {
			t.Fatal(err)
		}
		s, _ := eng.Subscribe(ctx, run.RunID, after)
		all := append(evs, enginetest.Collect(t, s)...)
		checkFidelity(t, run, all)
		if id == "k" {
			up := find(all, core.EventTeamTaskUpdated, "")
			if len(up) != 2 || up[1].TaskStatus != "completed" || up[1].TaskResult != "rejected: not now" {
				t.Fatalf("task updates = %+v", up)
			}
		}
		if c := last(all).Content; last(all).Event != "TeamRunCompleted" || c != want {
			t.Fatalf("%s: content = %q, want %q (%v)", id, c, want, types(all))
		}
	}
}

func TestBroadcastMemberFailure(t *testing.T) {
	t.Parallel()
	started := make(chan struct{}, 1)
	tell := newTeam(t, team.Config{ID: "tell", Mode: team.Broadcast}, "broken", "w")
	fail := newTeam(t, team.Config{ID: "fail", Mode: team.Broadcast, OnMemberError: team.Fail}, "broken", "slow")
	// broken fails once slow is running.
	broken := &funcAgent{id: "broken", fn: func(ctx context.Context, x *core.Execution) (*core.Outcome, error) {
		if x.Message == "wait" {
			<-started
		}
		return nil, &core.AgentError{Type: "model_error", Err: errors.New("the model is down")}
	}}
	eng := newEngine(t, broken, echoMember(t, "w"), blockingMember("slow", started), tell, fail)

	run, evs := start(t, eng, "tell", "x", "")
	checkFidelity(t, run, evs)
	if c := last(evs).Content; c != "Agent broken: Error: member broken failed: the model is down\n\nAgent w: w says: x" {
		t.Fatalf("tell_leader: content = %q", c)
	}
	// fail: the failing member ends the team, and the team's other running
	// member is cancelled.
	run, evs = start(t, eng, "fail", "wait", "")
	checkFidelity(t, run, evs)
	if end := last(evs); end.Event != "TeamRunError" || !strings.Contains(end.Content, "member broken failed") {
		t.Fatalf("fail: %+v (%v)", end, types(evs))
	}
	kids, _ := eng.List(context.Background(), core.ListRunsParams{ParentRunID: run.RunID})
	status := map[string]core.RunStatus{}
	for _, k := range kids {
		status[k.AgentID] = k.Status
	}
	if status["broken"] != core.RunError || status["slow"] != core.RunCancelled {
		t.Fatalf("fail: members = %v", status)
	}
}

// Members see the team's session state; a nested team's state comes back
// into the team's and is saved on the session.
func TestSessionStateIsShared(t *testing.T) {
	t.Parallel()
	reader := &funcAgent{id: "reader", fn: func(_ context.Context, x *core.Execution) (*core.Outcome, error) {
		topic, _ := x.SessionState["topic"].(string)
		return &core.Outcome{Content: "topic is " + topic}, nil
	}}
	// inner is a Go team that adds to the state it is given.
	inner := &funcAgent{id: "inner", fn: func(_ context.Context, x *core.Execution) (*core.Outcome, error) {
		st := map[string]any{"inner_saw": x.SessionState["topic"]}
		return &core.Outcome{Content: "inner done", SessionState: st}, nil
	}}
	tm, err := team.New(team.Config{ID: "st", Mode: team.Broadcast, MaxParallel: 1,
		Members: []team.Member{{ID: "reader"}, {Kind: core.KindTeam, ID: "inner"}}})
	if err != nil {
		t.Fatal(err)
	}
	eng := newEngine(t, reader, &kindAgent{Agent: inner, kind: core.KindTeam}, tm)
	sess := seedSession(t, eng, map[string]any{"topic": "teams"})
	run, evs := start(t, eng, "st", "x", sess)
	checkFidelity(t, run, evs)
	end := last(evs)
	if end.Content != "reader: topic is teams\n\ninner: inner done" || end.SessionState["topic"] != "teams" || end.SessionState["inner_saw"] != "teams" {
		t.Fatalf("end = %q %v", end.Content, end.SessionState)
	}
	s, err := eng.GetSession(context.Background(), sess)
	if err != nil || s.SessionState["inner_saw"] != "teams" {
		t.Fatalf("session = %+v, %v", s, err)
	}
}

// kindAgent registers an agent under another kind.
type kindAgent struct {
	core.Agent
	kind core.Kind
}

func (k *kindAgent) Info() core.AgentInfo {
	i := k.Agent.Info()
	i.Kind = k.kind
	return i
}

// TestMembersGetTheTeamsKnowledgeFilters: the team run's knowledge
// filters are every member's run input filters, through a nested team
// too (agno hands a team's filters to its members).
func TestMembersGetTheTeamsKnowledgeFilters(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	seen := map[string]map[string]any{}
	recorder := func(id string) core.Agent {
		return &funcAgent{id: id, fn: func(ctx context.Context, x *core.Execution) (*core.Outcome, error) {
			mu.Lock()
			seen[id] = x.Run.Input.KnowledgeFilters
			mu.Unlock()
			return &core.Outcome{Content: id}, nil
		}}
	}
	inner := newTeam(t, team.Config{ID: "inner", Mode: team.Broadcast}, "b")
	outer, err := team.New(team.Config{ID: "outer", Mode: team.Broadcast, Members: []team.Member{
		{ID: "a", Name: "Agent a"}, {Kind: core.KindTeam, ID: "inner", Name: "Inner"}}})
	if err != nil {
		t.Fatal(err)
	}
	eng := newEngine(t, recorder("a"), recorder("b"), inner, outer)
	filters := map[string]any{"department": "sales", "year": float64(2025)}
	ctx := context.Background()
	run, err := eng.Start(ctx, core.StartParams{TeamID: "outer", Message: "hi", KnowledgeFilters: filters})
	if err != nil {
		t.Fatal(err)
	}
	s, err := eng.Subscribe(ctx, run.RunID, -1)
	if err != nil {
		t.Fatal(err)
	}
	evs := enginetest.Collect(t, s)
	if end := last(evs); end.Event != "TeamRunCompleted" {
		t.Fatalf("team ended with %s: %v", end.Event, types(evs))
	}
	mu.Lock()
	defer mu.Unlock()
	for _, m := range []string{"a", "b"} {
		if !reflect.DeepEqual(seen[m], filters) {
			t.Errorf("member %s ran with knowledge filters %v, want %v", m, seen[m], filters)
		}
	}
}
