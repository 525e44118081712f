package memlog

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/internal/testutil"
)

// appendRun appends n events to run id, finishing it when finish is set.
func appendRun(t *testing.T, l *Log, id string, n int, finish bool) {
	t.Helper()
	evs := make([]*core.Event, n)
	for i := range evs {
		evs[i] = &core.Event{Event: core.EventRunContent, RunID: id, Content: fmt.Sprint(i)}
	}
	if _, err := l.AppendAll(t.Context(), evs, finish); err != nil {
		t.Fatal(err)
	}
}

func holds(t *testing.T, l *Log, id string) bool {
	t.Helper()
	_, err := l.Read(t.Context(), core.ReadParams{RunID: id, After: -1})
	switch {
	case err == nil:
		return true
	case errors.Is(err, core.ErrNotFound):
		return false
	}
	t.Fatalf("Read %s: %v", id, err)
	return false
}

func TestMaxEventsDropsTheEarliestFinishedRuns(t *testing.T) {
	t.Parallel()
	l := New(core.EventLogConfig{MaxEvents: 50})
	defer l.Close()
	// A live run holds 25 events throughout; it is never dropped.
	appendRun(t, l, "live", 25, false)
	for i := range 6 {
		appendRun(t, l, fmt.Sprint("done-", i), 10, true)
	}
	// 25 live + 60 finished > 50: the four earliest finished runs went.
	for i, want := range []bool{false, false, false, false, true, true} {
		if got := holds(t, l, fmt.Sprint("done-", i)); got != want {
			t.Errorf("done-%d held = %v, want %v", i, got, want)
		}
	}
	if !holds(t, l, "live") {
		t.Error("the live run was dropped")
	}
	if got := l.held.Load(); got != 45 {
		t.Errorf("held = %d events, want 45", got)
	}
	// A live run that grows past the bound makes room too, and when only
	// live runs are left nothing more is dropped.
	appendRun(t, l, "live", 100, false)
	if !holds(t, l, "live") || holds(t, l, "done-4") || holds(t, l, "done-5") || l.held.Load() != 125 {
		t.Errorf("live run: held %v, done-4/5 %v/%v, %d events", holds(t, l, "live"), holds(t, l, "done-4"), holds(t, l, "done-5"), l.held.Load())
	}
}

func TestMaxEventsSparesRunsBeingRead(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	l := New(core.EventLogConfig{MaxEvents: 20})
	defer l.Close()
	appendRun(t, l, "read", 10, true)
	sub, err := l.Subscribe(ctx, core.ReadParams{RunID: "read", After: -1})
	if err != nil {
		t.Fatal(err)
	}
	appendRun(t, l, "a", 10, true)
	appendRun(t, l, "b", 10, true) // over by 10: "read" is being read, "a" goes
	if !holds(t, l, "read") || holds(t, l, "a") || !holds(t, l, "b") {
		t.Fatalf("held read/a/b = %v/%v/%v, want true/false/true", holds(t, l, "read"), holds(t, l, "a"), holds(t, l, "b"))
	}
	// The reader gets every event of its run.
	for i := range 10 {
		ev, err := sub.Next(ctx)
		if err != nil || ev.Content != fmt.Sprint(i) {
			t.Fatalf("Next = %q, %v; want event %d", ev.Content, err, i)
		}
	}
	sub.Close()
	// "read" went to the back of the queue when it was spared: "b" goes
	// first, then "read".
	appendRun(t, l, "c", 10, true)
	if !holds(t, l, "read") || holds(t, l, "b") || !holds(t, l, "c") {
		t.Fatalf("held read/b/c = %v/%v/%v, want true/false/true", holds(t, l, "read"), holds(t, l, "b"), holds(t, l, "c"))
	}
	appendRun(t, l, "d", 10, true)
	if holds(t, l, "read") || !holds(t, l, "c") || !holds(t, l, "d") {
		t.Fatalf("held read/c/d = %v/%v/%v, want false/true/true", holds(t, l, "read"), holds(t, l, "c"), holds(t, l, "d"))
	}
}

func TestMaxEventsFollowsTheLatestFinish(t *testing.T) {
	t.Parallel()
	l := New(core.EventLogConfig{MaxEvents: 30})
	defer l.Close()
	appendRun(t, l, "x", 10, true)
	appendRun(t, l, "y", 10, true)
	appendRun(t, l, "x", 5, false) // x goes on: live again
	appendRun(t, l, "x", 5, true)  // and finishes after y
	appendRun(t, l, "z", 10, true) // 20 + 10 + 10 > 30: y finished earliest
	if !holds(t, l, "x") || holds(t, l, "y") || !holds(t, l, "z") {
		t.Fatalf("held x/y/z = %v/%v/%v, want true/false/true", holds(t, l, "x"), holds(t, l, "y"), holds(t, l, "z"))
	}
}

func TestFinishedQueueForgetsExpiredRuns(t *testing.T) {
	t.Parallel()
	l := New(core.EventLogConfig{Retention: 20 * time.Millisecond})
	defer l.Close()
	for i := range 200 {
		appendRun(t, l, fmt.Sprint("r-", i), 2, true)
	}
	queued := func() int {
		l.finishedQ.Lock()
		defer l.finishedQ.Unlock()
		return len(l.finishedQ.q) - l.finishedQ.head
	}
	testutil.Eventually(t, 3*time.Second, "the janitor to drop the expired runs and their queue entries", func() bool {
		runs, _ := l.counts()
		return runs == 0 && queued() == 0 && l.held.Load() == 0
	})
}

func TestMaxEventsUnderConcurrency(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	l := New(core.EventLogConfig{MaxEvents: 200, MaxEventsPerRun: 4})
	defer l.Close()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				id := fmt.Sprintf("g%d-%d", g, i)
				appendRun(t, l, id, 3, false)
				if i%7 == 0 {
					// A reader of its own run, closed at once.
					if sub, err := l.Subscribe(ctx, core.ReadParams{RunID: id, After: -1}); err == nil {
						_, _ = sub.Next(ctx)
						sub.Close()
					}
				}
				appendRun(t, l, id, 3, true) // 6 events, trimmed to 4
			}
		}()
	}
	wg.Wait()
	// The count matches what the runs hold, and is within the bound.
	var counted int64
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		for _, r := range sh.runs {
			r.mu.RLock()
			counted += int64(r.n)
			r.mu.RUnlock()
		}
		sh.mu.Unlock()
	}
	if got := l.held.Load(); got != counted || got > 200 {
		t.Fatalf("held = %d, runs hold %d events, bound 200", got, counted)
	}
}
