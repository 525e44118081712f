package redislog

import (
	"context"
	"errors"
	"strconv"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/agentgate/agentgate/core"
)

// A run's tail: one blocking XREAD at a time per run and Log, shared by
// every subscription of the run waiting in this process, however many. The
// tail keeps the last events it read (up to tailKeep, indices contiguous)
// and wakes its waiters; each takes what follows its own cursor. A
// subscription whose cursor is older than what the tail keeps (a reader
// that fell behind, or one whose backlog was read before the tail started)
// reads the log with XRANGE, as at Subscribe, so trimming that overtook it
// still shows as a *core.GoneError. The tail runs while subscriptions wait
// on it: once none does when its read returns, it stops (a read in flight
// is not cut short; it ends within BlockTimeout, as an abandoned wait did).
// A failed read ends the tail with the error, which its waiters return; the
// next wait starts a new tail.

// tailKeep is how many of its latest events a tail keeps for its waiters.
const tailKeep = 2 * readBatch

type tail struct {
	l     *Log
	key   string
	runID string

	// refs (guarded by l.tailsMu) counts the subscriptions waiting on or
	// reading the tail; stopped (also) is set when the tail left l.tails.
	refs    int
	stopped bool

	mu    sync.Mutex
	first int64        // index of evs[0]
	evs   []core.Event // the latest events read, evs[i] has index first+i
	next  int64        // the index the next read starts at
	seen  bool         // the run's stream was seen to exist
	gone  bool         // the run's stream expired after it was seen
	err   error        // the read failed: the tail ended
	wake  chan struct{}
}

// tailOf returns the run's tail, started from next if it has none, with a
// reference the caller releases with releaseTail.
func (l *Log) tailOf(key, runID string, next int64, seen bool) *tail {
	l.tailsMu.Lock()
	defer l.tailsMu.Unlock()
	t := l.tails[key]
	if t == nil {
		t = &tail{l: l, key: key, runID: runID, first: next, next: next, wake: make(chan struct{})}
		l.tails[key] = t
		go t.run()
	}
	t.refs++
	if seen {
		t.mu.Lock()
		t.seen = true
		t.mu.Unlock()
	}
	return t
}

func (l *Log) releaseTail(t *tail) {
	l.tailsMu.Lock()
	t.refs--
	l.tailsMu.Unlock()
}

// stopTail removes t from l.tails when nobody waits on it; it reports
// whether it did. With end, t is removed in any case.
func (l *Log) stopTail(t *tail, end bool) bool {
	l.tailsMu.Lock()
	defer l.tailsMu.Unlock()
	if t.refs > 0 && !end {
		return false
	}
	t.stopped = true
	if l.tails[t.key] == t {
		delete(l.tails, t.key)
	}
	return true
}

// after returns a copy of the events the tail holds from index n on (at
// most readBatch), or behind when n is older than what it keeps, or the
// channel closed on its next progress, or the error that ended it.
func (t *tail) after(n int64) (evs []core.Event, behind bool, wake <-chan struct{}, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	end := t.first + int64(len(t.evs))
	switch {
	case n < t.first:
		return nil, true, t.wake, nil
	case n < end:
		held := t.evs[n-t.first:]
		return append([]core.Event(nil), held[:min(len(held), readBatch)]...), false, nil, nil
	case t.gone:
		return nil, false, nil, &core.GoneError{RunID: t.runID, FirstIndex: n}
	case t.err != nil:
		return nil, false, nil, t.err
	}
	return nil, false, t.wake, nil
}

// waitErr waits for the tail's progress (wake), and returns nil then, or
// the error that ends the wait.
func (t *tail) waitErr(ctx context.Context, subDone, logDone <-chan struct{}, wake <-chan struct{}) error {
	if wake == nil {
		return nil
	}
	select {
	case <-wake:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-subDone:
		return ErrSubscriptionClosed
	case <-logDone:
		return ErrClosed
	}
}

// signal wakes the waiters. t.mu is held.
func (t *tail) signal() {
	close(t.wake)
	t.wake = make(chan struct{})
}

// run reads the run's stream while subscriptions wait on the tail.
func (t *tail) run() {
	ctx := context.Background()
	for {
		if t.l.stopTail(t, false) {
			return
		}
		t.mu.Lock()
		from := t.next
		t.mu.Unlock()
		t.l.xreads.Add(1)
		streams, err := t.l.blk.XRead(ctx, &redis.XReadArgs{
			Streams: []string{t.key, strconv.FormatInt(from, 10) + "-0"},
			Count:   readBatch,
			Block:   t.l.cfg.BlockTimeout,
		}).Result()
		if !t.take(ctx, streams, err) {
			t.l.stopTail(t, true)
			return
		}
	}
}

// take handles the result of a read; it reports whether the tail goes on.
func (t *tail) take(ctx context.Context, streams []redis.XStream, err error) bool {
	if t.l.closed.Load() {
		return false // the subscriptions return ErrClosed
	}
	if errors.Is(err, redis.Nil) {
		// The block timed out. A run seen before whose key is gone has
		// expired: its subscribers must not wait for ever.
		t.mu.Lock()
		seen := t.seen
		t.mu.Unlock()
		if !seen {
			return true
		}
		n, err := t.l.rdb.Exists(ctx, t.key).Result()
		if err == nil && n > 0 {
			return true
		}
		t.mu.Lock()
		defer t.mu.Unlock()
		if err != nil {
			t.err = t.l.fail(ctx, "subscribe", err)
		} else {
			t.gone = true
		}
		t.signal()
		return false
	}
	var evs []core.Event
	if err == nil {
		var msgs []redis.XMessage
		for _, st := range streams {
			if st.Stream == t.key {
				msgs = st.Messages
			}
		}
		evs, err = decode(t.runID, msgs)
	} else {
		err = t.l.fail(ctx, "subscribe", err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err != nil {
		t.err = err
		t.signal()
		return false
	}
	if len(evs) == 0 {
		return true
	}
	t.seen = true
	if end := t.first + int64(len(t.evs)); evs[0].EventIndex != end {
		// Trimming overtook the tail (or it started past the stream's
		// end): it keeps from here; older cursors read the log.
		t.evs = t.evs[:0]
		t.first = evs[0].EventIndex
	}
	if drop := len(t.evs) + len(evs) - tailKeep; drop > 0 {
		t.evs = append(t.evs[:0:0], t.evs[drop:]...)
		t.first += int64(drop)
	}
	t.evs = append(t.evs, evs...)
	t.next = evs[len(evs)-1].EventIndex + 1
	t.signal()
	return true
}
