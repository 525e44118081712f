package team_test

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/agent"
	"github.com/agentgate/agentgate/core/model/scripted"
	"github.com/agentgate/agentgate/core/team"
	"github.com/agentgate/agentgate/internal/cputime"
	"github.com/agentgate/agentgate/storage/memlog"
	"github.com/agentgate/agentgate/storage/sqlite"
)

// BenchmarkBroadcastTeam compares a 3-member broadcast team (no leader:
// the answers are joined) with the same 3 members run as 3 separate agent
// runs at once, on SQLite + the in-memory log. Each op is one team run,
// then one set of 3 agent runs; it reports each side's process CPU time
// per op (team-cpu-µs/op, agents-cpu-µs/op) and their ratio (cpu-ratio:
// what the team's orchestration costs over its members), and the time
// from the start to the first content event (ttfe-µs) of each and their
// ratio.
func BenchmarkBroadcastTeam(b *testing.B) {
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
	ids := []string{"m1", "m2", "m3"}
	var members []team.Member
	for _, id := range ids {
		a, err := agent.New(agent.Config{ID: id, Model: scripted.New(scripted.Config{Chunks: 5, Rules: []scripted.Rule{{Reply: "one two three four five"}}})})
		if err != nil {
			b.Fatal(err)
		}
		if err := eng.RegisterAgent(a); err != nil {
			b.Fatal(err)
		}
		members = append(members, team.Member{ID: id})
	}
	tm, err := team.New(team.Config{ID: "fan", Mode: team.Broadcast, Members: members})
	if err != nil {
		b.Fatal(err)
	}
	if err := eng.RegisterRunnable(tm); err != nil {
		b.Fatal(err)
	}
	// follow starts p and reads its stream to the end; it returns when the
	// first content event came.
	follow := func(p core.StartParams) (time.Duration, error) {
		t0 := time.Now()
		_, s, err := eng.StartStream(ctx, p)
		if err != nil {
			return 0, err
		}
		var first time.Duration
		for {
			ev, err := s.Next(ctx)
			if errors.Is(err, io.EOF) {
				return first, nil
			}
			if err != nil {
				return 0, err
			}
			if first == 0 && ev.Base() == core.EventRunContent {
				first = time.Since(t0)
			}
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	var teamCPU, agentsCPU, teamTTFE, agentsTTFE time.Duration
	cpuOK := true
	for i := 0; i < b.N; i++ {
		c0, ok0 := cputime.Process()
		d, err := follow(core.StartParams{TeamID: "fan", Message: "hello"})
		if err != nil {
			b.Fatal(err)
		}
		teamTTFE += d
		c1, ok1 := cputime.Process()
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			first time.Duration
			ferr  error
		)
		for _, id := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d, err := follow(core.StartParams{AgentID: id, Message: "hello"})
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					ferr = err
				}
				if first == 0 || d < first {
					first = d
				}
			}()
		}
		wg.Wait()
		if ferr != nil {
			b.Fatal(ferr)
		}
		agentsTTFE += first
		c2, ok2 := cputime.Process()
		cpuOK = cpuOK && ok0 && ok1 && ok2
		teamCPU += c1 - c0
		agentsCPU += c2 - c1
	}
	b.StopTimer()
	n := float64(b.N)
	if cpuOK && agentsCPU > 0 {
		b.ReportMetric(float64(teamCPU.Microseconds())/n, "team-cpu-µs/op")
		b.ReportMetric(float64(agentsCPU.Microseconds())/n, "agents-cpu-µs/op")
		b.ReportMetric(float64(teamCPU)/float64(agentsCPU), "cpu-ratio")
	}
	if agentsTTFE > 0 {
		b.ReportMetric(float64(teamTTFE.Microseconds())/n, "team-ttfe-µs")
		b.ReportMetric(float64(agentsTTFE.Microseconds())/n, "agents-ttfe-µs")
		b.ReportMetric(float64(teamTTFE)/float64(agentsTTFE), "ttfe-ratio")
	}
	_ = eng.Close(ctx)
}
