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

	once  sync.Once
	done  chan struct{} // closed when the write has been made (or failed)
	err   error
	final bool // the write stored the final state
}

func newDeferredCreate(sess *Session, run *Run) *deferredCreate {
	return &deferredCreate{sess: sess, run: *run, done: make(chan struct{})}
}

// write stores the run: as created when final is nil, else in its final
// state. Only the first call writes; later ones wait for it and report
// false.
func (d *deferredCreate) write(ctx context.Context, store Store, final *Run) (wrote bool, err error) {
	d.once.Do(func() {
		wrote = true
		if d.timer != nil {
			d.timer.Stop()
		}
		r := &d.run
		if final != nil {
			r, d.final = final, true
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

// defers reports whether Start may defer a foreground run's first write.
func (e *Engine) defers() bool {
	if e.cfg.CreateDelay <= 0 {
		return false
	}
	pl, ok := e.log.(ProcessLocal)
	return ok && pl.ProcessLocal()
}

// deferred returns the pending creation of an executing run, or nil.
func (e *Engine) deferred(runID string) *deferredCreate {
	if ar := e.activeRun(runID); ar != nil && ar.create != nil && !ar.create.written() {
		return ar.create
	}
	return nil
}

// writeDeferred stores the run runID if its creation is still pending, so
// a store operation on it that follows sees it.
func (e *Engine) writeDeferred(ctx context.Context, runID string) error {
	d := e.deferred(runID)
	if d == nil {
		return nil
	}
	_, err := d.write(ctx, e.store, nil)
	return err
}

// flushDeferred stores every run whose creation is pending, so a store read
// that follows (a list, a session) sees them all. The writes go out
// together and commit together. A failed write is left to the run's end,
// which writes it again; the read goes on.
func (e *Engine) flushDeferred(ctx context.Context) {
	e.activeMu.Lock()
	var pending []*deferredCreate
	for _, ar := range e.active {
		if ar.create != nil && !ar.create.written() {
			pending = append(pending, ar.create)
		}
	}
	e.activeMu.Unlock()
	if len(pending) == 1 {
		_, _ = pending[0].write(ctx, e.store, nil)
		return
	}
	var wg sync.WaitGroup
	for _, d := range pending {
		wg.Go(func() { _, _ = d.write(ctx, e.store, nil) })
	}
	wg.Wait()
}
