package prom_test

import (
	"context"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/metric/prom"
	"github.com/agentgate/agentgate/storage/memlog"
)

// sharedLog looks like redislog: finishing and batch appends, and a
// follower registry.
type sharedLog struct {
	core.EventLog // only EventLog's methods: memlog's others are not a shared log's
	mem           *memlog.Log
	follows       int
}

func (s *sharedLog) AppendFinish(ctx context.Context, ev *core.Event) (int64, error) {
	return s.mem.Append(ctx, ev)
}

func (s *sharedLog) AppendAll(ctx context.Context, evs []*core.Event, finish bool) (int64, error) {
	return s.mem.AppendAll(ctx, evs, finish)
}

func (s *sharedLog) Follow(context.Context, string, time.Duration) (func(), error) {
	s.follows++
	return func() {}, nil
}

func (s *sharedLog) FollowedUntil(context.Context, string) (time.Time, error) {
	return time.Unix(42, 0), nil
}

// TestEventLogWrapperKeepsFollowers: a shared log's follower registry
// survives the wrapper (the engine learns of followers on other replicas
// through it).
func TestEventLogWrapperKeepsFollowers(t *testing.T) {
	mem := memlog.New(core.EventLogConfig{})
	inner := &sharedLog{EventLog: mem, mem: mem}
	log := prom.WrapEventLog(inner, prom.New())
	defer log.Close()
	fr, ok := log.(core.FollowerRegistry)
	if !ok {
		t.Fatal("the wrapper lost the follower registry")
	}
	if _, ok := log.(core.FinishingAppender); !ok {
		t.Fatal("the wrapper lost AppendFinish")
	}
	if _, ok := log.(core.BatchAppender); !ok {
		t.Fatal("the wrapper lost AppendAll")
	}
	if _, err := fr.Follow(context.Background(), "r", time.Second); err != nil || inner.follows != 1 {
		t.Fatalf("follow: %v, %d", err, inner.follows)
	}
	if until, _ := fr.FollowedUntil(context.Background(), "r"); until.Unix() != 42 {
		t.Fatalf("followed until %v", until)
	}
}

// cancelSharedLog looks like redislog since it notifies cancels itself:
// finishing and batch appends, a cancel notifier and a follower registry.
type cancelSharedLog struct {
	sharedLog
	afterCancels int
}

func (s *cancelSharedLog) AfterCancel(ctx context.Context, runID string, f func()) (func(), error) {
	s.afterCancels++
	return s.mem.AfterCancel(ctx, runID, f)
}

// TestEventLogWrapperKeepsRedisLogInterfaces: a log with redislog's
// optional interfaces (finishing, batch, cancel notifier, followers) keeps
// every one through the wrapper. Losing BatchAppender made each held event
// of a blocking run a round trip of its own (issue #20).
func TestEventLogWrapperKeepsRedisLogInterfaces(t *testing.T) {
	mem := memlog.New(core.EventLogConfig{})
	inner := &cancelSharedLog{sharedLog: sharedLog{EventLog: mem, mem: mem}}
	log := prom.WrapEventLog(inner, prom.New())
	defer log.Close()
	if _, ok := log.(core.FinishingAppender); !ok {
		t.Fatal("the wrapper lost AppendFinish")
	}
	ba, ok := log.(core.BatchAppender)
	if !ok {
		t.Fatal("the wrapper lost AppendAll")
	}
	cn, ok := log.(core.CancelNotifier)
	if !ok {
		t.Fatal("the wrapper lost AfterCancel")
	}
	if _, ok := log.(core.FollowerRegistry); !ok {
		t.Fatal("the wrapper lost the follower registry")
	}
	if pl, ok := log.(core.ProcessLocal); ok && pl.ProcessLocal() {
		t.Fatal("the wrapper says the log is process-local; it has no ProcessLocal")
	}
	ctx := context.Background()
	evs := []*core.Event{{RunID: "r", Event: core.EventRunContent}, {RunID: "r", Event: core.EventRunContent}}
	if first, err := ba.AppendAll(ctx, evs, false); err != nil || first != 0 {
		t.Fatalf("append all: %d, %v", first, err)
	}
	if got, err := log.Read(ctx, core.ReadParams{RunID: "r", After: -1}); err != nil || len(got) != 2 {
		t.Fatalf("read after append all: %d events, %v", len(got), err)
	}
	fired := make(chan struct{})
	stop, err := cn.AfterCancel(ctx, "r", func() { close(fired) })
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if inner.afterCancels != 1 {
		t.Fatalf("AfterCancel reached the log %d times, want 1", inner.afterCancels)
	}
	if err := log.SignalCancel(ctx, "r"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-fired:
	case <-time.After(5 * time.Second):
		t.Fatal("the cancel signal did not reach AfterCancel's callback")
	}
}
