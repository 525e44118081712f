package redislog

// Benchmarks of the log against raw go-redis XADDs of the same payload, the
// floor for any Redis Streams log: compare BenchmarkAppend with
// BenchmarkRawXADD, and so on. All need the test Redis (see
// redislog_test.go).

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/internal/cputime"
)

// benchEvent is a typical text delta.
func benchEvent(run string) *core.Event {
	return &core.Event{
		Event: core.EventRunContent, RunID: run, SessionID: "session-0123456789",
		AgentID: "agent", AgentName: "Agent", CreatedAt: 1_700_000_000,
		Content: "a streamed delta of a few words ", ContentType: "str",
	}
}

// benchPayload is benchEvent's stored JSON, for the raw XADDs.
func benchPayload(tb testing.TB, run string) string {
	var buf bytes.Buffer
	head, tail, err := encode(&buf, benchEvent(run))
	if err != nil {
		tb.Fatal(err)
	}
	return string(head) + "0" + string(tail)
}

func BenchmarkAppend(b *testing.B) {
	l := newLog(b, Config{})
	ctx := context.Background()
	run := newRun()
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		if _, err := l.Append(ctx, benchEvent(run)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendParallel appends from many goroutines, each to its own run.
func BenchmarkAppendParallel(b *testing.B) {
	l := newLog(b, Config{})
	ctx := context.Background()
	b.ReportAllocs()
	b.SetParallelism(4)
	defer reportCPU(b)()
	b.RunParallel(func(pb *testing.PB) {
		run := newRun()
		for pb.Next() {
			if _, err := l.Append(ctx, benchEvent(run)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkAppendManyRuns appends from 256 goroutines, each to its own
// run, as the streams of a busy gateway do. Besides the time it reports
// the process's CPU time per append and the round trips to Redis per
// append (pipelines and single commands, counted by a hook).
func BenchmarkAppendManyRuns(b *testing.B) {
	l := newLog(b, Config{})
	rt := countRoundTrips(l.rdb)
	ctx := context.Background()
	b.ReportAllocs()
	b.SetParallelism(128)
	rt0 := rt.Load()
	defer reportCPU(b)()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		run := newRun()
		for pb.Next() {
			if _, err := l.Append(ctx, benchEvent(run)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(rt.Load()-rt0)/float64(b.N), "roundtrips/op")
}

// reportCPU reports the process's CPU time per op from now until the
// returned function is called.
func reportCPU(b *testing.B) func() {
	cpu0, _ := cputime.Process()
	return func() {
		cpu1, _ := cputime.Process()
		b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkAppendPaced appends as 1,000 streams of 20 tokens/s do (each
// run one event every 50 ms, the runs' phases spread): appends rarely meet,
// so this is the cost of an append that mostly goes alone. b.N appends take
// b.N/20,000 s.
func BenchmarkAppendPaced(b *testing.B) {
	for _, w := range []time.Duration{-1, 100 * time.Microsecond, DefaultAppendWindow, 500 * time.Microsecond, time.Millisecond} {
		b.Run(fmt.Sprint("window=", max(w, 0)), func(b *testing.B) { benchAppendPaced(b, Config{AppendWindow: w}) })
	}
}

func benchAppendPaced(b *testing.B, cfg Config) {
	const runs, every = 1000, 50 * time.Millisecond
	l := newLog(b, cfg)
	rt := countRoundTrips(l.rdb)
	ctx := context.Background()
	b.ReportAllocs()
	rt0 := rt.Load()
	defer reportCPU(b)()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	lat := make([][]time.Duration, runs)
	for r := range runs {
		n := b.N / runs
		if r < b.N%runs {
			n++
		}
		wg.Go(func() {
			run := newRun()
			at := start.Add(every * time.Duration(r) / runs)
			for range n {
				time.Sleep(time.Until(at))
				t0 := time.Now()
				if _, err := l.Append(ctx, benchEvent(run)); err != nil {
					b.Error(err)
					return
				}
				lat[r] = append(lat[r], time.Since(t0))
				at = at.Add(every)
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(rt.Load()-rt0)/float64(b.N), "roundtrips/op")
	all := slices.Concat(lat...)
	slices.Sort(all)
	if len(all) > 0 {
		b.ReportMetric(float64(all[len(all)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-µs")
	}
}

// countRoundTrips adds a hook to rdb that counts the commands sent on
// their own and the pipelines sent (each one round trip).
func countRoundTrips(rdb *redis.Client) *atomic.Int64 {
	var n atomic.Int64
	rdb.AddHook(roundTripHook{&n})
	return &n
}

type roundTripHook struct{ n *atomic.Int64 }

func (roundTripHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h roundTripHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}

func (h roundTripHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}

// BenchmarkAppendParallelOneRun appends from many goroutines to one run.
func BenchmarkAppendParallelOneRun(b *testing.B) {
	l := newLog(b, Config{})
	ctx := context.Background()
	run := newRun()
	b.ReportAllocs()
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := l.Append(ctx, benchEvent(run)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkAppendBatch64 appends 64 events per AppendBatch; one op is one
// event.
func BenchmarkAppendBatch64(b *testing.B) {
	const n = 64
	l := newLog(b, Config{})
	ctx := context.Background()
	run := newRun()
	evs := make([]*core.Event, n)
	b.ReportAllocs()
	for i := 0; i < b.N; i += n {
		for j := range evs {
			evs[j] = benchEvent(run)
		}
		if _, err := l.AppendBatch(ctx, evs[:min(n, b.N-i)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTailLatency measures an append and its arrival at a subscriber
// that waits for it (in XREAD BLOCK), one event at a time.
func BenchmarkTailLatency(b *testing.B) {
	l := newLog(b, Config{})
	ctx := context.Background()
	run := newRun()
	sub, err := l.Subscribe(ctx, core.ReadParams{RunID: run, After: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Close()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.Append(ctx, benchEvent(run)); err != nil {
			b.Fatal(err)
		}
		if _, err := sub.Next(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// rawClient returns a plain client and a fresh key under a prefix that is
// deleted when b ends.
func rawClient(b *testing.B) (*redis.Client, string) {
	adminClient(b)
	opts, err := redis.ParseURL(testURL())
	if err != nil {
		b.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	prefix := newPrefix()
	b.Cleanup(func() {
		_ = rdb.Close()
		deletePrefix(b, prefix)
	})
	return rdb, prefix
}

func rawXADD(ctx context.Context, c redis.Cmdable, key, payload string, id int64) error {
	return c.XAdd(ctx, &redis.XAddArgs{
		Stream: key, MaxLen: 10000, ID: fmt.Sprintf("%d-1", id), Values: []any{"e", payload},
	}).Err()
}

// BenchmarkRawXADD is the baseline of BenchmarkAppend: XADD MAXLEN = with
// an explicit ID, no script.
func BenchmarkRawXADD(b *testing.B) {
	rdb, prefix := rawClient(b)
	ctx := context.Background()
	key, payload := prefix+"raw", benchPayload(b, "run")
	var id int64
	b.ReportAllocs()
	for b.Loop() {
		if err := rawXADD(ctx, rdb, key, payload, id); err != nil {
			b.Fatal(err)
		}
		id++
	}
}

// BenchmarkRawXADDParallel is the baseline of BenchmarkAppendParallel.
func BenchmarkRawXADDParallel(b *testing.B) {
	rdb, prefix := rawClient(b)
	ctx := context.Background()
	payload := benchPayload(b, "run")
	var streams atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		key := fmt.Sprint(prefix, "raw-", streams.Add(1))
		var id int64
		for pb.Next() {
			if err := rawXADD(ctx, rdb, key, payload, id); err != nil {
				b.Error(err)
				return
			}
			id++
		}
	})
}

// BenchmarkRawXADDPipelined64 is the baseline of BenchmarkAppendBatch64:
// 64 XADDs per pipeline.
func BenchmarkRawXADDPipelined64(b *testing.B) {
	const n = 64
	rdb, prefix := rawClient(b)
	ctx := context.Background()
	key, payload := prefix+"raw", benchPayload(b, "run")
	var id int64
	b.ReportAllocs()
	for i := 0; i < b.N; i += n {
		pipe := rdb.Pipeline()
		for range min(n, b.N-i) {
			_ = rawXADD(ctx, pipe, key, payload, id)
			id++
		}
		if _, err := pipe.Exec(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
