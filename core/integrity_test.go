package core_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/model/scripted"
	"github.com/agentgate/agentgate/internal/testutil"
)

var errDown = &core.Error{Code: core.CodeUnavailable, Message: "backend down (test)"}

// outageStore is a store whose run writes and lease operations fail, as an
// unreachable database's would, while down is set; fails counts them.
type outageStore struct {
	core.RunStore
	down  atomic.Bool
	fails atomic.Int64
}

func (s *outageStore) fail() bool {
	if s.down.Load() {
		s.fails.Add(1)
		return true
	}
	return false
}

func (s *outageStore) UpdateRun(ctx context.Context, r *core.Run, p core.UpdateRunParams) error {
	if s.fail() {
		return errDown
	}
	return s.RunStore.UpdateRun(ctx, r, p)
}

func (s *outageStore) RenewLease(ctx context.Context, p core.LeaseParams) error {
	if s.fail() {
		return errDown
	}
	return s.RunStore.RenewLease(ctx, p)
}

func (s *outageStore) ListExpiredLeases(ctx context.Context, now int64, limit int) ([]*core.Run, error) {
	if s.fail() {
		return nil, errDown
	}
	return s.RunStore.ListExpiredLeases(ctx, now, limit)
}

func (s *outageStore) GetRun(ctx context.Context, id string) (*core.Run, error) {
	if s.fail() {
		return nil, errDown
	}
	return s.RunStore.GetRun(ctx, id)
}

// watchedLog is a log that fails (unavailable) while down is set, and
// records, for every event that ends a segment, the run as stored when it
// was appended.
type watchedLog struct {
	core.EventLog
	store core.RunStore
	down  atomic.Bool

	mu     sync.Mutex
	atEnds []*core.Run
}

func (l *watchedLog) Append(ctx context.Context, ev *core.Event) (int64, error) {
	if l.down.Load() {
		return -1, errDown
	}
	if ev.Event.EndsSegment() && l.store != nil {
		r, err := l.store.GetRun(ctx, ev.RunID)
		if err != nil {
			return -1, err
		}
		l.mu.Lock()
		l.atEnds = append(l.atEnds, r)
		l.mu.Unlock()
	}
	return l.EventLog.Append(ctx, ev)
}

func (l *watchedLog) Read(ctx context.Context, p core.ReadParams) ([]core.Event, error) {
	if l.down.Load() {
		return nil, errDown
	}
	return l.EventLog.Read(ctx, p)
}

func (l *watchedLog) Ping(ctx context.Context) error {
	if l.down.Load() {
		return errDown
	}
	return l.EventLog.Ping(ctx)
}

func (l *watchedLog) WatchCancel(ctx context.Context, runID string) (<-chan struct{}, func(), error) {
	if l.down.Load() {
		return nil, nil, errDown
	}
	return l.EventLog.WatchCancel(ctx, runID)
}

// logged reads every event of the run from the log.
func logged(t *testing.T, log core.EventLog, runID string) []core.Event {
	t.Helper()
	evs, err := log.Read(context.Background(), core.ReadParams{RunID: runID, After: -1})
	if err != nil {
		t.Fatalf("read the log of %s: %v", runID, err)
	}
	return evs
}

// endings counts the events that end a segment.
func endings(evs []core.Event) int {
	n := 0
	for _, ev := range evs {
		if ev.Event.EndsSegment() {
			n++
		}
	}
	return n
}

