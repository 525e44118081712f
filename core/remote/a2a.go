package remote

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/internal/sse"
)

// a2aClient runs a remote A2A agent over JSON-RPC: the card is read (and
// kept cardTTL), the interface chosen (v1.0 when the card offers it, else
// v0.3), then a run is one message (streamed when the card says it can),
// cancel is CancelTask / tasks/cancel, and a task that asks for input
// pauses the run; continuing it sends the reply on the same task.
type a2aClient struct {
	agent   *Agent
	cardURL string
	ids     atomic.Int64

	mu      sync.Mutex
	card    *a2aEndpoint
	fetched time.Time
}

// cardTTL is how long a fetched card is used before it is read again.
const cardTTL = 5 * time.Minute

// a2aEndpoint is the JSON-RPC interface chosen from the card.
type a2aEndpoint struct {
	url       string
	v1        bool
	tenant    string
	streaming bool
}

// a2aState is what a paused run keeps of the remote (PausedState.Runnable).
type a2aState struct {
	Protocol  string `json:"protocol"` // "a2a"
	TaskID    string `json:"task_id"`
	ContextID string `json:"context_id,omitempty"`
	Pauses    int    `json:"pauses"`
}

// ReplyField is the user-input field of the requirement a remote A2A task
// that asks for input pauses the run with: its value is sent as the reply.
const ReplyField = "reply"

// InputToolName names the pending tool call of such a pause.
const InputToolName = "remote_input"

func (c *a2aClient) endpoint(ctx context.Context) (*a2aEndpoint, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.card != nil && time.Since(c.fetched) < cardTTL {
		return c.card, nil
	}
	cctx, cancel := context.WithTimeout(ctx, c.agent.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodGet, c.cardURL, nil)
	if err != nil {
		return nil, err
	}
	c.agent.setHeaders(req)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("A2A-Version", "1.0")
	resp, err := c.agent.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("agent card: %w", statusError(resp))
	}
	b, err := readBody(resp)
	if err != nil {
		return nil, fmt.Errorf("agent card: %w", err)
	}
	ep, err := chooseInterface(c.cardURL, b)
	if err != nil {
		return nil, fmt.Errorf("agent card %s: %w", c.cardURL, err)
	}
	c.card, c.fetched = ep, time.Now()
	return ep, nil
}

// chooseInterface picks the card's JSON-RPC interface: a v1.0 one first
// (supportedInterfaces), else a v0.3 one (url / additionalInterfaces).
func chooseInterface(cardURL string, b []byte) (*a2aEndpoint, error) {
	var card wireCard
	if err := json.Unmarshal(b, &card); err != nil {
		return nil, fmt.Errorf("not an agent card: %v", err)
	}
	if card.Name == "" && card.URL == "" && len(card.SupportedInterfaces) == 0 {
		return nil, fmt.Errorf("not an agent card (no name, url or supportedInterfaces)")
	}
	streaming := card.Capabilities.Streaming != nil && *card.Capabilities.Streaming
	var ep *a2aEndpoint
	for _, v1 := range []bool{true, false} {
		for _, in := range card.SupportedInterfaces {
			if !strings.EqualFold(in.ProtocolBinding, "JSONRPC") || isV1(in.ProtocolVersion) != v1 {
				continue
			}
			ep = &a2aEndpoint{url: in.URL, v1: v1, tenant: in.Tenant, streaming: streaming}
			break
		}
		if ep != nil {
			break
		}
	}
	if ep == nil && card.URL != "" {
		if card.PreferredTransport == "" || strings.EqualFold(card.PreferredTransport, "JSONRPC") {
			ep = &a2aEndpoint{url: card.URL, streaming: streaming}
		}
		for _, in := range card.AdditionalInterface {
			if ep == nil && strings.EqualFold(in.Transport, "JSONRPC") {
				ep = &a2aEndpoint{url: in.URL, streaming: streaming}
			}
		}
		if ep != nil && isV1(card.ProtocolVersion) && card.ProtocolVersion != "" {
			ep.v1 = true
		}
	}
	if ep == nil {
		return nil, fmt.Errorf("it offers no JSON-RPC interface (only JSON-RPC is supported)")
	}
	base, _ := url.Parse(cardURL)
	u, err := base.Parse(ep.url)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("its interface URL %q is not an http(s) URL", ep.url)
	}
	ep.url = u.String()
	return ep, nil
}

