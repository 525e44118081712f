package workflow_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/workflow"
)

func stepReqs(t *testing.T, ev core.Event) []workflow.StepRequirement {
	t.Helper()
	var rs []workflow.StepRequirement
	if err := json.Unmarshal(ev.StepRequirements, &rs); err != nil {
		t.Fatalf("step_requirements %s: %v", ev.StepRequirements, err)
	}
	return rs
}

func TestStepConfirmationPausesAndContinues(t *testing.T) {
	t.Parallel()
	var got workflow.StepInput
	publish := workflow.Func("publish", func(_ context.Context, in workflow.StepInput) (workflow.StepOutput, error) {
		got = in
		return workflow.StepOutput{Content: "published " + in.Message + " to " + in.UserInput["channel"].(string)}, nil
	})
	w := build(t, workflow.Definition{ID: "hitl", Steps: []workflow.Step{
		{Name: "draft", Func: upper},
		{Name: "publish", Func: publish, RequiresConfirmation: true, ConfirmationMessage: "Publish it?",
			RequiresUserInput: true, UserInputMessage: "Where?", UserInputSchema: []core.UserInputField{{Name: "channel", FieldType: "str"}}},
	}})
	eng := engine(t, w)
	ctx := context.Background()
	run, evs := runWorkflow(t, eng, "hitl", "news")
	end := last(evs)
	if end.Event != core.EventWorkflowPaused || end.PausedStepName != "publish" || end.PausedStepIndex == nil || *end.PausedStepIndex != 1 {
		t.Fatalf("end = %+v (%v)", end, own(evs))
	}
	var paused core.Event
	for _, e := range evs {
		if e.Event == core.EventStepPaused {
			paused = e
		}
	}
	if !paused.RequiresConfirmation || paused.ConfirmationMessage != "Publish it?" || !paused.RequiresUserInput || len(paused.UserInputSchema) != 1 ||
		paused.PausedStepName != "publish" || paused.PausedStepIndex == nil || len(stepReqs(t, paused)) != 1 {
		t.Fatalf("StepPaused = %+v", paused)
	}
	reqs := stepReqs(t, end)
	if len(reqs) != 1 || reqs[0].StepName != "publish" || !reqs[0].RequiresConfirmation || reqs[0].StepID == "" {
		t.Fatalf("step_requirements = %+v", reqs)
	}
	if len(end.Tools) != 1 || end.Tools[0].ToolCallID != reqs[0].StepID || !end.Tools[0].RequiresUserInput {
		t.Fatalf("synthetic pending call = %+v", end.Tools)
	}
	if rs := results(t, end.StepResults); len(rs) != 1 || rs[0].Content != "NEWS" {
		t.Fatalf("step_results at the pause = %+v", rs)
	}
	// A decision without the user input is refused by the engine.
	yes := true
	reqs[0].Confirmed = &yes
	if _, _, err := eng.Continue(ctx, core.ContinueParams{RunID: run.RunID, Tools: workflow.Decisions(reqs)}); core.CodeOf(err) != core.CodeInvalid {
		t.Fatalf("continue without user input: %v", err)
	}
	reqs[0].UserInput = map[string]any{"channel": "blog"}
	_, after, err := eng.Continue(ctx, core.ContinueParams{RunID: run.RunID, Tools: workflow.Decisions(reqs)})
	if err != nil {
		t.Fatal(err)
	}
	rest := read(t, eng, run.RunID, after)
	end = last(rest)
	if rest[0].Event != core.EventStepContinued || end.Event != core.EventWorkflowCompleted || end.Content != "published NEWS to blog" {
		t.Fatalf("after continue = %v, %q", names(rest), end.Content)
	}
	if count(rest, core.EventStepStarted) != 1 || got.Input != "news" || got.Previous["draft"].Content != "NEWS" {
		t.Fatalf("the finished step ran again or the input is wrong: %v, %+v", own(rest), got)
	}
	if rs := results(t, end.StepResults); len(rs) != 2 {
		t.Fatalf("step_results = %+v", rs)
	}
}

