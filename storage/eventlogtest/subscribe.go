package eventlogtest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
)

func testSubscribe(t *testing.T, newLog NewLogFunc) {
	t.Run("BacklogThenLive", func(t *testing.T) {
		t.Parallel()
		ctx, l, run := testCtx(t), newLog(t, defaultConfig()), newRunID()
		appendRange(t, ctx, l, run, 0, 5)
		sub := mustSubscribe(t, ctx, l, core.ReadParams{RunID: run, After: 1})
		expectNext(t, ctx, sub, run, 2, 5)

		// Live events, appended while the subscriber waits.
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := int64(5); i < 30; i++ {
				if _, err := l.Append(ctx, newEvent(run, i)); err != nil {
					t.Errorf("Append #%d: %v", i, err)
					return
				}
				if i%5 == 0 {
					time.Sleep(time.Millisecond)
				}
			}
		}()
		expectNext(t, ctx, sub, run, 5, 30)
		<-done
	})

	t.Run("FromStart", func(t *testing.T) {
		t.Parallel()
		ctx, l, run := testCtx(t), newLog(t, defaultConfig()), newRunID()
		appendRange(t, ctx, l, run, 0, 3)
		sub := mustSubscribe(t, ctx, l, core.ReadParams{RunID: run, After: -1})
		expectNext(t, ctx, sub, run, 0, 3)
		appendRange(t, ctx, l, run, 3, 4)
		expectNext(t, ctx, sub, run, 3, 4)
	})

	t.Run("RunWithNoEventsYet", func(t *testing.T) {
		t.Parallel()
		ctx, l, run := testCtx(t), newLog(t, defaultConfig()), newRunID()
		sub := mustSubscribe(t, ctx, l, core.ReadParams{RunID: run, After: -1})
		got := make(chan error, 1)
		go func() {
			for i := range int64(3) {
				ev, err := next(ctx, sub)
				if err == nil {
					err = checkEvent(ev, run, i)
				}
				if err != nil {
					got <- err
					return
				}
			}
			got <- nil
		}()
		time.Sleep(waitShort) // let Next block first
		appendRange(t, ctx, l, run, 0, 3)
		if err := <-got; err != nil {
			t.Fatalf("subscriber: %v", err)
		}
	})

	t.Run("CursorAtEndWaits", func(t *testing.T) {
		t.Parallel()
		ctx, l, run := testCtx(t), newLog(t, defaultConfig()), newRunID()
		appendRange(t, ctx, l, run, 0, 3)
		sub := mustSubscribe(t, ctx, l, core.ReadParams{RunID: run, After: 2})
		short, cancel := context.WithTimeout(ctx, waitShort)
		ev, err := nextCtx(short, sub)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Next at the end: got event %d, %v; want context.DeadlineExceeded", ev.EventIndex, err)
		}
		appendRange(t, ctx, l, run, 3, 4)
		expectNext(t, ctx, sub, run, 3, 4)
	})

	t.Run("OtherRunsInvisible", func(t *testing.T) {
		t.Parallel()
		ctx, l, run, other := testCtx(t), newLog(t, defaultConfig()), newRunID(), newRunID()
		sub := mustSubscribe(t, ctx, l, core.ReadParams{RunID: run, After: -1})
		appendRange(t, ctx, l, other, 0, 3)
		appendRange(t, ctx, l, run, 0, 1)
		expectNext(t, ctx, sub, run, 0, 1)
	})

	t.Run("ManySubscribers", func(t *testing.T) {
		t.Parallel()
		ctx, l, run := testCtx(t), newLog(t, defaultConfig()), newRunID()
		const subscribers, events = 50, 100
		// Half subscribe before the first append, half while appends go on:
		// both must see every event exactly once, in order.
		follow := func(id int, sub core.Subscription) {
			defer func() { _ = sub.Close() }()
			for i := range int64(events) {
				ev, err := next(ctx, sub)
				if err == nil {
					err = checkEvent(ev, run, i)
				}
				if err != nil {
					t.Errorf("subscriber %d: want index %d: %v", id, i, err)
					return
				}
			}
			short, cancel := context.WithTimeout(ctx, waitShort)
			defer cancel()
			if ev, err := nextCtx(short, sub); err == nil {
				t.Errorf("subscriber %d: extra event %d after the last", id, ev.EventIndex)
			}
		}
		var wg sync.WaitGroup
		for s := range subscribers / 2 {
			sub := mustSubscribe(t, ctx, l, core.ReadParams{RunID: run, After: -1})
			wg.Go(func() { follow(s, sub) })
		}
		wg.Go(func() {
			for i := range int64(events) {
				if _, err := l.Append(ctx, newEvent(run, i)); err != nil {
					t.Errorf("Append #%d: %v", i, err)
					return
				}
				if i%10 == 0 {
					time.Sleep(time.Millisecond)
				}
			}
		})
		for s := subscribers / 2; s < subscribers; s++ {
			sub, err := l.Subscribe(ctx, core.ReadParams{RunID: run, After: -1})
			if err != nil {
				t.Errorf("Subscribe %d: %v", s, err)
				continue
			}
			wg.Go(func() { follow(s, sub) })
		}
		wg.Wait()
	})

	t.Run("NextHonoursContext", func(t *testing.T) {
		t.Parallel()
		ctx, l, run := testCtx(t), newLog(t, defaultConfig()), newRunID()
		sub := mustSubscribe(t, ctx, l, core.ReadParams{RunID: run, After: -1})

		// A deadline.
		start := time.Now()
		short, cancel := context.WithTimeout(ctx, waitShort)
		_, err := nextCtx(short, sub)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Next with a deadline: %v, want context.DeadlineExceeded", err)
		}
		if d := time.Since(start); d > waitLong {
			t.Fatalf("Next returned %v after its deadline", d)
		}

		// A cancellation while Next waits.
		cctx, cancel := context.WithCancel(ctx)
		go func() {
			time.Sleep(waitShort)
			cancel()
		}()
		start = time.Now()
		_, err = nextCtx(cctx, sub)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Next when cancelled: %v, want context.Canceled", err)
		}
		if d := time.Since(start); d > waitLong {
			t.Fatalf("Next returned %v after it was cancelled", d)
		}

		// An already cancelled context.
		_, err = nextCtx(cctx, sub)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Next with a cancelled context: %v, want context.Canceled", err)
		}

		// The subscription is still usable and has not lost its place.
		appendRange(t, ctx, l, run, 0, 2)
		expectNext(t, ctx, sub, run, 0, 2)
	})

	t.Run("Close", func(t *testing.T) {
		t.Parallel()
		ctx, l, run := testCtx(t), newLog(t, defaultConfig()), newRunID()
		appendRange(t, ctx, l, run, 0, 3)
		sub, err := l.Subscribe(ctx, core.ReadParams{RunID: run, After: -1})
		if err != nil {
			t.Fatalf("Subscribe: %v", err)
		}
		expectNext(t, ctx, sub, run, 0, 1)
		if err := sub.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		_ = sub.Close() // safe to call again
		if _, err := next(ctx, sub); err == nil {
			t.Fatalf("Next after Close returned an event")
		}
		// Other subscriptions and the log are unaffected.
		other := mustSubscribe(t, ctx, l, core.ReadParams{RunID: run, After: 0})
		expectNext(t, ctx, other, run, 1, 3)
	})
}
