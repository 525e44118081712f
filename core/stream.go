package core

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// Stream is one subscriber's view of a run: events after a cursor, ending
// (io.EOF) after the event that ends the current segment (RunCompleted,
// RunError, RunCancelled or RunPaused). It is used by one goroutine.
type Stream struct {
	// replay holds the rest of a segment that had ended when the stream
	// was opened, read in one go (no subscription then).
	replay []Event
	// feed, when set, is the executor's feed of a stream opened by
	// StartStream, or of a local follower (local.go); the stream reads
	// the log only if it ends early. backlog holds a local follower's
	// events read from the log, up to where its feed starts.
	feed    *feed
	backlog []Event
	sub     Subscription
	log     EventLog
	e       *Engine
	runID   string
	last    int64 // index of the last event returned
	done    bool
	// idle counts consecutive silent checks that found the run ended in
	// the store while its final event had not arrived.
	idle int
	// unfollow records that this follower of a live run left
	// (disconnect.go); nil when not counted.
	unfollow func()
	// checkAt is when the current silence calls for a check of the
	// store (zero: no wait since the last event); timer times the waits
	// on a feed (one timer for the stream's life, not one per event).
	checkAt time.Time
	timer   *time.Timer
	// checkEvery, when set, replaces streamCheckInterval (tests).
	checkEvery time.Duration
}

// streamCheckInterval is the silence after which a stream checks the
// store for a run that ended without its final event reaching the log.
var streamCheckInterval = 3 * time.Second

// Next returns the next event, io.EOF after the segment's last event, or an
// error (a *GoneError if the log trimmed past this reader). A RunPaused
// that a later continue or cancel already followed does not end the
// stream: a replay goes on through it.
func (s *Stream) Next(ctx context.Context) (Event, error) {
	ev, _, err := s.NextWithin(ctx, -1)
	return ev, err
}

// NextWithin is Next waiting at most d for the next event (0: only an event
// at hand; negative: as long as it takes): ok is false, with a nil error,
// when none came within d. A caller that writes heartbeats on a
// connection waits this way without a goroutine or context of its own.
func (s *Stream) NextWithin(ctx context.Context, d time.Duration) (ev Event, ok bool, err error) {
	if s.done {
		return Event{}, false, io.EOF
	}
	ev, ok, err = s.next(ctx, d)
	if errors.Is(err, errPauseEnded) {
		s.done = true
		return Event{}, false, io.EOF
	}
	if err != nil {
		return Event{}, false, err
	}
	if !ok {
		return Event{}, false, nil
	}
	s.last = ev.EventIndex
	switch {
	case ev.Terminal():
		s.done = true
	case !ev.EndsSegment():
	case s.sub == nil && s.feed == nil:
		// A replay: what was read at the start says whether a continue
		// followed.
		s.done = len(s.replay) == 0
	default: // a pause
		more, err := s.log.Read(ctx, ReadParams{RunID: s.runID, After: ev.EventIndex, Limit: 1})
		s.done = err != nil || len(more) == 0 && !s.awaitsAutoContinue(ctx)
	}
	return ev, true, nil
}

// awaitsAutoContinue reports whether the stream's run is paused on an
// approval that continues it by itself once resolved: its followers'
// streams then stay open through the pause (heartbeats keep them), and go
// on with the run, on whichever replica continues it.
func (s *Stream) awaitsAutoContinue(ctx context.Context) bool {
	if s.e == nil {
		return false
	}
	run, err := s.e.store.GetRun(ctx, s.runID)
	return err == nil && awaitsAutoContinue(run)
}

func awaitsAutoContinue(run *Run) bool {
	return run.Status == RunPaused && run.Paused != nil && run.Paused.AutoContinue
}

// errPauseEnded ends a stream kept open through a pause whose run no
// longer awaits an auto-continue (its approval expired, leaving it
// paused).
var errPauseEnded = errors.New("the pause no longer awaits an approval")

