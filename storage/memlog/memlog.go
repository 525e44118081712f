// Package memlog is the in-memory core.EventLog: the embedded default used
// when no Redis is configured. It holds every run's stream in process memory,
// bounded by core.EventLogConfig (events kept per run, time kept after
// Finish, events kept in all), and passes storage/eventlogtest.
//
// # Layout and concurrency
//
// Runs and cancel signals live in a fixed number of shards, chosen by a hash
// of the run id. A shard's mutex guards only its maps (lookup, create,
// delete); each run has its own RWMutex guarding its events. Appends to
// different runs therefore never contend on a run lock, and contend on a
// shard lock only for the instant of a map lookup.
//
// A run's events are kept in a ring buffer that grows up to MaxEventsPerRun
// and then overwrites its oldest entry; base is the index of the oldest
// event kept, so indices stay dense after trimming.
//
// Subscribers have no queues of their own: the ring buffer is the buffer.
// A subscription is a cursor; Next copies the event at the cursor under the
// run's read lock. When the cursor is at the end, Next waits on the run's
// notify channel, which Append closes (and replaces) whenever a subscriber
// has been waiting since the previous append. A slow subscriber thus never
// stalls an append; if trimming overtakes it, its Next returns a
// *core.GoneError.
//
// Lock order is shard mutex, then run mutex, then the finished-run queue's
// mutex (see "Retention"). Whoever removes a run from its shard (the
// janitor, a lazy expiry on lookup, the last subscriber of an empty run,
// room making) holds both and marks the run dead. Lookups find the run under
// the shard lock, release it, then lock the run and look again if it turned
// out dead; so the shard is never held while waiting for a busy run, except
// to remove that run. The janitor skips runs whose lock is busy.
//
// # Retention
//
// Finish stamps the run; once Retention has passed since the latest Finish
// the run is removed: lazily when it is next looked up, and by a janitor
// goroutine that sweeps every shard periodically (Close stops it). An Append
// before that clears the stamp. Subscriptions of a removed run end with a
// *core.GoneError whose FirstIndex is the run's event count. A run appended
// to after its removal starts again at index 0: the log keeps no tombstones.
//
// The log also counts the events it holds in all. Past MaxEvents it drops
// finished runs, the earliest finished first, as if their retention had
// ended; a run that someone is reading is spared and queued again, and
// live runs are never dropped. Finished runs queue in the order they
// finish (a run that goes on and finishes again is queued again; its
// earlier entry is skipped), and the janitor drops the entries of runs
// whose retention ended.
//
// Cancel signals are remembered for Retention after they are signalled.
//
// Events are stored as shallow copies: their slices, maps and pointers are
// shared with the caller, who must not modify them after Append.
package memlog

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agentgate/agentgate/core"
)

// ErrClosed is returned by every operation after Close, and by Next of the
// subscriptions that were open at Close. It matches core.ErrUnavailable.
var ErrClosed = fmt.Errorf("memlog: event log is closed: %w", core.ErrUnavailable)

// ErrSubscriptionClosed is returned by Next after the subscription's Close.
var ErrSubscriptionClosed = errors.New("memlog: subscription is closed")

const (
	numShards       = 64
	initialCapacity = 16
	minSweepEvery   = 10 * time.Millisecond
	maxSweepEvery   = time.Minute
)

// Log is an in-memory core.EventLog. Create it with New; all methods are
// safe for concurrent use.
type Log struct {
	cfg    core.EventLogConfig
	seed   maphash.Seed
	epoch  time.Time // finish times count from it (monotonic)
	shards [numShards]shard

	// held counts the events of every run; past cfg.MaxEvents, finished
	// runs are dropped in the order they finished (finishedQ).
	held      atomic.Int64
	finishedQ struct {
		sync.Mutex
		q    []finishedRun
		head int // q[:head] are popped
	}

	closed    atomic.Bool
	done      chan struct{} // closed by Close
	closeOnce sync.Once
	janitor   sync.WaitGroup
}