// A store that fails when the run ends (both replicas lose it, longer than
// the lease): the end is stored once the store is back, then the one
// RunCompleted is appended; no reaper ends the run a second time.
func TestStoreFailingAtTheEndOfARun(t *testing.T) {
	t.Parallel()
	sqlStore, mem := sharedBackends(t)
	store := &outageStore{RunStore: sqlStore}
	log := &watchedLog{EventLog: mem, store: sqlStore}
	started, release := make(chan struct{}, 1), make(chan struct{})
	cfg := core.EngineConfig{LeaseTTL: 150 * time.Millisecond}
	a := engineOn(t, store, log, cfg, gatedAgent("g", started, release))
	engineOn(t, store, log, cfg) // another replica's reaper
	ctx := context.Background()

	run, err := a.Start(ctx, core.StartParams{AgentID: "g", Message: "x"})
	if err != nil {
		t.Fatal(err)
	}
	<-started
	store.down.Store(true)
	close(release)
	// Down for several leases: every write of the run's end fails.
	testutil.Eventually(t, 5*time.Second, "the end's write to fail a few times", func() bool { return store.fails.Load() >= 5 })
	time.Sleep(600 * time.Millisecond)
	if evs := logged(t, mem, run.RunID); endings(evs) != 0 {
		t.Fatalf("the ending event went out while the store could not hold the end: %v", types(evs))
	}
	store.down.Store(false)

	done, err := a.Wait(ctx, run.RunID, -1)
	if err != nil || done.Status != core.RunCompleted || done.Content != "done" {
		t.Fatalf("run after the outage: %+v %v", done, err)
	}
	// Past the replicas' grace after the outage: still the one ending.
	time.Sleep(2500 * time.Millisecond)
	got, err := sqlStore.GetRun(ctx, run.RunID)
	if err != nil {
		t.Fatal(err)
	}
	evs := logged(t, mem, run.RunID)
	if endings(evs) != 1 || evs[len(evs)-1].Event != core.EventRunCompleted {
		t.Fatalf("want exactly one ending event, RunCompleted: %v", types(evs))
	}
	if got.Status != core.RunCompleted || got.Content != "done" || got.EventCount != int64(len(evs)) || got.LeaseOwner != "" {
		t.Fatalf("stored run %+v, log %v", got, types(evs))
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	if len(log.atEnds) != 1 || log.atEnds[0].Status != core.RunCompleted {
		t.Fatalf("the ending event was appended while the store said %+v", log.atEnds)
	}
}

// runInLog stores a RUNNING run whose executor vanished (lease ended) and
// appends the given events to the log.
func runInLog(t *testing.T, store core.RunStore, log core.EventLog, bg bool, evs ...core.Event) *core.Run {
	t.Helper()
	ctx := context.Background()
	run := &core.Run{RunID: core.NewUUID(), SessionID: core.NewUUID(), AgentID: "a", Status: core.RunRunning,
		Background: bg, Input: core.RunInput{InputContent: "x"},
		LeaseOwner: "dead-replica", LeaseUntil: time.Now().Add(-time.Second).UnixMilli(), CreatedAt: 1, UpdatedAt: 1}
	if err := store.CreateRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		ev.RunID = run.RunID
		if _, err := log.Append(ctx, &ev); err != nil {
			t.Fatal(err)
		}
	}
	return run
}

