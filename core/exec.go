package core

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// ExecuteQueued executes a queued background run; a queue's worker calls
// it, on any replica, and it returns when the run's segment ends (or ctx
// ends: the run then goes on here until the engine closes). attempt counts
// from 1; a later attempt takes over a RUNNING run whose executor's lease
// ended (it died), restarting it with a CustomEvent that says so. A run
// that is already final, paused, or alive elsewhere is left alone.
func (e *Engine) ExecuteQueued(ctx context.Context, runID string, attempt int) error {
	run, err := e.Get(ctx, runID)
	if err != nil {
		return err
	}
	a, err := e.runnableOf(run)
	if err != nil {
		return err
	}
	var o execOpts
	switch {
	case run.Status == RunPending:
		o = execOpts{msg: run.Input.InputContent, iface: queuedInterface(run), carrier: run.TraceCarrier}
	case run.Status == RunRunning && run.LeaseUntil < e.nowMs() && e.activeRun(runID) == nil:
		now := e.nowMs()
		if !e.storeSettled(now) {
			// The store just failed here: its executor may be alive and
			// about to renew the lease or store the run's end.
			return Errorf(CodeConflict, "run %s: the state store was unavailable moments ago; trying again later", runID)
		}
		last, lastEv, _, err := e.lastEvent(ctx, run)
		for CodeOf(err) == CodeUnavailable && e.awaitLog(ctx) {
			// The log is down: wait for it here rather than spend the
			// job's attempts.
			last, lastEv, _, err = e.lastEvent(ctx, run)
		}
		if err != nil {
			return err
		}
		if lastEv != nil && lastEv.EndsSegment() {
			// Its segment ended (the executor could not store it): never
			// executed again.
			return e.settleFromLog(ctx, run, lastEv, now)
		}
		run.LeaseOwner, run.LeaseUntil, run.UpdatedAt = e.cfg.InstanceID, e.leaseUntil(), e.now()
		if err := e.store.UpdateRun(ctx, run, UpdateRunParams{IfStatus: []RunStatus{RunRunning}, IfLeaseExpiredBefore: now}); err != nil {
			if errors.Is(err, ErrConflict) {
				return nil // someone else took it over
			}
			return err
		}
		run.EventCount = last + 1
		if run.Kind() != KindAgent {
			// The lost attempt's children are not executed again: the
			// run starts over with new ones.
			e.endChildren(ctx, run.RunID, RunError, "worker_lost", "the worker executing this run stopped")
		}
		o = execOpts{msg: run.Input.InputContent, restart: attempt, iface: queuedInterface(run), carrier: run.TraceCarrier}
	case run.Status == RunRunning && e.activeRun(runID) == nil:
		// Alive elsewhere (or its lease not yet ended): try again later, so
		// the run is executed again if that executor dies.
		return Errorf(CodeConflict, "run %s is being executed by %s", runID, run.LeaseOwner)
	case run.Status == RunRunning:
	default:
		return nil
	}
	if ar := e.activeRun(runID); ar != nil {
		return e.waitActive(ctx, ar)
	}
	ar := e.launch(a, run, o, goSpawn)
	return e.waitActive(ctx, ar)
}

// queuedInterface is the ExecInfo.Interface of a queued run: a schedule's
// fire, or a background run a worker took from the queue.
func queuedInterface(run *Run) string {
	if run.ScheduleID != "" {
		return "schedule"
	}
	return "queue"
}

