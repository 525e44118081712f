package core_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/agent"
	"github.com/agentgate/agentgate/core/model/scripted"
	"github.com/agentgate/agentgate/internal/cputime"
	"github.com/agentgate/agentgate/storage/memlog"
	"github.com/agentgate/agentgate/storage/sqlite"
)

// BenchmarkEngineRun measures Start + Wait of a scripted agent (5 content
// chunks) on SQLite + the in-memory log, with parallel callers: a
// foreground run as a stream starts it, and a blocking one (REST's
// stream=false), whose events are held until it ends. Besides the wall time
// per run it reports the process's CPU time per run (cpu-µs/op), which is
// what the callers, the engine and the SQLite writer cost together: wall
// time alone hides how much of the machine a run takes.
func BenchmarkEngineRun(b *testing.B) {
	b.Run("foreground", func(b *testing.B) { benchmarkEngineRun(b, false) })
	b.Run("blocking", func(b *testing.B) { benchmarkEngineRun(b, true) })
}

func benchmarkEngineRun(b *testing.B, blocking bool) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, "sqlite://"+filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	log := memlog.New(core.EventLogConfig{})
	defer log.Close()
	eng, err := core.NewEngine(core.EngineConfig{Store: store, Log: log})
	if err != nil {
		b.Fatal(err)
	}
	a, err := agent.New(agent.Config{ID: "bench", Model: scripted.New(scripted.Config{Chunks: 5, Rules: []scripted.Rule{{Reply: "one two three four five"}}})})
	if err != nil {
		b.Fatal(err)
	}
	if err := eng.RegisterAgent(a); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetParallelism(16) // 32 concurrent callers on 2 CPUs, like the load tool
	b.ResetTimer()
	cpu0, cpuOK := cputime.Process()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			run, err := eng.Start(ctx, core.StartParams{AgentID: "bench", Message: "hello", Blocking: blocking})
			if err != nil {
				b.Error(err)
				return
			}
			if _, err := eng.Wait(ctx, run.RunID, -1); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	if cpu1, ok := cputime.Process(); ok && cpuOK {
		b.ReportMetric(float64((cpu1-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
	}
	_ = eng.Close(ctx)
}