// A reaper that finds the run's segment ended in the log stores the
// outcome its ending event says and appends nothing.
func TestReaperStoresTheOutcomeTheLogEndedWith(t *testing.T) {
	t.Parallel()
	store, log := sharedBackends(t)
	ctx := context.Background()
	m := core.Metrics{TotalTokens: 7}
	completed := runInLog(t, store, log, false, core.Event{Event: core.EventRunStarted}, core.Event{Event: core.EventRunContent, Content: "hi"},
		core.Event{Event: core.EventRunCompleted, Content: "hi", ContentType: "str", Metrics: &m})
	failed := runInLog(t, store, log, true, core.Event{Event: core.EventRunStarted},
		core.Event{Event: core.EventRunError, Content: "model broke", ErrorType: "model_error"})
	eng := engineOn(t, store, log, core.EngineConfig{LeaseTTL: 100 * time.Millisecond, Queue: &memQueue{}})

	testutil.Eventually(t, 5*time.Second, "the runs to be settled", func() bool {
		a, _ := store.GetRun(ctx, completed.RunID)
		b, _ := store.GetRun(ctx, failed.RunID)
		return a.Status.Final() && b.Status.Final()
	})
	got, _ := eng.Get(ctx, completed.RunID)
	if got.Status != core.RunCompleted || got.Content != "hi" || got.EventCount != 3 || got.Metrics == nil || got.Metrics.TotalTokens != 7 || got.LeaseOwner != "" {
		t.Fatalf("settled run = %+v", got)
	}
	got, _ = eng.Get(ctx, failed.RunID)
	if got.Status != core.RunError || got.ErrorType != "model_error" || got.Error != "model broke" || got.EventCount != 2 {
		t.Fatalf("settled run = %+v", got)
	}
	for _, r := range []*core.Run{completed, failed} {
		if evs := logged(t, log, r.RunID); endings(evs) != 1 {
			t.Fatalf("the reaper appended to an ended segment: %v", types(evs))
		}
	}
	// A subscriber after the ending event is answered at once.
	s, err := eng.Subscribe(ctx, completed.RunID, 2)
	if err != nil || !s.Done() {
		t.Fatalf("subscribe after the end: done %v, %v", s != nil && s.Done(), err)
	}
}

// A reaper whose log lost the run's events appends nothing (any index may
// have been delivered already) and ends the run in the store only.
func TestReaperDoesNotAppendToALostLog(t *testing.T) {
	t.Parallel()
	store, log := sharedBackends(t)
	ctx := context.Background()
	run := runInLog(t, store, log, false)
	engineOn(t, store, log, core.EngineConfig{LeaseTTL: 100 * time.Millisecond})
	testutil.Eventually(t, 5*time.Second, "the run to be reaped", func() bool {
		r, _ := store.GetRun(ctx, run.RunID)
		return r.Status.Final()
	})
	got, _ := store.GetRun(ctx, run.RunID)
	if got.Status != core.RunError || got.ErrorType != "worker_lost" || got.EventCount != 0 {
		t.Fatalf("reaped run = %+v", got)
	}
	if _, err := log.Read(ctx, core.ReadParams{RunID: run.RunID, After: -1}); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("the reaper appended to a log that lost the run: %v", err)
	}
}

// A queued run whose log already ended (its executor could not store the
// end) is never executed again: its outcome is stored.
func TestExecuteQueuedWithAnEndedLog(t *testing.T) {
	t.Parallel()
	store, log := sharedBackends(t)
	ctx := context.Background()
	var calls atomic.Int64
	agent := &funcAgent{id: "a", fn: func(context.Context, *core.Execution) (*core.Outcome, error) {
		calls.Add(1)
		return &core.Outcome{Content: "again"}, nil
	}}
	// No reaper: only ExecuteQueued looks at the run.
	eng := engineOn(t, store, log, core.EngineConfig{LeaseTTL: -1, Queue: &memQueue{}}, agent)
	run := runInLog(t, store, log, true, core.Event{Event: core.EventRunStarted},
		core.Event{Event: core.EventRunCompleted, Content: "first", ContentType: "str"})
	if err := eng.ExecuteQueued(ctx, run.RunID, 2); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 0 {
		t.Fatal("a run whose segment had ended was executed again")
	}
	got, _ := eng.Get(ctx, run.RunID)
	if got.Status != core.RunCompleted || got.Content != "first" || got.EventCount != 2 {
		t.Fatalf("run = %+v", got)
	}
	if evs := logged(t, log, run.RunID); len(evs) != 2 {
		t.Fatalf("log = %v", types(evs))
	}
}

