package ws

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/agentgate/agentgate/core/media"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/agentgate/agentgate/auth"
	"github.com/agentgate/agentgate/core"
)

// Action is what a client frame asks for.
type Action string

// The client actions.
const (
	ActionAuthenticate Action = "authenticate"
	ActionPing         Action = "ping"
	ActionStart        Action = "start"
	ActionSubscribe    Action = "subscribe"
	ActionContinue     Action = "continue"
	ActionCancel       Action = "cancel"
)

// Operations are the policy entries of the actions: authenticate and ping
// come before credentials; the others act on the runnable: an agent
// (agents:<id>:run, "ws:start"), a team (teams:<id>:run, "ws:start:team")
// or a workflow (workflows:<id>:run, "ws:start:workflow").
func Operations() []auth.Operation {
	ops := []auth.Operation{auth.Public(ActionAuthenticate.OperationID()), auth.Public(ActionPing.OperationID())}
	for _, k := range []core.Kind{core.KindAgent, core.KindTeam, core.KindWorkflow} {
		for _, a := range runActions {
			ops = append(ops, auth.Scoped(a.OperationIDFor(k), auth.ResourceOf(k), auth.ActionRun, string(k)+"_id"))
		}
	}
	return ops
}

// runActions are the actions that act on a runnable.
var runActions = []Action{ActionStart, ActionSubscribe, ActionContinue, ActionCancel}

// OperationID is the auth policy's operation id of the action ("ws:start").
func (a Action) OperationID() string { return "ws:" + string(a) }

// OperationIDFor is the operation id of the action on a runnable of kind
// k: OperationID for an agent, "ws:start:team" for a team.
func (a Action) OperationIDFor(k core.Kind) string {
	if k.OrAgent() == core.KindAgent {
		return a.OperationID()
	}
	return a.OperationID() + ":" + string(k)
}

// OperationIDs are every operation id the dispatcher serves.
func OperationIDs() []string {
	ids := []string{ActionAuthenticate.OperationID(), ActionPing.OperationID()}
	for _, k := range []core.Kind{core.KindAgent, core.KindTeam, core.KindWorkflow} {
		for _, a := range runActions {
			ids = append(ids, a.OperationIDFor(k))
		}
	}
	return ids
}

// Actions lists every action, in the order of the protocol description.
func Actions() []Action {
	return []Action{ActionAuthenticate, ActionPing, ActionStart, ActionSubscribe, ActionContinue, ActionCancel}
}

// maxIDLen bounds a client-chosen id (as JSON text).
const maxIDLen = 128

// ClientFrame is a parsed client frame. Fields an action does not use are
// zero.
type ClientFrame struct {
	Action Action
	// ID is the client's id as JSON text (a string or an integer), echoed
	// verbatim in replies; nil when the frame had none.
	ID json.RawMessage

	Token string // authenticate
	// AgentID, TeamID, WorkflowID: start needs exactly one (what runs);
	// subscribe, continue and cancel check the run against any given.
	AgentID    string
	TeamID     string
	WorkflowID string
	Message    string // start
	SessionID  string // start; subscribe, continue, cancel (optional check)
	UserID     string // start
	Background bool   // start, continue
	RunID      string // subscribe, continue, cancel
	// LastEventIndex is the resume cursor of subscribe: -1 (the default)
	// replays from the first event.
	LastEventIndex int64
	Tools          []core.ToolExecution // continue
	// Requirements are a paused team's or workflow's requirements with
	// their decisions (continue; instead of tools).
	Requirements []core.RunRequirement
	// IdempotencyKey makes a start safe to send again (on any socket or
	// replica): the same key and request get the run it started.
	IdempotencyKey string // start
	// Media are a start's images, audio, videos and files (AgentOS's JSON
	// media: {url} or {content: base64, mime_type, filename}, or URL
	// strings), not yet fetched or stored.
	Media []media.Source // start
}

// wireFrame is the JSON shape of every client frame; a nil field was absent.
type wireFrame struct {
	Action         *string                `json:"action"`
	ID             json.RawMessage        `json:"id"`
	Token          *string                `json:"token"`
	AgentID        *string                `json:"agent_id"`
	TeamID         *string                `json:"team_id"`
	WorkflowID     *string                `json:"workflow_id"`
	Message        *string                `json:"message"`
	SessionID      *string                `json:"session_id"`
	UserID         *string                `json:"user_id"`
	Background     *bool                  `json:"background"`
	RunID          *string                `json:"run_id"`
	LastEventIndex json.RawMessage        `json:"last_event_index"`
	Tools          *[]core.ToolExecution  `json:"tools"`
	Requirements   *[]core.RunRequirement `json:"requirements"`
	IdempotencyKey *string                `json:"idempotency_key"`
	Images         json.RawMessage        `json:"images"`
	Audio          json.RawMessage        `json:"audio"`
	Videos         json.RawMessage        `json:"videos"`
	Files          json.RawMessage        `json:"files"`
}

