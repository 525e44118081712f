package prom_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/metric/prom"
	"github.com/agentgate/agentgate/storage/memlog"
)

// Parts of a log: each adds one optional interface to a bare EventLog.
type (
	finishPart struct{ mem *memlog.Log }
	batchPart  struct{ mem *memlog.Log }
	followPart struct{}
)

func (p finishPart) AppendFinish(ctx context.Context, ev *core.Event) (int64, error) {
	return p.mem.Append(ctx, ev)
}

func (p batchPart) AppendAll(ctx context.Context, evs []*core.Event, finish bool) (int64, error) {
	return p.mem.AppendAll(ctx, evs, finish)
}

func (followPart) Follow(context.Context, string, time.Duration) (func(), error) {
	return func() {}, nil
}

func (followPart) FollowedUntil(context.Context, string) (time.Time, error) { return time.Time{}, nil }

// bareLog hides memlog's optional methods: only EventLog's remain.
type bareLog struct{ core.EventLog }

// logWith is a log with exactly the optional interfaces named by the bits
// of k: 1 FinishingAppender, 2 BatchAppender, 4 FollowerRegistry.
func logWith(k int, mem *memlog.Log) core.EventLog {
	b, fa, ba, fr := bareLog{mem}, finishPart{mem}, batchPart{mem}, followPart{}
	return [8]core.EventLog{
		b,
		struct {
			bareLog
			finishPart
		}{b, fa},
		struct {
			bareLog
			batchPart
		}{b, ba},
		struct {
			bareLog
			finishPart
			batchPart
		}{b, fa, ba},
		struct {
			bareLog
			followPart
		}{b, fr},
		struct {
			bareLog
			finishPart
			followPart
		}{b, fa, fr},
		struct {
			bareLog
			batchPart
			followPart
		}{b, ba, fr},
		struct {
			bareLog
			finishPart
			batchPart
			followPart
		}{b, fa, ba, fr},
	}[k]
}

// TestEventLogWrapperKeepsEveryCombination: in each of the eight
// combinations of the interfaces the engine cannot do without when a log
// has them, the wrapped log has exactly the inner log's; it always
// answers CancelNotifier (through the inner log's WatchCancel here) and
// ProcessLocal (false, as for a log without it).
func TestEventLogWrapperKeepsEveryCombination(t *testing.T) {
	ctx := context.Background()
	for k := range 8 {
		t.Run(fmt.Sprint(k), func(t *testing.T) {
			mem := memlog.New(core.EventLogConfig{})
			defer mem.Close()
			inner := logWith(k, mem)
			log := prom.WrapEventLog(inner, prom.New())
			has := func(l core.EventLog) [3]bool {
				_, fa := l.(core.FinishingAppender)
				_, ba := l.(core.BatchAppender)
				_, fr := l.(core.FollowerRegistry)
				return [3]bool{fa, ba, fr}
			}
			if want := [3]bool{k&1 != 0, k&2 != 0, k&4 != 0}; has(inner) != want || has(log) != want {
				t.Fatalf("finishing, batch, followers: inner %v, wrapped %v, want %v", has(inner), has(log), want)
			}
			if pl, ok := log.(core.ProcessLocal); !ok || pl.ProcessLocal() {
				t.Fatalf("ProcessLocal: %v", ok)
			}
			cn, ok := log.(core.CancelNotifier)
			if !ok {
				t.Fatal("no CancelNotifier")
			}
			fired := make(chan struct{})
			stop, err := cn.AfterCancel(ctx, "r", func() { close(fired) })
			if err != nil {
				t.Fatal(err)
			}
			defer stop()
			if err := log.SignalCancel(ctx, "r"); err != nil {
				t.Fatal(err)
			}
			select {
			case <-fired:
			case <-time.After(5 * time.Second):
				t.Fatal("a cancel did not reach AfterCancel")
			}
		})
	}
}

// TestEventLogWrapperAsksTheLog: a log's own ProcessLocal answer and
// CancelNotifier are what the wrapper answers.
func TestEventLogWrapperAsksTheLog(t *testing.T) {
	mem := memlog.New(core.EventLogConfig{})
	log := prom.WrapEventLog(mem, prom.New())
	defer log.Close()
	if !log.(core.ProcessLocal).ProcessLocal() {
		t.Fatal("memlog is process-local; the wrapper says it is not")
	}
	fired := make(chan struct{})
	stop, err := log.(core.CancelNotifier).AfterCancel(context.Background(), "r", func() { close(fired) })
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if err := mem.SignalCancel(context.Background(), "r"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-fired:
	case <-time.After(5 * time.Second):
		t.Fatal("memlog's cancel did not reach AfterCancel")
	}
}
