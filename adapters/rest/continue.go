package rest

import (
	"encoding/json"
	"strings"

	"github.com/agentgate/agentgate/core"
)

// The continue forms of teams and workflows. Every kind takes tools (the
// paused tool executions, decided); a team also takes agno's requirements
// and a workflow its step_requirements. Each is mapped to the engine's
// decisions (core.ToolExecution by tool_call_id) here, in one place.

// TeamContinueForm documents POST /teams/{team_id}/runs/{run_id}/continue.
type TeamContinueForm struct {
	ContinueForm
	Requirements []core.RunRequirement `json:"requirements,omitempty" doc:"JSON array: the requirements TeamRunPaused carried (agno RunRequirement dicts, with member_agent_id and member_run_id), each decided: confirmation (or tool_execution.confirmed) with confirmation_note, user_input_schema values, or external_execution_result. Instead of tools."`
}

// WorkflowContinueForm documents POST /workflows/{workflow_id}/runs/{run_id}/continue.
type WorkflowContinueForm struct {
	ContinueForm
	StepRequirements []StepDecision `json:"step_requirements,omitempty" doc:"JSON array: one decision per step requirement WorkflowPaused carried, naming it by requirement_id (or step_id). Instead of tools."`
}

// StepDecision is the caller's decision on one step requirement of a
// paused workflow.
type StepDecision struct {
	RequirementID    string         `json:"requirement_id,omitempty"`
	StepID           string         `json:"step_id,omitempty"`
	Confirmed        *bool          `json:"confirmed,omitempty"`
	ConfirmationNote string         `json:"confirmation_note,omitempty"`
	UserInput        map[string]any `json:"user_input,omitempty" doc:"The values of the step's user input fields, by name."`
}

// KindContinueForm is a decoded continue form of any kind: the tools, or
// the kind's own requirements.
type KindContinueForm struct {
	ContinueForm
	Requirements     []core.RunRequirement
	StepRequirements []StepDecision
}

// ParseKindContinueForm decodes a continue form of a runnable of kind k.
func ParseKindContinueForm(k core.Kind, contentType string, body []byte) (*KindContinueForm, error) {
	f, err := ParseForm(contentType, body)
	if err != nil {
		return nil, err
	}
	field, what := "", ""
	switch k {
	case core.KindTeam:
		field, what = "requirements", "a JSON array of the paused run's requirements"
	case core.KindWorkflow:
		field, what = "step_requirements", "a JSON array of step decisions"
	}
	raw := strings.TrimSpace(f[field])
	if field == "" || raw == "" {
		cf, err := continueForm(f)
		if err != nil {
			if field != "" && strings.TrimSpace(f["tools"]) == "" {
				return nil, core.Errorf(core.CodeInvalid, "%s (%s) or tools is required", field, what)
			}
			return nil, err
		}
		return &KindContinueForm{ContinueForm: *cf}, nil
	}
	out := &KindContinueForm{ContinueForm: ContinueForm{SessionID: strings.TrimSpace(f["session_id"]), UserID: strings.TrimSpace(f["user_id"])}}
	var target any = &out.Requirements
	if k == core.KindWorkflow {
		target = &out.StepRequirements
	}
	if err := json.Unmarshal([]byte(raw), target); err != nil {
		return nil, core.Errorf(core.CodeInvalid, "%s must be %s: %v", field, what, err)
	}
	if out.Stream, err = f.Bool("stream", true); err != nil {
		return nil, err
	}
	if out.Background, err = f.Bool("background", false); err != nil {
		return nil, err
	}
	return out, nil
}

// decisions are the engine's decisions the form carries for the paused
// run.
func (f *KindContinueForm) decisions(run *core.Run) ([]core.ToolExecution, error) {
	switch {
	case f.Requirements != nil:
		return requirementDecisions(run, f.Requirements)
	case f.StepRequirements != nil:
		return stepDecisions(f.StepRequirements)
	}
	return f.Tools, nil
}

// requirementDecisions maps a team's decided requirements (agno
// RunRequirement dicts) to decisions on its pending tool calls: each
// names its call by tool_execution.tool_call_id; the confirmation is
// confirmation, or else tool_execution.confirmed; the user's input is
// user_input_schema, or else tool_execution's; an external result is
// external_execution_result, or else tool_execution.result. A requirement
// that names a member (member_agent_id, member_run_id) must name the one
// the run's requirement of that call names: a decision is never applied
// to another member's call.
func requirementDecisions(run *core.Run, reqs []core.RunRequirement) ([]core.ToolExecution, error) {
	out := make([]core.ToolExecution, 0, len(reqs))
	for i, r := range reqs {
		if r.ToolExecution == nil || r.ToolExecution.ToolCallID == "" {
			return nil, core.Errorf(core.CodeInvalid, "requirements[%d] has no tool_execution.tool_call_id", i)
		}
		t := *r.ToolExecution
		for _, p := range run.Requirements {
			if p.ToolExecution == nil || p.ToolExecution.ToolCallID != t.ToolCallID {
				continue
			}
			if (r.MemberAgentID != "" && r.MemberAgentID != p.MemberAgentID) || (r.MemberRunID != "" && r.MemberRunID != p.MemberRunID) {
				return nil, core.Errorf(core.CodeInvalid, "requirements[%d]: tool call %s belongs to member %s (run %s), not %s",
					i, t.ToolCallID, p.MemberAgentID, p.MemberRunID, r.MemberAgentID+r.MemberRunID)
			}
		}
		if r.Confirmation != nil {
			c := *r.Confirmation
			t.Confirmed = &c
		}
		if r.ConfirmationNote != "" {
			t.ConfirmationNote = r.ConfirmationNote
		}
		if len(r.UserInputSchema) > 0 {
			t.UserInputSchema = r.UserInputSchema
		}
		if r.ExternalExecutionResult != nil {
			t.Result = *r.ExternalExecutionResult
		}
		out = append(out, t)
	}
	return out, nil
}

// stepDecisions maps a workflow's step decisions to decisions on the
// synthetic pending tool calls its pause holds: the workflow names each
// call after its step requirement (tool_call_id = the requirement's id),
// so requirement_id (or step_id) is the tool_call_id, confirmed and
// confirmation_note carry over, and user_input's values fill
// user_input_schema by field name.
func stepDecisions(steps []StepDecision) ([]core.ToolExecution, error) {
	out := make([]core.ToolExecution, 0, len(steps))
	for i, s := range steps {
		id := s.RequirementID
		if id == "" {
			id = s.StepID
		}
		if id == "" {
			return nil, core.Errorf(core.CodeInvalid, "step_requirements[%d] needs requirement_id or step_id", i)
		}
		t := core.ToolExecution{ToolCallID: id, Confirmed: s.Confirmed, ConfirmationNote: s.ConfirmationNote}
		for name, v := range s.UserInput {
			t.UserInputSchema = append(t.UserInputSchema, core.UserInputField{Name: name, Value: v})
		}
		out = append(out, t)
	}
	return out, nil
}
