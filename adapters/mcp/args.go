package mcp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/agentgate/agentgate/core"
)

// Tool arguments are untrusted input: DecodeArgs turns a tool's raw JSON
// arguments into its typed form, strictly (a JSON object, known fields
// only, the right JSON types, required fields present, bounded sizes).
// Every failure is a core CodeInvalid error whose message names the
// argument, so a model can correct its call (the handlers answer it as a
// tool error, isError: true).

// Tool names served by the adapter.
const (
	ToolRunAgent       = "run_agent"
	ToolRunTeam        = "run_team"
	ToolRunWorkflow    = "run_workflow"
	ToolContinueRun    = "continue_run"
	ToolCancelRun      = "cancel_run"
	ToolGetSessions    = "get_sessions"
	ToolGetSessionRuns = "get_session_runs"
	ToolGetConfig      = "get_config"
	// AskPrefix starts the name of every per-agent tool (ask_<agent>).
	AskPrefix = "ask_"
)

// Bounds on argument values.
const (
	maxIDLen       = 512
	maxNameLen     = 1024
	maxDecisions   = 1000
	maxSessionPage = 1000
)

// RunArgs are the arguments of run_agent.
type RunArgs struct {
	AgentID   string `json:"agent_id"`
	Message   string `json:"message"`
	SessionID string `json:"session_id,omitempty"`
	UserID    string `json:"user_id,omitempty"`
	// IdempotencyKey makes the call safe to retry: the same key and
	// arguments get the run the first call started.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// RunTeamArgs are the arguments of run_team.
type RunTeamArgs struct {
	TeamID         string `json:"team_id"`
	Message        string `json:"message"`
	SessionID      string `json:"session_id,omitempty"`
	UserID         string `json:"user_id,omitempty"`
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// RunWorkflowArgs are the arguments of run_workflow.
type RunWorkflowArgs struct {
	WorkflowID     string `json:"workflow_id"`
	Message        string `json:"message"`
	SessionID      string `json:"session_id,omitempty"`
	UserID         string `json:"user_id,omitempty"`
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// AskArgs are the arguments of an ask_<agent> tool.
type AskArgs struct {
	Message        string `json:"message"`
	SessionID      string `json:"session_id,omitempty"`
	UserID         string `json:"user_id,omitempty"`
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// ToolDecision resolves one paused tool call: Confirmed true runs it, false
// rejects it (ConfirmationNote tells the agent why).
type ToolDecision struct {
	ToolCallID       string `json:"tool_call_id"`
	Confirmed        *bool  `json:"confirmed,omitempty"`
	ConfirmationNote string `json:"confirmation_note,omitempty"`
	// UserInput holds the values of a tool that requires user input, by
	// field name.
	UserInput map[string]any `json:"user_input,omitempty"`
	// Result is the result of an externally executed tool.
	Result string `json:"result,omitempty"`
}

// ContinueArgs are the arguments of continue_run. A paused run's result
// carries them ready to use, minus the decisions (confirmed) themselves.
type ContinueArgs struct {
	RunID string `json:"run_id"`
	// AgentID, when given, must be the run's agent (a team's or workflow's
	// run is continued by its run_id alone).
	AgentID   string         `json:"agent_id,omitempty"`
	SessionID string         `json:"session_id,omitempty"`
	Tools     []ToolDecision `json:"tools"`
}

// CancelArgs are the arguments of cancel_run.
type CancelArgs struct {
	RunID     string `json:"run_id"`
	AgentID   string `json:"agent_id,omitempty"`
	SessionID string `json:"session_id,omitempty"`
}

// SessionsArgs are the arguments of get_sessions (the filters and paging of
// GET /sessions).
type SessionsArgs struct {
	Type        string `json:"type,omitempty"`
	ComponentID string `json:"component_id,omitempty"`
	UserID      string `json:"user_id,omitempty"`
	SessionName string `json:"session_name,omitempty"`
	Limit       *int   `json:"limit,omitempty"`
	Page        *int   `json:"page,omitempty"`
	SortBy      string `json:"sort_by,omitempty"`
	SortOrder   string `json:"sort_order,omitempty"`
}

// SessionRunsArgs are the arguments of get_session_runs.
type SessionRunsArgs struct {
	SessionID string `json:"session_id"`
}

// ConfigArgs are the (no) arguments of get_config.
type ConfigArgs struct{}

// DecodeArgs decodes the raw arguments of tool (nil or JSON null meaning
// none) into a pointer to its argument type: *RunArgs, *AskArgs (any
// ask_<agent> tool), *ContinueArgs, *CancelArgs, *SessionsArgs,
// *SessionRunsArgs or *ConfigArgs. An unknown tool is a CodeNotFound
// error; bad arguments are CodeInvalid.
func DecodeArgs(tool string, raw []byte) (any, error) {
	var v any
	switch {
	case tool == ToolRunAgent:
		v = &RunArgs{}
	case tool == ToolRunTeam:
		v = &RunTeamArgs{}
	case tool == ToolRunWorkflow:
		v = &RunWorkflowArgs{}
	case tool == ToolContinueRun:
		v = &ContinueArgs{}
	case tool == ToolCancelRun:
		v = &CancelArgs{}
	case tool == ToolGetSessions:
		v = &SessionsArgs{}
	case tool == ToolGetSessionRuns:
		v = &SessionRunsArgs{}
	case tool == ToolGetConfig:
		v = &ConfigArgs{}
	case strings.HasPrefix(tool, AskPrefix) && len(tool) > len(AskPrefix):
		v = &AskArgs{}
	default:
		return nil, core.Errorf(core.CodeNotFound, "unknown tool %q", tool)
	}
	if err := decodeObject(tool, raw, v); err != nil {
		return nil, err
	}
	if err := validate(v); err != nil {
		return nil, &core.Error{Code: core.CodeInvalid, Message: tool + ": " + err.Error()}
	}
	return v, nil
}

// decodeObject decodes one JSON object into v, refusing unknown fields,
// wrong types and anything after the object.
func decodeObject(tool string, raw []byte, v any) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		raw = []byte("{}")
	}
	if raw[0] != '{' {
		return core.Errorf(core.CodeInvalid, "%s: arguments must be a JSON object", tool)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return core.Errorf(core.CodeInvalid, "%s: %s", tool, describeJSONError(err, v))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return core.Errorf(core.CodeInvalid, "%s: arguments must be one JSON object", tool)
	}
	return nil
}

// describeJSONError words a decoding error for the caller (a model).
func describeJSONError(err error, v any) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return fmt.Sprintf("argument %q must be %s", te.Field, jsonKind(te.Type.Kind().String()))
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("arguments are not valid JSON (offset %d)", se.Offset)
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return fmt.Sprintf("unknown argument %s (accepted: %s)", name, strings.Join(fieldNames(v), ", "))
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return "arguments are not valid JSON (truncated)"
	}
	return "invalid arguments: " + strings.TrimPrefix(msg, "json: ")
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "int", "int64":
		return "an integer"
	case "slice":
		return "an array"
	case "struct", "map":
		return "an object"
	case "ptr":
		return "a value of the documented type"
	}
	return "a value of the documented type"
}

