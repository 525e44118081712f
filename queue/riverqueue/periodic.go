package riverqueue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// Periodic jobs: the gateway's maintenance work that must run once across
// replicas (schedule fires, approval expiry, ...). River's elected leader
// enqueues one job of kind PeriodicKind per interval and name; any
// replica's worker runs it. A job stays unique per name while it waits or
// runs, so a slow one is never doubled up; the next interval's enqueue is
// then skipped. An attempt that fails is not retried: the next interval
// runs it again. The work itself must tolerate running twice in a row
// (after a leader change) — claim in the database what must happen once.
const (
	// PeriodicKind is the River job kind of the periodic jobs.
	PeriodicKind = "agentgate_periodic"
	// PeriodicQueueName is the River queue they go through, apart from the
	// runs so that busy workers never starve them.
	PeriodicQueueName = "agentgate_periodic"
	// periodicWorkers bounds the periodic jobs a replica runs at once.
	periodicWorkers = 4
	// periodicTimeout bounds one periodic job.
	periodicTimeout = 5 * time.Minute
)

// PeriodicArgs are the args of a periodic job.
type PeriodicArgs struct {
	Name string `json:"name"`
}

// Kind implements river.JobArgs.
func (PeriodicArgs) Kind() string { return PeriodicKind }

// InsertOpts puts the job in PeriodicQueueName, unique per name while one
// waits or runs, attempted once.
func (PeriodicArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		Queue:       PeriodicQueueName,
		MaxAttempts: 1,
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

// periodicWorker runs PeriodicArgs jobs: the function added under the
// job's name on this replica.
type periodicWorker struct {
	river.WorkerDefaults[PeriodicArgs]
	q *Queue
}

// Timeout bounds a job by RescueAfter too: River rescues a running job
// only once its timeout has passed, so a job left running by a replica
// that died (SIGKILL mid-tick) would otherwise hold the job's uniqueness,
// and stop every replica's ticks, for periodicTimeout.
func (w *periodicWorker) Timeout(*river.Job[PeriodicArgs]) time.Duration {
	return min(periodicTimeout, w.q.cfg.RescueAfter)
}

func (w *periodicWorker) Work(ctx context.Context, job *river.Job[PeriodicArgs]) error {
	return w.q.observed(job.JobRow, func() error { return w.work(ctx, job) })
}

func (w *periodicWorker) work(ctx context.Context, job *river.Job[PeriodicArgs]) error {
	w.q.mu.Lock()
	fn := w.q.periodic[job.Args.Name]
	w.q.mu.Unlock()
	if fn == nil {
		// Another replica (a newer version) knows it; this one does not.
		w.q.logger.Warn("riverqueue: unknown periodic job", "name", job.Args.Name)
		return nil
	}
	if err := fn(ctx); err != nil {
		w.q.logger.Warn("riverqueue: periodic job failed", "name", job.Args.Name, "err", err)
		return river.JobCancel(err) // not retried: the next interval runs it
	}
	return nil
}

// AddPeriodic registers fn to run every interval on exactly one replica
// at a time (see the periodic jobs above); every replica should add the
// same jobs. Call it before Start. The first run comes soon after a
// replica becomes the leader.
func (q *Queue) AddPeriodic(name string, every time.Duration, fn func(ctx context.Context) error) error {
	if name == "" || fn == nil || every <= 0 {
		return errors.New("riverqueue: AddPeriodic needs a name, a function and a positive interval")
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.state != stateNew {
		return fmt.Errorf("riverqueue: AddPeriodic %q after Start", name)
	}
	if q.periodic == nil {
		q.periodic = map[string]func(context.Context) error{}
	}
	if _, dup := q.periodic[name]; dup {
		return fmt.Errorf("riverqueue: periodic job %q added twice", name)
	}
	q.periodic[name] = fn
	_, err := q.client.PeriodicJobs().AddSafely(river.NewPeriodicJob(river.PeriodicInterval(every),
		func() (river.JobArgs, *river.InsertOpts) { return PeriodicArgs{Name: name}, nil },
		&river.PeriodicJobOpts{ID: name, RunOnStart: true}))
	if err != nil {
		delete(q.periodic, name)
		return fmt.Errorf("riverqueue: add periodic job %q: %w", name, err)
	}
	return nil
}
