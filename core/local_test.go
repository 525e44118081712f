package core_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/internal/testutil"
)

// batchingLog is a log other processes could read (no ProcessLocal) that
// appends batches (BatchAppender), counts its tails, and refuses every
// append while refuse is set.
type batchingLog struct {
	core.EventLog
	refuse  atomic.Bool
	tails   atomic.Int64
	batches atomic.Int64
}

var errRefused = core.Errorf(core.CodeUnavailable, "append refused (test)")

func (l *batchingLog) Append(ctx context.Context, ev *core.Event) (int64, error) {
	if l.refuse.Load() {
		return -1, errRefused
	}
	return l.EventLog.Append(ctx, ev)
}

func (l *batchingLog) AppendAll(ctx context.Context, evs []*core.Event, finish bool) (int64, error) {
	if l.refuse.Load() {
		return -1, errRefused
	}
	l.batches.Add(1)
	return l.EventLog.(core.BatchAppender).AppendAll(ctx, evs, finish)
}

func (l *batchingLog) Subscribe(ctx context.Context, p core.ReadParams) (core.Subscription, error) {
	l.tails.Add(1)
	return l.EventLog.Subscribe(ctx, p)
}

// steppedAgent emits "a0".."a<n-1>", reports on step and waits for go_,
// then emits "b0".."b<n-1>" and completes; an Emit error ends it.
func steppedAgent(id string, n int, step chan<- struct{}, go_ <-chan struct{}) *funcAgent {
	return &funcAgent{id: id, fn: func(ctx context.Context, x *core.Execution) (*core.Outcome, error) {
		for _, p := range []string{"a", "b"} {
			for i := range n {
				if err := x.Emit(ctx, core.Event{Event: core.EventRunContent, Content: fmt.Sprintf("%s%d", p, i)}); err != nil {
					return nil, err
				}
			}
			if p == "a" {
				step <- struct{}{}
				select {
				case <-go_:
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			}
		}
		return &core.Outcome{Content: "done"}, nil
	}}
}

// drainStream reads st to its end.
func drainStream(t *testing.T, st *core.Stream) []core.Event {
	t.Helper()
	defer st.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out []core.Event
	for {
		ev, err := st.Next(ctx)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("stream after %d events: %v", len(out), err)
		}
		out = append(out, ev)
	}
}

// sameEvents fails unless got is want: the same indices, types and
// contents, in order.
func sameEvents(t *testing.T, what string, got, want []core.Event) {
	t.Helper()
	key := func(evs []core.Event) []string {
		out := make([]string, len(evs))
		for i, e := range evs {
			out[i] = fmt.Sprintf("%d:%s:%s", e.EventIndex, e.Event, e.Content)
		}
		return out
	}
	if g, w := key(got), key(want); !slices.Equal(g, w) {
		t.Fatalf("%s:\n got %v\nwant %v", what, g, w)
	}
}

// A stream following a run on the replica executing it is fed from the
// writer (no tail of the log), from the start and from a cursor mid-stream,
// and gets exactly the log's events with the log's indices; a follower on
// another replica, tailing the log, gets the same, also from a cursor.
func TestLocalFollowerGetsTheLogsEvents(t *testing.T) {
	t.Parallel()
	store, mem := sharedBackends(t)
	log := &batchingLog{EventLog: mem}
	step, go_ := make(chan struct{}, 1), make(chan struct{})
	const n = 40
	exec := engineOn(t, store, log, core.EngineConfig{}, steppedAgent("s", n, step, go_))
	other := engineOn(t, store, log, core.EngineConfig{}, steppedAgent("s", n, step, go_))
	ctx := context.Background()
	run, err := exec.Start(ctx, core.StartParams{AgentID: "s", Message: "x"})
	if err != nil {
		t.Fatal(err)
	}
	<-step
	// The a's are appended behind the agent: wait until the log has them.
	waitLogged(t, mem, run.RunID, n+1)
	mid := int64(n / 2)
	local, err := exec.Subscribe(ctx, run.RunID, -1)
	if err != nil {
		t.Fatal(err)
	}
	localMid, err := exec.Subscribe(ctx, run.RunID, mid)
	if err != nil {
		t.Fatal(err)
	}
	if got := log.tails.Load(); got != 0 {
		t.Fatalf("local followers tailed the log %d times", got)
	}
	remote, err := other.Subscribe(ctx, run.RunID, -1)
	if err != nil {
		t.Fatal(err)
	}
	remoteMid, err := other.Subscribe(ctx, run.RunID, mid)
	if err != nil {
		t.Fatal(err)
	}
	close(go_)
	streams := map[string][]core.Event{}
	for name, st := range map[string]*core.Stream{"local": local, "local mid": localMid, "remote": remote, "remote mid": remoteMid} {
		streams[name] = drainStream(t, st)
	}
	all := logged(t, mem, run.RunID)
	if len(all) != 2*n+2 || all[len(all)-1].Event != core.EventRunCompleted {
		t.Fatalf("log holds %v", types(all))
	}
	checkDense(t, all, 0)
	sameEvents(t, "local follower", streams["local"], all)
	sameEvents(t, "local follower from mid-stream", streams["local mid"], all[mid+1:])
	sameEvents(t, "follower on the other replica", streams["remote"], all)
	sameEvents(t, "follower on the other replica from mid-stream", streams["remote mid"], all[mid+1:])
	// The agent's deltas went in batches, not one append each.
	if b := log.batches.Load(); b >= 2*n {
		t.Fatalf("%d batch appends for %d events", b, len(all))
	}
	// A resume mid-stream of the ended run is exact on either replica.
	for name, eng := range map[string]*core.Engine{"executing": exec, "other": other} {
		st, err := eng.Subscribe(ctx, run.RunID, mid+3)
		if err != nil {
			t.Fatalf("%s replica: resume: %v", name, err)
		}
		sameEvents(t, name+" replica: resume of the ended run", drainStream(t, st), all[mid+4:])
	}
}

