package core

import (
	"context"
	"sync"
	"time"
)

// Deferred creation of foreground runs.
//
// With an event log that only this process reads (ProcessLocal), nothing
// outside the process can follow, cancel or resume a run before the store
// has it, so Start does not wait for the run's first write: the run is
// written once, in its final state, when it ends — or, if it is still
// executing after EngineConfig.CreateDelay, as created (RUNNING, with its
// lease) and then updated at the end as usual. agno's AgentOS likewise
// stores a foreground run when it ends.
//
// A blocking run (StartParams.Blocking) goes further: nobody can know it
// before it ends, whatever the log, so its events are held back too and
// appended together with the final one, in one step (BatchAppender), after
// the run is stored: one store write and one log write per run. Anything
// that shows the run earlier (CreateDelay, a subscriber, a list, a cancel)
// stores it and releases its events first, after which it goes on like any
// other run.
//
// What the process itself reads stays consistent: Get answers an unwritten
// run from memory, and every read that could miss it (run and session
// lists, session reads and writes, cancel) first writes the runs still
// pending. A short run thus costs one store write instead of two, and its
// first event is not behind a commit.

// deferredCreate is the pending first write of a run Start did not store.
type deferredCreate struct {
	sess  *Session
	run   Run // as created: RUNNING, leased to this engine
	timer *time.Timer

	once sync.Once
	done chan struct{} // closed when the write has been made (or failed)
	err  error

	// mu guards the held events of a blocking run.
	mu        sync.Mutex
	holding   bool     // events are held back until the run is stored
	held      []*Event // in index order from the run's first
	finalHeld bool     // the segment's last event is among them
}

func newDeferredCreate(sess *Session, run *Run) *deferredCreate {
	return &deferredCreate{sess: sess, run: *run, done: make(chan struct{})}
}

// write stores the run: as created when final is nil, else in its final
// state. Only the first call writes; later ones wait for it and report
// false.
func (d *deferredCreate) write(ctx context.Context, store RunStore, final *Run) (wrote bool, err error) {
	d.once.Do(func() {
		wrote = true
		if d.timer != nil {
			d.timer.Stop()
		}
		r := &d.run
		if final != nil {
			r = final
		}
		_, d.err = store.CreateRunInSession(context.WithoutCancel(ctx), d.sess, r)
		close(d.done)
	})
	select {
	case <-d.done:
		return wrote, d.err
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// written reports whether the write has been made (successfully or not).
func (d *deferredCreate) written() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// snapshot is the run as it would be stored now, or nil once written.
func (d *deferredCreate) snapshot() *Run {
	if d == nil || d.written() {
		return nil
	}
	r := d.run
	return &r
}

// pending reports whether the run is not fully shown yet: not written, or
// its events still held back.
func (d *deferredCreate) pending() bool {
	return !d.written() || d.isHolding()
}

// unseen reports whether nothing of the run was shown yet: the store has
// not got it (its write not made, or failed) and its events are held back.
func (d *deferredCreate) unseen() bool {
	if d == nil || !d.isHolding() {
		return false
	}
	return !d.written() || d.err != nil
}

// isHolding reports whether the run's events are still held back.
func (d *deferredCreate) isHolding() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.holding
}

// flush stores the run as created, if it was not yet, then releases the
// events held back, so the run shows like any other. The events stay held
// while the store has not got the run (a failed write): they are never
// visible before it.
func (d *deferredCreate) flush(ctx context.Context, e *Engine) error {
	if _, err := d.write(ctx, e.store, nil); err != nil {
		return err
	}
	if d.err != nil {
		return d.err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.holding {
		return nil
	}
	if len(d.held) > 0 {
		if _, _, err := appendAll(ctx, e.log, d.held, false); err != nil {
			return err
		}
	}
	d.holding, d.held = false, nil
	return nil
}

// hold keeps ev back while the run's events are held, giving it index
// next. The segment's last event (final) releases them all with it and
// finishes the run's stream; the run must be stored by then. It reports
// whether it took ev; if so, idx is the index of ev and finished whether
// the log finished the stream. ev is kept as given: the caller must not
// change it afterwards.
func (d *deferredCreate) hold(ctx context.Context, log EventLog, ev *Event, next int64, final bool) (took bool, idx int64, finished bool, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.holding {
		return false, 0, false, nil
	}
	if !final || !d.finalHeld {
		ev.EventIndex = next
		if d.held == nil {
			// Room for a short run's events at once (the slice would
			// otherwise grow from one, an allocation per doubling).
			d.held = make([]*Event, 0, eventSlab)
		}
		d.held = append(d.held, ev) // the writer's own copy: kept as is
		d.finalHeld = final
	}
	if !final {
		return true, next, false, nil
	}
	first, finished, err := appendAll(ctx, log, d.held, true)
	if err != nil {
		return true, 0, false, err // held still: a retry sends them again
	}
	idx = first + int64(len(d.held)) - 1
	d.holding, d.held = false, nil
	return true, idx, finished, nil
}

// appendAll appends evs (one run's, in order) in one step when the log can
// (BatchAppender), finishing the stream with them if finish is set; it
// returns the first index and whether the stream was finished.
func appendAll(ctx context.Context, log EventLog, evs []*Event, finish bool) (first int64, finished bool, err error) {
	ctx = context.WithoutCancel(ctx)
	if ba, ok := log.(BatchAppender); ok {
		first, err = ba.AppendAll(ctx, evs, finish)
		return first, err == nil && finish, err
	}
	for i, ev := range evs {
		idx, err := log.Append(ctx, ev)
		if err != nil {
			return 0, false, err
		}
		if i == 0 {
			first = idx
		}
	}
	return first, false, nil
}

// defers reports whether Start may defer a foreground run's first write.
func (e *Engine) defers() bool {
	if e.cfg.CreateDelay <= 0 {
		return false
	}
	pl, ok := e.log.(ProcessLocal)
	return ok && pl.ProcessLocal()
}

// deferred returns the deferred creation of an executing run while it is
// pending, or nil.
func (e *Engine) deferred(runID string) *deferredCreate {
	if ar := e.activeRun(runID); ar != nil && ar.create != nil && ar.create.pending() {
		return ar.create
	}
	return nil
}

// writeDeferred stores the run runID and releases its events if it is
// still pending, so a store or log operation on it that follows sees it.
func (e *Engine) writeDeferred(ctx context.Context, runID string) error {
	d := e.deferred(runID)
	if d == nil {
		return nil
	}
	return d.flush(ctx, e)
}

// flushDeferred stores every run whose creation is pending, so a store read
// that follows (a list, a session) sees them all. The writes go out
// together and commit together. A failed write is left to the run's end,
// which writes it again; the read goes on.
func (e *Engine) flushDeferred(ctx context.Context) {
	e.activeMu.Lock()
	var pending []*deferredCreate
	for _, ar := range e.active {
		if ar.create != nil && ar.create.pending() {
			pending = append(pending, ar.create)
		}
	}
	e.activeMu.Unlock()
	var wg sync.WaitGroup
	for _, d := range pending {
		wg.Go(func() { _ = d.flush(ctx, e) })
	}
	wg.Wait()
}
