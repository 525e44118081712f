// Package eventlogtest is the conformance suite for core.EventLog, shared by
// every implementation (storage/memlog, storage/redislog) in the style of
// river's riverdrivertest: one exported entry point, one file per behaviour
// area, parallel subtests that each get a fresh log from the caller's
// factory.
//
// Usage, from an implementation's _test.go file:
//
//	func TestEventLog(t *testing.T) {
//		eventlogtest.Run(t, func(t *testing.T, cfg core.EventLogConfig) core.EventLog {
//			l := memlog.New(cfg)
//			t.Cleanup(func() { l.Close() })
//			return l
//		})
//	}
//
// The factory must return a log configured with cfg and arrange its Close
// (the Close tests close the log themselves first, so Close must tolerate a
// second call; its result is ignored). Logs may share one backend: every
// test uses run ids with a random suffix and never assumes the log is
// empty.
//
// Beyond the letter of core.EventLog, the suite requires:
//   - exact trimming: after more than MaxEventsPerRun appends, exactly the
//     newest MaxEventsPerRun events are kept (Redis: MAXLEN =, not ~);
//   - a Subscription stays usable after Next returned ctx's error (the SSE
//     adapter calls Next with a heartbeat timeout and then calls it again);
//   - a cursor older than what is kept fails at Subscribe itself;
//   - a *core.GoneError names the run (RunID) as well as FirstIndex;
//   - runs that were never finished do not expire within a second;
//   - Finish of a run without events returns nil or ErrNotFound;
//   - a run holding no events reads as ErrNotFound even while someone
//     subscribes to it.
//
// The suite takes about a second (retention tests wait a few hundred
// milliseconds) and is clean under the race detector. A Next that ignores
// its context fails the test instead of hanging it.
package eventlogtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
)

// NewLogFunc returns a fresh event log configured with cfg, closed when t
// ends.
type NewLogFunc = func(t *testing.T, cfg core.EventLogConfig) core.EventLog

// Run runs the whole conformance suite against the logs newLog returns.
func Run(t *testing.T, newLog func(t *testing.T, cfg core.EventLogConfig) core.EventLog) {
	t.Helper()
	areas := []struct {
		name string
		fn   func(*testing.T, NewLogFunc)
	}{
		{"Append", testAppend},
		{"Batch", testBatch},
		{"Read", testRead},
		{"Subscribe", testSubscribe},
		{"Trim", testTrim},
		{"Retention", testRetention},
		{"Cancel", testCancel},
		{"AfterCancel", testAfterCancel},
		{"Lifecycle", testLifecycle},
	}
	for _, a := range areas {
		t.Run(a.name, func(t *testing.T) {
			t.Parallel()
			a.fn(t, newLog)
		})
	}
}

// Timeouts. waitLong bounds anything that should happen "soon"; it only
// matters when an implementation is broken, so it is generous.
const (
	waitLong  = 3 * time.Second
	waitShort = 50 * time.Millisecond // for "nothing happens" checks
)

// defaultConfig is roomy enough that tests not about limits never hit them.
func defaultConfig() core.EventLogConfig {
	return core.EventLogConfig{MaxEventsPerRun: 1000, Retention: time.Minute}
}

// newRunID returns a run id unique across processes sharing a backend.
func newRunID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "eventlogtest-" + hex.EncodeToString(b[:])
}

// testCtx returns a context that ends with t or after 10 s.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func content(i int64) string { return fmt.Sprintf("c%d", i) }

// newEvent returns the event the suite appends as index i of runID. Its
// EventIndex is deliberately wrong: Append must overwrite it.
func newEvent(runID string, i int64) *core.Event {
	return &core.Event{
		Event:      core.EventRunContent,
		EventIndex: -7,
		RunID:      runID,
		SessionID:  "session-" + runID,
		AgentID:    "agent",
		CreatedAt:  1_700_000_000 + i,
		Content:    content(i),
	}
}

// appendRange appends the events [from, to) of runID and checks the
// indices they are given.
func appendRange(t *testing.T, ctx context.Context, l core.EventLog, runID string, from, to int64) {
	t.Helper()
	for i := from; i < to; i++ {
		ev := newEvent(runID, i)
		got, err := l.Append(ctx, ev)
		if err != nil {
			t.Fatalf("Append(%s #%d): %v", runID, i, err)
		}
		if got != i || ev.EventIndex != i {
			t.Fatalf("Append(%s #%d): returned %d and set EventIndex %d, want %d", runID, i, got, ev.EventIndex, i)
		}
	}
}

