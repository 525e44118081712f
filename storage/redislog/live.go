package redislog

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Live events: the append script PUBLISHes every append on a channel named
// like the run's stream key (P{R}:events), the payload being the first
// index appended, then each event's stored JSON, one a line (JSON as
// encoded holds no raw newline). A Log follows the runs it has open
// subscriptions of on its one pub/sub connection (the one of the cancel
// channel, opened by New): the channel of a run is subscribed when its first
// subscription opens and unsubscribed when its last one closes, and its
// messages go to that run's feed, which every subscription of the run in
// this Log reads. However many runs are followed, a Log holds one pub/sub
// connection, Redis sends each event to each Log once (no command per
// event), and no read is pending while nothing is appended.
//
// Pub/sub is not reliable (a message published while the connection is down
// is lost, go-redis drops one its channel cannot take within a minute), so
// the stream stays the history and the feed is only a fast path: a
// subscription takes events from its feed while it is in step with it and
// reads the stream (XRANGE, as Subscribe does) whenever it may not be. It is
// in step once it has read the stream to its end after the feed's channel
// subscription was confirmed: every later event is then in a message. Each
// confirmation (the first, and the ones go-redis's resubscription after a
// reconnect brings) starts a new epoch of the feed, and a subscription in
// step with an earlier epoch reads the stream again. A message that does not
// follow the one before (a gap: a lost message) restarts the feed from it,
// and a subscription whose cursor is older than what the feed holds reads
// the stream. A subscription that had no news for a whole period of
// BlockTimeout reads the stream too: that recovers a lost last message and tells a run
// that expired (a *core.GoneError). Reading the stream keeps resume exact or
// refused: entries are returned from the cursor on, or trimming shows.

// feedKeep is how many events a feed holds at most for the subscriptions
// that have not taken them yet; one further behind reads the stream. A feed
// holds no more than the stream keeps (MaxEventsPerRun), so a subscription
// that trimming overtook reads the stream and learns so, as it would have
// without the feed.
const feedKeep = 2 * readBatch

// feed is one run's live events in one Log.
type feed struct {
	channel string
	keep    int // feedKeep, or MaxEventsPerRun if lower

	mu    sync.Mutex
	subs  map[*subscription]struct{} // the run's open subscriptions in this Log
	on    bool                       // the channel subscription was confirmed
	epoch uint64                     // confirmations so far
	first int64                      // index of held[0]
	held  []string                   // stored JSON of consecutive events from the messages
	wake  chan struct{}
}

// signal wakes the waiters. f.mu is held.
func (f *feed) signal() {
	close(f.wake)
	f.wake = make(chan struct{})
}

// trim drops the held events that no subscription still needs, and the
// oldest beyond keep. f.mu is held.
func (f *feed) trim() {
	low := f.first + int64(len(f.held))
	for s := range f.subs {
		low = min(low, s.pos)
	}
	drop := int(max(low-f.first, 0))
	drop = max(drop, len(f.held)-f.keep)
	if drop == 0 {
		return
	}
	if drop >= len(f.held) {
		f.first += int64(len(f.held))
		f.held = f.held[:0]
		return
	}
	f.held = append(f.held[:0:0], f.held[drop:]...)
	f.first += int64(drop)
}

// openFeed registers s with its run's feed, subscribing the run's channel
// when s is the feed's first subscription.
func (l *Log) openFeed(ctx context.Context, s *subscription) *feed {
	l.feedSubMu.Lock()
	defer l.feedSubMu.Unlock()
	l.feedsMu.Lock()
	f := l.feeds[s.key]
	fresh := f == nil
	if fresh {
		keep := min(feedKeep, l.cfg.EventLog.MaxEventsPerRun)
		f = &feed{channel: s.key, keep: keep, subs: make(map[*subscription]struct{}), wake: make(chan struct{})}
		l.feeds[s.key] = f
	}
	f.mu.Lock()
	f.subs[s] = struct{}{}
	f.mu.Unlock()
	l.feedsMu.Unlock()
	if fresh {
		l.subscribeChannel(ctx, s.key)
	}
	return f
}

// subscribeChannel writes SUBSCRIBE for channel, not cut short by the
// caller's context. If it fails, the subscriptions of the feed poll the
// stream and retry it (resubscribe) while it is not confirmed.
func (l *Log) subscribeChannel(ctx context.Context, channel string) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	_ = l.ps.Subscribe(sctx, channel)
	cancel()
}

// resubscribe subscribes f's channel again if f is still the run's feed: a
// feed whose confirmation did not come within a period of BlockTimeout (a
// SUBSCRIBE lost with its connection). A repeated SUBSCRIBE is confirmed
// again, which only starts a new epoch.
func (l *Log) resubscribe(f *feed) {
	l.feedSubMu.Lock()
	defer l.feedSubMu.Unlock()
	if l.feedOf(f.channel) == f && !l.closed.Load() {
		l.subscribeChannel(context.Background(), f.channel)
	}
}

// closeFeed unregisters s, unsubscribing the channel after the last one.
// feedSubMu orders the SUBSCRIBE and UNSUBSCRIBE commands of a channel as
// the feeds map changes.
func (l *Log) closeFeed(s *subscription) {
	l.feedSubMu.Lock()
	defer l.feedSubMu.Unlock()
	l.feedsMu.Lock()
	f := s.feed
	f.mu.Lock()
	delete(f.subs, s)
	last := len(f.subs) == 0
	if !last {
		f.trim()
	}
	f.mu.Unlock()
	if last && l.feeds[f.channel] == f {
		delete(l.feeds, f.channel)
	}
	l.feedsMu.Unlock()
	if last && !l.closed.Load() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = l.ps.Unsubscribe(ctx, f.channel) // if lost, the channel's messages are dropped
		cancel()
	}
}

func (l *Log) feedOf(channel string) *feed {
	l.feedsMu.Lock()
	defer l.feedsMu.Unlock()
	return l.feeds[channel]
}

// confirmed starts a new epoch of the channel's feed: its subscription is in
// effect (again).
func (l *Log) confirmed(channel string) {
	f := l.feedOf(channel)
	if f == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.on = true
	f.epoch++
	f.signal()
}

// deliver adds the events of a message of the channel to its feed.
func (l *Log) deliver(m *redis.Message) {
	f := l.feedOf(m.Channel)
	if f == nil {
		return
	}
	head, rest, _ := strings.Cut(m.Payload, "\n")
	idx, err := strconv.ParseInt(head, 10, 64)
	if err != nil || rest == "" {
		return // not ours: the subscriptions read the stream after a wait
	}
	l.delivered.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if idx != f.first+int64(len(f.held)) {
		// The first message, or a gap: the feed restarts here.
		f.held = f.held[:0]
		f.first = idx
	}
	for {
		e, more, ok := strings.Cut(rest, "\n")
		f.held = append(f.held, e)
		if !ok {
			break
		}
		rest = more
	}
	f.trim()
	f.signal()
}
