package rest

import (
	"encoding/json"
	"strings"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/workflow"
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
	StepRequirements []StepDecision `json:"step_requirements,omitempty" doc:"JSON array: the step requirements WorkflowPaused carried, each decided (step_id, or requirement_id; confirmed; user_input values or user_input_schema filled; or executor_requirements decided as a team's requirements). Instead of tools."`
}

// StepDecision is the caller's decision on one step requirement of a
// paused workflow (agno's StepRequirement dict, as a client sends it back).
type StepDecision struct {
	StepID           string                `json:"step_id,omitempty"`
	RequirementID    string                `json:"requirement_id,omitempty" doc:"Names the requirement when step_id is not given."`
	StepName         string                `json:"step_name,omitempty"`
	Confirmed        *bool                 `json:"confirmed,omitempty"`
	ConfirmationNote string                `json:"confirmation_note,omitempty"`
	UserInput        map[string]any        `json:"user_input,omitempty" doc:"The values of the step's user input fields, by name."`
	UserInputSchema  []core.UserInputField `json:"user_input_schema,omitempty" doc:"Or the step's user_input_schema with each value filled."`
	// ExecutorRequirements are the decided requirements of the agent or
	// team a step ran, when that is what paused.
	ExecutorRequirements []core.RunRequirement `json:"executor_requirements,omitempty"`
}

// KindContinueForm is a decoded continue form of any kind: the tools, or
// the kind's own requirements.
type KindContinueForm struct {
	ContinueForm
	Requirements     []core.RunRequirement
	StepRequirements []StepDecision
	// Files and Fields are the form's file parts and all its fields (for
	// its media, as a run form's).
	Files  []FormFile
	Fields Form
}

// ParseKindContinueForm decodes a continue form of a runnable of kind k.
func ParseKindContinueForm(k core.Kind, contentType string, body []byte) (*KindContinueForm, error) {
	var files []FormFile
	f, err := parseForm(contentType, body, &files)
	if err != nil {
		return nil, err
	}
	return kindContinueForm(k, f, files)
}

// kindContinueForm reads a decoded continue form of a runnable of kind k.
func kindContinueForm(k core.Kind, f Form, files []FormFile) (*KindContinueForm, error) {
	var err error
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
		return &KindContinueForm{ContinueForm: *cf, Files: files, Fields: f}, nil
	}
	out := &KindContinueForm{ContinueForm: ContinueForm{SessionID: strings.TrimSpace(f["session_id"]), UserID: strings.TrimSpace(f["user_id"])}, Files: files, Fields: f}
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
// RunRequirement dicts) to decisions on its pending tool calls (see
// core.RunRequirement.Decision). A requirement that names a member
// (member_agent_id, member_run_id) must name the one the run's
// requirement of that call names: a decision is never applied to another
// member's call.
func requirementDecisions(run *core.Run, reqs []core.RunRequirement) ([]core.ToolExecution, error) {
	out := make([]core.ToolExecution, 0, len(reqs))
	for i, r := range reqs {
		t, err := r.Decision()
		if err != nil {
			return nil, core.Errorf(core.CodeInvalid, "requirements[%d]: %s", i, core.MessageOf(err))
		}
		for _, p := range run.Requirements {
			if p.ToolExecution == nil || p.ToolExecution.ToolCallID != t.ToolCallID {
				continue
			}
			if (r.MemberAgentID != "" && r.MemberAgentID != p.MemberAgentID) || (r.MemberRunID != "" && r.MemberRunID != p.MemberRunID) {
				return nil, core.Errorf(core.CodeInvalid, "requirements[%d]: tool call %s belongs to member %s (run %s), not %s",
					i, t.ToolCallID, p.MemberAgentID, p.MemberRunID, r.MemberAgentID+r.MemberRunID)
			}
		}
		out = append(out, t)
	}
	return out, nil
}

// stepDecisions maps a workflow's step decisions to decisions on the
// pending tool calls its pause holds. A step's own requirement is one
// synthetic call whose tool_call_id is the requirement's id (the step's
// step_id; requirement_id when no step_id is sent): confirmed and
// confirmation_note carry over, and user_input's values (or the filled
// user_input_schema) fill its user_input_schema by field name. A step
// whose agent or team paused is decided by its executor_requirements, each
// mapped as a team's requirement (core.RunRequirement.Decision).
func stepDecisions(steps []StepDecision) ([]core.ToolExecution, error) {
	reqs := make([]workflow.StepRequirement, 0, len(steps))
	for i, s := range steps {
		for j, r := range s.ExecutorRequirements {
			if _, err := r.Decision(); err != nil {
				return nil, core.Errorf(core.CodeInvalid, "step_requirements[%d].executor_requirements[%d]: %s", i, j, core.MessageOf(err))
			}
		}
		id := s.StepID
		if id == "" {
			id = s.RequirementID
		}
		if id == "" && len(s.ExecutorRequirements) == 0 {
			return nil, core.Errorf(core.CodeInvalid, "step_requirements[%d] needs step_id (or requirement_id)", i)
		}
		reqs = append(reqs, workflow.StepRequirement{StepID: id, StepName: s.StepName, Confirmed: s.Confirmed,
			ConfirmationNote: s.ConfirmationNote, UserInput: s.UserInput, UserInputSchema: s.UserInputSchema,
			ExecutorRequirements: s.ExecutorRequirements})
	}
	return workflow.Decisions(reqs), nil
}
