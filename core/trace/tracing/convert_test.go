package tracing

import (
	"context"
	"reflect"
	"strconv"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/agentgate/agentgate/core/trace"
)

// runSpans are the ended spans of n runs like the observer's: a run span
// and three children with the run's id, its types and operations.
func runSpans(n int) []sdktrace.ReadOnlySpan {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithIDGenerator(IDGenerator{}))
	tr := tp.Tracer("t")
	for i := range n {
		id := "run-" + strconv.Itoa(i)
		ctx, root := tr.Start(context.Background(), "invoke_agent calc")
		root.SetAttributes(attribute.String(trace.AttrSpanType, trace.SpanAgent), attribute.String(trace.AttrRunID, id),
			attribute.String(trace.AttrSessionID, "s-"+id), attribute.String(trace.AttrAgentID, "calc"),
			attribute.String(trace.AttrInput, "six times seven?"))
		for j := range 3 {
			_, c := tr.Start(ctx, "chat m")
			c.SetAttributes(attribute.String(trace.AttrSpanType, trace.SpanLLM), attribute.String(trace.AttrRunID, id),
				attribute.Int64(AttrGenAIInputTokens, int64(300+j)), attribute.Float64(AttrTTFT, 0.25))
			c.AddEvent("e", oteltrace.WithAttributes(attribute.String("reason", "r")))
			c.End()
		}
		root.SetAttributes(attribute.String(trace.AttrOutput, "42"))
		root.End()
	}
	return rec.Ended()
}

// TestConverterMatchesConvert: the store processor's converter (strings
// and span ids made once over batches) makes what Convert makes, span by
// span, across batches.
func TestConverterMatchesConvert(t *testing.T) {
	spans := runSpans(6)
	now := time.Now().UTC()
	c := newConverter()
	for b := 0; b < len(spans); b += 8 { // batches across runs
		for _, s := range spans[b:min(b+8, len(spans))] {
			got, want := c.convert(s, now, ""), Convert(s, now)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("converter:\n%+v\nConvert:\n%+v", got, want)
			}
			if got.RunID == "" || got.SessionID == "" && got.ParentSpanID == "" {
				t.Fatalf("identity missing: %+v", got)
			}
		}
		c.reset()
	}
}

func BenchmarkConvert(b *testing.B) {
	spans := runSpans(64)
	now := time.Now().UTC()
	b.Run("Convert", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			for _, s := range spans {
				_ = Convert(s, now)
			}
		}
	})
	b.Run("batch", func(b *testing.B) {
		b.ReportAllocs()
		c := newConverter()
		for range b.N {
			for _, s := range spans {
				_ = c.convert(s, now, "")
			}
			c.reset()
		}
	})
}