// next waits for the log's next event, at most d when d is not negative
// (ok false when none came). During silences it checks the store: a run
// that ended there while its final event never reached the log (the log
// was unreachable when the run ended) ends the stream with an explicit
// error after two checks, instead of leaving it waiting forever.
func (s *Stream) next(ctx context.Context, d time.Duration) (Event, bool, error) {
	if len(s.backlog) > 0 {
		ev := s.backlog[0]
		s.backlog = s.backlog[1:]
		return ev, true, nil
	}
	var until time.Time // the end of the caller's bound, once timed
	for s.feed != nil {
		// An event at hand is taken without timing anything.
		ev, ok, err := s.feed.next(ctx, nil, true)
		if errors.Is(err, errFeedWait) {
			if d == 0 {
				return Event{}, false, nil
			}
			if until.IsZero() {
				until = bound(d)
			}
			wait, check := s.wait(until)
			ev, ok, err = s.feed.next(ctx, s.timerC(wait), false)
			if errors.Is(err, errFeedWait) {
				if !check {
					return Event{}, false, nil
				}
				if err := s.silence(ctx); err != nil {
					return Event{}, false, err
				}
				continue
			}
		}
		switch {
		case err == nil && ok && ev.EventIndex == s.last+1:
			s.heard()
			return ev, true, nil
		case ctx.Err() != nil:
			return Event{}, false, ctx.Err()
		}
		// The execution ended without its final event (it went on
		// elsewhere, or the log failed), or an append that reported an
		// error had landed: the log has the rest.
		s.feed.close()
		s.feed = nil
		sub, err := s.log.Subscribe(ctx, ReadParams{RunID: s.runID, After: s.last})
		if errors.Is(err, io.EOF) {
			// As below: a log's connection ending is a failure, never
			// the end of the stream (the error must not wrap io.EOF).
			return Event{}, false, Errorf(CodeUnavailable, "%s; resume the run after index %d once it is back", MessageOf(err), s.last)
		}
		if err != nil {
			return Event{}, false, err
		}
		s.sub = sub
	}
	if s.sub == nil {
		if len(s.replay) == 0 {
			return Event{}, false, io.EOF
		}
		ev := s.replay[0]
		s.replay = s.replay[1:]
		return ev, true, nil
	}
	for {
		if d == 0 {
			return Event{}, false, nil // a subscription is not polled
		}
		if until.IsZero() {
			until = bound(d)
		}
		wait, check := s.wait(until)
		wctx, cancel := context.WithTimeout(ctx, wait)
		ev, err := s.sub.Next(wctx)
		timedOut := wctx.Err() != nil && ctx.Err() == nil
		cancel()
		switch {
		case err == nil:
			s.heard()
			return ev, true, nil
		case ctx.Err() != nil:
			return Event{}, false, ctx.Err()
		case timedOut && errors.Is(err, context.DeadlineExceeded):
			if !check {
				return Event{}, false, nil
			}
			if err := s.silence(ctx); err != nil {
				return Event{}, false, err
			}
		case errors.Is(err, io.EOF):
			// A log's connection ending is a failure, never the end of
			// the stream (which only a final event marks).
			return Event{}, false, Errorf(CodeUnavailable, "the event log connection ended: %v", err)
		default:
			return Event{}, false, err
		}
	}
}

// wait is how long the stream may wait now: until the silence calls for
// a check of the store (check true), or until the caller's bound if that
// comes first (until zero: no bound).
func (s *Stream) wait(until time.Time) (wait time.Duration, check bool) {
	now := time.Now()
	if s.checkAt.IsZero() {
		every := s.checkEvery
		if every <= 0 {
			every = streamCheckInterval
		}
		s.checkAt = now.Add(every)
	}
	if !until.IsZero() && until.Before(s.checkAt) {
		return max(until.Sub(now), 0), false
	}
	return max(s.checkAt.Sub(now), 0), true
}

// bound is the end of a wait of at most d from now (zero: none).
func bound(d time.Duration) time.Time {
	if d < 0 {
		return time.Time{}
	}
	return time.Now().Add(d)
}

// heard notes an event: the silence, if any, is over.
func (s *Stream) heard() {
	s.idle = 0
	s.checkAt = time.Time{}
}

// timerC returns the stream's timer's channel, set to fire after d.
func (s *Stream) timerC(d time.Duration) <-chan time.Time {
	if s.timer == nil {
		s.timer = time.NewTimer(d)
	} else {
		s.timer.Reset(d)
	}
	return s.timer.C
}

// silence is a check of the store after streamCheckInterval without an
// event: the second in a row that finds the run ended there with events
// this stream has not had fails the stream.
func (s *Stream) silence(ctx context.Context) error {
	s.checkAt = time.Time{} // the next silence is timed afresh
	if s.e == nil {
		return nil
	}
	// (Even at or past the stored count: a log that lost the run may
	// never deliver its end.)
	run, err := s.e.store.GetRun(ctx, s.runID)
	if err == nil && run.Status == RunPaused && !awaitsAutoContinue(run) && s.last >= run.EventCount-1 {
		return errPauseEnded
	}
	if err != nil || !run.Status.Final() {
		s.idle = 0
		return nil
	}
	if s.idle++; s.idle >= 2 {
		return Errorf(CodeUnavailable,
			"run %s ended %s but its events after index %d did not reach the event log; read the run", s.runID, run.Status, s.last)
	}
	return nil
}

