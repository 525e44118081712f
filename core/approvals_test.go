package core_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/model/scripted"
	"github.com/agentgate/agentgate/core/tool"
	"github.com/agentgate/agentgate/internal/testutil/enginetest"
)

// gated is an agent whose first reply calls the calculator, marked with
// flags, then answers with what it returned.
func gated(t *testing.T, id string, flags tool.Flags) core.Agent {
	t.Helper()
	calc := tool.Calculator()
	calc.Flags = flags
	return scriptedAgent(t, id, scripted.Config{Rules: []scripted.Rule{{
		ToolCalls: []scripted.Call{{Name: "calculator", Arguments: map[string]any{"expression": "6*7"}}},
		Reply:     "result {{tool_result}}", RejectedReply: "rejected: {{note}}",
	}}}, calc)
}

// recorder is an ApprovalObserver that keeps what it is told.
type recorder struct {
	mu                sync.Mutex
	created, resolved []*core.Approval
}

func (r *recorder) ApprovalCreated(_ context.Context, a *core.Approval) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.created = append(r.created, a)
}

func (r *recorder) ApprovalResolved(_ context.Context, a *core.Approval) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.resolved = append(r.resolved, a)
}

func (r *recorder) counts() (int, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.created), len(r.resolved)
}

func approvalEnv(t *testing.T, settings core.ApprovalSettings, agents ...core.Agent) (*enginetest.Env, *recorder) {
	t.Helper()
	env := enginetest.New(t, enginetest.Options{Engine: core.EngineConfig{Approvals: settings}}, agents...)
	rec := &recorder{}
	env.Engine.AddApprovalObserver(rec)
	return env, rec
}

