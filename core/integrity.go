package core

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Integrity under backend faults.
//
// A run segment has exactly one ending event (RunCompleted, RunError,
// RunCancelled or RunPaused), and the stored run equals it:
//
//   - finish makes the final state durable before it appends the ending
//     event, retrying the store write while the store is unavailable;
//   - a replica that saw the store fail takes over no run whose lease ended
//     until the store has answered for a while (storeSettled): an executor
//     cut off by the same outage stores its run, or renews its lease, first;
//   - a reaper, or a queue's later attempt, that finds an ending event in
//     the log stores the outcome it says (settleFromLog) instead of ending
//     the run again or executing it again;
//   - a background run whose events cannot reach the log is executed again
//     once the log is back (its stream goes on with CustomEvent
//     run_restarted), with its lease kept meanwhile, instead of ending in
//     an error; a foreground run is refused at once (CodeUnavailable) while
//     the log is known to be down.

// troubleGrace is how long after this engine last saw the store fail it
// leaves runs with ended leases alone: their executors, cut off by the same
// outage, renew their lease or store their end first.
func (e *Engine) troubleGrace() time.Duration {
	return max(2*e.cfg.LeaseTTL, 2*time.Second)
}

// noteStoreTrouble records that the store failed with err (a conflict, a
// missing row or a refused value are answers, not failures).
func (e *Engine) noteStoreTrouble(err error) {
	if err == nil || errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrInvalid) {
		return
	}
	e.storeTrouble.Store(e.nowMs())
}

// storeSettled reports whether the store has answered this engine for
// troubleGrace since it last failed.
func (e *Engine) storeSettled(now int64) bool {
	t := e.storeTrouble.Load()
	return t == 0 || now-t > e.troubleGrace().Milliseconds()
}

// noteLogTrouble records that the event log failed with err.
func (e *Engine) noteLogTrouble(err error) {
	if CodeOf(err) == CodeUnavailable {
		e.logTrouble.Store(e.nowMs())
	}
}

// logTroubleWindow is how long after a failure of the event log Start
// checks it before it accepts a foreground run.
const logTroubleWindow = 30 * time.Second

// logUsable answers a foreground run's start while the event log was seen
// failing lately: it pings the log (for at most a second) and fails with
// CodeUnavailable if it is still down, so the request is refused at once
// instead of running into the outage.
func (e *Engine) logUsable(ctx context.Context) error {
	t := e.logTrouble.Load()
	if t == 0 || e.nowMs()-t > logTroubleWindow.Milliseconds() {
		return nil
	}
	pctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := e.log.Ping(pctx); err != nil {
		return &Error{Code: CodeUnavailable, Message: "the event log is unavailable; try again shortly", Err: err}
	}
	e.logTrouble.CompareAndSwap(t, 0)
	return nil
}

// storeFinalRetrying is storeFinal, retried with backoff while the store
// is unavailable: the run's end is durable before its ending event is
// appended. It gives up on an answer (a conflict, a missing run, a refused
// value), after a few tries on any other failure, and once the engine is
// being stopped hard.
func (e *Engine) storeFinalRetrying(ctx context.Context, w *runWriter, run *Run, p UpdateRunParams) error {
	delay := 50 * time.Millisecond
	for attempt := 0; ; attempt++ {
		err := e.storeFinal(ctx, w, run, p)
		if err == nil {
			if attempt > 0 {
				e.logger.Info("stored the run's end after the store came back", "run_id", run.RunID, "attempts", attempt+1)
			}
			return nil
		}
		if errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrInvalid) {
			return err
		}
		e.noteStoreTrouble(err)
		if w.create.unseen() {
			// Nobody was shown the run: its caller is told the store
			// failed, rather than kept waiting for it.
			return err
		}
		if attempt == 0 {
			e.logger.Warn("store the run's end; retrying until the store answers", "run_id", run.RunID, "err", err)
		}
		if e.baseCtx.Err() != nil && attempt > 0 || CodeOf(err) != CodeUnavailable && attempt >= otherFailureRetries {
			return err
		}
		select {
		case <-time.After(delay):
		case <-e.baseCtx.Done():
		}
		delay = min(2*delay, 500*time.Millisecond)
	}
}

// otherFailureRetries bounds the retries of a store failure that does not
// say the store is unavailable (it may not be transient).
const otherFailureRetries = 5