// Done reports whether the stream is known to have nothing more: the
// segment already ended at the cursor.
func (s *Stream) Done() bool { return s.done }

// Close releases the stream.
func (s *Stream) Close() error {
	if s.timer != nil {
		s.timer.Stop()
	}
	if s.feed != nil {
		s.feed.close()
	}
	if s.unfollow != nil {
		s.unfollow()
	}
	if s.sub == nil {
		return nil
	}
	return s.sub.Close()
}

// Subscribe follows a run's stream after the cursor (-1: from the start).
// Resume is exact or refused: if the log no longer holds the events after
// the cursor it fails with a *GoneError naming the first index available.
// A cursor beyond the stream's end is invalid.
func (e *Engine) Subscribe(ctx context.Context, runID string, after int64) (*Stream, error) {
	if after < -1 {
		return nil, Errorf(CodeInvalid, "last_event_index must be -1 or greater")
	}
	if err := CheckID("run_id", runID); err != nil {
		return nil, err
	}
	// A run this process is executing needs no store read; one whose
	// events are held back is shown first (even if its end is stored: its
	// events are not in the log yet).
	if ar := e.activeRun(runID); ar != nil && (!ar.ended.Load() || ar.create != nil && ar.create.isHolding()) {
		if d := e.deferred(runID); d != nil && d.isHolding() {
			if err := d.flush(ctx, e); err != nil {
				return nil, fmt.Errorf("store run: %w", err)
			}
		}
		return e.SubscribeRun(ctx, &Run{RunID: runID, Status: RunRunning}, after)
	}
	run, err := e.Get(ctx, runID)
	if err != nil {
		return nil, err
	}
	return e.SubscribeRun(ctx, run, after)
}

// SubscribeRun is Subscribe for a caller that has just read the run (so
// the store is not read again): run must be as stored, or, for a run this
// process executes, any snapshot of it.
func (e *Engine) SubscribeRun(ctx context.Context, run *Run, after int64) (st *Stream, err error) {
	if after >= 0 && len(e.runObservers) > 0 {
		defer func() { e.noteResume(err) }() // a resume, however it is served
	}
	if after < -1 {
		return nil, Errorf(CodeInvalid, "last_event_index must be -1 or greater")
	}
	runID := run.RunID
	// A run this process is executing is followed from its writer
	// (local.go).
	if st, err := e.subscribeLocal(ctx, runID, after); st != nil || err != nil {
		return st, err
	}
	// A run this process is executing has not ended its segment (and if it
	// ends meanwhile, the tail sees the end).
	segmentEnded := e.segmentEnded(run)
	if segmentEnded && after >= run.EventCount-1 {
		if after > run.EventCount-1 {
			return nil, Errorf(CodeInvalid, "last_event_index %d is beyond the last event (%d)", after, run.EventCount-1)
		}
		return &Stream{done: true}, nil
	}
	if segmentEnded {
		// A segment that has ended is replayed from one read, which also
		// checks the cursor; only if the log holds less than the segment
		// does the stream subscribe instead.
		if st, err := e.replaySegment(ctx, run, after); st != nil || err != nil {
			return st, err
		}
	}
	if after >= 0 {
		// The event at the cursor must exist (or have been trimmed).
		evs, err := e.log.Read(ctx, ReadParams{RunID: runID, After: after - 1, Limit: 1})
		switch {
		case errors.Is(err, ErrNotFound):
			if segmentEnded {
				return nil, &GoneError{RunID: runID, FirstIndex: run.EventCount}
			}
			// A live run whose events the log lost (an emptied Redis): the
			// tail delivers the next index if it follows the cursor and
			// refuses (GoneError) if it does not.
		case errors.Is(err, ErrGone):
			// The cursor's own event may be trimmed as long as the next
			// one is still held.
			var ge *GoneError
			if !errors.As(err, &ge) || ge.FirstIndex != after+1 {
				return nil, err
			}
		case err != nil:
			return nil, err
		case len(evs) == 0:
			return nil, Errorf(CodeInvalid, "last_event_index %d is beyond the stream", after)
		}
	} else if segmentEnded {
		if _, err := e.log.Read(ctx, ReadParams{RunID: runID, After: -1, Limit: 1}); errors.Is(err, ErrNotFound) {
			return nil, &GoneError{RunID: runID, FirstIndex: run.EventCount}
		} else if err != nil {
			return nil, err
		}
	}
	sub, err := e.log.Subscribe(ctx, ReadParams{RunID: runID, After: after})
	if err != nil {
		return nil, err
	}
	return &Stream{sub: sub, log: e.log, e: e, runID: runID, last: after, unfollow: e.follow(ctx, runID)}, nil
}

