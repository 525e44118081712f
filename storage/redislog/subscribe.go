package redislog

import (
	"context"
	"errors"
	"strconv"
	"sync"

	"github.com/redis/go-redis/v9"

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
	rctx, rcancel := context.WithCancel(context.Background())
	return &subscription{
		l:       l,
		runID:   p.RunID,
		key:     l.streamKey(p.RunID),
		next:    p.After + 1,
		buf:     evs,
		seen:    exists,
		rctx:    rctx,
		rcancel: rcancel,
		done:    make(chan struct{}),
	}, nil
}

// subscription is a cursor over one run's stream. Every field but done,
// rcancel and closeOnce belongs to the goroutine calling Next.
type subscription struct {
	l     *Log
	runID string
	key   string

	next    int64           // index of the next event to return
	buf     []core.Event    // read, not returned yet; buf[0] has index next
	seen    bool            // the run's stream existed when last looked at
	pending chan readResult // the blocking read in flight, or nil

	rctx      context.Context // of the blocking reads; ends with Close
	rcancel   context.CancelFunc
	done      chan struct{} // closed by Close
	closeOnce sync.Once
}

type readResult struct {
	streams []redis.XStream
	err     error
}

// Next implements core.Subscription. It returns ctx's error if ctx ends
// first, and the subscription stays usable: a read in flight is kept for
// the next call, so no event is lost or returned twice.
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
		if s.pending == nil {
			s.startRead()
		}
		select {
		case r := <-s.pending:
			s.pending = nil
			if err := s.take(ctx, r); err != nil {
				return core.Event{}, err
			}
		case <-ctx.Done():
			return core.Event{}, ctx.Err()
		case <-s.done:
			return core.Event{}, ErrSubscriptionClosed
		case <-s.l.done:
			return core.Event{}, ErrClosed
		}
	}
}

// startRead starts a blocking read of the entries after the cursor.
func (s *subscription) startRead() {
	ch := make(chan readResult, 1)
	s.pending = ch
	args := &redis.XReadArgs{
		Streams: []string{s.key, strconv.FormatInt(s.next, 10) + "-0"},
		Count:   readBatch,
		Block:   s.l.cfg.BlockTimeout,
	}
	go func() {
		streams, err := s.l.blk.XRead(s.rctx, args).Result()
		ch <- readResult{streams, err}
	}()
}

// take handles the result of a blocking read: it fills buf, or returns the
// error Next should return; nil with buf empty means read again.
func (s *subscription) take(ctx context.Context, r readResult) error {
	switch {
	case errors.Is(r.err, redis.Nil):
		// The block timed out. A run seen before whose key is gone has
		// expired: its subscriber must not wait for ever.
		if !s.seen {
			return nil
		}
		n, err := s.l.rdb.Exists(ctx, s.key).Result()
		if err != nil {
			return s.l.fail(ctx, "subscribe", err)
		}
		if n == 0 {
			return &core.GoneError{RunID: s.runID, FirstIndex: s.next}
		}
		return nil
	case r.err != nil:
		select {
		case <-s.done:
			return ErrSubscriptionClosed
		default:
		}
		return s.l.fail(ctx, "subscribe", r.err)
	}
	var msgs []redis.XMessage
	for _, st := range r.streams {
		if st.Stream == s.key {
			msgs = st.Messages
		}
	}
	evs, err := decode(s.runID, msgs)
	if err != nil {
		return err
	}
	if len(evs) == 0 {
		return nil
	}
	s.seen = true
	if evs[0].EventIndex > s.next {
		// Trimming (or expiry) overtook this reader.
		return &core.GoneError{RunID: s.runID, FirstIndex: evs[0].EventIndex}
	}
	s.buf = evs
	return nil
}

// Close implements core.Subscription. It may be called more than once and
// from another goroutine than Next's, which it wakes.
func (s *subscription) Close() error {
	s.closeOnce.Do(func() {
		close(s.done)
		s.rcancel()
	})
	return nil
}

var _ core.Subscription = (*subscription)(nil)
