package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/agentgate/agentgate/core"
)

// pendingApproval returns a pending required approval of r, every field
// set (the resolution's excepted).
func pendingApproval(r *core.Run) *core.Approval {
	now := baseTime()
	return &core.Approval{
		ID:           newID("appr"),
		RunID:        r.RunID,
		SessionID:    r.SessionID,
		Status:       core.ApprovalPending,
		SourceType:   core.KindAgent,
		ApprovalType: core.ApprovalRequired,
		PauseType:    core.PauseConfirmation,
		ToolName:     "delete_file",
		ToolArgs:     json.RawMessage(`{"path":"/tmp/x","force":true,"n":3}`),
		ToolCallIDs:  []string{"call_9", "call_10"},
		ExpiresAt:    ptr(now + 3600),
		AgentID:      r.AgentID,
		UserID:       r.UserID,
		SourceName:   "Helper — ünïcode 👋 'q' \"dq\"",
		Requirements: sampleRequirements(now)[:2],
		Context:      map[string]any{"tool_names": []any{"delete_file", "send_mail"}, "source_name": "Helper"},
		AutoContinue: true,
		CreatedAt:    now,
		UpdatedAt:    now,
	}
}

// minimalApproval returns a pending approval of r with only what the
// store requires, at createdAt.
func minimalApproval(r *core.Run, createdAt int64) *core.Approval {
	return &core.Approval{ID: newID("appr"), RunID: r.RunID, SessionID: r.SessionID, UserID: r.UserID,
		Status: core.ApprovalPending, SourceType: core.KindAgent, ApprovalType: core.ApprovalRequired,
		CreatedAt: createdAt}
}

func mustGetApproval(t *testing.T, s core.RunStore, id string) *core.Approval {
	t.Helper()
	a, err := s.GetApproval(t.Context(), id)
	if err != nil {
		t.Fatalf("GetApproval(%s): %v", id, err)
	}
	return a
}

// assertApproval checks got against want (semantic JSON, RunStatus
// aside: it is looked up live), and that nil and empty were kept apart.
func assertApproval(t *testing.T, want, got *core.Approval) {
	t.Helper()
	w, g := *want, *got
	w.RunStatus, g.RunStatus = "", ""
	assertJSONEqual(t, "approval "+want.ID, &w, &g)
	for _, c := range []struct {
		name       string
		wNil, gNil bool
	}{
		{"tool_args", want.ToolArgs == nil, got.ToolArgs == nil},
		{"tool_call_ids", want.ToolCallIDs == nil, got.ToolCallIDs == nil},
		{"requirements", want.Requirements == nil, got.Requirements == nil},
		{"context", want.Context == nil, got.Context == nil},
		{"resolution_data", want.ResolutionData == nil, got.ResolutionData == nil},
		{"expires_at", want.ExpiresAt == nil, got.ExpiresAt == nil},
		{"resolved_at", want.ResolvedAt == nil, got.ResolvedAt == nil},
	} {
		if c.wNil != c.gNil {
			t.Fatalf("approval %s: %s: want nil=%v, got nil=%v", want.ID, c.name, c.wNil, c.gNil)
		}
	}
}

func approvalIDs(as []*core.Approval) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.ID
	}
	return out
}

// pausedRunWithApprovals stores a new session and a PAUSED run in it with
// n new approvals (of one user), through CreateRunInSession.
func pausedRunWithApprovals(t *testing.T, s core.RunStore, userID string, n int) (*core.Run, []*core.Approval) {
	t.Helper()
	sess := minimalSession()
	r := minimalRun(sess.SessionID)
	r.Status, r.UserID = core.RunPaused, userID
	for range n {
		r.NewApprovals = append(r.NewApprovals, minimalApproval(r, baseTime()))
	}
	if _, err := s.CreateRunInSession(t.Context(), sess, r); err != nil {
		t.Fatalf("CreateRunInSession with %d approvals: %v", n, err)
	}
	return r, r.NewApprovals
}

