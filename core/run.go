package core

import "encoding/json"

// RunStatus is the lifecycle state of a run.
type RunStatus string

const (
	RunPending   RunStatus = "PENDING"
	RunRunning   RunStatus = "RUNNING"
	RunPaused    RunStatus = "PAUSED"
	RunCompleted RunStatus = "COMPLETED"
	RunCancelled RunStatus = "CANCELLED"
	RunError     RunStatus = "ERROR"
)

// Final reports whether no further events will be appended for the status.
func (s RunStatus) Final() bool {
	return s == RunCompleted || s == RunCancelled || s == RunError
}

// Message is one entry of a conversation sent to a model.
type Message struct {
	Role       string     `json:"role"` // system | user | assistant | tool
	Content    string     `json:"content"`
	ToolCalls  []ToolCall `json:"tool_calls,omitempty"`
	ToolCallID string     `json:"tool_call_id,omitempty"`
	Name       string     `json:"name,omitempty"`
	// Media are the files, images, audio and video a user message
	// carries.
	Media     []MediaRef `json:"media,omitempty"`
	CreatedAt int64      `json:"created_at,omitempty"`
}

// ToolCall is a model's request to call a tool.
type ToolCall struct {
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Arguments json.RawMessage `json:"arguments"`
}

// ToolExecution is agno's record of one tool call: what was asked, what
// happened, and the human-in-the-loop flags and answers.
type ToolExecution struct {
	ToolCallID           string          `json:"tool_call_id"`
	ToolName             string          `json:"tool_name"`
	ToolArgs             json.RawMessage `json:"tool_args,omitempty"`
	ToolCallError        bool            `json:"tool_call_error,omitempty"`
	Result               string          `json:"result,omitempty"`
	Metrics              *ToolMetrics    `json:"metrics,omitempty"`
	StopAfterToolCall    bool            `json:"stop_after_tool_call,omitempty"`
	CreatedAt            int64           `json:"created_at,omitempty"`
	RequiresConfirmation bool            `json:"requires_confirmation,omitempty"`
	Confirmed            *bool           `json:"confirmed,omitempty"`
	ConfirmationNote     string          `json:"confirmation_note,omitempty"`
	// RequiresUserInput: the user supplies the arguments UserInputSchema
	// lists (each with its value filled on continue); Answered is set once
	// they did.
	RequiresUserInput bool             `json:"requires_user_input,omitempty"`
	UserInputSchema   []UserInputField `json:"user_input_schema,omitempty"`
	Answered          bool             `json:"answered,omitempty"`
	// ExternalExecutionRequired: the caller runs the tool and continues the
	// run with Result set.
	ExternalExecutionRequired bool `json:"external_execution_required,omitempty"`
	// ApprovalType marks a call of a tool that needs an approval
	// (required) or records one (audit); ApprovalID is the approval the
	// pause wrote (agno's fields).
	ApprovalType ApprovalType `json:"approval_type,omitempty"`
	ApprovalID   string       `json:"approval_id,omitempty"`
	// Media are the media the tool returned (stored in the media store).
	Media []MediaRef `json:"media,omitempty"`
	// Approval is the tool's approval policy, for the record its pause
	// writes (not stored with the tool execution).
	Approval *ApprovalPolicy `json:"-"`
}

// UserInputField is one argument a user supplies to a paused tool call
// (agno's shape; field_type is agno's Python type name: str, int, float,
// bool, list, dict).
type UserInputField struct {
	Name        string `json:"name"`
	FieldType   string `json:"field_type"`
	Description string `json:"description,omitempty"`
	Value       any    `json:"value"`
}

// Pauses reports whether the tool call waits for a person or the caller.
func (t *ToolExecution) Pauses() bool {
	return t.RequiresConfirmation || t.RequiresUserInput || t.ExternalExecutionRequired
}

// ToolMetrics times one tool execution (Unix seconds, duration in seconds).
type ToolMetrics struct {
	StartTime float64 `json:"start_time"`
	EndTime   float64 `json:"end_time"`
	Duration  float64 `json:"duration"`
}