// checkEvent reports whether ev is the suite's event i of runID.
func checkEvent(ev core.Event, runID string, i int64) error {
	if ev.EventIndex != i || ev.RunID != runID || ev.Content != content(i) ||
		ev.Event != core.EventRunContent || ev.SessionID != "session-"+runID || ev.CreatedAt != 1_700_000_000+i {
		return fmt.Errorf("got event {index %d, run %s, content %q, type %s, session %s, created %d}, want index %d of run %s",
			ev.EventIndex, ev.RunID, ev.Content, ev.Event, ev.SessionID, ev.CreatedAt, i, runID)
	}
	return nil
}

// checkEvents checks that evs are exactly the suite's events [from, to).
func checkEvents(t *testing.T, evs []core.Event, runID string, from, to int64) {
	t.Helper()
	if int64(len(evs)) != to-from {
		idx := make([]int64, len(evs))
		for i, ev := range evs {
			idx[i] = ev.EventIndex
		}
		t.Fatalf("got %d events %v, want indices [%d, %d)", len(evs), idx, from, to)
	}
	for i, ev := range evs {
		if err := checkEvent(ev, runID, from+int64(i)); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
	}
}

// mustRead reads and fails t on error.
func mustRead(t *testing.T, ctx context.Context, l core.EventLog, p core.ReadParams) []core.Event {
	t.Helper()
	evs, err := l.Read(ctx, p)
	if err != nil {
		t.Fatalf("Read(%+v): %v", p, err)
	}
	return evs
}

// mustSubscribe subscribes and closes the subscription when t ends.
func mustSubscribe(t *testing.T, ctx context.Context, l core.EventLog, p core.ReadParams) core.Subscription {
	t.Helper()
	sub, err := l.Subscribe(ctx, p)
	if err != nil {
		t.Fatalf("Subscribe(%+v): %v", p, err)
	}
	t.Cleanup(func() { _ = sub.Close() })
	return sub
}

// next returns sub's next event, waiting at most waitLong. A Next that
// ignores its context is reported as an error rather than hanging the suite
// (its goroutine is leaked then).
func next(ctx context.Context, sub core.Subscription) (core.Event, error) {
	ctx, cancel := context.WithTimeout(ctx, waitLong)
	defer cancel()
	return nextCtx(ctx, sub)
}

// nextCtx calls sub.Next(ctx), which must return within waitLong plus a
// second (ctx is expected to end before that).
func nextCtx(ctx context.Context, sub core.Subscription) (core.Event, error) {
	type result struct {
		ev  core.Event
		err error
	}
	done := make(chan result, 1)
	go func() {
		ev, err := sub.Next(ctx)
		done <- result{ev, err}
	}()
	watchdog := time.NewTimer(waitLong + time.Second)
	defer watchdog.Stop()
	select {
	case r := <-done:
		return r.ev, r.err
	case <-watchdog.C:
		return core.Event{}, errNextHung
	}
}

var errNextHung = errors.New("Next did not return when its context ended")

// expectNext checks that sub's next events are the suite's [from, to).
func expectNext(t *testing.T, ctx context.Context, sub core.Subscription, runID string, from, to int64) {
	t.Helper()
	for i := from; i < to; i++ {
		ev, err := next(ctx, sub)
		if err != nil {
			t.Fatalf("Next (want index %d): %v", i, err)
		}
		if err := checkEvent(ev, runID, i); err != nil {
			t.Fatalf("Next: %v", err)
		}
	}
}

// expectGone checks that err is a *core.GoneError for runID naming first.
func expectGone(t *testing.T, err error, runID string, first int64) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want a GoneError with FirstIndex %d", first)
	}
	if !errors.Is(err, core.ErrGone) {
		t.Fatalf("got %v, want an error matching core.ErrGone", err)
	}
	var ge *core.GoneError
	if !errors.As(err, &ge) {
		t.Fatalf("got %v (%T), want a *core.GoneError in the chain", err, err)
	}
	if ge.FirstIndex != first {
		t.Fatalf("GoneError.FirstIndex = %d, want %d (%v)", ge.FirstIndex, first, err)
	}
	if ge.RunID != runID {
		t.Fatalf("GoneError.RunID = %q, want %q", ge.RunID, runID)
	}
}

// expectNotFound checks that err matches core.ErrNotFound.
func expectNotFound(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("got %v, want an error matching core.ErrNotFound", err)
	}
}

// isClosed reports whether ch is closed, without waiting.
func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// closedWithin reports whether ch is closed within d.
func closedWithin(ch <-chan struct{}, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ch:
		return true
	case <-timer.C:
		return false
	}
}
