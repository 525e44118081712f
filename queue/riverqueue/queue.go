// Package riverqueue is core.Queue on River (github.com/riverqueue/river): a
// durable job queue kept in the state database itself, Postgres (pgx v5) or
// SQLite (database/sql), so a background run enqueued by one replica is
// executed by some replica's worker even if the enqueuing one dies.
//
// Every queued run is one River job of kind Kind, args {"run_id": ...}, in
// River queue QueueName. A worker calls Executor.ExecuteQueued (the
// *core.Engine) with the run id and the job's attempt, and returns when the
// run's segment ends. An error is retried with River's backoff (attempt^4
// seconds: 1 s, 16 s, 81 s, ...) up to Config.MaxAttempts; the last failure
// is logged and the job discarded.
//
// # Crashed workers
//
// River rescues a job left "running" by a dead process once the job has
// looked stuck for RescueAfter: its leader's rescuer (every 30 s) puts the
// job back to retryable (attempt kept, so the next one is attempt+1), and the
// next fetch hands it to a live replica, whose ExecuteQueued takes the run
// over once its engine lease has expired.
//
// That is the fallback. The engine's reaper knows sooner, from the run's
// lease (runs.lease_ttl), that its executor is gone, and calls Rescue
// (core.QueueRescuer), which makes the job available at once: the run is
// executed again within about the lease's TTL of the crash.
//
// River measures "stuck" from the job's attempted_at, i.e. from when the
// attempt started, and only rescues jobs that have a positive timeout. Runs
// can be much longer than RescueAfter, so this package:
//
//   - gives the job kind a River timeout of RescueAfter (so it is rescuable),
//     but runs ExecuteQueued on the job's context from outside that timeout
//     (a worker middleware hands it over), so runs are never cut short; the
//     context still ends on a hard stop (Stop whose ctx expired);
//   - heartbeats every running job: every RescueAfter/4 it sets the job's
//     attempted_at to the database's now, so a job is only rescued when its
//     worker stopped heartbeating (its process died or lost the database)
//     for RescueAfter.
//
// RescueAfter must exceed the engine's LeaseTTL (default 15 s): a rescued
// attempt that lands on a run whose lease is still alive is taken by
// ExecuteQueued as "alive elsewhere", returns nil, and the job completes.
package riverqueue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

const (
	// Kind is the River job kind of a queued run.
	Kind = "agentgate_run"
	// QueueName is the River queue queued runs go through.
	QueueName = "agentgate_runs"
)

// Defaults of Config.
const (
	DefaultWorkers            = 10
	DefaultRescueAfter        = time.Minute
	DefaultSQLitePollInterval = 200 * time.Millisecond
	// DefaultPostgresPollInterval is River's own default: Postgres gets new
	// jobs through LISTEN/NOTIFY at once, polling is only the fallback.
	DefaultPostgresPollInterval = time.Second
	DefaultMaxAttempts          = 5
)

// ErrStopped is returned by Enqueue and Start once the queue was stopped.
var ErrStopped = errors.New("riverqueue: queue stopped")

// Executor executes a queued run; *core.Engine implements it. attempt counts
// from 1. It returns when the run's segment ends (completed, errored,
// cancelled, paused), or when ctx ends.
type Executor interface {
	ExecuteQueued(ctx context.Context, runID string, attempt int) error
}

// Config configures a Queue. Zero fields take the defaults.
type Config struct {
	// Workers bounds how many runs this replica executes at once. Default 10.
	Workers int
	// RescueAfter is how long a running job may go without a heartbeat
	// before another replica takes it over. Default 1 min; it must exceed
	// the engine's LeaseTTL.
	RescueAfter time.Duration
	// PollInterval is how often the queue polls for new jobs. Default
	// 200 ms for SQLite, 1 s for Postgres (which also gets LISTEN/NOTIFY).
	PollInterval time.Duration
	// MaxAttempts is how many times a run's job is attempted before it is
	// discarded (a worker lost to a crash also uses an attempt). Default 5.
	MaxAttempts int
	// Logger receives the queue's and River's logs; nil means
	// slog.Default().
	Logger *slog.Logger
}