// isV1 reports whether a protocolVersion is of the 1.x generation (an
// interface that names none is taken as 1.0, the version of
// supportedInterfaces).
func isV1(v string) bool { return v == "" || v == "1" || strings.HasPrefix(v, "1.") }

func (c *a2aClient) execute(ctx context.Context, x *core.Execution) (*core.Outcome, error) {
	ep, err := c.endpoint(ctx)
	if err != nil {
		return nil, callError(ctx, "remote A2A agent", err)
	}
	st := a2aState{Protocol: "a2a", ContextID: x.Run.SessionID}
	text := x.Message
	if x.Resume != nil {
		if err := json.Unmarshal(x.Resume.Runnable, &st); err != nil || st.Protocol != "a2a" || st.TaskID == "" {
			return nil, remoteError("the paused run keeps no remote A2A task to continue")
		}
		if text, err = replyOf(x.Resume.Pending); err != nil {
			return nil, err
		}
	}
	m := &a2aMapper{x: x, st: &st}
	msg := outMessage(ep.v1, newID(), text, st.ContextID, st.TaskID)
	params := map[string]any{"message": msg}
	if ep.v1 && ep.tenant != "" {
		params["tenant"] = ep.tenant
	}
	if ep.streaming {
		method := "message/stream"
		if ep.v1 {
			method = "SendStreamingMessage"
		}
		m.streaming = true
		err = c.agent.stream(ctx, func(rctx context.Context) (*http.Request, error) {
			return c.request(rctx, ep, method, params)
		}, func(f sse.Event) (bool, error) {
			res, err := decodeRPC(f.Data)
			if err != nil {
				return false, err
			}
			return m.item(ctx, res)
		}, func(b []byte) error {
			// A JSON answer to a streamed call: an error, or the result whole.
			res, err := decodeRPC(b)
			if err != nil {
				return err
			}
			_, err = m.item(ctx, res)
			return err
		})
		if err == nil && m.end == "" {
			m.streaming = false
			err = c.poll(ctx, ep, m)
		}
	} else {
		method := "message/send"
		if ep.v1 {
			method = "SendMessage"
		} else {
			params["configuration"] = map[string]any{"blocking": true}
		}
		var res json.RawMessage
		if res, err = c.call(ctx, ep, method, params); err == nil {
			if _, err = m.item(ctx, res); err == nil && m.end == "" {
				err = c.poll(ctx, ep, m)
			}
		}
	}
	if ctx.Err() != nil {
		c.cancel(ctx, ep, st.TaskID)
		return nil, ctx.Err()
	}
	if err != nil {
		return nil, callError(ctx, "remote A2A agent", err)
	}
	return m.outcome(text)
}

// poll reads the task until it ends (a remote whose stream, or blocking
// answer, stopped before the task did).
func (c *a2aClient) poll(ctx context.Context, ep *a2aEndpoint, m *a2aMapper) error {
	if m.st.TaskID == "" {
		return fmt.Errorf("the remote's answer names no task and no message")
	}
	method := "tasks/get"
	if ep.v1 {
		method = "GetTask"
	}
	for delay := 100 * time.Millisecond; m.end == ""; delay = min(2*delay, 2*time.Second) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		res, err := c.call(ctx, ep, method, map[string]any{"id": m.st.TaskID})
		if err != nil {
			return err
		}
		if v1Task := (struct {
			Task json.RawMessage `json:"task"`
		}{}); json.Unmarshal(res, &v1Task) == nil && len(v1Task.Task) > 0 {
			res = v1Task.Task // GetTask answers the Task itself; accept it wrapped too
		}
		var t wireTask
		if err := json.Unmarshal(res, &t); err != nil || t.ID == "" {
			return fmt.Errorf("%s answered something that is not a task: %.200s", method, res)
		}
		if err := m.task(ctx, &t); err != nil {
			return err
		}
	}
	return nil
}

// cancel asks the remote to cancel the task (best effort).
func (c *a2aClient) cancel(ctx context.Context, ep *a2aEndpoint, taskID string) {
	if taskID == "" {
		return
	}
	method := "tasks/cancel"
	if ep.v1 {
		method = "CancelTask"
	}
	cctx, done := c.agent.detached(ctx)
	defer done()
	_, _ = c.call(cctx, ep, method, map[string]any{"id": taskID})
}

