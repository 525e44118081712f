package core

import (
	"context"
	"encoding/json"
)

// Approvals gate a paused run's tool calls on a person (AgentOS's
// approvals, agentos-api.md §1.12, §3.4). A tool marked approval: required
// pauses its run and writes one pending Approval, in the same transaction
// as the pause (Run.NewApprovals), stamped on the paused tool calls
// (ToolExecution.ApprovalID); the run cannot be continued until an
// approver resolves it, and is then continued with the decision read from
// the store. approval: audit writes an already resolved record when the
// run is continued: who decided what.

// ApprovalStatus is an approval's state. Only a pending approval changes.
type ApprovalStatus string

const (
	ApprovalPending   ApprovalStatus = "pending"
	ApprovalApproved  ApprovalStatus = "approved"
	ApprovalRejected  ApprovalStatus = "rejected"
	ApprovalExpired   ApprovalStatus = "expired"
	ApprovalCancelled ApprovalStatus = "cancelled"
)

// Valid reports whether s is one of the statuses.
func (s ApprovalStatus) Valid() bool {
	switch s {
	case ApprovalPending, ApprovalApproved, ApprovalRejected, ApprovalExpired, ApprovalCancelled:
		return true
	}
	return false
}

// ApprovalType says whether an approval blocks the run.
type ApprovalType string

const (
	// ApprovalRequired: an approver must resolve it before the run goes on.
	ApprovalRequired ApprovalType = "required"
	// ApprovalAudit: recorded when the run's HITL pause is decided; it
	// blocks nothing.
	ApprovalAudit ApprovalType = "audit"
)

// Pause types of an approval (agno's): what the paused tool call waits for.
const (
	PauseConfirmation      = "confirmation"
	PauseUserInput         = "user_input"
	PauseExternalExecution = "external_execution"
)

// PauseTypeOf is the pause type of a paused tool call.
func PauseTypeOf(t *ToolExecution) string {
	switch {
	case t.RequiresUserInput:
		return PauseUserInput
	case t.ExternalExecutionRequired:
		return PauseExternalExecution
	}
	return PauseConfirmation
}

// Approval is one approval record, in AgentOS's ApprovalResponse shape
// (Unix seconds). A required approval covers every tool call of one pause
// that carries approval: required (ToolName and ToolArgs are the first
// one's; Context.tool_names lists them all).
type Approval struct {
	ID           string         `json:"id"`
	RunID        string         `json:"run_id"`
	SessionID    string         `json:"session_id"`
	Status       ApprovalStatus `json:"status"`
	SourceType   Kind           `json:"source_type"`
	ApprovalType ApprovalType   `json:"approval_type"`
	PauseType    string         `json:"pause_type,omitempty"`
	ToolName     string         `json:"tool_name,omitempty"`
	// ToolArgs is the first tool call's arguments object.
	ToolArgs json.RawMessage `json:"tool_args,omitempty"`
	// ToolCallIDs are the paused tool calls it covers (beyond AgentOS).
	ToolCallIDs []string `json:"tool_call_ids,omitempty"`
	// ExpiresAt (Unix seconds), when set, is when an unresolved approval
	// expires (see ApprovalSettings.OnExpiry).
	ExpiresAt     *int64 `json:"expires_at,omitempty"`
	AgentID       string `json:"agent_id,omitempty"`
	TeamID        string `json:"team_id,omitempty"`
	WorkflowID    string `json:"workflow_id,omitempty"`
	UserID        string `json:"user_id,omitempty"`
	ScheduleID    string `json:"schedule_id,omitempty"`
	ScheduleRunID string `json:"schedule_run_id,omitempty"`
	SourceName    string `json:"source_name,omitempty"`
	// Requirements are the run's requirements when it paused.
	Requirements []RunRequirement `json:"requirements,omitempty"`
	// Context is agno's {tool_names, source_name}.
	Context map[string]any `json:"context,omitempty"`
	// ResolutionData is the approver's data: {"values": {...}} for user
	// input, {"result": "..."} for an external execution.
	ResolutionData map[string]any `json:"resolution_data,omitempty"`
	ResolvedBy     string         `json:"resolved_by,omitempty"`
	ResolvedAt     *int64         `json:"resolved_at,omitempty"`
	// AutoContinue: the run is continued by the gateway once this is
	// resolved (beyond AgentOS).
	AutoContinue bool  `json:"auto_continue,omitempty"`
	CreatedAt    int64 `json:"created_at"`
	UpdatedAt    int64 `json:"updated_at,omitempty"`
	// RunStatus is the run's status when the approval was read (looked up
	// live, not stored), so a UI can tell whether it was continued.
	RunStatus RunStatus `json:"run_status,omitempty"`
}

