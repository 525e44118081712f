package tracing_test

import (
	"context"
	"testing"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/trace/tracing"
	"github.com/agentgate/agentgate/internal/testutil/enginetest"
)

// maxTracedAllocs bounds the allocations tracing adds to a blocking run
// of two model requests and a tool call (four spans, written a run's spans
// a batch into a discarding writer). With a start option and slices per
// span, a map of open tools per run and every attribute string boxed anew
// it was 131; about 88 since (the SDK's own per span: the span, its
// attribute copy and dedupe, its snapshot, its context; the stored span's
// map; the batch's write). The bound leaves room for a dependency's
// release, not for those.
const maxTracedAllocs = 110

// TestTracingAllocationBudget: a traced blocking run allocates at most
// maxTracedAllocs more than an untraced one.
func TestTracingAllocationBudget(t *testing.T) {
	allocs := func(traced bool) float64 {
		env := enginetest.New(t, enginetest.Options{}, scriptedAgentB(t))
		if traced {
			// A batch a run: the writer converts each run's spans
			// while the runs go on, so the conversion is counted.
			tr, err := tracing.New(tracing.Config{Writer: discard{}, Store: tracing.StoreOptions{BatchSize: 4}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
			env.Engine.AddRunObserver(tr.Observer)
		}
		ctx := context.Background()
		return testing.AllocsPerRun(200, func() {
			run, err := env.Engine.RunBlocking(ctx, core.StartParams{AgentID: "calc", Message: "six times seven?", Blocking: true})
			if err != nil || run.Status != core.RunCompleted {
				t.Fatalf("%v %v", err, run)
			}
		})
	}
	untraced, traced := allocs(false), allocs(true)
	t.Logf("allocs per run: untraced %.0f, traced %.0f", untraced, traced)
	if extra := traced - untraced; extra > maxTracedAllocs {
		t.Errorf("tracing adds %.0f allocations a run, want ≤ %d", extra, maxTracedAllocs)
	}
}