// replaySegment reads the rest of run's ended segment after the cursor in
// one read, including the cursor's own event (which must exist). It returns
// a stream over them, an error that refuses the cursor, or neither when
// the read does not hold the whole segment (the caller then subscribes).
func (e *Engine) replaySegment(ctx context.Context, run *Run, after int64) (*Stream, error) {
	// An ended run's whole stream may be at hand (finalcache.go); if not,
	// it is read whole to be kept, when it may be.
	whole := e.final != nil && run.Status.Final() && run.EventCount <= maxCachedEvents
	if whole {
		if evs := e.final.eventsOf(run.RunID, run.EventCount, e.cfg.Now()); evs != nil {
			return &Stream{replay: evs[after+1:], log: e.log, e: e, runID: run.RunID, last: after}, nil
		}
	}
	from := max(after-1, -1)
	if whole {
		from = -1
	}
	evs, err := e.log.Read(ctx, ReadParams{RunID: run.RunID, After: from})
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, &GoneError{RunID: run.RunID, FirstIndex: run.EventCount}
	case errors.Is(err, ErrGone):
		return nil, nil // the subscribing path tells a trimmed cursor from a gone one
	case err != nil:
		return nil, err
	}
	if whole && int64(len(evs)) == run.EventCount && evs[0].EventIndex == 0 && evs[len(evs)-1].EventIndex == run.EventCount-1 {
		e.final.put(run, evs, e.cfg.Now())
		return &Stream{replay: evs[after+1:], log: e.log, e: e, runID: run.RunID, last: after}, nil
	}
	for len(evs) > 0 && evs[0].EventIndex < after {
		evs = evs[1:] // read from the start: skip to the cursor's own event
	}
	if after >= 0 {
		if len(evs) == 0 || evs[0].EventIndex != after {
			return nil, nil
		}
		evs = evs[1:]
	}
	if len(evs) == 0 || evs[len(evs)-1].EventIndex != run.EventCount-1 || evs[0].EventIndex != after+1 {
		return nil, nil
	}
	return &Stream{replay: evs, log: e.log, e: e, runID: run.RunID, last: after}, nil
}

// segmentEnded reports whether the stored run's current segment is over:
// it is not executing here and has ended or paused for a human.
func (e *Engine) segmentEnded(run *Run) bool {
	return e.executing(run.RunID) == nil && (run.Status.Final() || run.Status == RunPaused && !awaitsAutoContinue(run))
}

// Wait follows the run after the cursor (-1: from the start) until the
// segment ends and returns the run as stored then. Events trimmed under a
// slow waiter are skipped: Wait only needs the end.
func (e *Engine) Wait(ctx context.Context, runID string, after int64) (*Run, error) {
	if ar := e.activeRun(runID); ar != nil {
		// Executing here: its segment ends when the executor is done.
		select {
		case <-ar.done:
			return e.ended(ctx, ar, runID)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if after < -1 {
		return nil, Errorf(CodeInvalid, "last_event_index must be -1 or greater")
	}
	if err := CheckID("run_id", runID); err != nil {
		return nil, err
	}
	// A segment that has ended as stored is answered from the store: a
	// waiter needs only the end, so it is not held by (or failed with) an
	// event log that is down, e.g. while a run's ending event waits to be
	// appended.
	run, err := e.Get(ctx, runID)
	if err != nil {
		return nil, err
	}
	if e.segmentEnded(run) {
		if after > run.EventCount-1 {
			return nil, Errorf(CodeInvalid, "last_event_index %d is beyond the last event (%d)", after, run.EventCount-1)
		}
		return run, nil
	}
	for {
		err := e.waitFrom(ctx, runID, run, after)
		run = nil
		var ge *GoneError
		if errors.As(err, &ge) {
			if ge.FirstIndex-1 <= after {
				return nil, err
			}
			after = ge.FirstIndex - 1
			continue
		}
		if err != nil {
			return nil, err
		}
		return e.Get(ctx, runID)
	}
}

// waitFrom follows the run from after to its segment's end; run is the
// run as just read, or nil to read it again.
func (e *Engine) waitFrom(ctx context.Context, runID string, run *Run, after int64) error {
	var s *Stream
	var err error
	if run != nil {
		s, err = e.SubscribeRun(ctx, run, after)
	} else {
		s, err = e.Subscribe(ctx, runID, after)
	}
	if err != nil {
		return err
	}
	defer s.Close()
	for {
		ev, err := s.Next(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		after = ev.EventIndex
	}
}
