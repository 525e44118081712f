package ws

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/agentgate/agentgate/core"
)

// AgnoPath is where agno's workflow WebSocket protocol is served (AgentOS
// /workflows/ws), on the same sockets machinery, limits and auth as /ws.
//
// Client messages are JSON objects keyed by "action" (unknown fields are
// ignored, as agno does):
//
//	{"action":"authenticate","token":"…"}
//	{"action":"ping"}
//	{"action":"start-workflow","workflow_id":"…","message":"…","session_id":"","user_id":""}
//	{"action":"reconnect","run_id":"…","workflow_id":"…","session_id":"…","last_event_index":7}
//	{"action":"continue-workflow","workflow_id":"…","run_id":"…","session_id":"…","step_requirements":[…]}
//
// Server messages: {"event":"connected","message":…,"requires_auth":bool}
// first; "authenticated" {message, user_id}; "auth_required" {error} (an
// action before authenticate when credentials are needed); "auth_error"
// {error, error_type}; "error" {error}; "pong". A workflow's live events
// are text frames formatted like SSE ("event: WorkflowStarted\ndata:
// {…}\n\n", the data with run_id and event_index); the events a reconnect
// replays or catches up on are plain JSON objects, after a "replay" (the
// run has ended or paused) or "catch_up" (still running) frame, and a
// running run's catch-up ends with "subscribed". A started workflow runs in
// the background: a dropped socket does not cancel it.
//
// step_requirements continue a workflow paused by a step's agent: each
// entry is a requirement as WorkflowPaused carried it (tool_execution, with
// "confirmation" true or false, or "confirmed" in the tool execution).
const AgnoPath = "/workflows/ws"

// agnoFrame is a client message of the agno protocol.
type agnoFrame struct {
	Action           string                `json:"action"`
	Token            string                `json:"token"`
	WorkflowID       string                `json:"workflow_id"`
	Message          json.RawMessage       `json:"message"`
	SessionID        string                `json:"session_id"`
	UserID           string                `json:"user_id"`
	RunID            string                `json:"run_id"`
	LastEventIndex   *json.Number          `json:"last_event_index"`
	StepRequirements []core.RunRequirement `json:"step_requirements"`
}

// ordered renders a JSON object with the keys in the order given
// (key, value, key, value…): "event" first, as agno writes them.
func ordered(kv ...any) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(marshal(kv[i]))
		b.WriteByte(':')
		b.Write(marshal(kv[i+1]))
	}
	b.WriteByte('}')
	return b.Bytes()
}

// renderAgnoConnected is the first frame of an agno socket.
func renderAgnoConnected(requiresAuth bool) []byte {
	msg := "Connected to workflow events"
	if requiresAuth {
		msg += ". Please authenticate to continue."
	}
	return ordered("event", "connected", "message", msg, "requires_auth", requiresAuth)
}

// renderAgnoError is agno's error message.
func renderAgnoError(err error) []byte {
	return ordered("event", "error", "error", core.MessageOf(err))
}

// renderAgnoLive renders a live event as agno does: an SSE-formatted text
// frame.
func renderAgnoLive(ev *core.Event) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "event: %s\ndata: %s\n\n", ev.Event, RenderEvent(ev))
	return b.Bytes()
}

