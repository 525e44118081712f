package eventlogtest

import (
	"testing"

	"github.com/agentgate/agentgate/core"
)

func testRead(t *testing.T, newLog NewLogFunc) {
	t.Run("AfterCursor", func(t *testing.T) {
		t.Parallel()
		ctx, l, run := testCtx(t), newLog(t, defaultConfig()), newRunID()
		appendRange(t, ctx, l, run, 0, 6)
		checkEvents(t, mustRead(t, ctx, l, core.ReadParams{RunID: run, After: -1}), run, 0, 6)
		checkEvents(t, mustRead(t, ctx, l, core.ReadParams{RunID: run, After: 0}), run, 1, 6)
		checkEvents(t, mustRead(t, ctx, l, core.ReadParams{RunID: run, After: 3}), run, 4, 6)
		// Reading does not consume.
		checkEvents(t, mustRead(t, ctx, l, core.ReadParams{RunID: run, After: -1}), run, 0, 6)
	})

	t.Run("Limit", func(t *testing.T) {
		t.Parallel()
		ctx, l, run := testCtx(t), newLog(t, defaultConfig()), newRunID()
		appendRange(t, ctx, l, run, 0, 7)
		checkEvents(t, mustRead(t, ctx, l, core.ReadParams{RunID: run, After: -1, Limit: 3}), run, 0, 3)
		checkEvents(t, mustRead(t, ctx, l, core.ReadParams{RunID: run, After: 2, Limit: 3}), run, 3, 6)
		checkEvents(t, mustRead(t, ctx, l, core.ReadParams{RunID: run, After: 5, Limit: 3}), run, 6, 7)
		checkEvents(t, mustRead(t, ctx, l, core.ReadParams{RunID: run, After: -1, Limit: 7}), run, 0, 7)
		checkEvents(t, mustRead(t, ctx, l, core.ReadParams{RunID: run, After: -1, Limit: 0}), run, 0, 7)
		checkEvents(t, mustRead(t, ctx, l, core.ReadParams{RunID: run, After: 1, Limit: -1}), run, 2, 7)
	})

	t.Run("AtEndIsEmpty", func(t *testing.T) {
		t.Parallel()
		ctx, l, run := testCtx(t), newLog(t, defaultConfig()), newRunID()
		appendRange(t, ctx, l, run, 0, 4)
		evs, err := l.Read(ctx, core.ReadParams{RunID: run, After: 3})
		if err != nil || len(evs) != 0 {
			t.Fatalf("Read at the end: %d events, %v; want none, nil", len(evs), err)
		}
		evs, err = l.Read(ctx, core.ReadParams{RunID: run, After: 3, Limit: 5})
		if err != nil || len(evs) != 0 {
			t.Fatalf("Read at the end with a limit: %d events, %v; want none, nil", len(evs), err)
		}
		// The end moves with appends.
		appendRange(t, ctx, l, run, 4, 5)
		checkEvents(t, mustRead(t, ctx, l, core.ReadParams{RunID: run, After: 3}), run, 4, 5)
	})

	t.Run("UnknownRun", func(t *testing.T) {
		t.Parallel()
		ctx, l := testCtx(t), newLog(t, defaultConfig())
		for _, after := range []int64{-1, 0, 10} {
			evs, err := l.Read(ctx, core.ReadParams{RunID: newRunID(), After: after})
			if len(evs) != 0 {
				t.Fatalf("Read of an unknown run after %d returned %d events", after, len(evs))
			}
			expectNotFound(t, err)
		}
	})

	t.Run("RunWithOnlyASubscriber", func(t *testing.T) {
		t.Parallel()
		// A subscription to a run without events must not make the log
		// claim to hold the run.
		ctx, l, run := testCtx(t), newLog(t, defaultConfig()), newRunID()
		mustSubscribe(t, ctx, l, core.ReadParams{RunID: run, After: -1})
		_, err := l.Read(ctx, core.ReadParams{RunID: run, After: -1})
		expectNotFound(t, err)
	})
}
