package redislog

import (
	"context"
	"fmt"
	"sync"
	"time"

	gojson "github.com/goccy/go-json"

	"github.com/agentgate/agentgate/core"
)

// Subscribe implements core.EventLog. It joins the run's feed (live.go)
// and reads the backlog after p.After (so a cursor older than what is kept
// fails here); Next then takes the live events. It does not wait for the
// feed's channel subscription: when that was not in effect yet, the first
// Next after its confirmation reads the stream once more. p.Limit is
// ignored.
func (l *Log) Subscribe(ctx context.Context, p core.ReadParams) (core.Subscription, error) {
	if err := checkParams(p); err != nil {
		return nil, err
	}
	if err := l.check(ctx); err != nil {
		return nil, err
	}
	s := &subscription{
		l:     l,
		runID: p.RunID,
		key:   l.streamKey(p.RunID),
		pos:   p.After + 1,
		done:  make(chan struct{}),
	}
	s.feed = l.openFeed(ctx, s)
	s.feed.mu.Lock()
	on, epoch := s.feed.on, s.feed.epoch
	s.feed.mu.Unlock()
	if err := s.read(ctx, on, epoch); err != nil {
		l.closeFeed(s)
		return nil, err
	}
	return s, nil
}

// subscription is a cursor over one run's stream. Every field but done,
// closeOnce and pos belongs to the goroutine calling Next.
type subscription struct {
	l     *Log
	runID string
	key   string
	feed  *feed

	// pos is the index of the first event not in buf yet: what the
	// subscription takes next. Written by Next's goroutine under feed.mu
	// (the feed keeps what pos still needs), read by it freely.
	pos   int64
	buf   []core.Event // read, not returned yet; buf[len(buf)-1] has index pos-1
	seen  bool         // the run's stream was seen to exist
	epoch uint64       // the feed's epoch s is in step with (0: none)
	more  bool         // the last read of the stream stopped at its limit
	// timer runs in periods of BlockTimeout while the subscription is used
	// (it is not reset for every event); news counts the events taken and
	// the wakes, newsAt is news when the current period began.
	timer        *time.Timer
	news, newsAt uint64

	done      chan struct{} // closed by Close
	closeOnce sync.Once
}

// Next implements core.Subscription. It returns ctx's error if ctx ends
// first, and the subscription stays usable: the run's feed goes on
// meanwhile, so no event is lost or returned twice.
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
			return ev, nil
		}
		if err := s.fill(ctx); err != nil {
			return core.Event{}, err
		}
	}
}

// fill fills buf from the feed while s is in step with it, and from the
// stream when it may not be, waiting when there is nothing after the
// cursor, or returns the error Next should return.
func (s *subscription) fill(ctx context.Context) error {
	f := s.feed
	stale := false // waited BlockTimeout without news
	for {
		f.mu.Lock()
		inStep := f.on && s.epoch == f.epoch
		end := f.first + int64(len(f.held))
		var raws []string
		from := s.pos
		read := s.more || stale || (f.on && !inStep)
		switch {
		case read:
		case inStep && s.pos >= f.first && s.pos < end:
			held := f.held[s.pos-f.first:]
			raws = append([]string(nil), held[:min(len(held), readBatch)]...)
			s.pos += int64(len(raws))
			s.news++
			f.trim()
		case inStep && s.pos < f.first && len(f.held) > 0:
			read = true // behind what the feed holds
		}
		on, epoch, wake := f.on, f.epoch, f.wake
		f.mu.Unlock()
		switch {
		case raws != nil:
			evs, err := decodeStored(s.runID, from, raws)
			if err != nil {
				return err
			}
			s.buf = evs
			return nil
		case read:
			if stale && !on {
				s.l.resubscribe(f)
			}
			if err := s.read(ctx, on, epoch); err != nil {
				return err
			}
			if len(s.buf) > 0 {
				return nil
			}
			stale = false
			continue
		}
		var err error
		if stale, err = s.wait(ctx, wake); err != nil {
			return err
		}
	}
}

// read reads the stream from pos into buf. With on (the feed's channel
// subscription was confirmed in epoch before the read), a read that reaches
// the stream's end puts s in step with epoch.
func (s *subscription) read(ctx context.Context, on bool, epoch uint64) error {
	s.l.catchups.Add(1)
	evs, exists, err := s.l.rangeFrom(ctx, s.runID, s.pos, readBatch)
	if err != nil {
		return err
	}
	if len(evs) > 0 && evs[0].EventIndex > s.pos {
		// Trimming (or expiry) overtook this reader.
		return &core.GoneError{RunID: s.runID, FirstIndex: evs[0].EventIndex}
	}
	if !exists && s.seen {
		// The run expired after it was seen (retention after Finish).
		return &core.GoneError{RunID: s.runID, FirstIndex: s.pos}
	}
	s.seen = s.seen || exists
	s.more = len(evs) == readBatch
	s.news += uint64(len(evs))
	f := s.feed
	f.mu.Lock()
	s.pos += int64(len(evs))
	if on && !s.more {
		s.epoch = epoch
	}
	f.trim()
	f.mu.Unlock()
	s.buf = evs
	return nil
}

// wait waits for the feed's progress (wake) and reports whether a whole
// period of BlockTimeout passed without news (so between one and two
// BlockTimeouts since the last), or returns the error that ends the wait.
func (s *subscription) wait(ctx context.Context, wake <-chan struct{}) (stale bool, err error) {
	if s.timer == nil {
		s.timer = time.NewTimer(s.l.cfg.BlockTimeout)
		s.newsAt = s.news
	}
	for {
		select {
		case <-wake:
			s.news++
			return false, nil
		case <-s.timer.C:
			s.timer.Reset(s.l.cfg.BlockTimeout)
			quiet := s.news == s.newsAt
			s.newsAt = s.news
			if quiet {
				return true, nil
			}
		case <-ctx.Done():
			return false, ctx.Err()
		case <-s.done:
			return false, ErrSubscriptionClosed
		case <-s.l.done:
			return false, ErrClosed
		}
	}
}

// Close implements core.Subscription. It may be called more than once and
// from another goroutine than Next's, which it wakes.
func (s *subscription) Close() error {
	s.closeOnce.Do(func() {
		close(s.done)
		s.l.closeFeed(s)
	})
	return nil
}

// decodeStored decodes the stored JSON of consecutive events, the first
// with index first.
func decodeStored(runID string, first int64, raws []string) ([]core.Event, error) {
	out := make([]core.Event, len(raws))
	for i, raw := range raws {
		if err := unmarshalStored([]byte(raw), &out[i]); err != nil {
			return nil, fmt.Errorf("redislog: run %s: event %d: %w", runID, first+int64(i), err)
		}
		out[i].EventIndex = first + int64(i)
	}
	return out, nil
}

// unmarshalStored decodes an event's stored JSON (encoding/json's text,
// written by encode). It is goccy/go-json's Unmarshal, which reads it into
// the same core.Event as encoding/json (TestStoredDecodeAsEncodingJSON) in
// about a quarter of the time: every follower decodes every event.
func unmarshalStored(data []byte, ev *core.Event) error { return gojson.Unmarshal(data, ev) }

var _ core.Subscription = (*subscription)(nil)
