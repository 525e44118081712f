package redislog

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// cancelWatch is what the watchers of one run in this process share. Guarded
// by Log.cancelMu.
type cancelWatch struct {
	ch       chan struct{} // closed when the cancel is seen
	fired    bool
	watchers int
}

// SignalCancel implements core.EventLog. The signal is remembered for
// Retention (a key with that TTL) and published to every Log sharing the
// Redis and prefix.
func (l *Log) SignalCancel(ctx context.Context, runID string) error {
	if runID == "" {
		return invalid("no run id")
	}
	if err := l.check(ctx); err != nil {
		return err
	}
	pipe := l.rdb.Pipeline()
	pipe.Set(ctx, l.cancelKey(runID), "1", max(l.cfg.EventLog.Retention, time.Millisecond))
	pipe.Publish(ctx, l.cancelChannel(), runID)
	if _, err := pipe.Exec(ctx); err != nil {
		return l.fail(ctx, "signal cancel", err)
	}
	l.fire(runID) // no need to wait for our own message
	return nil
}

// WatchCancel implements core.EventLog. The stop function may be called any
// number of times, from any goroutine.
func (l *Log) WatchCancel(ctx context.Context, runID string) (<-chan struct{}, func(), error) {
	if runID == "" {
		return nil, nil, invalid("no run id")
	}
	if err := l.check(ctx); err != nil {
		return nil, nil, err
	}
	ch, fired, stop := l.watch(runID)
	if !fired {
		if err := l.checkCancelKey(ctx, runID); err != nil {
			stop()
			return nil, nil, err
		}
	}
	return ch, stop, nil
}

// AfterCancel implements core.CancelNotifier. The watch is registered at
// once; the check of a signal left before it (the key) is made behind the
// caller, retried while Redis cannot answer, so the run's start waits for
// no round trip. f runs in the goroutine that waits for the signal.
func (l *Log) AfterCancel(ctx context.Context, runID string, f func()) (func(), error) {
	if runID == "" {
		return nil, invalid("no run id")
	}
	if err := l.check(ctx); err != nil {
		return nil, err
	}
	ch, fired, stopWatch := l.watch(runID)
	stopped := make(chan struct{})
	go func() {
		for delay := 100 * time.Millisecond; !fired; delay = min(2*delay, 2*time.Second) {
			if l.checkCancelKey(ctx, runID) == nil {
				break
			}
			select {
			case <-time.After(delay):
			case <-stopped:
				return
			case <-ctx.Done():
				return
			case <-l.done:
				return
			}
		}
		select {
		case <-ch:
			select {
			case <-stopped:
			default:
				f()
			}
		case <-stopped:
		case <-ctx.Done():
		case <-l.done:
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(stopped)
			stopWatch()
		})
	}, nil
}

// watch registers a watcher of runID's cancel: the channel closed when it
// is seen, whether it was already, and the function that unregisters it.
func (l *Log) watch(runID string) (<-chan struct{}, bool, func()) {
	l.cancelMu.Lock()
	w := l.watches[runID]
	if w == nil {
		w = &cancelWatch{ch: make(chan struct{})}
		l.watches[runID] = w
	}
	w.watchers++
	fired := w.fired
	l.cancelMu.Unlock()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			l.cancelMu.Lock()
			defer l.cancelMu.Unlock()
			w.watchers--
			if w.watchers == 0 && l.watches[runID] == w {
				delete(l.watches, runID)
			}
		})
	}
	return w.ch, fired, stop
}

// checkCancelKey fires runID's watches if its cancel key exists. The watch
// is registered and the channel subscribed (since New), so a signal after
// this check reaches the watches as a message; one before it left the key.
func (l *Log) checkCancelKey(ctx context.Context, runID string) error {
	n, err := l.ap.Exists(ctx, l.cancelKey(runID)).Result()
	if err != nil {
		return l.fail(ctx, "watch cancel", err)
	}
	if n > 0 {
		l.fire(runID)
	}
	return nil
}

// fire closes the channel of runID's watchers in this process, if any.
func (l *Log) fire(runID string) {
	l.cancelMu.Lock()
	defer l.cancelMu.Unlock()
	if w := l.watches[runID]; w != nil && !w.fired {
		w.fired = true
		close(w.ch)
	}
}

// cancelLoop fans the cancel channel's messages out to the watchers, and
// the runs' channels' to their feeds (live.go), until the pub/sub
// connection is closed. The cancel channel's subscription confirmation of
// New was consumed there, so one arriving here means go-redis reconnected
// and resubscribed: signals published meanwhile were lost, so every watched
// key is checked again.
func (l *Log) cancelLoop(ch <-chan any) {
	defer close(l.psDone)
	var rechecks sync.WaitGroup
	defer rechecks.Wait()
	cancels := l.cancelChannel()
	for msg := range ch {
		switch m := msg.(type) {
		case *redis.Message:
			if m.Channel == cancels {
				l.fire(m.Payload)
			} else {
				l.deliver(m)
			}
		case *redis.Subscription:
			switch {
			case m.Kind != "subscribe":
			case m.Channel == cancels:
				rechecks.Go(l.recheckCancels)
			default:
				l.confirmed(m.Channel)
			}
		}
	}
}

// recheckCancels fires the watches whose cancel key exists.
func (l *Log) recheckCancels() {
	l.cancelMu.Lock()
	runs := make([]string, 0, len(l.watches))
	for id, w := range l.watches {
		if !w.fired {
			runs = append(runs, id)
		}
	}
	l.cancelMu.Unlock()
	if len(runs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go func() {
		select {
		case <-l.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	pipe := l.rdb.Pipeline()
	cmds := make([]*redis.IntCmd, len(runs))
	for i, id := range runs {
		cmds[i] = pipe.Exists(ctx, l.cancelKey(id))
	}
	_, _ = pipe.Exec(ctx) // on failure the next reconnect checks again
	for i, cmd := range cmds {
		if cmd.Val() > 0 {
			l.fire(runs[i])
		}
	}
}