// handleAgno answers one client message of the agno protocol.
func (s *session) handleAgno(ctx context.Context, b []byte) {
	var f agnoFrame
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&f); err != nil {
		s.reply(ctx, renderAgnoError(invalid("the message must be a JSON object with an action: %s", jsonError(err))))
		return
	}
	if f.Action != "ping" && s.h.isDraining() {
		s.reply(ctx, renderAgnoError(core.Errorf(core.CodeUnavailable, "server is shutting down")))
		return
	}
	actx, cancel := context.WithTimeout(ctx, s.h.cfg.ActionTimeout)
	defer cancel()
	if f.Action == "authenticate" {
		s.agnoAuthenticate(actx, &f)
		return
	}
	if err := s.recheck(actx); err != nil {
		s.reply(ctx, renderAgnoError(err))
		return
	}
	if s.authRequired() {
		s.reply(ctx, ordered("event", "auth_required", "error", "Authentication required. Send authenticate action with a valid token."))
		return
	}
	var err error
	switch f.Action {
	case "ping":
		s.reply(ctx, ordered("event", "pong"))
	case "start-workflow":
		err = s.agnoStart(ctx, actx, &f)
	case "reconnect":
		err = s.agnoReconnect(ctx, actx, &f)
	case "continue-workflow":
		err = s.agnoContinue(ctx, actx, &f)
	default:
		err = invalid("Unknown action: %s", truncate(f.Action, 40))
	}
	if err != nil {
		if core.CodeOf(err) == core.CodeInternal {
			s.h.logger.Error("ws: agno action failed", "action", f.Action, "run_id", f.RunID, "err", err)
		}
		s.reply(ctx, renderAgnoError(err))
	}
}

func (s *session) agnoAuthenticate(ctx context.Context, f *agnoFrame) {
	if strings.TrimSpace(f.Token) == "" {
		s.reply(ctx, ordered("event", "auth_error", "error", "Token is required"))
		return
	}
	cf := ClientFrame{Action: ActionAuthenticate, Token: strings.TrimSpace(f.Token)}
	p, err := s.checkToken(ctx, &cf)
	if err != nil {
		typ := "invalid_token"
		if strings.Contains(strings.ToLower(core.MessageOf(err)), "expired") {
			typ = "expired"
		}
		s.reply(ctx, ordered("event", "auth_error", "error", core.MessageOf(err), "error_type", typ))
		return
	}
	s.reply(ctx, ordered("event", "authenticated", "message", "Authentication successful.", "user_id", p.UserID))
}

// agnoMessage is the workflow's input: a string, or any other JSON value
// as its JSON text.
func agnoMessage(raw json.RawMessage) string {
	var str string
	if json.Unmarshal(raw, &str) == nil {
		return str
	}
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	return string(raw)
}

func (s *session) agnoStart(ctx, actx context.Context, f *agnoFrame) error {
	if strings.TrimSpace(f.WorkflowID) == "" {
		return invalid("workflow_id is required")
	}
	msg := agnoMessage(f.Message)
	if strings.TrimSpace(msg) == "" {
		return invalid("message is required")
	}
	ref := core.Ref{Kind: core.KindWorkflow, ID: strings.TrimSpace(f.WorkflowID)}
	if err := s.authorize(actx, ActionStart, ref); err != nil {
		return err
	}
	owned := s.principal.Owned(s.h.eng)
	if err := owned.UsableSession(actx, f.SessionID); err != nil {
		return err
	}
	if err := s.roomFor(""); err != nil {
		return err
	}
	run, stream, err := s.h.eng.StartStream(actx, core.StartParams{WorkflowID: ref.ID, Message: msg,
		SessionID: strings.TrimSpace(f.SessionID), UserID: owned.UserID(strings.TrimSpace(f.UserID)), Background: true,
		Interface: "ws", TraceCarrier: s.trace})
	if err != nil {
		return err
	}
	return s.agnoFollow(ctx, run.RunID, -1, stream, nil, false, -1)
}

// agnoRun resolves the run of a reconnect or continue-workflow message.
func (s *session) agnoRun(ctx context.Context, a Action, f *agnoFrame) (*core.Run, error) {
	if strings.TrimSpace(f.RunID) == "" {
		return nil, invalid("run_id is required")
	}
	cf := ClientFrame{Action: a, RunID: strings.TrimSpace(f.RunID), WorkflowID: strings.TrimSpace(f.WorkflowID),
		SessionID: strings.TrimSpace(f.SessionID)}
	run, err := s.runOf(ctx, a, &cf)
	if err != nil {
		return nil, err
	}
	if run.Kind() != core.KindWorkflow {
		return nil, core.Errorf(core.CodeNotFound, "run %q is not a workflow's", cf.RunID)
	}
	return run, nil
}

