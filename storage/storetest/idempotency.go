package storetest

import (
	"testing"

	"github.com/agentgate/agentgate/core"
)

// keyedRun returns a new session, a run in it and a key naming the run,
// in a scope of its own.
func keyedRun(scope, key string, createdAt int64) (*core.Session, *core.Run, core.IdempotencyKey) {
	sess := minimalSession()
	r := minimalRun(sess.SessionID)
	return sess, r, core.IdempotencyKey{Scope: scope, Key: key, Fingerprint: newID("fp"), RunID: r.RunID, CreatedAt: createdAt}
}

func testIdempotencyKeys(t *testing.T, newBackend Factory) {
	now := baseTime() * 1000

	parallel(t, "CreateThenTaken", func(t *testing.T) {
		s := newBackend(t).Runs
		ctx := t.Context()
		scope := newID("scope")
		sess, r, k := keyedRun(scope, "key-1", now)
		taken, created, err := s.CreateRunWithKey(ctx, core.CreateRunWithKeyParams{Key: k, Session: sess, Run: r, ExpiredBefore: now - 1000})
		if err != nil || taken != nil || !created {
			t.Fatalf("first CreateRunWithKey: taken %+v, session created %v, %v", taken, created, err)
		}
		assertRun(t, r, mustGetRun(t, s, r.RunID))
		mustGetSession(t, s, sess.SessionID)

		// The same key again, for another run: nothing is created, and the
		// stored key comes back as it was stored.
		sess2, r2, k2 := keyedRun(scope, "key-1", now+5)
		taken, created, err = s.CreateRunWithKey(ctx, core.CreateRunWithKeyParams{Key: k2, Session: sess2, Run: r2, ExpiredBefore: now - 1000})
		if err != nil || taken == nil || created {
			t.Fatalf("second CreateRunWithKey: taken %+v, session created %v, %v", taken, created, err)
		}
		if *taken != k {
			t.Fatalf("stored key %+v, want %+v", *taken, k)
		}
		if _, err := s.GetRun(ctx, r2.RunID); err == nil {
			t.Fatal("a taken key created its run")
		}
		if _, err := s.GetSession(ctx, sess2.SessionID); err == nil {
			t.Fatal("a taken key created its session")
		}

		// An existing session is kept (and reported as not created).
		sess3, r3, k3 := keyedRun(scope, "key-2", now)
		mustCreateSession(t, s, sess3)
		if taken, created, err := s.CreateRunWithKey(ctx, core.CreateRunWithKeyParams{Key: k3, Session: sess3, Run: r3}); err != nil || taken != nil || created {
			t.Fatalf("CreateRunWithKey in an existing session: taken %+v, session created %v, %v", taken, created, err)
		}
		mustGetRun(t, s, r3.RunID)
	})

	parallel(t, "ScopesAreApart", func(t *testing.T) {
		s := newBackend(t).Runs
		ctx := t.Context()
		key := newID("key")
		for i := range 2 {
			sess, r, k := keyedRun(newID("scope"), key, now)
			if taken, _, err := s.CreateRunWithKey(ctx, core.CreateRunWithKeyParams{Key: k, Session: sess, Run: r}); err != nil || taken != nil {
				t.Fatalf("scope %d: taken %+v, %v", i, taken, err)
			}
			mustGetRun(t, s, r.RunID)
		}
	})

	parallel(t, "ExpiredKeyIsReplaced", func(t *testing.T) {
		s := newBackend(t).Runs
		ctx := t.Context()
		scope := newID("scope")
		sess, r, k := keyedRun(scope, "key", now)
		if _, _, err := s.CreateRunWithKey(ctx, core.CreateRunWithKeyParams{Key: k, Session: sess, Run: r}); err != nil {
			t.Fatal(err)
		}
		// At now+10 with keys lasting 10 ms, the key created at now is
		// still there (created at the bound, not before it).
		sess2, r2, k2 := keyedRun(scope, "key", now+10)
		if taken, _, err := s.CreateRunWithKey(ctx, core.CreateRunWithKeyParams{Key: k2, Session: sess2, Run: r2, ExpiredBefore: now}); err != nil || taken == nil || taken.RunID != r.RunID {
			t.Fatalf("key at its expiry bound: taken %+v, %v", taken, err)
		}
		// One millisecond later it has expired: replaced.
		if taken, _, err := s.CreateRunWithKey(ctx, core.CreateRunWithKeyParams{Key: k2, Session: sess2, Run: r2, ExpiredBefore: now + 1}); err != nil || taken != nil {
			t.Fatalf("expired key: taken %+v, %v", taken, err)
		}
		mustGetRun(t, s, r2.RunID)
		sess3, r3, k3 := keyedRun(scope, "key", now+11)
		taken, _, err := s.CreateRunWithKey(ctx, core.CreateRunWithKeyParams{Key: k3, Session: sess3, Run: r3, ExpiredBefore: now + 1})
		if err != nil || taken == nil || *taken != k2 {
			t.Fatalf("the replacing key: got %+v, %v; want %+v", taken, err, k2)
		}
	})

	parallel(t, "FailedRunStoresNoKey", func(t *testing.T) {
		// A run that cannot be created (a duplicate id) leaves its key
		// free: the key and the run commit together or not at all.
		s := newBackend(t).Runs
		ctx := t.Context()
		existing := mustCreateRun(t, s, minimalRun(newID("sess")))
		scope := newID("scope")
		sess, r, k := keyedRun(scope, "key", now)
		r.RunID, k.RunID = existing.RunID, existing.RunID
		if _, _, err := s.CreateRunWithKey(ctx, core.CreateRunWithKeyParams{Key: k, Session: sess, Run: r}); err == nil {
			t.Fatal("CreateRunWithKey with a taken run id succeeded")
		} else {
			wantErr(t, err, core.ErrConflict, "CreateRunWithKey with a taken run id")
		}
		sess2, r2, k2 := keyedRun(scope, "key", now)
		if taken, _, err := s.CreateRunWithKey(ctx, core.CreateRunWithKeyParams{Key: k2, Session: sess2, Run: r2}); err != nil || taken != nil {
			t.Fatalf("the key after a failed create: taken %+v, %v", taken, err)
		}
	})

	parallel(t, "ConcurrentCallsCreateOneRun", func(t *testing.T) {
		s := newBackend(t).Runs
		ctx := t.Context()
		scope := newID("scope")
		type result struct {
			taken *core.IdempotencyKey
			run   *core.Run
		}
		results := make([]result, workers)
		errs := runAll(workers, func(i int) error {
			sess, r, k := keyedRun(scope, "key", now+int64(i))
			taken, _, err := s.CreateRunWithKey(ctx, core.CreateRunWithKeyParams{Key: k, Session: sess, Run: r, ExpiredBefore: now - 1000})
			results[i] = result{taken, r}
			return err
		})
		winner := ""
		for i, err := range errs {
			if err != nil {
				t.Fatalf("call %d: %v", i, err)
			}
			if results[i].taken == nil {
				if winner != "" {
					t.Fatalf("two calls created a run: %s and %s", winner, results[i].run.RunID)
				}
				winner = results[i].run.RunID
			}
		}
		if winner == "" {
			t.Fatal("no call created a run")
		}
		for i, res := range results {
			if res.taken != nil {
				if res.taken.RunID != winner {
					t.Fatalf("call %d found the key naming %s, want %s", i, res.taken.RunID, winner)
				}
				if _, err := s.GetRun(ctx, res.run.RunID); err == nil {
					t.Fatalf("call %d created its run %s although the key was taken", i, res.run.RunID)
				}
			}
		}
		mustGetRun(t, s, winner)
	})

	parallel(t, "DeleteExpiredKeys", func(t *testing.T) {
		// Times far below every other test's, so a shared database's other
		// keys are not counted (nor deleted).
		s := newBackend(t).Runs
		ctx := t.Context()
		scope := newID("scope")
		for i := range 5 {
			sess, r, k := keyedRun(scope, newID("key"), int64(100+i))
			if _, _, err := s.CreateRunWithKey(ctx, core.CreateRunWithKeyParams{Key: k, Session: sess, Run: r}); err != nil {
				t.Fatal(err)
			}
		}
		sess, r, kept := keyedRun(scope, "kept", 200)
		if _, _, err := s.CreateRunWithKey(ctx, core.CreateRunWithKeyParams{Key: kept, Session: sess, Run: r}); err != nil {
			t.Fatal(err)
		}
		if n, err := s.DeleteExpiredKeys(ctx, 105, 3); err != nil || n != 3 {
			t.Fatalf("DeleteExpiredKeys(limit 3): %d, %v", n, err)
		}
		if n, err := s.DeleteExpiredKeys(ctx, 105, 0); err != nil || n != 2 {
			t.Fatalf("DeleteExpiredKeys(rest): %d, %v", n, err)
		}
		if n, err := s.DeleteExpiredKeys(ctx, 105, 0); err != nil || n != 0 {
			t.Fatalf("DeleteExpiredKeys(none left): %d, %v", n, err)
		}
		// The key not expired is still there; the runs stay.
		sess2, r2, k2 := keyedRun(scope, "kept", 300)
		if taken, _, err := s.CreateRunWithKey(ctx, core.CreateRunWithKeyParams{Key: k2, Session: sess2, Run: r2, ExpiredBefore: 105}); err != nil || taken == nil || *taken != kept {
			t.Fatalf("the key not expired: %+v, %v", taken, err)
		}
		mustGetRun(t, s, r.RunID)
	})
}
