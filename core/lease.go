package core

import (
	"context"
	"errors"
	"time"
)

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
		if lastEv != nil && lastEv.EndsSegment() {
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
			if run.Kind() != KindAgent {
				e.endChildren(ctx, run.RunID, RunError, "worker_lost", msg)
			}
			continue
		}
		e.logger.Warn("run's executor vanished; ended it", "run_id", run.RunID)
		if run.Kind() != KindAgent {
			e.endChildren(ctx, run.RunID, RunError, "worker_lost", msg)
		}
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
