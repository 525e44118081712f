package core_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/model/scripted"
	"github.com/agentgate/agentgate/internal/testutil"
	"github.com/agentgate/agentgate/internal/testutil/enginetest"
)

// countingStore counts the run writes that reach the store and can fail
// run creations on demand.
type countingStore struct {
	core.RunStore
	creates, updates atomic.Int32
	failCreates      atomic.Bool
}

func (s *countingStore) CreateRunInSession(ctx context.Context, sess *core.Session, r *core.Run) (bool, error) {
	if s.failCreates.Load() {
		return false, core.Errorf(core.CodeUnavailable, "store down (test)")
	}
	s.creates.Add(1)
	return s.RunStore.CreateRunInSession(ctx, sess, r)
}

func (s *countingStore) UpdateRun(ctx context.Context, r *core.Run, p core.UpdateRunParams) error {
	s.updates.Add(1)
	return s.RunStore.UpdateRun(ctx, r, p)
}

// completedAndStored waits for the run's end on eng and checks that it
// completed and that store holds it completed.
func completedAndStored(t *testing.T, eng *core.Engine, store core.RunStore, runID string) *core.Run {
	t.Helper()
	ctx := context.Background()
	done, err := eng.Wait(ctx, runID, -1)
	if err != nil || done.Status != core.RunCompleted {
		t.Fatalf("Wait: %+v %v", done, err)
	}
	if got, err := store.GetRun(ctx, runID); err != nil || got.Status != core.RunCompleted || got.LeaseOwner != "" {
		t.Fatalf("stored run %+v, %v", got, err)
	}
	return done
}

// sharedLog hides memlog's ProcessLocal: a log other processes could read.
type sharedLog struct{ core.EventLog }

