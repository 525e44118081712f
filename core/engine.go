package core

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// EngineConfig configures an Engine. Store and Log are required.
type EngineConfig struct {
	Store Store
	Log   EventLog
	// Logger receives the engine's structured logs; nil means slog.Default().
	Logger *slog.Logger
	// HistoryRuns is how many earlier runs of a session are given to an
	// agent as history. Default 10; negative means none.
	HistoryRuns int
	// NewID makes run and session ids; nil means NewUUID (UUIDv7 strings).
	NewID func() string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// InstanceID names this engine as the lease owner of the runs it
	// executes; empty means a random id.
	InstanceID string
	// LeaseTTL is how long an executing run's lease lasts without renewal
	// (renewed every third of it). A reaper on every engine ends a RUNNING
	// run whose lease ended with RunError (worker_lost). Default 15 s;
	// negative disables leases and the reaper.
	LeaseTTL time.Duration
	// Queue, when set, executes background runs durably (any replica's
	// worker calls ExecuteQueued). Nil runs them in this process.
	Queue Queue
	// QueueGrace is how long the queue has to start a queued run, or to
	// execute again one whose executor died, before the reaper steps in:
	// a queued run not started is enqueued again, one whose lease ended
	// that long ago is ended (worker_lost). It must exceed the queue's
	// rescue time. Default 5 min.
	QueueGrace time.Duration
	// CreateDelay is how long a foreground run may execute before it is
	// first written to the store, when the event log is ProcessLocal (see
	// deferred.go): a run that ends sooner is written once, in its final
	// state. Default 1 s; negative writes every run before it starts.
	CreateDelay time.Duration
	// FinalCacheTTL is how long a run that has ended, once read from the
	// store, is answered from memory (see finalcache.go): a change made to
	// it through another replica (a deletion) shows here within it.
	// Default 1 s; negative reads the store every time.
	FinalCacheTTL time.Duration
	// IdempotencyTTL is how long an idempotency key names its run (see
	// idempotency.go); expired keys are deleted. Default 24 h.
	IdempotencyTTL time.Duration
	// MaxMessageBytes bounds a run's message: a longer one is refused
	// (code too_large) on every interface. Default DefaultMaxMessageBytes;
	// negative means no bound.
	MaxMessageBytes int
	// DisconnectGrace is how long a foreground run whose client went away
	// keeps running unfollowed before it is cancelled (see Disconnected).
	// Default 10 s; negative cancels at once.
	DisconnectGrace time.Duration
}

// Engine executes runs and owns their lifecycle: it creates runs, executes
// agents, appends every event to the EventLog, keeps the Store up to date,
// and serves cancel, continue and subscribe. All methods are safe for
// concurrent use.
type Engine struct {
	store  Store
	log    EventLog
	logger *slog.Logger
	cfg    EngineConfig

	// mu guards agents and order.
	mu     sync.RWMutex
	agents map[string]Agent
	order  []string

	// launchMu orders wg.Add in launch against Close's closing of closed
	// (a WaitGroup must not be added to from zero while Wait runs).
	launchMu sync.Mutex
	// final caches ended runs read from the store (nil: disabled).
	final *finalCache
	// activeMu guards active: the runs this process is executing.
	activeMu sync.Mutex
	active   map[string]*activeRun
	// sweepDone is closed when sweepKeys returns.
	sweepDone chan struct{}
	// followers counts the streams following live runs here (disconnect.go).
	followers followers

	baseCtx    context.Context
	stopRuns   context.CancelFunc
	wg         sync.WaitGroup
	closed     chan struct{}
	once       sync.Once
	reaperDone chan struct{}

	// storeTrouble and logTrouble are when (Unix ms) this engine last saw
	// the store, or the event log, fail to answer (0: never).
	storeTrouble atomic.Int64
	logTrouble   atomic.Int64
}

