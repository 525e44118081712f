package core

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// finish stores run in its final (or paused) state, then appends the event
// that ends the stream, so a subscriber that sees that event reads the
// final state from the store. The store write is retried while the store
// is unavailable (see integrity.go): the ending event never goes out
// before the state it announces is durable.
func (e *Engine) finish(ctx context.Context, w *runWriter, ev Event, from []RunStatus) (stored bool) {
	run := w.run
	// Every queued event first (emit.go): the count stored is exact, and
	// nothing is stored final before its events are in the log.
	_ = w.drain()
	// The events so far plus ev, whose index is the writer's next (an
	// append that failed ambiguously is counted: see runWriter.floor).
	expected := max(w.last+1, w.floor)
	run.EventCount = expected + 1
	run.UpdatedAt = e.now()
	owner := run.LeaseOwner
	run.LeaseOwner, run.LeaseUntil = "", 0
	stored = true
	err := e.storeFinalRetrying(ctx, w, run, UpdateRunParams{IfStatus: from, IfLeaseOwner: owner})
	// The approvals went in with that write, or not at all: no later write
	// of the run inserts them again.
	run.NewApprovals = nil
	if err != nil {
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
			// The goroutine gets copies of its own: were it to capture ev
			// and stored, they would be on the heap for every run.
			e.wg.Add(1)
			final, wasStored := ev, stored
			go func() {
				defer e.wg.Done()
				e.retryFinal(ctx, w, final, expected, wasStored)
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
	ev := applyCompleted(w.run, out)
	if out.SessionState != nil || out.SessionSummary != nil {
		e.saveSession(ctx, w.run, out.SessionState, out.SessionSummary)
	}
	return e.finishParent(ctx, w, ev)
}

func (e *Engine) finishPaused(ctx context.Context, w *runWriter, out *Outcome) bool {
	ev := e.applyPaused(w.run, out)
	if out.SessionState != nil {
		e.saveSession(ctx, w.run, out.SessionState, nil)
	}
	created := w.run.NewApprovals
	stored := e.finish(ctx, w, ev, activeStatuses)
	if stored {
		e.approvalsCreated(ctx, created)
	}
	return stored
}

// finishParent is finish for a run that may have children (a team's, a
// workflow's): any child still running or paused when the parent ends is
// ended with it, in the store.
func (e *Engine) finishParent(ctx context.Context, w *runWriter, ev Event) bool {
	stored := e.finish(ctx, w, ev, activeStatuses)
	if w.run.Kind() != KindAgent {
		status, msg := RunCancelled, ""
		if ev.Base() == EventRunError {
			status, msg = RunError, ev.Content
		}
		e.endChildren(ctx, w.run.RunID, status, w.run.ErrorType, msg)
	}
	return stored
}

// saveSession stores the session state (and summary) a run ended with on
// its session.
func (e *Engine) saveSession(ctx context.Context, run *Run, state map[string]any, summary *string) {
	if err := e.writeDeferred(ctx, run.RunID); err != nil {
		e.logger.Warn("store run before its session state", "run_id", run.RunID, "err", err)
	}
	if _, err := e.store.UpdateSession(ctx, UpdateSessionParams{SessionID: run.SessionID, SessionState: state, Summary: summary, UpdatedAt: e.now()}); err != nil {
		e.logger.Warn("store session state", "run_id", run.RunID, "session_id", run.SessionID, "err", err)
	}
}

func (e *Engine) finishError(ctx context.Context, w *runWriter, err error, typ string) bool {
	run := w.run
	msg := err.Error()
	if CodeOf(err) == CodeInternal && typ == "internal_error" {
		e.logger.Error("run failed", "run_id", run.RunID, "err", err)
	}
	run.Status, run.Error, run.ErrorType = RunError, msg, typ
	return e.finishParent(ctx, w, Event{Event: EventRunError, Content: msg, ErrorType: typ, ErrorID: e.cfg.NewID()})
}

func (e *Engine) finishCancelled(ctx context.Context, w *runWriter, reason string) bool {
	w.run.Status = RunCancelled
	return e.finishParent(ctx, w, Event{Event: EventRunCancelled, Reason: reason})
}

// Cancel asks for the run to be cancelled, from any replica. The intent is
// stored first, so a run that has not started never starts; a paused run is
// cancelled at once; a finished run is left as it is. It returns the run as
// stored after the request.
func (e *Engine) Cancel(ctx context.Context, runID string) (*Run, error) {
	return e.cancel(ctx, runID, "cancelled by request")
}

// cancel is Cancel with the reason a paused run's RunCancelled gives.
func (e *Engine) cancel(ctx context.Context, runID, reason string) (*Run, error) {
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
		if err := w.emit(ctx, Event{Event: EventRunCancelled, Reason: reason}); err != nil {
			return nil, err
		}
		e.cancelPaused(ctx, run)
		e.cancelApprovals(ctx, runID)
		if run.Kind() != KindAgent {
			e.endChildren(ctx, run.RunID, RunCancelled, "", "")
		}
		return run, e.log.Finish(ctx, runID)
	default:
		return run, e.log.SignalCancel(ctx, runID)
	}
}

// cancelPaused lets the runnable of a paused run that was cancelled
// release what the pause holds elsewhere (see PausedCanceller).
func (e *Engine) cancelPaused(ctx context.Context, run *Run) {
	if run.Paused == nil {
		return
	}
	a, err := e.runnableOf(run)
	if err != nil {
		return
	}
	if pc, ok := a.(PausedCanceller); ok {
		pc.CancelPaused(context.WithoutCancel(ctx), run)
	}
}
