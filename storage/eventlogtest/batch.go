package eventlogtest

import (
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
)

// testBatch covers core.BatchAppender, for logs that implement it.
func testBatch(t *testing.T, newLog NewLogFunc) {
	batchOf := func(t *testing.T, l core.EventLog) core.BatchAppender {
		t.Helper()
		b, ok := l.(core.BatchAppender)
		if !ok {
			t.Skip("the log does not implement core.BatchAppender")
		}
		return b
	}
	events := func(run string, from, to int64) []*core.Event {
		evs := make([]*core.Event, 0, to-from)
		for i := from; i < to; i++ {
			evs = append(evs, newEvent(run, i))
		}
		return evs
	}

	t.Run("ConsecutiveIndicesAfterSingleAppends", func(t *testing.T) {
		t.Parallel()
		ctx, l, run := testCtx(t), newLog(t, defaultConfig()), newRunID()
		b := batchOf(t, l)
		evs := events(run, 0, 4)
		first, err := b.AppendAll(ctx, evs, false)
		if err != nil || first != 0 {
			t.Fatalf("AppendAll: %d, %v; want 0, nil", first, err)
		}
		for i, ev := range evs {
			if ev.EventIndex != int64(i) {
				t.Fatalf("event %d got index %d", i, ev.EventIndex)
			}
		}
		appendRange(t, ctx, l, run, 4, 6)
		more := events(run, 6, 9)
		if first, err := b.AppendAll(ctx, more, false); err != nil || first != 6 {
			t.Fatalf("second AppendAll: %d, %v; want 6, nil", first, err)
		}
		checkEvents(t, mustRead(t, ctx, l, core.ReadParams{RunID: run, After: -1}), run, 0, 9)
	})

	t.Run("SubscriberSeesTheWholeBatch", func(t *testing.T) {
		t.Parallel()
		ctx, l, run := testCtx(t), newLog(t, defaultConfig()), newRunID()
		b := batchOf(t, l)
		sub := mustSubscribe(t, ctx, l, core.ReadParams{RunID: run, After: -1})
		if _, err := b.AppendAll(ctx, events(run, 0, 5), false); err != nil {
			t.Fatalf("AppendAll: %v", err)
		}
		for i := int64(0); i < 5; i++ {
			ev, err := next(ctx, sub)
			if err != nil {
				t.Fatalf("Next #%d: %v", i, err)
			}
			if err := checkEvent(ev, run, i); err != nil {
				t.Fatal(err)
			}
		}
	})

	t.Run("StartsAtTheGivenIndexOfAnEmptyRun", func(t *testing.T) {
		t.Parallel()
		ctx, l, run := testCtx(t), newLog(t, defaultConfig()), newRunID()
		b := batchOf(t, l)
		evs := events(run, 7, 10)
		evs[0].EventIndex = 7 // the rule of Append: read for a run the log holds nothing of
		if first, err := b.AppendAll(ctx, evs, false); err != nil || first != 7 {
			t.Fatalf("AppendAll: %d, %v; want 7, nil", first, err)
		}
		checkEvents(t, mustRead(t, ctx, l, core.ReadParams{RunID: run, After: 6}), run, 7, 10)
	})

	t.Run("FinishStartsRetention", func(t *testing.T) {
		t.Parallel()
		cfg := defaultConfig()
		cfg.Retention = 200 * time.Millisecond
		ctx, l, run := testCtx(t), newLog(t, cfg), newRunID()
		b := batchOf(t, l)
		if _, err := b.AppendAll(ctx, events(run, 0, 3), true); err != nil {
			t.Fatalf("AppendAll: %v", err)
		}
		checkEvents(t, mustRead(t, ctx, l, core.ReadParams{RunID: run, After: -1}), run, 0, 3)
		deadline := time.Now().Add(cfg.Retention + waitLong)
		for {
			_, err := l.Read(ctx, core.ReadParams{RunID: run, After: -1})
			if err != nil {
				expectNotFound(t, err)
				return
			}
			if time.Now().After(deadline) {
				t.Fatal("a run finished by AppendAll never expired")
			}
			time.Sleep(10 * time.Millisecond)
		}
	})

	t.Run("RejectsMixedOrEmptyBatches", func(t *testing.T) {
		t.Parallel()
		ctx, l := testCtx(t), newLog(t, defaultConfig())
		b := batchOf(t, l)
		a, c := newRunID(), newRunID()
		if _, err := b.AppendAll(ctx, nil, false); err == nil {
			t.Fatal("AppendAll of no events succeeded")
		}
		if _, err := b.AppendAll(ctx, []*core.Event{newEvent(a, 0), newEvent(c, 0)}, false); err == nil {
			t.Fatal("AppendAll of two runs' events succeeded")
		}
		if _, err := l.Read(ctx, core.ReadParams{RunID: a, After: -1}); err == nil {
			t.Fatal("a refused batch left events behind")
		}
	})
}
