package storetest

import (
	"errors"
	"testing"

	"github.com/agentgate/agentgate/core"
)

// testCompareAndSet covers UpdateRunParams.IfStatus: the update happens only
// if the stored status is one of them, and a miss changes nothing.
func testCompareAndSet(t *testing.T, newBackend Factory) {
	ifStatus := func(ss ...core.RunStatus) core.UpdateRunParams { return core.UpdateRunParams{IfStatus: ss} }

	parallel(t, "MatchingStatusUpdates", func(t *testing.T) {
		s := newBackend(t).Runs
		r := mustCreateRun(t, s, minimalRun(newID("sess")))
		next := cloneRun(r)
		next.Status, next.UpdatedAt = core.RunRunning, r.UpdatedAt+1
		if err := s.UpdateRun(t.Context(), next, ifStatus(core.RunPending)); err != nil {
			t.Fatalf("UpdateRun: %v", err)
		}
		assertRun(t, next, mustGetRun(t, s, r.RunID))
	})

	parallel(t, "AnyOfSeveralStatuses", func(t *testing.T) {
		s := newBackend(t).Runs
		r := mustCreateRun(t, s, minimalRun(newID("sess")))
		next := cloneRun(r)
		next.Status = core.RunError
		next.Error, next.ErrorType = "boom", "internal_error"
		if err := s.UpdateRun(t.Context(), next, ifStatus(core.RunRunning, core.RunPending, core.RunPaused)); err != nil {
			t.Fatalf("UpdateRun: %v", err)
		}
		assertRun(t, next, mustGetRun(t, s, r.RunID))
	})

	parallel(t, "MismatchIsConflictAndChangesNothing", func(t *testing.T) {
		s := newBackend(t).Runs
		r := mustCreateRun(t, s, fullRun(newID("sess"))) // PAUSED
		next := cloneRun(r)
		next.Status, next.Content, next.Paused, next.EventCount = core.RunCompleted, "late", nil, 99
		err := s.UpdateRun(t.Context(), next, ifStatus(core.RunPending, core.RunRunning))
		wantErr(t, err, core.ErrConflict, "UpdateRun with a stale status")
		if errors.Is(err, core.ErrNotFound) {
			t.Fatalf("a conflict must not also be not-found: %v", err)
		}
		assertRun(t, r, mustGetRun(t, s, r.RunID))
	})

	parallel(t, "MissingRunIsNotFound", func(t *testing.T) {
		s := newBackend(t).Runs
		r := minimalRun(newID("sess"))
		err := s.UpdateRun(t.Context(), r, ifStatus(core.RunPending))
		wantErr(t, err, core.ErrNotFound, "UpdateRun of a missing run with IfStatus")
		if errors.Is(err, core.ErrConflict) {
			t.Fatalf("not-found must not also be a conflict: %v", err)
		}
	})

	parallel(t, "EmptyIfStatusIsUnconditional", func(t *testing.T) {
		s := newBackend(t).Runs
		r := minimalRun(newID("sess"))
		r.Status = core.RunCompleted
		mustCreateRun(t, s, r)
		next := cloneRun(r)
		next.Status, next.Content = core.RunError, "overwritten"
		if err := s.UpdateRun(t.Context(), next, core.UpdateRunParams{IfStatus: []core.RunStatus{}}); err != nil {
			t.Fatalf("UpdateRun: %v", err)
		}
		assertRun(t, next, mustGetRun(t, s, r.RunID))
	})

	parallel(t, "SameStatusMatches", func(t *testing.T) {
		s := newBackend(t).Runs
		r := minimalRun(newID("sess"))
		r.Status = core.RunRunning
		mustCreateRun(t, s, r)
		next := cloneRun(r)
		next.EventCount = 10
		if err := s.UpdateRun(t.Context(), next, ifStatus(core.RunRunning)); err != nil {
			t.Fatalf("UpdateRun RUNNING->RUNNING: %v", err)
		}
		assertRun(t, next, mustGetRun(t, s, r.RunID))
	})

	parallel(t, "Lifecycle", func(t *testing.T) {
		s := newBackend(t).Runs
		r := mustCreateRun(t, s, minimalRun(newID("sess")))
		active := []core.RunStatus{core.RunPending, core.RunRunning}
		steps := []struct {
			to   core.RunStatus
			from []core.RunStatus
			ok   bool
		}{
			{core.RunRunning, []core.RunStatus{core.RunPending}, true},
			{core.RunRunning, []core.RunStatus{core.RunPending}, false}, // a second starter loses
			{core.RunPaused, active, true},
			{core.RunCompleted, active, false},                        // a stale executor cannot finish a paused run
			{core.RunRunning, []core.RunStatus{core.RunPaused}, true}, // continue
			{core.RunCompleted, active, true},
			{core.RunCancelled, []core.RunStatus{core.RunPaused}, false}, // a late cancel of a paused run
			{core.RunError, active, false},
		}
		cur := cloneRun(r)
		for i, st := range steps {
			next := cloneRun(cur)
			next.Status = st.to
			next.EventCount = int64(i + 1)
			err := s.UpdateRun(t.Context(), next, ifStatus(st.from...))
			switch {
			case st.ok && err != nil:
				t.Fatalf("step %d %v -> %s: %v", i, st.from, st.to, err)
			case !st.ok && !errors.Is(err, core.ErrConflict):
				t.Fatalf("step %d %v -> %s from %s: got %v, want a conflict", i, st.from, st.to, cur.Status, err)
			case st.ok:
				cur = next
			}
			assertRun(t, cur, mustGetRun(t, s, r.RunID))
		}
		if cur.Status != core.RunCompleted {
			t.Fatalf("final status %s", cur.Status)
		}
	})
}
