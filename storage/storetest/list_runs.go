package storetest

import (
	"testing"

	"github.com/agentgate/agentgate/core"
)

// testListRuns covers ListRuns: oldest first, every filter, the limit. Each
// test filters by ids it owns (a fresh session, agent or user id).
func testListRuns(t *testing.T, newBackend Factory) {
	list := func(t *testing.T, s core.RunStore, p core.ListRunsParams) []*core.Run {
		t.Helper()
		got, err := s.ListRuns(t.Context(), p)
		if err != nil {
			t.Fatalf("ListRuns(%+v): %v", p, err)
		}
		return got
	}

	parallel(t, "OldestFirstWithFullRows", func(t *testing.T) {
		s := newBackend(t).Runs
		sess := mustCreateSession(t, s, minimalSession())
		// Inserted out of order; created_at decides.
		offsets := []int64{5, 1, 3, 2, 4}
		byOffset := map[int64]*core.Run{}
		for _, off := range offsets {
			r := fullRun(sess.SessionID)
			r.CreatedAt = baseTime() + off
			byOffset[off] = mustCreateRun(t, s, r)
		}
		mustCreateRun(t, s, fullRun(newID("other-session")))
		got := list(t, s, core.ListRunsParams{SessionID: sess.SessionID})
		if len(got) != len(offsets) {
			t.Fatalf("got %d runs, want %d", len(got), len(offsets))
		}
		for i, r := range got {
			assertRun(t, byOffset[int64(i+1)], r)
		}
	})

	parallel(t, "TiesInInsertionOrder", func(t *testing.T) {
		// Runs created within the same second come back in the order they
		// were created (a session's history depends on it).
		s := newBackend(t).Runs
		sess := newID("sess")
		var want []string
		for range 6 {
			want = append(want, mustCreateRun(t, s, minimalRun(sess)).RunID)
		}
		assertIDs(t, "same created_at", want, runIDs(list(t, s, core.ListRunsParams{SessionID: sess})))
	})

	parallel(t, "EachFilter", func(t *testing.T) {
		s := newBackend(t).Runs
		sess, agent, user := newID("sess"), newID("agent"), newID("user")
		mk := func(off int64, f func(*core.Run)) string {
			r := minimalRun(sess)
			r.CreatedAt = baseTime() + off
			f(r)
			return mustCreateRun(t, s, r).RunID
		}
		r0 := mk(0, func(r *core.Run) { r.AgentID, r.UserID, r.Status = agent, user, core.RunCompleted })
		r1 := mk(1, func(r *core.Run) { r.AgentID, r.Status = agent, core.RunError })
		r2 := mk(2, func(r *core.Run) { r.UserID, r.Status = user, core.RunCompleted })
		r3 := mk(3, func(r *core.Run) { r.AgentID, r.UserID, r.Status = agent, user, core.RunPaused })
		// Same agent and user, other session.
		other := minimalRun(newID("sess"))
		other.AgentID, other.UserID, other.Status = agent, user, core.RunCompleted
		other.CreatedAt = baseTime() + 10
		otherID := mustCreateRun(t, s, other).RunID

		for _, c := range []struct {
			name string
			p    core.ListRunsParams
			want []string
		}{
			{"session", core.ListRunsParams{SessionID: sess}, []string{r0, r1, r2, r3}},
			{"agent", core.ListRunsParams{AgentID: agent}, []string{r0, r1, r3, otherID}},
			{"user", core.ListRunsParams{UserID: user}, []string{r0, r2, r3, otherID}},
			{"session+status", core.ListRunsParams{SessionID: sess, Status: core.RunCompleted}, []string{r0, r2}},
			{"session+agent", core.ListRunsParams{SessionID: sess, AgentID: agent}, []string{r0, r1, r3}},
			{"session+user+status", core.ListRunsParams{SessionID: sess, UserID: user, Status: core.RunPaused}, []string{r3}},
			{"agent+user+status", core.ListRunsParams{AgentID: agent, UserID: user, Status: core.RunCompleted}, []string{r0, otherID}},
			{"no match", core.ListRunsParams{SessionID: sess, Status: core.RunRunning}, nil},
		} {
			assertIDs(t, c.name, c.want, runIDs(list(t, s, c.p)))
		}
	})

	parallel(t, "CreatedBoundsAreInclusive", func(t *testing.T) {
		s := newBackend(t).Runs
		sess := newID("sess")
		var ids []string
		for off := range int64(6) {
			r := minimalRun(sess)
			r.CreatedAt = baseTime() + off*10
			ids = append(ids, mustCreateRun(t, s, r).RunID)
		}
		b := baseTime()
		for _, c := range []struct {
			name          string
			after, before int64
			want          []string
		}{
			{"after", b + 20, 0, ids[2:]},
			{"after, between rows", b + 21, 0, ids[3:]},
			{"before", 0, b + 30, ids[:4]},
			{"before, between rows", 0, b + 29, ids[:3]},
			{"both", b + 10, b + 40, ids[1:5]},
			{"one instant", b + 30, b + 30, ids[3:4]},
			{"empty range", b + 31, b + 39, nil},
		} {
			got := list(t, s, core.ListRunsParams{SessionID: sess, CreatedAfter: c.after, CreatedBefore: c.before})
			assertIDs(t, c.name, c.want, runIDs(got))
		}
	})

	parallel(t, "LimitKeepsTheOldest", func(t *testing.T) {
		s := newBackend(t).Runs
		sess := newID("sess")
		var ids []string
		for off := range int64(5) {
			r := minimalRun(sess)
			r.CreatedAt = baseTime() + off
			ids = append(ids, mustCreateRun(t, s, r).RunID)
		}
		assertIDs(t, "limit 2", ids[:2], runIDs(list(t, s, core.ListRunsParams{SessionID: sess, Limit: 2})))
		assertIDs(t, "limit 0", ids, runIDs(list(t, s, core.ListRunsParams{SessionID: sess})))
		assertIDs(t, "limit -1", ids, runIDs(list(t, s, core.ListRunsParams{SessionID: sess, Limit: -1})))
		assertIDs(t, "limit 10", ids, runIDs(list(t, s, core.ListRunsParams{SessionID: sess, Limit: 10})))
		assertIDs(t, "limit 2 after", ids[2:4],
			runIDs(list(t, s, core.ListRunsParams{SessionID: sess, CreatedAfter: baseTime() + 2, Limit: 2})))
	})

	parallel(t, "ReflectsUpdates", func(t *testing.T) {
		s := newBackend(t).Runs
		sess := newID("sess")
		r := mustCreateRun(t, s, minimalRun(sess))
		next := cloneRun(r)
		next.Status = core.RunCompleted
		next.Messages = sampleMessages(baseTime())
		if err := s.UpdateRun(t.Context(), next, core.UpdateRunParams{}); err != nil {
			t.Fatal(err)
		}
		got := list(t, s, core.ListRunsParams{SessionID: sess, Status: core.RunCompleted})
		if len(got) != 1 {
			t.Fatalf("got %d runs, want 1", len(got))
		}
		assertRun(t, next, got[0])
		if got := list(t, s, core.ListRunsParams{SessionID: sess, Status: core.RunPending}); len(got) != 0 {
			t.Fatalf("stale status still listed: %v", runIDs(got))
		}
	})
}
