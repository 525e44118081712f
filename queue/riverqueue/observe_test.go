package riverqueue_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/testutil"
	"github.com/agentgate/agentgate/queue/riverqueue"
)

// Depth counts the jobs waiting, and every attempt worked is observed
// with its kind, wait, duration and error.
func TestDepthAndJobObserver(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, newDB func(t *testing.T) testDB) {
		db := newDB(t)
		ctx := context.Background()
		logger, _ := newLogger(t)
		fail := errors.New("boom")
		exec := newFake(func(_ context.Context, runID string, _ int) error {
			if runID == "run-bad" {
				return fail
			}
			return nil
		})
		q, _ := db.newQueue(t, exec, riverqueue.Config{Logger: logger, MaxAttempts: 1})
		type seen struct {
			kind string
			wait time.Duration
			err  error
		}
		var (
			mu   sync.Mutex
			obs  []seen
			runs time.Duration
		)
		q.ObserveJobs(func(kind string, wait, run time.Duration, err error) {
			mu.Lock()
			obs = append(obs, seen{kind, wait, err})
			runs += run
			mu.Unlock()
		})
		for _, id := range []string{"run-1", "run-2", "run-bad"} {
			if err := q.Enqueue(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
		if n, err := q.Depth(ctx); err != nil || n != 3 {
			t.Fatalf("depth before start = %d, %v; want 3", n, err)
		}
		if err := q.Start(ctx); err != nil {
			t.Fatal(err)
		}
		testutil.Eventually(t, 10*time.Second, "three attempts observed", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(obs) == 3
		})
		if n, err := q.Depth(ctx); err != nil || n != 0 {
			t.Fatalf("depth after the work = %d, %v; want 0", n, err)
		}
		mu.Lock()
		defer mu.Unlock()
		failed := 0
		for _, o := range obs {
			if o.kind != "run" || o.wait < 0 || o.wait > time.Minute {
				t.Errorf("observed %+v", o)
			}
			if errors.Is(o.err, fail) {
				failed++
			}
		}
		if runs <= 0 {
			t.Errorf("attempts' durations sum to %v", runs)
		}
		if failed != 1 {
			t.Errorf("%d failed attempts observed, want 1: %+v", failed, obs)
		}
	})
}