// An append the log refuses never reaches a local follower: it gets what
// the log holds, exactly, and the run ends in an error that the log holds
// too once it takes appends again.
func TestLocalFollowerNeverSeesARefusedAppend(t *testing.T) {
	t.Parallel()
	store, mem := sharedBackends(t)
	log := &batchingLog{EventLog: mem}
	step, go_ := make(chan struct{}, 1), make(chan struct{})
	const n = 5
	exec := engineOn(t, store, log, core.EngineConfig{}, steppedAgent("s", n, step, go_))
	ctx := context.Background()
	run, err := exec.Start(ctx, core.StartParams{AgentID: "s", Message: "x"})
	if err != nil {
		t.Fatal(err)
	}
	<-step
	waitLogged(t, mem, run.RunID, n+1)
	local, err := exec.Subscribe(ctx, run.RunID, -1)
	if err != nil {
		t.Fatal(err)
	}
	log.refuse.Store(true)
	close(go_)
	// The b's are refused; the ending event is retried until the log
	// takes appends again.
	time.Sleep(300 * time.Millisecond)
	log.refuse.Store(false)
	got := drainStream(t, local)
	all := logged(t, mem, run.RunID)
	for _, ev := range all {
		if len(ev.Content) > 0 && ev.Content[0] == 'b' {
			t.Fatalf("the log holds a refused event: %v", ev)
		}
	}
	if last := all[len(all)-1]; last.Event != core.EventRunError {
		t.Fatalf("log ends with %v, want RunError", types(all))
	}
	sameEvents(t, "local follower", got, all)
	// The stored count is made exact once the ending event is in.
	testutil.Eventually(t, 5*time.Second, "the stored run to count the log's events", func() bool {
		stored, err := store.GetRun(ctx, run.RunID)
		return err == nil && stored.Status == core.RunError && stored.EventCount == int64(len(all))
	})
}