func testApprovals(t *testing.T, newBackend Factory) {
	now := baseTime()

	parallel(t, "CreateRunInSessionStoresThem", func(t *testing.T) {
		s := newBackend(t).Runs
		sess := minimalSession()
		r := fullRun(sess.SessionID)
		full := pendingApproval(r)
		// nil and empty kept apart: an empty context and call list, no
		// tool args or expiry.
		bare := minimalApproval(r, now+1)
		bare.Context, bare.ToolCallIDs = map[string]any{}, []string{}
		r.NewApprovals = []*core.Approval{full, bare}
		if _, err := s.CreateRunInSession(t.Context(), sess, r); err != nil {
			t.Fatalf("CreateRunInSession: %v", err)
		}
		for _, want := range []*core.Approval{full, bare} {
			got := mustGetApproval(t, s, want.ID)
			assertApproval(t, want, got)
			if got.RunStatus != core.RunPaused {
				t.Fatalf("approval %s: run status %q, want PAUSED (its run's, read live)", want.ID, got.RunStatus)
			}
		}
		if got := mustGetRun(t, s, r.RunID); got.NewApprovals != nil {
			t.Fatalf("GetRun read back NewApprovals: %+v", got.NewApprovals)
		}
	})

	parallel(t, "CreateRunStoresThem", func(t *testing.T) {
		s := newBackend(t).Runs
		r := minimalRun(newID("sess"))
		a := pendingApproval(r)
		r.NewApprovals = []*core.Approval{a}
		mustCreateRun(t, s, r)
		assertApproval(t, a, mustGetApproval(t, s, a.ID))
	})

	parallel(t, "UpdateRunStoresThem", func(t *testing.T) {
		s := newBackend(t).Runs
		r := minimalRun(newID("sess"))
		r.Status = core.RunRunning
		mustCreateRun(t, s, r)
		next := cloneRun(r)
		next.Status, next.Paused = core.RunPaused, samplePaused(now)
		a := pendingApproval(next)
		next.NewApprovals = []*core.Approval{a}
		if err := s.UpdateRun(t.Context(), next, core.UpdateRunParams{IfStatus: []core.RunStatus{core.RunRunning}}); err != nil {
			t.Fatalf("UpdateRun pausing with an approval: %v", err)
		}
		got := mustGetApproval(t, s, a.ID)
		assertApproval(t, a, got)
		if got.RunStatus != core.RunPaused {
			t.Fatalf("run status %q, want PAUSED", got.RunStatus)
		}
		// An update without approvals adds none and keeps those stored.
		done := cloneRun(next)
		done.Status, done.Paused = core.RunCompleted, nil
		if err := s.UpdateRun(t.Context(), done, core.UpdateRunParams{}); err != nil {
			t.Fatalf("UpdateRun: %v", err)
		}
		list, total, err := s.ListApprovals(t.Context(), core.ListApprovalsParams{RunID: r.RunID})
		if err != nil || total != 1 {
			t.Fatalf("ListApprovals of the run: total %d, %v", total, err)
		}
		assertIDs(t, "the run's approvals", []string{a.ID}, approvalIDs(list))
		if list[0].RunStatus != core.RunCompleted {
			t.Fatalf("run status %q, want COMPLETED", list[0].RunStatus)
		}
	})

	parallel(t, "CreateRunWithKeyStoresThem", func(t *testing.T) {
		s := newBackend(t).Runs
		sess, r, k := keyedRun(newID("scope"), "k", now*1000)
		a := pendingApproval(r)
		r.NewApprovals = []*core.Approval{a}
		if taken, _, err := s.CreateRunWithKey(t.Context(), core.CreateRunWithKeyParams{Key: k, Session: sess, Run: r}); err != nil || taken != nil {
			t.Fatalf("CreateRunWithKey: taken %+v, %v", taken, err)
		}
		assertApproval(t, a, mustGetApproval(t, s, a.ID))
	})

	parallel(t, "InvalidApprovalIsInvalidAndStoresNothing", func(t *testing.T) {
		s := newBackend(t).Runs
		r := minimalRun(newID("sess"))
		bad := minimalApproval(r, now)
		bad.Status = "maybe"
		r.NewApprovals = []*core.Approval{bad}
		wantErr(t, s.CreateRun(t.Context(), r), core.ErrInvalid, "CreateRun with an approval of an unknown status")
		r.NewApprovals = []*core.Approval{{RunID: r.RunID, Status: core.ApprovalPending}}
		wantErr(t, s.CreateRun(t.Context(), r), core.ErrInvalid, "CreateRun with an approval without id")
		_, err := s.GetRun(t.Context(), r.RunID)
		wantErr(t, err, core.ErrNotFound, "GetRun after the refused creates")
	})

	parallel(t, "MissingIsNotFound", func(t *testing.T) {
		s := newBackend(t).Runs
		id := newID("appr")
		_, err := s.GetApproval(t.Context(), id)
		wantErr(t, err, core.ErrNotFound, "GetApproval of a missing approval")
		_, err = s.ResolveApproval(t.Context(), core.ResolveApprovalParams{ID: id, Status: core.ApprovalApproved, ResolvedAt: now})
		wantErr(t, err, core.ErrNotFound, "ResolveApproval of a missing approval")
		if errors.Is(err, core.ErrConflict) {
			t.Fatalf("not found must not also be a conflict: %v", err)
		}
		wantErr(t, s.DeleteApproval(t.Context(), id), core.ErrNotFound, "DeleteApproval of a missing approval")
		wantErr(t, s.AnnotateApproval(t.Context(), id, map[string]any{"k": "v"}), core.ErrNotFound, "AnnotateApproval of a missing approval")
	})

	parallel(t, "Resolve", func(t *testing.T) {
		s := newBackend(t).Runs
		_, as := pausedRunWithApprovals(t, s, newID("user"), 1)
		a := as[0]
		p := core.ResolveApprovalParams{ID: a.ID, Status: core.ApprovalApproved, ResolvedBy: "alice",
			ResolutionData: map[string]any{"values": map[string]any{"city": "Paris"}}, ResolvedAt: now + 60}
		got, err := s.ResolveApproval(t.Context(), p)
		if err != nil {
			t.Fatalf("ResolveApproval: %v", err)
		}
		want := *a
		want.Status, want.ResolvedBy, want.ResolutionData = core.ApprovalApproved, "alice", p.ResolutionData
		want.ResolvedAt, want.UpdatedAt = ptr(now+60), now+60
		assertApproval(t, &want, got)
		if got.RunStatus != core.RunPaused {
			t.Fatalf("resolved approval: run status %q, want PAUSED", got.RunStatus)
		}
		assertApproval(t, &want, mustGetApproval(t, s, a.ID))

		// Twice: a conflict that changes nothing.
		_, err = s.ResolveApproval(t.Context(), core.ResolveApprovalParams{ID: a.ID, Status: core.ApprovalRejected, ResolvedBy: "bob", ResolvedAt: now + 61})
		wantErr(t, err, core.ErrConflict, "second ResolveApproval")
		if errors.Is(err, core.ErrNotFound) {
			t.Fatalf("a conflict must not also be not found: %v", err)
		}
		assertApproval(t, &want, mustGetApproval(t, s, a.ID))
	})

	parallel(t, "ResolveInvalidStatus", func(t *testing.T) {
		s := newBackend(t).Runs
		_, as := pausedRunWithApprovals(t, s, newID("user"), 1)
		for _, st := range []core.ApprovalStatus{core.ApprovalPending, "", "maybe"} {
			_, err := s.ResolveApproval(t.Context(), core.ResolveApprovalParams{ID: as[0].ID, Status: st, ResolvedAt: now})
			wantErr(t, err, core.ErrInvalid, fmt.Sprintf("ResolveApproval to %q", st))
		}
		if got := mustGetApproval(t, s, as[0].ID); got.Status != core.ApprovalPending {
			t.Fatalf("status %q after refused resolutions, want pending", got.Status)
		}
	})

	parallel(t, "ConcurrentResolvesOneWins", func(t *testing.T) {
		s := newBackend(t).Runs
		_, as := pausedRunWithApprovals(t, s, newID("user"), 1)
		const n = 8
		var (
			wg        sync.WaitGroup
			mu        sync.Mutex
			won       []string
			conflicts int
			others    []error
		)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				by := fmt.Sprintf("approver-%d", i)
				st := core.ApprovalApproved
				if i%2 == 1 {
					st = core.ApprovalRejected
				}
				got, err := s.ResolveApproval(t.Context(), core.ResolveApprovalParams{ID: as[0].ID, Status: st, ResolvedBy: by, ResolvedAt: now + int64(i)})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					if got.ResolvedBy != by {
						others = append(others, fmt.Errorf("winner %s got back resolved_by %q", by, got.ResolvedBy))
					}
					won = append(won, by)
				case errors.Is(err, core.ErrConflict):
					conflicts++
				default:
					others = append(others, err)
				}
			}()
		}
		wg.Wait()
		if len(others) > 0 || len(won) != 1 || conflicts != n-1 {
			t.Fatalf("concurrent resolves: winners %v, %d conflicts, other errors %v", won, conflicts, others)
		}
		if got := mustGetApproval(t, s, as[0].ID); got.ResolvedBy != won[0] {
			t.Fatalf("stored resolved_by %q, want the winner %q", got.ResolvedBy, won[0])
		}
	})

	parallel(t, "Delete", func(t *testing.T) {
		s := newBackend(t).Runs
		r, as := pausedRunWithApprovals(t, s, newID("user"), 2)
		if err := s.DeleteApproval(t.Context(), as[0].ID); err != nil {
			t.Fatalf("DeleteApproval: %v", err)
		}
		_, err := s.GetApproval(t.Context(), as[0].ID)
		wantErr(t, err, core.ErrNotFound, "GetApproval after DeleteApproval")
		wantErr(t, s.DeleteApproval(t.Context(), as[0].ID), core.ErrNotFound, "DeleteApproval twice")
		mustGetApproval(t, s, as[1].ID)
		mustGetRun(t, s, r.RunID) // the run stays
	})

	parallel(t, "Annotate", func(t *testing.T) {
		s := newBackend(t).Runs
		r := minimalRun(newID("sess"))
		a := pendingApproval(r)
		r.NewApprovals = []*core.Approval{a}
		mustCreateRun(t, s, r)
		ctx := t.Context()
		if err := s.AnnotateApproval(ctx, a.ID, map[string]any{"slack": map[string]any{"ts": "1.2", "channel": "C1"}}); err != nil {
			t.Fatalf("AnnotateApproval: %v", err)
		}
		if err := s.AnnotateApproval(ctx, a.ID, map[string]any{"source_name": "renamed"}); err != nil {
			t.Fatalf("AnnotateApproval: %v", err)
		}
		want := *a
		want.Context = map[string]any{"tool_names": []any{"delete_file", "send_mail"}, "source_name": "renamed",
			"slack": map[string]any{"ts": "1.2", "channel": "C1"}}
		assertApproval(t, &want, mustGetApproval(t, s, a.ID))

		// Whatever its status; and on an approval without a context.
		if _, err := s.ResolveApproval(ctx, core.ResolveApprovalParams{ID: a.ID, Status: core.ApprovalRejected, ResolvedAt: now + 5}); err != nil {
			t.Fatalf("ResolveApproval: %v", err)
		}
		if err := s.AnnotateApproval(ctx, a.ID, map[string]any{"done": true}); err != nil {
			t.Fatalf("AnnotateApproval of a resolved approval: %v", err)
		}
		if got := mustGetApproval(t, s, a.ID); got.Context["done"] != true || got.Context["source_name"] != "renamed" || got.Status != core.ApprovalRejected {
			t.Fatalf("after annotating the resolved approval: status %s, context %v", got.Status, got.Context)
		}
		_, as := pausedRunWithApprovals(t, s, newID("user"), 1)
		if err := s.AnnotateApproval(ctx, as[0].ID, map[string]any{"k": "v"}); err != nil {
			t.Fatalf("AnnotateApproval without a context: %v", err)
		}
		if got := mustGetApproval(t, s, as[0].ID); len(got.Context) != 1 || got.Context["k"] != "v" {
			t.Fatalf("context %v, want {k: v}", got.Context)
		}
	})

	parallel(t, "ConcurrentAnnotationsAllLand", func(t *testing.T) {
		s := newBackend(t).Runs
		_, as := pausedRunWithApprovals(t, s, newID("user"), 1)
		const n = 6
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = s.AnnotateApproval(t.Context(), as[0].ID, map[string]any{fmt.Sprintf("k%d", i): float64(i)})
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("AnnotateApproval: %v", err)
		}
		if got := mustGetApproval(t, s, as[0].ID); len(got.Context) != n {
			t.Fatalf("context %v: want the %d keys of every annotation", got.Context, n)
		}
	})

	testApprovalLists(t, newBackend)
	testApprovalAtomicity(t, newBackend)
}

