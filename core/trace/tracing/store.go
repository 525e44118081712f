package tracing

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/agentgate/agentgate/core/trace"
)

// Defaults of the store processor.
const (
	DefaultQueueSize     = 8192
	DefaultBatchSize     = 512
	DefaultFlushInterval = 500 * time.Millisecond
	// writeTimeout bounds one batch's write.
	writeTimeout = 10 * time.Second
	// logEvery bounds how often a dropped or failed span is logged.
	logEvery = 10 * time.Second
)

// StoreProcessor is an sdktrace.SpanProcessor that stores finished spans
// through a trace.SpanWriter in batches, from a goroutine of its own: a
// span's end only appends it to the pending spans, and a full queue drops
// the span (counted in Dropped) rather than slowing the run.
//
// A span's end does not wake the writer: the writer wakes when a batch's
// worth is pending, when the flush interval passes, or on ForceFlush and
// Shutdown. (A channel per span woke the parked writer goroutine for
// every span end: a goroutine switch, and often a futex to start an idle
// thread, per span.)
type StoreProcessor struct {
	w        trace.SpanWriter
	queue    int // most spans pending
	batch    int
	interval time.Duration

	mu      sync.Mutex
	pending []sdktrace.ReadOnlySpan
	spare   []sdktrace.ReadOnlySpan // the writer's emptied buffer, swapped in
	kick    chan struct{}           // a batch is pending (capacity 1)

	flushes  chan chan struct{}
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once

	conv converter // the writer goroutine's

	dropped atomic.Int64
	failed  atomic.Int64
	written atomic.Int64
	log     *rateLog
}

// StoreOptions size a StoreProcessor (zero values take the defaults).
type StoreOptions struct {
	QueueSize     int
	BatchSize     int
	FlushInterval time.Duration
	Logger        *slog.Logger
}

// NewStoreProcessor starts a processor writing to w.
func NewStoreProcessor(w trace.SpanWriter, o StoreOptions) *StoreProcessor {
	if o.QueueSize <= 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = DefaultFlushInterval
	}
	p := &StoreProcessor{
		w: w, queue: o.QueueSize, batch: o.BatchSize, interval: o.FlushInterval,
		pending: make([]sdktrace.ReadOnlySpan, 0, min(o.QueueSize, o.BatchSize)),
		kick:    make(chan struct{}, 1),
		flushes: make(chan chan struct{}), stop: make(chan struct{}), done: make(chan struct{}),
		log:  newRateLog(o.Logger, logEvery),
		conv: newConverter(),
	}
	go p.loop()
	return p
}

// Dropped counts the spans dropped because the queue was full.
func (p *StoreProcessor) Dropped() int64 { return p.dropped.Load() }

// Failed counts the spans whose write failed.
func (p *StoreProcessor) Failed() int64 { return p.failed.Load() }

// Written counts the spans written.
func (p *StoreProcessor) Written() int64 { return p.written.Load() }

// OnStart does nothing.
func (p *StoreProcessor) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

// OnEnd queues a sampled span, or drops it when the queue is full. It
// wakes the writer only when the span completes a batch.
func (p *StoreProcessor) OnEnd(s sdktrace.ReadOnlySpan) {
	if !s.SpanContext().IsSampled() {
		return
	}
	p.mu.Lock()
	if len(p.pending) >= p.queue {
		p.mu.Unlock()
		n := p.dropped.Add(1)
		p.log.warn("trace store queue full: spans dropped", "dropped_total", n)
		return
	}
	p.pending = append(p.pending, s)
	full := len(p.pending) == p.batch
	p.mu.Unlock()
	if full {
		select {
		case p.kick <- struct{}{}:
		default: // already kicked
		}
	}
}

