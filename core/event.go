package core

import "encoding/json"

// EventType is the type of one event of a run's stream. The set is closed:
// these are agno's names (teams add the "Team" prefix, workflows have their
// own set: see ForKind).
type EventType string

const (
	EventRunStarted              EventType = "RunStarted"
	EventRunContent              EventType = "RunContent"
	EventRunContentCompleted     EventType = "RunContentCompleted"
	EventReasoningStarted        EventType = "ReasoningStarted"
	EventReasoningContentDelta   EventType = "ReasoningContentDelta"
	EventReasoningCompleted      EventType = "ReasoningCompleted"
	EventToolCallStarted         EventType = "ToolCallStarted"
	EventToolCallCompleted       EventType = "ToolCallCompleted"
	EventToolCallError           EventType = "ToolCallError"
	EventModelRequestStarted     EventType = "ModelRequestStarted"
	EventModelRequestCompleted   EventType = "ModelRequestCompleted"
	EventMemoryUpdateStarted     EventType = "MemoryUpdateStarted"
	EventMemoryUpdateCompleted   EventType = "MemoryUpdateCompleted"
	EventSessionSummaryStarted   EventType = "SessionSummaryStarted"
	EventSessionSummaryCompleted EventType = "SessionSummaryCompleted"
	EventRunPaused               EventType = "RunPaused"
	EventRunContinued            EventType = "RunContinued"
	EventRunCompleted            EventType = "RunCompleted"
	EventRunError                EventType = "RunError"
	EventRunCancelled            EventType = "RunCancelled"
	EventCustom                  EventType = "CustomEvent"
)

// Team-only events (the task mode's task list and iterations).
const (
	EventTeamTaskIterationStarted   EventType = "TeamTaskIterationStarted"
	EventTeamTaskIterationCompleted EventType = "TeamTaskIterationCompleted"
	EventTeamTaskStateUpdated       EventType = "TeamTaskStateUpdated"
	EventTeamTaskCreated            EventType = "TeamTaskCreated"
	EventTeamTaskUpdated            EventType = "TeamTaskUpdated"
)

// Workflow events (agno's WorkflowRunEvent set). A workflow run's own
// start, pause, continue and end are named by the engine from the run
// events (see ForKind); the step events are the workflow's own.
const (
	EventWorkflowStarted             EventType = "WorkflowStarted"
	EventWorkflowCompleted           EventType = "WorkflowCompleted"
	EventWorkflowPaused              EventType = "WorkflowPaused"
	EventWorkflowCancelled           EventType = "WorkflowCancelled"
	EventWorkflowError               EventType = "WorkflowError"
	EventStepStarted                 EventType = "StepStarted"
	EventStepCompleted               EventType = "StepCompleted"
	EventStepPaused                  EventType = "StepPaused"
	EventStepContinued               EventType = "StepContinued"
	EventStepError                   EventType = "StepError"
	EventStepOutput                  EventType = "StepOutput"
	EventStepExecutorPaused          EventType = "StepExecutorPaused"
	EventStepExecutorContinued       EventType = "StepExecutorContinued"
	EventLoopExecutionStarted        EventType = "LoopExecutionStarted"
	EventLoopIterationStarted        EventType = "LoopIterationStarted"
	EventLoopIterationCompleted      EventType = "LoopIterationCompleted"
	EventLoopExecutionCompleted      EventType = "LoopExecutionCompleted"
	EventParallelExecutionStarted    EventType = "ParallelExecutionStarted"
	EventParallelExecutionCompleted  EventType = "ParallelExecutionCompleted"
	EventConditionExecutionStarted   EventType = "ConditionExecutionStarted"
	EventConditionExecutionCompleted EventType = "ConditionExecutionCompleted"
	EventRouterExecutionStarted      EventType = "RouterExecutionStarted"
	EventRouterExecutionCompleted    EventType = "RouterExecutionCompleted"
	EventStepsExecutionStarted       EventType = "StepsExecutionStarted"
	EventStepsExecutionCompleted     EventType = "StepsExecutionCompleted"
	EventWorkflowAgentStarted        EventType = "WorkflowAgentStarted"
	EventWorkflowAgentCompleted      EventType = "WorkflowAgentCompleted"
)

