package storetest

import (
	"testing"

	"github.com/agentgate/agentgate/core"
)

// testCancelIntent covers SetCancelRequested: the stored intent to cancel,
// which lets a run that has not started yet never start, from any replica.
func testCancelIntent(t *testing.T, newBackend Factory) {
	parallel(t, "SetAndGet", func(t *testing.T) {
		s := newBackend(t).Runs
		r := mustCreateRun(t, s, fullRun(newID("sess")))
		got, err := s.SetCancelRequested(t.Context(), r.RunID)
		if err != nil {
			t.Fatalf("SetCancelRequested: %v", err)
		}
		want := cloneRun(r)
		want.CancelRequested = true
		// Only the flag changes: status, timestamps and the rest stay.
		assertRun(t, want, got)
		assertRun(t, want, mustGetRun(t, s, r.RunID))
	})

	parallel(t, "Idempotent", func(t *testing.T) {
		s := newBackend(t).Runs
		r := mustCreateRun(t, s, minimalRun(newID("sess")))
		for i := range 3 {
			got, err := s.SetCancelRequested(t.Context(), r.RunID)
			if err != nil {
				t.Fatalf("SetCancelRequested #%d: %v", i, err)
			}
			if !got.CancelRequested || got.Status != core.RunPending {
				t.Fatalf("SetCancelRequested #%d: cancel %v status %s", i, got.CancelRequested, got.Status)
			}
		}
	})

	parallel(t, "MissingNotFound", func(t *testing.T) {
		s := newBackend(t).Runs
		_, err := s.SetCancelRequested(t.Context(), newID("missing"))
		wantErr(t, err, core.ErrNotFound, "SetCancelRequested missing")
	})

	parallel(t, "FinalRunKeepsItsStatus", func(t *testing.T) {
		// The store records the intent in any status; deciding what a
		// cancel means for a finished run is the engine's business.
		s := newBackend(t).Runs
		r := minimalRun(newID("sess"))
		r.Status = core.RunCompleted
		mustCreateRun(t, s, r)
		got, err := s.SetCancelRequested(t.Context(), r.RunID)
		if err != nil {
			t.Fatalf("SetCancelRequested: %v", err)
		}
		if got.Status != core.RunCompleted || !got.CancelRequested {
			t.Fatalf("got status %s cancel %v", got.Status, got.CancelRequested)
		}
	})

	parallel(t, "CreateWithIntent", func(t *testing.T) {
		s := newBackend(t).Runs
		r := fullRun(newID("sess"))
		r.CancelRequested = true
		mustCreateRun(t, s, r)
		assertRun(t, r, mustGetRun(t, s, r.RunID))
	})

	parallel(t, "StickyAcrossUpdateRun", func(t *testing.T) {
		// An executor writes back its own copy of the run, read before a
		// cancel arrived (CancelRequested false). The intent must survive
		// it, while every other field is replaced as usual.
		s := newBackend(t).Runs
		r := mustCreateRun(t, s, minimalRun(newID("sess")))
		stale := cloneRun(r)
		if _, err := s.SetCancelRequested(t.Context(), r.RunID); err != nil {
			t.Fatalf("SetCancelRequested: %v", err)
		}
		stale.Status, stale.Content, stale.EventCount = core.RunRunning, "started", 1
		if err := s.UpdateRun(t.Context(), stale, core.UpdateRunParams{IfStatus: []core.RunStatus{core.RunPending}}); err != nil {
			t.Fatalf("UpdateRun: %v", err)
		}
		want := cloneRun(stale)
		want.CancelRequested = true
		assertRun(t, want, mustGetRun(t, s, r.RunID))

		// And an unconditional update does not clear it either.
		stale.Status = core.RunCancelled
		if err := s.UpdateRun(t.Context(), stale, core.UpdateRunParams{}); err != nil {
			t.Fatalf("UpdateRun: %v", err)
		}
		if got := mustGetRun(t, s, r.RunID); !got.CancelRequested || got.Status != core.RunCancelled {
			t.Fatalf("got cancel %v status %s", got.CancelRequested, got.Status)
		}
	})

	parallel(t, "FailedCompareAndSetKeepsIntent", func(t *testing.T) {
		s := newBackend(t).Runs
		r := mustCreateRun(t, s, minimalRun(newID("sess")))
		if _, err := s.SetCancelRequested(t.Context(), r.RunID); err != nil {
			t.Fatalf("SetCancelRequested: %v", err)
		}
		next := cloneRun(r)
		next.Status = core.RunCompleted
		err := s.UpdateRun(t.Context(), next, core.UpdateRunParams{IfStatus: []core.RunStatus{core.RunPaused}})
		wantErr(t, err, core.ErrConflict, "UpdateRun from the wrong status")
		got := mustGetRun(t, s, r.RunID)
		if !got.CancelRequested || got.Status != core.RunPending {
			t.Fatalf("got cancel %v status %s", got.CancelRequested, got.Status)
		}
	})
}
