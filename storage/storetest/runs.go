package storetest

import (
	"encoding/json"
	"testing"

	"github.com/agentgate/agentgate/core"
)

func testRuns(t *testing.T, newBackend Factory) {
	parallel(t, "CreateGetRoundTrip", func(t *testing.T) {
		s := newBackend(t).Runs
		sess := mustCreateSession(t, s, minimalSession())
		want := mustCreateRun(t, s, fullRun(sess.SessionID))
		got := mustGetRun(t, s, want.RunID)
		assertRun(t, want, got)

		// Spot checks of values that a lossy encoding would break.
		if got.Messages[2].ToolCalls[1].ID != "call_2" {
			t.Fatalf("tool calls: %+v", got.Messages[2].ToolCalls)
		}
		var args map[string]any
		if err := json.Unmarshal(got.Messages[2].ToolCalls[0].Arguments, &args); err != nil || args["city"] != "Paris" {
			t.Fatalf("tool call arguments %s: %v", got.Messages[2].ToolCalls[0].Arguments, err)
		}
		if c := got.Tools[0].Confirmed; c == nil || !*c {
			t.Fatalf("Tools[0].Confirmed = %v, want true", c)
		}
		if c := got.Tools[1].Confirmed; c == nil || *c {
			t.Fatalf("Tools[1].Confirmed = %v, want false (not nil)", c)
		}
		if got.Tools[2].Confirmed != nil {
			t.Fatalf("Tools[2].Confirmed = %v, want nil", *got.Tools[2].Confirmed)
		}
		if got.Requirements[1].Confirmation == nil || *got.Requirements[1].Confirmation {
			t.Fatalf("Requirements[1].Confirmation = %v, want false", got.Requirements[1].Confirmation)
		}
		if got.Metrics == nil || *got.Metrics != *want.Metrics {
			t.Fatalf("Metrics = %+v, want %+v", got.Metrics, want.Metrics)
		}
		if got.Tools[0].Metrics == nil || *got.Tools[0].Metrics != *want.Tools[0].Metrics {
			t.Fatalf("tool Metrics = %+v, want %+v", got.Tools[0].Metrics, want.Tools[0].Metrics)
		}
	})

	parallel(t, "CreateRunInSession", func(t *testing.T) {
		s := newBackend(t).Runs
		sess := fullSession(newID("user"))
		r1 := fullRun(sess.SessionID)
		created, err := s.CreateRunInSession(t.Context(), sess, r1)
		if err != nil || !created {
			t.Fatalf("first CreateRunInSession = %v, %v; want a new session", created, err)
		}
		assertSession(t, sess, mustGetSession(t, s, sess.SessionID))
		assertRun(t, r1, mustGetRun(t, s, r1.RunID))

		// The session exists now: it is left as it is, the run is added.
		other := fullSession(newID("other-user"))
		other.SessionID = sess.SessionID
		r2 := minimalRun(sess.SessionID)
		created, err = s.CreateRunInSession(t.Context(), other, r2)
		if err != nil || created {
			t.Fatalf("second CreateRunInSession = %v, %v; want the existing session", created, err)
		}
		assertSession(t, sess, mustGetSession(t, s, sess.SessionID))
		assertRun(t, r2, mustGetRun(t, s, r2.RunID))

		// A duplicate run id creates nothing, not even the new session.
		fresh := minimalSession()
		dup := minimalRun(fresh.SessionID)
		dup.RunID = r1.RunID
		_, err = s.CreateRunInSession(t.Context(), fresh, dup)
		wantErr(t, err, core.ErrConflict, "CreateRunInSession with a duplicate run id")
		_, err = s.GetSession(t.Context(), fresh.SessionID)
		wantErr(t, err, core.ErrNotFound, "the session of a refused CreateRunInSession")

		// The run must name the session.
		_, err = s.CreateRunInSession(t.Context(), minimalSession(), minimalRun(newID("elsewhere")))
		wantErr(t, err, core.ErrInvalid, "CreateRunInSession with a run of another session")
	})

	parallel(t, "MinimalRoundTrip", func(t *testing.T) {
		s := newBackend(t).Runs
		sess := mustCreateSession(t, s, minimalSession())
		want := mustCreateRun(t, s, minimalRun(sess.SessionID))
		got := mustGetRun(t, s, want.RunID)
		assertRun(t, want, got)
		if got.Paused != nil || got.Metrics != nil {
			t.Fatalf("want nil Paused and Metrics, got %+v, %+v", got.Paused, got.Metrics)
		}
		if len(got.Messages)+len(got.Tools)+len(got.Requirements) != 0 {
			t.Fatalf("want no messages, tools or requirements, got %+v", got)
		}
		if got.CancelRequested || got.Background {
			t.Fatalf("flags: cancel %v background %v", got.CancelRequested, got.Background)
		}
	})

	parallel(t, "EveryStatusRoundTrips", func(t *testing.T) {
		s := newBackend(t).Runs
		sess := mustCreateSession(t, s, minimalSession())
		for _, st := range []core.RunStatus{core.RunPending, core.RunRunning, core.RunPaused,
			core.RunCompleted, core.RunCancelled, core.RunError} {
			r := minimalRun(sess.SessionID)
			r.Status = st
			mustCreateRun(t, s, r)
			if got := mustGetRun(t, s, r.RunID); got.Status != st {
				t.Fatalf("status %s came back as %s", st, got.Status)
			}
		}
	})

	parallel(t, "CreateWithoutStoredSession", func(t *testing.T) {
		// Runs refer to their session by id only; the store does not
		// require the session row to exist.
		s := newBackend(t).Runs
		want := mustCreateRun(t, s, fullRun(newID("no-such-session")))
		assertRun(t, want, mustGetRun(t, s, want.RunID))
	})

	parallel(t, "CreateDuplicateConflict", func(t *testing.T) {
		s := newBackend(t).Runs
		sess := mustCreateSession(t, s, minimalSession())
		orig := mustCreateRun(t, s, fullRun(sess.SessionID))
		dup := minimalRun(sess.SessionID)
		dup.RunID = orig.RunID
		wantErr(t, s.CreateRun(t.Context(), dup), core.ErrConflict, "CreateRun duplicate")
		assertRun(t, orig, mustGetRun(t, s, orig.RunID))
	})

	parallel(t, "CreateEmptyIDInvalid", func(t *testing.T) {
		s := newBackend(t).Runs
		r := minimalRun(newID("sess"))
		r.RunID = ""
		wantErr(t, s.CreateRun(t.Context(), r), core.ErrInvalid, "CreateRun without id")
	})

	parallel(t, "GetMissingNotFound", func(t *testing.T) {
		s := newBackend(t).Runs
		_, err := s.GetRun(t.Context(), newID("missing"))
		wantErr(t, err, core.ErrNotFound, "GetRun missing")
	})

	parallel(t, "UpdateReplacesEveryField", func(t *testing.T) {
		s := newBackend(t).Runs
		sess := mustCreateSession(t, s, minimalSession())
		orig := mustCreateRun(t, s, minimalRun(sess.SessionID))

		// Minimal -> full: every field is written.
		full := fullRun(newID("other-session"))
		full.RunID = orig.RunID
		full.CreatedAt = orig.CreatedAt + 1
		if err := s.UpdateRun(t.Context(), full, core.UpdateRunParams{}); err != nil {
			t.Fatalf("UpdateRun to full: %v", err)
		}
		assertRun(t, full, mustGetRun(t, s, orig.RunID))

		// Full -> minimal: every optional field is cleared, Paused included.
		minimal := minimalRun(sess.SessionID)
		minimal.RunID = orig.RunID
		minimal.Status = core.RunCompleted
		if err := s.UpdateRun(t.Context(), minimal, core.UpdateRunParams{}); err != nil {
			t.Fatalf("UpdateRun to minimal: %v", err)
		}
		got := mustGetRun(t, s, orig.RunID)
		assertRun(t, minimal, got)
		if got.Paused != nil || got.Metrics != nil || len(got.Messages) != 0 {
			t.Fatalf("optional fields not cleared: %+v", got)
		}
	})

	parallel(t, "UpdateDoesNotTouchOtherRuns", func(t *testing.T) {
		s := newBackend(t).Runs
		sess := mustCreateSession(t, s, minimalSession())
		a := mustCreateRun(t, s, fullRun(sess.SessionID))
		b := mustCreateRun(t, s, fullRun(sess.SessionID))
		a2 := cloneRun(a)
		a2.Status, a2.Content, a2.Paused = core.RunCompleted, "done", nil
		if err := s.UpdateRun(t.Context(), a2, core.UpdateRunParams{}); err != nil {
			t.Fatalf("UpdateRun: %v", err)
		}
		assertRun(t, a2, mustGetRun(t, s, a.RunID))
		assertRun(t, b, mustGetRun(t, s, b.RunID))
	})

	parallel(t, "UpdateMissingNotFound", func(t *testing.T) {
		s := newBackend(t).Runs
		r := minimalRun(newID("sess"))
		wantErr(t, s.UpdateRun(t.Context(), r, core.UpdateRunParams{}), core.ErrNotFound, "UpdateRun missing")
		if _, err := s.GetRun(t.Context(), r.RunID); err == nil {
			t.Fatal("UpdateRun of a missing run created it")
		}
	})

	parallel(t, "CallerCopyIsNotAliased", func(t *testing.T) {
		// Changing the caller's run after CreateRun must not change what
		// is stored, and two GetRuns must not share state.
		s := newBackend(t).Runs
		r := fullRun(newID("sess"))
		want := cloneRun(r)
		mustCreateRun(t, s, r)
		r.Messages[0].Content = "mutated"
		r.Paused.Pending[0].ToolName = "mutated"
		got1 := mustGetRun(t, s, want.RunID)
		assertRun(t, want, got1)
		got1.Paused.Turns = 99
		got1.Messages[0].Content = "mutated too"
		assertRun(t, want, mustGetRun(t, s, want.RunID))
	})
}
