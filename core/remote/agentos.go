package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/internal/sse"
)

// osClient runs an agent of a remote AgentOS-compatible server: a run is
// POST {base}/agents/{id}/runs (multipart form, stream=true) read as agno's
// SSE events; cancel is POST .../runs/{run_id}/cancel; a paused run is
// continued with POST .../runs/{run_id}/continue and the decided tools.
type osClient struct {
	agent   *Agent
	base    string
	agentID string
}

// osState is what a paused run keeps of the remote (PausedState.Runnable).
type osState struct {
	Protocol  string `json:"protocol"` // "agentos"
	RunID     string `json:"run_id"`
	SessionID string `json:"session_id,omitempty"`
}

// osEvent is the part of an agno event the mapping reads.
type osEvent struct {
	Event            string               `json:"event"`
	RunID            string               `json:"run_id"`
	SessionID        string               `json:"session_id"`
	Content          json.RawMessage      `json:"content"`
	ContentType      string               `json:"content_type"`
	ReasoningContent string               `json:"reasoning_content"`
	Tool             *core.ToolExecution  `json:"tool"`
	Tools            []core.ToolExecution `json:"tools"`
	Requirements     []struct {
		ToolExecution *core.ToolExecution `json:"tool_execution"`
	} `json:"requirements"`
	Error            string         `json:"error"`
	ErrorType        string         `json:"error_type"`
	Reason           string         `json:"reason"`
	Metrics          *core.Metrics  `json:"metrics"`
	Model            string         `json:"model"`
	ModelProvider    string         `json:"model_provider"`
	InputTokens      int64          `json:"input_tokens"`
	OutputTokens     int64          `json:"output_tokens"`
	TotalTokens      int64          `json:"total_tokens"`
	TimeToFirstToken float64        `json:"time_to_first_token"`
	Data             map[string]any `json:"data"`
}

func (c *osClient) runsURL(parts ...string) string {
	u := c.base + "/agents/" + url.PathEscape(c.agentID) + "/runs"
	for _, p := range parts {
		u += "/" + url.PathEscape(p)
	}
	return u
}

func (c *osClient) execute(ctx context.Context, x *core.Execution) (*core.Outcome, error) {
	st := osState{Protocol: "agentos", SessionID: x.Run.SessionID}
	form := map[string]string{"stream": "true"}
	target := c.runsURL()
	input := x.Message
	if x.Resume != nil {
		if err := json.Unmarshal(x.Resume.Runnable, &st); err != nil || st.Protocol != "agentos" || st.RunID == "" {
			return nil, remoteError("the paused run keeps no remote AgentOS run to continue")
		}
		tools, err := json.Marshal(x.Resume.Pending)
		if err != nil {
			return nil, err
		}
		form["tools"] = string(tools)
		target, input = c.runsURL(st.RunID, "continue"), ""
	} else {
		form["message"] = x.Message
	}
	if st.SessionID != "" {
		form["session_id"] = st.SessionID
	}
	body, ctype, err := multipartForm(form)
	if err != nil {
		return nil, err
	}
	m := &osMapper{x: x, st: &st}
	err = c.agent.stream(ctx, func(rctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(rctx, http.MethodPost, target, bytes.NewReader(body))
		if err == nil {
			req.Header.Set("Content-Type", ctype)
		}
		return req, err
	}, func(ev sse.Event) (bool, error) { return m.handle(ctx, ev) }, nil)
	if ctx.Err() != nil {
		c.cancel(ctx, st)
		return nil, ctx.Err()
	}
	if err != nil {
		return nil, callError(ctx, "remote AgentOS agent "+c.agentID, err)
	}
	return m.outcome(input)
}

// cancel asks the remote to cancel its run (best effort: the run is
// cancelled here whatever the remote answers).
func (c *osClient) cancel(ctx context.Context, st osState) {
	if st.RunID == "" {
		return // nothing started there (closing the stream stops a foreground run)
	}
	cctx, done := c.agent.detached(ctx)
	defer done()
	u := c.runsURL(st.RunID, "cancel")
	if st.SessionID != "" {
		u += "?session_id=" + url.QueryEscape(st.SessionID)
	}
	req, err := http.NewRequestWithContext(cctx, http.MethodPost, u, nil)
	if err != nil {
		return
	}
	c.agent.setHeaders(req)
	if resp, err := c.agent.client.Do(req); err == nil {
		resp.Body.Close()
	}
}

// osMapper maps the remote's events onto the run's own.
type osMapper struct {
	x       *core.Execution
	st      *osState
	content strings.Builder
	tools   []core.ToolExecution
	end     *osEvent
}

