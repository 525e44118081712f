package rest

import (
	"testing"

	"github.com/agentgate/agentgate/core"
)

func TestRunOutputOfAPausedRun(t *testing.T) {
	yes := true
	done := core.ToolExecution{ToolCallID: "c1", ToolName: "lookup", Result: "found"}
	pending := func(te core.ToolExecution) core.RunRequirement {
		return core.RunRequirement{ID: te.ToolCallID, ToolExecution: &te}
	}
	for _, c := range []struct {
		name    string
		reqs    []core.RunRequirement
		content string
	}{
		{"confirmation", []core.RunRequirement{pending(core.ToolExecution{ToolCallID: "c2", RequiresConfirmation: true})},
			"I have tools to execute, but I need confirmation."},
		{"user input and external", []core.RunRequirement{
			pending(core.ToolExecution{ToolCallID: "c2", RequiresUserInput: true}),
			pending(core.ToolExecution{ToolCallID: "c3", ExternalExecutionRequired: true})},
			"I have tools to execute, but I need user input or external execution."},
		{"all three", []core.RunRequirement{
			pending(core.ToolExecution{ToolCallID: "c2", RequiresConfirmation: true, RequiresUserInput: true}),
			pending(core.ToolExecution{ToolCallID: "c3", ExternalExecutionRequired: true})},
			"I have tools to execute, but I need confirmation, user input, or external execution."},
		{"already confirmed", []core.RunRequirement{pending(core.ToolExecution{ToolCallID: "c2", RequiresConfirmation: true, Confirmed: &yes})}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			run := &core.Run{RunID: "r", Status: core.RunPaused, Tools: []core.ToolExecution{done}, Requirements: c.reqs}
			out := runOutput(run)
			if out.Content != c.content {
				t.Errorf("content %q, want %q", out.Content, c.content)
			}
			if len(out.Tools) != 1+len(c.reqs) || out.Tools[0].ToolCallID != "c1" || out.Tools[1].ToolCallID != "c2" {
				t.Errorf("tools %+v: want the done one, then the pending ones", out.Tools)
			}
			if len(run.Tools) != 1 || run.Content != "" {
				t.Errorf("the stored run changed: %+v", run)
			}
			// Asked again (a pending tool already among the tools): no duplicate.
			if again := runOutput(out); len(again.Tools) != len(out.Tools) {
				t.Errorf("tools listed twice: %+v", again.Tools)
			}
		})
	}
	if r := (&core.Run{Status: core.RunCompleted, Content: "hi"}); runOutput(r) != r {
		t.Error("a run that is not paused is answered as stored")
	}
}