func testApprovalLists(t *testing.T, newBackend Factory) {
	now := baseTime()

	parallel(t, "Filters", func(t *testing.T) {
		s := newBackend(t).Runs
		ctx := t.Context()
		user := newID("user")
		sess := minimalSession()
		r := minimalRun(sess.SessionID)
		r.Status, r.UserID = core.RunPaused, user
		team, wf, sched := newID("team"), newID("wf"), newID("sched")
		mk := func(createdAt int64, edit func(a *core.Approval)) *core.Approval {
			a := minimalApproval(r, createdAt)
			edit(a)
			return a
		}
		plain := mk(now, func(*core.Approval) {})
		audit := mk(now+1, func(a *core.Approval) {
			a.ApprovalType, a.Status, a.ResolvedAt = core.ApprovalAudit, core.ApprovalApproved, ptr(now+100)
		})
		teamAp := mk(now+2, func(a *core.Approval) {
			a.SourceType, a.TeamID, a.AgentID, a.PauseType = core.KindTeam, team, "", core.PauseUserInput
		})
		wfAp := mk(now+3, func(a *core.Approval) {
			a.SourceType, a.WorkflowID, a.ScheduleID, a.ScheduleRunID = core.KindWorkflow, wf, sched, newID("srun")
			a.PauseType = core.PauseExternalExecution
		})
		soon := mk(now+4, func(a *core.Approval) { a.ExpiresAt, a.AutoContinue = ptr(now+50), true })
		later := mk(now+5, func(a *core.Approval) { a.ExpiresAt = ptr(now + 500) })
		rejected := mk(now+6, func(a *core.Approval) {
			a.Status, a.ResolvedAt, a.AutoContinue, a.AgentID = core.ApprovalRejected, ptr(now+200), true, newID("agent")
		})
		r.NewApprovals = []*core.Approval{plain, audit, teamAp, wfAp, soon, later, rejected}
		if _, err := s.CreateRunInSession(ctx, sess, r); err != nil {
			t.Fatalf("CreateRunInSession: %v", err)
		}
		ids := func(as ...*core.Approval) []string { return approvalIDs(as) }
		for _, c := range []struct {
			name string
			p    core.ListApprovalsParams
			want []string
		}{
			{"All", core.ListApprovalsParams{}, ids(rejected, later, soon, wfAp, teamAp, audit, plain)},
			{"Pending", core.ListApprovalsParams{Statuses: []core.ApprovalStatus{core.ApprovalPending}}, ids(later, soon, wfAp, teamAp, plain)},
			{"ApprovedOrRejected", core.ListApprovalsParams{Statuses: []core.ApprovalStatus{core.ApprovalApproved, core.ApprovalRejected}}, ids(rejected, audit)},
			{"Expired", core.ListApprovalsParams{Statuses: []core.ApprovalStatus{core.ApprovalExpired}}, nil},
			{"SourceTeam", core.ListApprovalsParams{SourceType: core.KindTeam}, ids(teamAp)},
			{"SourceWorkflow", core.ListApprovalsParams{SourceType: core.KindWorkflow}, ids(wfAp)},
			{"Audit", core.ListApprovalsParams{ApprovalType: core.ApprovalAudit}, ids(audit)},
			{"Required", core.ListApprovalsParams{ApprovalType: core.ApprovalRequired}, ids(rejected, later, soon, wfAp, teamAp, plain)},
			{"PauseUserInput", core.ListApprovalsParams{PauseType: core.PauseUserInput}, ids(teamAp)},
			{"PauseExternal", core.ListApprovalsParams{PauseType: core.PauseExternalExecution}, ids(wfAp)},
			{"Agent", core.ListApprovalsParams{AgentID: rejected.AgentID}, ids(rejected)},
			{"Team", core.ListApprovalsParams{TeamID: team}, ids(teamAp)},
			{"Workflow", core.ListApprovalsParams{WorkflowID: wf}, ids(wfAp)},
			{"Schedule", core.ListApprovalsParams{ScheduleID: sched}, ids(wfAp)},
			{"ExpiresBefore", core.ListApprovalsParams{ExpiresBefore: now + 100}, ids(soon)},
			{"ExpiresBeforeBoth", core.ListApprovalsParams{ExpiresBefore: now + 501}, ids(later, soon)},
			{"ExpiresBeforeIsStrict", core.ListApprovalsParams{ExpiresBefore: now + 50}, nil},
			{"ResolvedAfter", core.ListApprovalsParams{ResolvedAfter: now + 150}, ids(rejected)},
			{"ResolvedAfterIsInclusive", core.ListApprovalsParams{ResolvedAfter: now + 100}, ids(rejected, audit)},
			{"AutoContinue", core.ListApprovalsParams{AutoContinue: true}, ids(rejected, soon)},
			{"PendingAutoContinue", core.ListApprovalsParams{AutoContinue: true, Statuses: []core.ApprovalStatus{core.ApprovalPending}}, ids(soon)},
			{"PendingExpiring", core.ListApprovalsParams{ExpiresBefore: now + 1000, Statuses: []core.ApprovalStatus{core.ApprovalPending}}, ids(later, soon)},
		} {
			p := c.p
			p.UserID = user // the approvals of this test only
			got, total, err := s.ListApprovals(ctx, p)
			if err != nil {
				t.Fatalf("%s: ListApprovals: %v", c.name, err)
			}
			assertIDs(t, c.name, c.want, approvalIDs(got))
			if total != len(c.want) {
				t.Fatalf("%s: total %d, want %d", c.name, total, len(c.want))
			}
		}
		// RunID alone selects the run's.
		got, total, err := s.ListApprovals(ctx, core.ListApprovalsParams{RunID: r.RunID, Statuses: []core.ApprovalStatus{core.ApprovalRejected}})
		if err != nil || total != 1 {
			t.Fatalf("ListApprovals by run: total %d, %v", total, err)
		}
		assertIDs(t, "by run", ids(rejected), approvalIDs(got))
		assertApproval(t, rejected, got[0])
		if got[0].RunStatus != core.RunPaused {
			t.Fatalf("listed approval: run status %q, want PAUSED", got[0].RunStatus)
		}
		_, _, err = s.ListApprovals(ctx, core.ListApprovalsParams{Statuses: []core.ApprovalStatus{"maybe"}})
		wantErr(t, err, core.ErrInvalid, "ListApprovals with an unknown status")
		// Another user's approvals are not this user's.
		got, total, err = s.ListApprovals(ctx, core.ListApprovalsParams{UserID: newID("user")})
		if err != nil || total != 0 || len(got) != 0 {
			t.Fatalf("ListApprovals of a user without any: %v, total %d, %v", approvalIDs(got), total, err)
		}
	})

	parallel(t, "PagingNewestFirst", func(t *testing.T) {
		s := newBackend(t).Runs
		ctx := t.Context()
		user := newID("user")
		sess := minimalSession()
		r := minimalRun(sess.SessionID)
		r.Status, r.UserID = core.RunPaused, user
		// Two share a created_at: the id breaks the tie (descending).
		a1, a2, a3 := minimalApproval(r, now), minimalApproval(r, now+1), minimalApproval(r, now+2)
		b1, b2 := minimalApproval(r, now+2), minimalApproval(r, now+3)
		a3.ID, b1.ID = "appr-tie-a-"+a3.ID, "appr-tie-b-"+b1.ID
		r.NewApprovals = []*core.Approval{a3, a1, b2, a2, b1}
		if _, err := s.CreateRunInSession(ctx, sess, r); err != nil {
			t.Fatalf("CreateRunInSession: %v", err)
		}
		order := approvalIDs([]*core.Approval{b2, b1, a3, a2, a1})
		for _, c := range []struct {
			limit, page int
			want        []string
		}{
			{0, 0, order},
			{0, 3, order}, // no limit: the page is ignored
			{2, 1, order[0:2]},
			{2, 0, order[0:2]}, // page < 1 is page 1
			{2, 2, order[2:4]},
			{2, 3, order[4:5]},
			{2, 4, nil}, // past the end: no rows, the total still counts
			{10, 1, order},
		} {
			got, total, err := s.ListApprovals(ctx, core.ListApprovalsParams{UserID: user, Limit: c.limit, Page: c.page})
			if err != nil {
				t.Fatalf("limit %d page %d: %v", c.limit, c.page, err)
			}
			assertIDs(t, fmt.Sprintf("limit %d page %d", c.limit, c.page), c.want, approvalIDs(got))
			if total != len(order) {
				t.Fatalf("limit %d page %d: total %d, want %d", c.limit, c.page, total, len(order))
			}
		}
	})
}

