package core

import (
	"context"
	"sync"
)

// Asynchronous emits. Over a log in a server of its own (Redis) every
// append is a round trip; an agent's events (text deltas above all) come
// faster than that. An agent's Emit therefore queues its event and returns:
// a flusher goroutine of the run appends what is queued, all of it in one
// step (BatchAppender), while the agent goes on, so a burst of deltas costs
// one or two round trips instead of one each. What the log accepted is
// then handed to the run's local subscribers (feed) and observers, with the
// log's indices, in order; nothing the log refused reaches them.
//
// The writer stays the run's single writer: a synchronous append (the
// segment's final event, a restart notice) first waits for the queue to
// drain, and finish drains it before the final state is stored, so the
// stored event count is exact and nothing is stored final before its
// events are in the log (integrity.go). An append that fails is reported
// by the agent's next Emit (and by the attempt's end): the events queued
// after it are dropped, as the agent would have stopped at the error.
//
// A log of this process alone (memlog) appends in memory at once: its
// emits stay synchronous.

// maxQueued bounds the events an agent may have queued: past it, Emit
// waits for the flusher to take them (the agent cannot outrun the log
// without bound).
const maxQueued = 256

// asyncEmits reports whether an execution's agent emits asynchronously
// on e's log.
func (e *Engine) asyncEmits() bool {
	pl, ok := e.log.(ProcessLocal)
	return !ok || !pl.ProcessLocal()
}

// emitAsync queues ev for the flusher and returns; it returns the error
// of an earlier queued append that failed, or the run's context's.
func (w *runWriter) emitAsync(ctx context.Context, e Event) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.create != nil {
		// Held events (deferred.go) are appended at the end anyway.
		_, err := w.appendLocked(ctx, e, false)
		return err
	}
	if w.asyncErr != nil {
		return w.asyncErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if w.cond == nil {
		w.cond = sync.NewCond(&w.mu)
	}
	for len(w.queue) >= maxQueued && w.flushing && w.asyncErr == nil {
		w.cond.Wait()
	}
	if w.asyncErr != nil {
		return w.asyncErr
	}
	ev, err := w.prepare(e)
	if err != nil {
		return err
	}
	w.queue = append(w.queue, ev)
	if !w.flushing {
		w.flushing = true
		go w.flushLoop()
	}
	return nil
}

// flushLoop appends what is queued until the queue is empty.
func (w *runWriter) flushLoop() {
	ctx := context.WithoutCancel(w.e.baseCtx)
	ba, batches := w.e.log.(BatchAppender)
	w.mu.Lock()
	defer func() {
		w.flushing = false
		w.cond.Broadcast()
		w.mu.Unlock()
	}()
	for len(w.queue) > 0 && w.asyncErr == nil {
		batch := w.queue
		w.queue = nil
		w.cond.Broadcast() // room in the queue again
		next := max(w.last+1, w.floor)
		batch[0].EventIndex = next // honoured only if the log lost the run
		w.mu.Unlock()
		// The log sets each event's index and may keep the event as is
		// (readers of the log see it from now on): the events are not
		// written to once handed over; their indices are kept here.
		var err error
		done, floor := 0, next+int64(len(batch))
		var first int64 // with batches: the first event's index
		var idxs []int64
		if batches {
			first, err = ba.AppendAll(ctx, batch, false)
			if err == nil {
				done = len(batch)
			}
		} else {
			idxs = make([]int64, 0, len(batch))
			for _, ev := range batch {
				ev.EventIndex = next // not handed over yet
				var idx int64
				if idx, err = w.e.log.Append(ctx, ev); err != nil {
					floor = next + 1 // the later ones were not sent
					break
				}
				idxs = append(idxs, idx)
				next = idx + 1
				done++
			}
		}
		w.mu.Lock()
		for i, ev := range batch[:done] {
			idx := first + int64(i)
			if idxs != nil {
				idx = idxs[i]
			}
			w.accepted(ev, idx, false)
		}
		if err != nil {
			// The failed append may have landed: its indices are never
			// offered again.
			w.floor = max(w.floor, floor)
			w.failed(err)
			w.asyncErr = err
			clear(w.queue)
			w.queue = nil
		}
	}
}

// drain waits until every queued event was appended (or dropped after a
// failure) and returns the failure, if any. w.mu must not be held.
func (w *runWriter) drain() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.waitFlushedLocked()
	return w.asyncErr
}

// waitFlushedLocked waits, with w.mu held, until no flush is in flight.
func (w *runWriter) waitFlushedLocked() {
	for w.flushing {
		w.cond.Wait()
	}
}

// resetAsync forgets a failed queued append (a run executed again once the
// log is back).
func (w *runWriter) resetAsync() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.waitFlushedLocked()
	w.asyncErr = nil
}
