package workflow_test

import (
	"context"
	"testing"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/workflow"
	"github.com/agentgate/agentgate/internal/testutil/enginetest"
)

// A workflow paused at a step inside a loop on one engine is continued on
// another sharing its store and log: the progress is in the stored paused
// state, not in the first engine's memory.
func TestPausedWorkflowContinuesOnAnotherReplica(t *testing.T) {
	t.Parallel()
	def := func() *workflow.Workflow {
		return build(t, workflow.Definition{ID: "rep", Steps: []workflow.Step{
			{Name: "first", Func: upper},
			{Name: "twice", Type: workflow.TypeLoop, MaxIterations: 2, Steps: []workflow.Step{
				{Name: "echo", Agent: "echo"},
				{Name: "ok", Func: upper, RequiresConfirmation: true},
			}},
		}})
	}
	a := enginetest.New(t, enginetest.Options{}, replyAgent(t, "echo", "e:{{input}}"), def())
	b := a.Replica(t, core.EngineConfig{}, replyAgent(t, "echo", "e:{{input}}"), def())
	ctx := context.Background()
	run, evs := runWorkflow(t, a.Engine, "rep", "x")
	yes := true
	for i, eng := range []*core.Engine{b, a.Engine} { // iteration 1 continues on b, iteration 2 on a
		end := last(evs)
		if end.Event != core.EventWorkflowPaused || end.PausedStepName != "ok" {
			t.Fatalf("pause %d: %+v", i, end)
		}
		reqs := stepReqs(t, end)
		reqs[0].Confirmed = &yes
		_, after, err := eng.Continue(ctx, core.ContinueParams{RunID: run.RunID, Tools: workflow.Decisions(reqs)})
		if err != nil {
			t.Fatal(err)
		}
		evs = read(t, eng, run.RunID, after)
	}
	end := last(evs)
	if end.Event != core.EventWorkflowCompleted || end.Content != "E:E:X" {
		t.Fatalf("end = %s %q", end.Event, end.Content)
	}
	kids, _ := b.List(ctx, core.ListRunsParams{ParentRunID: run.RunID})
	if len(kids) != 2 {
		t.Fatalf("agent steps ran %d times, want 2 (one per iteration)", len(kids))
	}
}
