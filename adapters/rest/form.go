package rest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/url"
	"strconv"
	"strings"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/knowledge"
)

// Form is a decoded run-endpoint form: field name → value. Run endpoints
// take multipart/form-data or application/x-www-form-urlencoded (agno's
// shape); a JSON object is accepted as a convenience.
type Form map[string]string

// maxFormFields bounds the number of fields a form may carry.
const maxFormFields = 256

// ParseForm decodes a run-endpoint body. It never panics; a malformed body
// is an error of code invalid.
func ParseForm(contentType string, body []byte) (Form, error) {
	return parseForm(contentType, body, nil)
}

// FormFile is a file part of a multipart form (a run's files): its bytes
// are a slice of the body.
type FormFile struct {
	Field, Name, ContentType string
	Body                     []byte
}

// maxFormFiles bounds the files a run form may carry.
const maxFormFiles = 32

// parseForm is ParseForm; with files not nil, file parts named "files"
// (AgentOS's field; "file" too) are collected into it instead of refused.
func parseForm(contentType string, body []byte, files *[]FormFile) (Form, error) {
	if boundary, ok := simpleBoundary(contentType); ok {
		if f, ok := fastMultipart(body, boundary); ok {
			return f, nil
		}
	}
	return parseFormLibrary(contentType, body, files)
}

// parseFormLibrary is ParseForm through the standard library's parsers
// only (mime, mime/multipart, net/url, encoding/json).
func parseFormLibrary(contentType string, body []byte, files *[]FormFile) (Form, error) {
	mediaType, params, err := mime.ParseMediaType(contentType)
	if contentType == "" {
		if len(bytes.TrimSpace(body)) == 0 {
			return Form{}, nil
		}
		return nil, core.Errorf(core.CodeInvalid, "missing Content-Type: send multipart/form-data or application/x-www-form-urlencoded")
	}
	if err != nil {
		return nil, core.Errorf(core.CodeInvalid, "malformed Content-Type: %v", err)
	}
	switch mediaType {
	case "application/x-www-form-urlencoded":
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, core.Errorf(core.CodeInvalid, "malformed form body: %v", err)
		}
		if len(vals) > maxFormFields {
			return nil, core.Errorf(core.CodeInvalid, "too many form fields")
		}
		f := Form{}
		for k, v := range vals {
			if len(v) > 0 {
				f[k] = v[len(v)-1]
			}
		}
		return f, nil
	case "multipart/form-data":
		boundary := params["boundary"]
		if boundary == "" {
			return nil, core.Errorf(core.CodeInvalid, "multipart body without a boundary")
		}
		var sink fileSink
		if files != nil {
			sink = collectFiles(files)
		}
		return parseMultipart(bytes.NewReader(body), boundary, 0, sink, nil)
	case "application/json":
		var raw map[string]any
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(&raw); err != nil {
			return nil, core.Errorf(core.CodeInvalid, "malformed JSON body: %v", err)
		}
		f := Form{}
		for k, v := range raw {
			switch x := v.(type) {
			case string:
				f[k] = x
			case nil:
			default:
				b, _ := json.Marshal(x)
				f[k] = string(b)
			}
		}
		return f, nil
	default:
		return nil, core.Errorf(core.CodeInvalid, "unsupported Content-Type %q: send multipart/form-data or application/x-www-form-urlencoded", mediaType)
	}
}

// Bool reads a boolean field: true/false, 1/0, yes/no, on/off (any case).
func (f Form) Bool(name string, def bool) (bool, error) {
	v, ok := f[name]
	if !ok || strings.TrimSpace(v) == "" {
		return def, nil
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1", "yes", "on":
		return true, nil
	case "false", "0", "no", "off":
		return false, nil
	}
	return false, core.Errorf(core.CodeInvalid, "%s must be true or false, not %q", name, v)
}

// RunForm is the form of POST /agents/{agent_id}/runs.
type RunForm struct {
	Message    string `json:"message" doc:"The user's message."`
	Stream     bool   `json:"stream" doc:"Stream events as SSE (default true)."`
	SessionID  string `json:"session_id,omitempty" doc:"Session to continue; a new one is created when empty."`
	UserID     string `json:"user_id,omitempty"`
	Background bool   `json:"background" doc:"Run detached: 202 and poll, or (with stream) a resumable stream."`
	// OnDisconnect is what a streaming foreground run's client going away
	// does to it.
	OnDisconnect core.DisconnectMode `json:"on_disconnect,omitempty" enum:"cancel,continue," doc:"A foreground stream's disconnect: empty (default) keeps the run going for runs.disconnect_grace and cancels it then unless someone follows it (GET .../stream or POST .../resume, on any replica); cancel cancels it at once; continue never cancels it."`
	// Version pins a component's published version.
	Version string `json:"version,omitempty" doc:"A component's published version to run (default: its current version); the run records it as component_version."`
	// KnowledgeFilters restrict the agent's knowledge searches during the
	// run (a list of expressions is their AND).
	KnowledgeFilters map[string]any `json:"knowledge_filters,omitempty" doc:"JSON: a dict of metadata keys and values, a filter expression ({\"op\":...}) or a list of expressions (all must hold); applied to the agent's search_knowledge_base tool and add_references."`
	// Files are the form's file parts (multipart only); Fields all its
	// fields (AgentOS's JSON media fields among them).
	Files  []FormFile `json:"-"`
	Fields Form       `json:"-"`
}

