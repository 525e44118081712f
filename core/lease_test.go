package core_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/model/scripted"
	"github.com/agentgate/agentgate/internal/testutil"
	"github.com/agentgate/agentgate/internal/testutil/enginetest"
	"github.com/agentgate/agentgate/storage/memlog"
	"github.com/agentgate/agentgate/storage/sqlite"
)

// engineOn builds one more engine (a "replica") on the given store and log.
func engineOn(t *testing.T, store core.RunStore, log core.EventLog, cfg core.EngineConfig, agents ...core.Agent) *core.Engine {
	t.Helper()
	cfg.Store, cfg.Log = store, log
	eng, err := core.NewEngine(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range agents {
		if err := eng.RegisterAgent(a); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = eng.Close(ctx)
	})
	return eng
}

func sharedBackends(t *testing.T) (core.RunStore, core.EventLog) {
	t.Helper()
	store, err := sqlite.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	log := memlog.New(core.EventLogConfig{})
	t.Cleanup(func() { _ = log.Close(); _ = store.Close() })
	return store, log
}

func TestReaperEndsRunWhoseExecutorVanished(t *testing.T) {
	t.Parallel()
	store, log := sharedBackends(t)
	ctx := context.Background()
	// A run a dead replica was executing: RUNNING, lease in the past, three
	// events in the log.
	run := &core.Run{RunID: core.NewUUID(), SessionID: core.NewUUID(), AgentID: "a", Status: core.RunRunning,
		LeaseOwner: "dead-replica", LeaseUntil: time.Now().Add(-time.Second).UnixMilli(), CreatedAt: 1, UpdatedAt: 1}
	if err := store.CreateRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	for _, typ := range []core.EventType{core.EventRunStarted, core.EventRunContent, core.EventRunContent} {
		if _, err := log.Append(ctx, &core.Event{Event: typ, RunID: run.RunID}); err != nil {
			t.Fatal(err)
		}
	}
	eng := engineOn(t, store, log, core.EngineConfig{LeaseTTL: 100 * time.Millisecond})
	s, err := eng.Subscribe(ctx, run.RunID, 2)
	if err != nil {
		t.Fatal(err)
	}
	evs := enginetest.Collect(t, s)
	if len(evs) != 1 || evs[0].Event != core.EventRunError || evs[0].ErrorType != "worker_lost" || evs[0].EventIndex != 3 {
		t.Fatalf("after the reaper: %+v", evs)
	}
	got, _ := eng.Get(ctx, run.RunID)
	if got.Status != core.RunError || got.ErrorType != "worker_lost" || got.EventCount != 4 || got.LeaseOwner != "" {
		t.Fatalf("reaped run = %+v", got)
	}
}

func TestHeartbeatKeepsALongRunAlive(t *testing.T) {
	t.Parallel()
	store, log := sharedBackends(t)
	ctx := context.Background()
	// The run lasts about three leases. A lease of 300 ms leaves a renewal
	// (every 100 ms) 200 ms of slack: under -race, with every package's
	// tests at once, 150 ms leases were lost to a stalled renewal.
	slow := scriptedAgent(t, "slow", scripted.Config{Chunks: 20, ChunkDelay: 45 * time.Millisecond, Rules: []scripted.Rule{{Reply: "a b c d e f g h i j k l m n o p q r s t"}}})
	a := engineOn(t, store, log, core.EngineConfig{LeaseTTL: 300 * time.Millisecond}, slow)
	engineOn(t, store, log, core.EngineConfig{LeaseTTL: 300 * time.Millisecond}) // a second replica's reaper
	run, err := a.Start(ctx, core.StartParams{AgentID: "slow", Message: "x"})
	if err != nil {
		t.Fatal(err)
	}
	done, err := a.Wait(ctx, run.RunID, -1)
	if err != nil || done.Status != core.RunCompleted {
		t.Fatalf("a run longer than its lease, renewed, must complete: %+v %v", done, err)
	}
}

// memQueue is a Queue that records enqueued runs.
type memQueue struct {
	mu   sync.Mutex
	runs []string
	fail bool
}

func (q *memQueue) Enqueue(_ context.Context, runID string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.fail {
		return errors.New("queue down")
	}
	q.runs = append(q.runs, runID)
	return nil
}

