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