// RunRequirement is one thing a paused run waits for (agno's shape).
type RunRequirement struct {
	ID               string         `json:"id"`
	CreatedAt        int64          `json:"created_at"`
	ToolExecution    *ToolExecution `json:"tool_execution"`
	Confirmation     *bool          `json:"confirmation,omitempty"`
	ConfirmationNote string         `json:"confirmation_note,omitempty"`
	// MemberAgentID, MemberAgentName and MemberRunID name the team member
	// (or workflow step executor) whose tool call this is, when a child
	// run paused its parent.
	MemberAgentID   string `json:"member_agent_id,omitempty"`
	MemberAgentName string `json:"member_agent_name,omitempty"`
	MemberRunID     string `json:"member_run_id,omitempty"`
	// UserInputSchema is the tool call's user input, for requirements of
	// tools that need it.
	UserInputSchema []UserInputField `json:"user_input_schema,omitempty"`
	// ExternalExecutionResult is the caller's result, once given.
	ExternalExecutionResult *string `json:"external_execution_result,omitempty"`
}

// Metrics are a run's (or one model request's) counters.
type Metrics struct {
	InputTokens      int64   `json:"input_tokens"`
	OutputTokens     int64   `json:"output_tokens"`
	TotalTokens      int64   `json:"total_tokens"`
	TimeToFirstToken float64 `json:"time_to_first_token,omitempty"`
	Duration         float64 `json:"duration,omitempty"`
}

// Add accumulates o into m.
func (m *Metrics) Add(o Metrics) {
	m.InputTokens += o.InputTokens
	m.OutputTokens += o.OutputTokens
	m.TotalTokens += o.TotalTokens
	if m.TimeToFirstToken == 0 {
		m.TimeToFirstToken = o.TimeToFirstToken
	}
}

// RunInput is what started the run.
type RunInput struct {
	InputContent string `json:"input_content"`
	// The media sent with the input, by kind as AgentOS files them (see
	// NewRunInput and Media).
	Images []MediaRef `json:"images,omitempty"`
	Audio  []MediaRef `json:"audio,omitempty"`
	Videos []MediaRef `json:"videos,omitempty"`
	Files  []MediaRef `json:"files,omitempty"`
	// KnowledgeFilters are the run's knowledge filters (AgentOS's
	// knowledge_filters: a dict filter or a filter expression, validated by
	// the adapter), applied to every search of the agent's knowledge base.
	KnowledgeFilters map[string]any `json:"knowledge_filters,omitempty"`
}

// PausedState is everything needed to resume a paused run on any replica:
// the conversation so far and the tool calls waiting for a decision.
type PausedState struct {
	Messages []Message `json:"messages"`
	// RunStart is the index in Messages of the run's input (before it:
	// instructions and the session's history).
	RunStart int             `json:"run_start"`
	Pending  []ToolExecution `json:"pending"`
	// Done holds tool executions of the same model turn that already ran.
	Done []ToolExecution `json:"done,omitempty"`
	// Turns counts model requests made so far (the agent bounds the loop).
	Turns int `json:"turns"`
	// Metrics are the counters so far, carried into the continued run.
	Metrics *Metrics `json:"metrics,omitempty"`
	// Runnable is state private to the runnable (team, workflow, remote agent) needed to resume it.
	Runnable json.RawMessage `json:"runnable,omitempty"`
	// AutoContinue: the pause waits for an approval that continues the run
	// by itself once resolved, so its followers' streams stay open.
	AutoContinue bool `json:"auto_continue,omitempty"`
	// References are the knowledge the run used before it paused.
	References []MessageReferences `json:"references,omitempty"`
}

// MessageReferences are the knowledge a run looked up for one query
// (agno's MessageReferences): the chunks found, and how long it took in
// seconds.
type MessageReferences struct {
	Query      string           `json:"query"`
	References []map[string]any `json:"references"`
	Time       float64          `json:"time,omitempty"`
}

