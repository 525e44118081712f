package core

import (
	"context"
	"errors"
)

// Local followers. A stream following a run that this process executes is
// fed by the run's writer, from memory, as the log accepts each event (with
// the log's index), rather than tailing the log: over Redis that saves a
// blocking read per follower and a round trip per event, while the events
// still go to the log for the followers on other replicas, resumes and
// retention. The stream first reads what the log accepted before it
// joined (from its cursor: exact or refused, as any resume), then takes
// the writer's feed, which starts right after. An event the log refused
// is never fed: the writer hands out only what it accepted. Once the
// execution is over, or the feed no longer continues the stream (the run
// went on elsewhere), the stream tails the log from its cursor, as
// Stream.next does for the starting request's feed.
//
// A follower's feed is bounded (EngineConfig.LocalFollowerBacklog): a
// follower that falls that far behind is dropped from the writer and its
// unread events released, so a slow client never makes the run hold
// events without bound; the stream then catches up from the log by index
// (exact, or refused if the log trimmed past its cursor), as a follower
// on another replica would. The starting request's own feed stays
// unbounded: it is the one stream never refused by trimming (feed.go).

// pushLocals hands ev, accepted at idx, to the local followers, dropping
// those that went away. w.mu is held.
func (w *runWriter) pushLocals(ev *Event, idx int64, held bool) {
	kept := w.locals[:0]
	for _, f := range w.locals {
		if f.push(ev, idx, held) {
			kept = append(kept, f)
		}
	}
	clear(w.locals[len(kept):])
	w.locals = kept
}

// endLocals ends the local followers' feeds: the execution is over.
func (w *runWriter) endLocals() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.localsEnded = true
	for _, f := range w.locals {
		f.end()
	}
	w.locals = nil
}

// followLocal registers a feed that gets every event the writer accepts
// from now on, and returns it with the index of the last event accepted
// before. It returns nil while the run's events are held back (deferred.go:
// the log has not indexed them), once the execution is over, or when
// local followers are disabled (a negative LocalFollowerBacklog).
func (w *runWriter) followLocal() (*feed, int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.localsEnded || w.create != nil && w.create.isHolding() || w.e.cfg.LocalFollowerBacklog < 0 {
		return nil, 0
	}
	f := newBoundedFeed(w.e.cfg.LocalFollowerBacklog)
	w.locals = append(w.locals, f)
	return f, w.last
}

// subscribeLocal is SubscribeRun for a run this process executes: it
// returns a stream fed by the run's writer, or nil when the stream must
// tail the log (the run is not executing here, its events are held back,
// or the log does not hold exactly the events up to where the feed
// starts), or the error that refuses the cursor.
func (e *Engine) subscribeLocal(ctx context.Context, runID string, after int64) (*Stream, error) {
	ar := e.executing(runID)
	if ar == nil {
		return nil, nil
	}
	w := ar.writer.Load()
	if w == nil {
		return nil, nil
	}
	f, last := w.followLocal()
	if f == nil {
		return nil, nil
	}
	if after > last {
		// Past what this writer has seen accepted: the log says whether
		// the cursor exists.
		f.close()
		return nil, nil
	}
	var backlog []Event
	if after < last {
		evs, err := e.log.Read(ctx, ReadParams{RunID: runID, After: after})
		if errors.Is(err, ErrGone) {
			f.close()
			return nil, err // exact or refused
		}
		if err != nil {
			f.close()
			return nil, nil // the log path decides (a log that lost the run, or failed)
		}
		for len(evs) > 0 && evs[len(evs)-1].EventIndex > last {
			evs = evs[:len(evs)-1] // accepted after the feed started: it has them
		}
		if len(evs) == 0 || evs[0].EventIndex != after+1 || evs[len(evs)-1].EventIndex != last {
			f.close()
			return nil, nil
		}
		backlog = evs
	}
	return &Stream{backlog: backlog, feed: f, log: e.log, e: e, runID: runID, last: after, unfollow: e.follow(ctx, runID)}, nil
}