// ParseRunForm decodes and validates a run form.
func ParseRunForm(contentType string, body []byte) (*RunForm, error) {
	var files []FormFile
	f, err := parseForm(contentType, body, &files)
	if err != nil {
		return nil, err
	}
	return runForm(f, files)
}

// runForm reads a decoded run form.
func runForm(f Form, files []FormFile) (*RunForm, error) {
	var err error
	rf := &RunForm{Message: f["message"], SessionID: strings.TrimSpace(f["session_id"]), UserID: strings.TrimSpace(f["user_id"]),
		Version: strings.TrimSpace(f["version"]), Files: files, Fields: f}
	if strings.TrimSpace(rf.Message) == "" {
		return nil, core.Errorf(core.CodeInvalid, "message is required")
	}
	if rf.Stream, err = f.Bool("stream", true); err != nil {
		return nil, err
	}
	if rf.Background, err = f.Bool("background", false); err != nil {
		return nil, err
	}
	if rf.OnDisconnect, err = core.ParseDisconnectMode(strings.TrimSpace(f["on_disconnect"])); err != nil {
		return nil, err
	}
	if _, err := core.ParseVersion(rf.Version); err != nil {
		return nil, err
	}
	if rf.KnowledgeFilters, err = parseKnowledgeFilters(f["knowledge_filters"]); err != nil {
		return nil, err
	}
	return rf, nil
}

// parseKnowledgeFilters is a run's knowledge_filters field as one filter
// (knowledge.NormalizeFilters' input), validated: empty, "null" or "none"
// is none; a JSON object is a dict filter or an expression; a JSON array
// of expressions is their AND.
func parseKnowledgeFilters(raw string) (map[string]any, error) {
	raw = strings.TrimSpace(raw)
	switch strings.ToLower(raw) {
	case "", "null", "none", "{}", "[]":
		return nil, nil
	}
	var v any
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		return nil, core.Errorf(core.CodeInvalid, "knowledge_filters is not JSON: %v", err)
	}
	var f map[string]any
	switch v := v.(type) {
	case map[string]any:
		f = v
	case []any:
		for i, c := range v {
			if _, ok := c.(map[string]any); !ok {
				return nil, core.Errorf(core.CodeInvalid, "knowledge_filters[%d] is not a filter expression object", i)
			}
		}
		if len(v) == 1 {
			f = v[0].(map[string]any)
		} else {
			f = map[string]any{"op": knowledge.OpAND, "conditions": v}
		}
	default:
		return nil, core.Errorf(core.CodeInvalid, "knowledge_filters must be a JSON object (a dict filter or an expression) or a list of expressions")
	}
	if _, err := knowledge.NormalizeFilters(f); err != nil {
		return nil, core.Errorf(core.CodeInvalid, "knowledge_filters: %v", err)
	}
	return f, nil
}

// ContinueForm is the form of POST /agents/{agent_id}/runs/{run_id}/continue.
type ContinueForm struct {
	Tools      []core.ToolExecution `json:"tools" doc:"JSON array: the paused tool executions exactly as RunPaused.tools carried them, each with its decision: confirmed true/false and an optional confirmation_note (requires_confirmation), user_input_schema with every value filled (requires_user_input), or result (external_execution_required)."`
	SessionID  string               `json:"session_id,omitempty"`
	UserID     string               `json:"user_id,omitempty"`
	Stream     bool                 `json:"stream" doc:"Stream the rest of the run as SSE (default true)."`
	Background bool                 `json:"background"`
}

// ParseContinueForm decodes and validates a continue form.
func ParseContinueForm(contentType string, body []byte) (*ContinueForm, error) {
	f, err := ParseForm(contentType, body)
	if err != nil {
		return nil, err
	}
	return continueForm(f)
}

// continueForm reads a decoded continue form.
func continueForm(f Form) (*ContinueForm, error) {
	var err error
	cf := &ContinueForm{SessionID: strings.TrimSpace(f["session_id"]), UserID: strings.TrimSpace(f["user_id"])}
	raw, ok := f["tools"]
	if !ok || strings.TrimSpace(raw) == "" {
		return nil, core.Errorf(core.CodeInvalid, "tools is required: a JSON array of the paused tool executions")
	}
	if err := json.Unmarshal([]byte(raw), &cf.Tools); err != nil {
		return nil, core.Errorf(core.CodeInvalid, "tools must be a JSON array of tool executions: %v", err)
	}
	if cf.Stream, err = f.Bool("stream", true); err != nil {
		return nil, err
	}
	if cf.Background, err = f.Bool("background", false); err != nil {
		return nil, err
	}
	return cf, nil
}

// ParseEventIndex parses a resume cursor (last_event_index or the
// Last-Event-ID header): an integer >= -1; empty means -1 (from the start).
func ParseEventIndex(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return -1, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < -1 {
		return 0, core.Errorf(core.CodeInvalid, "last event index must be an integer >= -1, not %q", truncate(s, 40))
	}
	return n, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return fmt.Sprintf("%s…", s[:n])
}