// allowed lists the fields each action may carry (besides action and id).
var allowed = map[Action][]string{
	ActionAuthenticate: {"token"},
	ActionPing:         nil,
	ActionStart:        {"agent_id", "team_id", "workflow_id", "message", "session_id", "user_id", "background", "idempotency_key", "images", "audio", "videos", "files"},
	ActionSubscribe:    {"run_id", "last_event_index", "agent_id", "team_id", "workflow_id", "session_id"},
	ActionContinue:     {"run_id", "tools", "requirements", "background", "agent_id", "team_id", "workflow_id", "session_id"},
	ActionCancel:       {"run_id", "agent_id", "team_id", "workflow_id", "session_id"},
}

type mediaField struct {
	field string
	raw   json.RawMessage
}

// media are w's media fields.
func (w *wireFrame) media() [4]mediaField {
	return [4]mediaField{{"images", w.Images}, {"audio", w.Audio}, {"videos", w.Videos}, {"files", w.Files}}
}

// present names the fields that were present in w.
func (w *wireFrame) present() []string {
	var p []string
	add := func(ok bool, name string) {
		if ok {
			p = append(p, name)
		}
	}
	add(w.Token != nil, "token")
	add(w.AgentID != nil, "agent_id")
	add(w.TeamID != nil, "team_id")
	add(w.WorkflowID != nil, "workflow_id")
	add(w.Message != nil, "message")
	add(w.SessionID != nil, "session_id")
	add(w.UserID != nil, "user_id")
	add(w.Background != nil, "background")
	add(w.RunID != nil, "run_id")
	add(w.LastEventIndex != nil && string(w.LastEventIndex) != "null", "last_event_index")
	add(w.Tools != nil, "tools")
	add(w.Requirements != nil, "requirements")
	add(w.IdempotencyKey != nil, "idempotency_key")
	for _, m := range w.media() {
		add(m.raw != nil && string(m.raw) != "null", m.field)
	}
	return p
}

func invalid(format string, args ...any) error { return core.Errorf(core.CodeInvalid, format, args...) }

// ParseClientFrame decodes and validates one client text frame. It never
// panics. On error (always of code invalid) the returned frame still holds
// the id and action when they could be read, so the error frame can echo
// them.
func ParseClientFrame(b []byte) (ClientFrame, error) {
	f := ClientFrame{LastEventIndex: -1}
	if !utf8.Valid(b) {
		return f, invalid("frame is not valid UTF-8")
	}
	trimmed := bytes.TrimSpace(b)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return f, invalid("frame must be a JSON object")
	}
	var w wireFrame
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	err := dec.Decode(&w)
	if err == nil {
		if _, terr := dec.Token(); !errors.Is(terr, io.EOF) {
			err = errors.New("trailing data after the JSON object")
		}
	}
	if err != nil {
		salvage(trimmed, &f)
		return f, invalid("malformed frame: %s", jsonError(err))
	}
	if w.ID != nil {
		id, err := checkID(w.ID)
		if err != nil {
			return f, err
		}
		f.ID = id
	}
	if w.Action == nil || *w.Action == "" {
		return f, invalid("frame has no action (one of %s)", actionList())
	}
	f.Action = Action(*w.Action)
	fields, ok := allowed[f.Action]
	if !ok {
		act := *w.Action
		f.Action = ""
		return f, invalid("unknown action %q (one of %s)", truncate(act, 40), actionList())
	}
	for _, name := range w.present() {
		if !contains(fields, name) {
			return f, invalid("action %s does not take %s", f.Action, name)
		}
	}
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return strings.TrimSpace(*p)
	}
	f.Token = str(w.Token)
	f.AgentID = str(w.AgentID)
	f.TeamID = str(w.TeamID)
	f.WorkflowID = str(w.WorkflowID)
	f.SessionID = str(w.SessionID)
	f.UserID = str(w.UserID)
	f.RunID = str(w.RunID)
	f.IdempotencyKey = str(w.IdempotencyKey)
	if w.Message != nil {
		f.Message = *w.Message
	}
	for _, m := range w.media() {
		if m.raw == nil || string(m.raw) == "null" {
			continue
		}
		srcs, err := media.ParseJSONMedia(m.field, string(m.raw))
		if err != nil {
			return f, invalid("%s", core.MessageOf(err))
		}
		f.Media = append(f.Media, srcs...)
	}
	if w.Background != nil {
		f.Background = *w.Background
	}
	if w.Tools != nil {
		f.Tools = *w.Tools
	}
	if w.Requirements != nil {
		tools, err := toolsOf(*w.Requirements)
		if err != nil {
			return f, err
		}
		f.Requirements, f.Tools = *w.Requirements, tools
	}
	if raw := string(w.LastEventIndex); raw != "" && raw != "null" {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n < -1 {
			return f, invalid("last_event_index must be an integer >= -1, not %s", truncate(raw, 40))
		}
		f.LastEventIndex = n
	}
	switch f.Action {
	case ActionAuthenticate:
		if f.Token == "" {
			return f, invalid("authenticate needs a token")
		}
	case ActionStart:
		switch f.named() {
		case 0:
			return f, invalid("start needs an agent_id")
		case 1:
		default:
			return f, invalid("start takes exactly one of agent_id, team_id and workflow_id")
		}
		if strings.TrimSpace(f.Message) == "" {
			return f, invalid("message is required")
		}
		if err := core.CheckIdempotencyKey("idempotency_key", f.IdempotencyKey); err != nil {
			return f, err
		}
	case ActionSubscribe, ActionCancel:
		if f.RunID == "" {
			return f, invalid("%s needs a run_id", f.Action)
		}
	case ActionContinue:
		if f.RunID == "" {
			return f, invalid("continue needs a run_id")
		}
		// Neither tools nor requirements: the calls covered by resolved
		// approvals take their decisions from the store (the engine names
		// any call left undecided).
		if w.Tools != nil && w.Requirements != nil {
			return f, invalid("continue takes tools or requirements, not both")
		}
	}
	return f, nil
}

