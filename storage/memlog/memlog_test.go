package memlog

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/internal/testutil"
	"github.com/agentgate/agentgate/storage/eventlogtest"
)

func TestEventLog(t *testing.T) {
	t.Parallel()
	eventlogtest.Run(t, func(t *testing.T, cfg core.EventLogConfig) core.EventLog {
		l := New(cfg)
		t.Cleanup(func() { _ = l.Close() })
		return l
	})
}

// counts returns how many runs and cancel signals the log holds.
func (l *Log) counts() (runs, cancels int) {
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		runs += len(sh.runs)
		cancels += len(sh.cancels)
		sh.mu.Unlock()
	}
	return runs, cancels
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	l := New(core.EventLogConfig{})
	defer l.Close()
	if got := l.Config(); got.MaxEventsPerRun != 10000 || got.Retention != time.Hour || got.MaxEvents != 100000 {
		t.Fatalf("Config() = %+v, want the defaults", got)
	}
}

func TestInvalidInput(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	l := New(core.EventLogConfig{})
	defer l.Close()
	errs := map[string]error{}
	_, errs["Append nil"] = l.Append(ctx, nil)
	_, errs["Append without run"] = l.Append(ctx, &core.Event{Event: core.EventRunStarted})
	_, errs["Read without run"] = l.Read(ctx, core.ReadParams{After: -1})
	_, errs["Read below -1"] = l.Read(ctx, core.ReadParams{RunID: "r", After: -2})
	_, errs["Subscribe below -1"] = l.Subscribe(ctx, core.ReadParams{RunID: "r", After: -2})
	errs["Finish without run"] = l.Finish(ctx, "")
	errs["SignalCancel without run"] = l.SignalCancel(ctx, "")
	_, _, errs["WatchCancel without run"] = l.WatchCancel(ctx, "")
	for name, err := range errs {
		if !errors.Is(err, core.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

func TestClosedErrorIsUnavailable(t *testing.T) {
	t.Parallel()
	l := New(core.EventLogConfig{})
	l.Close()
	if err := l.Ping(t.Context()); !errors.Is(err, ErrClosed) || core.CodeOf(err) != core.CodeUnavailable {
		t.Fatalf("Ping after Close: %v (code %s), want ErrClosed / unavailable", err, core.CodeOf(err))
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestCancelledContext(t *testing.T) {
	t.Parallel()
	l := New(core.EventLogConfig{})
	defer l.Close()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := l.Append(ctx, &core.Event{RunID: "r"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Append with a cancelled context: %v", err)
	}
}

// A subscriber whose run expires under it learns so with a GoneError that
// names the run's event count, instead of waiting forever.
func TestSubscriberOfExpiredRun(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	l := New(core.EventLogConfig{Retention: 50 * time.Millisecond})
	defer l.Close()
	for i := range 3 {
		if _, err := l.Append(ctx, &core.Event{RunID: "r", Content: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	sub, err := l.Subscribe(ctx, core.ReadParams{RunID: "r", After: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if err := l.Finish(ctx, "r"); err != nil {
		t.Fatal(err)
	}
	nctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	_, err = sub.Next(nctx)
	var ge *core.GoneError
	if !errors.As(err, &ge) || ge.FirstIndex != 3 || ge.RunID != "r" {
		t.Fatalf("Next on an expired run: %v, want GoneError{r, 3}", err)
	}
}

// The janitor removes expired runs, abandoned placeholders and old cancel
// signals without anyone looking them up.
func TestJanitor(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	l := New(core.EventLogConfig{Retention: 40 * time.Millisecond})
	defer l.Close()
	for i := range 10 {
		run := fmt.Sprint("run-", i)
		if _, err := l.Append(ctx, &core.Event{RunID: run}); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			if err := l.Finish(ctx, run); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.SignalCancel(ctx, run); err != nil {
			t.Fatal(err)
		}
	}
	sub, err := l.Subscribe(ctx, core.ReadParams{RunID: "placeholder", After: -1})
	if err != nil {
		t.Fatal(err)
	}
	if runs, cancels := l.counts(); runs != 11 || cancels != 10 {
		t.Fatalf("holding %d runs and %d cancels, want 11 and 10", runs, cancels)
	}
	sub.Close() // removes the placeholder at once
	if runs, _ := l.counts(); runs != 10 {
		t.Fatalf("holding %d runs after the placeholder's subscriber left, want 10", runs)
	}
	testutil.Eventually(t, 3*time.Second, "the janitor", func() bool {
		runs, cancels := l.counts()
		return runs == 5 && cancels == 0
	})
}

// Watches that stop before any signal leave nothing behind.
func TestWatchStopReleases(t *testing.T) {
	t.Parallel()
	l := New(core.EventLogConfig{})
	defer l.Close()
	var stops []func()
	for range 5 {
		_, stop, err := l.WatchCancel(t.Context(), "r")
		if err != nil {
			t.Fatal(err)
		}
		stops = append(stops, stop)
	}
	for _, stop := range stops {
		stop()
		stop()
	}
	if _, cancels := l.counts(); cancels != 0 {
		t.Fatalf("holding %d cancel signals after every watch stopped", cancels)
	}
}

// The ring buffer grows in steps and wraps; reads across the wrap are in
// order.
func TestRingWraps(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	const keep = 100 // grows 16, 32, 64, 100
	l := New(core.EventLogConfig{MaxEventsPerRun: keep})
	defer l.Close()
	for i := range 1000 {
		if _, err := l.Append(ctx, &core.Event{RunID: "r", Content: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
		first := max(0, i+1-keep)
		evs, err := l.Read(ctx, core.ReadParams{RunID: "r", After: int64(first) - 1})
		if err != nil || len(evs) != i+1-first {
			t.Fatalf("after %d appends: %d events, %v", i+1, len(evs), err)
		}
		for j, ev := range evs {
			if ev.EventIndex != int64(first+j) || ev.Content != fmt.Sprint(first+j) {
				t.Fatalf("after %d appends: event %d is %d/%s", i+1, j, ev.EventIndex, ev.Content)
			}
		}
	}
	r := l.lookup("r", false, false)
	capacity := len(r.buf)
	r.mu.RUnlock()
	if capacity != keep {
		t.Fatalf("ring capacity %d, want %d", capacity, keep)
	}
}

func BenchmarkAppend(b *testing.B) {
	l := New(core.EventLogConfig{})
	defer l.Close()
	ctx := context.Background()
	ev := core.Event{Event: core.EventRunContent, RunID: "bench", Content: "delta"}
	b.ReportAllocs()
	for b.Loop() {
		e := ev
		if _, err := l.Append(ctx, &e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendParallel appends from GOMAXPROCS goroutines, each to its
// own run.
func BenchmarkAppendParallel(b *testing.B) {
	l := New(core.EventLogConfig{})
	defer l.Close()
	ctx := context.Background()
	var n sync.Mutex
	id := 0
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		n.Lock()
		run := fmt.Sprint("bench-", id)
		id++
		n.Unlock()
		for pb.Next() {
			if _, err := l.Append(ctx, &core.Event{Event: core.EventRunContent, RunID: run, Content: "delta"}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkAppend10Subscribers appends to a run that 10 subscribers follow;
// b.N is the number of events, and the time includes every subscriber
// receiving every event. The run keeps every event, so that no subscriber
// is overtaken by trimming.
func BenchmarkAppend10Subscribers(b *testing.B) {
	const subscribers = 10
	l := New(core.EventLogConfig{MaxEventsPerRun: b.N})
	defer l.Close()
	ctx := context.Background()
	var wg sync.WaitGroup
	total := b.N
	for range subscribers {
		sub, err := l.Subscribe(ctx, core.ReadParams{RunID: "bench", After: -1})
		if err != nil {
			b.Fatal(err)
		}
		wg.Go(func() {
			defer sub.Close()
			for range total {
				if _, err := sub.Next(ctx); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range total {
		if _, err := l.Append(ctx, &core.Event{Event: core.EventRunContent, RunID: "bench", Content: "delta"}); err != nil {
			b.Fatal(err)
		}
	}
	wg.Wait()
}
