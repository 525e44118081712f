package eventlogtest

import (
	"errors"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
)

func testRetention(t *testing.T, newLog NewLogFunc) {
	const retention = 200 * time.Millisecond
	cfg := defaultConfig()
	cfg.Retention = retention

	// waitExpired polls Read until the run is gone and returns how long
	// that took from start.
	waitExpired := func(t *testing.T, l core.EventLog, run string, start time.Time) time.Duration {
		t.Helper()
		ctx := testCtx(t)
		deadline := start.Add(retention + waitLong)
		for {
			_, err := l.Read(ctx, core.ReadParams{RunID: run, After: -1})
			if err != nil {
				expectNotFound(t, err)
				return time.Since(start)
			}
			if time.Now().After(deadline) {
				t.Fatalf("run still readable %v after Finish (retention %v)", time.Since(start), retention)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	t.Run("ExpiresAfterFinish", func(t *testing.T) {
		t.Parallel()
		ctx, l, run := testCtx(t), newLog(t, cfg), newRunID()
		appendRange(t, ctx, l, run, 0, 3)
		start := time.Now()
		if err := l.Finish(ctx, run); err != nil {
			t.Fatalf("Finish: %v", err)
		}
		evs, err := l.Read(ctx, core.ReadParams{RunID: run, After: -1})
		if time.Since(start) < retention {
			if err != nil {
				t.Fatalf("Read right after Finish: %v", err)
			}
			checkEvents(t, evs, run, 0, 3)
		}
		// Allow for clock granularity between the log and this process.
		if took := waitExpired(t, l, run, start); took < retention-10*time.Millisecond {
			t.Fatalf("run expired %v after Finish, before its retention of %v", took, retention)
		}
	})

	t.Run("UnfinishedRunsStay", func(t *testing.T) {
		t.Parallel()
		ctx, l, run := testCtx(t), newLog(t, cfg), newRunID()
		appendRange(t, ctx, l, run, 0, 3)
		time.Sleep(2*retention + waitShort)
		checkEvents(t, mustRead(t, ctx, l, core.ReadParams{RunID: run, After: -1}), run, 0, 3)
	})

	t.Run("AppendRevives", func(t *testing.T) {
		t.Parallel()
		ctx, l, run := testCtx(t), newLog(t, cfg), newRunID()
		appendRange(t, ctx, l, run, 0, 3)
		if err := l.Finish(ctx, run); err != nil {
			t.Fatalf("Finish: %v", err)
		}
		appendRange(t, ctx, l, run, 3, 4) // e.g. RunContinued after RunPaused
		time.Sleep(2*retention + waitShort)
		checkEvents(t, mustRead(t, ctx, l, core.ReadParams{RunID: run, After: -1}), run, 0, 4)

		// Finishing again starts retention again.
		start := time.Now()
		if err := l.Finish(ctx, run); err != nil {
			t.Fatalf("Finish: %v", err)
		}
		waitExpired(t, l, run, start)
	})

	t.Run("OtherRunsStay", func(t *testing.T) {
		t.Parallel()
		ctx, l, done, live := testCtx(t), newLog(t, cfg), newRunID(), newRunID()
		appendRange(t, ctx, l, done, 0, 2)
		appendRange(t, ctx, l, live, 0, 2)
		start := time.Now()
		if err := l.Finish(ctx, done); err != nil {
			t.Fatalf("Finish: %v", err)
		}
		waitExpired(t, l, done, start)
		checkEvents(t, mustRead(t, ctx, l, core.ReadParams{RunID: live, After: -1}), live, 0, 2)
	})

	t.Run("ExpiredRunContinuesAtGivenIndex", func(t *testing.T) {
		t.Parallel()
		// A paused run whose events expired is continued later: its writer
		// passes the run's event count, and no index is given twice.
		ctx, l, run := testCtx(t), newLog(t, cfg), newRunID()
		appendRange(t, ctx, l, run, 0, 3)
		start := time.Now()
		if err := l.Finish(ctx, run); err != nil {
			t.Fatalf("Finish: %v", err)
		}
		waitExpired(t, l, run, start)
		ev := newEvent(run, 3)
		ev.EventIndex = 3
		idx, err := l.Append(ctx, ev)
		if err != nil || idx != 3 || ev.EventIndex != 3 {
			t.Fatalf("Append after expiry = %d (event %d), %v; want 3", idx, ev.EventIndex, err)
		}
		_, err = l.Read(ctx, core.ReadParams{RunID: run, After: -1})
		expectGone(t, err, run, 3)
		checkEvents(t, mustRead(t, ctx, l, core.ReadParams{RunID: run, After: 2}), run, 3, 4)
		// Once the log holds the run again, it assigns the indices itself.
		ev = newEvent(run, 4)
		ev.EventIndex = 100
		if idx, err := l.Append(ctx, ev); err != nil || idx != 4 {
			t.Fatalf("next Append = %d, %v; want 4", idx, err)
		}
	})

	t.Run("FinishUnknownRun", func(t *testing.T) {
		t.Parallel()
		ctx, l := testCtx(t), newLog(t, cfg)
		if err := l.Finish(ctx, newRunID()); err != nil && !errors.Is(err, core.ErrNotFound) {
			t.Fatalf("Finish of an unknown run: %v, want nil or ErrNotFound", err)
		}
	})
}
