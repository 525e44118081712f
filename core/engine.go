package core

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// EngineConfig configures an Engine. Store and Log are required.
type EngineConfig struct {
	Store RunStore
	Log   EventLog
	// Media opens the media runs carry (nil: runs carry none).
	Media MediaOpener
	// SessionMedia records which session carries which medium (nil: a
	// session's media are found among its runs' inputs, and deleting it
	// deletes no media).
	SessionMedia SessionMediaStore
	// IngestMedia stores a medium a tool returned (checked and hashed as
	// an upload is) and returns its reference (nil: tools' media are
	// dropped from their results, with their text kept).
	IngestMedia func(ctx context.Context, name, mimeType string, data []byte) (MediaRef, error)
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
	// Approvals is the gateway-wide approval policy (see approvals.go).
	Approvals ApprovalSettings
	// LocalFollowerBacklog bounds the events a stream following a run on
	// the replica executing it may have unread in its feed from the run's
	// writer (local.go): past it the stream is dropped from the feed and
	// catches up from the event log, by index, as a follower on another
	// replica does. Default DefaultLocalFollowerBacklog; negative means
	// local followers always read the log.
	LocalFollowerBacklog int
}

// DefaultLocalFollowerBacklog is EngineConfig.LocalFollowerBacklog's
// default: about a minute of a fast model's deltas.
const DefaultLocalFollowerBacklog = 1024

// Engine executes runs and owns their lifecycle: it creates runs, executes
// agents, appends every event to the EventLog, keeps the Store up to date,
// and serves cancel, continue and subscribe. All methods are safe for
// concurrent use.
type Engine struct {
	store  RunStore
	log    EventLog
	logger *slog.Logger
	cfg    EngineConfig

	// mu guards agents and order: the runnables of every kind.
	mu     sync.RWMutex
	agents map[Ref]Agent
	order  []Ref
	// resolver supplies the runnables not registered (dynamic.go).
	resolver Resolver
	// observers are told of approvals (guarded by mu too).
	observers []ApprovalObserver
	// runObservers watch runs execute (observe.go; guarded by mu too).
	runObservers []RunObserver

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
	// slabHint sizes a run's first slab of events (exec.go).
	slabHint atomic.Int64
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
	if cfg.LocalFollowerBacklog == 0 {
		cfg.LocalFollowerBacklog = DefaultLocalFollowerBacklog
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &Engine{
		store: cfg.Store, log: cfg.Log, logger: cfg.Logger, cfg: cfg,
		agents: map[Ref]Agent{}, active: map[string]*activeRun{}, baseCtx: ctx, stopRuns: cancel,
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

// RegisterAgent adds a runnable (an agent, a team or a workflow: see
// RegisterRunnable). An empty or duplicate id is an error.
func (e *Engine) RegisterAgent(a Agent) error { return e.RegisterRunnable(a) }

// Agent returns the agent with id, or a not_found error.
func (e *Engine) Agent(id string) (Agent, error) { return e.Runnable(KindAgent, id) }

// Agents returns the registered agents in registration order.
func (e *Engine) Agents() []Agent { return e.Runnables(KindAgent) }

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

// EventLog returns the engine's event log (for readiness checks).
func (e *Engine) EventLog() EventLog { return e.log }

func (e *Engine) now() int64 { return e.cfg.Now().Unix() }

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