// fieldNames lists the JSON names of v's fields.
func fieldNames(v any) []string {
	switch v.(type) {
	case *RunArgs:
		return []string{"agent_id", "message", "session_id", "user_id", "idempotency_key"}
	case *AskArgs:
		return []string{"message", "session_id", "user_id", "idempotency_key"}
	case *RunTeamArgs:
		return []string{"team_id", "message", "session_id", "user_id", "idempotency_key"}
	case *RunWorkflowArgs:
		return []string{"workflow_id", "message", "session_id", "user_id", "idempotency_key"}
	case *ContinueArgs:
		return []string{"run_id", "agent_id", "session_id", "tools"}
	case *CancelArgs:
		return []string{"run_id", "agent_id", "session_id"}
	case *SessionsArgs:
		return []string{"type", "component_id", "user_id", "session_name", "limit", "page", "sort_by", "sort_order"}
	case *SessionRunsArgs:
		return []string{"session_id"}
	}
	return []string{"none"}
}

func validate(v any) error {
	switch a := v.(type) {
	case *RunArgs:
		return errors.Join(required("agent_id", a.AgentID), id("agent_id", a.AgentID),
			required("message", a.Message), id("session_id", a.SessionID), id("user_id", a.UserID),
			core.CheckIdempotencyKey(`argument "idempotency_key"`, a.IdempotencyKey))
	case *RunTeamArgs:
		return errors.Join(required("team_id", a.TeamID), id("team_id", a.TeamID),
			required("message", a.Message), id("session_id", a.SessionID), id("user_id", a.UserID),
			core.CheckIdempotencyKey(`argument "idempotency_key"`, a.IdempotencyKey))
	case *RunWorkflowArgs:
		return errors.Join(required("workflow_id", a.WorkflowID), id("workflow_id", a.WorkflowID),
			required("message", a.Message), id("session_id", a.SessionID), id("user_id", a.UserID),
			core.CheckIdempotencyKey(`argument "idempotency_key"`, a.IdempotencyKey))
	case *AskArgs:
		return errors.Join(required("message", a.Message), id("session_id", a.SessionID), id("user_id", a.UserID),
			core.CheckIdempotencyKey(`argument "idempotency_key"`, a.IdempotencyKey))
	case *ContinueArgs:
		errs := []error{required("run_id", a.RunID), id("run_id", a.RunID), id("agent_id", a.AgentID), id("session_id", a.SessionID)}
		// tools may be absent: a call covered by a resolved approval takes
		// its decision from the store (the engine names any call left
		// undecided).
		if len(a.Tools) > maxDecisions {
			errs = append(errs, fmt.Errorf(`argument "tools" has more than %d entries`, maxDecisions))
		}
		seen := map[string]bool{}
		for i, t := range a.Tools {
			if strings.TrimSpace(t.ToolCallID) == "" {
				errs = append(errs, fmt.Errorf(`tools[%d].tool_call_id is required`, i))
				continue
			}
			if seen[t.ToolCallID] {
				errs = append(errs, fmt.Errorf(`tools[%d]: tool call %q is decided twice`, i, t.ToolCallID))
			}
			seen[t.ToolCallID] = true
			errs = append(errs, id(fmt.Sprintf("tools[%d].tool_call_id", i), t.ToolCallID))
		}
		return errors.Join(errs...)
	case *CancelArgs:
		return errors.Join(required("run_id", a.RunID), id("run_id", a.RunID), id("agent_id", a.AgentID), id("session_id", a.SessionID))
	case *SessionsArgs:
		var errs []error
		switch a.Type {
		case "", string(core.SessionAgent), string(core.SessionTeam), string(core.SessionWorkflow):
		default:
			errs = append(errs, errors.New(`argument "type" must be agent, team or workflow`))
		}
		switch a.SortBy {
		case "", "created_at", "updated_at", "session_name":
		default:
			errs = append(errs, errors.New(`argument "sort_by" must be created_at, updated_at or session_name`))
		}
		switch a.SortOrder {
		case "", string(core.SortAsc), string(core.SortDesc):
		default:
			errs = append(errs, errors.New(`argument "sort_order" must be asc or desc`))
		}
		if a.Limit != nil && (*a.Limit < 1 || *a.Limit > maxSessionPage) {
			errs = append(errs, fmt.Errorf(`argument "limit" must be between 1 and %d`, maxSessionPage))
		}
		if a.Page != nil && *a.Page < 1 {
			errs = append(errs, errors.New(`argument "page" must be 1 or more`))
		}
		if len(a.SessionName) > maxNameLen {
			errs = append(errs, fmt.Errorf(`argument "session_name" is longer than %d bytes`, maxNameLen))
		}
		return errors.Join(append(errs, id("component_id", a.ComponentID), id("user_id", a.UserID))...)
	case *SessionRunsArgs:
		return errors.Join(required("session_id", a.SessionID), id("session_id", a.SessionID))
	}
	return nil
}

func required(name, v string) error {
	if strings.TrimSpace(v) == "" {
		return fmt.Errorf("argument %q is required", name)
	}
	return nil
}

func id(name, v string) error {
	if len(v) > maxIDLen {
		return fmt.Errorf("argument %q is longer than %d bytes", name, maxIDLen)
	}
	return nil
}
