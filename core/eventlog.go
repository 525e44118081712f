package core

import (
	"context"
	"sync"
	"time"
)

// EventLog holds the live, ordered event stream of every run. It assigns the
// dense 0-based event_index, serves reads after a cursor and live tails to
// any number of subscribers, trims by configuration, and carries cancel
// signals to whichever process executes a run.
//
// Implementations: storage/memlog (in-memory, the embedded default),
// storage/redislog (Redis Streams); both pass storage/eventlogtest.
// All methods are safe for concurrent use.
type EventLog interface {
	// Append stores ev as the next event of ev.RunID, sets ev.EventIndex to
	// the index it was given (0 for the first event of a run) and returns it.
	// Indices are dense and never reused, even after trimming. The log
	// assigns the index; ev.EventIndex as given is only read when the log
	// holds no event of the run (a new run, or one whose events expired):
	// numbering then starts at it if it is positive, so a writer continuing
	// a run whose events expired (a long-paused run) passes the run's event
	// count and no index is given twice. Callers must not modify ev after
	// Append (the log may keep it as is).
	Append(ctx context.Context, ev *Event) (int64, error)

	// Read returns up to p.Limit events with index > p.After (After = -1 reads
	// from the start), in order. If the log no longer holds index p.After+1
	// it returns a *GoneError naming the first index it still holds; if it
	// holds nothing for the run it returns ErrNotFound. Reading at the end
	// returns an empty slice.
	Read(ctx context.Context, p ReadParams) ([]Event, error)

	// Subscribe returns a live tail of the run starting after p.After: every
	// event with a greater index, in order, without gaps, including events
	// appended later. A cursor older than what is kept fails with a
	// *GoneError at Subscribe (or from Next, if trimming overtakes a slow
	// reader). Subscribing to a run with no events yet is allowed: the log
	// cannot tell an unknown run from one that has not started.
	Subscribe(ctx context.Context, p ReadParams) (Subscription, error)

	// Finish marks the run's stream as ended for now (terminal or paused);
	// retention after the end starts counting. A later Append revives it.
	Finish(ctx context.Context, runID string) error

	// SignalCancel asks the executor of runID to cancel it. The signal is
	// remembered, so a watcher that starts later still sees it.
	SignalCancel(ctx context.Context, runID string) error

	// WatchCancel returns a channel that is closed when a cancel for runID
	// is signalled (at once, if one was signalled already), and a stop
	// function that releases the watch.
	WatchCancel(ctx context.Context, runID string) (<-chan struct{}, func(), error)

	// Ping reports whether the log backend is reachable.
	Ping(ctx context.Context) error
	// Close releases the log's resources; subscriptions end with an error.
	Close() error
}

// FinishingAppender is an optional extension of EventLog. AppendFinish is
// Append of ev followed by Finish of ev.RunID, done as one step (a log over
// the network saves a round trip): when it succeeds the run is finished as
// by Finish; when it fails nothing may be assumed, as with Append. The
// engine uses it for the event that ends a segment.
type FinishingAppender interface {
	AppendFinish(ctx context.Context, ev *Event) (int64, error)
}

// BatchAppender is an optional extension of EventLog. AppendAll appends
// events of one run in one atomic step: they get consecutive indices,
// set in each event, and the first is returned; the starting-index rule of
// Append applies with evs[0].EventIndex. With finish it also finishes the
// run, as FinishingAppender does. When it fails nothing may be assumed, as
// with Append. The engine uses it for the events of a run it held back
// (see deferred.go).
type BatchAppender interface {
	AppendAll(ctx context.Context, evs []*Event, finish bool) (int64, error)
}

