package core_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/model/scripted"
	"github.com/agentgate/agentgate/internal/testutil/enginetest"
)

// readCountingStore counts GetRun calls.
type readCountingStore struct {
	core.RunStore
	reads atomic.Int32
}

func (s *readCountingStore) GetRun(ctx context.Context, id string) (*core.Run, error) {
	s.reads.Add(1)
	return s.RunStore.GetRun(ctx, id)
}

func TestEndedRunsAreReadOncePerTTL(t *testing.T) {
	t.Parallel()
	inner, log := sharedBackends(t)
	store := &readCountingStore{RunStore: inner}
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	eng := engineOn(t, store, log, core.EngineConfig{FinalCacheTTL: time.Second, Now: clock},
		scriptedAgent(t, "a", scripted.Config{Rules: []scripted.Rule{{Reply: "hi"}}}),
		hitlAgentFor(t, "h"))
	ctx := context.Background()

	run, err := eng.Start(ctx, core.StartParams{AgentID: "a", Message: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Wait(ctx, run.RunID, -1); err != nil {
		t.Fatal(err)
	}
	base := store.reads.Load()
	for range 5 {
		got, err := eng.Get(ctx, run.RunID)
		if err != nil || got.Status != core.RunCompleted || got.Content != "hi" {
			t.Fatalf("Get: %+v %v", got, err)
		}
		got.Content = "changed by a caller" // a copy: the cache is not touched
	}
	// One read at most: the first Get's, unless Wait read it already
	// (the run ended before Wait looked for it).
	if n := store.reads.Load() - base; n > 1 {
		t.Fatalf("%d store reads for 5 Gets of an ended run, want at most 1", n)
	}
	if got, _ := eng.Get(ctx, run.RunID); got.Content != "hi" {
		t.Fatalf("a caller's change reached the cache: %q", got.Content)
	}
	// After the TTL the store is read again, once.
	now.Add(int64(time.Second))
	base = store.reads.Load()
	for range 3 {
		if _, err := eng.Get(ctx, run.RunID); err != nil {
			t.Fatal(err)
		}
	}
	if n := store.reads.Load() - base; n != 1 {
		t.Fatalf("%d store reads for 3 Gets after the TTL, want 1", n)
	}
	// A late cancel intent shows at once.
	if _, err := eng.Cancel(ctx, run.RunID); err != nil {
		t.Fatal(err)
	}
	if got, _ := eng.Get(ctx, run.RunID); !got.CancelRequested {
		t.Fatalf("cancel intent of an ended run not seen: %+v", got)
	}
	// A deleted run is gone at once.
	if _, err := eng.DeleteSessions(ctx, []string{run.SessionID}); err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Get(ctx, run.RunID); core.CodeOf(err) != core.CodeNotFound {
		t.Fatalf("Get of a deleted run: %v", err)
	}

	// A paused run is never cached: it can still change.
	paused, err := eng.Start(ctx, core.StartParams{AgentID: "h", Message: "compute"})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := eng.Wait(ctx, paused.RunID, -1); err != nil || r.Status != core.RunPaused {
		t.Fatalf("Wait: %+v %v", r, err)
	}
	base = store.reads.Load()
	for range 3 {
		if _, err := eng.Get(ctx, paused.RunID); err != nil {
			t.Fatal(err)
		}
	}
	if n := store.reads.Load() - base; n != 3 {
		t.Fatalf("%d store reads for 3 Gets of a paused run, want 3", n)
	}
}

// hitlAgentFor is an agent whose run pauses for a confirmation.
func hitlAgentFor(t *testing.T, id string) core.Agent {
	return scriptedAgent(t, id, scripted.Config{Rules: []scripted.Rule{{
		ToolCalls: []scripted.Call{{Name: "calculator", Arguments: map[string]any{"expression": "6*7"}}},
		Reply:     "result {{tool_result}}", RejectedReply: "rejected: {{note}}",
	}}}, confirmTool())
}

// readCountingLog counts Read calls.
type readCountingLog struct {
	core.EventLog
	reads atomic.Int32
}

func (l *readCountingLog) Read(ctx context.Context, p core.ReadParams) ([]core.Event, error) {
	l.reads.Add(1)
	return l.EventLog.Read(ctx, p)
}

func TestEndedStreamsAreReplayedFromMemory(t *testing.T) {
	t.Parallel()
	inner, mlog := sharedBackends(t)
	log := &readCountingLog{EventLog: mlog}
	eng := engineOn(t, inner, log, core.EngineConfig{FinalCacheTTL: time.Hour},
		scriptedAgent(t, "a", scripted.Config{Chunks: 4, Rules: []scripted.Rule{{Reply: "one two three four"}}}))
	ctx := context.Background()
	run, err := eng.Start(ctx, core.StartParams{AgentID: "a", Message: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	done, err := eng.Wait(ctx, run.RunID, -1)
	if err != nil {
		t.Fatal(err)
	}
	all, err := mlog.Read(ctx, core.ReadParams{RunID: run.RunID, After: -1})
	if err != nil || int64(len(all)) != done.EventCount {
		t.Fatalf("log holds %d events, run says %d: %v", len(all), done.EventCount, err)
	}
	base := log.reads.Load()
	for _, after := range []int64{-1, 2, 0, done.EventCount - 2, 3} {
		s, err := eng.Subscribe(ctx, run.RunID, after)
		if err != nil {
			t.Fatal(err)
		}
		got := enginetest.Collect(t, s)
		if int64(len(got)) != done.EventCount-after-1 {
			t.Fatalf("replay after %d: %v", after, types(got))
		}
		checkDense(t, got, after+1)
		if got[len(got)-1].Event != core.EventRunCompleted || got[0].Content != all[after+1].Content {
			t.Fatalf("replay after %d: %v", after, types(got))
		}
	}
	// The run may have ended before Wait looked for it: Wait then read
	// (and cached) the stream itself.
	if n := log.reads.Load() - base; n > 1 {
		t.Fatalf("%d log reads for 5 replays of an ended run, want at most 1", n)
	}
	// At the end: nothing to replay, and a cursor beyond it is refused.
	if s, err := eng.Subscribe(ctx, run.RunID, done.EventCount-1); err != nil || !s.Done() {
		t.Fatalf("Subscribe at the end: %v", err)
	}
	if _, err := eng.Subscribe(ctx, run.RunID, done.EventCount); core.CodeOf(err) != core.CodeInvalid {
		t.Fatalf("Subscribe beyond the end: %v", err)
	}
}
