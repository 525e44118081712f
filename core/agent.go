package core

import (
	"context"
	"encoding/json"
)

// Agent is anything the engine can run: the built-in LLM agent
// (core/agent), or an agent written in Go and registered through the root
// package. Execute may be called concurrently for different runs.
type Agent interface {
	// Info describes the agent for listings and events. It must be cheap.
	Info() AgentInfo
	// Execute runs the agent for one run, or resumes it when x.Resume is
	// set. It reports progress through x.Emit and returns the outcome. An
	// outcome with Paused set pauses the run. When ctx is cancelled it
	// returns promptly with ctx's error.
	Execute(ctx context.Context, x *Execution) (*Outcome, error)
}

// AgentInfo is the public description of an agent.
type AgentInfo struct {
	ID           string     `json:"id"`
	Name         string     `json:"name"`
	Description  string     `json:"description,omitempty"`
	Instructions string     `json:"instructions,omitempty"`
	Model        *ModelInfo `json:"model,omitempty"`
	Tools        []ToolInfo `json:"tools,omitempty"`
	// Kind is the runnable's kind (empty: an agent).
	Kind Kind `json:"kind,omitempty"`
	// Mode is a team's mode (coordinate, route, broadcast, tasks).
	Mode string `json:"mode,omitempty"`
	// Members are a team's members.
	Members []AgentInfo `json:"members,omitempty"`
	// Steps are a workflow's steps.
	Steps []StepInfo `json:"steps,omitempty"`
	// Remote, when set, is where a remote runnable lives (a URL, no
	// credentials).
	Remote string `json:"remote,omitempty"`
	// Component, when set, says the runnable is a component's version
	// (dynamic.go).
	Component *ComponentInfo `json:"component,omitempty"`
}

// StepInfo describes one step of a workflow.
type StepInfo struct {
	Name        string `json:"name"`
	StepType    string `json:"step_type"` // step, steps, parallel, condition, loop, router
	Description string `json:"description,omitempty"`
	// Executor is what a step of type step runs (an agent, a team, or a
	// function when empty).
	Executor *Ref       `json:"-"`
	Steps    []StepInfo `json:"steps,omitempty"`
}

// ModelInfo names an agent's model.
type ModelInfo struct {
	Name     string `json:"name"`
	Model    string `json:"model"`
	Provider string `json:"provider"`
}

// ToolInfo describes one tool an agent may call.
type ToolInfo struct {
	Name                 string         `json:"name"`
	Description          string         `json:"description,omitempty"`
	Parameters           map[string]any `json:"parameters,omitempty"`
	RequiresConfirmation bool           `json:"requires_confirmation,omitempty"`
	RequiresUserInput    bool           `json:"requires_user_input,omitempty"`
	ExternalExecution    bool           `json:"external_execution,omitempty"`
	ApprovalType         ApprovalType   `json:"approval_type,omitempty"`
}

// PausedCanceller is an optional interface of a runnable whose paused run
// holds something elsewhere (a remote agent's paused task or run): when a
// paused run is cancelled, which executes nothing, the engine calls
// CancelPaused with the run as stored (its Paused state included), so the
// runnable can release it. It is best effort and must return promptly.
type PausedCanceller interface {
	CancelPaused(ctx context.Context, run *Run)
}

// Execution is the input of one Agent.Execute call.
type Execution struct {
	// Run is a snapshot of the stored run; agents must not modify it.
	Run *Run
	// Message is the user's input for a new run.
	Message string
	// History holds the messages of earlier runs of the same session,
	// oldest first.
	History []Message
	// Resume is set when a paused run continues: the stored paused state
	// with each pending tool's decision (Confirmed, ConfirmationNote) filled.
	Resume *PausedState
	// Emit appends an event to the run's stream. The engine fills the ids,
	// the index and created_at. It returns an error when the event cannot be
	// recorded; the agent should then stop. Over an event log in a server
	// of its own (Redis) an agent's events are queued and appended behind
	// it, in batches: a failed append is then reported by a later Emit, or
	// ends the run in an error once the agent returns.
	Emit func(ctx context.Context, ev Event) error
	// SessionState is the session's state when the run starts (teams and
	// workflows; nil for agents).
	SessionState map[string]any
	// RunChild executes another runnable as a child of this run (a team's
	// member, a workflow's step): see ChildParams. The engine sets it for
	// teams and workflows (nil for agents, and outside the engine).
	RunChild func(ctx context.Context, p ChildParams) (*Run, error)
	// Media opens the media of Run.Input.Media (nil when the gateway keeps
	// none).
	Media MediaOpener
	// StoreMedia stores a medium a tool returned (in the media store, as
	// one the run's session carries) and returns its reference; nil when
	// the gateway keeps no media.
	StoreMedia func(ctx context.Context, name, mimeType string, data []byte) (MediaRef, error)
}

// Outcome is what an agent returns.
type Outcome struct {
	Content string
	// Messages are the run's own messages (the instructions, the user's
	// input and what followed; not the session's history).
	Messages []Message
	Tools    []ToolExecution
	Metrics  Metrics
	// Paused, when set, pauses the run waiting for decisions on
	// Paused.Pending.
	Paused *PausedState
	// SessionState is the session's state as the run leaves it (teams and
	// workflows share it with their members); nil leaves it as it was.
	SessionState map[string]any
	// StepResults are a workflow's step outputs (its own JSON shape).
	StepResults json.RawMessage
	// References are the knowledge the run used.
	References []MessageReferences
	// SessionSummary, when set, is stored as the session's summary with
	// the run's completion.
	SessionSummary *string
	// Requirements, with Paused, are what the paused run waits for when
	// they are not simply Paused.Pending (a team whose member paused names
	// the member on each); nil: one per pending tool call.
	Requirements []RunRequirement
	// PausedStep, with Paused, is a workflow's pause: its
	// PausedStepIndex, PausedStepName and StepRequirements go on the
	// WorkflowPaused event.
	PausedStep *Event
}

// AgentError lets an agent name the error_type of the RunError it causes.
type AgentError struct {
	Type string // e.g. model_error, tool_error
	Err  error
}

func (e *AgentError) Error() string { return e.Err.Error() }
func (e *AgentError) Unwrap() error { return e.Err }