// CancelNotifier is an optional extension of EventLog. AfterCancel
// arranges for f to be called, in a goroutine of its own, once the run's
// cancel is signalled (at once if it already was), as WatchCancel's
// channel would be closed; the caller needs no goroutine of its own
// waiting on a channel for every run it executes. stop unregisters f
// (any number of times); f may still be called if the signal races with
// stop. The engine prefers it to WatchCancel.
type CancelNotifier interface {
	AfterCancel(ctx context.Context, runID string, f func()) (stop func(), err error)
}

// AfterCancel calls f, in a goroutine of its own, once runID's cancel is
// signalled on log, until stop is called or ctx ends: through the log's
// AfterCancel when it is a CancelNotifier, else by a goroutine waiting on
// WatchCancel's channel.
func AfterCancel(ctx context.Context, log EventLog, runID string, f func()) (stop func(), err error) {
	if cn, ok := log.(CancelNotifier); ok {
		return cn.AfterCancel(ctx, runID, f)
	}
	ch, stopWatch, err := log.WatchCancel(ctx, runID)
	if err != nil {
		return nil, err
	}
	stopped := make(chan struct{})
	go func() {
		select {
		case <-ch:
			select {
			case <-stopped:
			default:
				f()
			}
		case <-ctx.Done():
		case <-stopped:
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(stopped)
			stopWatch()
		})
	}, nil
}

// ProcessLocal is an optional extension of EventLog: a log whose events
// only this process can read (the in-memory log) reports true. No other
// process can then follow, cancel or resume a run this process executes
// before the store has it, so the engine may defer writing a foreground
// run until it ends (see EngineConfig.CreateDelay).
type ProcessLocal interface {
	ProcessLocal() bool
}

// ReadParams selects events after a cursor.
type ReadParams struct {
	RunID string
	After int64 // -1: from the first event
	Limit int   // <= 0: no limit
}

// Subscription is a live tail of one run. It is used by one goroutine.
type Subscription interface {
	// Next blocks until the next event is available and returns it, or
	// returns ctx's error, a *GoneError, or the log's error.
	Next(ctx context.Context) (Event, error)
	// Close releases the subscription. It is safe to call more than once.
	Close() error
}

// Queue executes background runs durably: a run enqueued is executed by some
// replica's worker (through Engine.ExecuteQueued) even if the process that
// enqueued it dies. Implementations: queue/riverqueue.
type Queue interface {
	// Enqueue schedules the PENDING run for execution.
	Enqueue(ctx context.Context, runID string) error
}

// QueueRescuer is an optional extension of Queue. Rescue is called by a
// reaper for a RUNNING background run whose lease ended at leaseEnd (its
// executor is gone): the queue makes the run's job, if it is still held by
// a worker that has not been heard of since leaseEnd, executable again at
// once (with its next attempt), and enqueues the run if it has no job
// waiting or running; it then calls ExecuteQueued, which takes the run
// over. Without it a dead worker's job waits for the queue's own rescue.
type QueueRescuer interface {
	Rescue(ctx context.Context, runID string, leaseEnd time.Time) error
}

// EventLogConfig is the retention configuration shared by event logs.
type EventLogConfig struct {
	// MaxEventsPerRun bounds what is kept per run; older events are trimmed
	// (indices stay dense). Default 10,000.
	MaxEventsPerRun int
	// Retention is how long a run's events are kept after Finish.
	// Default one hour.
	Retention time.Duration
	// MaxEvents bounds the events an in-memory log keeps in all: past it,
	// finished runs are dropped, the earliest finished first, as if their
	// retention had ended (live runs are never dropped). Default 100,000.
	// A log in a server of its own (Redis) leaves its memory to that
	// server's limits.
	MaxEvents int
}

// WithDefaults fills zero fields with the defaults.
func (c EventLogConfig) WithDefaults() EventLogConfig {
	if c.MaxEventsPerRun <= 0 {
		c.MaxEventsPerRun = 10000
	}
	if c.Retention <= 0 {
		c.Retention = time.Hour
	}
	if c.MaxEvents <= 0 {
		c.MaxEvents = 100000
	}
	return c
}