// finishedRun is a run as it finished at Log.now() at; the run has
// finished again (or been revived) since if its finishedAt differs.
type finishedRun struct {
	r  *run
	at int64
}

type shard struct {
	mu      sync.Mutex
	runs    map[string]*run
	cancels map[string]*cancelSignal
}

// run is one run's stream. mu guards every field except finishedAt,
// waiting and dead, which are atomics so that readers holding only the
// read lock may inspect (finishedAt) or set (waiting) them, and the
// janitor may tell a removed run from a live one without its lock (dead;
// it is only set under mu).
type run struct {
	id string
	mu sync.RWMutex

	buf  []*core.Event // ring buffer (the appended events, kept as given); len(buf) is its capacity
	head int           // position in buf of the event with index base
	n    int           // number of events held
	base int64         // index of the oldest event held

	subs   int           // open subscriptions
	dead   atomic.Bool   // removed from its shard; buf is released
	notify chan struct{} // closed on the next append when waiting is set

	waiting    atomic.Bool  // a subscriber waits on notify
	finishedAt atomic.Int64 // Log.now() of the latest Finish; 0 when live
}

type cancelSignal struct {
	ch        chan struct{} // closed when signalled
	signalled bool
	at        time.Time // when signalled
	watchers  int
	after     []*afterCancel // AfterCancel functions waiting for the signal
}

type afterCancel struct {
	f       func()
	stopped atomic.Bool
}

// New returns an empty log with cfg's limits (zero fields take the defaults
// of core.EventLogConfig.WithDefaults) and starts its janitor goroutine.
// Call Close to stop it.
func New(cfg core.EventLogConfig) *Log {
	cfg = cfg.WithDefaults()
	l := &Log{cfg: cfg, seed: maphash.MakeSeed(), epoch: time.Now(), done: make(chan struct{})}
	for i := range l.shards {
		l.shards[i].runs = make(map[string]*run)
		l.shards[i].cancels = make(map[string]*cancelSignal)
	}
	every := min(max(cfg.Retention/4, minSweepEvery), maxSweepEvery)
	l.janitor.Add(1)
	go l.sweepLoop(every)
	return l
}

// Config returns the configuration in effect, defaults filled in.
func (l *Log) Config() core.EventLogConfig { return l.cfg }

// ProcessLocal reports true: only this process reads the log (see
// core.ProcessLocal).
func (l *Log) ProcessLocal() bool { return true }

func (l *Log) shard(runID string) *shard {
	return &l.shards[maphash.String(l.seed, runID)%numShards]
}

// now is the monotonic time since the log was created, never 0.
func (l *Log) now() int64 { return int64(time.Since(l.epoch)) + 1 }

func (l *Log) expired(r *run, now int64) bool {
	at := r.finishedAt.Load()
	return at != 0 && now-at >= int64(l.cfg.Retention)
}

func invalid(format string, args ...any) error {
	return core.Errorf(core.CodeInvalid, format, args...)
}

// lookup returns the live run runID with its lock held (the write lock if
// write, else the read lock), creating it when create is set. It returns nil
// when the run is absent and create is not set. An expired run is removed
// and treated as absent.
func (l *Log) lookup(runID string, create, write bool) *run {
	sh := l.shard(runID)
	for {
		sh.mu.Lock()
		r := sh.runs[runID]
		if r != nil && r.finishedAt.Load() != 0 && l.expired(r, l.now()) {
			r.mu.Lock()
			killed := l.expired(r, l.now())
			if killed {
				l.kill(r)
				delete(sh.runs, runID)
			}
			r.mu.Unlock()
			if killed {
				r = nil
			}
		}
		if r == nil {
			if !create {
				sh.mu.Unlock()
				return nil
			}
			r = &run{id: runID, notify: make(chan struct{})}
			sh.runs[runID] = r
		}
		sh.mu.Unlock()
		// The shard is not held while waiting for the run, so a long read
		// of one run never blocks its neighbours. The run may have been
		// removed meanwhile: then look again.
		if write {
			r.mu.Lock()
			if !r.dead.Load() {
				return r
			}
			r.mu.Unlock()
		} else {
			r.mu.RLock()
			if !r.dead.Load() {
				return r
			}
			r.mu.RUnlock()
		}
	}
}

