package core_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/model/scripted"
	"github.com/agentgate/agentgate/internal/testutil/enginetest"
)

// fanTeam is a minimal team for the engine's child runs: it runs every
// member in parallel on the message and answers with their contents; a
// member that pauses pauses the team (its paused state names the member's
// run), and a continue resumes that member first.
type fanTeam struct {
	id      string
	members []string
}

type fanState struct {
	Paused  string            `json:"paused"`  // the paused member's run id
	Member  string            `json:"member"`  // its agent id
	Answers map[string]string `json:"answers"` // member → content so far
}

func (f *fanTeam) Info() core.AgentInfo {
	return core.AgentInfo{ID: f.id, Name: "Fan " + f.id, Kind: core.KindTeam, Mode: "broadcast"}
}

func (f *fanTeam) Execute(ctx context.Context, x *core.Execution) (*core.Outcome, error) {
	st := fanState{Answers: map[string]string{}}
	var todo []string
	if x.Resume != nil {
		if err := json.Unmarshal(x.Resume.Runnable, &st); err != nil {
			return nil, err
		}
		child, err := x.RunChild(ctx, core.ChildParams{ID: st.Member, RunID: st.Paused, Decisions: x.Resume.Pending})
		if err != nil {
			return nil, err
		}
		if paused := f.collect(child, &st); paused != nil {
			return f.pause(paused, &st), nil
		}
	} else {
		todo = f.members
	}
	var (
		mu     sync.Mutex
		wg     sync.WaitGroup
		paused *core.Run
		ferr   error
	)
	for _, m := range todo {
		wg.Add(1)
		go func() {
			defer wg.Done()
			child, err := x.RunChild(ctx, core.ChildParams{ID: m, Message: x.Message})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				ferr = err
				return
			}
			if p := f.collect(child, &st); p != nil {
				paused = p
			}
		}()
	}
	wg.Wait()
	if ferr != nil {
		return nil, ferr
	}
	if paused != nil {
		return f.pause(paused, &st), nil // once every member's answer is in st
	}
	content := ""
	for _, m := range f.members {
		content += m + ": " + st.Answers[m] + "\n"
	}
	state := map[string]any{"answered": float64(len(st.Answers))}
	for k, v := range x.SessionState {
		state[k] = v
	}
	return &core.Outcome{Content: content, SessionState: state}, nil
}

// collect records a member's answer, or returns the member when it paused.
func (f *fanTeam) collect(child *core.Run, st *fanState) *core.Run {
	if child.Status != core.RunPaused {
		st.Answers[child.AgentID] = child.Content + string(child.Status)
		return nil
	}
	return child
}

// pause is the team's pause on its paused member child.
func (f *fanTeam) pause(child *core.Run, st *fanState) *core.Outcome {
	st.Paused, st.Member = child.RunID, child.AgentID
	b, _ := json.Marshal(st)
	reqs := make([]core.RunRequirement, len(child.Requirements))
	for i, r := range child.Requirements {
		r.MemberAgentID, r.MemberAgentName, r.MemberRunID = child.AgentID, child.AgentName, child.RunID
		reqs[i] = r
	}
	return &core.Outcome{Paused: &core.PausedState{Pending: child.Paused.Pending, Runnable: b}, Requirements: reqs}
}