func TestQueuedBackgroundRuns(t *testing.T) {
	t.Parallel()
	store, log := sharedBackends(t)
	ctx := context.Background()
	agentFor := func() core.Agent {
		return scriptedAgent(t, "a", scripted.Config{Rules: []scripted.Rule{{Reply: "done {{input}}"}}})
	}
	q := &memQueue{}
	submitter := engineOn(t, store, log, core.EngineConfig{Queue: q}, agentFor())
	worker := engineOn(t, store, log, core.EngineConfig{Queue: q}, agentFor())

	run, err := submitter.Start(ctx, core.StartParams{AgentID: "a", Message: "bg", Background: true})
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != core.RunPending || len(q.runs) != 1 || q.runs[0] != run.RunID {
		t.Fatalf("queued run = %s, queue %v", run.Status, q.runs)
	}
	// Another replica's worker executes it.
	if err := worker.ExecuteQueued(ctx, run.RunID, 1); err != nil {
		t.Fatal(err)
	}
	got, _ := submitter.Get(ctx, run.RunID)
	if got.Status != core.RunCompleted || got.Content != "done bg" {
		t.Fatalf("executed run = %+v", got)
	}
	// Delivered twice: the second delivery leaves the finished run alone.
	if err := worker.ExecuteQueued(ctx, run.RunID, 2); err != nil {
		t.Fatal(err)
	}
	// A run whose executor died mid-way is taken over by a later attempt.
	dead := &core.Run{RunID: core.NewUUID(), SessionID: core.NewUUID(), AgentID: "a", Status: core.RunRunning, Background: true,
		Input: core.RunInput{InputContent: "again"}, LeaseOwner: "dead", LeaseUntil: time.Now().Add(-time.Minute).UnixMilli(), CreatedAt: 1, UpdatedAt: 1}
	if err := store.CreateRun(ctx, dead); err != nil {
		t.Fatal(err)
	}
	if _, err := log.Append(ctx, &core.Event{Event: core.EventRunStarted, RunID: dead.RunID}); err != nil {
		t.Fatal(err)
	}
	if err := worker.ExecuteQueued(ctx, dead.RunID, 2); err != nil {
		t.Fatal(err)
	}
	s, err := worker.Subscribe(ctx, dead.RunID, 0)
	if err != nil {
		t.Fatal(err)
	}
	evs := enginetest.Collect(t, s)
	checkDense(t, evs, 1)
	if evs[0].Event != core.EventCustom || evs[0].Data["kind"] != "run_restarted" || evs[len(evs)-1].Event != core.EventRunCompleted {
		t.Fatalf("taken-over run events: %v", types(evs))
	}
	// A run alive on another replica: the delivery is refused, to be
	// retried (so the run is executed again should that replica die).
	alive := &core.Run{RunID: core.NewUUID(), SessionID: core.NewUUID(), AgentID: "a", Status: core.RunRunning, Background: true,
		LeaseOwner: "elsewhere", LeaseUntil: time.Now().Add(time.Minute).UnixMilli(), CreatedAt: 1, UpdatedAt: 1}
	if err := store.CreateRun(ctx, alive); err != nil {
		t.Fatal(err)
	}
	if err := worker.ExecuteQueued(ctx, alive.RunID, 1); core.CodeOf(err) != core.CodeConflict {
		t.Fatalf("delivery of a run alive elsewhere: %v", err)
	}
	// A queue that refuses: the run ends at once, the caller gets 503.
	q.fail = true
	_, err = submitter.Start(ctx, core.StartParams{AgentID: "a", Message: "bg", Background: true})
	if core.CodeOf(err) != core.CodeUnavailable {
		t.Fatalf("start with the queue down: %v", err)
	}
}

func TestReaperRequeuesQueuedRunNotStarted(t *testing.T) {
	t.Parallel()
	store, log := sharedBackends(t)
	ctx := context.Background()
	q := &memQueue{}
	eng := engineOn(t, store, log, core.EngineConfig{Queue: q, LeaseTTL: 100 * time.Millisecond, QueueGrace: time.Minute})
	// Created PENDING, but its enqueue was lost (the replica crashed).
	lost := &core.Run{RunID: core.NewUUID(), SessionID: core.NewUUID(), AgentID: "a", Status: core.RunPending, Background: true,
		LeaseUntil: time.Now().Add(-time.Second).UnixMilli(), CreatedAt: 1, UpdatedAt: 1}
	if err := store.CreateRun(ctx, lost); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "the lost run to be enqueued again", func() bool {
		q.mu.Lock()
		defer q.mu.Unlock()
		return len(q.runs) == 1 && q.runs[0] == lost.RunID
	})
	got, _ := eng.Get(ctx, lost.RunID)
	if got.Status != core.RunPending || got.LeaseUntil < time.Now().Add(30*time.Second).UnixMilli() {
		t.Fatalf("requeued run = %s lease %d", got.Status, got.LeaseUntil)
	}
}