// runEvents are the agent event set: every one has a team twin ("Team"
// prefix), except CustomEvent, which teams share.
var runEvents = []EventType{
	EventRunStarted, EventRunContent, EventRunContentCompleted,
	EventReasoningStarted, EventReasoningContentDelta, EventReasoningCompleted,
	EventToolCallStarted, EventToolCallCompleted, EventToolCallError,
	EventModelRequestStarted, EventModelRequestCompleted,
	EventMemoryUpdateStarted, EventMemoryUpdateCompleted,
	EventSessionSummaryStarted, EventSessionSummaryCompleted,
	EventRunPaused, EventRunContinued, EventRunCompleted,
	EventRunError, EventRunCancelled,
}

// workflowNames are the names a workflow's own run events take.
var workflowNames = map[EventType]EventType{
	EventRunStarted:   EventWorkflowStarted,
	EventRunCompleted: EventWorkflowCompleted,
	EventRunPaused:    EventWorkflowPaused,
	EventRunCancelled: EventWorkflowCancelled,
	EventRunError:     EventWorkflowError,
	EventRunContinued: EventStepContinued,
}

// eventNames are the lookup tables of the closed event set.
type eventNames struct {
	known map[EventType]bool
	team  map[EventType]EventType // agent event → its team twin
	base  map[EventType]EventType // team or workflow name → the agent event it stands for
}

var names = newEventNames()

func newEventNames() eventNames {
	n := eventNames{known: map[EventType]bool{EventCustom: true}, team: map[EventType]EventType{}, base: map[EventType]EventType{}}
	for _, t := range runEvents {
		tt := "Team" + t
		n.known[t], n.known[tt] = true, true
		n.team[t], n.base[tt] = tt, t
	}
	for t, w := range workflowNames {
		n.known[w] = true
		n.base[w] = t
	}
	for _, t := range []EventType{
		EventTeamTaskIterationStarted, EventTeamTaskIterationCompleted, EventTeamTaskStateUpdated,
		EventTeamTaskCreated, EventTeamTaskUpdated,
		EventStepStarted, EventStepCompleted, EventStepPaused, EventStepError, EventStepOutput,
		EventStepExecutorPaused, EventStepExecutorContinued,
		EventLoopExecutionStarted, EventLoopIterationStarted, EventLoopIterationCompleted, EventLoopExecutionCompleted,
		EventParallelExecutionStarted, EventParallelExecutionCompleted,
		EventConditionExecutionStarted, EventConditionExecutionCompleted,
		EventRouterExecutionStarted, EventRouterExecutionCompleted,
		EventStepsExecutionStarted, EventStepsExecutionCompleted,
		EventWorkflowAgentStarted, EventWorkflowAgentCompleted,
	} {
		n.known[t] = true
	}
	return n
}

// ForKind is t as a runnable of kind k names it: a team's own events take
// the "Team" prefix (TeamRunContent), a workflow's own start, pause,
// continue and end are WorkflowStarted, WorkflowPaused, StepContinued,
// WorkflowCompleted, WorkflowError and WorkflowCancelled. Anything else
// (CustomEvent, the team-only and step events, a name already given) is
// left as it is.
func (t EventType) ForKind(k Kind) EventType {
	switch k {
	case KindTeam:
		if tt, ok := names.team[t]; ok {
			return tt
		}
	case KindWorkflow:
		if w, ok := workflowNames[t]; ok {
			return w
		}
	}
	return t
}