// A background run whose events cannot reach the log is executed again
// once the log is back (run_restarted), and completes; meanwhile a
// foreground run is refused at once.
func TestBackgroundRunSurvivesALogOutage(t *testing.T) {
	t.Parallel()
	store, mem := sharedBackends(t)
	log := &watchedLog{EventLog: mem}
	slow := scriptedAgent(t, "slow", scripted.Config{Chunks: 10, ChunkDelay: 30 * time.Millisecond, Rules: []scripted.Rule{{Reply: "a b c d e f g h i j"}}})
	eng := engineOn(t, store, log, core.EngineConfig{LeaseTTL: 300 * time.Millisecond}, slow)
	ctx := context.Background()
	run, err := eng.Start(ctx, core.StartParams{AgentID: "slow", Message: "x", Background: true})
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "the run's first chunks", func() bool {
		evs, _ := mem.Read(ctx, core.ReadParams{RunID: run.RunID, After: -1})
		return len(evs) >= 3
	})
	log.down.Store(true)
	testutil.Eventually(t, 5*time.Second, "the run to notice the outage", func() bool {
		_, err := eng.Start(ctx, core.StartParams{AgentID: "slow", Message: "y"})
		return err != nil
	})
	start := time.Now()
	_, err = eng.Start(ctx, core.StartParams{AgentID: "slow", Message: "y"})
	if core.CodeOf(err) != core.CodeUnavailable || time.Since(start) > 1500*time.Millisecond {
		t.Fatalf("a foreground start while the log is down: %v after %v, want unavailable at once", err, time.Since(start))
	}
	time.Sleep(700 * time.Millisecond) // longer than the lease: kept by the heartbeat
	if r, _ := store.GetRun(ctx, run.RunID); r.Status != core.RunRunning {
		t.Fatalf("background run during the outage: %+v", r)
	}
	log.down.Store(false)

	done, err := eng.Wait(ctx, run.RunID, -1)
	if err != nil || done.Status != core.RunCompleted || done.Content != "a b c d e f g h i j" {
		t.Fatalf("background run after the outage: %+v %v", done, err)
	}
	evs := logged(t, mem, run.RunID)
	checkDense(t, evs, 0)
	restarted := false
	for _, ev := range evs {
		if ev.Event == core.EventCustom && ev.Data["kind"] == "run_restarted" && ev.Data["reason"] == "event_log_unavailable" {
			restarted = true
		}
	}
	if !restarted || endings(evs) != 1 || evs[len(evs)-1].Event != core.EventRunCompleted || done.EventCount != int64(len(evs)) {
		t.Fatalf("stream after the outage (event_count %d): %v", done.EventCount, types(evs))
	}
}

// rescuingQueue is a memQueue that records Rescue calls (core.QueueRescuer).
type rescuingQueue struct {
	memQueue
	rescued chan string
}

func (q *rescuingQueue) Rescue(_ context.Context, runID string, leaseEnd time.Time) error {
	if !leaseEnd.Before(time.Now()) {
		return errors.New("rescued before the lease ended")
	}
	q.rescued <- runID
	return nil
}

