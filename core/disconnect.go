package core

import (
	"context"
	"sync"
	"time"
)

// DisconnectMode says what a foreground run's client going away does to
// the run (REST's on_disconnect, LangGraph's knob of the same name).
type DisconnectMode string

const (
	// DisconnectGrace (the default) keeps the run going for the engine's
	// DisconnectGrace and cancels it then unless someone follows it (a
	// resume on any replica).
	DisconnectGrace DisconnectMode = ""
	// DisconnectCancel cancels the run at once.
	DisconnectCancel DisconnectMode = "cancel"
	// DisconnectContinue never cancels it for a disconnect.
	DisconnectContinue DisconnectMode = "continue"
)

// ParseDisconnectMode reads on_disconnect: "cancel", "continue", or empty
// (or "grace") for the default.
func ParseDisconnectMode(s string) (DisconnectMode, error) {
	switch s {
	case "", "grace":
		return DisconnectGrace, nil
	case "cancel", "continue":
		return DisconnectMode(s), nil
	}
	return "", Errorf(CodeInvalid, "on_disconnect must be cancel or continue (or empty: cancelled after the disconnect grace unless followed), not %q", s)
}

// FollowerRegistry is an optional extension of EventLog, for a log that
// replicas share: it records who follows a run, so that the replica
// executing a run whose client went away learns of a follower on another
// replica (see Engine.Disconnected). The in-memory log needs none: its
// followers are all in this process.
type FollowerRegistry interface {
	// Follow records a follower of runID until stop is called, and for
	// linger after that (and after its last renewal, should its process
	// die: it renews the record while it follows).
	Follow(ctx context.Context, runID string, linger time.Duration) (stop func(), err error)
	// FollowedUntil is when the latest record of a follower of runID
	// lapses (the zero time when there is none).
	FollowedUntil(ctx context.Context, runID string) (time.Time, error)
}

// followers counts this process's followers of each run (the streams
// opened by Subscribe on a live run).
type followers struct {
	mu   sync.Mutex
	runs map[string]*following
}

type following struct {
	n    int
	left time.Time // when the latest follower left
}

// add records a follower of runID; the function returned records its
// leaving.
func (f *followers) add(runID string) func() {
	f.mu.Lock()
	if f.runs == nil {
		f.runs = map[string]*following{}
	}
	r := f.runs[runID]
	if r == nil {
		r = &following{}
		f.runs[runID] = r
	}
	r.n++
	f.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			f.mu.Lock()
			r.n--
			r.left = time.Now()
			f.mu.Unlock()
		})
	}
}

// until is when runID stops counting as followed here: far ahead while a
// follower is on, linger after the latest left (zero: never followed).
func (f *followers) until(runID string, linger time.Duration) time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.runs[runID]
	switch {
	case r == nil:
		return time.Time{}
	case r.n > 0:
		return time.Now().Add(linger)
	}
	return r.left.Add(linger)
}

// forget drops what is known of runID's followers here.
func (f *followers) forget(runID string) {
	f.mu.Lock()
	if r := f.runs[runID]; r != nil && r.n == 0 {
		delete(f.runs, runID)
	}
	f.mu.Unlock()
}

// follow records a follower of runID, here and in the log when it is a
// FollowerRegistry; the function returned records its leaving.
func (e *Engine) follow(ctx context.Context, runID string) func() {
	add := e.followers.add(runID)
	local := func() {
		add()
		if e.activeRun(runID) == nil {
			e.followers.forget(runID) // only the runs executing here need it
		}
	}
	fr, ok := e.log.(FollowerRegistry)
	if !ok || e.cfg.DisconnectGrace <= 0 {
		return local
	}
	stop, err := fr.Follow(ctx, runID, e.cfg.DisconnectGrace)
	if err != nil {
		e.logger.Warn("record a run's follower in the event log", "run_id", runID, "err", err)
		return local
	}
	return func() { local(); stop() }
}

// Disconnected is told that the client of a foreground run's stream went
// away, and applies mode: cancel the run now, leave it, or (the default)
// cancel it once DisconnectGrace has passed with nobody following it, here
// or on another replica. A run that ended meanwhile is left as it is.
func (e *Engine) Disconnected(runID string, mode DisconnectMode) {
	switch {
	case mode == DisconnectContinue:
		return
	case mode == DisconnectCancel || e.cfg.DisconnectGrace <= 0:
		e.cancelOrphan(runID)
		return
	}
	var t *time.Timer
	check := func() {
		if e.activeRun(runID) == nil {
			e.followers.forget(runID)
			return // ended (or executed elsewhere now)
		}
		until := e.followedUntil(runID)
		if wait := time.Until(until); wait > 0 {
			t.Reset(wait + 10*time.Millisecond)
			return
		}
		e.followers.forget(runID)
		e.cancelOrphan(runID)
	}
	// Armed once assigned, so the callback never races the assignment.
	t = time.AfterFunc(time.Hour, check)
	t.Reset(e.cfg.DisconnectGrace)
}

// followedUntil is when runID stops counting as followed: the later of
// this process's followers and the log's records. A log that cannot answer
// counts as a follower for another grace (a cancel could not be signalled
// through it anyway).
func (e *Engine) followedUntil(runID string) time.Time {
	until := e.followers.until(runID, e.cfg.DisconnectGrace)
	if fr, ok := e.log.(FollowerRegistry); ok {
		ctx, cancel := context.WithTimeout(e.baseCtx, 5*time.Second)
		defer cancel()
		u, err := fr.FollowedUntil(ctx, runID)
		if err != nil {
			e.logger.Warn("read a run's followers from the event log", "run_id", runID, "err", err)
			u = time.Now().Add(e.cfg.DisconnectGrace)
		}
		if u.After(until) {
			until = u
		}
	}
	return until
}

func (e *Engine) cancelOrphan(runID string) {
	ctx, cancel := context.WithTimeout(e.baseCtx, 10*time.Second)
	defer cancel()
	if _, err := e.Cancel(ctx, runID); err != nil && ctx.Err() == nil {
		e.logger.Warn("cancel a run whose client went away", "run_id", runID, "err", err)
	}
}