// ForceFlush writes what is queued.
func (p *StoreProcessor) ForceFlush(ctx context.Context) error {
	ack := make(chan struct{})
	select {
	case p.flushes <- ack:
	case <-p.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-ack:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Shutdown writes what is queued and stops.
func (p *StoreProcessor) Shutdown(ctx context.Context) error {
	p.stopOnce.Do(func() { close(p.stop) })
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *StoreProcessor) loop() {
	defer close(p.done)
	t := time.NewTimer(p.interval)
	defer t.Stop()
	for {
		select {
		case <-p.kick:
			p.flush()
		case <-t.C:
			p.flush()
			t.Reset(p.interval)
		case ack := <-p.flushes:
			p.flush()
			close(ack)
		case <-p.stop:
			p.flush()
			return
		}
	}
}

// flush writes the pending spans, a batch at a time, until none are
// pending (spans ending meanwhile are written too).
func (p *StoreProcessor) flush() {
	for {
		p.mu.Lock()
		buf := p.pending
		if len(buf) == 0 {
			p.mu.Unlock()
			return
		}
		p.pending, p.spare = p.spare[:0], nil
		p.mu.Unlock()
		for rest := buf; len(rest) > 0; {
			n := min(len(rest), p.batch)
			p.write(rest[:n])
			rest = rest[n:]
		}
		clear(buf) // the spans are garbage now
		p.mu.Lock()
		p.spare = buf[:0]
		p.mu.Unlock()
	}
}

// write stores buf.
func (p *StoreProcessor) write(buf []sdktrace.ReadOnlySpan) {
	spans := make([]trace.Span, len(buf))
	now := time.Now().UTC()
	c := &p.conv
	for i, s := range buf {
		// A run's spans mostly end one after another: a span of the
		// trace of the one before reuses its trace id's string.
		tid := ""
		if i > 0 && buf[i-1].SpanContext().TraceID() == s.SpanContext().TraceID() {
			tid = spans[i-1].TraceID
		}
		spans[i] = c.convert(s, now, tid)
	}
	c.reset()
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	err := p.w.WriteSpans(ctx, spans)
	cancel()
	if err != nil {
		n := p.failed.Add(int64(len(spans)))
		p.log.warn("storing spans failed", "spans", len(spans), "failed_total", n, "err", err)
	} else {
		p.written.Add(int64(len(spans)))
	}
}

// Convert is the stored span of s; createdAt is when it is stored.
func Convert(s sdktrace.ReadOnlySpan, createdAt time.Time) trace.Span {
	var c converter
	return c.convert(s, createdAt, "")
}

// Bounds of a converter's caches.
const (
	maxBoxed    = 4096 // strings boxed
	maxBoxedLen = 128  // longest string boxed once
	maxIDs      = 4096 // span ids made strings
)

// converter makes stored spans from a batch of ended spans, making what
// the spans of a batch share once: a run's id, session and agent are on
// each of its spans and the span types and operations on most, and each
// string put in an attribute map is boxed (allocated) anew; a run span's
// id is its children's parent id. Not safe for concurrent use; reset
// between batches (what it holds is the batch's).
//
// The zero converter caches nothing (Convert's, for one span).
type converter struct {
	boxed map[string]any
	ids   map[oteltrace.SpanID]string
}

func newConverter() converter {
	return converter{boxed: make(map[string]any, 64), ids: make(map[oteltrace.SpanID]string, 64)}
}

func (c *converter) reset() {
	clear(c.boxed)
	clear(c.ids)
}

// box is s as an any, boxed once a batch for a short one.
func (c *converter) box(s string) any {
	if c.boxed == nil || len(s) > maxBoxedLen {
		return s
	}
	if v, ok := c.boxed[s]; ok {
		return v
	}
	var v any = s
	if c.boxed != nil && len(c.boxed) < maxBoxed {
		c.boxed[s] = v
	}
	return v
}

// spanID is id's string, made once a batch.
func (c *converter) spanID(id oteltrace.SpanID) string {
	if c.ids == nil {
		return id.String()
	}
	if s, ok := c.ids[id]; ok {
		return s
	}
	s := id.String()
	if c.ids != nil && len(c.ids) < maxIDs {
		c.ids[id] = s
	}
	return s
}

// value is v as its map value: AsInterface, with strings boxed once.
func (c *converter) value(v attribute.Value) any {
	if v.Type() == attribute.STRING {
		return c.box(v.AsString())
	}
	return v.AsInterface()
}

// convert is Convert with the string of s's trace id when the caller has
// it ("": made here).
func (c *converter) convert(s sdktrace.ReadOnlySpan, createdAt time.Time, traceID string) trace.Span {
	sc := s.SpanContext()
	if traceID == "" {
		traceID = sc.TraceID().String()
	}
	out := trace.Span{
		SpanID: c.spanID(sc.SpanID()), TraceID: traceID, Name: s.Name(),
		SpanKind:  spanKind(s.SpanKind()),
		StartTime: s.StartTime().UTC(), EndTime: s.EndTime().UTC(),
		CreatedAt: createdAt,
	}
	if p := s.Parent(); p.SpanID().IsValid() {
		out.ParentSpanID = c.spanID(p.SpanID())
	}
	out.DurationMS = out.EndTime.Sub(out.StartTime).Milliseconds()
	switch st := s.Status(); st.Code {
	case codes.Ok:
		out.StatusCode = "OK"
	case codes.Error:
		out.StatusCode, out.StatusMessage = "ERROR", st.Description
	default:
		out.StatusCode = "UNSET"
	}
	if attrs := s.Attributes(); len(attrs) > 0 {
		out.Attributes = make(map[string]any, len(attrs))
		for _, kv := range attrs {
			var v any
			switch kv.Value.Type() {
			case attribute.STRING:
				sv := kv.Value.AsString()
				switch kv.Key {
				case trace.AttrRunID:
					out.RunID = sv
				case trace.AttrSessionID:
					out.SessionID = sv
				case trace.AttrUserID:
					out.UserID = sv
				case trace.AttrAgentID:
					out.AgentID = sv
				case trace.AttrTeamID:
					out.TeamID = sv
				case trace.AttrWorkflowID:
					out.WorkflowID = sv
				}
				v = c.box(sv)
			default:
				v = kv.Value.AsInterface()
			}
			out.Attributes[string(kv.Key)] = v
		}
	}
	if evs := s.Events(); len(evs) > 0 {
		out.Events = make([]trace.SpanEvent, len(evs))
		for i, ev := range evs {
			se := trace.SpanEvent{Name: ev.Name, Time: ev.Time.UTC()}
			if len(ev.Attributes) > 0 {
				se.Attributes = c.attrMap(ev.Attributes)
			}
			out.Events[i] = se
		}
	}
	return out
}

// spanKind is k's name in capitals ("INTERNAL", "SERVER", ...).
func spanKind(k oteltrace.SpanKind) string {
	switch k {
	case oteltrace.SpanKindInternal:
		return "INTERNAL"
	case oteltrace.SpanKindServer:
		return "SERVER"
	case oteltrace.SpanKindClient:
		return "CLIENT"
	case oteltrace.SpanKindProducer:
		return "PRODUCER"
	case oteltrace.SpanKindConsumer:
		return "CONSUMER"
	}
	return strings.ToUpper(k.String())
}

func (c *converter) attrMap(kvs []attribute.KeyValue) map[string]any {
	m := make(map[string]any, len(kvs))
	for _, kv := range kvs {
		m[string(kv.Key)] = c.value(kv.Value)
	}
	return m
}

// rateLog logs a warning at most once per interval, saying how many it
// left out meanwhile.
type rateLog struct {
	logger  *slog.Logger
	every   time.Duration
	mu      sync.Mutex
	last    time.Time
	skipped int
}

func newRateLog(l *slog.Logger, every time.Duration) *rateLog {
	if l == nil {
		l = slog.Default()
	}
	return &rateLog{logger: l, every: every}
}

func (r *rateLog) warn(msg string, args ...any) {
	r.mu.Lock()
	now := time.Now()
	if !r.last.IsZero() && now.Sub(r.last) < r.every {
		r.skipped++
		r.mu.Unlock()
		return
	}
	skipped := r.skipped
	r.last, r.skipped = now, 0
	r.mu.Unlock()
	if skipped > 0 {
		args = append(args, "suppressed", skipped)
	}
	r.logger.Warn(msg, args...)
}
