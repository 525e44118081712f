package riverqueue

import (
	"context"
	"errors"
	"time"

	"github.com/riverqueue/river/rivertype"
)

// JobObserver is told of every job attempt this replica worked: the job's
// kind ("run", "periodic", "job"), how long it waited between becoming
// available and being taken, how long the attempt ran, and its error.
type JobObserver func(kind string, wait, run time.Duration, err error)

// ObserveJobs has f called after each job attempt (Prometheus metrics).
// Call it before Start.
func (q *Queue) ObserveJobs(f JobObserver) { q.onJob.Store(&f) }

// observed runs one attempt of job with work, and reports it.
func (q *Queue) observed(job *rivertype.JobRow, work func() error) error {
	start := time.Now()
	err := work()
	if f := q.onJob.Load(); f != nil {
		var wait time.Duration
		if job.AttemptedAt != nil && !job.ScheduledAt.IsZero() {
			wait = max(job.AttemptedAt.Sub(job.ScheduledAt), 0)
		}
		(*f)(jobKind(job.Kind), wait, time.Since(start), err)
	}
	return err
}

func jobKind(k string) string {
	switch k {
	case Kind:
		return "run"
	case PeriodicKind:
		return "periodic"
	case JobKind:
		return "job"
	}
	return "other"
}

// errNoDepth: the queue was built without a database to count on.
var errNoDepth = errors.New("riverqueue: no database to count jobs on")

// Depth counts the jobs waiting to be worked: available, scheduled (a
// retry's or a delayed job's time not reached yet) or retryable, of every
// kind, across replicas.
func (q *Queue) Depth(ctx context.Context) (int64, error) {
	if q.depth == nil {
		return 0, errNoDepth
	}
	return q.depth(ctx)
}

// depthSQL counts the waiting jobs (both engines).
const depthSQL = `SELECT count(*) FROM river_job WHERE state IN ('available', 'scheduled', 'retryable')`
