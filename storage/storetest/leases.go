package storetest

import (
	"slices"
	"testing"

	"github.com/agentgate/agentgate/core"
)

// Leases: the engine's executor holds a lease on a RUNNING run and renews
// it; a reaper lists runs whose lease ended and takes them over with a
// compare-and-set on the lease.
func testLeases(t *testing.T, newBackend Factory) {
	const now = int64(1_900_000_000_000) // Unix ms, far in the future of other tests' leases

	leased := func(t *testing.T, s core.RunStore, owner string, until int64) *core.Run {
		t.Helper()
		r := minimalRun(newID("session"))
		r.Status, r.LeaseOwner, r.LeaseUntil = core.RunRunning, owner, until
		return mustCreateRun(t, s, r)
	}

	parallel(t, "RoundTrip", func(t *testing.T) {
		s := newBackend(t).Runs
		r := leased(t, s, "engine-a", now+5000)
		assertRun(t, r, mustGetRun(t, s, r.RunID))
		r.LeaseOwner, r.LeaseUntil = "", 0
		if err := s.UpdateRun(t.Context(), r, core.UpdateRunParams{}); err != nil {
			t.Fatal(err)
		}
		assertRun(t, r, mustGetRun(t, s, r.RunID))
	})

	parallel(t, "RenewByOwner", func(t *testing.T) {
		s := newBackend(t).Runs
		r := leased(t, s, "engine-a", now)
		if err := s.RenewLease(t.Context(), core.LeaseParams{RunID: r.RunID, Owner: "engine-a", Until: now + 9000}); err != nil {
			t.Fatalf("RenewLease by the owner: %v", err)
		}
		if got := mustGetRun(t, s, r.RunID); got.LeaseUntil != now+9000 || got.LeaseOwner != "engine-a" {
			t.Fatalf("lease after renewal: %q %d", got.LeaseOwner, got.LeaseUntil)
		}
		err := s.RenewLease(t.Context(), core.LeaseParams{RunID: r.RunID, Owner: "engine-b", Until: now + 20000})
		wantErr(t, err, core.ErrConflict, "RenewLease by another owner")
		if got := mustGetRun(t, s, r.RunID); got.LeaseUntil != now+9000 {
			t.Fatalf("a refused renewal changed the lease to %d", got.LeaseUntil)
		}
		err = s.RenewLease(t.Context(), core.LeaseParams{RunID: newID("run"), Owner: "engine-a", Until: now})
		wantErr(t, err, core.ErrNotFound, "RenewLease of an unknown run")
	})

	parallel(t, "RenewNotRunning", func(t *testing.T) {
		s := newBackend(t).Runs
		r := leased(t, s, "engine-a", now)
		r.Status = core.RunCompleted
		if err := s.UpdateRun(t.Context(), r, core.UpdateRunParams{}); err != nil {
			t.Fatal(err)
		}
		err := s.RenewLease(t.Context(), core.LeaseParams{RunID: r.RunID, Owner: "engine-a", Until: now + 1})
		wantErr(t, err, core.ErrConflict, "RenewLease of a completed run")
	})

	parallel(t, "ListExpired", func(t *testing.T) {
		s := newBackend(t).Runs
		expired1 := leased(t, s, "a", now-2000)
		expired2 := leased(t, s, "b", now-1000)
		live := leased(t, s, "c", now+1000)
		noLease := leased(t, s, "", 0)
		waiting := leased(t, s, "", now-1500) // queued, never started in time
		waiting.Status = core.RunPending
		if err := s.UpdateRun(t.Context(), waiting, core.UpdateRunParams{}); err != nil {
			t.Fatal(err)
		}
		done := leased(t, s, "d", now-3000)
		done.Status = core.RunCompleted
		if err := s.UpdateRun(t.Context(), done, core.UpdateRunParams{}); err != nil {
			t.Fatal(err)
		}
		got, err := s.ListExpiredLeases(t.Context(), now, 1000)
		if err != nil {
			t.Fatal(err)
		}
		ids := runIDs(got)
		i1, iw, i2 := slices.Index(ids, expired1.RunID), slices.Index(ids, waiting.RunID), slices.Index(ids, expired2.RunID)
		if i1 < 0 || iw < 0 || i2 < 0 || i1 > iw || iw > i2 {
			t.Fatalf("expired runs missing or out of lease order: %v (want %s, %s, %s)", ids, expired1.RunID, waiting.RunID, expired2.RunID)
		}
		for _, r := range []*core.Run{live, noLease, done} {
			if slices.Contains(ids, r.RunID) {
				t.Fatalf("run %s (status %s, lease %d) listed as expired", r.RunID, r.Status, r.LeaseUntil)
			}
		}
		if got, err := s.ListExpiredLeases(t.Context(), now, 1); err != nil || len(got) != 1 {
			t.Fatalf("limit 1 gave %d runs, %v", len(got), err)
		}
	})

	parallel(t, "TakeOverCompareAndSet", func(t *testing.T) {
		s := newBackend(t).Runs
		r := leased(t, s, "dead", now-1000)
		// A reaper that saw the lease expired ends the run...
		reaped := cloneRun(r)
		reaped.Status, reaped.ErrorType, reaped.LeaseOwner, reaped.LeaseUntil = core.RunError, "worker_lost", "", 0
		// ...but not if the owner renewed meanwhile.
		if err := s.RenewLease(t.Context(), core.LeaseParams{RunID: r.RunID, Owner: "dead", Until: now + 5000}); err != nil {
			t.Fatal(err)
		}
		err := s.UpdateRun(t.Context(), reaped, core.UpdateRunParams{IfStatus: []core.RunStatus{core.RunRunning}, IfLeaseExpiredBefore: now})
		wantErr(t, err, core.ErrConflict, "taking over a renewed lease")
		if got := mustGetRun(t, s, r.RunID); got.Status != core.RunRunning {
			t.Fatalf("a refused take-over changed the run to %s", got.Status)
		}
		if err := s.UpdateRun(t.Context(), reaped, core.UpdateRunParams{IfStatus: []core.RunStatus{core.RunRunning}, IfLeaseExpiredBefore: now + 6000}); err != nil {
			t.Fatalf("taking over an expired lease: %v", err)
		}
		assertRun(t, reaped, mustGetRun(t, s, r.RunID))
	})

	parallel(t, "FinishOnlyByOwner", func(t *testing.T) {
		s := newBackend(t).Runs
		r := leased(t, s, "engine-b", now+5000) // engine-b took the run over
		stale := cloneRun(r)
		stale.Status, stale.LeaseOwner, stale.LeaseUntil = core.RunCompleted, "", 0
		err := s.UpdateRun(t.Context(), stale, core.UpdateRunParams{IfStatus: []core.RunStatus{core.RunRunning}, IfLeaseOwner: "engine-a"})
		wantErr(t, err, core.ErrConflict, "finishing a run another engine holds")
		if err := s.UpdateRun(t.Context(), stale, core.UpdateRunParams{IfStatus: []core.RunStatus{core.RunRunning}, IfLeaseOwner: "engine-b"}); err != nil {
			t.Fatalf("finishing by the owner: %v", err)
		}
		assertRun(t, stale, mustGetRun(t, s, r.RunID))
	})
}