// ApprovalPolicy is what a tool's approval marking adds to its paused
// calls, for the record the pause writes. It is not part of the wire
// shape of a tool execution.
type ApprovalPolicy struct {
	// AutoContinue: continue the run by itself once resolved.
	AutoContinue bool
	// ExpiresIn (seconds), when > 0: the approval expires that long after
	// it was created.
	ExpiresIn int64
}

// ApprovalStore is the approvals' part of the RunStore: approvals are
// written with the run writes that pause and continue runs
// (Run.NewApprovals) and read and resolved here.
//
// Errors: a missing approval is ErrNotFound (wrapped); resolving one that
// is not pending is ErrConflict.
type ApprovalStore interface {
	// GetApproval returns the approval with id.
	GetApproval(ctx context.Context, id string) (*Approval, error)
	// ListApprovals returns one page of the approvals matching p, newest
	// first, and how many match in all.
	ListApprovals(ctx context.Context, p ListApprovalsParams) ([]*Approval, int, error)
	// ResolveApproval changes a pending approval's status (and its
	// resolution) and returns it as stored; it is ErrConflict when the
	// approval is no longer pending (a compare-and-set: two resolutions
	// of one approval, on any replica, cannot both succeed).
	ResolveApproval(ctx context.Context, p ResolveApprovalParams) (*Approval, error)
	// DeleteApproval deletes the approval with id.
	DeleteApproval(ctx context.Context, id string) error
	// AnnotateApproval merges keys into the approval's Context, whatever
	// its status (an interface noting where it showed the approval, e.g.
	// a Slack message, so it can update it once resolved).
	AnnotateApproval(ctx context.Context, id string, context map[string]any) error
}

// ListApprovalsParams filters and pages ListApprovals; empty fields match
// anything. Page is 1-based; Limit <= 0 means no limit.
type ListApprovalsParams struct {
	// Statuses, when not empty, are the statuses matched.
	Statuses     []ApprovalStatus
	SourceType   Kind
	ApprovalType ApprovalType
	PauseType    string
	AgentID      string
	TeamID       string
	WorkflowID   string
	UserID       string
	ScheduleID   string
	RunID        string
	// ExpiresBefore (Unix seconds), when not 0: only approvals with an
	// expires_at before it.
	ExpiresBefore int64
	// ResolvedAfter (Unix seconds), when not 0: only approvals resolved
	// at or after it.
	ResolvedAfter int64
	// AutoContinue: only approvals marked auto_continue.
	AutoContinue bool
	Limit        int
	Page         int
}

// ResolveApprovalParams resolves a pending approval.
type ResolveApprovalParams struct {
	ID             string
	Status         ApprovalStatus // approved | rejected | expired | cancelled
	ResolvedBy     string
	ResolutionData map[string]any
	ResolvedAt     int64 // Unix seconds; also its updated_at
}

// ApprovalObserver is told about approvals as they are stored: created
// (pending, by a pause) and resolved (approved, rejected, expired or
// cancelled, on any replica: the replica that resolved it tells its
// observers). Calls come after the store write, off the run's path; an
// observer must return promptly (enqueue, don't deliver) and is best
// effort: what must not be lost is made durable by the observer itself.
// Register observers with Engine.AddApprovalObserver before serving.
type ApprovalObserver interface {
	ApprovalCreated(ctx context.Context, a *Approval)
	ApprovalResolved(ctx context.Context, a *Approval)
}