// kill releases the run's events and wakes its subscribers, which then fail
// with a GoneError naming the run's event count. Callers hold the shard lock
// and r.mu, and delete r from the shard.
func (l *Log) kill(r *run) {
	l.held.Add(-int64(r.n))
	r.kill()
}

func (r *run) kill() {
	r.dead.Store(true)
	r.base += int64(r.n)
	r.buf, r.head, r.n = nil, 0, 0
	close(r.notify)
}

// at returns the event with index i, which must be held. Callers hold r.mu.
func (r *run) at(i int64) core.Event {
	return *r.buf[(r.head+int(i-r.base))%len(r.buf)]
}

// push appends ev, trimming the oldest event when limit are held, and
// reports whether it trimmed one. Callers hold r.mu for writing.
func (r *run) push(ev *core.Event, limit int) (trimmed bool) {
	if r.n == len(r.buf) && r.n < limit {
		nb := make([]*core.Event, min(max(2*len(r.buf), initialCapacity), limit))
		for i := range r.n {
			nb[i] = r.buf[(r.head+i)%len(r.buf)]
		}
		r.buf, r.head = nb, 0
	}
	if r.n < len(r.buf) {
		r.buf[(r.head+r.n)%len(r.buf)] = ev
		r.n++
		return false
	}
	// Full at limit: the new event takes the oldest one's slot.
	r.buf[r.head] = ev
	r.head = (r.head + 1) % len(r.buf)
	r.base++
	return true
}

func (r *run) gone() error {
	return &core.GoneError{RunID: r.id, FirstIndex: r.base}
}

// Append implements core.EventLog. It keeps ev as given (the caller must
// not change it afterwards, as core.EventLog says).
func (l *Log) Append(ctx context.Context, ev *core.Event) (int64, error) {
	evs := [1]*core.Event{ev}
	return l.AppendAll(ctx, evs[:], false)
}

// AppendAll implements core.BatchAppender: the events of one run under one
// lock, finishing the run when finish is set. It keeps the events as given.
func (l *Log) AppendAll(ctx context.Context, evs []*core.Event, finish bool) (int64, error) {
	if len(evs) == 0 {
		return -1, invalid("no events to append")
	}
	for _, ev := range evs {
		if ev == nil || ev.Stream() == "" {
			return -1, invalid("event has no run id")
		}
		if ev.Stream() != evs[0].Stream() {
			return -1, invalid("a batch holds events of one run")
		}
	}
	if err := ctx.Err(); err != nil {
		return -1, err
	}
	if l.closed.Load() {
		return -1, ErrClosed
	}
	r := l.lookup(evs[0].Stream(), true, true)
	if r.n == 0 && r.base == 0 && evs[0].EventIndex > 0 {
		// A run the log holds nothing of (its events expired) continues
		// at the index its writer expects, so indices are never reused.
		r.base = evs[0].EventIndex
	}
	first := r.base + int64(r.n)
	added := int64(0)
	for _, ev := range evs {
		ev.EventIndex = r.base + int64(r.n)
		if !r.push(ev, l.cfg.MaxEventsPerRun) {
			added++
		}
	}
	held := l.held.Add(added)
	var at int64
	if finish {
		at = l.now()
	}
	r.finishedAt.Store(at)
	if r.waiting.Swap(false) {
		close(r.notify)
		r.notify = make(chan struct{})
	}
	r.mu.Unlock()
	if finish {
		l.queueFinished(r, at)
	}
	if finish || held > int64(l.cfg.MaxEvents) {
		l.makeRoom()
	}
	return first, nil
}

