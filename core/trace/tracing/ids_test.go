package tracing

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	oteltrace "go.opentelemetry.io/otel/trace"
)

func TestIDGeneratorTimeOrdered(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	g := IDGenerator{now: func() time.Time { return at }}
	ctx := context.Background()
	seen := map[oteltrace.TraceID]bool{}
	spans := map[oteltrace.SpanID]bool{}
	var prev oteltrace.TraceID
	for i := range 2000 {
		if i%100 == 0 {
			at = at.Add(time.Millisecond)
		}
		tid, sid := g.NewIDs(ctx)
		if !tid.IsValid() || !sid.IsValid() {
			t.Fatalf("invalid ids %s %s", tid, sid)
		}
		if got := int64(binary.BigEndian.Uint64(tid[0:8]) >> 16); got != at.UnixMilli() {
			t.Fatalf("trace id %s: time prefix %d, want %d", tid, got, at.UnixMilli())
		}
		if i%100 == 0 && i > 0 && tid.String() <= prev.String() {
			t.Fatalf("trace id %s of a later millisecond sorts before %s", tid, prev)
		}
		prev = tid
		if seen[tid] || spans[sid] {
			t.Fatalf("id repeated: %s %s", tid, sid)
		}
		seen[tid], spans[sid] = true, true
		child := g.NewSpanID(ctx, tid)
		if !child.IsValid() || spans[child] {
			t.Fatalf("span id %s invalid or repeated", child)
		}
		spans[child] = true
		for _, s := range []oteltrace.SpanID{sid, child} {
			if got := int64(binary.BigEndian.Uint64(s[:]) >> 40); got != (at.UnixMilli()>>6)&(1<<24-1) {
				t.Fatalf("span id %s: time prefix %d, want %d", s, got, (at.UnixMilli()>>6)&(1<<24-1))
			}
		}
	}
	// A span id of 64 ms later sorts after one of now.
	before := g.NewSpanID(ctx, prev)
	at = at.Add(64 * time.Millisecond)
	if later := g.NewSpanID(ctx, prev); later.String() <= before.String() {
		t.Fatalf("span id %s of 64 ms later sorts before %s", later, before)
	}
}

// The ratio sampler reads the trace id's last 8 bytes: they stay random,
// so a ratio still samples that share of traces.
func TestIDGeneratorRatioSampling(t *testing.T) {
	s := sdktrace.TraceIDRatioBased(0.25)
	g := IDGenerator{}
	sampled := 0
	const n = 20000
	for range n {
		tid, _ := g.NewIDs(context.Background())
		r := s.ShouldSample(sdktrace.SamplingParameters{ParentContext: context.Background(), TraceID: tid, Name: "x"})
		if r.Decision == sdktrace.RecordAndSample {
			sampled++
		}
	}
	if share := float64(sampled) / n; share < 0.22 || share > 0.28 {
		t.Fatalf("ratio 0.25 sampled %.3f of the traces", share)
	}
}

// Tracing's provider makes its trace and span ids with IDGenerator: the
// ids of a new trace and its root span start with the current time.
func TestNewUsesTimeOrderedTraceIDs(t *testing.T) {
	tr, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tr.Shutdown(context.Background()) }()
	before := time.Now().UnixMilli()
	_, span := tr.Provider.Tracer("t").Start(context.Background(), "root")
	span.End()
	after := time.Now().UnixMilli()
	tid := span.SpanContext().TraceID()
	if ms := int64(binary.BigEndian.Uint64(tid[0:8]) >> 16); ms < before || ms > after {
		t.Fatalf("trace id %s: time prefix %d not within [%d, %d]", tid, ms, before, after)
	}
	sid := span.SpanContext().SpanID()
	if p := int64(binary.BigEndian.Uint64(sid[:]) >> 40); p < (before>>6)&(1<<24-1) || p > (after>>6)&(1<<24-1) {
		t.Fatalf("span id %s: time prefix %d not within [%d, %d]", sid, p, (before>>6)&(1<<24-1), (after>>6)&(1<<24-1))
	}
}