// lastEvent reads the run's last event in the log: its index (the stored
// count less one when the log holds none after it) and the event itself
// (nil if the log holds none from the stored count's last on). empty
// reports that the log holds nothing of the run at all (it lost it).
func (e *Engine) lastEvent(ctx context.Context, run *Run) (idx int64, last *Event, empty bool, err error) {
	after := max(run.EventCount-2, -1)
	for {
		evs, err := e.log.Read(ctx, ReadParams{RunID: run.RunID, After: after})
		var ge *GoneError
		switch {
		case errors.As(err, &ge):
			after = ge.FirstIndex - 1
			continue
		case errors.Is(err, ErrNotFound):
			if last != nil {
				return last.EventIndex, last, false, nil
			}
			return max(after, run.EventCount-1), nil, true, nil
		case err != nil:
			return 0, nil, false, err
		}
		if len(evs) == 0 {
			if last == nil {
				return max(after, run.EventCount-1), nil, false, nil
			}
			return last.EventIndex, last, false, nil
		}
		ev := evs[len(evs)-1]
		last, after = &ev, ev.EventIndex
	}
}

// settleFromLog stores the outcome that ev, the event that ended the run's
// segment in the log, says (its executor appended it and could not store
// the run, or died in between), if the stored run is still PENDING or
// RUNNING with a lease that ended before now. Nothing is appended: the
// segment has its one ending event.
func (e *Engine) settleFromLog(ctx context.Context, run *Run, ev *Event, now int64) error {
	switch ev.Base() {
	case EventRunCompleted:
		run.Status, run.Content, run.ContentType = RunCompleted, ev.Content, ev.ContentType
		run.Paused, run.Requirements = nil, nil
		if ev.Metrics != nil {
			m := *ev.Metrics
			run.Metrics = &m
		}
	case EventRunError:
		run.Status, run.Error, run.ErrorType = RunError, ev.Content, ev.ErrorType
		if run.Error == "" {
			run.Error = ev.Error
		}
	case EventRunCancelled:
		run.Status = RunCancelled
	case EventRunPaused:
		run.Status, run.Requirements = RunPaused, ev.Requirements
	default:
		return fmt.Errorf("core: %s does not end a segment", ev.Event)
	}
	run.EventCount = ev.EventIndex + 1
	run.LeaseOwner, run.LeaseUntil = "", 0
	run.UpdatedAt = e.now()
	err := e.store.UpdateRun(ctx, run, UpdateRunParams{IfStatus: activeStatuses, IfLeaseExpiredBefore: now})
	if errors.Is(err, ErrConflict) {
		return nil // renewed, or settled by another replica
	}
	if err != nil {
		return err
	}
	e.logger.Warn("run's segment had ended in the event log; stored its outcome", "run_id", run.RunID,
		"status", run.Status, "event_index", ev.EventIndex)
	e.final.forget(run.RunID)
	if err := e.log.Finish(ctx, run.RunID); err != nil {
		e.logger.Warn("finish log", "run_id", run.RunID, "err", err)
	}
	return nil
}

// watchCancel is AfterCancel for the run's executor. A watch that cannot be
// set up (the log is unreachable) does not end the run: it is retried in
// the background, with backoff, until it is set up or ctx ends.
func (e *Engine) watchCancel(ctx context.Context, runID string, f func()) (stop func()) {
	s, err := AfterCancel(ctx, e.log, runID, f)
	if err == nil {
		return s
	}
	e.noteLogTrouble(err)
	e.logger.Warn("watch the run's cancel signal; retrying", "run_id", runID, "err", err)
	var (
		mu      sync.Mutex
		stopped bool
		cur     func()
	)
	done := make(chan struct{})
	go func() {
		for delay := 200 * time.Millisecond; ; delay = min(2*delay, 2*time.Second) {
			select {
			case <-ctx.Done():
				return
			case <-done:
				return
			case <-time.After(delay):
			}
			s, err := AfterCancel(ctx, e.log, runID, f)
			if err != nil {
				continue
			}
			mu.Lock()
			if stopped {
				mu.Unlock()
				s()
				return
			}
			cur = s
			mu.Unlock()
			return
		}
	}()
	return func() {
		mu.Lock()
		defer mu.Unlock()
		if !stopped {
			stopped = true
			close(done)
			if cur != nil {
				cur()
			}
		}
	}
}

// awaitLog waits, pinging it with backoff, until the event log answers; it
// reports false if ctx ended first.
func (e *Engine) awaitLog(ctx context.Context) bool {
	for delay := 200 * time.Millisecond; ; delay = min(2*delay, 2*time.Second) {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := e.log.Ping(pctx)
		cancel()
		if err == nil {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(delay):
		}
	}
}