func (m *osMapper) handle(ctx context.Context, f sse.Event) (done bool, err error) {
	var ev osEvent
	if err := json.Unmarshal(f.Data, &ev); err != nil {
		return false, remoteError("the remote sent an event that is not agno's JSON: %v", err)
	}
	if ev.Event == "" {
		ev.Event = f.Name
	}
	if ev.Event == "" {
		return false, remoteError("the remote sent an event with no type")
	}
	if m.st.RunID == "" && ev.RunID != "" {
		m.st.RunID = ev.RunID
	}
	if ev.SessionID != "" {
		m.st.SessionID = ev.SessionID
	}
	emit := func(e core.Event) error { return m.x.Emit(ctx, e) }
	switch t := core.EventType(ev.Event); t {
	case core.EventRunStarted, core.EventRunContinued:
		// The run's own were emitted by the engine.
	case core.EventRunCompleted, core.EventRunError, core.EventRunCancelled, core.EventRunPaused:
		m.end = &ev
		return true, nil
	case core.EventRunContent:
		text := contentText(ev.Content)
		if text == "" {
			return false, nil
		}
		m.content.WriteString(text)
		return false, emit(core.Event{Event: t, Content: text, ContentType: "str"})
	case core.EventToolCallCompleted, core.EventToolCallError:
		if ev.Tool != nil {
			m.tools = append(m.tools, *ev.Tool)
		}
		return false, emit(core.Event{Event: t, Tool: ev.Tool, Content: contentText(ev.Content), Error: ev.Error})
	case core.EventCustom:
		return false, emit(core.Event{Event: t, Data: ev.Data})
	default:
		if !t.Valid() {
			return false, nil // an event of agno's we have no name for
		}
		return false, emit(core.Event{Event: t, Content: contentText(ev.Content), ReasoningContent: ev.ReasoningContent,
			Tool: ev.Tool, Model: ev.Model, ModelProvider: ev.ModelProvider, Metrics: ev.Metrics,
			InputTokens: ev.InputTokens, OutputTokens: ev.OutputTokens, TotalTokens: ev.TotalTokens,
			TimeToFirstToken: ev.TimeToFirstToken})
	}
	return false, nil
}

// outcome is the run's result once the remote's stream ended.
func (m *osMapper) outcome(input string) (*core.Outcome, error) {
	ev := m.end
	switch core.EventType(ev.Event) {
	case core.EventRunError:
		msg := contentText(ev.Content)
		if msg == "" {
			msg = ev.Error
		}
		if ev.ErrorType != "" {
			return nil, remoteError("the remote run failed (%s): %s", ev.ErrorType, msg)
		}
		return nil, remoteError("the remote run failed: %s", msg)
	case core.EventRunCancelled:
		return nil, remoteError("the remote run was cancelled there: %s", ev.Reason)
	}
	content := m.content.String()
	if c := contentText(ev.Content); c != "" && core.EventType(ev.Event) == core.EventRunCompleted {
		content = c
	}
	out := &core.Outcome{Content: content, Tools: m.tools, Messages: messages(m.x, input, content)}
	if ev.Metrics != nil {
		out.Metrics = *ev.Metrics
	}
	if core.EventType(ev.Event) != core.EventRunPaused {
		return out, nil
	}
	var pending []core.ToolExecution
	for _, t := range ev.Tools {
		if t.Pauses() && !decided(t) {
			pending = append(pending, t)
		}
	}
	if len(pending) == 0 {
		for _, r := range ev.Requirements {
			if r.ToolExecution != nil && r.ToolExecution.Pauses() && !decided(*r.ToolExecution) {
				pending = append(pending, *r.ToolExecution)
			}
		}
	}
	if len(pending) == 0 || m.st.RunID == "" {
		return nil, remoteError("the remote paused its run without a tool call waiting for a decision, or without its run_id")
	}
	state, err := json.Marshal(m.st)
	if err != nil {
		return nil, err
	}
	metrics := out.Metrics
	out.Paused = &core.PausedState{Messages: out.Messages, RunStart: 0, Pending: pending, Metrics: &metrics, Runnable: state}
	return out, nil
}

// decided reports whether a paused tool call already has its decision.
func decided(t core.ToolExecution) bool {
	return t.Confirmed != nil || t.Answered || t.ExternalExecutionRequired && t.Result != ""
}

// contentText is an event's content as text: a JSON string as it is,
// anything else (structured output) as compact JSON, null as "".
func contentText(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) == nil {
		return b.String()
	}
	return string(raw)
}

// multipartForm encodes fields as multipart/form-data.
func multipartForm(fields map[string]string) ([]byte, string, error) {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for _, k := range []string{"message", "stream", "session_id", "tools"} {
		if v, ok := fields[k]; ok {
			if err := w.WriteField(k, v); err != nil {
				return nil, "", err
			}
		}
	}
	if err := w.Close(); err != nil {
		return nil, "", fmt.Errorf("encode form: %w", err)
	}
	return b.Bytes(), w.FormDataContentType(), nil
}
