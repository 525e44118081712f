package core_test

import (
	"context"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/model/scripted"
	"github.com/agentgate/agentgate/internal/testutil/enginetest"
)

// RunBlocking executes the run on the caller's goroutine and returns it as
// it ended; the run is stored, listed and replayable like any other.
func TestRunBlockingExecutesInTheCaller(t *testing.T) {
	t.Parallel()
	b := setup(t, core.EventLogConfig{}, scriptedAgent(t, "a", scripted.Config{Chunks: 3, Rules: []scripted.Rule{{Reply: "one two three"}}}))
	ctx := context.Background()
	run, err := b.eng.RunBlocking(ctx, core.StartParams{AgentID: "a", Message: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != core.RunCompleted || run.Content != "one two three" || run.EventCount == 0 {
		t.Fatalf("run = %s %q, %d events", run.Status, run.Content, run.EventCount)
	}
	// Stored, listed and replayable like any run.
	got, err := b.eng.Get(ctx, run.RunID)
	if err != nil || got.Status != core.RunCompleted {
		t.Fatalf("Get = %v, %v", got, err)
	}
	runs, err := b.eng.List(ctx, core.ListRunsParams{SessionID: run.SessionID})
	if err != nil || len(runs) != 1 || runs[0].RunID != run.RunID {
		t.Fatalf("ListRuns = %d runs, %v", len(runs), err)
	}
	s, err := b.eng.Subscribe(ctx, run.RunID, -1)
	if err != nil {
		t.Fatal(err)
	}
	evs := enginetest.Collect(t, s)
	if int64(len(evs)) != run.EventCount || evs[len(evs)-1].Event != core.EventRunCompleted {
		t.Fatalf("replayed %v, want %d events ending RunCompleted", types(evs), run.EventCount)
	}
	// Bad input is refused before anything runs.
	if _, err := b.eng.RunBlocking(ctx, core.StartParams{AgentID: "nope", Message: "hi"}); core.CodeOf(err) != core.CodeNotFound {
		t.Fatalf("unknown agent: %v", err)
	}
	if _, err := b.eng.RunBlocking(ctx, core.StartParams{AgentID: "a", Message: " "}); core.CodeOf(err) != core.CodeInvalid {
		t.Fatalf("empty message: %v", err)
	}
}

func TestRunBlockingIsCancellableAndAwaitedByClose(t *testing.T) {
	t.Parallel()
	started := make(chan struct{}, 1)
	b := setup(t, core.EventLogConfig{}, blockingAgent("slow", started))
	ctx := context.Background()
	type answer struct {
		run *core.Run
		err error
	}
	done := make(chan answer, 1)
	go func() {
		r, err := b.eng.RunBlocking(ctx, core.StartParams{AgentID: "slow", Message: "go"})
		done <- answer{r, err}
	}()
	<-started
	// Another request finds it and cancels it.
	runs, err := b.eng.List(ctx, core.ListRunsParams{AgentID: "slow"})
	if err != nil || len(runs) != 1 || runs[0].Status != core.RunRunning {
		t.Fatalf("ListRuns while executing = %+v, %v", runs, err)
	}
	if _, err := b.eng.Cancel(ctx, runs[0].RunID); err != nil {
		t.Fatal(err)
	}
	select {
	case a := <-done:
		if a.err != nil || a.run.Status != core.RunCancelled || !a.run.CancelRequested {
			t.Fatalf("RunBlocking = %+v, %v; want the cancelled run", a.run, a.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("RunBlocking did not return after the cancel")
	}

	// Close waits for a run executing on a caller's goroutine, and ends it.
	go func() {
		r, err := b.eng.RunBlocking(ctx, core.StartParams{AgentID: "slow", Message: "again"})
		done <- answer{r, err}
	}()
	<-started
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if err := b.eng.Close(cctx); err != nil {
		t.Fatal(err)
	}
	// Close returned once the run had ended; the caller gets it.
	select {
	case a := <-done:
		if a.err != nil || a.run.Status != core.RunCancelled {
			t.Fatalf("RunBlocking after Close = %+v, %v; want a cancelled run", a.run, a.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("RunBlocking did not return after Close")
	}
	if runs, err := b.eng.List(ctx, core.ListRunsParams{AgentID: "slow", Status: core.RunRunning}); err != nil || len(runs) != 0 {
		t.Fatalf("runs still RUNNING after Close: %d, %v", len(runs), err)
	}
}

func TestRunBlockingReturnsAPausedRun(t *testing.T) {
	t.Parallel()
	b := hitlBundle(t)
	ctx := context.Background()
	run, err := b.eng.RunBlocking(ctx, core.StartParams{AgentID: "hitl", Message: "compute"})
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != core.RunPaused || len(run.Requirements) != 1 {
		t.Fatalf("run = %s with %d requirements, want PAUSED with one", run.Status, len(run.Requirements))
	}
}