// NewEngine returns an Engine over the given store and log.
func NewEngine(cfg EngineConfig) (*Engine, error) {
	if cfg.Store == nil || cfg.Log == nil {
		return nil, errors.New("core: engine needs a Store and an EventLog")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.HistoryRuns == 0 {
		cfg.HistoryRuns = 10
	}
	if cfg.NewID == nil {
		cfg.NewID = NewUUID
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.InstanceID == "" {
		cfg.InstanceID = NewUUID()
	}
	if cfg.LeaseTTL == 0 {
		cfg.LeaseTTL = 15 * time.Second
	}
	if cfg.QueueGrace <= 0 {
		cfg.QueueGrace = 5 * time.Minute
	}
	if cfg.CreateDelay == 0 {
		cfg.CreateDelay = time.Second
	}
	if cfg.FinalCacheTTL == 0 {
		cfg.FinalCacheTTL = time.Second
	}
	if cfg.IdempotencyTTL <= 0 {
		cfg.IdempotencyTTL = 24 * time.Hour
	}
	if cfg.MaxMessageBytes == 0 {
		cfg.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if cfg.DisconnectGrace == 0 {
		cfg.DisconnectGrace = 10 * time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &Engine{
		store: cfg.Store, log: cfg.Log, logger: cfg.Logger, cfg: cfg,
		agents: map[string]Agent{}, active: map[string]*activeRun{}, baseCtx: ctx, stopRuns: cancel,
		closed: make(chan struct{}), reaperDone: make(chan struct{}), sweepDone: make(chan struct{}),
	}
	go e.sweepKeys()
	if cfg.FinalCacheTTL > 0 {
		e.final = newFinalCache(cfg.FinalCacheTTL, finalCacheMax)
	}
	if cfg.LeaseTTL > 0 {
		go e.reaper()
	} else {
		close(e.reaperDone)
	}
	return e, nil
}

// InstanceID is this engine's lease owner name.
func (e *Engine) InstanceID() string { return e.cfg.InstanceID }

func (e *Engine) nowMs() int64 { return e.cfg.Now().UnixMilli() }

// leaseUntil is the end of a lease taken or renewed now (0 without leases).
func (e *Engine) leaseUntil() int64 {
	if e.cfg.LeaseTTL <= 0 {
		return 0
	}
	return e.nowMs() + e.cfg.LeaseTTL.Milliseconds()
}

// NewUUID returns a version 7 UUID string: time-ordered (so new runs and
// sessions go to the end of the stores' indexes instead of dirtying a
// random page each), with 74 random bits.
func NewUUID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString() // the clock or the random source failed: v4
	}
	return id.String()
}

// RegisterAgent adds an agent. An empty or duplicate id is an error.
func (e *Engine) RegisterAgent(a Agent) error {
	id := a.Info().ID
	if strings.TrimSpace(id) == "" {
		return errors.New("core: agent id is empty")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, dup := e.agents[id]; dup {
		return fmt.Errorf("core: agent %q registered twice", id)
	}
	e.agents[id] = a
	e.order = append(e.order, id)
	return nil
}

// Agent returns the agent with id, or a not_found error.
func (e *Engine) Agent(id string) (Agent, error) {
	if err := CheckID("agent_id", id); err != nil {
		return nil, err
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	a, ok := e.agents[id]
	if !ok {
		return nil, Errorf(CodeNotFound, "agent %q not found", id)
	}
	return a, nil
}

// Agents returns the registered agents in registration order.
func (e *Engine) Agents() []Agent {
	e.mu.RLock()
	defer e.mu.RUnlock()
	out := make([]Agent, 0, len(e.order))
	for _, id := range e.order {
		out = append(out, e.agents[id])
	}
	return out
}

// Readiness is the state of each backend: "ok" or the error.
type Readiness struct {
	Ready    bool   `json:"ready"`
	Database string `json:"database"`
	EventLog string `json:"event_log"`
}

// Ready pings the state store and the event log (each bounded by ctx).
func (e *Engine) Ready(ctx context.Context) Readiness {
	r := Readiness{Ready: true, Database: "ok", EventLog: "ok"}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := e.store.Ping(ctx); err != nil {
			r.Database = err.Error()
		}
	}()
	go func() {
		defer wg.Done()
		if err := e.log.Ping(ctx); err != nil {
			r.EventLog = err.Error()
		}
	}()
	wg.Wait()
	r.Ready = r.Database == "ok" && r.EventLog == "ok"
	return r
}

// Store returns the engine's state store (for the session API and readiness).
func (e *Engine) Store() Store { return e.store }

// EventLog returns the engine's event log (for readiness checks).
func (e *Engine) EventLog() EventLog { return e.log }

func (e *Engine) now() int64 { return e.cfg.Now().Unix() }

// StartParams starts a run.
type StartParams struct {
	AgentID   string
	Message   string
	SessionID string // empty: a new session
	UserID    string
	// Background marks a run detached from any request (informational;
	// every run executes detached from the request that started it).
	Background bool
	// Blocking says the caller follows the run only with Wait and shows
	// its id to no one before it ends: the engine may then store the run
	// and append its events once, when it ends (see deferred.go).
	Blocking bool
	// IdempotencyKey, when not empty, makes the start idempotent (see
	// idempotency.go): a start with the same key and request, in the same
	// IdempotencyScope and agent, returns that run instead of a new one.
	IdempotencyKey string
	// IdempotencyScope is whose key it is (the caller); empty is one scope
	// shared by every caller that has none.
	IdempotencyScope string
	// IdempotencyRequest is what else of the request the caller counts as
	// part of it (its mode flags): a retry with other values is another
	// request.
	IdempotencyRequest string
}

// Start creates a run and begins executing it. It returns the run as
// stored (status PENDING); follow it with Subscribe or Wait.
func (e *Engine) Start(ctx context.Context, p StartParams) (*Run, error) {
	run, _, err := e.start(ctx, p, goSpawn, nil)
	return run, err
}

// RunBlocking starts a run as Start does, with p.Blocking set, and executes
// it in the caller's goroutine instead of one of its own; it returns the run
// as its segment ended (completed, failed, cancelled or paused), as Wait
// would. Unlike Wait it does not return early when ctx ends: the execution
// is the run's, which ctx does not cancel. The run is otherwise like any
// other: listed, cancellable from another request, and waited for by
// Close. A background or queued run is only started (and waited for) as
// Start and Wait do.
func (e *Engine) RunBlocking(ctx context.Context, p StartParams) (*Run, error) {
	p.Blocking = true
	var job func()
	run, ar, err := e.start(ctx, p, func(f func()) { job = f }, nil)
	if err != nil {
		return nil, err
	}
	if job == nil {
		return e.Wait(ctx, run.RunID, -1)
	}
	job()
	return e.ended(ctx, ar, run.RunID)
}

// ended returns the run of ar, whose segment has ended: as the executor
// stored it, or, if it could not, as the store has it.
func (e *Engine) ended(ctx context.Context, ar *activeRun, runID string) (*Run, error) {
	if ar.final != nil {
		r := *ar.final
		return &r, nil
	}
	return e.Get(ctx, runID)
}

// StartStream is Start for a caller that follows the run from its first
// event: the stream it returns is fed by the run's executor as events are
// appended (see feed), so trimming never refuses it. A queued background
// run, executed by whichever replica takes it, is followed through the log.
func (e *Engine) StartStream(ctx context.Context, p StartParams) (*Run, *Stream, error) {
	p.Blocking = false
	f := newFeed()
	run, ar, err := e.start(ctx, p, goSpawn, f)
	if err != nil {
		return nil, nil, err
	}
	if ar == nil {
		s, err := e.SubscribeRun(ctx, run, -1)
		if err != nil {
			return nil, nil, err
		}
		return run, s, nil
	}
	return run, &Stream{feed: f, log: e.log, e: e, runID: run.RunID, last: -1}, nil
}

// goSpawn runs f in a goroutine of its own.
func goSpawn(f func()) { go f() }

// start is Start; launch runs the run's execution through spawn, feeding
// its events to f (nil: none).
func (e *Engine) start(ctx context.Context, p StartParams, spawn func(func()), f *feed) (*Run, *activeRun, error) {
	select {
	case <-e.closed:
		return nil, nil, Errorf(CodeUnavailable, "server is shutting down")
	default:
	}
	a, err := e.Agent(p.AgentID)
	if err != nil {
		return nil, nil, err
	}
	if strings.TrimSpace(p.Message) == "" {
		return nil, nil, Errorf(CodeInvalid, "message is required")
	}
	if err := e.checkMessage(p.Message); err != nil {
		return nil, nil, err
	}
	if err := errors.Join(CheckID("session_id", p.SessionID), CheckID("user_id", p.UserID)); err != nil {
		return nil, nil, err
	}
	key, err := e.keyOf(p) // the request as sent: before a session id is generated
	if err != nil {
		return nil, nil, err
	}
	info := a.Info()
	now := e.now()
	generatedSession := p.SessionID == ""
	if generatedSession {
		p.SessionID = e.cfg.NewID()
	}
	queued := p.Background && e.cfg.Queue != nil
	if !queued {
		// Refused at once while the event log is down, instead of failing
		// (or hanging) on its first event.
		if err := e.logUsable(ctx); err != nil {
			return nil, nil, err
		}
	}
	run := &Run{
		RunID: e.cfg.NewID(), SessionID: p.SessionID, AgentID: info.ID, AgentName: info.Name,
		UserID: p.UserID, Status: RunRunning, Input: RunInput{InputContent: p.Message},
		Background: p.Background, CreatedAt: now, UpdatedAt: now,
		LeaseOwner: e.cfg.InstanceID, LeaseUntil: e.leaseUntil(),
	}
	if queued {
		// Unowned; the lease bounds how long it may wait to be started.
		run.Status, run.LeaseOwner, run.LeaseUntil = RunPending, "", e.nowMs()+e.cfg.QueueGrace.Milliseconds()
	}
	if info.Model != nil {
		run.Model, run.ModelProvider = info.Model.Model, info.Model.Provider
	}
	sess := &Session{
		SessionID: p.SessionID, SessionName: SessionNameOf(p.Message), SessionType: SessionAgent, UserID: p.UserID,
		AgentID: info.ID, CreatedAt: now, UpdatedAt: now,
	}
	hold := p.Blocking && e.cfg.CreateDelay > 0
	if !queued && key == nil && (hold || e.defers()) {
		// Written when it ends, or after CreateDelay (deferred.go). A
		// session id the caller did not give is new.
		d := newDeferredCreate(sess, run)
		d.holding = hold
		// Armed once assigned, so the callback never races the assignment.
		d.timer = time.AfterFunc(time.Hour, func() { _ = d.flush(context.Background(), e) })
		d.timer.Reset(e.cfg.CreateDelay)
		snapshot := *run
		ar := e.launch(a, run, execOpts{msg: p.Message, noHistory: generatedSession, create: d, feed: f}, spawn)
		return &snapshot, ar, nil
	}
	newSession, existing, err := e.createRun(ctx, key, sess, run)
	if err != nil {
		return nil, nil, fmt.Errorf("create run: %w", err)
	}
	if existing != nil {
		return existing, nil, nil // a retry: the key's run
	}
	snapshot := *run
	if queued {
		if err := e.cfg.Queue.Enqueue(ctx, run.RunID); err != nil {
			w := &runWriter{e: e, run: run, last: -1}
			e.finishError(context.WithoutCancel(ctx), w, fmt.Errorf("could not queue the run: %w", err), "queue_error")
			return nil, nil, &Error{Code: CodeUnavailable, Message: "could not queue the background run", Err: err}
		}
		return &snapshot, nil, nil
	}
	ar := e.launch(a, run, execOpts{msg: p.Message, noHistory: newSession, feed: f}, spawn)
	return &snapshot, ar, nil
}

// ExecuteQueued executes a queued background run; a queue's worker calls
// it, on any replica, and it returns when the run's segment ends (or ctx
// ends: the run then goes on here until the engine closes). attempt counts
// from 1; a later attempt takes over a RUNNING run whose executor's lease
// ended (it died), restarting it with a CustomEvent that says so. A run
// that is already final, paused, or alive elsewhere is left alone.
func (e *Engine) ExecuteQueued(ctx context.Context, runID string, attempt int) error {
	run, err := e.Get(ctx, runID)
	if err != nil {
		return err
	}
	a, err := e.Agent(run.AgentID)
	if err != nil {
		return err
	}
	var o execOpts
	switch {
	case run.Status == RunPending:
		o = execOpts{msg: run.Input.InputContent}
	case run.Status == RunRunning && run.LeaseUntil < e.nowMs() && e.activeRun(runID) == nil:
		now := e.nowMs()
		if !e.storeSettled(now) {
			// The store just failed here: its executor may be alive and
			// about to renew the lease or store the run's end.
			return Errorf(CodeConflict, "run %s: the state store was unavailable moments ago; trying again later", runID)
		}
		last, lastEv, _, err := e.lastEvent(ctx, run)
		for CodeOf(err) == CodeUnavailable && e.awaitLog(ctx) {
			// The log is down: wait for it here rather than spend the
			// job's attempts.
			last, lastEv, _, err = e.lastEvent(ctx, run)
		}
		if err != nil {
			return err
		}
		if lastEv != nil && lastEv.Event.EndsSegment() {
			// Its segment ended (the executor could not store it): never
			// executed again.
			return e.settleFromLog(ctx, run, lastEv, now)
		}
		run.LeaseOwner, run.LeaseUntil, run.UpdatedAt = e.cfg.InstanceID, e.leaseUntil(), e.now()
		if err := e.store.UpdateRun(ctx, run, UpdateRunParams{IfStatus: []RunStatus{RunRunning}, IfLeaseExpiredBefore: now}); err != nil {
			if errors.Is(err, ErrConflict) {
				return nil // someone else took it over
			}
			return err
		}
		run.EventCount = last + 1
		o = execOpts{msg: run.Input.InputContent, restart: attempt}
	case run.Status == RunRunning && e.activeRun(runID) == nil:
		// Alive elsewhere (or its lease not yet ended): try again later, so
		// the run is executed again if that executor dies.
		return Errorf(CodeConflict, "run %s is being executed by %s", runID, run.LeaseOwner)
	case run.Status == RunRunning:
	default:
		return nil
	}
	if ar := e.activeRun(runID); ar != nil {
		return e.waitActive(ctx, ar)
	}
	ar := e.launch(a, run, o, goSpawn)
	return e.waitActive(ctx, ar)
}

func (e *Engine) waitActive(ctx context.Context, ar *activeRun) error {
	select {
	case <-ar.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// execOpts says how execute starts a run.
type execOpts struct {
	msg       string
	resume    *PausedState    // set when a paused run continues
	noHistory bool            // the session is new: skip loading history
	restart   int             // attempt number of a queued run taken over after its executor died
	create    *deferredCreate // the run's first write, not made yet (deferred.go)
	ar        *activeRun      // the execution's entry in Engine.active
	feed      *feed           // the starting request's stream (feed.go), or nil
}

// activeRun is a run this process is executing. done is closed when the
// current segment ends; final is then the run as stored, or nil if the
// executor could not store it (Wait then reads the store).
type activeRun struct {
	done   chan struct{}
	final  *Run
	create *deferredCreate // pending first write, or nil
	// ended is set once the segment's end is stored, before its ending
	// event is appended: subscribers then read the run as stored.
	ended atomic.Bool
}

// executing returns the run this process is executing, or nil (also once
// its segment's end is stored).
func (e *Engine) executing(runID string) *activeRun {
	if ar := e.activeRun(runID); ar != nil && !ar.ended.Load() {
		return ar
	}
	return nil
}

// launch executes the run through spawn (in its own goroutine, detached
// from any request, with goSpawn). A run launched once Close has begun is
// ended at once (RunCancelled), so Close never misses a run it must wait
// for; spawn is then not called.
func (e *Engine) launch(a Agent, run *Run, o execOpts, spawn func(func())) *activeRun {
	ar := &activeRun{done: make(chan struct{})}
	e.launchMu.Lock()
	select {
	case <-e.closed:
		e.launchMu.Unlock()
		w := &runWriter{e: e, run: run, last: run.EventCount - 1, create: o.create, feed: o.feed}
		e.finishCancelled(context.Background(), w, "server shutting down")
		if o.feed != nil {
			o.feed.end()
		}
		close(ar.done)
		return ar
	default:
	}
	e.wg.Add(1)
	e.launchMu.Unlock()
	ar.create = o.create
	e.activeMu.Lock()
	e.active[run.RunID] = ar
	e.activeMu.Unlock()
	o.ar = ar
	spawn(func() {
		defer e.wg.Done()
		if e.execute(a, run, o) {
			final := *run
			ar.final = &final
		}
		if o.feed != nil {
			o.feed.end()
		}
		e.followers.forget(run.RunID)
		e.activeMu.Lock()
		if e.active[run.RunID] == ar {
			delete(e.active, run.RunID)
		}
		e.activeMu.Unlock()
		close(ar.done)
	})
	return ar
}

func (e *Engine) activeRun(runID string) *activeRun {
	e.activeMu.Lock()
	defer e.activeMu.Unlock()
	return e.active[runID]
}

// runWriter appends the events of one run; it is the run's single writer.
type runWriter struct {
	e    *Engine
	run  *Run
	last int64 // index of the last appended event, -1 before the first
	// floor is the lowest index the next event may take: an append that
	// failed may still have landed (the connection broke after the write),
	// so its index is never offered again, even to a log that lost the run.
	floor int64
	// create is the run's first write when Start deferred it (deferred.go).
	create *deferredCreate
	// executing: the writer is a launched execution's (counted in the
	// engine's wg), so its final event may be retried in the background.
	executing bool
	ar        *activeRun // the execution's, when executing
	// logFailed: an append failed with the log unavailable.
	logFailed bool
	// feed, when set, gets every event appended (feed.go).
	feed *feed
	// slab is where the run's events are allocated, eventSlab at a time:
	// one allocation instead of one per event (the log keeps them).
	slab []Event
}

// eventSlab is how many events a runWriter allocates at once.
const eventSlab = 16

// alloc returns a copy of e that the log may keep.
func (w *runWriter) alloc(e Event) *Event {
	if len(w.slab) == cap(w.slab) {
		w.slab = make([]Event, 0, eventSlab)
	}
	w.slab = append(w.slab, e)
	return &w.slab[len(w.slab)-1]
}

func (w *runWriter) emit(ctx context.Context, ev Event) error {
	_, err := w.append(ctx, ev, false)
	return err
}

// emitFinal appends the event that ends the segment. With a log that can
// (FinishingAppender) it finishes the run's stream in the same step, and
// reports that it did.
func (w *runWriter) emitFinal(ctx context.Context, ev Event) (finished bool, err error) {
	return w.append(ctx, ev, true)
}

func (w *runWriter) append(ctx context.Context, e Event, final bool) (finished bool, err error) {
	ev := w.alloc(e)
	ev.RunID = w.run.RunID
	ev.SessionID = w.run.SessionID
	ev.AgentID = w.run.AgentID
	ev.AgentName = w.run.AgentName
	ev.CreatedAt = w.e.now()
	if !ev.Event.Valid() {
		return false, Errorf(CodeInvalid, "unknown event type %q", ev.Event)
	}
	if err := ctx.Err(); err != nil {
		return false, err // nothing was sent: the index stays free
	}
	var idx int64
	took := false
	if w.create != nil {
		// A run whose events are held back (deferred.go).
		took, idx, finished, err = w.create.hold(ctx, w.e.log, ev, max(w.last+1, w.floor), final)
	}
	if !took {
		ev.EventIndex = max(w.last+1, w.floor) // honoured only if the log lost the run
		// A started append is never cut short by the run's cancellation,
		// so only a failing log leaves it undecided.
		if fa, ok := w.e.log.(FinishingAppender); ok && final {
			idx, err = fa.AppendFinish(context.WithoutCancel(ctx), ev)
			finished = err == nil
		} else {
			idx, err = w.e.log.Append(context.WithoutCancel(ctx), ev)
		}
	}
	if err != nil {
		w.floor = max(w.floor, ev.EventIndex+1)
		if CodeOf(err) == CodeUnavailable {
			w.logFailed = true
			w.e.noteLogTrouble(err)
		}
		return false, err
	}
	w.last = idx
	w.floor = max(w.floor, idx+1)
	if w.feed != nil {
		fe := *ev
		fe.EventIndex = idx
		w.feed.push(fe)
	}
	return finished, nil
}

// execute runs the agent for run. A run stored as PENDING (queued, not
// started by this process) is checked for a stored cancel intent and moved
// to RUNNING first; a run created RUNNING by Start relies on the cancel
// signal, which the log remembers, so it costs no extra write.
func (e *Engine) execute(a Agent, run *Run, o execOpts) (stored bool) {
	resume := o.resume
	ctx, cancel := context.WithCancel(e.baseCtx)
	defer cancel()
	w := &runWriter{e: e, run: run, last: run.EventCount - 1, create: o.create, executing: true, ar: o.ar, feed: o.feed}
	// Appends of the final events must not fail because the run's own
	// context was cancelled.
	bg := context.WithoutCancel(ctx)

	var cancelled atomic.Bool
	stopWatch := e.watchCancel(ctx, run.RunID, func() {
		cancelled.Store(true)
		cancel()
	})
	defer stopWatch()

	if run.Status == RunPending {
		// A cancel recorded before the run started means it never starts.
		cur, err := e.store.GetRun(bg, run.RunID)
		if err == nil && cur.CancelRequested {
			return e.finishCancelled(bg, w, "cancelled before start")
		}
		run.Status = RunRunning
		run.UpdatedAt = e.now()
		run.LeaseOwner, run.LeaseUntil = e.cfg.InstanceID, e.leaseUntil()
		if err := e.store.UpdateRun(bg, run, UpdateRunParams{IfStatus: []RunStatus{RunPending}}); err != nil {
			if errors.Is(err, ErrConflict) {
				return false // someone else (a cancel) moved it on
			}
			return e.finishError(bg, w, fmt.Errorf("mark running: %w", err), "internal_error")
		}
	}
	stopHeartbeat := func() {}
	if e.cfg.LeaseTTL > 0 {
		stopHeartbeat = e.heartbeat(ctx, run.RunID, o.create, cancel)
	}
	defer stopHeartbeat()
	var history []Message
	var err error
	if resume == nil && !o.noHistory && e.cfg.HistoryRuns > 0 {
		history, err = e.history(bg, run)
		if err != nil {
			return e.finishError(bg, w, fmt.Errorf("load history: %w", err), "internal_error")
		}
	}

	if run.Background && e.logUsable(bg) != nil {
		// The log is known to be down: wait for it rather than start
		// with appends that fail.
		e.awaitLog(ctx)
	}
	restart, reason := o.restart, "worker_lost"
	var out *Outcome
	for {
		out, err = e.attempt(ctx, bg, a, w, o, history, restart, reason)
		// A background run whose events could not reach the log is
		// executed again once the log is back (its lease kept meanwhile by
		// the heartbeat), as after a crash, rather than ended in an error.
		if err == nil || !run.Background || !w.logFailed || cancelled.Load() || ctx.Err() != nil {
			break
		}
		e.logger.Warn("background run interrupted by the event log; executing it again once the log is back",
			"run_id", run.RunID, "err", err)
		if !e.awaitLog(ctx) {
			break
		}
		if cur, gerr := e.store.GetRun(bg, run.RunID); gerr == nil && cur.CancelRequested {
			cancelled.Store(true) // cancelled while the log was down
			break
		}
		w.logFailed = false
		restart, reason = max(restart+1, 1), "event_log_unavailable"
	}
	stopHeartbeat() // finishing clears the lease
	switch {
	case cancelled.Load():
		// The signal follows the stored intent (Cancel), so the final run
		// says so too.
		run.CancelRequested = true
		return e.finishCancelled(bg, w, "cancelled by request")
	case e.baseCtx.Err() != nil:
		return e.finishCancelled(bg, w, "server shutting down")
	case err != nil:
		typ := "internal_error"
		var ae *AgentError
		switch {
		case w.logFailed:
			typ = "backend_unavailable" // the event log failed, not the agent
		case errors.As(err, &ae) && ae.Type != "":
			typ = ae.Type
		case CodeOf(err) == CodeUnavailable:
			typ = "backend_unavailable" // the event log or the store failed, not the agent
		}
		return e.finishError(bg, w, err, typ)
	case out == nil:
		return e.finishError(bg, w, errors.New("agent returned no outcome"), "internal_error")
	case out.Paused != nil:
		return e.finishPaused(bg, w, out)
	default:
		return e.finishCompleted(bg, w, out)
	}
}

// attempt executes the agent once: after a CustomEvent run_restarted when
// restart > 0 (the run is executed again: its executor was lost, or its
// events could not reach the log), and RunStarted unless the run continues
// from a pause.
func (e *Engine) attempt(ctx, bg context.Context, a Agent, w *runWriter, o execOpts, history []Message, restart int, reason string) (*Outcome, error) {
	run := w.run
	if restart > 0 {
		if err := w.emit(bg, Event{Event: EventCustom, Data: map[string]any{
			"kind": "run_restarted", "attempt": restart, "reason": reason,
		}}); err != nil {
			return nil, err
		}
	}
	if o.resume == nil {
		if err := w.emit(bg, Event{Event: EventRunStarted, Model: run.Model, ModelProvider: run.ModelProvider}); err != nil {
			return nil, err
		}
	}
	snapshot := *run
	return e.safeExecute(ctx, a, &Execution{
		Run: &snapshot, Message: o.msg, History: history, Resume: o.resume,
		Emit: w.emit,
	})
}

// heartbeat renews the run's lease every third of LeaseTTL until ctx ends
// or stop is called. If the lease was lost (a reaper ended the run, or
// another worker took it over) the execution here is stopped (stopRun):
// its result would not be stored anyway.
func (e *Engine) heartbeat(ctx context.Context, runID string, create *deferredCreate, stopRun context.CancelFunc) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	every := e.cfg.LeaseTTL / 3
	// A timer rather than a goroutine: a run that ends within a third of
	// its lease (most do) costs no goroutine for it. Armed once assigned,
	// so the callback never races the assignment.
	var t *time.Timer
	t = time.AfterFunc(time.Hour, func() {
		if e.renewLease(ctx, runID, create, stopRun) && ctx.Err() == nil {
			t.Reset(every)
		}
	})
	t.Reset(every)
	return func() {
		cancel()
		t.Stop()
	}
}

// renewLease is one heartbeat; it reports whether to go on.
func (e *Engine) renewLease(ctx context.Context, runID string, create *deferredCreate, stopRun context.CancelFunc) bool {
	if create != nil && !create.written() {
		// Not stored yet (CreateDelay is longer than a third of the
		// lease): store it, leased, instead of renewing.
		_ = create.flush(ctx, e)
		return true
	}
	err := e.store.RenewLease(ctx, LeaseParams{RunID: runID, Owner: e.cfg.InstanceID, Until: e.leaseUntil()})
	switch {
	case err == nil, ctx.Err() != nil:
	case errors.Is(err, ErrConflict), errors.Is(err, ErrNotFound):
		e.logger.Warn("run lease lost; stopping its execution here", "run_id", runID)
		stopRun()
		return false
	default:
		e.noteStoreTrouble(err)
		e.logger.Warn("renew run lease", "run_id", runID, "err", err)
	}
	return true
}

// reaper ends, every half lease (at most every reaperMaxInterval), the
// RUNNING runs whose executor vanished (lease ended): with RunError
// worker_lost, so no subscriber waits forever. Queued background runs are
// handed back to the queue, which executes them again.
func (e *Engine) reaper() {
	defer close(e.reaperDone)
	interval := min(max(e.cfg.LeaseTTL/2, 50*time.Millisecond), reaperMaxInterval)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-e.closed:
			return
		case <-t.C:
		}
		if err := e.ReapExpired(e.baseCtx); err != nil && e.baseCtx.Err() == nil {
			e.logger.Warn("reap runs with expired leases", "err", err)
		}
	}
}

// reaperMaxInterval bounds the reaper's period, so a background run whose
// executor died is executed again soon after its lease ends.
const reaperMaxInterval = 2 * time.Second

// ReapExpired ends the RUNNING runs whose lease ended (see reaper). A run
// whose segment already ended in the log gets the outcome its ending event
// says; a queued background run is handed back to the queue (QueueRescuer)
// to be executed again. Right after this engine saw the store fail, it
// leaves every run alone for a while (see storeSettled).
func (e *Engine) ReapExpired(ctx context.Context) error {
	now := e.nowMs()
	runs, err := e.store.ListExpiredLeases(ctx, now, 100)
	if err != nil {
		e.noteStoreTrouble(err)
		return err
	}
	if !e.storeSettled(now) {
		return nil
	}
	for _, run := range runs {
		if e.activeRun(run.RunID) != nil {
			continue // ours and alive: a renewal is merely late
		}
		if run.Status == RunPending {
			if err := e.requeue(ctx, run, now); err != nil {
				return err
			}
			continue
		}
		last, lastEv, empty, err := e.lastEvent(ctx, run)
		if err != nil {
			return err
		}
		if lastEv != nil && lastEv.Event.EndsSegment() {
			if err := e.settleFromLog(ctx, run, lastEv, now); err != nil {
				return err
			}
			continue
		}
		if run.Background && e.cfg.Queue != nil && now-run.LeaseUntil < e.cfg.QueueGrace.Milliseconds() {
			// The queue executes it again: at once if it can tell its job
			// was lost with the executor, else when it rescues the job.
			if rq, ok := e.cfg.Queue.(QueueRescuer); ok {
				if err := rq.Rescue(ctx, run.RunID, time.UnixMilli(run.LeaseUntil)); err != nil {
					e.logger.Warn("hand a run whose executor vanished back to the queue", "run_id", run.RunID, "err", err)
				}
			}
			continue
		}
		w := &runWriter{e: e, run: run, last: last}
		msg := "the worker executing this run stopped"
		run.Status, run.Error, run.ErrorType = RunError, msg, "worker_lost"
		run.LeaseOwner, run.LeaseUntil = "", 0
		if !empty {
			run.EventCount = last + 2
		}
		run.UpdatedAt = e.now()
		err = e.store.UpdateRun(ctx, run, UpdateRunParams{IfStatus: []RunStatus{RunRunning}, IfLeaseExpiredBefore: now})
		if errors.Is(err, ErrConflict) {
			continue // renewed, or reaped by another replica
		}
		if err != nil {
			return err
		}
		if empty {
			// The log lost the run's events (an emptied Redis): no index is
			// known to be free of one a subscriber was sent, so nothing is
			// appended; subscribers learn the end from the store.
			e.logger.Warn("run's executor vanished and the log lost its events; ended it in the store only", "run_id", run.RunID)
			continue
		}
		e.logger.Warn("run's executor vanished; ended it", "run_id", run.RunID)
		// The log's next index: last is what the log holds now.
		if err := w.emit(ctx, Event{Event: EventRunError, Content: msg, ErrorType: "worker_lost", ErrorID: e.cfg.NewID()}); err != nil {
			return err
		}
		if err := e.log.Finish(ctx, run.RunID); err != nil {
			return err
		}
	}
	return nil
}

// requeue handles a queued run that was not started within QueueGrace
// (its enqueue was lost to a crash, or the queue gave up on it): it is
// enqueued again, or ended if there is no queue here.
func (e *Engine) requeue(ctx context.Context, run *Run, now int64) error {
	if e.cfg.Queue == nil {
		return nil // a replica with a queue will handle it
	}
	run.LeaseUntil, run.UpdatedAt = now+e.cfg.QueueGrace.Milliseconds(), e.now()
	err := e.store.UpdateRun(ctx, run, UpdateRunParams{IfStatus: []RunStatus{RunPending}, IfLeaseExpiredBefore: now})
	if errors.Is(err, ErrConflict) {
		return nil // started meanwhile, or handled by another replica
	}
	if err != nil {
		return err
	}
	e.logger.Warn("queued run was not started in time; enqueued again", "run_id", run.RunID)
	return e.cfg.Queue.Enqueue(ctx, run.RunID)
}

// safeExecute turns a panicking agent into an error.
func (e *Engine) safeExecute(ctx context.Context, a Agent, x *Execution) (out *Outcome, err error) {
	defer func() {
		if r := recover(); r != nil {
			e.logger.Error("agent panicked", "run_id", x.Run.RunID, "panic", r)
			out, err = nil, &AgentError{Type: "agent_panic", Err: fmt.Errorf("agent failed: %v", r)}
		}
	}()
	return a.Execute(ctx, x)
}

func (e *Engine) history(ctx context.Context, run *Run) ([]Message, error) {
	runs, err := e.store.ListRuns(ctx, ListRunsParams{SessionID: run.SessionID, Status: RunCompleted})
	if err != nil {
		return nil, err
	}
	if n := e.cfg.HistoryRuns; len(runs) > n {
		runs = runs[len(runs)-n:]
	}
	var msgs []Message
	for _, r := range runs {
		if r.RunID == run.RunID {
			continue
		}
		for _, m := range r.Messages {
			if m.Role != "system" {
				msgs = append(msgs, m)
			}
		}
	}
	return msgs, nil
}

// finish stores run in its final (or paused) state, then appends the event
// that ends the stream, so a subscriber that sees that event reads the
// final state from the store. The store write is retried while the store
// is unavailable (see integrity.go): the ending event never goes out
// before the state it announces is durable.
func (e *Engine) finish(ctx context.Context, w *runWriter, ev Event, from []RunStatus) (stored bool) {
	run := w.run
	// The events so far plus ev, whose index is the writer's next (an
	// append that failed ambiguously is counted: see runWriter.floor).
	expected := max(w.last+1, w.floor)
	run.EventCount = expected + 1
	run.UpdatedAt = e.now()
	owner := run.LeaseOwner
	run.LeaseOwner, run.LeaseUntil = "", 0
	stored = true
	if err := e.storeFinalRetrying(ctx, w, run, UpdateRunParams{IfStatus: from, IfLeaseOwner: owner}); err != nil {
		if errors.Is(err, ErrConflict) {
			e.logger.Warn("run changed state under its executor", "run_id", run.RunID)
			return false
		}
		stored = false
		e.logger.Error("store run", "run_id", run.RunID, "err", err)
		if w.create.unseen() {
			return false // nothing of it is anywhere: it is not shown now
		}
		// Given up (the engine is stopping hard, or the run is gone): the
		// ending event still goes out, and a reaper stores the outcome it
		// says (settleFromLog).
	} else if w.ar != nil {
		w.ar.ended.Store(true)
	}
	if logFinished, err := w.emitFinal(ctx, ev); err == nil {
		e.afterFinal(ctx, w, expected, stored, true, logFinished)
	} else {
		e.noteLogTrouble(err)
		if ev.Event.Terminal() && w.executing {
			// Nothing follows a terminal event: its retries need not hold
			// up the executor (nor a blocking caller) while the log is
			// down. The execution's own count in wg is still held.
			e.wg.Add(1)
			go func() {
				defer e.wg.Done()
				e.retryFinal(ctx, w, ev, expected, stored)
			}()
			return stored
		}
		// A RunPaused must be in the log before anyone continues the run.
		e.retryFinal(ctx, w, ev, expected, stored)
	}
	if w.last >= expected {
		run.EventCount = w.last + 1
	}
	return stored
}

// retryFinal retries the final event that failed to reach the log: it must
// get there, or subscribers wait. It retries for a while (an outage of the
// log) before giving up; subscribers then notice the store's end (see
// Stream.Next).
func (e *Engine) retryFinal(ctx context.Context, w *runWriter, ev Event, expected int64, stored bool) {
	for attempt := 1; ; attempt++ {
		time.Sleep(min(time.Duration(attempt)*200*time.Millisecond, 2*time.Second))
		logFinished, err := w.emitFinal(ctx, ev)
		if err == nil {
			e.afterFinal(ctx, w, expected, stored, true, logFinished)
			return
		}
		if attempt == finalAppendAttempts-1 || e.baseCtx.Err() != nil {
			e.logger.Error("append final event", "run_id", w.run.RunID, "event", ev.Event, "err", err)
			e.afterFinal(ctx, w, expected, stored, false, false)
			return
		}
	}
}

// afterFinal completes finish once the final event was appended (or given
// up on): it keeps the stored event count exact and finishes the log. Given
// up on, the count keeps the final event's index, so subscribers learn from
// the store that the run ended (see Stream.Next).
func (e *Engine) afterFinal(ctx context.Context, w *runWriter, expected int64, stored, appended, logFinished bool) {
	run := w.run
	if appended && w.last != expected && stored {
		// An earlier append that reported an error had landed after all
		// (or had not, and the final event took its index): keep the
		// stored count exact.
		r := *run
		r.EventCount = w.last + 1
		if err := e.store.UpdateRun(ctx, &r, UpdateRunParams{}); err != nil {
			e.logger.Error("store run event count", "run_id", run.RunID, "err", err)
		}
	}
	if !logFinished {
		if err := e.log.Finish(ctx, run.RunID); err != nil {
			e.logger.Error("finish log", "run_id", run.RunID, "err", err)
		}
	}
}

// storeFinal writes the run's end: with one write when its creation is
// still pending (deferred.go), else as an update with p.
func (e *Engine) storeFinal(ctx context.Context, w *runWriter, run *Run, p UpdateRunParams) error {
	if d := w.create; d != nil {
		wrote, err := d.write(ctx, e.store, run)
		switch {
		case wrote:
			return err
		case d.err != nil && !errors.Is(d.err, ErrConflict):
			// The creation failed: store the run now, once.
			_, err := e.store.CreateRunInSession(ctx, d.sess, run)
			if !errors.Is(err, ErrConflict) {
				return err
			}
			// It had landed after all: update it.
		case err != nil:
			return err
		}
	}
	return e.store.UpdateRun(ctx, run, p)
}

// finalAppendAttempts bounds the retries of a run's final event (about
// 20 s of backoff in all).
const finalAppendAttempts = 14

var activeStatuses = []RunStatus{RunPending, RunRunning}

func (e *Engine) finishCompleted(ctx context.Context, w *runWriter, out *Outcome) bool {
	run := w.run
	run.Status = RunCompleted
	run.Content, run.ContentType = out.Content, "str"
	run.Messages, run.Tools, run.Paused, run.Requirements = out.Messages, out.Tools, nil, nil
	m := out.Metrics
	run.Metrics = &m
	return e.finish(ctx, w, Event{Event: EventRunCompleted, Content: out.Content, ContentType: "str", Metrics: &m}, activeStatuses)
}

func (e *Engine) finishPaused(ctx context.Context, w *runWriter, out *Outcome) bool {
	run := w.run
	run.Status = RunPaused
	run.Paused = out.Paused
	run.Messages, run.Tools = out.Messages, out.Tools
	run.Requirements = make([]RunRequirement, 0, len(out.Paused.Pending))
	for i := range out.Paused.Pending {
		t := out.Paused.Pending[i]
		run.Requirements = append(run.Requirements, RunRequirement{ID: t.ToolCallID, CreatedAt: e.now(), ToolExecution: &t, UserInputSchema: t.UserInputSchema})
	}
	m := out.Metrics
	run.Metrics = &m
	return e.finish(ctx, w, Event{Event: EventRunPaused, Tools: out.Paused.Pending, Requirements: run.Requirements}, activeStatuses)
}

func (e *Engine) finishError(ctx context.Context, w *runWriter, err error, typ string) bool {
	run := w.run
	msg := err.Error()
	if CodeOf(err) == CodeInternal && typ == "internal_error" {
		e.logger.Error("run failed", "run_id", run.RunID, "err", err)
	}
	run.Status, run.Error, run.ErrorType = RunError, msg, typ
	return e.finish(ctx, w, Event{Event: EventRunError, Content: msg, ErrorType: typ, ErrorID: e.cfg.NewID()}, activeStatuses)
}

func (e *Engine) finishCancelled(ctx context.Context, w *runWriter, reason string) bool {
	w.run.Status = RunCancelled
	return e.finish(ctx, w, Event{Event: EventRunCancelled, Reason: reason}, activeStatuses)
}

// Get returns the stored run.
func (e *Engine) Get(ctx context.Context, runID string) (*Run, error) {
	if err := CheckID("run_id", runID); err != nil {
		return nil, err
	}
	if r := e.deferred(runID).snapshot(); r != nil {
		return r, nil // executing here and not stored yet
	}
	if r := e.final.get(runID, e.cfg.Now()); r != nil {
		return r, nil // ended, and read moments ago
	}
	r, err := e.store.GetRun(ctx, runID)
	if errors.Is(err, ErrNotFound) {
		return nil, Errorf(CodeNotFound, "run %q not found", runID)
	}
	if err == nil {
		e.final.put(r, nil, e.cfg.Now())
	}
	return r, err
}

// finalCacheMax bounds the ended runs an engine keeps in memory.
const finalCacheMax = 4096

// List returns stored runs matching p.
func (e *Engine) List(ctx context.Context, p ListRunsParams) ([]*Run, error) {
	e.flushDeferred(ctx)
	return e.store.ListRuns(ctx, p)
}

// Cancel asks for the run to be cancelled, from any replica. The intent is
// stored first, so a run that has not started never starts; a paused run is
// cancelled at once; a finished run is left as it is. It returns the run as
// stored after the request.
func (e *Engine) Cancel(ctx context.Context, runID string) (*Run, error) {
	if err := CheckID("run_id", runID); err != nil {
		return nil, err
	}
	if err := e.writeDeferred(ctx, runID); err != nil {
		return nil, fmt.Errorf("store run: %w", err)
	}
	e.final.forget(runID) // an ended run gets the (late) intent
	run, err := e.store.SetCancelRequested(ctx, runID)
	if errors.Is(err, ErrNotFound) {
		return nil, Errorf(CodeNotFound, "run %q not found", runID)
	}
	if err != nil {
		return nil, err
	}
	switch {
	case run.Status.Final():
		return run, nil
	case run.Status == RunPaused:
		w := &runWriter{e: e, run: run, last: run.EventCount - 1}
		run.Status = RunCancelled
		run.EventCount = w.last + 2
		run.UpdatedAt = e.now()
		if err := e.store.UpdateRun(ctx, run, UpdateRunParams{IfStatus: []RunStatus{RunPaused}}); err != nil {
			if errors.Is(err, ErrConflict) { // continued meanwhile: signal the executor
				return run, e.log.SignalCancel(ctx, runID)
			}
			return nil, err
		}
		if err := w.emit(ctx, Event{Event: EventRunCancelled, Reason: "cancelled by request"}); err != nil {
			return nil, err
		}
		return run, e.log.Finish(ctx, runID)
	default:
		return run, e.log.SignalCancel(ctx, runID)
	}
}

// ContinueParams carries the decisions on a paused run's tools, in agno's
// form: the paused tool executions with Confirmed (and an optional
// ConfirmationNote) set.
type ContinueParams struct {
	RunID string
	Tools []ToolExecution
}

// Continue resumes a paused run. It appends RunContinued to the same stream
// and executes the rest of the run on this process. It returns the run and
// the index of the RunPaused event, so the caller can Subscribe after it.
func (e *Engine) Continue(ctx context.Context, p ContinueParams) (*Run, int64, error) {
	return e.continueRun(ctx, p, nil)
}

// ContinueStream is Continue for a caller that follows the rest of the run:
// the stream it returns (after the RunPaused event) is fed by the executor,
// as StartStream's is. It also returns the index of the RunPaused event.
func (e *Engine) ContinueStream(ctx context.Context, p ContinueParams) (*Run, int64, *Stream, error) {
	f := newFeed()
	run, pausedAt, err := e.continueRun(ctx, p, f)
	if err != nil {
		return nil, 0, nil, err
	}
	return run, pausedAt, &Stream{feed: f, log: e.log, e: e, runID: run.RunID, last: pausedAt}, nil
}

// continueRun is Continue, feeding the events to f (nil: none).
func (e *Engine) continueRun(ctx context.Context, p ContinueParams, f *feed) (*Run, int64, error) {
	select {
	case <-e.closed:
		return nil, 0, Errorf(CodeUnavailable, "server is shutting down")
	default:
	}
	run, err := e.Get(ctx, p.RunID)
	if err != nil {
		return nil, 0, err
	}
	if run.Status != RunPaused || run.Paused == nil {
		return nil, 0, Errorf(CodeConflict, "run %s is %s, not PAUSED", run.RunID, run.Status)
	}
	a, err := e.Agent(run.AgentID)
	if err != nil {
		return nil, 0, err
	}
	decided := make(map[string]ToolExecution, len(p.Tools))
	for _, t := range p.Tools {
		if t.ToolCallID == "" {
			return nil, 0, Errorf(CodeInvalid, "every tool needs its tool_call_id")
		}
		decided[t.ToolCallID] = t
	}
	resume := *run.Paused
	resume.Pending = append([]ToolExecution(nil), run.Paused.Pending...)
	for i, pend := range resume.Pending {
		d, ok := decided[pend.ToolCallID]
		if !ok {
			return nil, 0, Errorf(CodeInvalid, "no decision for tool call %s (%s)", pend.ToolCallID, pend.ToolName)
		}
		if err := decide(&resume.Pending[i], d); err != nil {
			return nil, 0, err
		}
		delete(decided, pend.ToolCallID)
	}
	for id := range decided {
		return nil, 0, Errorf(CodeInvalid, "tool call %s is not pending on run %s", id, run.RunID)
	}
	pausedAt := run.EventCount - 1
	run.Status = RunRunning
	run.Paused = &resume
	run.UpdatedAt = e.now()
	run.LeaseOwner, run.LeaseUntil = e.cfg.InstanceID, e.leaseUntil()
	if err := e.store.UpdateRun(ctx, run, UpdateRunParams{IfStatus: []RunStatus{RunPaused}}); err != nil {
		if errors.Is(err, ErrConflict) {
			return nil, 0, Errorf(CodeConflict, "run %s is no longer paused", run.RunID)
		}
		return nil, 0, err
	}
	w := &runWriter{e: e, run: run, last: run.EventCount - 1, feed: f}
	if err := w.emit(ctx, Event{Event: EventRunContinued}); err != nil {
		return nil, 0, err
	}
	run.EventCount = w.last + 1
	snapshot := *run
	e.launch(a, run, execOpts{resume: &resume, feed: f}, goSpawn)
	return &snapshot, pausedAt, nil
}

// decide applies one decision to a pending tool call: a confirmation
// (confirmed, confirmation_note), the user's input (user_input_schema with
// values) or an external execution's result. A rejected call needs nothing
// else.
func decide(p *ToolExecution, d ToolExecution) error {
	if p.RequiresConfirmation && d.Confirmed == nil {
		return Errorf(CodeInvalid, "tool call %s (%s) needs confirmed true or false", p.ToolCallID, p.ToolName)
	}
	if d.Confirmed != nil {
		c := *d.Confirmed
		p.Confirmed = &c
	}
	p.ConfirmationNote = d.ConfirmationNote
	if p.Confirmed != nil && !*p.Confirmed {
		return nil
	}
	if p.RequiresUserInput {
		given := make(map[string]any, len(d.UserInputSchema))
		for _, f := range d.UserInputSchema {
			given[f.Name] = f.Value
		}
		schema := append([]UserInputField(nil), p.UserInputSchema...)
		for i, f := range schema {
			v, ok := given[f.Name]
			if !ok || v == nil {
				return Errorf(CodeInvalid, "tool call %s (%s) needs a value for user input field %q", p.ToolCallID, p.ToolName, f.Name)
			}
			schema[i].Value = v
			delete(given, f.Name)
		}
		for name := range given {
			return Errorf(CodeInvalid, "tool call %s (%s) has no user input field %q", p.ToolCallID, p.ToolName, name)
		}
		p.UserInputSchema, p.Answered = schema, true
	}
	if p.ExternalExecutionRequired {
		if d.Result == "" {
			return Errorf(CodeInvalid, "tool call %s (%s) is executed by the caller: continue it with its result", p.ToolCallID, p.ToolName)
		}
		p.Result = d.Result
	}
	return nil
}

// Stream is one subscriber's view of a run: events after a cursor, ending
// (io.EOF) after the event that ends the current segment (RunCompleted,
// RunError, RunCancelled or RunPaused). It is used by one goroutine.
type Stream struct {
	// replay holds the rest of a segment that had ended when the stream
	// was opened, read in one go (no subscription then).
	replay []Event
	// feed, when set, is the executor's feed of a stream opened by
	// StartStream; the stream reads the log only if it ends early.
	feed  *feed
	sub   Subscription
	log   EventLog
	e     *Engine
	runID string
	last  int64 // index of the last event returned
	done  bool
	// idle counts consecutive silent checks that found the run ended in
	// the store while its final event had not arrived.
	idle int
	// unfollow records that this follower of a live run left
	// (disconnect.go); nil when not counted.
	unfollow func()
}

// streamCheckInterval is the silence after which a stream checks the
// store for a run that ended without its final event reaching the log.
var streamCheckInterval = 3 * time.Second

// Next returns the next event, io.EOF after the segment's last event, or an
// error (a *GoneError if the log trimmed past this reader). A RunPaused
// that a later continue or cancel already followed does not end the
// stream: a replay goes on through it.
func (s *Stream) Next(ctx context.Context) (Event, error) {
	if s.done {
		return Event{}, io.EOF
	}
	ev, err := s.next(ctx)
	if err != nil {
		return Event{}, err
	}
	s.last = ev.EventIndex
	switch {
	case ev.Event.Terminal():
		s.done = true
	case ev.Event == EventRunPaused && s.sub == nil && s.feed == nil:
		// A replay: what was read at the start says whether a continue
		// followed.
		s.done = len(s.replay) == 0
	case ev.Event == EventRunPaused:
		more, err := s.log.Read(ctx, ReadParams{RunID: ev.RunID, After: ev.EventIndex, Limit: 1})
		s.done = err != nil || len(more) == 0
	}
	return ev, nil
}

// next waits for the log's next event. During silences it checks the
// store: a run that ended there while its final event never reached the
// log (the log was unreachable when the run ended) ends the stream with an
// explicit error after two checks, instead of leaving it waiting forever.
func (s *Stream) next(ctx context.Context) (Event, error) {
	for s.feed != nil {
		wctx, cancel := context.WithTimeout(ctx, streamCheckInterval)
		ev, ok, err := s.feed.next(wctx)
		timedOut := wctx.Err() != nil && ctx.Err() == nil
		cancel()
		switch {
		case err == nil && ok && ev.EventIndex == s.last+1:
			s.idle = 0
			return ev, nil
		case ctx.Err() != nil:
			return Event{}, ctx.Err()
		case timedOut:
			if err := s.silence(ctx); err != nil {
				return Event{}, err
			}
			continue
		}
		// The execution ended without its final event (it went on
		// elsewhere, or the log failed), or an append that reported an
		// error had landed: the log has the rest.
		s.feed.close()
		s.feed = nil
		sub, err := s.log.Subscribe(ctx, ReadParams{RunID: s.runID, After: s.last})
		if errors.Is(err, io.EOF) {
			// As below: a log's connection ending is a failure, never
			// the end of the stream (the error must not wrap io.EOF).
			return Event{}, Errorf(CodeUnavailable, "%s; resume the run after index %d once it is back", MessageOf(err), s.last)
		}
		if err != nil {
			return Event{}, err
		}
		s.sub = sub
	}
	if s.sub == nil {
		if len(s.replay) == 0 {
			return Event{}, io.EOF
		}
		ev := s.replay[0]
		s.replay = s.replay[1:]
		return ev, nil
	}
	for {
		wctx, cancel := context.WithTimeout(ctx, streamCheckInterval)
		ev, err := s.sub.Next(wctx)
		timedOut := wctx.Err() != nil && ctx.Err() == nil
		cancel()
		switch {
		case err == nil:
			s.idle = 0
			return ev, nil
		case ctx.Err() != nil:
			return Event{}, ctx.Err()
		case timedOut && errors.Is(err, context.DeadlineExceeded):
			if err := s.silence(ctx); err != nil {
				return Event{}, err
			}
		case errors.Is(err, io.EOF):
			// A log's connection ending is a failure, never the end of
			// the stream (which only a final event marks).
			return Event{}, Errorf(CodeUnavailable, "the event log connection ended: %v", err)
		default:
			return Event{}, err
		}
	}
}

// silence is a check of the store after streamCheckInterval without an
// event: the second in a row that finds the run ended there with events
// this stream has not had fails the stream.
func (s *Stream) silence(ctx context.Context) error {
	if s.e == nil {
		return nil
	}
	// (Even at or past the stored count: a log that lost the run may
	// never deliver its end.)
	run, err := s.e.store.GetRun(ctx, s.runID)
	if err != nil || !run.Status.Final() {
		s.idle = 0
		return nil
	}
	if s.idle++; s.idle >= 2 {
		return Errorf(CodeUnavailable,
			"run %s ended %s but its events after index %d did not reach the event log; read the run", s.runID, run.Status, s.last)
	}
	return nil
}

// Done reports whether the stream is known to have nothing more: the
// segment already ended at the cursor.
func (s *Stream) Done() bool { return s.done }

// Close releases the stream.
func (s *Stream) Close() error {
	if s.feed != nil {
		s.feed.close()
	}
	if s.unfollow != nil {
		s.unfollow()
	}
	if s.sub == nil {
		return nil
	}
	return s.sub.Close()
}

// Subscribe follows a run's stream after the cursor (-1: from the start).
// Resume is exact or refused: if the log no longer holds the events after
// the cursor it fails with a *GoneError naming the first index available.
// A cursor beyond the stream's end is invalid.
func (e *Engine) Subscribe(ctx context.Context, runID string, after int64) (*Stream, error) {
	if after < -1 {
		return nil, Errorf(CodeInvalid, "last_event_index must be -1 or greater")
	}
	if err := CheckID("run_id", runID); err != nil {
		return nil, err
	}
	// A run this process is executing needs no store read; one whose
	// events are held back is shown first (even if its end is stored: its
	// events are not in the log yet).
	if ar := e.activeRun(runID); ar != nil && (!ar.ended.Load() || ar.create != nil && ar.create.isHolding()) {
		if d := e.deferred(runID); d != nil && d.isHolding() {
			if err := d.flush(ctx, e); err != nil {
				return nil, fmt.Errorf("store run: %w", err)
			}
		}
		return e.SubscribeRun(ctx, &Run{RunID: runID, Status: RunRunning}, after)
	}
	run, err := e.Get(ctx, runID)
	if err != nil {
		return nil, err
	}
	return e.SubscribeRun(ctx, run, after)
}

// SubscribeRun is Subscribe for a caller that has just read the run (so
// the store is not read again): run must be as stored, or, for a run this
// process executes, any snapshot of it.
func (e *Engine) SubscribeRun(ctx context.Context, run *Run, after int64) (*Stream, error) {
	if after < -1 {
		return nil, Errorf(CodeInvalid, "last_event_index must be -1 or greater")
	}
	runID := run.RunID
	// A run this process is executing has not ended its segment (and if it
	// ends meanwhile, the tail sees the end).
	segmentEnded := e.executing(runID) == nil && (run.Status.Final() || run.Status == RunPaused)
	if segmentEnded && after >= run.EventCount-1 {
		if after > run.EventCount-1 {
			return nil, Errorf(CodeInvalid, "last_event_index %d is beyond the last event (%d)", after, run.EventCount-1)
		}
		return &Stream{done: true}, nil
	}
	if segmentEnded {
		// A segment that has ended is replayed from one read, which also
		// checks the cursor; only if the log holds less than the segment
		// does the stream subscribe instead.
		if st, err := e.replaySegment(ctx, run, after); st != nil || err != nil {
			return st, err
		}
	}
	if after >= 0 {
		// The event at the cursor must exist (or have been trimmed).
		evs, err := e.log.Read(ctx, ReadParams{RunID: runID, After: after - 1, Limit: 1})
		switch {
		case errors.Is(err, ErrNotFound):
			if segmentEnded {
				return nil, &GoneError{RunID: runID, FirstIndex: run.EventCount}
			}
			// A live run whose events the log lost (an emptied Redis): the
			// tail delivers the next index if it follows the cursor and
			// refuses (GoneError) if it does not.
		case errors.Is(err, ErrGone):
			// The cursor's own event may be trimmed as long as the next
			// one is still held.
			var ge *GoneError
			if !errors.As(err, &ge) || ge.FirstIndex != after+1 {
				return nil, err
			}
		case err != nil:
			return nil, err
		case len(evs) == 0:
			return nil, Errorf(CodeInvalid, "last_event_index %d is beyond the stream", after)
		}
	} else if segmentEnded {
		if _, err := e.log.Read(ctx, ReadParams{RunID: runID, After: -1, Limit: 1}); errors.Is(err, ErrNotFound) {
			return nil, &GoneError{RunID: runID, FirstIndex: run.EventCount}
		} else if err != nil {
			return nil, err
		}
	}
	sub, err := e.log.Subscribe(ctx, ReadParams{RunID: runID, After: after})
	if err != nil {
		return nil, err
	}
	return &Stream{sub: sub, log: e.log, e: e, runID: runID, last: after, unfollow: e.follow(ctx, runID)}, nil
}

// replaySegment reads the rest of run's ended segment after the cursor in
// one read, including the cursor's own event (which must exist). It returns
// a stream over them, an error that refuses the cursor, or neither when
// the read does not hold the whole segment (the caller then subscribes).
func (e *Engine) replaySegment(ctx context.Context, run *Run, after int64) (*Stream, error) {
	// An ended run's whole stream may be at hand (finalcache.go); if not,
	// it is read whole to be kept, when it may be.
	whole := e.final != nil && run.Status.Final() && run.EventCount <= maxCachedEvents
	if whole {
		if evs := e.final.eventsOf(run.RunID, run.EventCount, e.cfg.Now()); evs != nil {
			return &Stream{replay: evs[after+1:], log: e.log, e: e, runID: run.RunID, last: after}, nil
		}
	}
	from := max(after-1, -1)
	if whole {
		from = -1
	}
	evs, err := e.log.Read(ctx, ReadParams{RunID: run.RunID, After: from})
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, &GoneError{RunID: run.RunID, FirstIndex: run.EventCount}
	case errors.Is(err, ErrGone):
		return nil, nil // the subscribing path tells a trimmed cursor from a gone one
	case err != nil:
		return nil, err
	}
	if whole && int64(len(evs)) == run.EventCount && evs[0].EventIndex == 0 && evs[len(evs)-1].EventIndex == run.EventCount-1 {
		e.final.put(run, evs, e.cfg.Now())
		return &Stream{replay: evs[after+1:], log: e.log, e: e, runID: run.RunID, last: after}, nil
	}
	for len(evs) > 0 && evs[0].EventIndex < after {
		evs = evs[1:] // read from the start: skip to the cursor's own event
	}
	if after >= 0 {
		if len(evs) == 0 || evs[0].EventIndex != after {
			return nil, nil
		}
		evs = evs[1:]
	}
	if len(evs) == 0 || evs[len(evs)-1].EventIndex != run.EventCount-1 || evs[0].EventIndex != after+1 {
		return nil, nil
	}
	return &Stream{replay: evs, log: e.log, e: e, runID: run.RunID, last: after}, nil
}

// Wait follows the run after the cursor (-1: from the start) until the
// segment ends and returns the run as stored then. Events trimmed under a
// slow waiter are skipped: Wait only needs the end.
func (e *Engine) Wait(ctx context.Context, runID string, after int64) (*Run, error) {
	if ar := e.activeRun(runID); ar != nil {
		// Executing here: its segment ends when the executor is done.
		select {
		case <-ar.done:
			return e.ended(ctx, ar, runID)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	for {
		err := e.waitFrom(ctx, runID, after)
		var ge *GoneError
		if errors.As(err, &ge) {
			if ge.FirstIndex-1 <= after {
				return nil, err
			}
			after = ge.FirstIndex - 1
			continue
		}
		if err != nil {
			return nil, err
		}
		return e.Get(ctx, runID)
	}
}

func (e *Engine) waitFrom(ctx context.Context, runID string, after int64) error {
	s, err := e.Subscribe(ctx, runID, after)
	if err != nil {
		return err
	}
	defer s.Close()
	for {
		ev, err := s.Next(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		after = ev.EventIndex
	}
}

// Close stops accepting runs, waits for executing runs to finish until ctx
// ends, then cancels the rest (they end with RunCancelled) and waits for
// them to record it.
func (e *Engine) Close(ctx context.Context) error {
	e.once.Do(func() {
		e.launchMu.Lock()
		close(e.closed)
		e.launchMu.Unlock()
	})
	defer func() { <-e.reaperDone; <-e.sweepDone }()
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	e.stopRuns()
	<-done
	return nil
}

// Sessions --------------------------------------------------------------

// CreateSession stores a new session; the id is generated when empty.
func (e *Engine) CreateSession(ctx context.Context, s *Session) (*Session, error) {
	if err := errors.Join(CheckID("session_id", s.SessionID), CheckID("user_id", s.UserID)); err != nil {
		return nil, err
	}
	if s.SessionID == "" {
		s.SessionID = e.cfg.NewID()
	}
	if s.SessionType == "" {
		s.SessionType = SessionAgent
	}
	if s.AgentID != "" {
		if _, err := e.Agent(s.AgentID); err != nil {
			return nil, err
		}
	}
	now := e.now()
	s.CreatedAt, s.UpdatedAt = now, now
	e.flushDeferred(ctx) // a pending run's session exists
	if err := e.store.CreateSession(ctx, s); err != nil {
		if errors.Is(err, ErrConflict) {
			return nil, Errorf(CodeConflict, "session %q already exists", s.SessionID)
		}
		return nil, err
	}
	return s, nil
}

// GetSession returns a session.
func (e *Engine) GetSession(ctx context.Context, id string) (*Session, error) {
	if err := CheckID("session_id", id); err != nil {
		return nil, err
	}
	e.flushDeferred(ctx)
	s, err := e.store.GetSession(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, Errorf(CodeNotFound, "session %q not found", id)
	}
	return s, err
}

// ListSessions returns a page of sessions and the total count.
func (e *Engine) ListSessions(ctx context.Context, p ListSessionsParams) ([]*Session, int, error) {
	if _, _, err := p.Sort(); err != nil {
		return nil, 0, err
	}
	e.flushDeferred(ctx)
	return e.store.ListSessions(ctx, p)
}

// UpdateSession changes a session's name, state, metadata or summary.
func (e *Engine) UpdateSession(ctx context.Context, p UpdateSessionParams) (*Session, error) {
	e.flushDeferred(ctx)
	p.UpdatedAt = e.now()
	s, err := e.store.UpdateSession(ctx, p)
	if errors.Is(err, ErrNotFound) {
		return nil, Errorf(CodeNotFound, "session %q not found", p.SessionID)
	}
	return s, err
}

// DeleteSessions deletes sessions and their runs.
func (e *Engine) DeleteSessions(ctx context.Context, ids []string) (int, error) {
	e.flushDeferred(ctx)
	defer e.final.forgetAll()
	return e.store.DeleteSessions(ctx, ids)
}
