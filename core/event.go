package core

// EventType is the type of one event of a run's stream. The set is closed:
// these are agno's names (teams add the "Team" prefix).
type EventType string

const (
	EventRunStarted            EventType = "RunStarted"
	EventRunContent            EventType = "RunContent"
	EventRunContentCompleted   EventType = "RunContentCompleted"
	EventReasoningStarted      EventType = "ReasoningStarted"
	EventReasoningContentDelta EventType = "ReasoningContentDelta"
	EventReasoningCompleted    EventType = "ReasoningCompleted"
	EventToolCallStarted       EventType = "ToolCallStarted"
	EventToolCallCompleted     EventType = "ToolCallCompleted"
	EventToolCallError         EventType = "ToolCallError"
	EventModelRequestStarted   EventType = "ModelRequestStarted"
	EventModelRequestCompleted EventType = "ModelRequestCompleted"
	EventMemoryUpdateStarted   EventType = "MemoryUpdateStarted"
	EventMemoryUpdateCompleted EventType = "MemoryUpdateCompleted"
	EventRunPaused             EventType = "RunPaused"
	EventRunContinued          EventType = "RunContinued"
	EventRunCompleted          EventType = "RunCompleted"
	EventRunError              EventType = "RunError"
	EventRunCancelled          EventType = "RunCancelled"
	EventCustom                EventType = "CustomEvent"
)

var knownEvents = map[EventType]bool{
	EventRunStarted: true, EventRunContent: true, EventRunContentCompleted: true,
	EventReasoningStarted: true, EventReasoningContentDelta: true, EventReasoningCompleted: true,
	EventToolCallStarted: true, EventToolCallCompleted: true, EventToolCallError: true,
	EventModelRequestStarted: true, EventModelRequestCompleted: true,
	EventMemoryUpdateStarted: true, EventMemoryUpdateCompleted: true,
	EventRunPaused: true, EventRunContinued: true, EventRunCompleted: true,
	EventRunError: true, EventRunCancelled: true, EventCustom: true,
}

// Valid reports whether t is one of the closed set of event types.
func (t EventType) Valid() bool { return knownEvents[t] }

// Terminal reports whether t ends a run's stream for good.
func (t EventType) Terminal() bool {
	return t == EventRunCompleted || t == EventRunError || t == EventRunCancelled
}

// EndsSegment reports whether a subscriber's stream ends after t: a terminal
// event, or RunPaused (a later continue goes on in the same stream, read by a
// new subscription after the RunPaused index).
func (t EventType) EndsSegment() bool { return t.Terminal() || t == EventRunPaused }

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
}
