package a2a

import (
	"time"

	"github.com/agentgate/agentgate/core"
)

// The adapter works on one protocol-neutral model of A2A objects (this
// file); wire.go encodes it for each protocol generation and binding.

// Version is an A2A protocol generation.
type Version int

const (
	// V03 is A2A v0.3: slash method names, "kind" discriminators,
	// lower-case states.
	V03 Version = iota
	// V1 is A2A v1.0: PascalCase methods, ProtoJSON member presence,
	// TASK_STATE_* enums.
	V1
)

func (v Version) String() string {
	if v == V1 {
		return "1.0"
	}
	return "0.3"
}

// State is a task state.
type State int

const (
	StateUnspecified State = iota
	StateSubmitted
	StateWorking
	StateInputRequired
	StateCompleted
	StateFailed
	StateCanceled
	StateRejected
	StateAuthRequired
)

var stateNames = [...]struct{ v1, v03 string }{
	StateUnspecified:   {"TASK_STATE_UNSPECIFIED", "unknown"},
	StateSubmitted:     {"TASK_STATE_SUBMITTED", "submitted"},
	StateWorking:       {"TASK_STATE_WORKING", "working"},
	StateInputRequired: {"TASK_STATE_INPUT_REQUIRED", "input-required"},
	StateCompleted:     {"TASK_STATE_COMPLETED", "completed"},
	StateFailed:        {"TASK_STATE_FAILED", "failed"},
	StateCanceled:      {"TASK_STATE_CANCELED", "canceled"},
	StateRejected:      {"TASK_STATE_REJECTED", "rejected"},
	StateAuthRequired:  {"TASK_STATE_AUTH_REQUIRED", "auth-required"},
}

// Name is the state's wire name in generation v.
func (s State) Name(v Version) string {
	if s < 0 || int(s) >= len(stateNames) {
		s = StateUnspecified
	}
	if v == V1 {
		return stateNames[s].v1
	}
	return stateNames[s].v03
}

// Terminal reports whether no further update follows the state.
func (s State) Terminal() bool {
	return s == StateCompleted || s == StateFailed || s == StateCanceled || s == StateRejected
}

// Interrupted reports whether the task waits for the client.
func (s State) Interrupted() bool { return s == StateInputRequired || s == StateAuthRequired }

// parseState reads a state name of either generation.
func parseState(name string) (State, bool) {
	for i, n := range stateNames {
		if name == n.v1 || name == n.v03 {
			return State(i), true
		}
	}
	return StateUnspecified, false
}

// StateOf is the task state of a run status.
func StateOf(s core.RunStatus) State {
	switch s {
	case core.RunPending:
		return StateSubmitted
	case core.RunRunning:
		return StateWorking
	case core.RunPaused:
		return StateInputRequired
	case core.RunCompleted:
		return StateCompleted
	case core.RunError:
		return StateFailed
	case core.RunCancelled:
		return StateCanceled
	}
	return StateUnspecified
}

// runStatusOf is the run status a task state filter selects ("" for none).
func runStatusOf(s State) core.RunStatus {
	switch s {
	case StateSubmitted:
		return core.RunPending
	case StateWorking:
		return core.RunRunning
	case StateInputRequired:
		return core.RunPaused
	case StateCompleted:
		return core.RunCompleted
	case StateFailed:
		return core.RunError
	case StateCanceled:
		return core.RunCancelled
	}
	return ""
}

// Role is who wrote a message.
type Role int

const (
	RoleUnspecified Role = iota
	RoleUser
	RoleAgent
)

// Part is one piece of a message or artifact: exactly one of Text, Data or
// File is set.
type Part struct {
	Text *string
	Data any
	File *FilePart
	// MediaType is the part's media type (optional).
	MediaType string
}

// FilePart is a file part the gateway sends: a medium a run produced,
// by its bytes (Raw, when small enough to give inline) or by the URL of
// the session's media route.
type FilePart struct {
	// ID is the medium's id in the media store.
	ID, Name, MediaType, URL string
	Size                     int64
	Raw                      []byte
}

// TextPart returns a text part.
func TextPart(s string) Part { return Part{Text: &s} }

// DataPart returns a data part.
func DataPart(v any) Part { return Part{Data: v} }

// Message is one message between client and agent.
type Message struct {
	MessageID string
	ContextID string
	TaskID    string
	Role      Role
	Parts     []Part
}

// Status is a task's state at a time (Unix seconds; 0: not given).
type Status struct {
	State     State
	Message   *Message
	Timestamp int64
}

// Artifact is an output of a task.
type Artifact struct {
	ArtifactID string
	Name       string
	Parts      []Part
}

// Task is the A2A view of a run.
type Task struct {
	ID        string
	ContextID string
	Status    Status
	Artifacts []Artifact
	History   []Message
}

// StatusUpdate is a TaskStatusUpdateEvent; Final marks the last update of
// a stream (v0.3 only puts it on the wire).
type StatusUpdate struct {
	TaskID    string
	ContextID string
	Status    Status
	Final     bool
}

// ArtifactUpdate is a TaskArtifactUpdateEvent.
type ArtifactUpdate struct {
	TaskID    string
	ContextID string
	Artifact  Artifact
	Append    bool
	LastChunk bool
}

// StreamItem is one stream response: exactly one field is set.
type StreamItem struct {
	Task     *Task
	Status   *StatusUpdate
	Artifact *ArtifactUpdate
}

// timestamp renders Unix seconds as ISO 8601 UTC with milliseconds.
func timestamp(sec int64) string {
	if sec == 0 {
		return ""
	}
	return time.Unix(sec, 0).UTC().Format("2006-01-02T15:04:05.000Z")
}
