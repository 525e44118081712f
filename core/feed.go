package core

import (
	"context"
	"sync"
)

// feed hands the events of a run this process executes to the stream of the
// request that started it, straight from the run's writer, as each is
// appended to the log. That stream is thus never refused by trimming
// (event_log.max_events_per_run): it does not read the log, whose oldest
// events a fast run may trim before a slow client has read them. The feed
// keeps what its reader has not read yet; once the reader goes away
// (close) it keeps nothing.
type feed struct {
	mu     sync.Mutex
	evs    []Event
	wake   chan struct{} // closed (and replaced) when an event comes or the feed ends
	ended  bool          // the execution is over: nothing more will come
	closed bool          // the reader went away
}

func newFeed() *feed { return &feed{wake: make(chan struct{})} }

// push hands ev (its index set by the log) to the reader.
func (f *feed) push(ev Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed || f.ended {
		return
	}
	f.evs = append(f.evs, ev)
	close(f.wake)
	f.wake = make(chan struct{})
}

// end says that the execution is over.
func (f *feed) end() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.ended {
		f.ended = true
		close(f.wake)
	}
}

// close releases what the reader did not read; later events are dropped.
func (f *feed) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed, f.evs = true, nil
}

// next returns the next event; ok is false once the execution ended and
// every event was read.
func (f *feed) next(ctx context.Context) (ev Event, ok bool, err error) {
	for {
		f.mu.Lock()
		if len(f.evs) > 0 {
			ev = f.evs[0]
			f.evs[0] = Event{}
			f.evs = f.evs[1:]
			f.mu.Unlock()
			return ev, true, nil
		}
		if f.ended {
			f.mu.Unlock()
			return Event{}, false, nil
		}
		wake := f.wake
		f.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return Event{}, false, ctx.Err()
		}
	}
}
