package riverqueue

import (
	"context"
	"errors"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// RunArgs are the args of a queued run's job.
type RunArgs struct {
	RunID string `json:"run_id"`
}

// Kind implements river.JobArgs.
func (RunArgs) Kind() string { return Kind }

// InsertOpts puts the job in QueueName and makes it unique per run id while
// a job of the run is waiting, scheduled for a retry, or running. A finished
// job does not block a later Enqueue of the same run.
func (RunArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		Queue: QueueName,
		UniqueOpts: river.UniqueOpts{
			ByArgs: true,
			ByState: []rivertype.JobState{
				rivertype.JobStateAvailable,
				rivertype.JobStatePending,
				rivertype.JobStateRetryable,
				rivertype.JobStateRunning,
				rivertype.JobStateScheduled,
			},
		},
	}
}

// runWorker works RunArgs jobs through the queue's executor.
type runWorker struct {
	river.WorkerDefaults[RunArgs]
	q *Queue
}

// Timeout makes the job rescuable after RescueAfter without a heartbeat
// (River's rescuer ignores jobs without a positive timeout). The run itself
// is not bound by it: see outerContext.
func (w *runWorker) Timeout(*river.Job[RunArgs]) time.Duration { return w.q.cfg.RescueAfter }

// Middleware hands the job's context from outside River's timeout to Work.
func (w *runWorker) Middleware(*rivertype.JobRow) []rivertype.WorkerMiddleware {
	return []rivertype.WorkerMiddleware{&outerContext{}}
}

func (w *runWorker) Work(ctx context.Context, job *river.Job[RunArgs]) error {
	return w.q.observed(job.JobRow, func() error { return w.q.work(ctx, job) })
}

// outerContext is a worker middleware that stores the context it is given,
// which River cancels only on a hard stop (or a job cancel), in the context
// Work gets, which River's per-job timeout also ends.
type outerContext struct {
	river.MiddlewareDefaults
}

type outerContextKey struct{}

func (*outerContext) Work(ctx context.Context, _ *rivertype.JobRow, doInner func(context.Context) error) error {
	return doInner(context.WithValue(ctx, outerContextKey{}, ctx))
}

// work executes one attempt of a queued run.
func (q *Queue) work(ctx context.Context, job *river.Job[RunArgs]) error {
	if outer, ok := ctx.Value(outerContextKey{}).(context.Context); ok {
		ctx = outer
	}
	exec := q.executor()
	if exec == nil {
		return errors.New("riverqueue: no executor")
	}
	runID := job.Args.RunID

	hbCtx, stopHeartbeat := context.WithCancel(ctx)
	hbDone := make(chan struct{})
	go q.heartbeat(hbCtx, job.ID, job.Attempt, hbDone)
	err := exec.ExecuteQueued(ctx, runID, job.Attempt)
	stopHeartbeat()
	<-hbDone

	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		// Hard stop: River puts the job back to available without using an
		// attempt (it recognises the context error).
		q.logger.Info("riverqueue: run attempt interrupted by shutdown",
			"run_id", runID, "job_id", job.ID, "attempt", job.Attempt, "err", err)
	case job.Attempt >= job.MaxAttempts:
		q.logger.Error("riverqueue: queued run failed on its last attempt; giving up",
			"run_id", runID, "job_id", job.ID, "attempt", job.Attempt, "max_attempts", job.MaxAttempts, "err", err)
	default:
		q.logger.Warn("riverqueue: queued run attempt failed; will retry",
			"run_id", runID, "job_id", job.ID, "attempt", job.Attempt, "max_attempts", job.MaxAttempts, "err", err)
	}
	return err
}

// heartbeat keeps the job's attempted_at fresh while ctx lasts, so River's
// rescuer leaves it alone as long as this process is alive.
func (q *Queue) heartbeat(ctx context.Context, jobID int64, attempt int, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(max(q.cfg.RescueAfter/4, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := q.touch(ctx, jobID, attempt); err != nil && ctx.Err() == nil {
			q.logger.Warn("riverqueue: job heartbeat failed", "job_id", jobID, "err", err)
		}
	}
}
