package redislog

import (
	"context"
	"sync"

	"github.com/agentgate/agentgate/core"
)

// Subscribe implements core.EventLog. It reads the backlog after p.After
// at once (so a cursor older than what is kept fails here); Next then tails
// the stream. p.Limit is ignored.
func (l *Log) Subscribe(ctx context.Context, p core.ReadParams) (core.Subscription, error) {
	if err := checkParams(p); err != nil {
		return nil, err
	}
	if err := l.check(ctx); err != nil {
		return nil, err
	}
	evs, exists, err := l.rangeFrom(ctx, p.RunID, p.After+1, readBatch)
	if err != nil {
		return nil, err
	}
	if len(evs) > 0 && evs[0].EventIndex > p.After+1 {
		return nil, &core.GoneError{RunID: p.RunID, FirstIndex: evs[0].EventIndex}
	}
	return &subscription{
		l:     l,
		runID: p.RunID,
		key:   l.streamKey(p.RunID),
		next:  p.After + 1,
		buf:   evs,
		seen:  exists,
		done:  make(chan struct{}),
	}, nil
}

// subscription is a cursor over one run's stream. Every field but done
// and closeOnce belongs to the goroutine calling Next.
type subscription struct {
	l     *Log
	runID string
	key   string

	next int64        // index of the next event to return
	buf  []core.Event // read, not returned yet; buf[0] has index next
	seen bool         // the run's stream existed when Subscribe looked

	done      chan struct{} // closed by Close
	closeOnce sync.Once
}

// Next implements core.Subscription. It returns ctx's error if ctx ends
// first, and the subscription stays usable: the run's tail (tail.go) goes
// on meanwhile, so no event is lost or returned twice.
func (s *subscription) Next(ctx context.Context) (core.Event, error) {
	for {
		select {
		case <-s.done:
			return core.Event{}, ErrSubscriptionClosed
		case <-s.l.done:
			return core.Event{}, ErrClosed
		default:
		}
		if err := ctx.Err(); err != nil {
			return core.Event{}, err
		}
		if len(s.buf) > 0 {
			ev := s.buf[0]
			s.buf = s.buf[1:]
			s.next = ev.EventIndex + 1
			return ev, nil
		}
		if err := s.fill(ctx); err != nil {
			return core.Event{}, err
		}
	}
}

// fill fills buf from the run's tail, waiting for it when it has nothing
// after the cursor, or returns the error Next should return.
func (s *subscription) fill(ctx context.Context) error {
	t := s.l.tailOf(s.key, s.runID, s.next, s.seen)
	defer s.l.releaseTail(t)
	for {
		evs, behind, wake, err := t.after(s.next)
		switch {
		case err != nil:
			return err
		case behind:
			// Older than what the tail keeps (a slow reader): read the log.
			evs, _, err := s.l.rangeFrom(ctx, s.runID, s.next, readBatch)
			if err != nil {
				return err
			}
			if len(evs) > 0 && evs[0].EventIndex > s.next {
				// Trimming (or expiry) overtook this reader.
				return &core.GoneError{RunID: s.runID, FirstIndex: evs[0].EventIndex}
			}
			if len(evs) > 0 {
				s.buf = evs
				return nil
			}
			// Expired meanwhile: the tail tells.
		case len(evs) > 0:
			s.buf = evs
			return nil
		}
		if err := t.waitErr(ctx, s.done, s.l.done, wake); err != nil {
			return err
		}
	}
}

// Close implements core.Subscription. It may be called more than once and
// from another goroutine than Next's, which it wakes.
func (s *subscription) Close() error {
	s.closeOnce.Do(func() { close(s.done) })
	return nil
}

var _ core.Subscription = (*subscription)(nil)
