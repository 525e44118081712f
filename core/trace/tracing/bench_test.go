package tracing_test

import (
	"context"
	"testing"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/model/scripted"
	"github.com/agentgate/agentgate/core/tool"
	"github.com/agentgate/agentgate/core/trace"
	"github.com/agentgate/agentgate/internal/testutil/enginetest"
)

// discard is a SpanWriter that keeps nothing: the benchmark measures the
// instrumentation, not a store.
type discard struct{}

func (discard) WriteSpans(context.Context, []trace.Span) error { return nil }

// BenchmarkRunBlocking: blocking runs of a scripted agent (two model
// requests, one tool call) on SQLite, untraced and traced into a
// discarding writer.
func BenchmarkRunBlocking(b *testing.B) {
	for _, traced := range []bool{false, true} {
		name := "untraced"
		if traced {
			name = "traced"
		}
		b.Run(name, func(b *testing.B) {
			a := scriptedAgentB(b)
			env := enginetest.New(b, enginetest.Options{}, a)
			if traced {
				tr, err := tracingNew(discard{})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
				env.Engine.AddRunObserver(tr.Observer)
			}
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				run, err := env.Engine.RunBlocking(ctx, core.StartParams{AgentID: "calc", Message: "six times seven?", Blocking: true})
				if err != nil || run.Status != core.RunCompleted {
					b.Fatalf("%v %v", err, run)
				}
			}
		})
	}
}

func scriptedAgentB(b *testing.B) core.Agent {
	b.Helper()
	return scriptedAgentTB(b, "calc", []scripted.Rule{{
		ToolCalls: []scripted.Call{{Name: "calculator", Arguments: map[string]any{"expression": "6*7"}}},
		Reply:     "the answer is {{tool_result}}",
	}}, tool.Calculator())
}