func TestRejectedStepIsSkipped(t *testing.T) {
	t.Parallel()
	w := build(t, workflow.Definition{ID: "hitl", Steps: []workflow.Step{
		{Name: "draft", Func: upper},
		{Name: "risky", Agent: "nope", RequiresConfirmation: true},
		{Name: "echo", Agent: "echo"},
	}})
	eng := engine(t, replyAgent(t, "echo", "echo {{input}}"), w)
	run, evs := runWorkflow(t, eng, "hitl", "x")
	reqs := stepReqs(t, last(evs))
	no := false
	reqs[0].Confirmed = &no
	_, after, err := eng.Continue(context.Background(), core.ContinueParams{RunID: run.RunID, Tools: workflow.Decisions(reqs)})
	if err != nil {
		t.Fatal(err)
	}
	end := last(read(t, eng, run.RunID, after))
	if end.Event != core.EventWorkflowCompleted || end.Content != "echo X" {
		t.Fatalf("end = %s %q", end.Event, end.Content)
	}
	if rs := results(t, end.StepResults); len(rs) != 2 || rs[1].StepName != "echo" {
		t.Fatalf("step_results = %+v", rs)
	}
}

func TestAgentStepPauseContinues(t *testing.T) {
	t.Parallel()
	w := build(t, workflow.Definition{ID: "calc", Steps: []workflow.Step{
		{Name: "prepare", Func: upper},
		{Name: "both", Type: workflow.TypeParallel, Steps: []workflow.Step{
			{Name: "compute", Agent: "hitl"}, {Name: "note", Agent: "echo"},
		}},
		{Name: "finish", Func: upper},
	}})
	eng := engine(t, hitlAgent(t, "hitl"), replyAgent(t, "echo", "noted {{input}}"), w)
	ctx := context.Background()
	run, evs := runWorkflow(t, eng, "calc", "go")
	end := last(evs)
	if end.Event != core.EventWorkflowPaused || len(end.Requirements) != 1 || end.PausedStepName != "compute" {
		t.Fatalf("end = %+v (%v)", end, names(evs))
	}
	req := end.Requirements[0]
	if req.MemberAgentID != "hitl" || req.MemberRunID == "" || req.ToolExecution == nil || req.ToolExecution.ToolName != "calculator" {
		t.Fatalf("requirement = %+v", req)
	}
	sr := stepReqs(t, end)
	if len(sr) != 1 || !sr[0].RequiresExecutorInput || sr[0].ExecutorRunID != req.MemberRunID || sr[0].ExecutorType != "agent" {
		t.Fatalf("step_requirements = %+v", sr)
	}
	var sawChildPause bool
	for _, e := range evs {
		sawChildPause = sawChildPause || (e.Forwarded() && e.Event == core.EventRunPaused && e.AgentID == "hitl")
	}
	if !sawChildPause {
		t.Fatalf("the agent's RunPaused is missing: %v", names(evs))
	}
	// Continue the way a client sends agno's step_requirements.
	yes := true
	sr[0].ExecutorRequirements[0].Confirmation = &yes
	_, after, err := eng.Continue(ctx, core.ContinueParams{RunID: run.RunID, Tools: workflow.Decisions(sr)})
	if err != nil {
		t.Fatal(err)
	}
	rest := read(t, eng, run.RunID, after)
	end = last(rest)
	if end.Event != core.EventWorkflowCompleted || !strings.Contains(end.Content, "RESULT 42") || !strings.Contains(end.Content, "NOTED GO") {
		t.Fatalf("after continue: %v %q", names(rest), end.Content)
	}
	if count(rest, core.EventStepExecutorContinued) != 1 || count(rest, core.EventParallelExecutionStarted) != 0 || count(rest, core.EventParallelExecutionCompleted) != 1 {
		t.Fatalf("events after continue = %v", own(rest))
	}
	if m, _ := eng.Get(ctx, req.MemberRunID); m.Status != core.RunCompleted {
		t.Fatalf("child after continue = %+v", m)
	}
	kids, _ := eng.List(ctx, core.ListRunsParams{ParentRunID: run.RunID})
	if len(kids) != 2 {
		t.Fatalf("the agent steps ran again: %d child runs", len(kids))
	}
}
