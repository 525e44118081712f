package prom

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/agentgate/agentgate/core"
)

// WrapEventLog returns log timed into m: append, read, subscribe and
// finish latencies, failures and live subscriptions (resume outcomes are
// counted by the engine, however a resume is served: Metrics.StreamResumed).
//
// The engine type-asserts the optional interfaces of core/eventlog.go, and
// a lost one changes what it does, not only its timings (without
// BatchAppender a blocking run's held events take a round trip each
// instead of one for all). So the wrapper implements:
//   - CancelNotifier and ProcessLocal always, answering as the engine would
//     without them (core.AfterCancel's fallback on the log's WatchCancel;
//     ProcessLocal false);
//   - FinishingAppender, BatchAppender and FollowerRegistry exactly when log
//     does (their absence cannot be imitated: the engine then appends and
//     finishes in separate steps, or keeps followers in memory), in every
//     one of their eight combinations.
func WrapEventLog(log core.EventLog, m *Metrics) core.EventLog {
	b := &loggedLog{EventLog: log, m: m}
	var isFA, isBA, isFR bool
	b.fa, isFA = log.(core.FinishingAppender)
	b.ba, isBA = log.(core.BatchAppender)
	b.fr, isFR = log.(core.FollowerRegistry)
	fa, ba, fr := faImpl{b}, baImpl{b}, frImpl{b}
	switch {
	case isFA && isBA && isFR:
		return struct {
			*loggedLog
			faImpl
			baImpl
			frImpl
		}{b, fa, ba, fr}
	case isFA && isBA:
		return struct {
			*loggedLog
			faImpl
			baImpl
		}{b, fa, ba}
	case isFA && isFR:
		return struct {
			*loggedLog
			faImpl
			frImpl
		}{b, fa, fr}
	case isBA && isFR:
		return struct {
			*loggedLog
			baImpl
			frImpl
		}{b, ba, fr}
	case isFA:
		return struct {
			*loggedLog
			faImpl
		}{b, fa}
	case isBA:
		return struct {
			*loggedLog
			baImpl
		}{b, ba}
	case isFR:
		return struct {
			*loggedLog
			frImpl
		}{b, fr}
	}
	return b
}

type loggedLog struct {
	core.EventLog
	m  *Metrics
	fa core.FinishingAppender
	ba core.BatchAppender
	fr core.FollowerRegistry
	// latencies holds each operation's histogram once used (an append's
	// label lookup is not repeated per event).
	latencies [len(logOps)]atomic.Pointer[prometheus.Observer]
}

// AfterCancel is the log's own (CancelNotifier), or the engine's fallback
// on its WatchCancel.
func (l *loggedLog) AfterCancel(ctx context.Context, runID string, f func()) (func(), error) {
	return core.AfterCancel(ctx, l.EventLog, runID, f)
}

// ProcessLocal is the log's answer, false if it has none (as the engine
// reads a log without the method).
func (l *loggedLog) ProcessLocal() bool {
	pl, ok := l.EventLog.(core.ProcessLocal)
	return ok && pl.ProcessLocal()
}

// logOps are the operations timed, by their index in loggedLog.latencies.
var logOps = [...]string{"append", "read", "subscribe", "finish", "append_finish", "append_all"}

const (
	opAppend = iota
	opRead
	opSubscribe
	opFinish
	opAppendFinish
	opAppendAll
)

// Unwrap returns the decorated log.
func (l *loggedLog) Unwrap() core.EventLog { return l.EventLog }

func (l *loggedLog) observe(op int, start time.Time, err error) {
	h := l.latencies[op].Load()
	if h == nil {
		o := l.m.logLatency.WithLabelValues(logOps[op])
		h = &o
		l.latencies[op].Store(h)
	}
	(*h).Observe(time.Since(start).Seconds())
	if err != nil && !isGone(err) && !errors.Is(err, context.Canceled) {
		l.m.logErrors.WithLabelValues(logOps[op]).Inc()
	}
}

func isGone(err error) bool {
	var ge *core.GoneError
	return errors.As(err, &ge)
}

func (l *loggedLog) Append(ctx context.Context, ev *core.Event) (int64, error) {
	start := time.Now()
	i, err := l.EventLog.Append(ctx, ev)
	l.observe(opAppend, start, err)
	return i, err
}

func (l *loggedLog) Read(ctx context.Context, p core.ReadParams) ([]core.Event, error) {
	start := time.Now()
	evs, err := l.EventLog.Read(ctx, p)
	l.observe(opRead, start, err)
	return evs, err
}

func (l *loggedLog) Subscribe(ctx context.Context, p core.ReadParams) (core.Subscription, error) {
	start := time.Now()
	sub, err := l.EventLog.Subscribe(ctx, p)
	l.observe(opSubscribe, start, err)
	if err != nil {
		return nil, err
	}
	l.m.logSubs.Inc()
	return &loggedSub{Subscription: sub, m: l.m}, nil
}

func (l *loggedLog) Finish(ctx context.Context, runID string) error {
	start := time.Now()
	err := l.EventLog.Finish(ctx, runID)
	l.observe(opFinish, start, err)
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
	f.l.observe(opAppendFinish, start, err)
	return i, err
}

type baImpl struct{ l *loggedLog }

func (b baImpl) AppendAll(ctx context.Context, evs []*core.Event, finish bool) (int64, error) {
	start := time.Now()
	i, err := b.l.ba.AppendAll(ctx, evs, finish)
	b.l.observe(opAppendAll, start, err)
	return i, err
}

type frImpl struct{ l *loggedLog }

func (f frImpl) Follow(ctx context.Context, runID string, linger time.Duration) (func(), error) {
	return f.l.fr.Follow(ctx, runID, linger)
}

func (f frImpl) FollowedUntil(ctx context.Context, runID string) (time.Time, error) {
	return f.l.fr.FollowedUntil(ctx, runID)
}
