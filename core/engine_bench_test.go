package core_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/agent"
	"github.com/agentgate/agentgate/core/model/scripted"
	"github.com/agentgate/agentgate/storage/memlog"
	"github.com/agentgate/agentgate/storage/sqlite"
)

// BenchmarkEngineRun measures Start + Wait of a scripted agent (5 content
// chunks) on SQLite + the in-memory log, with parallel callers.
func BenchmarkEngineRun(b *testing.B) {
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
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			run, err := eng.Start(ctx, core.StartParams{AgentID: "bench", Message: "hello"})
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
	_ = eng.Close(ctx)
}