// Base is the agent event t stands for: RunContent for TeamRunContent,
// RunCompleted for WorkflowCompleted; t itself for the agent events and the
// events that have no agent twin.
func (t EventType) Base() EventType {
	if b, ok := names.base[t]; ok {
		return b
	}
	return t
}

// Valid reports whether t is one of the closed set of event types.
func (t EventType) Valid() bool {
	return t == EventRunContent || names.known[t] // (a streamed token: no map lookup)
}

// Terminal reports whether t, in whichever runnable's naming, ends a run's
// stream for good (RunCompleted, TeamRunError, WorkflowCancelled, …).
func (t EventType) Terminal() bool {
	b := t.Base()
	return b == EventRunCompleted || b == EventRunError || b == EventRunCancelled
}

// EndsSegment reports whether t ends a subscriber's segment: a terminal
// event, or a pause (a later continue goes on in the same stream, read by a
// new subscription after the pause's index).
func (t EventType) EndsSegment() bool { return t.Terminal() || t.Base() == EventRunPaused }

// Forwarded reports whether ev is a child run's event (a team member's, a
// workflow step's) forwarded into its parent's stream: it never ends that
// stream, whatever its type.
func (ev *Event) Forwarded() bool { return ev.ParentRunID != "" }

// Terminal reports whether ev ends its stream for good: a terminal event of
// the stream's own run, not a forwarded one.
func (ev *Event) Terminal() bool { return !ev.Forwarded() && ev.Event.Terminal() }

// EndsSegment reports whether ev ends its stream's segment (see
// EventType.EndsSegment): never for a forwarded event.
func (ev *Event) EndsSegment() bool { return !ev.Forwarded() && ev.Event.EndsSegment() }

// Stream is the run whose stream ev belongs to: StreamRunID, or RunID.
// Event logs key events by it.
func (ev *Event) Stream() string {
	if ev.StreamRunID != "" {
		return ev.StreamRunID
	}
	return ev.RunID
}

// Detail returns ev's EventDetail, allocating it when ev has none.
func (ev *Event) Detail() *EventDetail {
	if ev.EventDetail == nil {
		ev.EventDetail = &EventDetail{}
	}
	return ev.EventDetail
}

// Base is ev's type as the agent event it stands for (see EventType.Base).
func (ev *Event) Base() EventType { return ev.Event.Base() }

// Event is one entry of a run's stream. The JSON form is the wire form of
// every adapter that renders events as JSON (SSE data, WebSocket frames).
//
// EventIndex is 0-based and dense per run; it is assigned by the EventLog on
// Append and is the resume cursor.
type Event struct {
	Event      EventType `json:"event"`
	EventIndex int64     `json:"event_index"`
	RunID      string    `json:"run_id"`
	SessionID  string    `json:"session_id,omitempty"`
	AgentID    string    `json:"agent_id,omitempty"`
	AgentName  string    `json:"agent_name,omitempty"`
	CreatedAt  int64     `json:"created_at"`
	// The runnable's ids (see Run): a team's own events carry team_id, a
	// workflow's workflow_id; a forwarded child run's events carry
	// parent_run_id, the child's own run_id and ids, and nested_depth.
	TeamID       string `json:"team_id,omitempty"`
	TeamName     string `json:"team_name,omitempty"`
	WorkflowID   string `json:"workflow_id,omitempty"`
	WorkflowName string `json:"workflow_name,omitempty"`
	ParentRunID  string `json:"parent_run_id,omitempty"`
	NestedDepth  int    `json:"nested_depth,omitempty"`
	StepID       string `json:"step_id,omitempty"`
	StepName     string `json:"step_name,omitempty"`
	StepIndex    *int   `json:"step_index,omitempty"`
	// StreamRunID is the run whose stream a forwarded event is appended
	// to (the top-level run; empty: RunID). It is not part of the wire
	// form: a reader knows which run's stream it reads.
	StreamRunID string `json:"-"`

	// Payload; which fields are set depends on Event.
	Model            string           `json:"model,omitempty"`
	ModelProvider    string           `json:"model_provider,omitempty"`
	Content          string           `json:"content,omitempty"`
	ContentType      string           `json:"content_type,omitempty"`
	ReasoningContent string           `json:"reasoning_content,omitempty"`
	Tool             *ToolExecution   `json:"tool,omitempty"`
	Tools            []ToolExecution  `json:"tools,omitempty"`
	Requirements     []RunRequirement `json:"requirements,omitempty"`
	Error            string           `json:"error,omitempty"`
	ErrorType        string           `json:"error_type,omitempty"`
	ErrorID          string           `json:"error_id,omitempty"`
	Reason           string           `json:"reason,omitempty"`
	Metrics          *Metrics         `json:"metrics,omitempty"`
	InputTokens      int64            `json:"input_tokens,omitempty"`
	OutputTokens     int64            `json:"output_tokens,omitempty"`
	TotalTokens      int64            `json:"total_tokens,omitempty"`
	TimeToFirstToken float64          `json:"time_to_first_token,omitempty"`
	Data             map[string]any   `json:"data,omitempty"` // CustomEvent payload
	// SessionState is on a team's or workflow's completion.
	SessionState map[string]any `json:"session_state,omitempty"`
	// StepResults are on a workflow's completion and pause.
	StepResults json.RawMessage `json:"step_results,omitempty"`
	// EventDetail is the payload of the team-only and workflow-only
	// events (a task list, iterations, a step's pause, a condition or a
	// router); nil on every other event, which keeps the event small (a
	// run's events are allocated and kept by the log).
	*EventDetail
}

