package prom

import (
	"context"
	"errors"
	"time"

	"github.com/agentgate/agentgate/core"
)

// WrapEventLog returns log timed into m: append, read, subscribe and
// finish latencies, failures and live subscriptions (resume outcomes are
// counted by the engine, however a resume is served: Metrics.StreamResumed).
// The wrapper keeps every
// optional interface of core/eventlog.go that log implements
// (FinishingAppender, BatchAppender, CancelNotifier, ProcessLocal,
// FollowerRegistry) in the combinations the backends have (memlog: batch,
// cancel notifier, process-local; redislog: finishing, batch, cancel
// notifier, followers) and most others; any other log with a follower
// registry keeps it (and loses the rest), a combination not listed keeps
// Append and friends only. A lost interface changes what the engine does,
// not only its timings (without BatchAppender a blocking run's held events
// take a round trip each instead of one for all), so a backend that gains
// one needs its combination here.
func WrapEventLog(log core.EventLog, m *Metrics) core.EventLog {
	b := &loggedLog{EventLog: log, m: m}
	fa, isFA := log.(core.FinishingAppender)
	ba, isBA := log.(core.BatchAppender)
	cn, isCN := log.(core.CancelNotifier)
	pl, isPL := log.(core.ProcessLocal)
	fr, isFR := log.(core.FollowerRegistry)
	b.fa, b.ba, b.cn, b.pl, b.fr = fa, ba, cn, pl, fr
	// Every combination keeps exactly the interfaces log has: the engine
	// type-asserts them.
	switch {
	case isFA && isBA && isCN && isFR && !isPL: // redislog
		return struct {
			*loggedLog
			faImpl
			baImpl
			cnImpl
			frImpl
		}{b, faImpl{b}, baImpl{b}, cnImpl{b}, frImpl{b}}
	case isFA && isBA && isFR && !isCN && !isPL:
		return struct {
			*loggedLog
			faImpl
			baImpl
			frImpl
		}{b, faImpl{b}, baImpl{b}, frImpl{b}}
	case isFR:
		// A shared log's follower registry matters more than the timings
		// of its other optional methods: keep it, and Append and friends.
		return struct {
			*loggedLog
			frImpl
		}{b, frImpl{b}}
	case isFA && isBA && isCN && isPL:
		return struct {
			*loggedLog
			faImpl
			baImpl
			cnImpl
			plImpl
		}{b, faImpl{b}, baImpl{b}, cnImpl{b}, plImpl{b}}
	case isFA && isBA && isCN:
		return struct {
			*loggedLog
			faImpl
			baImpl
			cnImpl
		}{b, faImpl{b}, baImpl{b}, cnImpl{b}}
	case isFA && isBA && isPL:
		return struct {
			*loggedLog
			faImpl
			baImpl
			plImpl
		}{b, faImpl{b}, baImpl{b}, plImpl{b}}
	case isBA && isCN && isPL:
		return struct {
			*loggedLog
			baImpl
			cnImpl
			plImpl
		}{b, baImpl{b}, cnImpl{b}, plImpl{b}}
	case isFA && isBA:
		return struct {
			*loggedLog
			faImpl
			baImpl
		}{b, faImpl{b}, baImpl{b}}
	case isFA && isCN:
		return struct {
			*loggedLog
			faImpl
			cnImpl
		}{b, faImpl{b}, cnImpl{b}}
	case isBA && isCN:
		return struct {
			*loggedLog
			baImpl
			cnImpl
		}{b, baImpl{b}, cnImpl{b}}
	case isFA:
		return struct {
			*loggedLog
			faImpl
		}{b, faImpl{b}}
	case isBA:
		return struct {
			*loggedLog
			baImpl
		}{b, baImpl{b}}
	case isCN:
		return struct {
			*loggedLog
			cnImpl
		}{b, cnImpl{b}}
	case isPL:
		return struct {
			*loggedLog
			plImpl
		}{b, plImpl{b}}
	}
	return b
}

type loggedLog struct {
	core.EventLog
	m  *Metrics
	fa core.FinishingAppender
	ba core.BatchAppender
	cn core.CancelNotifier
	pl core.ProcessLocal
	fr core.FollowerRegistry
}

// Unwrap returns the decorated log.
func (l *loggedLog) Unwrap() core.EventLog { return l.EventLog }

func (l *loggedLog) observe(op string, start time.Time, err error) {
	l.m.logLatency.WithLabelValues(op).Observe(time.Since(start).Seconds())
	if err != nil && !isGone(err) && !errors.Is(err, context.Canceled) {
		l.m.logErrors.WithLabelValues(op).Inc()
	}
}

func isGone(err error) bool {
	var ge *core.GoneError
	return errors.As(err, &ge)
}

func (l *loggedLog) Append(ctx context.Context, ev *core.Event) (int64, error) {
	start := time.Now()
	i, err := l.EventLog.Append(ctx, ev)
	l.observe("append", start, err)
	return i, err
}

func (l *loggedLog) Read(ctx context.Context, p core.ReadParams) ([]core.Event, error) {
	start := time.Now()
	evs, err := l.EventLog.Read(ctx, p)
	l.observe("read", start, err)
	return evs, err
}

func (l *loggedLog) Subscribe(ctx context.Context, p core.ReadParams) (core.Subscription, error) {
	start := time.Now()
	sub, err := l.EventLog.Subscribe(ctx, p)
	l.observe("subscribe", start, err)
	if err != nil {
		return nil, err
	}
	l.m.logSubs.Inc()
	return &loggedSub{Subscription: sub, m: l.m}, nil
}

func (l *loggedLog) Finish(ctx context.Context, runID string) error {
	start := time.Now()
	err := l.EventLog.Finish(ctx, runID)
	l.observe("finish", start, err)
	return err
}

type loggedSub struct {
	core.Subscription
	m      *Metrics
	closed bool
}

func (s *loggedSub) Close() error {
	if !s.closed {
		s.closed = true
		s.m.logSubs.Dec()
	}
	return s.Subscription.Close()
}

type faImpl struct{ l *loggedLog }

func (f faImpl) AppendFinish(ctx context.Context, ev *core.Event) (int64, error) {
	start := time.Now()
	i, err := f.l.fa.AppendFinish(ctx, ev)
	f.l.observe("append_finish", start, err)
	return i, err
}

type baImpl struct{ l *loggedLog }

func (b baImpl) AppendAll(ctx context.Context, evs []*core.Event, finish bool) (int64, error) {
	start := time.Now()
	i, err := b.l.ba.AppendAll(ctx, evs, finish)
	b.l.observe("append_all", start, err)
	return i, err
}

type cnImpl struct{ l *loggedLog }

func (c cnImpl) AfterCancel(ctx context.Context, runID string, f func()) (func(), error) {
	return c.l.cn.AfterCancel(ctx, runID, f)
}

type plImpl struct{ l *loggedLog }

func (p plImpl) ProcessLocal() bool { return p.l.pl.ProcessLocal() }

type frImpl struct{ l *loggedLog }

func (f frImpl) Follow(ctx context.Context, runID string, linger time.Duration) (func(), error) {
	return f.l.fr.Follow(ctx, runID, linger)
}

func (f frImpl) FollowedUntil(ctx context.Context, runID string) (time.Time, error) {
	return f.l.fr.FollowedUntil(ctx, runID)
}