func (c *a2aClient) request(ctx context.Context, ep *a2aEndpoint, method string, params any) (*http.Request, error) {
	body, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": c.ids.Add(1), "method": method, "params": params})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if ep.v1 {
		req.Header.Set("A2A-Version", "1.0")
	} else {
		req.Header.Set("A2A-Version", "0.3")
	}
	return req, nil
}

// call makes one JSON-RPC call, bounded by the timeout.
func (c *a2aClient) call(ctx context.Context, ep *a2aEndpoint, method string, params any) (json.RawMessage, error) {
	cctx, cancel := context.WithTimeout(ctx, c.agent.cfg.Timeout)
	defer cancel()
	req, err := c.request(cctx, ep, method, params)
	if err != nil {
		return nil, err
	}
	c.agent.setHeaders(req)
	resp, err := c.agent.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("%s: %w", method, statusError(resp))
	}
	b, err := readBody(resp)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	res, err := decodeRPC(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	return res, nil
}

// replyOf is the text that answers a task's request for input: the
// decided requirement's reply, or "no" (and the note) when rejected.
func replyOf(pending []core.ToolExecution) (string, error) {
	if len(pending) != 1 {
		return "", remoteError("a paused remote A2A task waits for one reply, not %d", len(pending))
	}
	p := pending[0]
	if p.Confirmed != nil && !*p.Confirmed {
		return strings.TrimSpace("no " + p.ConfirmationNote), nil
	}
	for _, f := range p.UserInputSchema {
		if f.Name != ReplyField || f.Value == nil {
			continue
		}
		if s, ok := f.Value.(string); ok {
			return s, nil
		}
		b, err := json.Marshal(f.Value)
		if err != nil {
			return "", err
		}
		return string(b), nil
	}
	if p.Confirmed != nil {
		return "yes", nil
	}
	return "", remoteError("the reply to the remote task is missing (user input field %q)", ReplyField)
}

// a2aMapper maps the remote's task and updates onto the run's events.
type a2aMapper struct {
	x         *core.Execution
	st        *a2aState
	streaming bool // items come from a stream (not a blocking answer or a poll)
	content   strings.Builder
	tools     []core.ToolExecution
	end       string // the state that ended the task, once it did
	endText   string // its status message's text
}

// item handles one result or stream item; done once the task ended.
func (m *a2aMapper) item(ctx context.Context, raw json.RawMessage) (bool, error) {
	it, err := decodeItem(raw)
	if err != nil {
		return false, err
	}
	switch {
	case it.Task != nil:
		err := m.task(ctx, it.Task)
		return m.end != "", err
	case it.Message != nil:
		// A direct answer: the whole reply, no task.
		if err := m.text(ctx, texts(it.Message.Parts)); err != nil {
			return false, err
		}
		m.end = "completed"
		return true, nil
	case it.Status != nil:
		m.ids(it.Status.TaskID, it.Status.ContextID)
		err := m.status(ctx, it.Status.Status)
		return m.end != "", err
	default:
		m.ids(it.Artifact.TaskID, it.Artifact.ContextID)
		return false, m.text(ctx, texts(it.Artifact.Artifact.Parts))
	}
}

func (m *a2aMapper) ids(taskID, contextID string) {
	if taskID != "" {
		m.st.TaskID = taskID
	}
	if contextID != "" {
		m.st.ContextID = contextID
	}
}

// task handles a task snapshot: its artifacts count as the answer when no
// content arrived otherwise.
func (m *a2aMapper) task(ctx context.Context, t *wireTask) error {
	m.ids(t.ID, t.ContextID)
	st := normState(t.Status.State)
	if !stateEnds(st) || m.streaming && (st == "input-required" || st == "auth-required") {
		// A stream's task snapshot comes first, and a continued task's
		// still says it waits for input: its status updates tell the rest.
		return nil
	}
	if m.content.Len() == 0 {
		for _, a := range t.Artifacts {
			if err := m.text(ctx, texts(a.Parts)); err != nil {
				return err
			}
		}
	}
	return m.status(ctx, t.Status)
}