// Read implements core.EventLog. A cursor past the end reads nothing.
func (l *Log) Read(ctx context.Context, p core.ReadParams) ([]core.Event, error) {
	if err := checkParams(p); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if l.closed.Load() {
		return nil, ErrClosed
	}
	r := l.lookup(p.RunID, false, false)
	if r == nil {
		return nil, fmt.Errorf("memlog: events of run %s: %w", p.RunID, core.ErrNotFound)
	}
	defer r.mu.RUnlock()
	if r.n == 0 {
		return nil, fmt.Errorf("memlog: events of run %s: %w", p.RunID, core.ErrNotFound)
	}
	start, end := p.After+1, r.base+int64(r.n)
	if start < r.base {
		return nil, r.gone()
	}
	start = min(start, end)
	count := end - start
	if p.Limit > 0 {
		count = min(count, int64(p.Limit))
	}
	out := make([]core.Event, count)
	for i := range out {
		out[i] = r.at(start + int64(i))
	}
	return out, nil
}

func checkParams(p core.ReadParams) error {
	if p.RunID == "" {
		return invalid("no run id")
	}
	if p.After < -1 {
		return invalid("cursor %d is below -1", p.After)
	}
	return nil
}

// Subscribe implements core.EventLog. Subscribing to a run that has no
// events holds a placeholder for it until the last such subscription closes.
func (l *Log) Subscribe(ctx context.Context, p core.ReadParams) (core.Subscription, error) {
	if err := checkParams(p); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if l.closed.Load() {
		return nil, ErrClosed
	}
	r := l.lookup(p.RunID, true, true)
	defer r.mu.Unlock()
	if r.n > 0 && p.After+1 < r.base {
		return nil, r.gone()
	}
	r.subs++
	return &subscription{log: l, run: r, next: p.After + 1, done: make(chan struct{})}, nil
}

// Finish implements core.EventLog. Finishing a run that has no events is a
// no-op. Retention counts from the latest Finish.
func (l *Log) Finish(ctx context.Context, runID string) error {
	if runID == "" {
		return invalid("no run id")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if l.closed.Load() {
		return ErrClosed
	}
	r := l.lookup(runID, false, true)
	if r == nil {
		return nil
	}
	at := int64(0)
	if r.n > 0 {
		at = l.now()
		r.finishedAt.Store(at)
	}
	r.mu.Unlock()
	if at != 0 {
		l.queueFinished(r, at)
		l.makeRoom()
	}
	return nil
}

// cancelLocked returns the live cancel signal of runID, creating it. The
// caller holds sh.mu.
func (l *Log) cancelLocked(sh *shard, runID string, now time.Time) *cancelSignal {
	c := sh.cancels[runID]
	if c != nil && c.signalled && now.Sub(c.at) >= l.cfg.Retention {
		delete(sh.cancels, runID)
		c = nil
	}
	if c == nil {
		c = &cancelSignal{ch: make(chan struct{})}
		sh.cancels[runID] = c
	}
	return c
}

// SignalCancel implements core.EventLog. The signal is remembered for
// Retention.
func (l *Log) SignalCancel(ctx context.Context, runID string) error {
	if runID == "" {
		return invalid("no run id")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if l.closed.Load() {
		return ErrClosed
	}
	now := time.Now()
	sh := l.shard(runID)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	c := l.cancelLocked(sh, runID, now)
	if !c.signalled {
		c.signalled, c.at = true, now
		close(c.ch)
		for _, a := range c.after {
			go a.f()
		}
		c.after = nil
	}
	return nil
}

// WatchCancel implements core.EventLog. The stop function may be called any
// number of times, from any goroutine.
func (l *Log) WatchCancel(ctx context.Context, runID string) (<-chan struct{}, func(), error) {
	if runID == "" {
		return nil, nil, invalid("no run id")
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if l.closed.Load() {
		return nil, nil, ErrClosed
	}
	sh := l.shard(runID)
	sh.mu.Lock()
	c := l.cancelLocked(sh, runID, time.Now())
	c.watchers++
	sh.mu.Unlock()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			sh.mu.Lock()
			defer sh.mu.Unlock()
			c.watchers--
			if c.watchers == 0 && !c.signalled && sh.cancels[runID] == c {
				delete(sh.cancels, runID)
			}
		})
	}
	return c.ch, stop, nil
}

