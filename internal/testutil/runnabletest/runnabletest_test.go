package runnabletest_test

import (
	"context"
	"testing"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/internal/testutil/enginetest"
	"github.com/agentgate/agentgate/internal/testutil/runnabletest"
)

func TestTeamPausesOnMemberAndContinues(t *testing.T) {
	eng := enginetest.New(t, enginetest.Options{}, runnabletest.All()...).Engine
	ctx := context.Background()
	run, err := eng.Start(ctx, core.StartParams{TeamID: "crew", Message: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	done, err := eng.Wait(ctx, run.RunID, -1)
	if err != nil || done.Status != core.RunPaused || len(done.Requirements) != 1 || done.Requirements[0].MemberAgentID != "approver" {
		t.Fatalf("paused team = %+v, %v", done, err)
	}
	yes := true
	te := *done.Requirements[0].ToolExecution
	te.Confirmed = &yes
	if _, _, err := eng.Continue(ctx, core.ContinueParams{RunID: run.RunID, Tools: []core.ToolExecution{te}}); err != nil {
		t.Fatal(err)
	}
	done, err = eng.Wait(ctx, run.RunID, -1)
	if err != nil || done.Status != core.RunCompleted || done.Content != "echo: echo: hi\napprover: approved" {
		t.Fatalf("team = %+v, %v", done, err)
	}
}

func TestWorkflowStepsChain(t *testing.T) {
	eng := enginetest.New(t, enginetest.Options{}, runnabletest.All()...).Engine
	ctx := context.Background()
	run, err := eng.Start(ctx, core.StartParams{WorkflowID: "pipeline", Message: "x"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := eng.Subscribe(ctx, run.RunID, -1)
	if err != nil {
		t.Fatal(err)
	}
	var types []core.EventType
	for {
		ev, err := s.Next(ctx)
		if err != nil {
			break
		}
		if !ev.Forwarded() {
			types = append(types, ev.Event)
		}
	}
	want := []core.EventType{core.EventWorkflowStarted, core.EventStepStarted, core.EventStepCompleted, core.EventStepStarted, core.EventStepCompleted, core.EventWorkflowCompleted}
	if len(types) != len(want) {
		t.Fatalf("events = %v, want %v", types, want)
	}
	for i := range want {
		if types[i] != want[i] {
			t.Fatalf("events = %v, want %v", types, want)
		}
	}
	done, _ := eng.Wait(ctx, run.RunID, -1)
	if done.Content != "echo: echo: x" {
		t.Fatalf("content = %q", done.Content)
	}
}
