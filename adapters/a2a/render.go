package a2a

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/agentgate/agentgate/core"
)

// ResponseArtifactID names the artifact that carries a run's answer.
const ResponseArtifactID = "response"

// MediaArtifactID names the artifact that carries the media a run
// produced (its tools' images, audio, videos and files), one file part
// each.
const MediaArtifactID = "media"

// mediaArtifact is the artifact of a run's produced media (nil: none).
// Its file parts name the session's media route; inlineMedia gives the
// small ones their bytes.
func mediaArtifact(sessionID string, rm core.RunMedia) *Artifact {
	all := rm.All()
	if len(all) == 0 {
		return nil
	}
	parts := make([]Part, 0, len(all))
	for _, m := range all {
		parts = append(parts, Part{File: &FilePart{ID: m.ID, Name: m.Name, MediaType: m.MIMEType, Size: m.Size,
			URL: "/sessions/" + sessionID + "/media/" + m.ID}})
	}
	return &Artifact{ArtifactID: MediaArtifactID, Name: MediaArtifactID, Parts: parts}
}

// Renderer turns the events of one run's stream into A2A stream items. It
// keeps the little state a stream needs: whether the response artifact was
// started (the next chunk appends) and whether the stream reached a state
// that ends it (terminal or input-required). Used by one goroutine.
type Renderer struct {
	open  bool // a chunk of the response artifact was sent and not closed
	sent  bool // some chunk of the response artifact was sent
	ended bool
}

// Resumed returns a renderer for a stream that joins a run after its
// response artifact may have started (chunks then append).
func Resumed() *Renderer { return &Renderer{open: true, sent: true} }

// Ended reports whether the items rendered so far end the stream.
func (r *Renderer) Ended() bool { return r.ended }

// Render maps one event to the items it becomes (none for events A2A has
// no use for: model requests, reasoning, memory, custom events).
func (r *Renderer) Render(ev *core.Event) []StreamItem {
	status := func(st State, msg *Message) StreamItem {
		final := st.Terminal() || st.Interrupted()
		if final {
			r.ended = true
		}
		return StreamItem{Status: &StatusUpdate{TaskID: ev.RunID, ContextID: ev.SessionID,
			Status: Status{State: st, Message: msg, Timestamp: ev.CreatedAt}, Final: final}}
	}
	if ev.Forwarded() {
		// A team member's or workflow step's own events: the task is the
		// parent run's, whose answer and status are its own events.
		return nil
	}
	switch ev.Base() {
	case core.EventRunStarted, core.EventRunContinued:
		r.ended = false
		return []StreamItem{status(StateWorking, nil)}
	case core.EventRunContent:
		if ev.Content == "" {
			return nil
		}
		it := r.chunk(ev, ev.Content, r.open, false)
		r.open, r.sent = true, true
		return []StreamItem{it}
	case core.EventRunContentCompleted:
		return r.close(ev)
	case core.EventToolCallStarted, core.EventToolCallCompleted, core.EventToolCallError:
		return []StreamItem{status(StateWorking, toolMessage(ev))}
	case core.EventRunPaused:
		out := r.close(ev)
		return append(out, status(StateInputRequired, pausedMessageFor(ev.RunID, ev.SessionID, ev.EventIndex, ev.Tools, ev.Requirements)))
	case core.EventRunCompleted:
		var out []StreamItem
		if !r.sent && ev.Content != "" {
			// No deltas came: the whole answer in one chunk.
			out = append(out, r.chunk(ev, ev.Content, false, true))
			r.sent = true
		} else {
			out = r.close(ev)
		}
		if ev.EventDetail != nil {
			if a := mediaArtifact(ev.SessionID, ev.EventDetail.RunMedia); a != nil {
				out = append(out, StreamItem{Artifact: &ArtifactUpdate{TaskID: ev.RunID, ContextID: ev.SessionID,
					Artifact: *a, LastChunk: true}})
			}
		}
		return append(out, status(StateCompleted, nil))
	case core.EventRunError:
		out := r.close(ev)
		return append(out, status(StateFailed, errorMessage(ev.RunID, ev.SessionID, ev.EventIndex, ev.Content, ev.ErrorType)))
	case core.EventRunCancelled:
		out := r.close(ev)
		var msg *Message
		if ev.Reason != "" {
			msg = agentMessage(ev.RunID, ev.SessionID, ev.EventIndex, TextPart(ev.Reason))
		}
		return append(out, status(StateCanceled, msg))
	}
	return nil
}

func (r *Renderer) chunk(ev *core.Event, text string, appendTo, last bool) StreamItem {
	return StreamItem{Artifact: &ArtifactUpdate{TaskID: ev.RunID, ContextID: ev.SessionID,
		Artifact: Artifact{ArtifactID: ResponseArtifactID, Name: ResponseArtifactID, Parts: []Part{TextPart(text)}},
		Append:   appendTo, LastChunk: last}}
}

