package redislog

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/internal/cputime"
)

// BenchmarkFollowPaced is the follower side of the paced profile in small:
// one Log (replica A) appends to followRuns runs, one event every 50 ms each
// (20 events/s, spread over the period), and another Log (replica B)
// follows every run. Each iteration is one event per run. It reports the
// process's CPU per event (both Logs: the appends are the same either way,
// the difference is the followers'), the Redis server's CPU per event
// (INFO cpu, so other load on the server counts too) and the delivery
// latency from the start of the append to the follower's Next, p50 and p99.
func BenchmarkFollowPaced(b *testing.B) {
	const followRuns = 500
	const period = 50 * time.Millisecond
	ctx := context.Background()
	prefix := newPrefix()
	a := newLog(b, Config{Prefix: prefix})
	f := newLog(b, Config{Prefix: prefix})
	runs := make([]string, followRuns)
	subs := make([]core.Subscription, followRuns)
	for r := range runs {
		runs[r] = newRun()
		mustAppendB(b, a, runs[r], 0)
		sub, err := f.Subscribe(ctx, core.ReadParams{RunID: runs[r], After: 0})
		if err != nil {
			b.Fatal(err)
		}
		defer sub.Close()
		subs[r] = sub
	}
	n := b.N
	sent := make([][]time.Time, followRuns)
	lat := make([][]time.Duration, followRuns)
	for r := range sent {
		sent[r] = make([]time.Time, n+1)
		lat[r] = make([]time.Duration, 0, n)
	}
	var followers sync.WaitGroup
	for r := range subs {
		followers.Go(func() {
			for i := 1; i <= n; i++ {
				nctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				ev, err := subs[r].Next(nctx)
				cancel()
				if err != nil || ev.EventIndex != int64(i) {
					b.Errorf("run %d: %d, %v; want %d", r, ev.EventIndex, err, i)
					return
				}
				lat[r] = append(lat[r], time.Since(sent[r][i]))
			}
		})
	}
	redisBefore := redisCPU(b)
	cpuBefore, _ := cputime.Process()
	b.ResetTimer()
	var appenders sync.WaitGroup
	start := time.Now()
	for r := range runs {
		appenders.Go(func() {
			next := start.Add(period * time.Duration(r) / followRuns)
			for i := 1; i <= n; i++ {
				time.Sleep(time.Until(next))
				next = next.Add(period)
				sent[r][i] = time.Now()
				if _, err := a.Append(ctx, event(runs[r], i)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	appenders.Wait()
	followers.Wait()
	b.StopTimer()
	cpu, _ := cputime.Process()
	redis := redisCPU(b) - redisBefore
	events := float64(n * followRuns)
	b.ReportMetric(float64((cpu-cpuBefore).Microseconds())/events, "cpu-µs/event")
	b.ReportMetric(float64(redis.Microseconds())/events, "redis-µs/event")
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	if len(all) > 0 {
		b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
	}
	b.ReportMetric(0, "ns/op")
}

func mustAppendB(b *testing.B, l *Log, run string, i int) {
	b.Helper()
	if _, err := l.Append(context.Background(), event(run, i)); err != nil {
		b.Fatal(err)
	}
}

// redisCPU is the Redis server's used_cpu_sys + used_cpu_user.
func redisCPU(b *testing.B) time.Duration {
	b.Helper()
	info, err := adminClient(b).Info(context.Background(), "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	var total float64
	for line := range strings.SplitSeq(info, "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(line), ":")
		if k == "used_cpu_sys" || k == "used_cpu_user" {
			f, _ := strconv.ParseFloat(v, 64)
			total += f
		}
	}
	return time.Duration(total * float64(time.Second))
}
