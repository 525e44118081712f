package mcp

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	mcpgo "github.com/mark3labs/mcp-go/mcp"

	"github.com/agentgate/agentgate/core"
)

// The rendering of runs as MCP: a content delta (RunContent) is a
// notifications/progress to a caller that sent a progress token; the event
// that ends the run's segment is the tool's result. These functions are
// pure: the golden files pin their output.

// RunResult is the structured content of a run tool's result (run_agent,
// continue_run, ask_<agent>): agno's "trimmed" shape — the ids, the status,
// the answer, and what a paused run waits for.
type RunResult struct {
	RunID     string `json:"run_id"`
	SessionID string `json:"session_id"`
	AgentID   string `json:"agent_id"`
	// TeamID and WorkflowID name a team's or workflow's run (AgentID is
	// then empty).
	TeamID     string         `json:"team_id,omitempty"`
	WorkflowID string         `json:"workflow_id,omitempty"`
	Status     core.RunStatus `json:"status"`
	// Content is the answer of a completed run.
	Content string `json:"content,omitempty"`
	// PendingTools are the tool calls a paused run waits for a decision on.
	PendingTools []PendingTool `json:"pending_tools,omitempty"`
	// ContinueRun holds the continue_run arguments that resume a paused
	// run; each tool needs confirmed true (run it) or false (reject it).
	ContinueRun *ContinueArgs `json:"continue_run,omitempty"`
	// Error and ErrorType describe a failed run; Reason a cancelled one.
	Error     string `json:"error,omitempty"`
	ErrorType string `json:"error_type,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

// PendingTool is a tool call a paused run waits for.
type PendingTool struct {
	ToolCallID           string          `json:"tool_call_id"`
	ToolName             string          `json:"tool_name"`
	ToolArgs             json.RawMessage `json:"tool_args,omitempty"`
	RequiresConfirmation bool            `json:"requires_confirmation"`
	// RequiresUserInput: continue with user_input values for these fields.
	RequiresUserInput bool                  `json:"requires_user_input,omitempty"`
	UserInputSchema   []core.UserInputField `json:"user_input_schema,omitempty"`
	// ExternalExecutionRequired: run the tool yourself and continue with
	// its result.
	ExternalExecutionRequired bool `json:"external_execution_required,omitempty"`
}

// CancelResult is the structured content of cancel_run's result.
type CancelResult struct {
	RunID  string         `json:"run_id"`
	Status core.RunStatus `json:"status"`
}

// ProgressParams are the params of the notifications/progress that carries
// the n-th content delta (n counts from 1) of a call with this token.
func ProgressParams(token any, n int, delta string) map[string]any {
	return map[string]any{"progressToken": token, "progress": n, "message": delta}
}

// RenderEnd renders the event that ended a run's segment (RunCompleted,
// RunPaused, RunError or RunCancelled) as the tool's result. A failed or
// cancelled run is a tool error (isError: true) that says why.
func RenderEnd(ev *core.Event) *mcpgo.CallToolResult {
	r := RunResult{RunID: ev.RunID, SessionID: ev.SessionID, AgentID: ev.AgentID, TeamID: ev.TeamID, WorkflowID: ev.WorkflowID}
	if ev.TeamID != "" || ev.WorkflowID != "" {
		// A team's or workflow's own event (a member's run inside a
		// workflow carries the workflow's id too, but is not followed
		// here): its run is the runnable's.
		r.AgentID = ""
		if r.TeamID != "" {
			r.WorkflowID = ""
		}
	}
	switch ev.Base() {
	case core.EventRunCompleted:
		r.Status, r.Content = core.RunCompleted, ev.Content
		return mcpgo.NewToolResultStructured(r, ev.Content)
	case core.EventRunPaused:
		r.Status = core.RunPaused
		r.PendingTools, r.ContinueRun = pending(ev.RunID, r.AgentID, ev.SessionID, ev.Tools)
		return mcpgo.NewToolResultStructured(r, pausedText(&r))
	case core.EventRunError:
		r.Status, r.Error, r.ErrorType = core.RunError, ev.Content, ev.ErrorType
		if r.Error == "" {
			r.Error = ev.Error
		}
		res := mcpgo.NewToolResultStructured(r, fmt.Sprintf("run %s failed (%s): %s", ev.RunID, r.ErrorType, r.Error))
		res.IsError = true
		return res
	case core.EventRunCancelled:
		r.Status, r.Reason = core.RunCancelled, ev.Reason
		res := mcpgo.NewToolResultStructured(r, fmt.Sprintf("run %s was cancelled: %s", ev.RunID, ev.Reason))
		res.IsError = true
		return res
	}
	return mcpgo.NewToolResultError(fmt.Sprintf("run %s: unexpected end of stream (%s)", ev.RunID, ev.Event))
}

// RenderRun renders a stored run whose segment ended (used when the event
// log no longer holds the run's end).
func RenderRun(run *core.Run) *mcpgo.CallToolResult {
	ev := &core.Event{RunID: run.RunID, SessionID: run.SessionID}
	switch ref := run.Ref(); ref.Kind {
	case core.KindTeam:
		ev.TeamID = ref.ID
	case core.KindWorkflow:
		ev.WorkflowID = ref.ID
	default:
		ev.AgentID = ref.ID
	}
	switch run.Status {
	case core.RunCompleted:
		ev.Event, ev.Content = core.EventRunCompleted, run.Content
	case core.RunPaused:
		ev.Event = core.EventRunPaused
		for _, rq := range run.Requirements {
			if rq.ToolExecution != nil {
				ev.Tools = append(ev.Tools, *rq.ToolExecution)
			}
		}
	case core.RunError:
		ev.Event, ev.Content, ev.ErrorType = core.EventRunError, run.Error, run.ErrorType
	case core.RunCancelled:
		ev.Event, ev.Reason = core.EventRunCancelled, "cancelled"
	default:
		return mcpgo.NewToolResultError(fmt.Sprintf("run %s is %s", run.RunID, run.Status))
	}
	return RenderEnd(ev)
}

func pending(runID, agentID, sessionID string, tools []core.ToolExecution) ([]PendingTool, *ContinueArgs) {
	out := make([]PendingTool, 0, len(tools))
	cont := &ContinueArgs{RunID: runID, AgentID: agentID, SessionID: sessionID, Tools: make([]ToolDecision, 0, len(tools))}
	for _, t := range tools {
		out = append(out, PendingTool{ToolCallID: t.ToolCallID, ToolName: t.ToolName, ToolArgs: t.ToolArgs,
			RequiresConfirmation: t.RequiresConfirmation, RequiresUserInput: t.RequiresUserInput,
			UserInputSchema: t.UserInputSchema, ExternalExecutionRequired: t.ExternalExecutionRequired})
		cont.Tools = append(cont.Tools, ToolDecision{ToolCallID: t.ToolCallID})
	}
	return out, cont
}

func pausedText(r *RunResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "run %s is paused: %d tool call(s) need a decision.\n", r.RunID, len(r.PendingTools))
	for _, t := range r.PendingTools {
		args := string(t.ToolArgs)
		if args == "" {
			args = "{}"
		}
		fmt.Fprintf(&b, "- %s %s (tool_call_id %q", t.ToolName, args, t.ToolCallID)
		if t.RequiresConfirmation {
			b.WriteString(", requires confirmation")
		}
		if t.RequiresUserInput {
			names := make([]string, 0, len(t.UserInputSchema))
			for _, f := range t.UserInputSchema {
				names = append(names, f.Name)
			}
			fmt.Fprintf(&b, ", needs user_input for %s", strings.Join(names, ", "))
		}
		if t.ExternalExecutionRequired {
			b.WriteString(", runs outside the gateway: pass its result")
		}
		b.WriteString(")\n")
	}
	cont, _ := json.Marshal(r.ContinueRun)
	fmt.Fprintf(&b, "To go on, call %s with these arguments, adding \"confirmed\": true to each tool to run it "+
		"or \"confirmed\": false (and an optional \"confirmation_note\") to reject it; a tool that needs user input "+
		"takes \"user_input\": {field: value}, one executed outside the gateway takes \"result\":\n%s", ToolContinueRun, cont)
	return b.String()
}

// runSummary is a run as get_session_runs lists it.
type runSummary struct {
	RunID        string         `json:"run_id"`
	SessionID    string         `json:"session_id"`
	AgentID      string         `json:"agent_id"`
	UserID       string         `json:"user_id,omitempty"`
	Status       core.RunStatus `json:"status"`
	Input        string         `json:"input"`
	Content      string         `json:"content,omitempty"`
	Error        string         `json:"error,omitempty"`
	ErrorType    string         `json:"error_type,omitempty"`
	PendingTools []PendingTool  `json:"pending_tools,omitempty"`
	CreatedAt    int64          `json:"created_at"`
	UpdatedAt    int64          `json:"updated_at"`
}

func summarize(run *core.Run) runSummary {
	s := runSummary{RunID: run.RunID, SessionID: run.SessionID, AgentID: run.AgentID, UserID: run.UserID,
		Status: run.Status, Input: run.Input.InputContent, Content: run.Content, Error: run.Error,
		ErrorType: run.ErrorType, CreatedAt: run.CreatedAt, UpdatedAt: run.UpdatedAt}
	if run.Status == core.RunPaused {
		var tools []core.ToolExecution
		for _, rq := range run.Requirements {
			if rq.ToolExecution != nil {
				tools = append(tools, *rq.ToolExecution)
			}
		}
		s.PendingTools, _ = pending(run.RunID, run.AgentID, run.SessionID, tools)
	}
	return s
}

// maxInlineMedia bounds the bytes of one medium given inline (base64) in a
// tool result; a larger one is a resource link to the gateway's media
// route.
const maxInlineMedia = 8 << 20

// withMedia adds the media a completed run produced to its tool result:
// images as image content, audio as audio content, other files as
// embedded resources (blobs), each under its media route's URI.
func (s *Server) withMedia(ctx context.Context, res *mcpgo.CallToolResult, sessionID string, d *core.EventDetail) *mcpgo.CallToolResult {
	if d == nil || res == nil || res.IsError || s.cfg.Media == nil {
		return res
	}
	for _, m := range d.RunMedia.All() {
		uri := "/sessions/" + sessionID + "/media/" + m.ID
		if m.Size > maxInlineMedia {
			res.Content = append(res.Content, mcpgo.NewResourceLink(uri, m.Name, string(m.Kind), m.MIMEType))
			continue
		}
		b, err := core.ReadMedia(ctx, s.cfg.Media, m.ID, maxInlineMedia)
		if err != nil {
			s.log.Warn("mcp: a medium of the run could not be read", "media_id", m.ID, "error", err)
			res.Content = append(res.Content, mcpgo.NewResourceLink(uri, m.Name, string(m.Kind), m.MIMEType))
			continue
		}
		data := base64.StdEncoding.EncodeToString(b)
		switch m.Kind {
		case core.MediaImage:
			res.Content = append(res.Content, mcpgo.NewImageContent(data, m.MIMEType))
		case core.MediaAudio:
			res.Content = append(res.Content, mcpgo.NewAudioContent(data, m.MIMEType))
		default:
			res.Content = append(res.Content, mcpgo.NewEmbeddedResource(mcpgo.BlobResourceContents{URI: uri, MIMEType: m.MIMEType, Blob: data}))
		}
	}
	return res
}