// testApprovalAtomicity: a run write and its approvals are stored both or
// neither.
func testApprovalAtomicity(t *testing.T, newBackend Factory) {
	now := baseTime()

	parallel(t, "UpdateRunWithDuplicateApprovalChangesNothing", func(t *testing.T) {
		s := newBackend(t).Runs
		ctx := t.Context()
		_, existing := pausedRunWithApprovals(t, s, newID("user"), 1)
		r := minimalRun(newID("sess"))
		r.Status = core.RunRunning
		mustCreateRun(t, s, r)
		next := cloneRun(r)
		next.Status, next.Paused, next.UpdatedAt = core.RunPaused, samplePaused(now), r.UpdatedAt+5
		fresh := pendingApproval(next)
		dup := pendingApproval(next)
		dup.ID = existing[0].ID
		next.NewApprovals = []*core.Approval{fresh, dup}
		err := s.UpdateRun(ctx, next, core.UpdateRunParams{IfStatus: []core.RunStatus{core.RunRunning}})
		wantErr(t, err, core.ErrConflict, "UpdateRun with a duplicate approval id")
		assertRun(t, r, mustGetRun(t, s, r.RunID)) // still RUNNING, as it was
		_, err = s.GetApproval(ctx, fresh.ID)
		wantErr(t, err, core.ErrNotFound, "the write's other approval")
		assertApproval(t, existing[0], mustGetApproval(t, s, existing[0].ID))

		// The same write with fresh approvals then succeeds.
		dup.ID = newID("appr")
		if err := s.UpdateRun(ctx, next, core.UpdateRunParams{IfStatus: []core.RunStatus{core.RunRunning}}); err != nil {
			t.Fatalf("UpdateRun retried with fresh ids: %v", err)
		}
		mustGetApproval(t, s, fresh.ID)
		mustGetApproval(t, s, dup.ID)
		if got := mustGetRun(t, s, r.RunID); got.Status != core.RunPaused {
			t.Fatalf("run %s after the retry, want PAUSED", got.Status)
		}
	})

	parallel(t, "UpdateRunFailedCompareAndSetInsertsNone", func(t *testing.T) {
		s := newBackend(t).Runs
		ctx := t.Context()
		r := minimalRun(newID("sess")) // PENDING
		mustCreateRun(t, s, r)
		next := cloneRun(r)
		next.Status = core.RunPaused
		a := pendingApproval(next)
		next.NewApprovals = []*core.Approval{a}
		err := s.UpdateRun(ctx, next, core.UpdateRunParams{IfStatus: []core.RunStatus{core.RunRunning}})
		wantErr(t, err, core.ErrConflict, "UpdateRun with a stale status")
		_, err = s.GetApproval(ctx, a.ID)
		wantErr(t, err, core.ErrNotFound, "an approval of a failed compare-and-set")
		assertRun(t, r, mustGetRun(t, s, r.RunID))

		missing := minimalRun(newID("sess"))
		missing.NewApprovals = []*core.Approval{minimalApproval(missing, now)}
		wantErr(t, s.UpdateRun(ctx, missing, core.UpdateRunParams{}), core.ErrNotFound, "UpdateRun of a missing run")
		_, err = s.GetApproval(ctx, missing.NewApprovals[0].ID)
		wantErr(t, err, core.ErrNotFound, "an approval of a missing run's update")
	})

	parallel(t, "CreateRunInSessionWithDuplicateApprovalCreatesNothing", func(t *testing.T) {
		s := newBackend(t).Runs
		ctx := t.Context()
		_, existing := pausedRunWithApprovals(t, s, newID("user"), 1)
		sess := minimalSession()
		r := minimalRun(sess.SessionID)
		r.Status = core.RunPaused
		fresh, dup := pendingApproval(r), pendingApproval(r)
		dup.ID = existing[0].ID
		r.NewApprovals = []*core.Approval{fresh, dup}
		_, err := s.CreateRunInSession(ctx, sess, r)
		wantErr(t, err, core.ErrConflict, "CreateRunInSession with a duplicate approval id")
		_, err = s.GetRun(ctx, r.RunID)
		wantErr(t, err, core.ErrNotFound, "the run of the refused write")
		_, err = s.GetSession(ctx, sess.SessionID)
		wantErr(t, err, core.ErrNotFound, "the session of the refused write")
		_, err = s.GetApproval(ctx, fresh.ID)
		wantErr(t, err, core.ErrNotFound, "the refused write's other approval")
		assertApproval(t, existing[0], mustGetApproval(t, s, existing[0].ID))
	})

	parallel(t, "DuplicateWithinOneWriteCreatesNothing", func(t *testing.T) {
		s := newBackend(t).Runs
		ctx := t.Context()
		r := minimalRun(newID("sess"))
		a := pendingApproval(r)
		b := *a
		r.NewApprovals = []*core.Approval{a, &b}
		wantErr(t, s.CreateRun(ctx, r), core.ErrConflict, "CreateRun with one approval id twice")
		_, err := s.GetRun(ctx, r.RunID)
		wantErr(t, err, core.ErrNotFound, "the run of the refused CreateRun")
		_, err = s.GetApproval(ctx, a.ID)
		wantErr(t, err, core.ErrNotFound, "the approval of the refused CreateRun")
	})

	parallel(t, "CreateRunWithKeyWithDuplicateApprovalCreatesNothing", func(t *testing.T) {
		s := newBackend(t).Runs
		ctx := t.Context()
		_, existing := pausedRunWithApprovals(t, s, newID("user"), 1)
		sess, r, k := keyedRun(newID("scope"), "k", now*1000)
		dup := pendingApproval(r)
		dup.ID = existing[0].ID
		r.NewApprovals = []*core.Approval{dup}
		_, _, err := s.CreateRunWithKey(ctx, core.CreateRunWithKeyParams{Key: k, Session: sess, Run: r})
		wantErr(t, err, core.ErrConflict, "CreateRunWithKey with a duplicate approval id")
		_, err = s.GetRun(ctx, r.RunID)
		wantErr(t, err, core.ErrNotFound, "the run of the refused keyed write")
		_, err = s.GetSession(ctx, sess.SessionID)
		wantErr(t, err, core.ErrNotFound, "the session of the refused keyed write")
		// The key was not kept either: the retry creates the run.
		dup.ID = newID("appr")
		taken, _, err := s.CreateRunWithKey(ctx, core.CreateRunWithKeyParams{Key: k, Session: sess, Run: r})
		if err != nil || taken != nil {
			t.Fatalf("CreateRunWithKey retried: taken %+v, %v", taken, err)
		}
		mustGetApproval(t, s, dup.ID)
	})

	parallel(t, "GroupedWritesFailAlone", func(t *testing.T) {
		// Concurrent run writes (grouped by the backends' group commit):
		// the one with a duplicate approval fails alone.
		s := newBackend(t).Runs
		ctx := t.Context()
		_, existing := pausedRunWithApprovals(t, s, newID("user"), 1)
		const n, dupAt = 12, 7 // every third write carries no approval
		runs := make([]*core.Run, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			sess := minimalSession()
			r := minimalRun(sess.SessionID)
			a := minimalApproval(r, now)
			if i == dupAt {
				a.ID = existing[0].ID
			}
			r.NewApprovals = []*core.Approval{a}
			if i%3 == 0 {
				r.NewApprovals = nil
			}
			runs[i] = r
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = s.CreateRunInSession(ctx, sess, r)
			}()
		}
		wg.Wait()
		for i, r := range runs {
			_, gerr := s.GetRun(ctx, r.RunID)
			if i == dupAt {
				wantErr(t, errs[i], core.ErrConflict, "the write with the duplicate approval")
				wantErr(t, gerr, core.ErrNotFound, "the run of the write with the duplicate approval")
				continue
			}
			if errs[i] != nil || gerr != nil {
				t.Fatalf("write %d: %v; GetRun: %v", i, errs[i], gerr)
			}
			for _, a := range r.NewApprovals {
				mustGetApproval(t, s, a.ID)
			}
		}
	})

	parallel(t, "DeleteSessionsDeletesTheirApprovals", func(t *testing.T) {
		s := newBackend(t).Runs
		ctx := t.Context()
		user := newID("user")
		gone, goneAs := pausedRunWithApprovals(t, s, user, 2)
		kept, keptAs := pausedRunWithApprovals(t, s, user, 1)
		n, err := s.DeleteSessions(ctx, []string{gone.SessionID})
		if err != nil || n != 1 {
			t.Fatalf("DeleteSessions: %d, %v", n, err)
		}
		for _, a := range goneAs {
			_, err := s.GetApproval(ctx, a.ID)
			wantErr(t, err, core.ErrNotFound, "an approval of a deleted session")
		}
		mustGetApproval(t, s, keptAs[0].ID)
		mustGetRun(t, s, kept.RunID)
		got, total, err := s.ListApprovals(ctx, core.ListApprovalsParams{UserID: user})
		if err != nil || total != 1 {
			t.Fatalf("ListApprovals after DeleteSessions: total %d, %v", total, err)
		}
		assertIDs(t, "left after DeleteSessions", approvalIDs(keptAs), approvalIDs(got))
	})
}
