package trace

import (
	"context"
	"time"
)

// Span is one stored span: AgentOS's stored span, with the run's identity
// denormalised from its attributes so traces can be filtered without
// reading every span's attributes. Times are UTC.
type Span struct {
	SpanID        string         `json:"span_id"`
	TraceID       string         `json:"trace_id"`
	ParentSpanID  string         `json:"parent_span_id,omitempty"`
	Name          string         `json:"name"`
	SpanKind      string         `json:"span_kind"`   // "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER"
	StatusCode    string         `json:"status_code"` // "OK", "ERROR", "UNSET"
	StatusMessage string         `json:"status_message,omitempty"`
	StartTime     time.Time      `json:"start_time"`
	EndTime       time.Time      `json:"end_time"`
	DurationMS    int64          `json:"duration_ms"`
	Attributes    map[string]any `json:"attributes,omitempty"`
	// Events are the span's events (a HITL pause or continue on a run
	// span), in time order.
	Events []SpanEvent `json:"events,omitempty"`

	// Identity, from the attributes below (empty when absent).
	RunID      string `json:"run_id,omitempty"`
	SessionID  string `json:"session_id,omitempty"`
	UserID     string `json:"user_id,omitempty"`
	AgentID    string `json:"agent_id,omitempty"`
	TeamID     string `json:"team_id,omitempty"`
	WorkflowID string `json:"workflow_id,omitempty"`

	CreatedAt time.Time `json:"created_at"`
}

// SpanEvent is one event recorded on a span.
type SpanEvent struct {
	Name       string         `json:"name"`
	Time       time.Time      `json:"time"`
	Attributes map[string]any `json:"attributes,omitempty"`
}

// SpanWriter stores spans. Writing a span that is already stored (same
// span_id) replaces it, so a retried batch is never duplicated.
type SpanWriter interface {
	WriteSpans(ctx context.Context, spans []Span) error
}

// Attribute keys the instrumentation sets and the store reads. The span
// type is AgentOS's TraceNode type; OpenInference's span kind is set
// beside it for tools that read OpenInference.
const (
	AttrSpanType          = "agentgate.span.type" // SpanAgent, SpanTeam, ...
	AttrRunID             = "agentgate.run.id"
	AttrParentRun         = "agentgate.run.parent_id"
	AttrSessionID         = "session.id" // OpenInference
	AttrUserID            = "user.id"    // OpenInference
	AttrAgentID           = "agentgate.agent.id"
	AttrTeamID            = "agentgate.team.id"
	AttrWorkflowID        = "agentgate.workflow.id"
	AttrInterface         = "agentgate.interface" // rest, ws, mcp, a2a, slack, schedule, cli
	AttrInput             = "input.value"         // OpenInference
	AttrOutput            = "output.value"        // OpenInference
	AttrStepType          = "agentgate.step.type" // a workflow step's type
	AttrOpenInferenceKind = "openinference.span.kind"
)

// Span types (AgentOS's TraceNode.type).
const (
	SpanAgent    = "AGENT"
	SpanTeam     = "TEAM"
	SpanWorkflow = "WORKFLOW"
	SpanLLM      = "LLM"
	SpanTool     = "TOOL"
	SpanStep     = "STEP"
)
