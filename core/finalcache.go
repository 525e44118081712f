package core

import (
	"sync"
	"time"
)

// finalCache keeps runs that have ended (COMPLETED, ERROR, CANCELLED) for a
// short time after a store read, so a burst of reads of the same finished
// run — clients reconnecting to replay its stream, pollers — costs one
// store read per run and FinalCacheTTL instead of one per request.
//
// With the run it may keep the run's events, read whole from the log when
// its stream was first replayed: the events of an ended run do not change
// either, so later replays need no log read. The events kept are bounded
// in all (maxCachedEvents).
//
// A final run no longer changes, except that it may be deleted (with its
// session) or get a late cancel intent. This engine forgets a run it
// changes that way at once; a change made through another replica shows
// here within the TTL.
type finalCache struct {
	ttl time.Duration
	max int

	mu     sync.Mutex
	runs   map[string]cachedRun
	events int // events kept, in all runs
}

type cachedRun struct {
	run    *Run
	at     time.Time
	events []Event // the whole stream, or nil
}

// maxCachedEvents bounds the events a finalCache keeps in all.
const maxCachedEvents = 1 << 16

func newFinalCache(ttl time.Duration, max int) *finalCache {
	return &finalCache{ttl: ttl, max: max, runs: make(map[string]cachedRun)}
}

// get returns a copy of the cached run, or nil.
func (c *finalCache) get(id string, now time.Time) *Run {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	cr, ok := c.runs[id]
	if ok && now.Sub(cr.at) >= c.ttl {
		c.events -= len(cr.events)
		delete(c.runs, id)
		ok = false
	}
	c.mu.Unlock()
	if !ok {
		return nil
	}
	r := *cr.run
	return &r
}

// put keeps r if it has ended, with its whole stream evs when known (nil
// otherwise).
func (c *finalCache) put(r *Run, evs []Event, now time.Time) {
	if c == nil || !r.Status.Final() || len(evs) > maxCachedEvents {
		return
	}
	cp := *r
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.runs[r.RunID]; ok {
		c.events -= len(old.events)
		delete(c.runs, r.RunID)
	}
	if len(c.runs) >= c.max || c.events+len(evs) > maxCachedEvents {
		// Full: drop what has expired, or else everything (the cache
		// only saves reads; it is refilled by the next ones).
		for id, cr := range c.runs {
			if now.Sub(cr.at) >= c.ttl {
				c.events -= len(cr.events)
				delete(c.runs, id)
			}
		}
		if len(c.runs) >= c.max || c.events+len(evs) > maxCachedEvents {
			clear(c.runs)
			c.events = 0
		}
	}
	c.runs[r.RunID] = cachedRun{run: &cp, at: now, events: evs}
	c.events += len(evs)
}

// eventsOf returns the kept stream of the ended run id whose event count is
// n, or nil. The slice is shared: callers must not change it.
func (c *finalCache) eventsOf(id string, n int64, now time.Time) []Event {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	cr, ok := c.runs[id]
	if !ok || now.Sub(cr.at) >= c.ttl || cr.run.EventCount != n || int64(len(cr.events)) != n {
		return nil
	}
	return cr.events
}

// forget drops one run.
func (c *finalCache) forget(id string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.events -= len(c.runs[id].events)
	delete(c.runs, id)
	c.mu.Unlock()
}

// forgetAll drops every run (sessions were deleted).
func (c *finalCache) forgetAll() {
	if c == nil {
		return
	}
	c.mu.Lock()
	clear(c.runs)
	c.events = 0
	c.mu.Unlock()
}