// named counts the runnable ids the frame names.
func (f *ClientFrame) named() int {
	n := 0
	for _, id := range []string{f.AgentID, f.TeamID, f.WorkflowID} {
		if id != "" {
			n++
		}
	}
	return n
}

// Ref is the runnable a start frame names.
func (f *ClientFrame) Ref() core.Ref {
	switch {
	case f.TeamID != "":
		return core.Ref{Kind: core.KindTeam, ID: f.TeamID}
	case f.WorkflowID != "":
		return core.Ref{Kind: core.KindWorkflow, ID: f.WorkflowID}
	}
	return core.Ref{Kind: core.KindAgent, ID: f.AgentID}
}

// matches reports whether run is the one the frame's optional agent_id,
// team_id, workflow_id and session_id name.
func (f *ClientFrame) matches(run *core.Run) bool {
	return (f.AgentID == "" || run.AgentID == f.AgentID) && (f.TeamID == "" || run.TeamID == f.TeamID) &&
		(f.WorkflowID == "" || run.WorkflowID == f.WorkflowID) && (f.SessionID == "" || run.SessionID == f.SessionID)
}

// toolsOf turns requirements (a paused team's, as its pause event carried
// them, with the caller's decisions) into the tool executions to continue
// with: the requirement's confirmation, note and external result win over
// its tool execution's.
func toolsOf(reqs []core.RunRequirement) ([]core.ToolExecution, error) {
	tools := make([]core.ToolExecution, 0, len(reqs))
	for i, r := range reqs {
		te, err := r.Decision()
		if err != nil {
			return nil, invalid("requirements[%d] has no tool_execution with a tool_call_id", i)
		}
		tools = append(tools, te)
	}
	return tools, nil
}

// checkID accepts a JSON string of at most maxIDLen bytes or an integer.
func checkID(raw json.RawMessage) (json.RawMessage, error) {
	if len(raw) > maxIDLen {
		return nil, invalid("id is longer than %d bytes", maxIDLen)
	}
	switch {
	case raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, invalid("id must be a string or an integer")
		}
	case raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9'):
		if bytes.ContainsAny(raw, ".eE") {
			return nil, invalid("id must be a string or an integer")
		}
	default:
		return nil, invalid("id must be a string or an integer")
	}
	return append(json.RawMessage(nil), raw...), nil
}

// salvage reads the id and action of a frame that did not decode strictly,
// so that its error frame can still name them.
func salvage(b []byte, f *ClientFrame) {
	var loose struct {
		ID     json.RawMessage `json:"id"`
		Action string          `json:"action"`
	}
	if json.Unmarshal(b, &loose) != nil {
		return
	}
	if loose.ID != nil {
		if id, err := checkID(loose.ID); err == nil {
			f.ID = id
		}
	}
	if _, ok := allowed[Action(loose.Action)]; ok {
		f.Action = Action(loose.Action)
	}
}

// jsonError words a decoding error without echoing large input.
func jsonError(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("invalid JSON at byte %d", se.Offset)
	case errors.As(err, &te):
		if te.Field != "" {
			return fmt.Sprintf("%s must be %s, not %s", te.Field, typeName(te.Field), te.Value)
		}
		return fmt.Sprintf("expected %s, found %s", te.Type, te.Value)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "truncated JSON"
	}
	return truncate(strings.TrimPrefix(err.Error(), "json: "), 120)
}

func typeName(field string) string {
	switch field {
	case "background":
		return "a boolean"
	case "last_event_index":
		return "an integer"
	case "tools":
		return "an array of tool executions"
	case "requirements":
		return "an array of requirements"
	}
	if strings.HasPrefix(field, "tools.") {
		return "of the tool execution's type"
	}
	return "a string"
}

func actionList() string {
	names := make([]string, 0, len(allowed))
	for _, a := range Actions() {
		names = append(names, string(a))
	}
	return strings.Join(names, ", ")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
