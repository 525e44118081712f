package tracing_test

import (
	"context"
	"testing"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/model/scripted"
	"github.com/agentgate/agentgate/core/tool"
	"github.com/agentgate/agentgate/core/trace"
	"github.com/agentgate/agentgate/core/trace/tracing"
	"github.com/agentgate/agentgate/internal/cputime"
	"github.com/agentgate/agentgate/internal/testutil/enginetest"
)

// discard is a SpanWriter that keeps nothing: the benchmark measures the
// instrumentation, not a store.
type discard struct{}

func (discard) WriteSpans(context.Context, []trace.Span) error { return nil }

// BenchmarkRunBlocking: blocking runs of a scripted agent (two model
// requests, one tool call) on SQLite, untraced, traced into a discarding
// writer (the instrumentation alone), and traced into the SQLite store the
// runs are in (what a gateway does; the spans still queued are written
// before the timer stops, so their writes are in the figures). cpu-µs/run is
// the process's CPU per run: the engine's, the tracer's, the store
// processor's and SQLite's writers' goroutines alike.
func BenchmarkRunBlocking(b *testing.B) {
	for _, mode := range []string{"untraced", "traced", "traced-sqlite"} {
		b.Run(mode, func(b *testing.B) {
			a := scriptedAgentB(b)
			env := enginetest.New(b, enginetest.Options{}, a)
			var tr *tracing.Tracing
			if mode != "untraced" {
				var w trace.SpanWriter = discard{}
				if mode == "traced-sqlite" {
					w = env.Store
				}
				var err error
				if tr, err = tracingNew(w); err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
				env.Engine.AddRunObserver(tr.Observer)
			}
			ctx := context.Background()
			b.ReportAllocs()
			cpu0, _ := cputime.Process()
			b.ResetTimer()
			for range b.N {
				run, err := env.Engine.RunBlocking(ctx, core.StartParams{AgentID: "calc", Message: "six times seven?", Blocking: true})
				if err != nil || run.Status != core.RunCompleted {
					b.Fatalf("%v %v", err, run)
				}
			}
			if tr != nil {
				if err := tr.ForceFlush(ctx); err != nil {
					b.Fatal(err)
				}
			}
			cpu1, _ := cputime.Process()
			b.ReportMetric(float64((cpu1-cpu0).Microseconds())/float64(b.N), "cpu-µs/run")
		})
	}
}

func scriptedAgentB(b testing.TB) core.Agent {
	b.Helper()
	return scriptedAgentTB(b, "calc", []scripted.Rule{{
		ToolCalls: []scripted.Call{{Name: "calculator", Arguments: map[string]any{"expression": "6*7"}}},
		Reply:     "the answer is {{tool_result}}",
	}}, tool.Calculator())
}