// EventDetail is the payload of the team-only and workflow-only events;
// its fields are part of the event's JSON form, as if they were the
// event's own.
type EventDetail struct {
	// Team task and loop events.
	Iteration     int    `json:"iteration,omitempty"`
	MaxIterations int    `json:"max_iterations,omitempty"`
	TaskID        string `json:"task_id,omitempty"`
	Title         string `json:"title,omitempty"`
	Description   string `json:"description,omitempty"`
	TaskSummary   string `json:"task_summary,omitempty"`
	GoalComplete  *bool  `json:"goal_complete,omitempty"`
	// teams: a task's assignee, status and result (TeamTaskCreated,
	// TeamTaskUpdated).
	Assignee   string `json:"assignee,omitempty"`
	TaskStatus string `json:"status,omitempty"`
	TaskResult string `json:"result,omitempty"`
	// Workflow pause events.
	PausedStepIndex  *int            `json:"paused_step_index,omitempty"`
	PausedStepName   string          `json:"paused_step_name,omitempty"`
	StepRequirements json.RawMessage `json:"step_requirements,omitempty"`
	// workflow: StepPaused's human-in-the-loop request, a condition's
	// result and a router's selection.
	RequiresConfirmation bool             `json:"requires_confirmation,omitempty"`
	ConfirmationMessage  string           `json:"confirmation_message,omitempty"`
	RequiresUserInput    bool             `json:"requires_user_input,omitempty"`
	UserInputMessage     string           `json:"user_input_message,omitempty"`
	UserInputSchema      []UserInputField `json:"user_input_schema,omitempty"`
	ConditionResult      *bool            `json:"condition_result,omitempty"`
	SelectedSteps        []string         `json:"selected_steps,omitempty"`
	// MemoryUpdateCompleted: the user's memories after the update (a JSON
	// array of core/memory's Memory).
	Memories json.RawMessage `json:"memories,omitempty"`
	// SessionSummaryCompleted: agno's SessionSummary ({summary,
	// updated_at}).
	SessionSummary json.RawMessage `json:"session_summary,omitempty"`
	// RunCompleted: the knowledge the run used.
	References []MessageReferences `json:"references,omitempty"`
	// ToolCallCompleted: the media the tool returned; RunCompleted: every
	// medium the run produced (AgentOS's images, audio, videos, files).
	RunMedia
}