// gatedRun starts a run of id and returns it (as stored) with its
// RunPaused event.
func gatedRun(t *testing.T, env *enginetest.Env, id string) (*core.Run, core.Event) {
	t.Helper()
	ctx := context.Background()
	run, err := env.Engine.Start(ctx, core.StartParams{AgentID: id, Message: "go", UserID: "u1"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := env.Engine.Subscribe(ctx, run.RunID, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// (Up to the pause: a pause awaiting an auto-continue keeps the stream
	// open.)
	var last core.Event
	for last.Event != core.EventRunPaused {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		last, err = s.Next(rctx)
		cancel()
		if err != nil {
			t.Fatalf("stream before the pause: %v", err)
		}
	}
	stored, err := env.Engine.Get(ctx, run.RunID)
	if err != nil {
		t.Fatal(err)
	}
	return stored, last
}

// follow reads the rest of the run's stream after index after.
func follow(t *testing.T, env *enginetest.Env, runID string, after int64) []core.Event {
	t.Helper()
	s, err := env.Engine.Subscribe(context.Background(), runID, after)
	if err != nil {
		t.Fatal(err)
	}
	return enginetest.Collect(t, s)
}

// TestApprovalRequired: a pause on an approval: required tool writes one
// pending approval stamped on the paused call; a continue is refused
// until an approver resolves it, and then needs nothing more.
func TestApprovalRequired(t *testing.T) {
	t.Parallel()
	env, rec := approvalEnv(t, core.ApprovalSettings{}, gated(t, "gated", tool.Flags{Approval: core.ApprovalRequired}))
	ctx := context.Background()
	run, paused := gatedRun(t, env, "gated")

	pt := paused.Tools[0]
	if pt.ApprovalType != core.ApprovalRequired || pt.ApprovalID == "" || !pt.RequiresConfirmation {
		t.Fatalf("paused tool = %+v: want approval_type required, an approval_id and a confirmation", pt)
	}
	if rq := paused.Requirements[0]; rq.ToolExecution == nil || rq.ToolExecution.ApprovalID != pt.ApprovalID {
		t.Fatalf("requirement's tool execution lacks the approval id: %+v", rq.ToolExecution)
	}
	if run.Paused.Pending[0].ApprovalID != pt.ApprovalID || run.Requirements[0].ToolExecution.ApprovalID != pt.ApprovalID {
		t.Fatal("the stored pause lacks the approval id")
	}
	a, err := env.Engine.GetApproval(ctx, pt.ApprovalID)
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != core.ApprovalPending || a.RunID != run.RunID || a.SessionID != run.SessionID || a.UserID != "u1" ||
		a.SourceType != core.KindAgent || a.AgentID != "gated" || a.ApprovalType != core.ApprovalRequired ||
		a.PauseType != core.PauseConfirmation || a.ToolName != "calculator" || !strings.Contains(string(a.ToolArgs), "6*7") ||
		a.RunStatus != core.RunPaused || len(a.Requirements) != 1 || a.CreatedAt == 0 {
		t.Fatalf("approval = %+v", a)
	}
	if names, _ := a.Context["tool_names"].([]any); len(names) != 1 || names[0] != "calculator" {
		t.Fatalf("context = %v", a.Context)
	}
	if c, _ := rec.counts(); c != 1 {
		t.Fatalf("observers told of %d created approvals, want 1", c)
	}
	list, total, err := env.Engine.ListApprovals(ctx, core.ListApprovalsParams{Statuses: []core.ApprovalStatus{core.ApprovalPending}, UserID: "u1"})
	if err != nil || total != 1 || len(list) != 1 || list[0].ID != a.ID || list[0].RunStatus != core.RunPaused {
		t.Fatalf("pending list = %v (%d), %v", list, total, err)
	}

	// A caller who may not approve is refused, even with a decision.
	yes := true
	_, _, err = env.Engine.Continue(ctx, core.ContinueParams{RunID: run.RunID, Tools: []core.ToolExecution{{ToolCallID: pt.ToolCallID, Confirmed: &yes}}})
	var ape *core.ApprovalPendingError
	if !errors.As(err, &ape) || ape.ApprovalID != a.ID || core.CodeOf(err) != core.CodeForbidden || !strings.Contains(core.MessageOf(err), a.ID) {
		t.Fatalf("continue while pending: %v, want forbidden naming the approval", err)
	}

	// Resolve, twice.
	got, err := env.Engine.ResolveApproval(ctx, core.ResolveApprovalParams{ID: a.ID, Status: core.ApprovalApproved, ResolvedBy: "alice"})
	if err != nil || got.Status != core.ApprovalApproved || got.ResolvedBy != "alice" || got.ResolvedAt == nil || got.RunStatus != core.RunPaused {
		t.Fatalf("resolve: %+v, %v", got, err)
	}
	if _, err := env.Engine.ResolveApproval(ctx, core.ResolveApprovalParams{ID: a.ID, Status: core.ApprovalRejected}); core.CodeOf(err) != core.CodeConflict {
		t.Fatalf("second resolve: %v, want conflict", err)
	}
	if _, err := env.Engine.ResolveApproval(ctx, core.ResolveApprovalParams{ID: a.ID, Status: "maybe"}); core.CodeOf(err) != core.CodeInvalid {
		t.Fatalf("bad status: %v, want invalid", err)
	}
	if _, err := env.Engine.ResolveApproval(ctx, core.ResolveApprovalParams{ID: "nope", Status: core.ApprovalApproved}); core.CodeOf(err) != core.CodeNotFound {
		t.Fatalf("missing approval: %v, want not found", err)
	}
	if _, r := rec.counts(); r != 1 {
		t.Fatalf("observers told of %d resolutions, want 1", r)
	}

	// Continue with nothing: the decision comes from the store.
	_, after, err := env.Engine.Continue(ctx, core.ContinueParams{RunID: run.RunID})
	if err != nil {
		t.Fatal(err)
	}
	rest := follow(t, env, run.RunID, after)
	if last := rest[len(rest)-1]; last.Event != core.EventRunCompleted || last.Content != "result 42" {
		t.Fatalf("after approval: %v, %q", types(rest), last.Content)
	}
	if a, _ := env.Engine.GetApproval(ctx, a.ID); a.RunStatus != core.RunCompleted {
		t.Fatalf("run_status after the continue = %s", a.RunStatus)
	}
}

// TestApprovalRejectedAndApproverContinue: a rejection reaches the model
// as a rejected call; an approver who continues with a decision resolves
// the approval by it, as themselves.
func TestApprovalRejectedAndApproverContinue(t *testing.T) {
	t.Parallel()
	env, _ := approvalEnv(t, core.ApprovalSettings{}, gated(t, "gated", tool.Flags{Approval: core.ApprovalRequired}))
	ctx := context.Background()

	run, paused := gatedRun(t, env, "gated")
	if _, err := env.Engine.ResolveApproval(ctx, core.ResolveApprovalParams{ID: paused.Tools[0].ApprovalID, Status: core.ApprovalRejected, ResolvedBy: "alice"}); err != nil {
		t.Fatal(err)
	}
	_, after, err := env.Engine.Continue(ctx, core.ContinueParams{RunID: run.RunID})
	if err != nil {
		t.Fatal(err)
	}
	rest := follow(t, env, run.RunID, after)
	if last := rest[len(rest)-1]; last.Event != core.EventRunCompleted || !strings.HasPrefix(last.Content, "rejected") {
		t.Fatalf("after rejection: %v, %q", types(rest), last.Content)
	}

	run, paused = gatedRun(t, env, "gated")
	no := false
	_, after, err = env.Engine.Continue(ctx, core.ContinueParams{RunID: run.RunID, Approver: "boss", CanApprove: true,
		Tools: []core.ToolExecution{{ToolCallID: paused.Tools[0].ToolCallID, Confirmed: &no}}})
	if err != nil {
		t.Fatal(err)
	}
	follow(t, env, run.RunID, after)
	a, err := env.Engine.GetApproval(ctx, paused.Tools[0].ApprovalID)
	if err != nil || a.Status != core.ApprovalRejected || a.ResolvedBy != "boss" {
		t.Fatalf("approval resolved by the approver's continue: %+v, %v", a, err)
	}
}

// TestApprovalAudit: an audit tool pauses as its HITL flag says, writes no
// pending approval, and its continue records who decided what.
func TestApprovalAudit(t *testing.T) {
	t.Parallel()
	env, rec := approvalEnv(t, core.ApprovalSettings{}, gated(t, "audited", tool.Flags{RequiresConfirmation: true, Approval: core.ApprovalAudit}))
	ctx := context.Background()
	run, paused := gatedRun(t, env, "audited")
	if pt := paused.Tools[0]; pt.ApprovalType != core.ApprovalAudit || pt.ApprovalID != "" {
		t.Fatalf("paused audit tool = %+v", pt)
	}
	if _, total, _ := env.Engine.ListApprovals(ctx, core.ListApprovalsParams{RunID: run.RunID}); total != 0 {
		t.Fatalf("an audit pause wrote %d approvals, want none yet", total)
	}
	yes := true
	_, after, err := env.Engine.Continue(ctx, core.ContinueParams{RunID: run.RunID, Approver: "carol",
		Tools: []core.ToolExecution{{ToolCallID: paused.Tools[0].ToolCallID, Confirmed: &yes}}})
	if err != nil {
		t.Fatal(err)
	}
	follow(t, env, run.RunID, after)
	list, total, err := env.Engine.ListApprovals(ctx, core.ListApprovalsParams{RunID: run.RunID, ApprovalType: core.ApprovalAudit})
	if err != nil || total != 1 {
		t.Fatalf("audit records: %d, %v", total, err)
	}
	if a := list[0]; a.Status != core.ApprovalApproved || a.ResolvedBy != "carol" || a.ResolvedAt == nil || a.ToolName != "calculator" {
		t.Fatalf("audit record = %+v", a)
	}
	if c, _ := rec.counts(); c != 1 {
		t.Fatalf("observers told of %d created, want 1 (the audit record)", c)
	}
}

// TestApprovalAutoContinue: resolving an auto_continue approval continues
// the run by itself, and a follower that subscribed while it was paused
// sees the rest of the run on the same stream.
func TestApprovalAutoContinue(t *testing.T) {
	t.Parallel()
	env, _ := approvalEnv(t, core.ApprovalSettings{}, gated(t, "auto", tool.Flags{Approval: core.ApprovalRequired, AutoContinue: true}))
	ctx := context.Background()
	run, paused := gatedRun(t, env, "auto")
	if !run.Paused.AutoContinue {
		t.Fatal("the stored pause does not say it awaits an auto-continue")
	}
	// A follower from the start of the run: the stream does not end at the
	// pause.
	s, err := env.Engine.Subscribe(ctx, run.RunID, -1)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan []core.Event, 1)
	go func() { got <- enginetest.Collect(t, s) }()
	time.Sleep(100 * time.Millisecond)
	if _, err := env.Engine.ResolveApproval(ctx, core.ResolveApprovalParams{ID: paused.Tools[0].ApprovalID, Status: core.ApprovalApproved, ResolvedBy: "alice"}); err != nil {
		t.Fatal(err)
	}
	select {
	case evs := <-got:
		tt := types(evs)
		if tt[len(tt)-1] != core.EventRunCompleted || !containsType(tt, core.EventRunPaused) || !containsType(tt, core.EventRunContinued) {
			t.Fatalf("follower saw %v", tt)
		}
		checkDense(t, evs, 0)
	case <-time.After(10 * time.Second):
		t.Fatal("the run was not continued by its approval")
	}
	if r, _ := env.Engine.Get(ctx, run.RunID); r.Status != core.RunCompleted || r.Content != "result 42" {
		t.Fatalf("run = %s %q", r.Status, r.Content)
	}
}

// TestApprovalAutoContinueNeedsData: an approved auto_continue approval of
// a user-input call must carry the values, since nobody continues after.
func TestApprovalAutoContinueNeedsData(t *testing.T) {
	t.Parallel()
	env, _ := approvalEnv(t, core.ApprovalSettings{AutoContinue: true},
		gated(t, "input", tool.Flags{RequiresUserInput: true, UserInputFields: []string{"expression"}, Approval: core.ApprovalRequired}))
	ctx := context.Background()
	run, paused := gatedRun(t, env, "input")
	id := paused.Tools[0].ApprovalID
	if a, _ := env.Engine.GetApproval(ctx, id); a.PauseType != core.PauseUserInput || !a.AutoContinue {
		t.Fatalf("approval = %+v", a)
	}
	if _, err := env.Engine.ResolveApproval(ctx, core.ResolveApprovalParams{ID: id, Status: core.ApprovalApproved}); core.CodeOf(err) != core.CodeUnprocessable {
		t.Fatalf("approved without values: %v, want unprocessable", err)
	}
	if _, err := env.Engine.ResolveApproval(ctx, core.ResolveApprovalParams{ID: id, Status: core.ApprovalApproved,
		ResolutionData: map[string]any{"values": map[string]any{"expression": "2+3"}}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		r, _ := env.Engine.Get(ctx, run.RunID)
		if r.Status == core.RunCompleted {
			if r.Content != "result 5" {
				t.Fatalf("content %q: the approver's values were not used", r.Content)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run still %s", r.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestApprovalExpiry: the sweep expires an approval whose time is up and
// cancels its run (approval_expired), or leaves it paused when told to.
func TestApprovalExpiry(t *testing.T) {
	t.Parallel()
	for _, onExpiry := range []string{"", core.OnExpiryKeepPaused} {
		env, rec := approvalEnv(t, core.ApprovalSettings{OnExpiry: onExpiry, ExpiresIn: time.Hour},
			gated(t, "expiring", tool.Flags{Approval: core.ApprovalRequired, ApprovalExpiresIn: time.Second, AutoContinue: true}))
		ctx := context.Background()
		run, paused := gatedRun(t, env, "expiring")
		id := paused.Tools[0].ApprovalID
		a, _ := env.Engine.GetApproval(ctx, id)
		if a.ExpiresAt == nil || *a.ExpiresAt-a.CreatedAt != 1 {
			t.Fatalf("expires_at = %v, created %d: want the tool's 1 s over the gateway's hour", a.ExpiresAt, a.CreatedAt)
		}
		if err := env.Engine.SweepApprovals(ctx); err != nil {
			t.Fatal(err)
		}
		if a, _ := env.Engine.GetApproval(ctx, id); a.Status != core.ApprovalPending {
			t.Fatalf("expired early: %s", a.Status)
		}
		time.Sleep(2100 * time.Millisecond)
		if err := env.Engine.SweepApprovals(ctx); err != nil {
			t.Fatal(err)
		}
		if a, _ := env.Engine.GetApproval(ctx, id); a.Status != core.ApprovalExpired {
			t.Fatalf("%s: approval %s, want expired", onExpiry, a.Status)
		}
		r, _ := env.Engine.Get(ctx, run.RunID)
		if onExpiry == core.OnExpiryKeepPaused {
			if r.Status != core.RunPaused || r.Paused.AutoContinue {
				t.Fatalf("keep_paused: run %s (auto-continue %v)", r.Status, r.Paused.AutoContinue)
			}
			if _, _, err := env.Engine.Continue(ctx, core.ContinueParams{RunID: run.RunID}); core.CodeOf(err) != core.CodeConflict {
				t.Fatalf("continue after expiry by a non-approver: %v, want conflict", err)
			}
			continue
		}
		if r.Status != core.RunCancelled {
			t.Fatalf("run %s, want cancelled", r.Status)
		}
		evs := follow(t, env, run.RunID, paused.EventIndex)
		if len(evs) != 1 || evs[0].Event != core.EventRunCancelled || evs[0].Reason != core.ReasonApprovalExpired {
			t.Fatalf("after expiry: %+v", evs)
		}
		if _, r := rec.counts(); r != 1 {
			t.Fatalf("observers told of %d resolutions, want 1", r)
		}
	}
}

// TestApprovalCancelledWithRun: cancelling a paused run cancels its
// pending approval.
func TestApprovalCancelledWithRun(t *testing.T) {
	t.Parallel()
	env, _ := approvalEnv(t, core.ApprovalSettings{}, gated(t, "gated", tool.Flags{Approval: core.ApprovalRequired}))
	ctx := context.Background()
	run, paused := gatedRun(t, env, "gated")
	if _, err := env.Engine.Cancel(ctx, run.RunID); err != nil {
		t.Fatal(err)
	}
	if a, _ := env.Engine.GetApproval(ctx, paused.Tools[0].ApprovalID); a.Status != core.ApprovalCancelled || a.RunStatus != core.RunCancelled {
		t.Fatalf("approval of a cancelled run: %s (run %s)", a.Status, a.RunStatus)
	}
}

func containsType(tt []core.EventType, want core.EventType) bool {
	for _, t := range tt {
		if t == want {
			return true
		}
	}
	return false
}
