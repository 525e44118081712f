package remote

import (
	"encoding/json"
	"fmt"
	"strings"
)

// The A2A wire shapes this client reads, for both generations: v1.0 (a
// stream item wraps its object in task / message / statusUpdate /
// artifactUpdate; enums such as TASK_STATE_WORKING; parts by member) and
// v0.3 (bare objects told apart by kind; lower-case states; parts by kind).
// Unknown members are ignored.

type wirePart struct {
	Kind string          `json:"kind,omitempty"`
	Text *string         `json:"text,omitempty"`
	Data json.RawMessage `json:"data,omitempty"`
}

type wireMessage struct {
	Kind      string     `json:"kind,omitempty"`
	MessageID string     `json:"messageId"`
	ContextID string     `json:"contextId,omitempty"`
	TaskID    string     `json:"taskId,omitempty"`
	Role      string     `json:"role"`
	Parts     []wirePart `json:"parts"`
}

type wireStatus struct {
	State   string       `json:"state"`
	Message *wireMessage `json:"message,omitempty"`
}

type wireArtifact struct {
	ArtifactID string     `json:"artifactId"`
	Parts      []wirePart `json:"parts"`
}

type wireTask struct {
	ID        string         `json:"id"`
	ContextID string         `json:"contextId"`
	Status    wireStatus     `json:"status"`
	Artifacts []wireArtifact `json:"artifacts"`
}

type wireStatusUpdate struct {
	TaskID    string     `json:"taskId"`
	ContextID string     `json:"contextId"`
	Status    wireStatus `json:"status"`
}

type wireArtifactUpdate struct {
	TaskID    string       `json:"taskId"`
	ContextID string       `json:"contextId"`
	Artifact  wireArtifact `json:"artifact"`
	Append    bool         `json:"append"`
}

// wireItem is one result or stream item: exactly one member is set.
type wireItem struct {
	Task     *wireTask
	Message  *wireMessage
	Status   *wireStatusUpdate
	Artifact *wireArtifactUpdate
}

// decodeItem reads a SendMessage result or a stream item of either
// generation.
func decodeItem(raw json.RawMessage) (wireItem, error) {
	var w struct {
		Task           json.RawMessage `json:"task"`
		Message        json.RawMessage `json:"message"`
		StatusUpdate   json.RawMessage `json:"statusUpdate"`
		ArtifactUpdate json.RawMessage `json:"artifactUpdate"`
		Kind           string          `json:"kind"`
	}
	if err := json.Unmarshal(raw, &w); err != nil {
		return wireItem{}, fmt.Errorf("not an A2A object: %w", err)
	}
	var it wireItem
	var target any
	var body json.RawMessage
	switch {
	case len(w.Task) > 0 && w.Kind == "":
		it.Task, target, body = &wireTask{}, &it.Task, w.Task
	case len(w.Message) > 0 && w.Kind == "":
		it.Message, target, body = &wireMessage{}, &it.Message, w.Message
	case len(w.StatusUpdate) > 0:
		it.Status, target, body = &wireStatusUpdate{}, &it.Status, w.StatusUpdate
	case len(w.ArtifactUpdate) > 0:
		it.Artifact, target, body = &wireArtifactUpdate{}, &it.Artifact, w.ArtifactUpdate
	case w.Kind == "task":
		target, body = &it.Task, raw
	case w.Kind == "message":
		target, body = &it.Message, raw
	case w.Kind == "status-update":
		target, body = &it.Status, raw
	case w.Kind == "artifact-update":
		target, body = &it.Artifact, raw
	default:
		return wireItem{}, fmt.Errorf("not an A2A task, message or update: %.200s", raw)
	}
	if err := json.Unmarshal(body, target); err != nil {
		return wireItem{}, fmt.Errorf("a malformed A2A object: %w", err)
	}
	switch {
	case it.Task != nil && it.Task.ID == "":
		return wireItem{}, fmt.Errorf("an A2A task without its id")
	case it.Status != nil && it.Status.Status.State == "":
		return wireItem{}, fmt.Errorf("an A2A status update without its state")
	}
	return it, nil
}

// normState maps both generations' task states onto v0.3's names
// (TASK_STATE_INPUT_REQUIRED → input-required).
func normState(s string) string {
	s = strings.TrimPrefix(s, "TASK_STATE_")
	return strings.ReplaceAll(strings.ToLower(s), "_", "-")
}

// stateEnds reports whether a task in state s will not go on by itself:
// terminal, or interrupted (waiting for input or authentication).
func stateEnds(s string) bool {
	switch s {
	case "completed", "failed", "canceled", "cancelled", "rejected", "input-required", "auth-required":
		return true
	}
	return false
}

// texts joins the text parts of parts.
func texts(parts []wirePart) string {
	var b strings.Builder
	for _, p := range parts {
		if p.Text != nil && (p.Kind == "" || p.Kind == "text") {
			b.WriteString(*p.Text)
		}
	}
	return b.String()
}

// outMessage is the user's message in the generation's shape.
func outMessage(v1 bool, id, text, contextID, taskID string) map[string]any {
	m := map[string]any{"messageId": id}
	if v1 {
		m["role"] = "ROLE_USER"
		m["parts"] = []map[string]any{{"text": text}}
	} else {
		m["kind"] = "message"
		m["role"] = "user"
		m["parts"] = []map[string]any{{"kind": "text", "text": text}}
	}
	if contextID != "" {
		m["contextId"] = contextID
	}
	if taskID != "" {
		m["taskId"] = taskID
	}
	return m
}

// rpcResponse is a JSON-RPC 2.0 response.
type rpcResponse struct {
	JSONRPC string          `json:"jsonrpc"`
	Result  json.RawMessage `json:"result"`
	Error   *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// decodeRPC reads a JSON-RPC response and returns its result.
func decodeRPC(b []byte) (json.RawMessage, error) {
	var r rpcResponse
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("not a JSON-RPC response: %w", err)
	}
	if r.Error != nil {
		return nil, fmt.Errorf("the remote answered error %d: %s", r.Error.Code, r.Error.Message)
	}
	if r.JSONRPC != "2.0" || len(r.Result) == 0 {
		return nil, fmt.Errorf("not a JSON-RPC 2.0 response: %.200s", b)
	}
	return r.Result, nil
}

// wireCard is the part of an agent card (v1.0 or v0.3) the client reads.
type wireCard struct {
	Name                string `json:"name"`
	URL                 string `json:"url"`
	ProtocolVersion     string `json:"protocolVersion"`
	PreferredTransport  string `json:"preferredTransport"`
	AdditionalInterface []struct {
		URL       string `json:"url"`
		Transport string `json:"transport"`
	} `json:"additionalInterfaces"`
	SupportedInterfaces []struct {
		URL             string `json:"url"`
		ProtocolBinding string `json:"protocolBinding"`
		ProtocolVersion string `json:"protocolVersion"`
		Tenant          string `json:"tenant"`
	} `json:"supportedInterfaces"`
	Capabilities struct {
		Streaming *bool `json:"streaming"`
	} `json:"capabilities"`
}