// close ends an open response artifact with an empty last chunk.
func (r *Renderer) close(ev *core.Event) []StreamItem {
	if !r.open {
		return nil
	}
	r.open = false
	return []StreamItem{r.chunk(ev, "", true, true)}
}

// messageID names the agent message an event becomes (stable: a task
// snapshot's status message has the id of the event that set it).
func messageID(runID string, index int64) string { return fmt.Sprintf("%s-evt-%d", runID, index) }

func agentMessage(runID, sessionID string, index int64, parts ...Part) *Message {
	return &Message{MessageID: messageID(runID, index), ContextID: sessionID, TaskID: runID, Role: RoleAgent, Parts: parts}
}

// maxResultRunes bounds a tool result quoted in a status message's text.
const maxResultRunes = 500

func clip(s string) string {
	if utf8.RuneCountInString(s) <= maxResultRunes {
		return s
	}
	r := []rune(s)
	return string(r[:maxResultRunes]) + "…"
}

// rawJSON keeps tool arguments as the JSON they are (nil when absent or
// not valid JSON).
func rawJSON(b json.RawMessage) any {
	if len(b) == 0 || !json.Valid(b) {
		return nil
	}
	return json.RawMessage(compactJSON(b))
}

func toolMessage(ev *core.Event) *Message {
	t := ev.Tool
	if t == nil {
		t = &core.ToolExecution{}
	}
	data := map[string]any{"tool_call_id": t.ToolCallID, "tool_name": t.ToolName}
	var text string
	switch ev.Base() {
	case core.EventToolCallStarted:
		data["type"] = "tool_call_started"
		if a := rawJSON(t.ToolArgs); a != nil {
			data["tool_args"] = a
		}
		text = "Calling tool " + t.ToolName + "."
	case core.EventToolCallCompleted:
		data["type"] = "tool_call_completed"
		result := t.Result
		if result == "" {
			result = ev.Content
		}
		data["result"] = result
		text = "Tool " + t.ToolName + " returned: " + clip(result)
	default:
		data["type"] = "tool_call_error"
		msg := ev.Error
		if msg == "" {
			msg = t.Result
		}
		data["error"] = msg
		text = "Tool " + t.ToolName + " failed: " + clip(msg)
	}
	return agentMessage(ev.RunID, ev.SessionID, ev.EventIndex, TextPart(text), DataPart(data))
}

// pausedMessage asks for the decisions a paused run waits for.
func pausedMessage(runID, sessionID string, index int64, tools []core.ToolExecution) *Message {
	return pausedMessageFor(runID, sessionID, index, tools, nil)
}

// pausedMessageFor is pausedMessage for a run whose requirements may name
// the team member (workflow step agent) each tool call is waiting in:
// its entry in the data part then has member_agent_id, member_agent_name
// and member_run_id.
func pausedMessageFor(runID, sessionID string, index int64, tools []core.ToolExecution, reqs []core.RunRequirement) *Message {
	member := map[string]core.RunRequirement{}
	for _, rq := range reqs {
		if rq.ToolExecution != nil && rq.MemberAgentID != "" {
			member[rq.ToolExecution.ToolCallID] = rq
		}
	}
	calls := make([]string, 0, len(tools))
	list := make([]map[string]any, 0, len(tools))
	var needs []string
	for _, t := range tools {
		args := "{}"
		if a := rawJSON(t.ToolArgs); a != nil {
			args = string(a.(json.RawMessage))
		}
		calls = append(calls, t.ToolName+"("+args+")")
		item := map[string]any{"tool_call_id": t.ToolCallID, "tool_name": t.ToolName, "requires_confirmation": t.RequiresConfirmation}
		if a := rawJSON(t.ToolArgs); a != nil {
			item["tool_args"] = a
		}
		if t.ApprovalType != "" {
			item["approval_type"] = t.ApprovalType
		}
		if t.ApprovalID != "" {
			// A required approval's id: the call goes on once an approver
			// resolves it (its decision is read from the store).
			item["approval_id"] = t.ApprovalID
		}
		if rq, ok := member[t.ToolCallID]; ok {
			item["member_agent_id"], item["member_run_id"] = rq.MemberAgentID, rq.MemberRunID
			if rq.MemberAgentName != "" {
				item["member_agent_name"] = rq.MemberAgentName
			}
		}
		if t.RequiresUserInput {
			item["requires_user_input"], item["user_input_schema"] = true, t.UserInputSchema
			needs = append(needs, fmt.Sprintf("%s needs user input (%s)", t.ToolName, fieldNames(t.UserInputSchema)))
		}
		if t.ExternalExecutionRequired {
			item["external_execution_required"] = true
			needs = append(needs, t.ToolName+" runs on your side: send its result")
		}
		list = append(list, item)
	}
	if len(needs) > 0 {
		text := fmt.Sprintf("Input required before going on with %s: %s. Reply with a data part "+
			"{\"tools\": [{\"tool_call_id\": ..., \"user_input\": {field: value}}]} or {\"tools\": [{\"tool_call_id\": ..., \"result\": \"...\"}]} "+
			"(add \"confirmed\": true|false where a confirmation is required).", strings.Join(calls, ", "), strings.Join(needs, "; "))
		return agentMessage(runID, sessionID, index, TextPart(text), DataPart(map[string]any{"type": "input_required", "tools": list}))
	}
	it, them := "it", "it"
	if len(tools) > 1 {
		it, them = "them", "them"
	}
	text := fmt.Sprintf("Confirmation required before running %s. Reply \"yes\" to run %s, or \"no\" "+
		"(optionally followed by a note) to reject %s.", strings.Join(calls, ", "), it, them)
	data := map[string]any{"type": "confirmation_required", "tools": list}
	return agentMessage(runID, sessionID, index, TextPart(text), DataPart(data))
}