// The reaper hands a background run whose executor vanished back to the
// queue as soon as its lease ended (QueueRescuer), instead of waiting for
// the queue's own rescue.
func TestReaperHandsALostBackgroundRunToTheQueue(t *testing.T) {
	t.Parallel()
	store, log := sharedBackends(t)
	q := &rescuingQueue{rescued: make(chan string, 16)}
	engineOn(t, store, log, core.EngineConfig{LeaseTTL: 100 * time.Millisecond, Queue: q})
	run := runInLog(t, store, log, true, core.Event{Event: core.EventRunStarted})
	select {
	case id := <-q.rescued:
		if id != run.RunID {
			t.Fatalf("rescued %s, want %s", id, run.RunID)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the lost background run was not handed back to the queue")
	}
	if got, _ := store.GetRun(context.Background(), run.RunID); got.Status != core.RunRunning {
		t.Fatalf("a lost background run is the queue's to execute again, not ended: %+v", got)
	}
}

// watchDownLog fails WatchCancel (unavailable) while down is set.
type watchDownLog struct {
	core.EventLog
	down atomic.Bool
}

func (l *watchDownLog) WatchCancel(ctx context.Context, runID string) (<-chan struct{}, func(), error) {
	if l.down.Load() {
		return nil, nil, errDown
	}
	return l.EventLog.WatchCancel(ctx, runID)
}

// A cancel watch that cannot be set up at the start does not end the run:
// it is set up again, and a cancel then reaches the run.
func TestCancelWatchIsRetried(t *testing.T) {
	t.Parallel()
	store, mem := sharedBackends(t)
	log := &watchDownLog{EventLog: mem}
	log.down.Store(true)
	started, release := make(chan struct{}, 1), make(chan struct{})
	defer close(release)
	eng := engineOn(t, store, log, core.EngineConfig{}, gatedAgent("g", started, release))
	ctx := context.Background()
	run, err := eng.Start(ctx, core.StartParams{AgentID: "g", Message: "x"})
	if err != nil {
		t.Fatal(err)
	}
	<-started
	log.down.Store(false)
	time.Sleep(500 * time.Millisecond) // the watch's first retry is 200 ms away
	if _, err := eng.Cancel(ctx, run.RunID); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	done, err := eng.Wait(cctx, run.RunID, -1)
	if err != nil || done.Status != core.RunCancelled {
		t.Fatalf("run cancelled after its watch was set up again: %+v %v", done, err)
	}
}

// A run that ends while the log is down is stored at once and its waiter
// answered; its ending event is appended once the log is back, at the
// index the stored run says.
func TestEndingEventRetriedAfterTheRun(t *testing.T) {
	t.Parallel()
	store, mem := sharedBackends(t)
	log := &watchedLog{EventLog: mem}
	started, release := make(chan struct{}, 1), make(chan struct{})
	eng := engineOn(t, store, log, core.EngineConfig{}, gatedAgent("g", started, release))
	ctx := context.Background()
	run, err := eng.Start(ctx, core.StartParams{AgentID: "g", Message: "x"})
	if err != nil {
		t.Fatal(err)
	}
	<-started
	// The agent's events so far reach the log behind it (its emits are
	// queued on a log that is not the process's own): the outage begins
	// once they are there.
	testutil.Eventually(t, 5*time.Second, "the run's first events to be appended", func() bool {
		evs, _ := mem.Read(ctx, core.ReadParams{RunID: run.RunID, After: -1})
		return len(evs) == 2
	})
	log.down.Store(true)
	close(release)
	start := time.Now()
	done, err := eng.Wait(ctx, run.RunID, -1)
	if err != nil || done.Status != core.RunCompleted {
		t.Fatalf("run ended while the log was down: %+v %v", done, err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("the waiter was held %v by the log's outage", took)
	}
	if got, _ := store.GetRun(ctx, run.RunID); got.Status != core.RunCompleted {
		t.Fatalf("stored run while the log is down: %+v", got)
	}
	// A waiter on a replica that did not execute the run (or on this one
	// once the executor is gone) is answered from the stored end, not
	// failed by the log that is still down.
	other := engineOn(t, store, log, core.EngineConfig{}, gatedAgent("g", nil, nil))
	if done, err := other.Wait(ctx, run.RunID, -1); err != nil || done.Status != core.RunCompleted {
		t.Fatalf("another replica's waiter while the log is down: %+v %v", done, err)
	}
	log.down.Store(false)
	testutil.Eventually(t, 10*time.Second, "the ending event to be appended", func() bool {
		evs, _ := mem.Read(ctx, core.ReadParams{RunID: run.RunID, After: -1})
		return endings(evs) == 1
	})
	evs := logged(t, mem, run.RunID)
	got, _ := store.GetRun(ctx, run.RunID)
	if evs[len(evs)-1].Event != core.EventRunCompleted || got.EventCount != int64(len(evs)) {
		t.Fatalf("stored count %d, log %v", got.EventCount, types(evs))
	}
}
