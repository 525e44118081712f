package workflow_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/workflow"
)

func results(t *testing.T, raw json.RawMessage) []workflow.StepResult {
	t.Helper()
	var rs []workflow.StepResult
	if err := json.Unmarshal(raw, &rs); err != nil {
		t.Fatalf("step_results %s: %v", raw, err)
	}
	return rs
}

func TestSequenceFeedsEachStepThePreviousOutput(t *testing.T) {
	t.Parallel()
	w := build(t, workflow.Definition{ID: "seq", Steps: []workflow.Step{
		{Name: "shout", Func: upper},
		{Name: "answer", Agent: "echo"},
		{Name: "again", Agent: "echo", Input: `"input was " + input + ", first was " + steps["shout"].content`},
	}})
	eng := engine(t, replyAgent(t, "echo", "echo: {{input}}"), w)
	run, evs := runWorkflow(t, eng, "seq", "hello")
	end := last(evs)
	if end.Event != core.EventWorkflowCompleted || end.Content != "echo: input was hello, first was HELLO" {
		t.Fatalf("end = %s %q (%v)", end.Event, end.Content, names(evs))
	}
	rs := results(t, end.StepResults)
	if len(rs) != 3 || rs[0].Content != "HELLO" || rs[1].Content != "echo: HELLO" || rs[1].ExecutorType != "agent" || rs[1].StepRunID == "" || !rs[2].Success {
		t.Fatalf("step_results = %+v", rs)
	}
	if want := []core.EventType{core.EventWorkflowStarted,
		core.EventStepStarted, core.EventStepCompleted,
		core.EventStepStarted, core.EventStepCompleted,
		core.EventStepStarted, core.EventStepCompleted, core.EventWorkflowCompleted}; !slices.Equal(own(evs), want) {
		t.Fatalf("own events = %v", own(evs))
	}
	// The agent steps' runs are children, their events nested.
	var nested int
	for _, e := range evs {
		if e.Forwarded() {
			nested++
			if e.ParentRunID != run.RunID || e.StepName == "" || e.StepIndex == nil || e.WorkflowID != "seq" {
				t.Fatalf("nested event not labelled: %+v", e)
			}
		}
	}
	if nested == 0 {
		t.Fatal("no nested agent events")
	}
	done, err := eng.Wait(context.Background(), run.RunID, -1)
	if err != nil || done.Status != core.RunCompleted || len(results(t, done.StepResults)) != 3 {
		t.Fatalf("run = %+v, %v", done, err)
	}
	kids, _ := eng.List(context.Background(), core.ListRunsParams{ParentRunID: run.RunID})
	if len(kids) != 2 || kids[0].StepName == "" {
		t.Fatalf("child runs = %+v", kids)
	}
}

func TestParallelCollectsEveryBranch(t *testing.T) {
	t.Parallel()
	w := build(t, workflow.Definition{ID: "par", Steps: []workflow.Step{
		{Name: "both", Type: workflow.TypeParallel, Steps: []workflow.Step{
			{Name: "a", Agent: "alpha"}, {Name: "b", Agent: "beta"}, {Name: "c", Func: upper},
		}},
	}})
	eng := engine(t, replyAgent(t, "alpha", "alpha saw {{input}}"), replyAgent(t, "beta", "beta saw {{input}}"), w)
	_, evs := runWorkflow(t, eng, "par", "x")
	end := last(evs)
	want := "### a\nalpha saw x\n\n### b\nbeta saw x\n\n### c\nX"
	if end.Event != core.EventWorkflowCompleted || end.Content != want {
		t.Fatalf("end = %s %q", end.Event, end.Content)
	}
	if count(evs, core.EventParallelExecutionStarted) != 1 || count(evs, core.EventParallelExecutionCompleted) != 1 || count(evs, core.EventStepCompleted) != 3 {
		t.Fatalf("events = %v", own(evs))
	}
	rs := results(t, end.StepResults)
	if len(rs) != 1 || rs[0].StepType != "Parallel" || len(rs[0].Steps) != 3 || rs[0].Steps[1].Content != "beta saw x" {
		t.Fatalf("step_results = %+v", rs)
	}
}

func TestConditionTakesItsBranch(t *testing.T) {
	t.Parallel()
	w := build(t, workflow.Definition{ID: "cond", Steps: []workflow.Step{
		{Name: "check", Type: workflow.TypeCondition, Condition: `input contains "loud"`,
			Steps: []workflow.Step{{Name: "shout", Func: upper}},
			Else:  []workflow.Step{{Name: "quiet", Agent: "echo"}}},
	}})
	eng := engine(t, replyAgent(t, "echo", "quietly {{input}}"), w)
	for _, c := range []struct{ in, want string }{{"be loud", "BE LOUD"}, {"hush", "quietly hush"}} {
		_, evs := runWorkflow(t, eng, "cond", c.in)
		if end := last(evs); end.Event != core.EventWorkflowCompleted || end.Content != c.want {
			t.Fatalf("%q: end = %s %q", c.in, end.Event, end.Content)
		}
		var started core.Event
		for _, e := range evs {
			if e.Event == core.EventConditionExecutionStarted {
				started = e
			}
		}
		if started.ConditionResult == nil || *started.ConditionResult != (c.in == "be loud") || started.StepName != "check" {
			t.Fatalf("%q: ConditionExecutionStarted = %+v", c.in, started)
		}
	}
}

