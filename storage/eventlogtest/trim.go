package eventlogtest

import (
	"context"
	"errors"
	"testing"

	"github.com/agentgate/agentgate/core"
)

func testTrim(t *testing.T, newLog NewLogFunc) {
	const keep = 5
	cfg := defaultConfig()
	cfg.MaxEventsPerRun = keep

	t.Run("KeepsExactlyMax", func(t *testing.T) {
		t.Parallel()
		ctx, l, run := testCtx(t), newLog(t, cfg), newRunID()
		appendRange(t, ctx, l, run, 0, keep)
		checkEvents(t, mustRead(t, ctx, l, core.ReadParams{RunID: run, After: -1}), run, 0, keep)
	})

	t.Run("TrimsOldestIndicesStayDense", func(t *testing.T) {
		t.Parallel()
		ctx, l, run := testCtx(t), newLog(t, cfg), newRunID()
		appendRange(t, ctx, l, run, 0, 12) // keeps 7..11
		const first = 12 - keep

		for _, after := range []int64{-1, 0, first - 2} {
			evs, err := l.Read(ctx, core.ReadParams{RunID: run, After: after})
			if len(evs) != 0 {
				t.Fatalf("Read after %d returned %d events along with %v", after, len(evs), err)
			}
			expectGone(t, err, run, first)
		}
		// Exactly at the boundary.
		checkEvents(t, mustRead(t, ctx, l, core.ReadParams{RunID: run, After: first - 1}), run, first, 12)
		checkEvents(t, mustRead(t, ctx, l, core.ReadParams{RunID: run, After: first + 1, Limit: 2}), run, first+2, first+4)

		// Counting goes on; the window slides.
		appendRange(t, ctx, l, run, 12, 14)
		_, err := l.Read(ctx, core.ReadParams{RunID: run, After: first - 1})
		expectGone(t, err, run, first+2)
		checkEvents(t, mustRead(t, ctx, l, core.ReadParams{RunID: run, After: first + 1}), run, first+2, 14)
	})

	t.Run("TrimsManyTimesOver", func(t *testing.T) {
		t.Parallel()
		ctx, l, run := testCtx(t), newLog(t, cfg), newRunID()
		appendRange(t, ctx, l, run, 0, 103)
		checkEvents(t, mustRead(t, ctx, l, core.ReadParams{RunID: run, After: 103 - keep - 1}), run, 103-keep, 103)
		_, err := l.Read(ctx, core.ReadParams{RunID: run, After: -1})
		expectGone(t, err, run, 103-keep)
	})

	t.Run("SubscribeOlderThanKept", func(t *testing.T) {
		t.Parallel()
		ctx, l, run := testCtx(t), newLog(t, cfg), newRunID()
		appendRange(t, ctx, l, run, 0, 12)
		for _, after := range []int64{-1, 5} {
			sub, err := l.Subscribe(ctx, core.ReadParams{RunID: run, After: after})
			if sub != nil {
				_ = sub.Close()
			}
			expectGone(t, err, run, 12-keep)
		}
	})

	t.Run("SubscribeAtBoundary", func(t *testing.T) {
		t.Parallel()
		ctx, l, run := testCtx(t), newLog(t, cfg), newRunID()
		appendRange(t, ctx, l, run, 0, 12)
		sub := mustSubscribe(t, ctx, l, core.ReadParams{RunID: run, After: 12 - keep - 1})
		expectNext(t, ctx, sub, run, 12-keep, 12)
		appendRange(t, ctx, l, run, 12, 15)
		expectNext(t, ctx, sub, run, 12, 15)
	})

	t.Run("SlowSubscriberOvertaken", func(t *testing.T) {
		t.Parallel()
		ctx, l, run := testCtx(t), newLog(t, cfg), newRunID()
		appendRange(t, ctx, l, run, 0, 12) // keeps 7..11
		sub := mustSubscribe(t, ctx, l, core.ReadParams{RunID: run, After: 6})
		appendRange(t, ctx, l, run, 12, 22) // keeps 17..21
		// An implementation may have buffered some events before it was
		// overtaken; those must still come in order, then the error.
		want := int64(7)
		for range 30 {
			ev, err := next(ctx, sub)
			if err != nil {
				if errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("Next blocked instead of reporting the gap after index %d", want-1)
				}
				expectGone(t, err, run, 22-keep)
				return
			}
			if err := checkEvent(ev, run, want); err != nil {
				t.Fatalf("Next: %v", err)
			}
			want++
		}
		t.Fatalf("Next never reported that events %d..%d were trimmed", want, 22-keep-1)
	})
}