func (e *Engine) waitActive(ctx context.Context, ar *activeRun) error {
	select {
	case <-ar.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// execOpts says how execute starts a run.
type execOpts struct {
	msg       string
	resume    *PausedState      // set when a paused run continues
	noHistory bool              // the session is new: skip loading history
	restart   int               // attempt number of a queued run taken over after its executor died
	create    *deferredCreate   // the run's first write, not made yet (deferred.go)
	ar        *activeRun        // the execution's entry in Engine.active
	feed      *feed             // the starting request's stream (feed.go), or nil
	iface     string            // ExecInfo.Interface
	carrier   map[string]string // ExecInfo.TraceCarrier
}

// activeRun is a run this process is executing. done is closed when the
// current segment ends; final is then the run as stored, or nil if the
// executor could not store it (Wait then reads the store).
type activeRun struct {
	done   chan struct{}
	final  *Run
	create *deferredCreate // pending first write, or nil
	// ended is set once the segment's end is stored, before its ending
	// event is appended: subscribers then read the run as stored.
	ended atomic.Bool
	// writer is the execution's, once it started: followers here are fed
	// from it (local.go).
	writer atomic.Pointer[runWriter]
}

// executing returns the run this process is executing, or nil (also once
// its segment's end is stored).
func (e *Engine) executing(runID string) *activeRun {
	if ar := e.activeRun(runID); ar != nil && !ar.ended.Load() {
		return ar
	}
	return nil
}

// launch executes the run through spawn (in its own goroutine, detached
// from any request, with goSpawn). A run launched once Close has begun is
// ended at once (RunCancelled), so Close never misses a run it must wait
// for; spawn is then not called.
func (e *Engine) launch(a Agent, run *Run, o execOpts, spawn func(func())) *activeRun {
	ar := &activeRun{done: make(chan struct{})}
	e.launchMu.Lock()
	select {
	case <-e.closed:
		e.launchMu.Unlock()
		w := &runWriter{e: e, run: run, last: run.EventCount - 1, create: o.create, feed: o.feed}
		e.finishCancelled(context.Background(), w, "server shutting down")
		if o.feed != nil {
			o.feed.end()
		}
		close(ar.done)
		return ar
	default:
	}
	e.wg.Add(1)
	e.launchMu.Unlock()
	ar.create = o.create
	e.activeMu.Lock()
	e.active[run.RunID] = ar
	e.activeMu.Unlock()
	o.ar = ar
	spawn(func() {
		defer e.wg.Done()
		if e.execute(a, run, o) {
			final := *run
			ar.final = &final
		}
		if o.feed != nil {
			o.feed.end()
		}
		e.followers.forget(run.RunID)
		e.activeMu.Lock()
		if e.active[run.RunID] == ar {
			delete(e.active, run.RunID)
		}
		e.activeMu.Unlock()
		close(ar.done)
	})
	return ar
}

func (e *Engine) activeRun(runID string) *activeRun {
	e.activeMu.Lock()
	defer e.activeMu.Unlock()
	return e.active[runID]
}

// runWriter appends the events of one run; it is the run's single writer.
type runWriter struct {
	e    *Engine
	run  *Run
	last int64 // index of the last appended event, -1 before the first
	// floor is the lowest index the next event may take: an append that
	// failed may still have landed (the connection broke after the write),
	// so its index is never offered again, even to a log that lost the run.
	floor int64
	// create is the run's first write when Start deferred it (deferred.go).
	create *deferredCreate
	// executing: the writer is a launched execution's (counted in the
	// engine's wg), so its final event may be retried in the background.
	executing bool
	ar        *activeRun // the execution's, when executing
	// logFailed: an append failed with the log unavailable.
	logFailed bool
	// feed, when set, gets every event appended (feed.go).
	feed *feed
	// obs watch the run (observe.go), called with octx; nil when none.
	obs  []RunObserver
	octx context.Context
	// slab is where the run's events are allocated, a slab at a time: one
	// allocation instead of one per event (the log keeps them). events
	// counts them.
	slab   []Event
	events int
	// mu serialises appends: a team's members forward their events from
	// goroutines of their own.
	mu sync.Mutex
	// The asynchronous emits (emit.go), guarded by mu: queue holds the
	// events emitted and not yet sent, flushing is set while the flusher
	// runs, cond (on mu) signals its progress, and asyncErr is the failure
	// of a queued append, reported by the next emit.
	queue    []*Event
	flushing bool
	cond     *sync.Cond
	asyncErr error
	// locals are the feeds of the streams following the run in this
	// process (local.go), guarded by mu; localsEnded is set once the
	// execution is over.
	locals      []*feed
	localsEnded bool
}

// eventSlab is how many events a runWriter allocates at once after its
// first slab, which fits what the engine's segments had lately
// (slabHint), at most eventSlab: a short run's events are in one slab,
// without room for events it never has (an Event is half a kilobyte).
const eventSlab = 16

// minFirstSlab bounds the first slab from below.
const minFirstSlab = 4

// alloc returns a copy of e that the log may keep.
func (w *runWriter) alloc(e Event) *Event {
	if len(w.slab) == cap(w.slab) {
		n := eventSlab
		if w.slab == nil {
			n = w.e.firstSlab()
		}
		w.slab = make([]Event, 0, n)
	}
	w.slab = append(w.slab, e)
	w.events++
	return &w.slab[len(w.slab)-1]
}

// firstSlab is the size of a writer's first slab: the events of the
// engine's recent segments (see noteEvents), within [minFirstSlab,
// eventSlab]; eventSlab before any ended.
func (e *Engine) firstSlab() int {
	n := int(e.slabHint.Load())
	if n == 0 {
		return eventSlab
	}
	return min(max(n, minFirstSlab), eventSlab)
}

// noteEvents records that a segment had n events. The hint is a decaying
// maximum: it follows the longest segments at once, and shorter ones only
// slowly (by an eighth, at least one, per segment), so a mix of short and long runs sizes
// for the long ones (as a fixed eventSlab did) rather than giving them two
// slabs each.
func (e *Engine) noteEvents(n int) {
	for {
		old := e.slabHint.Load()
		next := max(int64(n), old-max(old/8, 1))
		if next == old || e.slabHint.CompareAndSwap(old, next) {
			return
		}
	}
}

func (w *runWriter) emit(ctx context.Context, ev Event) error {
	_, err := w.append(ctx, ev, false)
	return err
}

// emitFinal appends the event that ends the segment. With a log that can
// (FinishingAppender) it finishes the run's stream in the same step, and
// reports that it did.
func (w *runWriter) emitFinal(ctx context.Context, ev Event) (finished bool, err error) {
	return w.append(ctx, ev, true)
}

func (w *runWriter) append(ctx context.Context, e Event, final bool) (finished bool, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.flushing {
		w.waitFlushedLocked() // the queued events come first (emit.go)
	}
	return w.appendLocked(ctx, e, final)
}

// prepare returns the copy of e that goes into the log, with the run's
// ids and created_at set. w.mu is held.
func (w *runWriter) prepare(e Event) (*Event, error) {
	ev := w.alloc(e)
	if ev.Forwarded() {
		// A child run's event (team member, workflow step): it keeps the
		// child's ids and goes into this run's stream.
		ev.StreamRunID = w.run.RunID
	} else {
		w.run.stamp(ev)
		if k := w.run.Kind(); k != KindAgent {
			ev.Event = ev.Event.ForKind(k)
		}
	}
	ev.CreatedAt = w.e.now()
	if !ev.Event.Valid() {
		return nil, Errorf(CodeInvalid, "unknown event type %q", ev.Event)
	}
	return ev, nil
}

// appendLocked is append with w.mu held and no flush in flight.
func (w *runWriter) appendLocked(ctx context.Context, e Event, final bool) (finished bool, err error) {
	ev, err := w.prepare(e)
	if err != nil {
		return false, err
	}
	if err := ctx.Err(); err != nil {
		return false, err // nothing was sent: the index stays free
	}
	var idx int64
	took := false
	if w.create != nil {
		// A run whose events are held back (deferred.go).
		took, idx, finished, err = w.create.hold(ctx, w.e.log, ev, max(w.last+1, w.floor), final)
	}
	if !took {
		ev.EventIndex = max(w.last+1, w.floor) // honoured only if the log lost the run
		// A started append is never cut short by the run's cancellation,
		// so only a failing log leaves it undecided.
		if fa, ok := w.e.log.(FinishingAppender); ok && final {
			idx, err = fa.AppendFinish(context.WithoutCancel(ctx), ev)
			finished = err == nil
		} else {
			idx, err = w.e.log.Append(context.WithoutCancel(ctx), ev)
		}
	}
	if err != nil {
		w.floor = max(w.floor, ev.EventIndex+1)
		w.failed(err)
		return false, err
	}
	if final {
		w.e.noteEvents(w.events)
	}
	w.accepted(ev, idx, took)
	return finished, nil
}

// failed notes an append that failed. w.mu is held.
func (w *runWriter) failed(err error) {
	if CodeOf(err) == CodeUnavailable {
		w.logFailed = true
		w.e.noteLogTrouble(err)
	}
}

// accepted records that the log gave ev index idx and hands it to the
// run's feed and observers. held: the log is still to index it
// (deferred.go). w.mu is held.
func (w *runWriter) accepted(ev *Event, idx int64, held bool) {
	w.last = idx
	w.floor = max(w.floor, idx+1)
	if w.feed != nil {
		w.feed.push(ev, idx, held)
	}
	if len(w.locals) > 0 {
		w.pushLocals(ev, idx, held)
	}
	for _, o := range w.obs {
		o.RunEvent(w.octx, w.run, ev)
	}
}

// execute runs the agent for run. A run stored as PENDING (queued, not
// started by this process) is checked for a stored cancel intent and moved
// to RUNNING first; a run created RUNNING by Start relies on the cancel
// signal, which the log remembers, so it costs no extra write.
func (e *Engine) execute(a Agent, run *Run, o execOpts) (stored bool) {
	resume := o.resume
	ctx, cancel := context.WithCancel(e.baseCtx)
	defer cancel()
	w := &runWriter{e: e, run: run, last: run.EventCount - 1, create: o.create, executing: true, ar: o.ar, feed: o.feed}
	if o.ar != nil {
		o.ar.writer.Store(w)
		defer w.endLocals()
	}
	if len(e.runObservers) > 0 {
		ctx = e.beginObserved(ctx, w, ExecInfo{
			Interface: o.iface, Continue: resume != nil, Restart: o.restart, TraceCarrier: o.carrier,
			Queued: e.queuedFor(run),
		})
		defer e.endObserved(w)
	}
	// Appends of the final events must not fail because the run's own
	// context was cancelled.
	bg := context.WithoutCancel(ctx)

	var cancelled atomic.Bool
	stopWatch := e.watchCancel(ctx, run.RunID, func() {
		cancelled.Store(true)
		cancel()
	})
	defer stopWatch()

	if run.Status == RunPending {
		// A cancel recorded before the run started means it never starts.
		cur, err := e.store.GetRun(bg, run.RunID)
		if err == nil && cur.CancelRequested {
			return e.finishCancelled(bg, w, "cancelled before start")
		}
		run.Status = RunRunning
		run.UpdatedAt = e.now()
		run.LeaseOwner, run.LeaseUntil = e.cfg.InstanceID, e.leaseUntil()
		if err := e.store.UpdateRun(bg, run, UpdateRunParams{IfStatus: []RunStatus{RunPending}}); err != nil {
			if errors.Is(err, ErrConflict) {
				return false // someone else (a cancel) moved it on
			}
			return e.finishError(bg, w, fmt.Errorf("mark running: %w", err), "internal_error")
		}
	}
	stopHeartbeat := func() {}
	if e.cfg.LeaseTTL > 0 {
		stopHeartbeat = e.heartbeat(ctx, run.RunID, o.create, cancel)
	}
	defer stopHeartbeat()
	var history []Message
	var err error
	if resume == nil && !o.noHistory && e.cfg.HistoryRuns > 0 {
		history, err = e.history(bg, run)
		if err != nil {
			return e.finishError(bg, w, fmt.Errorf("load history: %w", err), "internal_error")
		}
	}

	if run.Background && e.logUsable(bg) != nil {
		// The log is known to be down: wait for it rather than start
		// with appends that fail.
		e.awaitLog(ctx)
	}
	restart, reason := o.restart, "worker_lost"
	var out *Outcome
	for {
		out, err = e.attempt(ctx, bg, a, w, o, history, restart, reason)
		// A background run whose events could not reach the log is
		// executed again once the log is back (its lease kept meanwhile by
		// the heartbeat), as after a crash, rather than ended in an error.
		if err == nil || !run.Background || !w.logFailed || cancelled.Load() || ctx.Err() != nil {
			break
		}
		e.logger.Warn("background run interrupted by the event log; executing it again once the log is back",
			"run_id", run.RunID, "err", err)
		if !e.awaitLog(ctx) {
			break
		}
		if cur, gerr := e.store.GetRun(bg, run.RunID); gerr == nil && cur.CancelRequested {
			cancelled.Store(true) // cancelled while the log was down
			break
		}
		w.logFailed = false
		w.resetAsync()
		restart, reason = max(restart+1, 1), "event_log_unavailable"
	}
	stopHeartbeat() // finishing clears the lease
	switch {
	case cancelled.Load():
		// The signal follows the stored intent (Cancel), so the final run
		// says so too.
		run.CancelRequested = true
		return e.finishCancelled(bg, w, "cancelled by request")
	case e.baseCtx.Err() != nil:
		return e.finishCancelled(bg, w, "server shutting down")
	case err != nil:
		typ := "internal_error"
		var ae *AgentError
		switch {
		case w.logFailed:
			typ = "backend_unavailable" // the event log failed, not the agent
		case errors.As(err, &ae) && ae.Type != "":
			typ = ae.Type
		case CodeOf(err) == CodeUnavailable:
			typ = "backend_unavailable" // the event log or the store failed, not the agent
		}
		return e.finishError(bg, w, err, typ)
	case out == nil:
		return e.finishError(bg, w, errors.New("agent returned no outcome"), "internal_error")
	case out.Paused != nil:
		return e.finishPaused(bg, w, out)
	default:
		return e.finishCompleted(bg, w, out)
	}
}

// attempt executes the agent once: after a CustomEvent run_restarted when
// restart > 0 (the run is executed again: its executor was lost, or its
// events could not reach the log), and RunStarted unless the run continues
// from a pause.
func (e *Engine) attempt(ctx, bg context.Context, a Agent, w *runWriter, o execOpts, history []Message, restart int, reason string) (*Outcome, error) {
	run := w.run
	if restart > 0 {
		if err := w.emit(bg, Event{Event: EventCustom, Data: map[string]any{
			"kind": "run_restarted", "attempt": restart, "reason": reason,
		}}); err != nil {
			return nil, err
		}
	}
	// An agent's events are queued and appended behind it (emit.go); a
	// team's or workflow's stay synchronous, as its children store their
	// ends between their events.
	emit := w.emit
	if run.Kind() == KindAgent && e.asyncEmits() {
		emit = w.emitAsync
	}
	if o.resume == nil {
		if err := emit(bg, Event{Event: EventRunStarted, Model: run.Model, ModelProvider: run.ModelProvider}); err != nil {
			return nil, err
		}
	}
	snapshot := *run
	x := Execution{Run: &snapshot, Message: o.msg, History: history, Resume: o.resume, Emit: emit, Media: e.cfg.Media,
		StoreMedia: e.mediaStorer(run.SessionID, run.UserID)}
	if run.Kind() != KindAgent {
		// Teams and workflows run children and share the session's
		// state (none yet in a session the run just created); an agent's
		// run costs neither.
		if !o.noHistory {
			x.SessionState = e.sessionState(bg, run)
		}
		x.RunChild = e.childRunner(run, w.emit)
	}
	out, err := e.safeExecute(ctx, a, &x)
	// The outcome counts once its events are in the log: an agent that
	// went on after a queued append failed did not get it recorded.
	if ferr := w.drain(); ferr != nil && err == nil {
		out, err = nil, ferr
	}
	return out, err
}

// safeExecute turns a panicking agent into an error.
func (e *Engine) safeExecute(ctx context.Context, a Agent, x *Execution) (out *Outcome, err error) {
	defer func() {
		if r := recover(); r != nil {
			e.logger.Error("agent panicked", "run_id", x.Run.RunID, "panic", r)
			out, err = nil, &AgentError{Type: "agent_panic", Err: fmt.Errorf("agent failed: %v", r)}
		}
	}()
	return a.Execute(ctx, x)
}

// sessionState is the state of run's session (nil when it has none or it
// cannot be read: the run starts from an empty state).
func (e *Engine) sessionState(ctx context.Context, run *Run) map[string]any {
	s, err := e.store.GetSession(ctx, run.SessionID)
	if err != nil {
		if !errors.Is(err, ErrNotFound) {
			e.logger.Warn("read session state", "run_id", run.RunID, "err", err)
		}
		return nil
	}
	return s.SessionState
}

func (e *Engine) history(ctx context.Context, run *Run) ([]Message, error) {
	runs, err := e.store.ListRuns(ctx, ListRunsParams{SessionID: run.SessionID, Status: RunCompleted, TopLevel: true})
	if err != nil {
		return nil, err
	}
	if n := e.cfg.HistoryRuns; len(runs) > n {
		runs = runs[len(runs)-n:]
	}
	var msgs []Message
	for _, r := range runs {
		if r.RunID == run.RunID {
			continue
		}
		for _, m := range r.Messages {
			if m.Role != "system" {
				msgs = append(msgs, m)
			}
		}
	}
	return msgs, nil
}