func TestLoopRepeatsUntilItsEndCondition(t *testing.T) {
	t.Parallel()
	add := workflow.Func("add", func(_ context.Context, in workflow.StepInput) (workflow.StepOutput, error) {
		return workflow.StepOutput{Content: in.Message + "+"}, nil
	})
	w := build(t, workflow.Definition{ID: "loop", Steps: []workflow.Step{
		{Name: "grow", Type: workflow.TypeLoop, MaxIterations: 5, EndCondition: `len(previous) >= 4`,
			Steps: []workflow.Step{{Name: "add", Func: add}}},
		{Name: "bounded", Type: workflow.TypeLoop, MaxIterations: 2, Steps: []workflow.Step{{Name: "add2", Func: add}}},
	}})
	eng := engine(t, w)
	_, evs := runWorkflow(t, eng, "loop", "x")
	end := last(evs)
	if end.Event != core.EventWorkflowCompleted || end.Content != "x+++++" {
		t.Fatalf("end = %s %q (%v)", end.Event, end.Content, own(evs))
	}
	var its []int
	for _, e := range evs {
		switch e.Event {
		case core.EventLoopIterationStarted:
			its = append(its, e.Iteration)
		case core.EventLoopExecutionStarted:
			if e.MaxIterations == 0 {
				t.Fatalf("LoopExecutionStarted without max_iterations: %+v", e)
			}
		}
	}
	if !slices.Equal(its, []int{1, 2, 3, 1, 2}) {
		t.Fatalf("iterations = %v", its)
	}
	if rs := results(t, end.StepResults); len(rs[0].Steps) != 3 || rs[0].StepType != "Loop" {
		t.Fatalf("step_results = %+v", rs)
	}
}

func TestRouterRunsTheChosenRoute(t *testing.T) {
	t.Parallel()
	w := build(t, workflow.Definition{ID: "route", Steps: []workflow.Step{
		{Name: "pick", Type: workflow.TypeRouter, Selector: `input startsWith "code" ? "coder" : "writer"`,
			Choices: []workflow.Step{{Name: "coder", Agent: "coder"}, {Name: "writer", Func: upper}}},
	}})
	eng := engine(t, replyAgent(t, "coder", "func main() {}"), w)
	for _, c := range []struct{ in, want, route string }{{"code it", "func main() {}", "coder"}, {"write it", "WRITE IT", "writer"}} {
		_, evs := runWorkflow(t, eng, "route", c.in)
		if end := last(evs); end.Event != core.EventWorkflowCompleted || end.Content != c.want {
			t.Fatalf("%q: end = %s %q", c.in, end.Event, end.Content)
		}
		for _, e := range evs {
			if e.Event == core.EventRouterExecutionStarted && !slices.Equal(e.SelectedSteps, []string{c.route}) {
				t.Fatalf("%q: selected %v", c.in, e.SelectedSteps)
			}
		}
	}
}

func TestRouterChoosingNoChoiceFailsTheStep(t *testing.T) {
	t.Parallel()
	w := build(t, workflow.Definition{ID: "route", Steps: []workflow.Step{
		{Name: "pick", Type: workflow.TypeRouter, Selector: `input`, Choices: []workflow.Step{{Name: "a", Func: upper}}},
	}})
	eng := engine(t, w)
	_, evs := runWorkflow(t, eng, "route", "nowhere")
	end := last(evs)
	if end.Event != core.EventWorkflowError || end.ErrorType != "step_error" || !strings.Contains(end.Content, `step "pick"`) || !strings.Contains(end.Content, "nowhere") {
		t.Fatalf("end = %+v", end)
	}
}