// AfterCancel implements core.CancelNotifier. The stop function may be
// called any number of times, from any goroutine.
func (l *Log) AfterCancel(ctx context.Context, runID string, f func()) (func(), error) {
	if runID == "" {
		return nil, invalid("no run id")
	}
	if f == nil {
		return nil, invalid("no function to call")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if l.closed.Load() {
		return nil, ErrClosed
	}
	sh := l.shard(runID)
	sh.mu.Lock()
	c := l.cancelLocked(sh, runID, time.Now())
	if c.signalled {
		sh.mu.Unlock()
		go f()
		return func() {}, nil
	}
	a := &afterCancel{f: f}
	c.after = append(c.after, a)
	c.watchers++
	sh.mu.Unlock()
	return func() {
		if a.stopped.Swap(true) {
			return
		}
		sh.mu.Lock()
		defer sh.mu.Unlock()
		if i := slices.Index(c.after, a); i >= 0 {
			c.after = slices.Delete(c.after, i, i+1)
		}
		c.watchers--
		if c.watchers == 0 && !c.signalled && sh.cancels[runID] == c {
			delete(sh.cancels, runID)
		}
	}, nil
}

// Ping implements core.EventLog: it fails only after Close.
func (l *Log) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if l.closed.Load() {
		return ErrClosed
	}
	return nil
}

// Close implements core.EventLog. It stops the janitor; open subscriptions
// wake and their Next returns ErrClosed, as does every later operation.
// Cancel watch channels are left open. Close may be called more than once.
func (l *Log) Close() error {
	l.closeOnce.Do(func() {
		l.closed.Store(true)
		close(l.done)
		l.janitor.Wait()
	})
	return nil
}

func (l *Log) sweepLoop(every time.Duration) {
	defer l.janitor.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-l.done:
			return
		case now := <-t.C:
			l.sweep(now)
		}
	}
}

// sweep removes expired runs, placeholders nobody subscribes to any more,
// and expired cancel signals.
func (l *Log) sweep(now time.Time) {
	mono := l.now()
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		for id, r := range sh.runs {
			if !r.mu.TryLock() {
				continue // busy, hence not expired; the next sweep will do
			}
			if l.expired(r, mono) || (r.n == 0 && r.subs == 0) {
				l.kill(r)
				delete(sh.runs, id)
			}
			r.mu.Unlock()
		}
		for id, c := range sh.cancels {
			if c.signalled && now.Sub(c.at) >= l.cfg.Retention {
				delete(sh.cancels, id)
			}
		}
		sh.mu.Unlock()
	}
	l.pruneFinished()
}

// queueFinished queues r, which finished at at.
func (l *Log) queueFinished(r *run, at int64) {
	fq := &l.finishedQ
	fq.Lock()
	fq.q = append(fq.q, finishedRun{r: r, at: at})
	fq.Unlock()
}

// makeRoom drops the earliest finished runs while the log holds more than
// MaxEvents. A run someone is reading is not dropped: it goes to the back
// of the queue, as if it had finished then. The caller holds no lock.
func (l *Log) makeRoom() {
	if l.held.Load() <= int64(l.cfg.MaxEvents) {
		return
	}
	fq := &l.finishedQ
	fq.Lock()
	tries := len(fq.q) - fq.head
	fq.Unlock()
	for ; tries > 0 && l.held.Load() > int64(l.cfg.MaxEvents); tries-- {
		fr, ok := l.popFinished()
		if !ok {
			return // only live runs are left
		}
		sh := l.shard(fr.r.id)
		sh.mu.Lock()
		fr.r.mu.Lock()
		switch {
		case fr.r.dead.Load() || fr.r.finishedAt.Load() != fr.at || sh.runs[fr.r.id] != fr.r:
			// Gone already, or revived or finished again since.
		case fr.r.subs > 0:
			// Never cut a stream short for room.
			fq.Lock()
			fq.q = append(fq.q, fr)
			fq.Unlock()
		default:
			l.kill(fr.r)
			delete(sh.runs, fr.r.id)
		}
		fr.r.mu.Unlock()
		sh.mu.Unlock()
	}
}

