package core_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/internal/testutil"
)

// countingAgent counts its executions; each waits for release (nil: none).
func countingAgent(id string, n *atomic.Int32, release <-chan struct{}) core.Agent {
	return &funcAgent{id: id, fn: func(ctx context.Context, x *core.Execution) (*core.Outcome, error) {
		n.Add(1)
		if release != nil {
			select {
			case <-release:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		return &core.Outcome{Content: "done: " + x.Message}, nil
	}}
}

func TestIdempotentStart(t *testing.T) {
	t.Parallel()
	var runsA, runsB atomic.Int32
	b := setup(t, core.EventLogConfig{}, countingAgent("a", &runsA, nil), countingAgent("b", &runsB, nil))
	ctx := context.Background()
	p := core.StartParams{AgentID: "a", Message: "hi", UserID: "u1", IdempotencyKey: "k-1", IdempotencyScope: "alice", IdempotencyRequest: "stream=true"}
	first, err := b.eng.Start(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	done, err := b.eng.Wait(ctx, first.RunID, -1)
	if err != nil || done.Status != core.RunCompleted {
		t.Fatalf("first run: %+v, %v", done, err)
	}

	// A retry gets the run as stored (here: ended), not a new one; so does
	// a blocking retry.
	again, err := b.eng.Start(ctx, p)
	if err != nil || again.RunID != first.RunID || again.Status != core.RunCompleted || again.SessionID != first.SessionID {
		t.Fatalf("retry: %+v, %v (first %s)", again, err, first.RunID)
	}
	blocking, err := b.eng.RunBlocking(ctx, p)
	if err != nil || blocking.RunID != first.RunID || blocking.Content != "done: hi" {
		t.Fatalf("blocking retry: %+v, %v", blocking, err)
	}
	if n := runsA.Load(); n != 1 {
		t.Fatalf("agent executed %d times, want 1", n)
	}
	runs, err := b.eng.List(ctx, core.ListRunsParams{SessionID: first.SessionID})
	if err != nil || len(runs) != 1 {
		t.Fatalf("runs of the session: %d, %v", len(runs), err)
	}

	// The same key with another request is refused, whatever differs.
	for name, q := range map[string]core.StartParams{
		"message":    {AgentID: "a", Message: "other", UserID: "u1"},
		"session":    {AgentID: "a", Message: "hi", UserID: "u1", SessionID: first.SessionID},
		"user":       {AgentID: "a", Message: "hi", UserID: "u2"},
		"background": {AgentID: "a", Message: "hi", UserID: "u1", Background: true},
		"mode":       {AgentID: "a", Message: "hi", UserID: "u1", IdempotencyRequest: "stream=false"},
	} {
		q.IdempotencyKey, q.IdempotencyScope = p.IdempotencyKey, p.IdempotencyScope
		if name != "mode" {
			q.IdempotencyRequest = p.IdempotencyRequest
		}
		_, err := b.eng.Start(ctx, q)
		if core.CodeOf(err) != core.CodeUnprocessable || !strings.Contains(core.MessageOf(err), "different request") {
			t.Fatalf("%s differs: %v (code %s)", name, err, core.CodeOf(err))
		}
	}

	// Another caller's key, or the key on another agent, is another key.
	other := p
	other.IdempotencyScope = "bob"
	r, err := b.eng.Start(ctx, other)
	if err != nil || r.RunID == first.RunID {
		t.Fatalf("another scope's key: %+v, %v", r, err)
	}
	onB := p
	onB.AgentID = "b"
	r2, err := b.eng.Start(ctx, onB)
	if err != nil || r2.RunID == first.RunID || r2.RunID == r.RunID {
		t.Fatalf("the key on another agent: %+v, %v", r2, err)
	}
	for _, id := range []string{r.RunID, r2.RunID} {
		if _, err := b.eng.Wait(ctx, id, -1); err != nil {
			t.Fatal(err)
		}
	}
	if runsA.Load() != 2 || runsB.Load() != 1 {
		t.Fatalf("executions: a %d (want 2), b %d (want 1)", runsA.Load(), runsB.Load())
	}

	for _, bad := range []string{strings.Repeat("k", core.MaxIdempotencyKeyLen+1), "tab\tkey", "clé"} {
		q := p
		q.IdempotencyKey = bad
		if _, err := b.eng.Start(ctx, q); core.CodeOf(err) != core.CodeInvalid {
			t.Fatalf("key %q: %v", bad, err)
		}
	}
	q := p
	q.IdempotencyKey = strings.Repeat("k", core.MaxIdempotencyKeyLen)
	if _, err := b.eng.Start(ctx, q); err != nil {
		t.Fatalf("a key of the longest length: %v", err)
	}

	// A key whose run was deleted (with its session) says so: a conflict,
	// neither the run nor a new one.
	if _, err := b.eng.DeleteSessions(ctx, []string{first.SessionID}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.eng.Start(ctx, p); core.CodeOf(err) != core.CodeConflict || !strings.Contains(core.MessageOf(err), "no longer exists") {
		t.Fatalf("the key of a deleted run: %v", err)
	}
}

// TestIdempotentStartConcurrent: requests with one key at once create one
// run, and each gets it, on one engine or two sharing the backends.
func TestIdempotentStartConcurrent(t *testing.T) {
	t.Parallel()
	store, log := sharedBackends(t)
	var n atomic.Int32
	release := make(chan struct{})
	e1 := engineOn(t, store, log, core.EngineConfig{}, countingAgent("a", &n, release))
	e2 := engineOn(t, store, log, core.EngineConfig{}, countingAgent("a", &n, release))
	ctx := context.Background()
	const callers = 8
	ids := make([]string, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			eng := e1
			if i%2 == 1 {
				eng = e2
			}
			r, err := eng.Start(ctx, core.StartParams{AgentID: "a", Message: "once", IdempotencyKey: "same"})
			if err == nil {
				ids[i] = r.RunID
			}
			errs[i] = err
		})
	}
	wg.Wait()
	close(release)
	for i := range callers {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Fatalf("caller %d: run %q, %v (caller 0: %q)", i, ids[i], errs[i], ids[0])
		}
	}
	if _, err := e1.Wait(ctx, ids[0], -1); err != nil {
		t.Fatal(err)
	}
	if got := n.Load(); got != 1 {
		t.Fatalf("agent executed %d times, want 1", got)
	}
}

// TestKeyedRunIsStoredBeforeStartReturns: a run with a key is not deferred
// (deferred.go) — the store has it, and its key, before Start or
// RunBlocking let anyone know of it — while one without a key is.
func TestKeyedRunIsStoredBeforeStartReturns(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	release := make(chan struct{})
	store, log := sharedBackends(t) // memlog: foreground runs are deferred
	b := &bundle{store: store, log: log}
	b.eng = engineOn(t, store, log, core.EngineConfig{CreateDelay: time.Hour}, countingAgent("a", &n, release))
	ctx := context.Background()
	plain, err := b.eng.Start(ctx, core.StartParams{AgentID: "a", Message: "m"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.store.GetRun(ctx, plain.RunID); core.CodeOf(err) != core.CodeNotFound {
		t.Fatalf("a run without a key is stored at once (%v): the deferral this test relies on is gone", err)
	}
	keyed, err := b.eng.Start(ctx, core.StartParams{AgentID: "a", Message: "m", IdempotencyKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := b.store.GetRun(ctx, keyed.RunID); err != nil || r.Status != core.RunRunning {
		t.Fatalf("keyed run in the store: %+v, %v", r, err)
	}

	// A blocking keyed run shows in the store while it executes.
	blocked := make(chan *core.Run, 1)
	go func() {
		r, _ := b.eng.RunBlocking(ctx, core.StartParams{AgentID: "a", Message: "blocking", IdempotencyKey: "kb", SessionID: "s-kb"})
		blocked <- r
	}()
	testutil.Eventually(t, 5*time.Second, "the blocking keyed run in the store", func() bool {
		runs, err := b.store.ListRuns(ctx, core.ListRunsParams{SessionID: "s-kb"})
		return err == nil && len(runs) == 1 && runs[0].Status == core.RunRunning
	})
	close(release)
	if r := <-blocked; r == nil || r.Status != core.RunCompleted {
		t.Fatalf("blocking keyed run: %+v", r)
	}
}

// TestIdempotencyKeysExpire: a key older than IdempotencyTTL names no run
// (a new request with it starts a new run), and SweepKeys deletes it.
func TestIdempotencyKeysExpire(t *testing.T) {
	t.Parallel()
	store, log := sharedBackends(t)
	var clock atomic.Int64
	clock.Store(time.Now().UnixMilli())
	now := func() time.Time { return time.UnixMilli(clock.Load()) }
	var n atomic.Int32
	eng := engineOn(t, store, log, core.EngineConfig{Now: now, IdempotencyTTL: time.Minute, LeaseTTL: -1}, countingAgent("a", &n, nil))
	ctx := context.Background()
	p := core.StartParams{AgentID: "a", Message: "m", IdempotencyKey: "k"}
	first, err := eng.RunBlocking(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	clock.Add((59 * time.Second).Milliseconds())
	if r, err := eng.RunBlocking(ctx, p); err != nil || r.RunID != first.RunID {
		t.Fatalf("within the TTL: %+v, %v", r, err)
	}
	clock.Add((2 * time.Second).Milliseconds())
	second, err := eng.RunBlocking(ctx, p)
	if err != nil || second.RunID == first.RunID {
		t.Fatalf("after the TTL: %+v, %v", second, err)
	}

	clock.Add((2 * time.Minute).Milliseconds())
	if err := eng.SweepKeys(ctx); err != nil {
		t.Fatal(err)
	}
	// Swept: no expired key is left to delete.
	if n, err := store.DeleteExpiredKeys(ctx, clock.Load(), 0); err != nil || n != 0 {
		t.Fatalf("keys left after the sweep: %d, %v", n, err)
	}
}
