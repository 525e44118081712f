package storetest

import (
	"testing"

	"github.com/agentgate/agentgate/core"
)

func testSessions(t *testing.T, newBackend Factory) {
	parallel(t, "CreateGetRoundTrip", func(t *testing.T) {
		s := newBackend(t).Runs
		want := mustCreateSession(t, s, fullSession(newID("user")))
		assertSession(t, want, mustGetSession(t, s, want.SessionID))
	})

	parallel(t, "MinimalRoundTrip", func(t *testing.T) {
		s := newBackend(t).Runs
		want := mustCreateSession(t, s, minimalSession())
		got := mustGetSession(t, s, want.SessionID)
		assertSession(t, want, got)
		if len(got.SessionState) != 0 || len(got.Metadata) != 0 {
			t.Fatalf("want no state or metadata, got %v / %v", got.SessionState, got.Metadata)
		}
	})

	parallel(t, "EverySessionType", func(t *testing.T) {
		s := newBackend(t).Runs
		for _, typ := range []core.SessionType{core.SessionAgent, core.SessionTeam, core.SessionWorkflow} {
			want := fullSession(newID("user"))
			want.SessionType = typ
			mustCreateSession(t, s, want)
			assertSession(t, want, mustGetSession(t, s, want.SessionID))
		}
	})

	parallel(t, "CreateDuplicateConflict", func(t *testing.T) {
		s := newBackend(t).Runs
		orig := mustCreateSession(t, s, fullSession(newID("user")))
		dup := minimalSession()
		dup.SessionID = orig.SessionID
		dup.SessionName = "impostor"
		wantErr(t, s.CreateSession(t.Context(), dup), core.ErrConflict, "CreateSession duplicate")
		assertSession(t, orig, mustGetSession(t, s, orig.SessionID))
	})

	parallel(t, "CreateEmptyIDInvalid", func(t *testing.T) {
		s := newBackend(t).Runs
		sess := minimalSession()
		sess.SessionID = ""
		wantErr(t, s.CreateSession(t.Context(), sess), core.ErrInvalid, "CreateSession without id")
	})

	parallel(t, "GetMissingNotFound", func(t *testing.T) {
		s := newBackend(t).Runs
		_, err := s.GetSession(t.Context(), newID("missing"))
		wantErr(t, err, core.ErrNotFound, "GetSession missing")
	})

	parallel(t, "UpdateEachField", func(t *testing.T) {
		s := newBackend(t).Runs
		want := mustCreateSession(t, s, fullSession(newID("user")))
		steps := []struct {
			name   string
			params core.UpdateSessionParams
			apply  func(*core.Session)
		}{
			{"name", core.UpdateSessionParams{SessionName: ptr("Renamed ✓")},
				func(x *core.Session) { x.SessionName = "Renamed ✓" }},
			{"state", core.UpdateSessionParams{SessionState: map[string]any{"k": "v", "n": float64(2)}},
				func(x *core.Session) { x.SessionState = map[string]any{"k": "v", "n": float64(2)} }},
			{"metadata", core.UpdateSessionParams{Metadata: map[string]any{"m": []any{true}}},
				func(x *core.Session) { x.Metadata = map[string]any{"m": []any{true}} }},
			{"summary", core.UpdateSessionParams{Summary: ptr("new summary")},
				func(x *core.Session) { x.Summary = "new summary" }},
			{"updated_at", core.UpdateSessionParams{UpdatedAt: want.UpdatedAt + 1000},
				func(x *core.Session) { x.UpdatedAt += 1000 }},
			{"empty name and summary", core.UpdateSessionParams{SessionName: ptr(""), Summary: ptr("")},
				func(x *core.Session) { x.SessionName, x.Summary = "", "" }},
		}
		for _, st := range steps {
			p := st.params
			p.SessionID = want.SessionID
			st.apply(want)
			got, err := s.UpdateSession(t.Context(), p)
			if err != nil {
				t.Fatalf("UpdateSession(%s): %v", st.name, err)
			}
			assertSession(t, want, got)
			assertSession(t, want, mustGetSession(t, s, want.SessionID))
		}
	})

	parallel(t, "UpdateReplacesMaps", func(t *testing.T) {
		s := newBackend(t).Runs
		sess := mustCreateSession(t, s, fullSession(newID("user")))
		got, err := s.UpdateSession(t.Context(), core.UpdateSessionParams{
			SessionID:    sess.SessionID,
			SessionState: map[string]any{},
			Metadata:     map[string]any{"only": "this"},
		})
		if err != nil {
			t.Fatalf("UpdateSession: %v", err)
		}
		if len(got.SessionState) != 0 {
			t.Fatalf("an empty state map must replace the state, got %v", got.SessionState)
		}
		if len(got.Metadata) != 1 || got.Metadata["only"] != "this" {
			t.Fatalf("metadata must be replaced, not merged: got %v", got.Metadata)
		}
		got = mustGetSession(t, s, sess.SessionID)
		if len(got.SessionState) != 0 || len(got.Metadata) != 1 {
			t.Fatalf("stored: state %v, metadata %v", got.SessionState, got.Metadata)
		}
	})

	parallel(t, "UpdateNothingReturnsCurrent", func(t *testing.T) {
		s := newBackend(t).Runs
		want := mustCreateSession(t, s, fullSession(newID("user")))
		got, err := s.UpdateSession(t.Context(), core.UpdateSessionParams{SessionID: want.SessionID})
		if err != nil {
			t.Fatalf("UpdateSession: %v", err)
		}
		assertSession(t, want, got)
	})

	parallel(t, "UpdateZeroUpdatedAtKeepsIt", func(t *testing.T) {
		s := newBackend(t).Runs
		want := mustCreateSession(t, s, fullSession(newID("user")))
		got, err := s.UpdateSession(t.Context(), core.UpdateSessionParams{
			SessionID: want.SessionID, Summary: ptr("s"),
		})
		if err != nil {
			t.Fatalf("UpdateSession: %v", err)
		}
		if got.UpdatedAt != want.UpdatedAt || got.CreatedAt != want.CreatedAt {
			t.Fatalf("timestamps changed: got created %d updated %d, want %d %d",
				got.CreatedAt, got.UpdatedAt, want.CreatedAt, want.UpdatedAt)
		}
	})

	parallel(t, "UpdateMissingNotFound", func(t *testing.T) {
		s := newBackend(t).Runs
		_, err := s.UpdateSession(t.Context(), core.UpdateSessionParams{
			SessionID: newID("missing"), SessionName: ptr("x"), UpdatedAt: baseTime(),
		})
		wantErr(t, err, core.ErrNotFound, "UpdateSession missing")
		_, err = s.UpdateSession(t.Context(), core.UpdateSessionParams{SessionID: newID("missing")})
		wantErr(t, err, core.ErrNotFound, "UpdateSession missing, no fields")
	})

	parallel(t, "DeleteRemovesSessionsAndTheirRuns", func(t *testing.T) {
		s := newBackend(t).Runs
		gone1 := mustCreateSession(t, s, fullSession(newID("user")))
		gone2 := mustCreateSession(t, s, minimalSession())
		kept := mustCreateSession(t, s, minimalSession())
		var goneRuns []*core.Run
		for _, sess := range []*core.Session{gone1, gone1, gone2} {
			goneRuns = append(goneRuns, mustCreateRun(t, s, fullRun(sess.SessionID)))
		}
		keptRun := mustCreateRun(t, s, fullRun(kept.SessionID))

		n, err := s.DeleteSessions(t.Context(), []string{gone1.SessionID, newID("missing"), gone2.SessionID})
		if err != nil {
			t.Fatalf("DeleteSessions: %v", err)
		}
		if n != 2 {
			t.Fatalf("DeleteSessions: deleted %d, want 2", n)
		}
		for _, id := range []string{gone1.SessionID, gone2.SessionID} {
			_, err := s.GetSession(t.Context(), id)
			wantErr(t, err, core.ErrNotFound, "GetSession after delete")
		}
		for _, r := range goneRuns {
			_, err := s.GetRun(t.Context(), r.RunID)
			wantErr(t, err, core.ErrNotFound, "GetRun of a deleted session's run")
		}
		runs, err := s.ListRuns(t.Context(), core.ListRunsParams{SessionID: gone1.SessionID})
		if err != nil || len(runs) != 0 {
			t.Fatalf("ListRuns of a deleted session: %d runs, err %v", len(runs), err)
		}
		assertSession(t, kept, mustGetSession(t, s, kept.SessionID))
		assertRun(t, keptRun, mustGetRun(t, s, keptRun.RunID))

		n, err = s.DeleteSessions(t.Context(), []string{gone1.SessionID})
		if err != nil || n != 0 {
			t.Fatalf("DeleteSessions again: %d, %v; want 0, nil", n, err)
		}
	})

	parallel(t, "DeleteNothing", func(t *testing.T) {
		s := newBackend(t).Runs
		for _, ids := range [][]string{nil, {}, {newID("missing")}} {
			n, err := s.DeleteSessions(t.Context(), ids)
			if err != nil || n != 0 {
				t.Fatalf("DeleteSessions(%v): %d, %v; want 0, nil", ids, n, err)
			}
		}
	})

	parallel(t, "DeleteManyIDs", func(t *testing.T) {
		// More ids than fit in one statement on some backends; only a
		// few exist, spread over the list, one of them twice.
		s := newBackend(t).Runs
		ids := make([]string, 1200)
		for i := range ids {
			ids[i] = newID("missing")
		}
		var real []string
		for _, pos := range []int{0, 499, 500, 1001, 1199} {
			sess := mustCreateSession(t, s, minimalSession())
			mustCreateRun(t, s, minimalRun(sess.SessionID))
			ids[pos] = sess.SessionID
			real = append(real, sess.SessionID)
		}
		ids = append(ids, real[0])
		n, err := s.DeleteSessions(t.Context(), ids)
		if err != nil || n != len(real) {
			t.Fatalf("DeleteSessions: %d, %v; want %d, nil", n, err, len(real))
		}
		for _, id := range real {
			_, err := s.GetSession(t.Context(), id)
			wantErr(t, err, core.ErrNotFound, "GetSession after delete")
			runs, err := s.ListRuns(t.Context(), core.ListRunsParams{SessionID: id})
			if err != nil || len(runs) != 0 {
				t.Fatalf("ListRuns after delete: %d runs, %v", len(runs), err)
			}
		}
	})
}
