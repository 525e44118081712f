package workflow

import (
	"github.com/agentgate/agentgate/core"
)

// StepRequirement is one thing a paused workflow waits for (agno's
// StepRequirement shape): a step's confirmation or user input before it
// runs, or (RequiresExecutorInput) the decisions on the tool calls of the
// agent or team a step ran.
//
// How a continue maps onto the engine: a paused workflow's pending tool
// calls (PausedState.Pending) are, per step requirement,
//   - for a step's own confirmation / user input: one synthetic call whose
//     tool_call_id is the step's step_id and tool_name its step_name, with
//     requires_confirmation / requires_user_input and user_input_schema as
//     the step declares them;
//   - for an agent or team step that paused: the child run's own pending
//     calls (their tool_call_ids), the run's requirements naming the child
//     (member_agent_id, member_run_id).
//
// So core.Continue validates and applies decisions on them as for an
// agent's tools; Decisions turns agno's step_requirements into those.
// A rejected step (confirmed false) is skipped: the next step gets its
// input, and it is left out of step_results.
type StepRequirement struct {
	StepID               string                `json:"step_id"`
	StepName             string                `json:"step_name,omitempty"`
	StepIndex            int                   `json:"step_index"`
	StepType             string                `json:"step_type,omitempty"`
	RequiresConfirmation bool                  `json:"requires_confirmation"`
	ConfirmationMessage  string                `json:"confirmation_message,omitempty"`
	Confirmed            *bool                 `json:"confirmed,omitempty"`
	ConfirmationNote     string                `json:"confirmation_note,omitempty"`
	RequiresUserInput    bool                  `json:"requires_user_input"`
	UserInputMessage     string                `json:"user_input_message,omitempty"`
	UserInputSchema      []core.UserInputField `json:"user_input_schema,omitempty"`
	UserInput            map[string]any        `json:"user_input,omitempty"`
	// Executor HITL: the agent or team the step ran paused.
	RequiresExecutorInput bool                  `json:"requires_executor_input,omitempty"`
	ExecutorRequirements  []core.RunRequirement `json:"executor_requirements,omitempty"`
	ExecutorID            string                `json:"executor_id,omitempty"`
	ExecutorName          string                `json:"executor_name,omitempty"`
	ExecutorRunID         string                `json:"executor_run_id,omitempty"`
	ExecutorType          string                `json:"executor_type,omitempty"`
}

// toolCall is the synthetic pending call of a step's own requirement.
func (q StepRequirement) toolCall() core.ToolExecution {
	return core.ToolExecution{ToolCallID: q.StepID, ToolName: q.StepName,
		RequiresConfirmation: q.RequiresConfirmation, RequiresUserInput: q.RequiresUserInput,
		UserInputSchema: append([]core.UserInputField(nil), q.UserInputSchema...)}
}

// Decisions maps agno's step_requirements (as a client continues a
// workflow with them) to the tool decisions core.Continue takes: a step's
// own requirement becomes the decision on its synthetic call (confirmed,
// confirmation_note; user_input values, or the filled user_input_schema),
// user_input's fields in name order; an executor's, the
// decisions on the child's calls (each executor requirement's
// confirmation, user input or external execution result).
func Decisions(reqs []StepRequirement) []core.ToolExecution {
	var out []core.ToolExecution
	for _, q := range reqs {
		if q.RequiresExecutorInput || len(q.ExecutorRequirements) > 0 {
			for _, er := range q.ExecutorRequirements {
				out = append(out, executorDecision(er))
			}
			continue
		}
		d := core.ToolExecution{ToolCallID: q.StepID, ToolName: q.StepName, Confirmed: q.Confirmed, ConfirmationNote: q.ConfirmationNote}
		switch {
		case len(q.UserInput) > 0:
			for _, name := range sortedKeys(q.UserInput) {
				d.UserInputSchema = append(d.UserInputSchema, core.UserInputField{Name: name, Value: q.UserInput[name]})
			}
		default:
			for _, f := range q.UserInputSchema {
				if f.Value != nil {
					d.UserInputSchema = append(d.UserInputSchema, f)
				}
			}
		}
		out = append(out, d)
	}
	return out
}

// executorDecision is an executor requirement's decision
// (core.RunRequirement.Decision); one without a tool execution names its
// call by its id.
func executorDecision(er core.RunRequirement) core.ToolExecution {
	if er.ToolExecution == nil {
		er.ToolExecution = &core.ToolExecution{ToolCallID: er.ID}
	}
	d, _ := er.Decision() // an empty id is refused by core.Continue
	return d
}
