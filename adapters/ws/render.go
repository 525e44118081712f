package ws

import (
	"bytes"
	"encoding/json"
	"errors"

	gojson "github.com/goccy/go-json"

	"github.com/agentgate/agentgate/auth"
	"github.com/agentgate/agentgate/core"
)

// Protocol names this protocol's version in the connected frame.
const Protocol = "agentgate.ws.v1"

// Frame error codes: the "code" of an error frame.
const (
	CodeInvalid      = "invalid"
	CodeNotFound     = "not_found"
	CodeConflict     = "conflict"
	CodeGone         = "gone"
	CodeUnauthorized = "unauthorized"
	CodeForbidden    = "forbidden"
	CodeUnavailable  = "unavailable"
	CodeInternal     = "internal"
)

// codeOf is the one table from core error codes to frame error codes.
var codeOf = map[core.ErrorCode]string{
	core.CodeInvalid:      CodeInvalid,
	core.CodeNotFound:     CodeNotFound,
	core.CodeConflict:     CodeConflict,
	core.CodeGone:         CodeGone,
	core.CodeUnauthorized: CodeUnauthorized,
	core.CodeForbidden:    CodeForbidden,
	core.CodeTooLarge:     CodeInvalid, // a request over a limit is a bad request
	core.CodeNotImpl:      CodeInvalid, // asks for something this server does not do
	core.CodeUnavailable:  CodeUnavailable,
	core.CodeInternal:     CodeInternal,

	core.CodeUnprocessable: CodeInvalid, // an idempotency key sent with another request
}

// CodeOf maps an error to its frame error code (internal when unknown).
func CodeOf(err error) string {
	if c, ok := codeOf[core.CodeOf(err)]; ok {
		return c
	}
	return CodeInternal
}

// RenderEvent renders a run event: exactly the JSON of an SSE frame's data,
// written by goccy/go-json as encoding/json would (see rest.RenderEvent).
func RenderEvent(ev *core.Event) []byte {
	b, err := gojson.Marshal(ev)
	if err != nil { // an Event always marshals; keep the socket well-formed anyway
		return RenderError(nil, "", ev.RunID, core.Errorf(core.CodeInternal, "unrenderable event"))
	}
	return b
}

type connectedFrame struct {
	Event         string `json:"event"`
	Protocol      string `json:"protocol"`
	AuthRequired  bool   `json:"auth_required"`
	MaxFrameBytes int    `json:"max_frame_bytes"`
}

// RenderConnected renders the first frame of every socket. authRequired
// says that the socket's principal may do no more than authenticate and
// ping until it authenticates.
func RenderConnected(authRequired bool, maxFrameBytes int) []byte {
	return marshal(connectedFrame{Event: "connected", Protocol: Protocol, AuthRequired: authRequired, MaxFrameBytes: maxFrameBytes})
}

type authenticatedFrame struct {
	Event   string          `json:"event"`
	ID      json.RawMessage `json:"id,omitempty"`
	Subject string          `json:"subject"`
	UserID  string          `json:"user_id,omitempty"`
	Admin   bool            `json:"admin"`
}

// RenderAuthenticated answers a successful authenticate.
func RenderAuthenticated(id json.RawMessage, p *auth.Principal) []byte {
	return marshal(authenticatedFrame{Event: "authenticated", ID: id, Subject: p.Subject, UserID: p.UserID, Admin: p.Admin})
}

type pongFrame struct {
	Event string          `json:"event"`
	ID    json.RawMessage `json:"id,omitempty"`
}

// RenderPong answers a ping.
func RenderPong(id json.RawMessage) []byte { return marshal(pongFrame{Event: "pong", ID: id}) }

// Ack answers start, subscribe, continue and cancel.
type Ack struct {
	ID        json.RawMessage
	Action    Action
	RunID     string
	SessionID string
	AgentID   string
	// TeamID and WorkflowID name a team's or workflow's run instead.
	TeamID, WorkflowID string
	// Status is the run's status as stored after the action.
	Status core.RunStatus
	// LastEventIndex is the cursor a subscription starts after (subscribe
	// and continue; nil for start, whose subscription starts at the first
	// event, and cancel).
	LastEventIndex *int64
	// Background echoes start's and continue's flag.
	Background bool
	// Done: nothing is left to send after the cursor (subscribe).
	Done bool
}

type ackFrame struct {
	Event          string          `json:"event"`
	ID             json.RawMessage `json:"id,omitempty"`
	Action         Action          `json:"action"`
	RunID          string          `json:"run_id"`
	SessionID      string          `json:"session_id,omitempty"`
	AgentID        string          `json:"agent_id,omitempty"`
	TeamID         string          `json:"team_id,omitempty"`
	WorkflowID     string          `json:"workflow_id,omitempty"`
	Status         core.RunStatus  `json:"status,omitempty"`
	LastEventIndex *int64          `json:"last_event_index,omitempty"`
	Background     bool            `json:"background,omitempty"`
	Done           bool            `json:"done,omitempty"`
}

// ackOf is the ack of action a on run.
func ackOf(id json.RawMessage, a Action, run *core.Run) Ack {
	ack := Ack{ID: id, Action: a, RunID: run.RunID, SessionID: run.SessionID, Status: run.Status}
	switch run.Kind() {
	case core.KindTeam:
		ack.TeamID = run.TeamID
	case core.KindWorkflow:
		ack.WorkflowID = run.WorkflowID
	default:
		ack.AgentID = run.AgentID
	}
	return ack
}

// RenderAck renders an ack frame.
func RenderAck(a Ack) []byte {
	return marshal(ackFrame{Event: "ack", ID: a.ID, Action: a.Action, RunID: a.RunID, SessionID: a.SessionID,
		AgentID: a.AgentID, TeamID: a.TeamID, WorkflowID: a.WorkflowID, Status: a.Status, LastEventIndex: a.LastEventIndex, Background: a.Background, Done: a.Done})
}

type errorFrame struct {
	Event               string          `json:"event"`
	ID                  json.RawMessage `json:"id,omitempty"`
	Action              Action          `json:"action,omitempty"`
	RunID               string          `json:"run_id,omitempty"`
	Code                string          `json:"code"`
	Detail              string          `json:"detail"`
	FirstAvailableIndex *int64          `json:"first_available_index,omitempty"`
}

// RenderError renders an error frame for err, echoing the id and action of
// the client frame it answers (if any) and naming the run it concerns.
// Internal errors are not described (core.MessageOf).
func RenderError(id json.RawMessage, action Action, runID string, err error) []byte {
	f := errorFrame{Event: "error", ID: id, Action: action, RunID: runID, Code: CodeOf(err), Detail: core.MessageOf(err)}
	var ge *core.GoneError
	if errors.As(err, &ge) {
		idx := ge.FirstIndex
		f.FirstAvailableIndex = &idx
		if f.RunID == "" {
			f.RunID = ge.RunID
		}
	}
	return marshal(f)
}

// marshal renders a control frame (without HTML escaping: these frames
// are not embedded in HTML, and "a >= b" reads better than "a \u003e= b").
func marshal(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic("ws: frame does not marshal: " + err.Error()) // only fixed struct types reach here
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}