func fieldNames(fields []core.UserInputField) string {
	names := make([]string, 0, len(fields))
	for _, f := range fields {
		names = append(names, f.Name)
	}
	return strings.Join(names, ", ")
}

func errorMessage(runID, sessionID string, index int64, msg, errType string) *Message {
	if msg == "" {
		msg = "the run failed"
	}
	parts := []Part{TextPart(msg)}
	if errType != "" {
		parts = append(parts, DataPart(map[string]any{"type": "run_error", "error_type": errType}))
	}
	return agentMessage(runID, sessionID, index, parts...)
}

// pendingTools returns the tool calls a paused run waits for.
func pendingTools(run *core.Run) []core.ToolExecution {
	if run.Paused != nil && len(run.Paused.Pending) > 0 {
		return run.Paused.Pending
	}
	out := make([]core.ToolExecution, 0, len(run.Requirements))
	for _, r := range run.Requirements {
		if r.ToolExecution != nil {
			out = append(out, *r.ToolExecution)
		}
	}
	return out
}

// TaskView selects what a task snapshot carries.
type TaskView struct {
	// HistoryLength: < 0 all messages, 0 none, n the last n.
	HistoryLength int
	// NoArtifacts leaves the artifacts out.
	NoArtifacts bool
}

// TaskFromRun is the A2A task of a stored run.
func TaskFromRun(run *core.Run, view TaskView) *Task {
	t := &Task{ID: run.RunID, ContextID: run.SessionID,
		Status: Status{State: StateOf(run.Status), Timestamp: run.UpdatedAt}}
	last := run.EventCount - 1
	switch run.Status {
	case core.RunPaused:
		t.Status.Message = pausedMessageFor(run.RunID, run.SessionID, last, pendingTools(run), run.Requirements)
	case core.RunError:
		t.Status.Message = errorMessage(run.RunID, run.SessionID, last, run.Error, run.ErrorType)
	}
	if !view.NoArtifacts && run.Content != "" {
		t.Artifacts = []Artifact{{ArtifactID: ResponseArtifactID, Name: ResponseArtifactID, Parts: []Part{TextPart(run.Content)}}}
	}
	if !view.NoArtifacts {
		if a := mediaArtifact(run.SessionID, run.RunMedia); a != nil {
			t.Artifacts = append(t.Artifacts, *a)
		}
	}
	if view.HistoryLength != 0 {
		h := history(run)
		if view.HistoryLength > 0 && len(h) > view.HistoryLength {
			h = h[len(h)-view.HistoryLength:]
		}
		t.History = h
	}
	return t
}

// history is the conversation of a run as A2A messages: the user's input
// and the agent's answers (system prompts, tool calls and tool results are
// not part of it).
func history(run *core.Run) []Message {
	msgs := run.Messages
	if len(msgs) == 0 && run.Input.InputContent != "" {
		msgs = []core.Message{{Role: "user", Content: run.Input.InputContent}}
	}
	var out []Message
	for _, m := range msgs {
		var role Role
		switch {
		case m.Role == "user":
			role = RoleUser
		case m.Role == "assistant" && m.Content != "":
			role = RoleAgent
		default:
			continue
		}
		out = append(out, Message{MessageID: fmt.Sprintf("%s-msg-%d", run.RunID, len(out)), ContextID: run.SessionID,
			TaskID: run.RunID, Role: role, Parts: []Part{TextPart(m.Content)}})
	}
	return out
}

// finalStatus is the status update that ends a stream whose last event
// never came through (the stored run's state).
func finalStatus(run *core.Run) StreamItem {
	t := TaskFromRun(run, TaskView{NoArtifacts: true})
	st := t.Status.State
	return StreamItem{Status: &StatusUpdate{TaskID: run.RunID, ContextID: run.SessionID, Status: t.Status,
		Final: st.Terminal() || st.Interrupted()}}
}