// gatedAgent emits one event, reports that it started, and completes when
// release is closed (or fails when its context ends).
func gatedAgent(id string, started chan<- struct{}, release <-chan struct{}) *funcAgent {
	return &funcAgent{id: id, fn: func(ctx context.Context, x *core.Execution) (*core.Outcome, error) {
		if err := x.Emit(ctx, core.Event{Event: core.EventRunContent, Content: "working"}); err != nil {
			return nil, err
		}
		started <- struct{}{}
		select {
		case <-release:
			return &core.Outcome{Content: "done"}, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}}
}

func TestShortForegroundRunIsWrittenOnce(t *testing.T) {
	t.Parallel()
	inner, log := sharedBackends(t)
	store := &countingStore{RunStore: inner}
	eng := engineOn(t, store, log, core.EngineConfig{CreateDelay: time.Hour},
		scriptedAgent(t, "a", scripted.Config{Rules: []scripted.Rule{{Reply: "hi"}}}))
	ctx := context.Background()
	run, err := eng.Start(ctx, core.StartParams{AgentID: "a", Message: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	done, err := eng.Wait(ctx, run.RunID, -1)
	if err != nil || done.Status != core.RunCompleted {
		t.Fatalf("Wait: %+v %v", done, err)
	}
	if c, u := store.creates.Load(), store.updates.Load(); c != 1 || u != 0 {
		t.Fatalf("%d creates and %d updates, want one create of the final run", c, u)
	}
	got, err := inner.GetRun(ctx, run.RunID)
	if err != nil || got.Status != core.RunCompleted || got.Content != "hi" || got.EventCount != done.EventCount || got.LeaseOwner != "" {
		t.Fatalf("stored run %+v, %v", got, err)
	}
	if _, err := inner.GetSession(ctx, run.SessionID); err != nil {
		t.Fatalf("session not stored: %v", err)
	}
}

func TestPendingRunIsVisibleToThisProcess(t *testing.T) {
	t.Parallel()
	inner, log := sharedBackends(t)
	store := &countingStore{RunStore: inner}
	started, release := make(chan struct{}, 1), make(chan struct{})
	eng := engineOn(t, store, log, core.EngineConfig{CreateDelay: time.Hour}, gatedAgent("g", started, release))
	ctx := context.Background()

	run, err := eng.Start(ctx, core.StartParams{AgentID: "g", Message: "hello", UserID: "u1"})
	if err != nil {
		t.Fatal(err)
	}
	<-started
	if _, err := inner.GetRun(ctx, run.RunID); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("the run reached the store before its delay: %v", err)
	}
	// Get answers from memory, as it would be stored.
	got, err := eng.Get(ctx, run.RunID)
	if err != nil || got.Status != core.RunRunning || got.UserID != "u1" || got.SessionID != run.SessionID {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	// A continue is refused as for a stored running run.
	if _, _, err := eng.Continue(ctx, core.ContinueParams{RunID: run.RunID}); core.CodeOf(err) != core.CodeConflict {
		t.Fatalf("Continue of a running run: %v", err)
	}
	// Reads that could miss it store it first.
	sess, err := eng.GetSession(ctx, run.SessionID)
	if err != nil || sess.UserID != "u1" {
		t.Fatalf("GetSession = %+v, %v", sess, err)
	}
	runs, err := eng.List(ctx, core.ListRunsParams{SessionID: run.SessionID})
	if err != nil || len(runs) != 1 || runs[0].Status != core.RunRunning {
		t.Fatalf("List = %v, %v", runs, err)
	}
	if c := store.creates.Load(); c != 1 {
		t.Fatalf("%d creates after the reads, want 1", c)
	}
	close(release)
	completedAndStored(t, eng, inner, run.RunID)
	// The end was an update, as for any stored run.
	if c, u := store.creates.Load(), store.updates.Load(); c != 1 || u != 1 {
		t.Fatalf("%d creates, %d updates; want 1 and 1", c, u)
	}
}

func TestLongRunIsWrittenAfterTheDelay(t *testing.T) {
	t.Parallel()
	inner, log := sharedBackends(t)
	store := &countingStore{RunStore: inner}
	started, release := make(chan struct{}, 1), make(chan struct{})
	eng := engineOn(t, store, log, core.EngineConfig{CreateDelay: 20 * time.Millisecond}, gatedAgent("g", started, release))
	ctx := context.Background()
	run, err := eng.Start(ctx, core.StartParams{AgentID: "g", Message: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	<-started
	testutil.Eventually(t, 5*time.Second, "the run stored after CreateDelay", func() bool {
		got, err := inner.GetRun(ctx, run.RunID)
		return err == nil && got.Status == core.RunRunning && got.LeaseOwner == eng.InstanceID() && got.LeaseUntil > 0
	})
	close(release)
	completedAndStored(t, eng, inner, run.RunID)
}

func TestCancelOfAPendingRun(t *testing.T) {
	t.Parallel()
	inner, log := sharedBackends(t)
	started := make(chan struct{}, 1)
	eng := engineOn(t, inner, log, core.EngineConfig{CreateDelay: time.Hour}, blockingAgent("slow", started))
	ctx := context.Background()
	run, err := eng.Start(ctx, core.StartParams{AgentID: "slow", Message: "go"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := eng.Subscribe(ctx, run.RunID, -1)
	if err != nil {
		t.Fatal(err)
	}
	<-started
	if _, err := eng.Cancel(ctx, run.RunID); err != nil {
		t.Fatal(err)
	}
	evs := enginetest.Collect(t, s)
	if last := evs[len(evs)-1]; last.Event != core.EventRunCancelled {
		t.Fatalf("last event %s, want RunCancelled (%v)", last.Event, types(evs))
	}
	got, err := inner.GetRun(ctx, run.RunID)
	if err != nil || got.Status != core.RunCancelled || !got.CancelRequested {
		t.Fatalf("stored run %+v, %v", got, err)
	}
}

func TestRunIsWrittenFirstWhenTheLogIsShared(t *testing.T) {
	// Another process could follow the run from the log: the store must
	// have it before its first event.
	t.Parallel()
	inner, log := sharedBackends(t)
	started, release := make(chan struct{}, 1), make(chan struct{})
	eng := engineOn(t, inner, sharedLog{log}, core.EngineConfig{CreateDelay: time.Hour}, gatedAgent("g", started, release))
	ctx := context.Background()
	run, err := eng.Start(ctx, core.StartParams{AgentID: "g", Message: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := inner.GetRun(ctx, run.RunID); err != nil || got.Status != core.RunRunning {
		t.Fatalf("run not stored at Start: %+v, %v", got, err)
	}
	<-started
	close(release)
	if done, err := eng.Wait(ctx, run.RunID, -1); err != nil || done.Status != core.RunCompleted {
		t.Fatalf("Wait: %+v %v", done, err)
	}
}

func TestFailedDeferredWriteIsMadeAtTheEnd(t *testing.T) {
	// The write after CreateDelay fails (the store is down then); the run's
	// end stores it once the store is back.
	t.Parallel()
	inner, log := sharedBackends(t)
	store := &countingStore{RunStore: inner}
	store.failCreates.Store(true)
	started, release := make(chan struct{}, 1), make(chan struct{})
	eng := engineOn(t, store, log, core.EngineConfig{CreateDelay: time.Millisecond}, gatedAgent("g", started, release))
	ctx := context.Background()
	run, err := eng.Start(ctx, core.StartParams{AgentID: "g", Message: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	<-started
	// Listing forces the pending write, which fails; the list goes on.
	time.Sleep(20 * time.Millisecond)
	if _, err := eng.List(ctx, core.ListRunsParams{SessionID: run.SessionID}); err != nil {
		t.Fatalf("List: %v", err)
	}
	store.failCreates.Store(false)
	close(release)
	completedAndStored(t, eng, inner, run.RunID)
}

func TestConcurrentReadsOfPendingRuns(t *testing.T) {
	// Many runs pending while lists and session reads force their writes
	// and the runs end: every run is stored exactly once, completed.
	t.Parallel()
	inner, log := sharedBackends(t)
	store := &countingStore{RunStore: inner}
	eng := engineOn(t, store, log, core.EngineConfig{CreateDelay: time.Hour},
		scriptedAgent(t, "a", scripted.Config{Chunks: 3, ChunkDelay: time.Millisecond, Rules: []scripted.Rule{{Reply: "one two three"}}}))
	ctx := context.Background()
	const n = 40
	var wg sync.WaitGroup
	ids := make([]string, n)
	for i := range n {
		wg.Go(func() {
			run, err := eng.Start(ctx, core.StartParams{AgentID: "a", Message: "hello"})
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = run.RunID
			if i%3 == 0 {
				if _, err := eng.List(ctx, core.ListRunsParams{SessionID: run.SessionID}); err != nil {
					t.Error(err)
				}
			}
			if _, err := eng.GetSession(ctx, run.SessionID); err != nil {
				t.Errorf("GetSession of a pending run's session: %v", err)
			}
			if done, err := eng.Wait(ctx, run.RunID, -1); err != nil || done.Status != core.RunCompleted {
				t.Errorf("Wait: %+v %v", done, err)
			}
		})
	}
	wg.Wait()
	for _, id := range ids {
		if got, err := inner.GetRun(ctx, id); err != nil || got.Status != core.RunCompleted {
			t.Fatalf("run %s stored as %+v, %v", id, got, err)
		}
	}
	if c := store.creates.Load(); c != n {
		t.Fatalf("%d creates for %d runs", c, n)
	}
}

// plainLog hides memlog's optional extensions: a log over the network
// without batches.
type plainLog struct{ core.EventLog }

func readAll(t *testing.T, log core.EventLog, runID string) ([]core.Event, error) {
	t.Helper()
	return log.Read(context.Background(), core.ReadParams{RunID: runID, After: -1})
}

func TestBlockingRunIsStoredAndLoggedOnce(t *testing.T) {
	t.Parallel()
	for name, wrap := range map[string]func(core.EventLog) core.EventLog{
		"batch": func(l core.EventLog) core.EventLog { return sharedLog{l} },
		"plain": func(l core.EventLog) core.EventLog { return plainLog{l} },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			inner, log := sharedBackends(t)
			store := &countingStore{RunStore: inner}
			started, release := make(chan struct{}, 1), make(chan struct{})
			eng := engineOn(t, store, wrap(log), core.EngineConfig{CreateDelay: time.Hour}, gatedAgent("g", started, release))
			ctx := context.Background()
			run, err := eng.Start(ctx, core.StartParams{AgentID: "g", Message: "hello", Blocking: true})
			if err != nil {
				t.Fatal(err)
			}
			<-started
			// Nothing shows before the end: not the run, not its events.
			if _, err := inner.GetRun(ctx, run.RunID); !errors.Is(err, core.ErrNotFound) {
				t.Fatalf("run stored during a blocking run: %v", err)
			}
			if evs, err := readAll(t, log, run.RunID); !errors.Is(err, core.ErrNotFound) {
				t.Fatalf("events logged during a blocking run: %v %v", types(evs), err)
			}
			close(release)
			done, err := eng.Wait(ctx, run.RunID, -1)
			if err != nil || done.Status != core.RunCompleted {
				t.Fatalf("Wait: %+v %v", done, err)
			}
			if c, u := store.creates.Load(), store.updates.Load(); c != 1 || u != 0 {
				t.Fatalf("%d creates, %d updates; want one create", c, u)
			}
			evs, err := readAll(t, log, run.RunID)
			if err != nil {
				t.Fatal(err)
			}
			checkDense(t, evs, 0)
			if int64(len(evs)) != done.EventCount || evs[0].Event != core.EventRunStarted || evs[len(evs)-1].Event != core.EventRunCompleted {
				t.Fatalf("logged %v, run says %d events", types(evs), done.EventCount)
			}
			// A later subscriber replays the whole run.
			s, err := eng.Subscribe(ctx, run.RunID, -1)
			if err != nil {
				t.Fatal(err)
			}
			if got := enginetest.Collect(t, s); len(got) != len(evs) {
				t.Fatalf("replayed %v", types(got))
			}
		})
	}
}

func TestSubscriberReleasesABlockingRun(t *testing.T) {
	t.Parallel()
	inner, log := sharedBackends(t)
	started, release := make(chan struct{}, 1), make(chan struct{})
	eng := engineOn(t, inner, sharedLog{log}, core.EngineConfig{CreateDelay: time.Hour}, gatedAgent("g", started, release))
	ctx := context.Background()
	run, err := eng.Start(ctx, core.StartParams{AgentID: "g", Message: "hello", Blocking: true})
	if err != nil {
		t.Fatal(err)
	}
	<-started
	s, err := eng.Subscribe(ctx, run.RunID, -1)
	if err != nil {
		t.Fatal(err)
	}
	// Subscribing stored the run, then released what it had emitted.
	if got, err := inner.GetRun(ctx, run.RunID); err != nil || got.Status != core.RunRunning {
		t.Fatalf("stored run %+v, %v", got, err)
	}
	if evs, err := readAll(t, log, run.RunID); err != nil || len(evs) != 2 {
		t.Fatalf("logged %v, %v; want RunStarted and RunContent", types(evs), err)
	}
	close(release)
	evs := enginetest.Collect(t, s)
	checkDense(t, evs, 0)
	if last := evs[len(evs)-1]; last.Event != core.EventRunCompleted {
		t.Fatalf("stream %v", types(evs))
	}
	if done, err := eng.Wait(ctx, run.RunID, -1); err != nil || done.Status != core.RunCompleted || done.EventCount != int64(len(evs)) {
		t.Fatalf("Wait: %+v %v", done, err)
	}
}

func TestLongBlockingRunShowsAfterTheDelay(t *testing.T) {
	t.Parallel()
	inner, log := sharedBackends(t)
	started, release := make(chan struct{}, 1), make(chan struct{})
	eng := engineOn(t, inner, sharedLog{log}, core.EngineConfig{CreateDelay: 20 * time.Millisecond}, gatedAgent("g", started, release))
	ctx := context.Background()
	run, err := eng.Start(ctx, core.StartParams{AgentID: "g", Message: "hello", Blocking: true})
	if err != nil {
		t.Fatal(err)
	}
	<-started
	testutil.Eventually(t, 5*time.Second, "the run and its events shown after CreateDelay", func() bool {
		got, err := inner.GetRun(ctx, run.RunID)
		evs, lerr := readAll(t, log, run.RunID)
		return err == nil && got.Status == core.RunRunning && lerr == nil && len(evs) == 2
	})
	// Another process could now cancel it through the store and the log.
	if _, err := eng.Cancel(ctx, run.RunID); err != nil {
		t.Fatal(err)
	}
	done, err := eng.Wait(ctx, run.RunID, -1)
	if err != nil || done.Status != core.RunCancelled {
		t.Fatalf("Wait: %+v %v", done, err)
	}
	evs, err := readAll(t, log, run.RunID)
	if err != nil {
		t.Fatal(err)
	}
	checkDense(t, evs, 0)
	if last := evs[len(evs)-1]; last.Event != core.EventRunCancelled || int64(len(evs)) != done.EventCount {
		t.Fatalf("logged %v; run says %d", types(evs), done.EventCount)
	}
	close(release)
}

func TestCancelOfAHeldBlockingRun(t *testing.T) {
	t.Parallel()
	inner, log := sharedBackends(t)
	started := make(chan struct{}, 1)
	eng := engineOn(t, inner, sharedLog{log}, core.EngineConfig{CreateDelay: time.Hour}, blockingAgent("slow", started))
	ctx := context.Background()
	run, err := eng.Start(ctx, core.StartParams{AgentID: "slow", Message: "go", Blocking: true})
	if err != nil {
		t.Fatal(err)
	}
	<-started
	if _, err := eng.Cancel(ctx, run.RunID); err != nil {
		t.Fatal(err)
	}
	done, err := eng.Wait(ctx, run.RunID, -1)
	if err != nil || done.Status != core.RunCancelled || !done.CancelRequested {
		t.Fatalf("Wait: %+v %v", done, err)
	}
	evs, err := readAll(t, log, run.RunID)
	if err != nil {
		t.Fatal(err)
	}
	checkDense(t, evs, 0)
	if last := evs[len(evs)-1]; last.Event != core.EventRunCancelled {
		t.Fatalf("logged %v", types(evs))
	}
}

// TestRunReaderSeesHeldRuns reads a run the engine still holds in memory
// through each method of core.RunReader, the only way code outside the
// engine reads runs and sessions: none misses it.
func TestRunReaderSeesHeldRuns(t *testing.T) {
	t.Parallel()
	reads := map[string]func(ctx context.Context, r core.RunReader, run *core.Run) error{
		"Get": func(ctx context.Context, r core.RunReader, run *core.Run) error {
			got, err := r.Get(ctx, run.RunID)
			if err == nil && got.RunID != run.RunID {
				err = fmt.Errorf("got run %s", got.RunID)
			}
			return err
		},
		"List": func(ctx context.Context, r core.RunReader, run *core.Run) error {
			runs, err := r.List(ctx, core.ListRunsParams{UserID: run.UserID})
			if err == nil && (len(runs) != 1 || runs[0].RunID != run.RunID) {
				err = fmt.Errorf("listed %d runs", len(runs))
			}
			return err
		},
		"GetSession": func(ctx context.Context, r core.RunReader, run *core.Run) error {
			_, err := r.GetSession(ctx, run.SessionID)
			return err
		},
		"ListSessions": func(ctx context.Context, r core.RunReader, run *core.Run) error {
			list, total, err := r.ListSessions(ctx, core.ListSessionsParams{UserID: run.UserID})
			if err == nil && (total != 1 || len(list) != 1 || list[0].SessionID != run.SessionID) {
				err = fmt.Errorf("listed %d sessions of %d", len(list), total)
			}
			return err
		},
	}
	for name, read := range reads {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			inner, log := sharedBackends(t)
			started, release := make(chan struct{}, 1), make(chan struct{})
			eng := engineOn(t, inner, log, core.EngineConfig{CreateDelay: time.Hour}, gatedAgent("g", started, release))
			ctx := context.Background()
			run, err := eng.Start(ctx, core.StartParams{AgentID: "g", Message: "hello", UserID: core.NewUUID()})
			if err != nil {
				t.Fatal(err)
			}
			<-started
			if _, err := inner.GetRun(ctx, run.RunID); !errors.Is(err, core.ErrNotFound) {
				t.Fatalf("the run reached the store before its delay: %v", err)
			}
			var r core.RunReader = eng
			if err := read(ctx, r, run); err != nil {
				t.Fatalf("%s of a held run: %v", name, err)
			}
			close(release)
			completedAndStored(t, eng, inner, run.RunID)
		})
	}
}