func TestTeamChildRunsShareTheParentStream(t *testing.T) {
	t.Parallel()
	b := setup(t, core.EventLogConfig{},
		scriptedAgent(t, "alpha", scripted.Config{Rules: []scripted.Rule{{Reply: "from alpha"}}}),
		scriptedAgent(t, "beta", scripted.Config{Rules: []scripted.Rule{{Reply: "from beta"}}}),
		&fanTeam{id: "fan", members: []string{"alpha", "beta"}})
	ctx := context.Background()
	run, err := b.eng.Start(ctx, core.StartParams{TeamID: "fan", Message: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	if run.TeamID != "fan" || run.AgentID != "" || run.Kind() != core.KindTeam {
		t.Fatalf("team run = %+v", run)
	}
	s, err := b.eng.Subscribe(ctx, run.RunID, -1)
	if err != nil {
		t.Fatal(err)
	}
	evs := enginetest.Collect(t, s)
	checkDense(t, evs, 0)
	if evs[0].Event != core.EventType("TeamRunStarted") || evs[len(evs)-1].Event != core.EventType("TeamRunCompleted") {
		t.Fatalf("team events = %v", types(evs))
	}
	last := evs[len(evs)-1]
	if last.TeamID != "fan" || last.SessionState["answered"] != 2.0 {
		t.Fatalf("TeamRunCompleted = %+v", last)
	}
	members := map[string][]core.EventType{}
	for _, ev := range evs[1 : len(evs)-1] {
		if !ev.Forwarded() || ev.ParentRunID != run.RunID || ev.RunID == run.RunID || ev.NestedDepth != 1 {
			t.Fatalf("member event not labelled: %+v", ev)
		}
		members[ev.AgentID] = append(members[ev.AgentID], ev.Event)
	}
	for _, m := range []string{"alpha", "beta"} {
		got := members[m]
		if len(got) < 3 || got[0] != core.EventRunStarted || got[len(got)-1] != core.EventRunCompleted {
			t.Fatalf("%s events = %v", m, got)
		}
	}
	done, err := b.eng.Wait(ctx, run.RunID, -1)
	if err != nil || done.Status != core.RunCompleted || done.SessionState["answered"] != 2.0 {
		t.Fatalf("team run = %+v, %v", done, err)
	}
	kids, err := b.eng.List(ctx, core.ListRunsParams{ParentRunID: run.RunID})
	if err != nil || len(kids) != 2 {
		t.Fatalf("child runs = %v, %v", kids, err)
	}
	for _, k := range kids {
		if k.Status != core.RunCompleted || k.SessionID != run.SessionID || k.NestedDepth != 1 {
			t.Fatalf("child run = %+v", k)
		}
	}
	top, _ := b.eng.List(ctx, core.ListRunsParams{SessionID: run.SessionID, TopLevel: true})
	if len(top) != 1 || top[0].RunID != run.RunID {
		t.Fatalf("top-level runs = %v", top)
	}
	sess, err := b.eng.GetSession(ctx, run.SessionID)
	if err != nil || sess.SessionType != core.SessionTeam || sess.TeamID != "fan" || sess.SessionState["answered"] != 2.0 {
		t.Fatalf("session = %+v, %v", sess, err)
	}
}

func TestTeamMemberPauseContinues(t *testing.T) {
	t.Parallel()
	b := setup(t, core.EventLogConfig{},
		scriptedAgent(t, "alpha", scripted.Config{Rules: []scripted.Rule{{Reply: "from alpha"}}}),
		hitlAgentFor(t, "hitl"),
		&fanTeam{id: "fan", members: []string{"alpha", "hitl"}})
	ctx := context.Background()
	run, err := b.eng.Start(ctx, core.StartParams{TeamID: "fan", Message: "compute"})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := b.eng.Subscribe(ctx, run.RunID, -1)
	evs := enginetest.Collect(t, s)
	last := evs[len(evs)-1]
	if last.Event != core.EventType("TeamRunPaused") || len(last.Requirements) != 1 {
		t.Fatalf("want TeamRunPaused, got %v", types(evs))
	}
	req := last.Requirements[0]
	if req.MemberAgentID != "hitl" || req.MemberRunID == "" || req.ToolExecution == nil {
		t.Fatalf("requirement = %+v", req)
	}
	var sawMemberPause bool
	for _, ev := range evs {
		sawMemberPause = sawMemberPause || (ev.Forwarded() && ev.Event == core.EventRunPaused && ev.AgentID == "hitl")
	}
	if !sawMemberPause {
		t.Fatalf("the member's RunPaused is missing: %v", types(evs))
	}
	stored, _ := b.eng.Get(ctx, req.MemberRunID)
	if stored.Status != core.RunPaused || stored.ParentRunID != run.RunID {
		t.Fatalf("member run = %+v", stored)
	}
	yes := true
	_, after, err := b.eng.Continue(ctx, core.ContinueParams{RunID: run.RunID, Tools: []core.ToolExecution{{ToolCallID: req.ToolExecution.ToolCallID, Confirmed: &yes}}})
	if err != nil {
		t.Fatal(err)
	}
	s, _ = b.eng.Subscribe(ctx, run.RunID, after)
	rest := enginetest.Collect(t, s)
	checkDense(t, rest, after+1)
	if rest[0].Event != core.EventType("TeamRunContinued") || rest[len(rest)-1].Event != core.EventType("TeamRunCompleted") {
		t.Fatalf("after continue = %v", types(rest))
	}
	if c := rest[len(rest)-1].Content; c != "alpha: from alphaCOMPLETED\nhitl: result 42COMPLETED\n" {
		t.Fatalf("team content = %q", c)
	}
	if m, _ := b.eng.Get(ctx, req.MemberRunID); m.Status != core.RunCompleted {
		t.Fatalf("member after continue = %+v", m)
	}
}

func TestCancelTeamCancelsRunningMembers(t *testing.T) {
	t.Parallel()
	started := make(chan struct{}, 1)
	b := setup(t, core.EventLogConfig{}, blockingAgent("slow", started), &fanTeam{id: "fan", members: []string{"slow"}})
	ctx := context.Background()
	run, err := b.eng.Start(ctx, core.StartParams{TeamID: "fan", Message: "wait"})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("member never started")
	}
	if _, err := b.eng.Cancel(ctx, run.RunID); err != nil {
		t.Fatal(err)
	}
	done, err := b.eng.Wait(ctx, run.RunID, -1)
	if err != nil || done.Status != core.RunCancelled {
		t.Fatalf("team = %+v, %v", done, err)
	}
	kids, _ := b.eng.List(ctx, core.ListRunsParams{ParentRunID: run.RunID})
	if len(kids) != 1 || kids[0].Status != core.RunCancelled {
		t.Fatalf("members = %+v", kids)
	}
}

func TestEventNamesForKind(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   core.EventType
		kind core.Kind
		want core.EventType
	}{
		{core.EventRunContent, core.KindAgent, core.EventRunContent},
		{core.EventRunContent, core.KindTeam, "TeamRunContent"},
		{core.EventToolCallStarted, core.KindTeam, "TeamToolCallStarted"},
		{core.EventCustom, core.KindTeam, core.EventCustom},
		{core.EventRunStarted, core.KindWorkflow, core.EventWorkflowStarted},
		{core.EventRunCompleted, core.KindWorkflow, core.EventWorkflowCompleted},
		{core.EventRunContinued, core.KindWorkflow, core.EventStepContinued},
		{core.EventStepStarted, core.KindWorkflow, core.EventStepStarted},
	}
	for _, c := range cases {
		got := c.in.ForKind(c.kind)
		if got != c.want || !got.Valid() || got.Base() != c.in {
			t.Errorf("%s for %s = %s (valid %v, base %s), want %s", c.in, c.kind, got, got.Valid(), got.Base(), c.want)
		}
	}
	for _, tt := range []core.EventType{"TeamRunCompleted", "WorkflowError", "TeamRunCancelled"} {
		if !tt.Terminal() {
			t.Errorf("%s is not terminal", tt)
		}
	}
	if !core.EventType("WorkflowPaused").EndsSegment() || core.EventType("TeamRunContent").EndsSegment() {
		t.Error("EndsSegment wrong for team/workflow names")
	}
	fwd := core.Event{Event: core.EventRunCompleted, ParentRunID: "p"}
	if fwd.Terminal() || fwd.EndsSegment() {
		t.Error("a forwarded member RunCompleted must not end the parent's stream")
	}
}
