package riverqueue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// One-off jobs: durable work that must be done once, eventually, by some
// replica (a webhook delivery, ...). A job is stored in the state database
// when it is inserted, so it survives a crash of the process that inserted
// it and of the one working it: any replica that registered its name works
// it, retrying failures with backoff up to the name's MaxAttempts.
//
// Every one-off job is one River job of kind JobKind in queue JobQueueName,
// args {"name": ..., "payload": ...}: one worker kind serves every name, so
// a name is registered (AddJob) without touching River's configuration.
const (
	// JobKind is the River job kind of the one-off jobs.
	JobKind = "agentgate_job"
	// JobQueueName is the River queue they go through, apart from the runs
	// and the periodic jobs.
	JobQueueName = "agentgate_jobs"
	// jobWorkers bounds the one-off jobs a replica works at once.
	jobWorkers = 8
)

// JobArgs are the args of a one-off job: the registered name and its
// payload (JSON).
type JobArgs struct {
	Name    string          `json:"name"`
	Payload json.RawMessage `json:"payload"`
}

// Kind implements river.JobArgs.
func (JobArgs) Kind() string { return JobKind }

// JobFunc works one attempt of a job (attempt counts from 1). A nil error
// completes the job; an error is retried after the name's backoff unless it
// is Permanent or it was the last attempt. ctx ends at the name's Timeout.
type JobFunc func(ctx context.Context, payload json.RawMessage, attempt int) error

// JobOptions are a job name's retry policy. Zero values take the
// defaults.
type JobOptions struct {
	// MaxAttempts bounds the attempts of one job (default
	// Config.MaxAttempts). A worker lost to a crash uses an attempt.
	MaxAttempts int
	// Timeout bounds one attempt (default Config.RescueAfter/2). It must be
	// below Config.RescueAfter: an attempt that started longer ago than
	// that is taken for one whose process died and is worked again.
	Timeout time.Duration
	// Backoff is the wait before the retry that follows the failed
	// attempt (1-based). Default River's: attempt⁴ seconds (1 s, 16 s,
	// 81 s, ...).
	Backoff func(attempt int) time.Duration
	// Long makes an attempt unbounded (Timeout is ignored): it heartbeats
	// every RescueAfter/4, like a queued run, so it is rescued (worked
	// again) only after RescueAfter without one: its process died.
	Long bool
}

// jobHandler is a registered name.
type jobHandler struct {
	fn   JobFunc
	opts JobOptions
}

