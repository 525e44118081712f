package eventlogtest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
)

func testCancel(t *testing.T, newLog NewLogFunc) {
	t.Run("WatchThenSignal", func(t *testing.T) {
		t.Parallel()
		ctx, l, run := testCtx(t), newLog(t, defaultConfig()), newRunID()
		ch, stop, err := l.WatchCancel(ctx, run)
		if err != nil {
			t.Fatalf("WatchCancel: %v", err)
		}
		defer stop()
		if closedWithin(ch, waitShort) {
			t.Fatalf("cancel channel closed before any signal")
		}
		if err := l.SignalCancel(ctx, run); err != nil {
			t.Fatalf("SignalCancel: %v", err)
		}
		if !closedWithin(ch, waitLong) {
			t.Fatalf("cancel channel not closed %v after the signal", waitLong)
		}
	})

	t.Run("SignalThenWatch", func(t *testing.T) {
		t.Parallel()
		ctx, l, run := testCtx(t), newLog(t, defaultConfig()), newRunID()
		if err := l.SignalCancel(ctx, run); err != nil {
			t.Fatalf("SignalCancel: %v", err)
		}
		if err := l.SignalCancel(ctx, run); err != nil {
			t.Fatalf("SignalCancel again: %v", err)
		}
		for i := range 2 {
			ch, stop, err := l.WatchCancel(ctx, run)
			if err != nil {
				t.Fatalf("WatchCancel: %v", err)
			}
			if !isClosed(ch) {
				t.Fatalf("watcher %d: channel not closed at once for a run already signalled", i)
			}
			stop()
		}
	})

	t.Run("PerRun", func(t *testing.T) {
		t.Parallel()
		ctx, l, a, b := testCtx(t), newLog(t, defaultConfig()), newRunID(), newRunID()
		chA, stopA, err := l.WatchCancel(ctx, a)
		if err != nil {
			t.Fatalf("WatchCancel(a): %v", err)
		}
		defer stopA()
		chB, stopB, err := l.WatchCancel(ctx, b)
		if err != nil {
			t.Fatalf("WatchCancel(b): %v", err)
		}
		defer stopB()
		if err := l.SignalCancel(ctx, a); err != nil {
			t.Fatalf("SignalCancel(a): %v", err)
		}
		if !closedWithin(chA, waitLong) {
			t.Fatalf("a's channel not closed after a's signal")
		}
		if closedWithin(chB, waitShort) {
			t.Fatalf("b's channel closed by a's signal")
		}
		chB2, stopB2, err := l.WatchCancel(ctx, b)
		if err != nil {
			t.Fatalf("WatchCancel(b) again: %v", err)
		}
		defer stopB2()
		if isClosed(chB2) {
			t.Fatalf("a new watcher of b sees a's signal")
		}
	})

	t.Run("Stop", func(t *testing.T) {
		t.Parallel()
		ctx, l, run := testCtx(t), newLog(t, defaultConfig()), newRunID()
		_, stop1, err := l.WatchCancel(ctx, run)
		if err != nil {
			t.Fatalf("WatchCancel: %v", err)
		}
		ch2, stop2, err := l.WatchCancel(ctx, run)
		if err != nil {
			t.Fatalf("WatchCancel: %v", err)
		}
		stop1()
		stop1() // safe twice
		// A stopped watch does not keep others from being notified, and
		// the signal is still remembered for later watchers.
		if err := l.SignalCancel(ctx, run); err != nil {
			t.Fatalf("SignalCancel: %v", err)
		}
		if !closedWithin(ch2, waitLong) {
			t.Fatalf("remaining watcher not notified")
		}
		stop2()
		stop2()
		ch3, stop3, err := l.WatchCancel(ctx, run)
		if err != nil {
			t.Fatalf("WatchCancel after the stops: %v", err)
		}
		defer stop3()
		if !isClosed(ch3) {
			t.Fatalf("signal forgotten once every watcher stopped")
		}

		// Stopping every watcher before any signal leaves the run
		// watchable afresh.
		other := newRunID()
		_, stop, err := l.WatchCancel(ctx, other)
		if err != nil {
			t.Fatalf("WatchCancel: %v", err)
		}
		stop()
		ch4, stop4, err := l.WatchCancel(ctx, other)
		if err != nil {
			t.Fatalf("WatchCancel again: %v", err)
		}
		defer stop4()
		if isClosed(ch4) {
			t.Fatalf("channel closed without a signal")
		}
		if err := l.SignalCancel(ctx, other); err != nil {
			t.Fatalf("SignalCancel: %v", err)
		}
		if !closedWithin(ch4, waitLong) {
			t.Fatalf("watcher started after a stop not notified")
		}
	})

	t.Run("ManyWatchers", func(t *testing.T) {
		t.Parallel()
		ctx, l, run := testCtx(t), newLog(t, defaultConfig()), newRunID()
		const watchers = 30
		chans := make([]<-chan struct{}, watchers)
		var wg sync.WaitGroup
		for i := range watchers {
			wg.Go(func() {
				ch, stop, err := l.WatchCancel(ctx, run)
				if err != nil {
					t.Errorf("WatchCancel %d: %v", i, err)
					return
				}
				t.Cleanup(stop)
				chans[i] = ch
			})
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		if err := l.SignalCancel(ctx, run); err != nil {
			t.Fatalf("SignalCancel: %v", err)
		}
		for i, ch := range chans {
			wg.Go(func() {
				if !closedWithin(ch, waitLong) {
					t.Errorf("watcher %d not notified", i)
				}
			})
		}
		wg.Wait()
	})
}

// testAfterCancel covers core.AfterCancel on the log: the log's own
// core.CancelNotifier when it has one, else the fallback on WatchCancel.
func testAfterCancel(t *testing.T, newLog NewLogFunc) {
	// called returns a function that records its calls on ch.
	called := func() (func(), chan struct{}) {
		ch := make(chan struct{}, 4)
		return func() { ch <- struct{}{} }, ch
	}
	within := func(ch chan struct{}, d time.Duration) bool {
		select {
		case <-ch:
			return true
		case <-time.After(d):
			return false
		}
	}

	t.Run("SignalCalls", func(t *testing.T) {
		t.Parallel()
		ctx, l, run := testCtx(t), newLog(t, defaultConfig()), newRunID()
		f, calls := called()
		stop, err := core.AfterCancel(ctx, l, run, f)
		if err != nil {
			t.Fatalf("AfterCancel: %v", err)
		}
		defer stop()
		if within(calls, waitShort) {
			t.Fatal("called before any signal")
		}
		if err := l.SignalCancel(ctx, run); err != nil {
			t.Fatalf("SignalCancel: %v", err)
		}
		if !within(calls, waitLong) {
			t.Fatalf("not called %v after the signal", waitLong)
		}
		if err := l.SignalCancel(ctx, run); err != nil {
			t.Fatalf("SignalCancel again: %v", err)
		}
		if within(calls, waitShort) {
			t.Fatal("called twice")
		}
	})

	t.Run("AlreadySignalled", func(t *testing.T) {
		t.Parallel()
		ctx, l, run := testCtx(t), newLog(t, defaultConfig()), newRunID()
		if err := l.SignalCancel(ctx, run); err != nil {
			t.Fatalf("SignalCancel: %v", err)
		}
		f, calls := called()
		stop, err := core.AfterCancel(ctx, l, run, f)
		if err != nil {
			t.Fatalf("AfterCancel: %v", err)
		}
		defer stop()
		if !within(calls, waitLong) {
			t.Fatal("not called for a run already signalled")
		}
	})

	t.Run("StopAndOtherRuns", func(t *testing.T) {
		t.Parallel()
		ctx, l, a, b := testCtx(t), newLog(t, defaultConfig()), newRunID(), newRunID()
		fa, callsA := called()
		stopA, err := core.AfterCancel(ctx, l, a, fa)
		if err != nil {
			t.Fatalf("AfterCancel(a): %v", err)
		}
		fb, callsB := called()
		stopB, err := core.AfterCancel(ctx, l, b, fb)
		if err != nil {
			t.Fatalf("AfterCancel(b): %v", err)
		}
		defer stopB()
		fa2, callsA2 := called()
		stopA2, err := core.AfterCancel(ctx, l, a, fa2)
		if err != nil {
			t.Fatalf("AfterCancel(a) again: %v", err)
		}
		defer stopA2()
		stopA()
		stopA() // safe twice
		if err := l.SignalCancel(ctx, a); err != nil {
			t.Fatalf("SignalCancel(a): %v", err)
		}
		if !within(callsA2, waitLong) {
			t.Fatal("the remaining function of a not called")
		}
		if within(callsA, waitShort) {
			t.Fatal("a stopped function was called")
		}
		if within(callsB, waitShort) {
			t.Fatal("b's function called by a's signal")
		}
	})

	t.Run("RejectsBadInput", func(t *testing.T) {
		t.Parallel()
		ctx, l := testCtx(t), newLog(t, defaultConfig())
		if _, err := core.AfterCancel(ctx, l, "", func() {}); !errors.Is(err, core.ErrInvalid) {
			t.Fatalf("AfterCancel without a run: %v, want ErrInvalid", err)
		}
	})
}
