package a2a

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Wire shapes. Field order in the structs is the order on the wire (the
// golden files pin it). v1.0 follows ProtoJSON (camelCase, enums by name,
// defaults omitted, oneofs by member presence); v0.3 puts "kind" on every
// object.

// ---- v1.0 output ----

type v1Part struct {
	Text      *string `json:"text,omitempty"`
	Raw       []byte  `json:"raw,omitempty"`
	URL       string  `json:"url,omitempty"`
	Data      any     `json:"data,omitempty"`
	MediaType string  `json:"mediaType,omitempty"`
	Filename  string  `json:"filename,omitempty"`
}

type v1Message struct {
	MessageID string   `json:"messageId"`
	ContextID string   `json:"contextId,omitempty"`
	TaskID    string   `json:"taskId,omitempty"`
	Role      string   `json:"role"`
	Parts     []v1Part `json:"parts"`
}

type v1Status struct {
	State     string     `json:"state"`
	Message   *v1Message `json:"message,omitempty"`
	Timestamp string     `json:"timestamp,omitempty"`
}

type v1Artifact struct {
	ArtifactID string   `json:"artifactId"`
	Name       string   `json:"name,omitempty"`
	Parts      []v1Part `json:"parts"`
}

type v1Task struct {
	ID        string       `json:"id"`
	ContextID string       `json:"contextId"`
	Status    v1Status     `json:"status"`
	Artifacts []v1Artifact `json:"artifacts,omitempty"`
	History   []v1Message  `json:"history,omitempty"`
}

type v1StatusUpdate struct {
	TaskID    string   `json:"taskId"`
	ContextID string   `json:"contextId"`
	Status    v1Status `json:"status"`
}

type v1ArtifactUpdate struct {
	TaskID    string     `json:"taskId"`
	ContextID string     `json:"contextId"`
	Artifact  v1Artifact `json:"artifact"`
	Append    bool       `json:"append,omitempty"`
	LastChunk bool       `json:"lastChunk,omitempty"`
}

// v1StreamResponse is a StreamResponse (and, with only Task set, a
// SendMessageResponse).
type v1StreamResponse struct {
	Task           *v1Task           `json:"task,omitempty"`
	StatusUpdate   *v1StatusUpdate   `json:"statusUpdate,omitempty"`
	ArtifactUpdate *v1ArtifactUpdate `json:"artifactUpdate,omitempty"`
}

func v1Parts(ps []Part) []v1Part {
	out := make([]v1Part, 0, len(ps))
	for _, p := range ps {
		if f := p.File; f != nil {
			vp := v1Part{MediaType: f.MediaType, Filename: f.Name}
			if len(f.Raw) > 0 {
				vp.Raw = f.Raw
			} else {
				vp.URL = f.URL
			}
			out = append(out, vp)
			continue
		}
		out = append(out, v1Part{Text: p.Text, Data: p.Data, MediaType: p.MediaType})
	}
	return out
}

func v1Msg(m *Message) *v1Message {
	if m == nil {
		return nil
	}
	role := "ROLE_AGENT"
	if m.Role == RoleUser {
		role = "ROLE_USER"
	}
	return &v1Message{MessageID: m.MessageID, ContextID: m.ContextID, TaskID: m.TaskID, Role: role, Parts: v1Parts(m.Parts)}
}

func v1Stat(s Status) v1Status {
	return v1Status{State: s.State.Name(V1), Message: v1Msg(s.Message), Timestamp: timestamp(s.Timestamp)}
}

func v1Art(a Artifact) v1Artifact {
	return v1Artifact{ArtifactID: a.ArtifactID, Name: a.Name, Parts: v1Parts(a.Parts)}
}

func v1TaskOf(t *Task) *v1Task {
	out := &v1Task{ID: t.ID, ContextID: t.ContextID, Status: v1Stat(t.Status)}
	for _, a := range t.Artifacts {
		out.Artifacts = append(out.Artifacts, v1Art(a))
	}
	for i := range t.History {
		out.History = append(out.History, *v1Msg(&t.History[i]))
	}
	return out
}

func v1Item(it StreamItem) v1StreamResponse {
	switch {
	case it.Task != nil:
		return v1StreamResponse{Task: v1TaskOf(it.Task)}
	case it.Status != nil:
		s := it.Status
		return v1StreamResponse{StatusUpdate: &v1StatusUpdate{TaskID: s.TaskID, ContextID: s.ContextID, Status: v1Stat(s.Status)}}
	case it.Artifact != nil:
		a := it.Artifact
		return v1StreamResponse{ArtifactUpdate: &v1ArtifactUpdate{TaskID: a.TaskID, ContextID: a.ContextID,
			Artifact: v1Art(a.Artifact), Append: a.Append, LastChunk: a.LastChunk}}
	}
	return v1StreamResponse{}
}

// ---- v0.3 output ----

type v03Part struct {
	Kind string      `json:"kind"`
	Text *string     `json:"text,omitempty"`
	Data any         `json:"data,omitempty"`
	File *v03FileOut `json:"file,omitempty"`
}

// v03FileOut is a FileWithBytes or a FileWithUri.
type v03FileOut struct {
	Bytes    []byte `json:"bytes,omitempty"`
	URI      string `json:"uri,omitempty"`
	MIMEType string `json:"mimeType,omitempty"`
	Name     string `json:"name,omitempty"`
}

type v03Message struct {
	Kind      string    `json:"kind"`
	MessageID string    `json:"messageId"`
	ContextID string    `json:"contextId,omitempty"`
	TaskID    string    `json:"taskId,omitempty"`
	Role      string    `json:"role"`
	Parts     []v03Part `json:"parts"`
}

type v03Status struct {
	State     string      `json:"state"`
	Message   *v03Message `json:"message,omitempty"`
	Timestamp string      `json:"timestamp,omitempty"`
}

type v03Artifact struct {
	ArtifactID string    `json:"artifactId"`
	Name       string    `json:"name,omitempty"`
	Parts      []v03Part `json:"parts"`
}

type v03Task struct {
	Kind      string        `json:"kind"`
	ID        string        `json:"id"`
	ContextID string        `json:"contextId"`
	Status    v03Status     `json:"status"`
	Artifacts []v03Artifact `json:"artifacts,omitempty"`
	History   []v03Message  `json:"history,omitempty"`
}

type v03StatusUpdate struct {
	Kind      string    `json:"kind"`
	TaskID    string    `json:"taskId"`
	ContextID string    `json:"contextId"`
	Status    v03Status `json:"status"`
	Final     bool      `json:"final"`
}

type v03ArtifactUpdate struct {
	Kind      string      `json:"kind"`
	TaskID    string      `json:"taskId"`
	ContextID string      `json:"contextId"`
	Artifact  v03Artifact `json:"artifact"`
	Append    bool        `json:"append,omitempty"`
	LastChunk bool        `json:"lastChunk,omitempty"`
}

func v03Parts(ps []Part) []v03Part {
	out := make([]v03Part, 0, len(ps))
	for _, p := range ps {
		if f := p.File; f != nil {
			vf := &v03FileOut{MIMEType: f.MediaType, Name: f.Name}
			if len(f.Raw) > 0 {
				vf.Bytes = f.Raw
			} else {
				vf.URI = f.URL
			}
			out = append(out, v03Part{Kind: "file", File: vf})
			continue
		}
		if p.Text != nil {
			out = append(out, v03Part{Kind: "text", Text: p.Text})
		} else {
			out = append(out, v03Part{Kind: "data", Data: p.Data})
		}
	}
	return out
}

func v03Msg(m *Message) *v03Message {
	if m == nil {
		return nil
	}
	role := "agent"
	if m.Role == RoleUser {
		role = "user"
	}
	return &v03Message{Kind: "message", MessageID: m.MessageID, ContextID: m.ContextID, TaskID: m.TaskID, Role: role, Parts: v03Parts(m.Parts)}
}

func v03Stat(s Status) v03Status {
	return v03Status{State: s.State.Name(V03), Message: v03Msg(s.Message), Timestamp: timestamp(s.Timestamp)}
}

func v03Art(a Artifact) v03Artifact {
	return v03Artifact{ArtifactID: a.ArtifactID, Name: a.Name, Parts: v03Parts(a.Parts)}
}

func v03TaskOf(t *Task) *v03Task {
	out := &v03Task{Kind: "task", ID: t.ID, ContextID: t.ContextID, Status: v03Stat(t.Status)}
	for _, a := range t.Artifacts {
		out.Artifacts = append(out.Artifacts, v03Art(a))
	}
	for i := range t.History {
		out.History = append(out.History, *v03Msg(&t.History[i]))
	}
	return out
}

func v03Item(it StreamItem) any {
	switch {
	case it.Task != nil:
		return v03TaskOf(it.Task)
	case it.Status != nil:
		s := it.Status
		return &v03StatusUpdate{Kind: "status-update", TaskID: s.TaskID, ContextID: s.ContextID, Status: v03Stat(s.Status), Final: s.Final}
	case it.Artifact != nil:
		a := it.Artifact
		return &v03ArtifactUpdate{Kind: "artifact-update", TaskID: a.TaskID, ContextID: a.ContextID,
			Artifact: v03Art(a.Artifact), Append: a.Append, LastChunk: a.LastChunk}
	}
	return struct{}{}
}

// ---- encoders ----

// marshal encodes v without HTML escaping (A2A payloads are not HTML).
func marshal(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only unsupported values fail; the model holds none.
		return []byte(`{}`)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// EncodeItem renders a stream item as generation v's JSON-RPC result (and,
// for V1, the HTTP+JSON StreamResponse and push notification body).
func EncodeItem(v Version, it StreamItem) []byte {
	if v == V1 {
		return marshal(v1Item(it))
	}
	return marshal(v03Item(it))
}

// EncodeTask renders a task as GetTask/CancelTask results (bare Task).
func EncodeTask(v Version, t *Task) []byte {
	if v == V1 {
		return marshal(v1TaskOf(t))
	}
	return marshal(v03TaskOf(t))
}

// encodeSendResult renders the result of SendMessage: {"task": ...} in
// v1.0, the bare kind-tagged Task in v0.3.
func encodeSendResult(v Version, t *Task) []byte {
	if v == V1 {
		return marshal(v1StreamResponse{Task: v1TaskOf(t)})
	}
	return marshal(v03TaskOf(t))
}

// ---- input shapes ----

// flexInt is an integer that ProtoJSON may also send as a string.
type flexInt int64

func (n *flexInt) UnmarshalJSON(b []byte) error {
	s := string(bytes.TrimSpace(b))
	if strings.HasPrefix(s, `"`) {
		var str string
		if err := json.Unmarshal(b, &str); err != nil {
			return err
		}
		s = str
	}
	v, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return fmt.Errorf("%q is not an integer", s)
	}
	*n = flexInt(v)
	return nil
}

// flexBool is a boolean that may also come as the string "true" or
// "false".
type flexBool bool

func (b *flexBool) UnmarshalJSON(data []byte) error {
	switch s := string(bytes.TrimSpace(data)); s {
	case "true", `"true"`:
		*b = true
	case "false", `"false"`:
		*b = false
	default:
		return fmt.Errorf("%s is not a boolean", s)
	}
	return nil
}

type v1PartIn struct {
	Text      *string         `json:"text"`
	Raw       *string         `json:"raw"`
	URL       *string         `json:"url"`
	Data      json.RawMessage `json:"data"`
	MediaType string          `json:"mediaType"`
	Filename  string          `json:"filename"`
}

type v1MessageIn struct {
	MessageID string     `json:"messageId"`
	ContextID string     `json:"contextId"`
	TaskID    string     `json:"taskId"`
	Role      string     `json:"role"`
	Parts     []v1PartIn `json:"parts"`
}

type v1AuthInfo struct {
	Scheme      string `json:"scheme"`
	Credentials string `json:"credentials,omitempty"`
}

// v1PushConfig is a TaskPushNotificationConfig (v1.0, flat).
type v1PushConfig struct {
	Tenant         string      `json:"tenant,omitempty"`
	ID             string      `json:"id,omitempty"`
	TaskID         string      `json:"taskId,omitempty"`
	URL            string      `json:"url"`
	Token          string      `json:"token,omitempty"`
	Authentication *v1AuthInfo `json:"authentication,omitempty"`
}

type v1SendIn struct {
	Tenant        string       `json:"tenant"`
	Message       *v1MessageIn `json:"message"`
	Configuration *struct {
		AcceptedOutputModes        []string      `json:"acceptedOutputModes"`
		TaskPushNotificationConfig *v1PushConfig `json:"taskPushNotificationConfig"`
		HistoryLength              *flexInt      `json:"historyLength"`
		ReturnImmediately          flexBool      `json:"returnImmediately"`
	} `json:"configuration"`
}

type v03PartIn struct {
	Kind string          `json:"kind"`
	Text *string         `json:"text"`
	Data json.RawMessage `json:"data"`
	File json.RawMessage `json:"file"`
}

type v03MessageIn struct {
	Kind      string      `json:"kind"`
	MessageID string      `json:"messageId"`
	ContextID string      `json:"contextId"`
	TaskID    string      `json:"taskId"`
	Role      string      `json:"role"`
	Parts     []v03PartIn `json:"parts"`
}

type v03AuthInfo struct {
	Schemes     []string `json:"schemes"`
	Credentials string   `json:"credentials,omitempty"`
}

type v03PushConfig struct {
	ID             string       `json:"id,omitempty"`
	URL            string       `json:"url"`
	Token          string       `json:"token,omitempty"`
	Authentication *v03AuthInfo `json:"authentication,omitempty"`
}

type v03TaskPushConfig struct {
	TaskID                 string        `json:"taskId"`
	PushNotificationConfig v03PushConfig `json:"pushNotificationConfig"`
}

type v03SendIn struct {
	Message       *v03MessageIn `json:"message"`
	Configuration *struct {
		Blocking               *flexBool      `json:"blocking"`
		HistoryLength          *flexInt       `json:"historyLength"`
		AcceptedOutputModes    []string       `json:"acceptedOutputModes"`
		PushNotificationConfig *v03PushConfig `json:"pushNotificationConfig"`
	} `json:"configuration"`
}

// PushConfig is a webhook registered for a task's updates.
type PushConfig struct {
	ID     string
	TaskID string
	URL    string
	Token  string
	// AuthScheme and AuthCredentials build the Authorization header
	// ("<scheme> <credentials>"); empty: none.
	AuthScheme      string
	AuthCredentials string
}

func pushFromV1(c *v1PushConfig) PushConfig {
	p := PushConfig{ID: c.ID, TaskID: c.TaskID, URL: c.URL, Token: c.Token}
	if c.Authentication != nil {
		p.AuthScheme, p.AuthCredentials = c.Authentication.Scheme, c.Authentication.Credentials
	}
	return p
}

func pushFromV03(taskID string, c *v03PushConfig) PushConfig {
	p := PushConfig{ID: c.ID, TaskID: taskID, URL: c.URL, Token: c.Token}
	if c.Authentication != nil {
		if len(c.Authentication.Schemes) > 0 {
			p.AuthScheme = c.Authentication.Schemes[0]
		}
		p.AuthCredentials = c.Authentication.Credentials
	}
	return p
}

func (p PushConfig) v1() v1PushConfig {
	out := v1PushConfig{ID: p.ID, TaskID: p.TaskID, URL: p.URL, Token: p.Token}
	if p.AuthScheme != "" || p.AuthCredentials != "" {
		out.Authentication = &v1AuthInfo{Scheme: p.AuthScheme, Credentials: p.AuthCredentials}
	}
	return out
}

func (p PushConfig) v03() v03TaskPushConfig {
	c := v03PushConfig{ID: p.ID, URL: p.URL, Token: p.Token}
	if p.AuthScheme != "" || p.AuthCredentials != "" {
		c.Authentication = &v03AuthInfo{Schemes: []string{p.AuthScheme}, Credentials: p.AuthCredentials}
		if p.AuthScheme == "" {
			c.Authentication.Schemes = []string{}
		}
	}
	return v03TaskPushConfig{TaskID: p.TaskID, PushNotificationConfig: c}
}