// Run is the stored record of one run. Runs live in their own table.
type Run struct {
	RunID     string `json:"run_id"`
	SessionID string `json:"session_id"`
	AgentID   string `json:"agent_id"`
	AgentName string `json:"agent_name,omitempty"`
	// TeamID / WorkflowID name the team or workflow that runs it (see
	// Run.Kind); a member agent's run inside a workflow carries the
	// workflow's id too.
	TeamID       string `json:"team_id,omitempty"`
	TeamName     string `json:"team_name,omitempty"`
	WorkflowID   string `json:"workflow_id,omitempty"`
	WorkflowName string `json:"workflow_name,omitempty"`
	// ParentRunID is set on a child run: a team member's or a workflow
	// step's execution, whose events went into the parent's stream.
	ParentRunID string `json:"parent_run_id,omitempty"`
	NestedDepth int    `json:"nested_depth,omitempty"`
	// StepID, StepName and StepIndex name the workflow step a child run
	// executed.
	StepID    string `json:"step_id,omitempty"`
	StepName  string `json:"step_name,omitempty"`
	StepIndex *int   `json:"step_index,omitempty"`
	// SessionState is the session state the run ended with (teams and
	// workflows).
	SessionState map[string]any `json:"session_state,omitempty"`
	// StepResults are a workflow run's step outputs.
	StepResults json.RawMessage `json:"step_results,omitempty"`
	// References are the knowledge the run used (AgentOS's RunOutput
	// references).
	References []MessageReferences `json:"references,omitempty"`
	// ScheduleID and ScheduleRunID name the schedule fire that started
	// the run.
	ScheduleID    string `json:"schedule_id,omitempty"`
	ScheduleRunID string `json:"schedule_run_id,omitempty"`
	// EvalRunID names the eval run (core/eval) the run is an iteration
	// of (StartParams').
	EvalRunID string `json:"eval_run_id,omitempty"`

	// TraceCarrier is the caller's W3C trace context (StartParams'),
	// stored with the run so a queued run executed by any replica
	// continues the caller's trace; not shown.
	TraceCarrier map[string]string `json:"-"`
	// ComponentVersion is the version of the component the run runs (0:
	// not a component), stored with the run so it continues with it.
	ComponentVersion int              `json:"component_version,omitempty"`
	UserID           string           `json:"user_id,omitempty"`
	Status           RunStatus        `json:"status"`
	Input            RunInput         `json:"input"`
	Content          string           `json:"content,omitempty"`
	ContentType      string           `json:"content_type,omitempty"`
	Model            string           `json:"model,omitempty"`
	ModelProvider    string           `json:"model_provider,omitempty"`
	Messages         []Message        `json:"messages,omitempty"`
	Tools            []ToolExecution  `json:"tools,omitempty"`
	Requirements     []RunRequirement `json:"requirements,omitempty"`
	Metrics          *Metrics         `json:"metrics,omitempty"`
	Error            string           `json:"error,omitempty"`
	ErrorType        string           `json:"error_type,omitempty"`
	CancelRequested  bool             `json:"cancel_requested,omitempty"`
	// Background marks runs that were started detached from any request.
	Background bool `json:"background,omitempty"`
	// EventCount is the number of events appended so far, kept up to date at
	// every pause and end so a resume after the log expired can be answered.
	EventCount int64        `json:"event_count"`
	Paused     *PausedState `json:"-"`
	// LeaseOwner is the engine instance executing the run, and LeaseUntil
	// (Unix milliseconds) when its lease ends unless renewed. A RUNNING run
	// whose lease ended lost its executor: a reaper ends it (worker_lost),
	// or, for a queued background run, the queue executes it again.
	LeaseOwner string `json:"-"`
	LeaseUntil int64  `json:"-"`
	// NewApprovals are approvals to insert with this write of the run, in
	// its transaction (see RunStore); they are not read back with it.
	NewApprovals []*Approval `json:"-"`
	CreatedAt    int64       `json:"created_at"`
	UpdatedAt    int64       `json:"updated_at"`

	// RunMedia are the media the run produced (its tools' images, audio,
	// videos and files: AgentOS's RunOutput lists).
	RunMedia
}

// SessionType is agno's session kind.
type SessionType string

const (
	SessionAgent    SessionType = "agent"
	SessionTeam     SessionType = "team"
	SessionWorkflow SessionType = "workflow"
)

// Session groups the runs of one conversation.
type Session struct {
	SessionID    string         `json:"session_id"`
	SessionName  string         `json:"session_name"`
	SessionType  SessionType    `json:"session_type"`
	UserID       string         `json:"user_id,omitempty"`
	AgentID      string         `json:"agent_id,omitempty"`
	TeamID       string         `json:"team_id,omitempty"`
	WorkflowID   string         `json:"workflow_id,omitempty"`
	SessionState map[string]any `json:"session_state,omitempty"`
	Metadata     map[string]any `json:"metadata,omitempty"`
	Summary      string         `json:"session_summary,omitempty"`
	CreatedAt    int64          `json:"created_at"`
	UpdatedAt    int64          `json:"updated_at"`
}

// SessionNameOf is the name of a session a run creates: its first user
// message, as AgentOS names sessions, cut to 1024 characters (the longest
// name a rename accepts).
func SessionNameOf(message string) string {
	if r := []rune(message); len(r) > 1024 {
		return string(r[:1024])
	}
	return message
}

// ToolRejectedResult is the tool result the model sees when a user rejects
// a tool call (followed by the user's note, if any).
const ToolRejectedResult = "The user rejected this tool call."