// popFinished takes the earliest entry of the finished queue.
func (l *Log) popFinished() (finishedRun, bool) {
	fq := &l.finishedQ
	fq.Lock()
	defer fq.Unlock()
	if fq.head == len(fq.q) {
		return finishedRun{}, false
	}
	fr := fq.q[fq.head]
	fq.q[fq.head] = finishedRun{}
	fq.head++
	l.compactFinished()
	return fr, true
}

// pruneFinished drops the queue's leading entries whose run is gone
// (retention ended) or finished again since, so the queue does not
// outgrow the runs it names.
func (l *Log) pruneFinished() {
	fq := &l.finishedQ
	fq.Lock()
	defer fq.Unlock()
	for fq.head < len(fq.q) {
		fr := fq.q[fq.head]
		if !fr.r.dead.Load() && fr.r.finishedAt.Load() == fr.at {
			break
		}
		fq.q[fq.head] = finishedRun{}
		fq.head++
	}
	l.compactFinished()
}

// compactFinished reuses the popped front of the queue. The caller holds
// the queue's lock.
func (l *Log) compactFinished() {
	fq := &l.finishedQ
	if fq.head == len(fq.q) {
		fq.q, fq.head = fq.q[:0], 0
	} else if fq.head > 1024 && fq.head > len(fq.q)/2 {
		n := copy(fq.q, fq.q[fq.head:])
		clear(fq.q[n:])
		fq.q, fq.head = fq.q[:n], 0
	}
}

type subscription struct {
	log  *Log
	run  *run
	next int64 // index of the next event to return

	done      chan struct{} // closed by Close
	closeOnce sync.Once
}

// Next implements core.Subscription. It returns ctx's error if ctx is done,
// and the subscription stays usable after that: the cursor does not move.
func (s *subscription) Next(ctx context.Context) (core.Event, error) {
	r := s.run
	for {
		select {
		case <-s.done:
			return core.Event{}, ErrSubscriptionClosed
		case <-s.log.done:
			return core.Event{}, ErrClosed
		default:
		}
		if err := ctx.Err(); err != nil {
			return core.Event{}, err
		}
		r.mu.RLock()
		if r.dead.Load() || s.next < r.base {
			err := r.gone()
			r.mu.RUnlock()
			return core.Event{}, err
		}
		if s.next < r.base+int64(r.n) {
			ev := r.at(s.next)
			r.mu.RUnlock()
			s.next++
			return ev, nil
		}
		wake := r.notify
		r.waiting.Store(true)
		r.mu.RUnlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return core.Event{}, ctx.Err()
		case <-s.done:
		case <-s.log.done:
		}
	}
}

// Close implements core.Subscription. It may be called more than once and
// from another goroutine than Next's, which it wakes.
func (s *subscription) Close() error {
	s.closeOnce.Do(func() {
		close(s.done)
		r := s.run
		sh := s.log.shard(r.id)
		sh.mu.Lock()
		r.mu.Lock()
		r.subs--
		if r.subs == 0 && r.n == 0 && !r.dead.Load() && sh.runs[r.id] == r {
			s.log.kill(r)
			delete(sh.runs, r.id)
		}
		r.mu.Unlock()
		sh.mu.Unlock()
	})
	return nil
}

var _ core.EventLog = (*Log)(nil)
