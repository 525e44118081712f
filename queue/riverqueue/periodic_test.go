package riverqueue_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentgate/agentgate/queue/riverqueue"
)

// Two replicas add the same periodic job: it runs about once per interval
// in all (only the leader enqueues), never twice at once, and a failure is
// not retried.
func TestPeriodicRunsOnceAcrossReplicas(t *testing.T) {
	forEachBackend(t, func(t *testing.T, newDB func(t *testing.T) testDB) {
		db := newDB(t)
		var runs, running, overlap, failed atomic.Int64
		tick := func(ctx context.Context) error {
			if running.Add(1) > 1 {
				overlap.Add(1)
			}
			defer running.Add(-1)
			runs.Add(1)
			time.Sleep(50 * time.Millisecond)
			return nil
		}
		fail := func(ctx context.Context) error { failed.Add(1); return context.DeadlineExceeded }
		const every = 300 * time.Millisecond
		for range 2 {
			q, _ := db.newQueue(t, newFake(nil), riverqueue.Config{PollInterval: 50 * time.Millisecond})
			if err := q.AddPeriodic("tick", every, tick); err != nil {
				t.Fatal(err)
			}
			if err := q.AddPeriodic("fail", time.Hour, fail); err != nil {
				t.Fatal(err)
			}
			if err := q.AddPeriodic("tick", every, tick); err == nil {
				t.Fatal("adding a periodic job twice was accepted")
			}
			if err := q.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			if err := q.AddPeriodic("late", every, tick); err == nil {
				t.Fatal("AddPeriodic after Start was accepted")
			}
			t.Cleanup(func() { stopQueue(t, q) })
		}
		// A leader is elected at once on a fresh database; give it time to
		// start, then count over a window.
		deadline := time.Now().Add(15 * time.Second)
		for runs.Load() == 0 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if runs.Load() == 0 {
			t.Fatal("the periodic job never ran")
		}
		start, began := runs.Load(), time.Now()
		time.Sleep(3 * time.Second)
		// "Keeps running" is at least two more runs; a starved machine
		// may take longer than the window for them, so wait for them
		// (up to 15 s) and bound the count by the time actually waited.
		for runs.Load()-start < 2 && time.Since(began) < 15*time.Second {
			time.Sleep(20 * time.Millisecond)
		}
		got := runs.Load() - start
		window := time.Since(began)
		want := int64(window / every)
		// Never more than once per interval in all (two replicas would
		// double it); under a loaded machine (the race detector, the
		// parallel suites) an interval can be late, so fewer is fine as
		// long as it keeps running.
		if got < 2 || got > want+2 {
			t.Errorf("ran %d times in %v at one per %v across two replicas, want at most about %d (and keeps running)", got, window, every, want)
		}
		if overlap.Load() > 0 {
			t.Errorf("ran concurrently %d times", overlap.Load())
		}
		if n := failed.Load(); n != 1 {
			t.Errorf("a failing hourly job ran %d times, want 1 (no retry)", n)
		}
	})
}