func (c Config) withDefaults(pollInterval time.Duration) Config {
	if c.Workers <= 0 {
		c.Workers = DefaultWorkers
	}
	if c.RescueAfter <= 0 {
		c.RescueAfter = DefaultRescueAfter
	}
	if c.PollInterval <= 0 {
		c.PollInterval = pollInterval
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// riverClient is what the queue uses of a *river.Client[TTx], whichever the
// driver's transaction type.
type riverClient interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	StopAndCancel(ctx context.Context) error
	Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	PeriodicJobs() *river.PeriodicJobBundle
}

// touchFunc sets attempted_at of job jobID to the database's now, if the job
// is still running the given attempt.
type touchFunc func(ctx context.Context, jobID int64, attempt int) error

// releaseFunc makes the run's job available at once if it is running an
// attempt that started (or last heartbeated) before the given time.
type releaseFunc func(ctx context.Context, runID string, before time.Time) error

type state int

const (
	stateNew state = iota
	stateStarted
	stateStopped
)

// Queue is core.Queue on River. Create it with NewPostgres or NewSQLite, set
// the executor (if not given there) with SetExecutor, then Start it; Stop it
// before closing the database. Enqueue works from construction until Stop.
type Queue struct {
	cfg     Config
	logger  *slog.Logger
	client  riverClient
	touch   touchFunc
	release releaseFunc

	mu       sync.Mutex
	exec     Executor
	state    state
	periodic map[string]func(context.Context) error
	jobs     map[string]jobHandler

	onJob atomic.Pointer[JobObserver]              // ObserveJobs
	depth func(ctx context.Context) (int64, error) // Depth, set by the constructor
}

func newQueue(exec Executor, cfg Config) *Queue {
	return &Queue{cfg: cfg, logger: cfg.Logger, exec: exec}
}

// riverConfig is the River client configuration of q.
func (q *Queue) riverConfig() (*river.Config, error) {
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely[RunArgs](workers, &runWorker{q: q}); err != nil {
		return nil, err
	}
	if err := river.AddWorkerSafely[PeriodicArgs](workers, &periodicWorker{q: q}); err != nil {
		return nil, err
	}
	if err := river.AddWorkerSafely[JobArgs](workers, &jobWorker{q: q}); err != nil {
		return nil, err
	}
	return &river.Config{
		Logger:      quiet(q.logger),
		MaxAttempts: q.cfg.MaxAttempts,
		// No client-wide timeout; the run worker sets its own (see the
		// package doc: it makes jobs rescuable, it does not bound runs).
		JobTimeout:           -1,
		RescueStuckJobsAfter: q.cfg.RescueAfter,
		// River warns about jobs still running JobStuckThreshold after their
		// timeout; a run outliving RescueAfter is normal here.
		JobStuckThreshold: 100 * 365 * 24 * time.Hour,
		FetchPollInterval: q.cfg.PollInterval,
		FetchCooldown:     min(river.FetchCooldownDefault, q.cfg.PollInterval),
		Queues: map[string]river.QueueConfig{QueueName: {MaxWorkers: q.cfg.Workers},
			PeriodicQueueName: {MaxWorkers: periodicWorkers}, JobQueueName: {MaxWorkers: jobWorkers}},
		Workers: workers,
	}, nil
}

// SetExecutor sets the executor the workers call. It must be called before
// Start when the constructor was given none (the engine is usually created
// after the queue, with the queue in its configuration).
func (q *Queue) SetExecutor(exec Executor) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.exec = exec
}

func (q *Queue) executor() Executor {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.exec
}

// Enqueue implements core.Queue: it stores a job for the run, which some
// replica's worker executes. Enqueueing a run whose job is still waiting or
// running is a no-op (River unique jobs, by run id). It fails with
// ErrStopped after Stop.
func (q *Queue) Enqueue(ctx context.Context, runID string) error {
	if runID == "" {
		return errors.New("riverqueue: enqueue: empty run id")
	}
	q.mu.Lock()
	stopped := q.state == stateStopped
	q.mu.Unlock()
	if stopped {
		return ErrStopped
	}
	res, err := q.client.Insert(ctx, RunArgs{RunID: runID}, nil)
	if err != nil {
		return fmt.Errorf("riverqueue: enqueue run %s: %w", runID, err)
	}
	if res.UniqueSkippedAsDuplicate {
		q.logger.DebugContext(ctx, "riverqueue: run already queued", "run_id", runID, "job_id", res.Job.ID)
	}
	return nil
}

// Rescue implements core.QueueRescuer: the engine's reaper found the run's
// lease ended at leaseEnd, so the worker that held the run's job is gone.
// If the job is still running an attempt not heard of since leaseEnd (its
// heartbeat stopped then), it is made available at once, without waiting
// for River's rescuer (which needs RescueAfter of silence and runs every
// 30 s); the next fetch hands it, with the next attempt, to a live
// worker, whose ExecuteQueued takes the run over. A job waiting for a
// retry (an attempt found the run still leased) is made available at once
// too, and a run with no job waiting or running is enqueued again. An
// attempt fetched after leaseEnd is left alone: it is the one taking the
// run over.
func (q *Queue) Rescue(ctx context.Context, runID string, leaseEnd time.Time) error {
	if runID == "" {
		return errors.New("riverqueue: rescue: empty run id")
	}
	if err := q.release(ctx, runID, leaseEnd); err != nil {
		return fmt.Errorf("riverqueue: rescue run %s: %w", runID, err)
	}
	return q.Enqueue(ctx, runID)
}

// Start starts fetching and working jobs. ctx is used for starting only (and
// its values); the queue runs until Stop. Starting a started queue does
// nothing; starting a stopped one fails with ErrStopped.
func (q *Queue) Start(ctx context.Context) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	switch q.state {
	case stateStarted:
		return nil
	case stateStopped:
		return ErrStopped
	}
	if q.exec == nil {
		return errors.New("riverqueue: start: no executor (call SetExecutor first)")
	}
	if err := q.client.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("riverqueue: start: %w", err)
	}
	q.state = stateStarted
	return nil
}

// Stop stops the queue gracefully: it stops fetching and waits for the
// running jobs to finish until ctx ends. If ctx ends first it cancels their
// contexts (ExecuteQueued returns; the runs themselves go on until the
// engine closes), River puts their jobs back to available without using an
// attempt, and Stop returns ctx's error once the workers returned.
//
// Stop is idempotent and safe before Start; after it Enqueue and Start fail
// with ErrStopped.
func (q *Queue) Stop(ctx context.Context) error {
	q.mu.Lock()
	prev := q.state
	q.state = stateStopped
	q.mu.Unlock()
	if prev != stateStarted {
		return nil
	}
	err := q.client.Stop(ctx)
	if err == nil {
		return nil
	}
	q.logger.Warn("riverqueue: stop: jobs still running, cancelling them", "err", err)
	hardCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if herr := q.client.StopAndCancel(hardCtx); herr != nil {
		return fmt.Errorf("riverqueue: stop: %w (after cancelling running jobs: %w)", err, herr)
	}
	return fmt.Errorf("riverqueue: stop: running jobs cancelled: %w", err)
}