func (s *session) agnoReconnect(ctx, actx context.Context, f *agnoFrame) error {
	run, err := s.agnoRun(actx, ActionSubscribe, f)
	if err != nil {
		return err
	}
	after := int64(-1)
	if f.LastEventIndex != nil {
		n, err := strconv.ParseInt(string(*f.LastEventIndex), 10, 64)
		if err != nil || n < -1 {
			return invalid("last_event_index must be an integer >= -1")
		}
		after = n
	}
	if err := s.roomFor(run.RunID); err != nil {
		return err
	}
	// What the log holds after the cursor now is the catch-up; what comes
	// later is live.
	backlog, err := s.h.eng.EventLog().Read(actx, core.ReadParams{RunID: run.RunID, After: after})
	if err != nil {
		return err
	}
	missed, liveFrom := int64(len(backlog)), after+1
	if missed > 0 {
		liveFrom = backlog[missed-1].EventIndex + 1
	}
	total := max(liveFrom, run.EventCount)
	var meta []byte
	replay := false
	if run.Status.Final() || run.Status == core.RunPaused {
		status := strings.ToLower(string(run.Status))
		replay = true
		meta = ordered("event", "replay", "run_id", run.RunID, "status", status, "total_events", missed, "total_buffered", total, "last_event_index_requested", after, "message", fmt.Sprintf("Run %s. Replaying %d missed events (of %d total).", status, missed, total))
	} else if missed > 0 {
		meta = ordered("event", "catch_up", "run_id", run.RunID, "status", "running", "missed_events", missed, "current_event_count", liveFrom, "message", fmt.Sprintf("Catching up on %d missed events.", missed))
	}
	return s.agnoFollow(ctx, run.RunID, after, nil, meta, replay, liveFrom)
}

func (s *session) agnoContinue(ctx, actx context.Context, f *agnoFrame) error {
	if strings.TrimSpace(f.WorkflowID) == "" {
		return invalid("workflow_id is required")
	}
	run, err := s.agnoRun(actx, ActionContinue, f)
	if err != nil {
		return err
	}
	if run.Status != core.RunPaused {
		return core.Errorf(core.CodeConflict, "Run is not paused (status=%s)", strings.ToLower(string(run.Status)))
	}
	tools, err := toolsOf(f.StepRequirements)
	if err != nil {
		return err
	}
	if err := s.roomFor(run.RunID); err != nil {
		return err
	}
	run, pausedAt, stream, err := s.h.eng.ContinueStream(actx, s.continuing(actx, core.ContinueParams{RunID: run.RunID, Tools: tools, Interface: "ws", TraceCarrier: s.trace}))
	if err != nil {
		return err
	}
	return s.agnoFollow(ctx, run.RunID, pausedAt, stream, nil, false, -1)
}

// agnoFollow pumps a workflow run's events after the cursor: meta first
// (replay — then every event is plain JSON — or catch_up) when given; events with an index below liveFrom as
// plain JSON (the catch-up), then — once caught up, for a run still going
// — "subscribed", then live events in SSE format.
func (s *session) agnoFollow(ctx context.Context, runID string, after int64, stream *core.Stream, meta []byte, replay bool, liveFrom int64) error {
	subscribed := func() []byte {
		return ordered("event", "subscribed", "run_id", runID, "status", "running", "current_event_count", liveFrom, "message", "Subscribed to workflow run. You will receive new events as they occur.")
	}
	fl := &follow{runID: runID, failed: renderAgnoError}
	fl.frames = func(ev *core.Event) [][]byte {
		if ev.EventIndex >= liveFrom && !replay {
			return [][]byte{renderAgnoLive(ev)}
		}
		out := [][]byte{RenderEvent(ev)}
		if ev.EventIndex == liveFrom-1 && !replay {
			out = append(out, subscribed())
		}
		return out
	}
	first := func(done bool) [][]byte {
		var out [][]byte
		if meta != nil {
			out = append(out, meta)
		}
		if liveFrom >= 0 && !replay && after >= liveFrom-1 {
			out = append(out, subscribed()) // nothing to catch up on
		}
		return out
	}
	return s.followWith(ctx, fl, after, stream, false, first)
}
