package core

import (
	"context"
	"errors"
	"sync"
	"time"
)

// feed hands the events of a run this process executes to the stream of the
// request that started it, straight from the run's writer, as each is
// appended to the log. That stream is thus never refused by trimming
// (event_log.max_events_per_run): it does not read the log, whose oldest
// events a fast run may trim before a slow client has read them. The feed
// keeps what its reader has not read yet; once the reader goes away
// (close) it keeps nothing.
//
// The feed allocates nothing per event: it queues the events the log
// keeps (not copies), its array is reused once drained, and one buffered
// channel signals the reader.
type feed struct {
	mu     sync.Mutex
	evs    []*Event      // evs[head:] are unread; read-only, shared with the log
	head   int           // the next event to read
	wake   chan struct{} // holds a signal (buffer of 1) once an event came or the feed ended
	ended  bool          // the execution is over: nothing more will come
	closed bool          // the reader went away
	// limit, when positive, bounds the unread events: a push past it
	// drops them all and ends the feed (overflowed), and the reader
	// catches up from the log by index (Stream.next).
	limit      int
	overflowed bool
}

// feedSize is the queue's first capacity: a run's first events, which
// its executor emits before the reader gets them, without growing.
const feedSize = 16

func newFeed() *feed {
	return &feed{evs: make([]*Event, 0, feedSize), wake: make(chan struct{}, 1)}
}

// newBoundedFeed returns a feed that holds at most limit unread events.
func newBoundedFeed(limit int) *feed {
	f := newFeed()
	f.limit = limit
	return f
}

// signal wakes the reader if it waits; a signal already pending suffices
// (the reader checks the queue before waiting again).
func (f *feed) signal() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// push hands the reader the event the writer appended at idx. ev is the
// writer's copy, which nobody changes once the log has indexed it: it is
// shared, as the log's subscribers share it. A held event (held: the log
// is still to index it, deferred.go), or one the log did not index, is
// copied.
// It reports false once the reader went away or the feed ended (nothing
// more is taken), or when the event would put the reader of a bounded
// feed past its limit: the unread events are dropped then, and the
// reader, told the feed overflowed, reads the log from its cursor.
func (f *feed) push(ev *Event, idx int64, held bool) bool {
	if held || ev.EventIndex != idx {
		c := *ev
		c.EventIndex = idx
		ev = &c
	}
	f.mu.Lock()
	if f.closed || f.ended || f.overflowed {
		f.mu.Unlock()
		return false
	}
	if f.limit > 0 && len(f.evs)-f.head >= f.limit {
		f.overflowed, f.evs, f.head = true, nil, 0
		f.mu.Unlock()
		f.signal()
		return false
	}
	if f.head > 0 && len(f.evs) == cap(f.evs) {
		// Full, with read slots at the front: move the unread ones there
		// rather than grow (a reader always behind keeps the array at
		// about what it has not read).
		n := copy(f.evs, f.evs[f.head:])
		clear(f.evs[n:])
		f.evs, f.head = f.evs[:n], 0
	}
	f.evs = append(f.evs, ev)
	f.mu.Unlock()
	f.signal()
	return true
}

// end says that the execution is over.
func (f *feed) end() {
	f.mu.Lock()
	ended := f.ended
	f.ended = true
	f.mu.Unlock()
	if !ended {
		f.signal()
	}
}

// close releases what the reader did not read; later events are dropped.
func (f *feed) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed, f.evs, f.head = true, nil, 0
}

// errFeedWait is feed.next's answer when its timeout fired first.
var errFeedWait = errors.New("no event within the wait")

// next returns the next event; ok is false once the execution ended and
// every event was read, or once a bounded feed overflowed (its unread
// events were dropped: the log has them). It waits until ctx ends or
// timeout fires (errFeedWait); a nil timeout waits for ctx only, and poll
// waits not at all (errFeedWait when nothing is ready).
func (f *feed) next(ctx context.Context, timeout <-chan time.Time, poll bool) (ev Event, ok bool, err error) {
	for {
		f.mu.Lock()
		if f.head < len(f.evs) {
			ev = *f.evs[f.head]
			f.evs[f.head] = nil // the array is kept: drop the event
			if f.head++; f.head == len(f.evs) {
				f.evs, f.head = f.evs[:0], 0
			}
			f.mu.Unlock()
			return ev, true, nil
		}
		if f.ended || f.overflowed {
			f.mu.Unlock()
			return Event{}, false, nil
		}
		f.mu.Unlock()
		if poll {
			return Event{}, false, errFeedWait
		}
		select {
		case <-f.wake:
		case <-ctx.Done():
			return Event{}, false, ctx.Err()
		case <-timeout:
			return Event{}, false, errFeedWait
		}
	}
}