// status handles a task's status: progress while it works (agentgate's
// tool call data parts become tool events, other text a CustomEvent), the
// end otherwise.
func (m *a2aMapper) status(ctx context.Context, s wireStatus) error {
	st := normState(s.State)
	var text string
	if s.Message != nil {
		text = texts(s.Message.Parts)
	}
	if stateEnds(st) {
		m.end, m.endText = st, text
		return nil
	}
	if s.Message == nil {
		return nil
	}
	for _, p := range s.Message.Parts {
		if len(p.Data) == 0 {
			continue
		}
		if ev, ok := toolEvent(p.Data); ok {
			if ev.Event != core.EventToolCallStarted {
				m.tools = append(m.tools, *ev.Tool)
			}
			return m.x.Emit(ctx, ev)
		}
	}
	if text == "" {
		return nil
	}
	return m.x.Emit(ctx, core.Event{Event: core.EventCustom, Data: map[string]any{"kind": "remote_status", "state": st, "text": text}})
}

// toolEvent reads a tool call's progress from a status message's data part
// (the shape agentgate's A2A interface sends).
func toolEvent(data json.RawMessage) (core.Event, bool) {
	var d struct {
		Type       string          `json:"type"`
		ToolCallID string          `json:"tool_call_id"`
		ToolName   string          `json:"tool_name"`
		ToolArgs   json.RawMessage `json:"tool_args"`
		Result     string          `json:"result"`
		Error      string          `json:"error"`
	}
	if json.Unmarshal(data, &d) != nil || d.ToolName == "" {
		return core.Event{}, false
	}
	t := &core.ToolExecution{ToolCallID: d.ToolCallID, ToolName: d.ToolName, ToolArgs: d.ToolArgs}
	switch d.Type {
	case "tool_call_started":
		return core.Event{Event: core.EventToolCallStarted, Tool: t}, true
	case "tool_call_completed":
		t.Result = d.Result
		return core.Event{Event: core.EventToolCallCompleted, Tool: t, Content: d.Result}, true
	case "tool_call_error":
		t.ToolCallError, t.Result = true, d.Error
		return core.Event{Event: core.EventToolCallError, Tool: t, Error: d.Error}, true
	}
	return core.Event{}, false
}

func (m *a2aMapper) text(ctx context.Context, s string) error {
	if s == "" {
		return nil
	}
	m.content.WriteString(s)
	return m.x.Emit(ctx, core.Event{Event: core.EventRunContent, Content: s, ContentType: "str"})
}

// outcome is the run's result once the task ended.
func (m *a2aMapper) outcome(input string) (*core.Outcome, error) {
	switch m.end {
	case "completed":
	case "failed", "rejected":
		msg := m.endText
		if msg == "" {
			msg = "no reason given"
		}
		return nil, remoteError("the remote task %s: %s", m.end, msg)
	case "canceled", "cancelled":
		return nil, remoteError("the remote task was cancelled there: %s", m.endText)
	case "input-required", "auth-required":
		m.st.Pauses++
		prompt := m.endText
		if prompt == "" {
			prompt = "The remote agent asks for more input."
		}
		args, _ := json.Marshal(map[string]string{"state": m.end, "prompt": prompt})
		pending := core.ToolExecution{
			ToolCallID: fmt.Sprintf("a2a-%s-%d", m.st.TaskID, m.st.Pauses), ToolName: InputToolName, ToolArgs: args,
			RequiresUserInput: true,
			UserInputSchema:   []core.UserInputField{{Name: ReplyField, FieldType: "str", Description: prompt}},
		}
		state, err := json.Marshal(m.st)
		if err != nil {
			return nil, err
		}
		content := m.content.String()
		msgs := messages(m.x, input, content)
		msgs = append(msgs, core.Message{Role: "assistant", Content: prompt})
		return &core.Outcome{Content: content, Tools: m.tools, Messages: msgs, Paused: &core.PausedState{
			Messages: msgs, Pending: []core.ToolExecution{pending}, Metrics: &core.Metrics{}, Runnable: state}}, nil
	default:
		return nil, remoteError("the remote task ended in state %q", m.end)
	}
	content := m.content.String()
	if content == "" && m.endText != "" {
		content = m.endText
	}
	return &core.Outcome{Content: content, Tools: m.tools, Messages: messages(m.x, input, content)}, nil
}

// newID is a random message id.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
