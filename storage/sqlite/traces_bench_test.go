package sqlite_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core/trace"
)

// BenchmarkWriteSpans writes batches of 20 spans (a run's model and tool
// calls) into a file database: each batch a new trace, or (long) the last
// 20 spans of a trace of 2,000 again (a retried export), whose summary is
// recomputed with aggregates over the spans' covering index, not by
// reading the trace's spans.
func BenchmarkWriteSpans(b *testing.B) {
	batch := func(tid string, n, from int) []trace.Span {
		start := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
		out := make([]trace.Span, n)
		for i := range out {
			k := from + i
			parent := tid + "-0"
			if k == 0 {
				parent = ""
			}
			out[i] = trace.Span{SpanID: fmt.Sprintf("%s-%d", tid, k), TraceID: tid, ParentSpanID: parent, Name: "execute_tool current_time",
				StatusCode: trace.StatusOK, StartTime: start.Add(time.Duration(k) * time.Millisecond), EndTime: start.Add(time.Duration(k+5) * time.Millisecond),
				DurationMS: 5, RunID: "run-" + tid, SessionID: "sess", UserID: "ada", AgentID: "assistant",
				Attributes: map[string]any{trace.AttrSpanType: trace.SpanTool, "gen_ai.tool.name": "current_time",
					trace.AttrInput: `{"tz":"Europe/Paris"}`, trace.AttrOutput: "10:30"}}
		}
		return out
	}
	for _, long := range []bool{false, true} {
		b.Run(map[bool]string{false: "new-trace", true: "long-trace"}[long], func(b *testing.B) {
			s := openFile(b)
			ctx := b.Context()
			if long {
				for i := 0; i < 100; i++ {
					if err := s.WriteSpans(ctx, batch("long", 20, i*20)); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				tid, from := fmt.Sprintf("t%d", i), 0
				if long {
					tid, from = "long", 1980
				}
				if err := s.WriteSpans(ctx, batch(tid, 20, from)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*20)/b.Elapsed().Seconds(), "spans/s")
		})
	}
}