func TestStepFailureEndsTheWorkflowNamingTheStep(t *testing.T) {
	t.Parallel()
	boom := workflow.Func("boom", func(context.Context, workflow.StepInput) (workflow.StepOutput, error) {
		return workflow.StepOutput{}, errors.New("disk on fire")
	})
	ran := false
	after := workflow.Func("after", func(_ context.Context, in workflow.StepInput) (workflow.StepOutput, error) {
		ran = true
		return workflow.StepOutput{Content: "after " + in.Message}, nil
	})
	eng := engine(t,
		build(t, workflow.Definition{ID: "fails", Steps: []workflow.Step{{Name: "first", Func: upper}, {Name: "explode", Func: boom}, {Name: "never", Func: after}}}),
		build(t, workflow.Definition{ID: "skips", Steps: []workflow.Step{{Name: "first", Func: upper}, {Name: "explode", Func: boom, OnError: workflow.OnErrorSkip}, {Name: "next", Func: after}}}),
		build(t, workflow.Definition{ID: "agentfails", Steps: []workflow.Step{{Name: "ask", Agent: "missing-agent"}}}),
	)
	run, evs := runWorkflow(t, eng, "fails", "in")
	end := last(evs)
	if end.Event != core.EventWorkflowError || end.ErrorType != "step_error" || end.Content != `step "explode" failed: disk on fire` || ran {
		t.Fatalf("end = %+v (ran %v)", end, ran)
	}
	if count(evs, core.EventStepError) != 1 {
		t.Fatalf("events = %v", own(evs))
	}
	if done, _ := eng.Wait(context.Background(), run.RunID, -1); done.Status != core.RunError || done.ErrorType != "step_error" {
		t.Fatalf("run = %+v", done)
	}
	_, evs = runWorkflow(t, eng, "skips", "in")
	end = last(evs)
	if end.Event != core.EventWorkflowCompleted || end.Content != "after IN" {
		t.Fatalf("skip: end = %s %q", end.Event, end.Content)
	}
	_, evs = runWorkflow(t, eng, "agentfails", "in")
	if end = last(evs); end.Event != core.EventWorkflowError || !strings.Contains(end.Content, `step "ask" failed`) {
		t.Fatalf("missing agent: end = %+v", end)
	}
}

func TestCancelMidStep(t *testing.T) {
	t.Parallel()
	started := make(chan struct{}, 1)
	block := workflow.Func("block", func(ctx context.Context, _ workflow.StepInput) (workflow.StepOutput, error) {
		started <- struct{}{}
		<-ctx.Done()
		return workflow.StepOutput{}, ctx.Err()
	})
	w := build(t, workflow.Definition{ID: "slow", Steps: []workflow.Step{
		{Name: "work", Type: workflow.TypeParallel, Steps: []workflow.Step{{Name: "block", Func: block}, {Name: "agent", Agent: "echo"}}},
	}})
	eng := engine(t, replyAgent(t, "echo", "hi"), w)
	ctx := context.Background()
	run, err := eng.Start(ctx, core.StartParams{WorkflowID: "slow", Message: "go"})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the step never started")
	}
	if _, err := eng.Cancel(ctx, run.RunID); err != nil {
		t.Fatal(err)
	}
	evs := read(t, eng, run.RunID, -1)
	if end := last(evs); end.Event != core.EventWorkflowCancelled {
		t.Fatalf("end = %v", names(evs))
	}
	done, err := eng.Wait(ctx, run.RunID, -1)
	if err != nil || done.Status != core.RunCancelled {
		t.Fatalf("run = %+v, %v", done, err)
	}
	if count(evs, core.EventStepError) != 0 {
		t.Fatalf("a cancelled step is not a step error: %v", own(evs))
	}
}

func TestRouterAskingAnAgent(t *testing.T) {
	t.Parallel()
	w := build(t, workflow.Definition{ID: "ask", Steps: []workflow.Step{
		{Name: "pick", Type: workflow.TypeRouter, Agent: "chooser",
			Choices: []workflow.Step{{Name: "coder", Agent: "coder", Description: "writes code"}, {Name: "writer", Func: upper}}},
	}})
	eng := engine(t, replyAgent(t, "chooser", "Writer fits best (not coder)."), replyAgent(t, "coder", "code"), w)
	_, evs := runWorkflow(t, eng, "ask", "a poem")
	end := last(evs)
	if end.Event != core.EventWorkflowCompleted || end.Content != "A POEM" {
		t.Fatalf("end = %s %q", end.Event, end.Content)
	}
	var asked bool
	for _, e := range evs {
		asked = asked || (e.Forwarded() && e.AgentID == "chooser" && e.Event == core.EventRunCompleted)
		if e.Event == core.EventRouterExecutionStarted && !slices.Equal(e.SelectedSteps, []string{"writer"}) {
			t.Fatalf("selected %v", e.SelectedSteps)
		}
	}
	if !asked {
		t.Fatalf("the router's agent did not run: %v", names(evs))
	}
	w2 := build(t, workflow.Definition{ID: "vague", Steps: []workflow.Step{
		{Name: "pick", Type: workflow.TypeRouter, Agent: "vague", Choices: []workflow.Step{{Name: "coder", Func: upper}}},
	}})
	eng = engine(t, replyAgent(t, "vague", "no idea"), w2)
	_, evs = runWorkflow(t, eng, "vague", "x")
	if end := last(evs); end.Event != core.EventWorkflowError || !strings.Contains(end.Content, "named no route") {
		t.Fatalf("vague router: %+v", end)
	}
}
