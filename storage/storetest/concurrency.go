package storetest

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/agentgate/agentgate/core"
)

// workers is how many goroutines each concurrency test runs at once.
const workers = 20

// runAll runs f(0..n-1) in n goroutines started together and returns the
// errors they returned, by index.
func runAll(n int, f func(i int) error) []error {
	errs := make([]error, n)
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = f(i)
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

func testConcurrency(t *testing.T, newBackend Factory) {
	parallel(t, "FailuresAmongConcurrentWrites", func(t *testing.T) {
		// Stores may commit concurrent writes together (group commit). A
		// write that fails among them — a duplicate run id after its
		// session's insert, a compare-and-set that misses — fails alone:
		// it leaves nothing behind and the others commit.
		s := newBackend(t).Runs
		ctx := t.Context()
		taken := minimalRun(mustCreateSession(t, s, minimalSession()).SessionID)
		if err := s.CreateRun(ctx, taken); err != nil {
			t.Fatal(err)
		}
		const n = 3 * workers
		sessions := make([]*core.Session, n)
		runs := make([]*core.Run, n)
		for i := range n {
			sessions[i] = minimalSession()
			runs[i] = minimalRun(sessions[i].SessionID)
			if i%3 == 0 {
				runs[i].RunID = taken.RunID // fails after inserting its session
			}
		}
		errs := runAll(n, func(i int) error {
			_, err := s.CreateRunInSession(ctx, sessions[i], runs[i])
			return err
		})
		for i, err := range errs {
			_, gerr := s.GetSession(ctx, sessions[i].SessionID)
			if i%3 == 0 {
				if !errors.Is(err, core.ErrConflict) || !errors.Is(gerr, core.ErrNotFound) {
					t.Fatalf("duplicate run %d: %v; its session: %v (want a conflict and no session)", i, err, gerr)
				}
			} else if err != nil || gerr != nil {
				t.Fatalf("write %d among failures: %v / %v", i, err, gerr)
			}
		}
		// Updates: every other one names a status the run is not in.
		errs = runAll(n, func(i int) error {
			if i%3 == 0 {
				return nil
			}
			r := *runs[i]
			r.Status, r.Content = core.RunCompleted, fmt.Sprint("done ", i)
			from := core.RunPending
			if i%2 == 0 {
				from = core.RunPaused
			}
			return s.UpdateRun(ctx, &r, core.UpdateRunParams{IfStatus: []core.RunStatus{from}})
		})
		for i, err := range errs {
			if i%3 == 0 {
				continue
			}
			got, gerr := s.GetRun(ctx, runs[i].RunID)
			if gerr != nil {
				t.Fatal(gerr)
			}
			if i%2 == 0 {
				if !errors.Is(err, core.ErrConflict) || got.Status != core.RunPending {
					t.Fatalf("update %d from PAUSED: %v, run %s", i, err, got.Status)
				}
			} else if err != nil || got.Status != core.RunCompleted || got.Content != fmt.Sprint("done ", i) {
				t.Fatalf("update %d: %v, run %s %q", i, err, got.Status, got.Content)
			}
		}
	})

	parallel(t, "UpdatesOfDifferentRuns", func(t *testing.T) {
		// Each goroutine drives its own run through a lifecycle with
		// compare-and-set updates; none may fail or see another's writes.
		s := newBackend(t).Runs
		sess := mustCreateSession(t, s, minimalSession())
		const steps = 5
		errs := runAll(workers, func(i int) error {
			r := minimalRun(sess.SessionID)
			r.Messages = sampleMessages(baseTime())[:2]
			r.CreatedAt = baseTime() + int64(i)
			if err := s.CreateRun(t.Context(), r); err != nil {
				return fmt.Errorf("create: %w", err)
			}
			r.Status = core.RunRunning
			if err := s.UpdateRun(t.Context(), r, core.UpdateRunParams{IfStatus: []core.RunStatus{core.RunPending}}); err != nil {
				return fmt.Errorf("start: %w", err)
			}
			for n := range steps {
				r.EventCount = int64(n + 1)
				r.Content = fmt.Sprintf("worker %d step %d", i, n)
				if err := s.UpdateRun(t.Context(), r, core.UpdateRunParams{IfStatus: []core.RunStatus{core.RunRunning}}); err != nil {
					return fmt.Errorf("step %d: %w", n, err)
				}
				got, err := s.GetRun(t.Context(), r.RunID)
				if err != nil {
					return fmt.Errorf("get %d: %w", n, err)
				}
				if got.Content != r.Content || got.EventCount != r.EventCount {
					return fmt.Errorf("step %d: read %q/%d, wrote %q/%d", n, got.Content, got.EventCount, r.Content, r.EventCount)
				}
			}
			r.Status = core.RunCompleted
			if err := s.UpdateRun(t.Context(), r, core.UpdateRunParams{IfStatus: []core.RunStatus{core.RunRunning}}); err != nil {
				return fmt.Errorf("finish: %w", err)
			}
			return nil
		})
		for i, err := range errs {
			if err != nil {
				t.Errorf("worker %d: %v", i, err)
			}
		}
		runs, err := s.ListRuns(t.Context(), core.ListRunsParams{SessionID: sess.SessionID})
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) != workers {
			t.Fatalf("got %d runs, want %d", len(runs), workers)
		}
		for i, r := range runs {
			want := fmt.Sprintf("worker %d step %d", i, steps-1)
			if r.Status != core.RunCompleted || r.EventCount != steps || r.Content != want {
				t.Errorf("run %d: status %s events %d content %q; want COMPLETED %d %q",
					i, r.Status, r.EventCount, r.Content, steps, want)
			}
		}
	})

	parallel(t, "CompareAndSetHasOneWinner", func(t *testing.T) {
		// Many executors try to start the same PENDING run: exactly one
		// wins, the rest get ErrConflict, and the stored run is the
		// winner's.
		s := newBackend(t).Runs
		base := mustCreateRun(t, s, minimalRun(newID("sess")))
		errs := runAll(workers, func(i int) error {
			r := cloneRun(base)
			r.Status, r.Content = core.RunRunning, fmt.Sprintf("winner %d", i)
			return s.UpdateRun(t.Context(), r, core.UpdateRunParams{IfStatus: []core.RunStatus{core.RunPending}})
		})
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Fatalf("workers %d and %d both won", winner, i)
			case err == nil:
				winner = i
			case !errors.Is(err, core.ErrConflict):
				t.Fatalf("worker %d: %v, want a conflict", i, err)
			}
		}
		if winner < 0 {
			t.Fatal("nobody won")
		}
		got := mustGetRun(t, s, base.RunID)
		if got.Status != core.RunRunning || got.Content != fmt.Sprintf("winner %d", winner) {
			t.Fatalf("stored %s %q, winner was %d", got.Status, got.Content, winner)
		}
	})

	parallel(t, "DuplicateCreatesHaveOneWinner", func(t *testing.T) {
		s := newBackend(t).Runs
		id := newID("run")
		sessID := newID("sess")
		var ok atomic.Int32
		errs := runAll(workers, func(i int) error {
			r := minimalRun(sessID)
			r.RunID, r.Content = id, fmt.Sprintf("creator %d", i)
			err := s.CreateRun(t.Context(), r)
			if err == nil {
				ok.Add(1)
			}
			return err
		})
		if ok.Load() != 1 {
			t.Fatalf("%d creates succeeded, want 1", ok.Load())
		}
		for i, err := range errs {
			if err != nil && !errors.Is(err, core.ErrConflict) {
				t.Fatalf("creator %d: %v, want nil or a conflict", i, err)
			}
		}
		sess := minimalSession()
		sid := sess.SessionID
		ok.Store(0)
		errs = runAll(workers, func(i int) error {
			x := minimalSession()
			x.SessionID = sid
			err := s.CreateSession(t.Context(), x)
			if err == nil {
				ok.Add(1)
			}
			return err
		})
		if ok.Load() != 1 {
			t.Fatalf("%d session creates succeeded, want 1", ok.Load())
		}
		for i, err := range errs {
			if err != nil && !errors.Is(err, core.ErrConflict) {
				t.Fatalf("session creator %d: %v, want nil or a conflict", i, err)
			}
		}
	})

	parallel(t, "CancelIsNotLostUnderUpdates", func(t *testing.T) {
		// An executor keeps writing its copy (CancelRequested false) while
		// other replicas record a cancel: the intent survives.
		s := newBackend(t).Runs
		r := minimalRun(newID("sess"))
		r.Status = core.RunRunning
		mustCreateRun(t, s, r)
		errs := runAll(workers, func(i int) error {
			if i%4 == 0 {
				_, err := s.SetCancelRequested(t.Context(), r.RunID)
				return err
			}
			mine := cloneRun(r)
			for n := range 5 {
				mine.EventCount = int64(i*100 + n)
				if err := s.UpdateRun(t.Context(), mine, core.UpdateRunParams{IfStatus: []core.RunStatus{core.RunRunning}}); err != nil {
					return err
				}
			}
			return nil
		})
		for i, err := range errs {
			if err != nil {
				t.Fatalf("worker %d: %v", i, err)
			}
		}
		if got := mustGetRun(t, s, r.RunID); !got.CancelRequested {
			t.Fatal("the cancel intent was lost")
		}
	})

	parallel(t, "ReadersAlongsideWriters", func(t *testing.T) {
		s := newBackend(t).Runs
		user := newID("user")
		const perWriter = 4
		errs := runAll(workers, func(i int) error {
			if i%2 == 0 { // writer
				for n := range perWriter {
					sess := minimalSession()
					sess.UserID, sess.CreatedAt = user, baseTime()+int64(i*perWriter+n)
					if err := s.CreateSession(t.Context(), sess); err != nil {
						return err
					}
					r := minimalRun(sess.SessionID)
					r.UserID, r.Messages = user, sampleMessages(baseTime())
					if err := s.CreateRun(t.Context(), r); err != nil {
						return err
					}
					name := fmt.Sprintf("renamed %d", n)
					if _, err := s.UpdateSession(t.Context(), core.UpdateSessionParams{SessionID: sess.SessionID, SessionName: &name}); err != nil {
						return err
					}
				}
				return nil
			}
			for range perWriter { // reader
				ss, total, err := s.ListSessions(t.Context(), core.ListSessionsParams{UserID: user, Limit: 3, Page: 1})
				if err != nil {
					return err
				}
				if len(ss) > total {
					return fmt.Errorf("page of %d > total %d", len(ss), total)
				}
				runs, err := s.ListRuns(t.Context(), core.ListRunsParams{UserID: user, Limit: 3})
				if err != nil {
					return err
				}
				for _, r := range runs {
					if _, err := s.GetRun(t.Context(), r.RunID); err != nil {
						return err
					}
				}
			}
			return nil
		})
		for i, err := range errs {
			if err != nil {
				t.Fatalf("goroutine %d: %v", i, err)
			}
		}
		_, total, err := s.ListSessions(t.Context(), core.ListSessionsParams{UserID: user, Limit: 1})
		if err != nil || total != workers/2*perWriter {
			t.Fatalf("total %d, %v; want %d", total, err, workers/2*perWriter)
		}
	})
}