// permanentError marks a failure not worth another attempt.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent wraps err so that the job is not retried: it is cancelled.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// AddJob registers the one-off job name: fn works its jobs on this replica.
// Every replica that may work them should add it, with the same options.
// Call it before Start.
func (q *Queue) AddJob(name string, opts JobOptions, fn JobFunc) error {
	if name == "" || fn == nil {
		return errors.New("riverqueue: AddJob needs a name and a function")
	}
	if opts.MaxAttempts < 0 || opts.Timeout < 0 {
		return fmt.Errorf("riverqueue: AddJob %q: max attempts and timeout must not be negative", name)
	}
	if opts.MaxAttempts == 0 {
		opts.MaxAttempts = q.cfg.MaxAttempts
	}
	if opts.Timeout == 0 {
		opts.Timeout = q.cfg.RescueAfter / 2
	}
	if opts.Timeout >= q.cfg.RescueAfter && !opts.Long {
		return fmt.Errorf("riverqueue: AddJob %q: the timeout (%v) must be below the queue's rescue_after (%v)",
			name, opts.Timeout, q.cfg.RescueAfter)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.state != stateNew {
		return fmt.Errorf("riverqueue: AddJob %q after Start", name)
	}
	if q.jobs == nil {
		q.jobs = map[string]jobHandler{}
	}
	if _, dup := q.jobs[name]; dup {
		return fmt.Errorf("riverqueue: job %q added twice", name)
	}
	q.jobs[name] = jobHandler{fn: fn, opts: opts}
	return nil
}

func (q *Queue) job(name string) (jobHandler, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	h, ok := q.jobs[name]
	return h, ok
}

// InsertJob stores one job of the registered name with payload (marshalled
// to JSON) and returns its id; some replica's worker works it. It works
// before Start (the job waits) and fails with ErrStopped after Stop.
func (q *Queue) InsertJob(ctx context.Context, name string, payload any) (int64, error) {
	h, ok := q.job(name)
	if !ok {
		return 0, fmt.Errorf("riverqueue: insert job: %q is not registered (AddJob)", name)
	}
	q.mu.Lock()
	stopped := q.state == stateStopped
	q.mu.Unlock()
	if stopped {
		return 0, ErrStopped
	}
	raw, err := json.Marshal(payload)
	if err != nil {
		return 0, fmt.Errorf("riverqueue: insert job %q: %w", name, err)
	}
	res, err := q.client.Insert(ctx, JobArgs{Name: name, Payload: raw},
		&river.InsertOpts{Queue: JobQueueName, MaxAttempts: h.opts.MaxAttempts})
	if err != nil {
		return 0, fmt.Errorf("riverqueue: insert job %q: %w", name, err)
	}
	return res.Job.ID, nil
}

// jobWorker works JobArgs jobs with the function registered under their
// name on this replica.
type jobWorker struct {
	river.WorkerDefaults[JobArgs]
	q *Queue
}

// Timeout is the name's (so a job whose worker died is rescuable: River's
// rescuer ignores jobs without a positive timeout).
func (w *jobWorker) Timeout(job *river.Job[JobArgs]) time.Duration {
	if h, ok := w.q.job(job.Args.Name); ok {
		if h.opts.Long {
			return w.q.cfg.RescueAfter
		}
		return h.opts.Timeout
	}
	return w.q.cfg.RescueAfter / 2
}

// Middleware hands a Long job the context from outside River's timeout.
func (w *jobWorker) Middleware(*rivertype.JobRow) []rivertype.WorkerMiddleware {
	return []rivertype.WorkerMiddleware{&outerContext{}}
}

// NextRetry applies the name's backoff (zero: River's default).
func (w *jobWorker) NextRetry(job *river.Job[JobArgs]) time.Time {
	if h, ok := w.q.job(job.Args.Name); ok && h.opts.Backoff != nil {
		return time.Now().Add(h.opts.Backoff(job.Attempt))
	}
	return time.Time{}
}

func (w *jobWorker) Work(ctx context.Context, job *river.Job[JobArgs]) error {
	return w.q.observed(job.JobRow, func() error { return w.work(ctx, job) })
}

func (w *jobWorker) work(ctx context.Context, job *river.Job[JobArgs]) error {
	q := w.q
	h, ok := q.job(job.Args.Name)
	if !ok {
		// Another replica (a newer version) knows it; this attempt fails
		// and a later one may land there.
		q.logger.Warn("riverqueue: job of an unknown name", "name", job.Args.Name, "job_id", job.ID)
		return fmt.Errorf("riverqueue: job %q is not registered on this replica", job.Args.Name)
	}
	var err error
	if h.opts.Long {
		if outer, ok := ctx.Value(outerContextKey{}).(context.Context); ok {
			ctx = outer
		}
		hbCtx, stopHeartbeat := context.WithCancel(ctx)
		hbDone := make(chan struct{})
		go q.heartbeat(hbCtx, job.ID, job.Attempt, hbDone)
		err = h.fn(ctx, job.Args.Payload, job.Attempt)
		stopHeartbeat()
		<-hbDone
	} else {
		err = h.fn(ctx, job.Args.Payload, job.Attempt)
	}
	var perm *permanentError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &perm):
		q.logger.Warn("riverqueue: job failed for good; not retried", "name", job.Args.Name, "job_id", job.ID,
			"attempt", job.Attempt, "err", err)
		return river.JobCancel(err)
	case job.Attempt >= job.MaxAttempts:
		q.logger.Error("riverqueue: job failed on its last attempt; giving up", "name", job.Args.Name, "job_id", job.ID,
			"attempt", job.Attempt, "max_attempts", job.MaxAttempts, "err", err)
	default:
		q.logger.Warn("riverqueue: job attempt failed; will retry", "name", job.Args.Name, "job_id", job.ID,
			"attempt", job.Attempt, "max_attempts", job.MaxAttempts, "err", err)
	}
	return err
}