// waitLogged waits until the log holds n events of the run.
func waitLogged(t *testing.T, log core.EventLog, runID string, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		evs, _ := log.Read(context.Background(), core.ReadParams{RunID: runID, After: -1})
		if len(evs) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the log holds %d events of %s, want %d", len(evs), runID, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A local follower that falls behind its bound (LocalFollowerBacklog) is
// dropped from the writer's feed rather than buffered without bound: the
// run goes on to its end while the follower reads nothing, and the
// follower then catches up from the log, by index — exactly the log's
// events, in order, with one tail of the log.
func TestSlowLocalFollowerCatchesUpFromTheLog(t *testing.T) {
	t.Parallel()
	store, mem := sharedBackends(t)
	log := &batchingLog{EventLog: mem}
	step, go_ := make(chan struct{}, 1), make(chan struct{})
	const n, bound = 40, 8
	exec := engineOn(t, store, log, core.EngineConfig{LocalFollowerBacklog: bound}, steppedAgent("s", n, step, go_))
	ctx := context.Background()
	run, err := exec.Start(ctx, core.StartParams{AgentID: "s", Message: "x"})
	if err != nil {
		t.Fatal(err)
	}
	<-step
	waitLogged(t, mem, run.RunID, n+1)
	slow, err := exec.Subscribe(ctx, run.RunID, -1)
	if err != nil {
		t.Fatal(err)
	}
	if got := log.tails.Load(); got != 0 {
		t.Fatalf("the local follower tailed the log %d times before falling behind", got)
	}
	close(go_)
	// The run ends although its follower reads nothing: n+1 events past
	// its bound did not wait for it.
	testutil.Eventually(t, 10*time.Second, "the run to complete", func() bool {
		stored, err := store.GetRun(ctx, run.RunID)
		return err == nil && stored.Status == core.RunCompleted
	})
	got := drainStream(t, slow)
	all := logged(t, mem, run.RunID)
	if len(all) != 2*n+2 {
		t.Fatalf("log holds %v", types(all))
	}
	checkDense(t, all, 0)
	sameEvents(t, "slow local follower", got, all)
	if tails := log.tails.Load(); tails != 1 {
		t.Fatalf("the slow follower tailed the log %d times, want 1 (dropped from the feed once)", tails)
	}
}

// With local followers disabled (a negative LocalFollowerBacklog) a
// follower on the executing replica tails the log, and gets the same.
func TestLocalFollowersDisabled(t *testing.T) {
	t.Parallel()
	store, mem := sharedBackends(t)
	log := &batchingLog{EventLog: mem}
	step, go_ := make(chan struct{}, 1), make(chan struct{})
	const n = 5
	exec := engineOn(t, store, log, core.EngineConfig{LocalFollowerBacklog: -1}, steppedAgent("s", n, step, go_))
	ctx := context.Background()
	run, err := exec.Start(ctx, core.StartParams{AgentID: "s", Message: "x"})
	if err != nil {
		t.Fatal(err)
	}
	<-step
	waitLogged(t, mem, run.RunID, n+1)
	st, err := exec.Subscribe(ctx, run.RunID, 1)
	if err != nil {
		t.Fatal(err)
	}
	if tails := log.tails.Load(); tails != 1 {
		t.Fatalf("the follower tailed the log %d times, want 1", tails)
	}
	close(go_)
	got := drainStream(t, st)
	sameEvents(t, "follower", got, logged(t, mem, run.RunID)[2:])
}

// NextWithin waits at most its bound: on a live run that is silent it
// returns nothing (no error) after the bound, or at once with a bound of 0,
// whether the stream is fed by the writer (a local follower) or tails the
// log (a follower on another replica); it then goes on with exactly the
// log's events to the end.
func TestStreamNextWithinBoundsTheWait(t *testing.T) {
	t.Parallel()
	store, mem := sharedBackends(t)
	log := &batchingLog{EventLog: mem} // shared by the replicas
	step, go_ := make(chan struct{}, 1), make(chan struct{})
	const n = 5
	exec := engineOn(t, store, log, core.EngineConfig{}, steppedAgent("s", n, step, go_))
	other := engineOn(t, store, log, core.EngineConfig{}, steppedAgent("s", n, step, go_))
	ctx := context.Background()
	run, err := exec.Start(ctx, core.StartParams{AgentID: "s", Message: "x"})
	if err != nil {
		t.Fatal(err)
	}
	<-step
	waitLogged(t, mem, run.RunID, n+1)
	streams := map[string]*core.Stream{}
	for name, eng := range map[string]*core.Engine{"local": exec, "remote": other} {
		st, err := eng.Subscribe(ctx, run.RunID, -1)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		streams[name] = st
	}
	got := map[string][]core.Event{}
	for name, st := range streams {
		// What the log holds so far (the remote stream is not polled:
		// it takes bounded waits).
		for len(got[name]) < n+1 {
			ev, ok, err := st.NextWithin(ctx, 5*time.Second)
			if err != nil || !ok {
				t.Fatalf("%s: event %d: ok %v, %v", name, len(got[name]), ok, err)
			}
			got[name] = append(got[name], ev)
		}
		if name == "local" {
			if _, ok, err := st.NextWithin(ctx, 0); ok || err != nil {
				t.Fatalf("%s: a poll of a silent run: ok %v, %v", name, ok, err)
			}
		}
		start := time.Now()
		if _, ok, err := st.NextWithin(ctx, 30*time.Millisecond); ok || err != nil {
			t.Fatalf("%s: a bounded wait on a silent run: ok %v, %v", name, ok, err)
		}
		if waited := time.Since(start); waited < 30*time.Millisecond || waited > 2500*time.Millisecond {
			t.Fatalf("%s: a wait of 30ms lasted %v", name, waited)
		}
	}
	close(go_)
	for name, st := range streams {
		for {
			ev, ok, err := st.NextWithin(ctx, 5*time.Second)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil || !ok {
				t.Fatalf("%s: after %d events: ok %v, %v", name, len(got[name]), ok, err)
			}
			got[name] = append(got[name], ev)
		}
	}
	all := logged(t, mem, run.RunID)
	sameEvents(t, "local follower", got["local"], all)
	sameEvents(t, "follower on the other replica", got["remote"], all)
}
