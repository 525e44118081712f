package a2a

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/agentgate/agentgate/core/media"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/agentgate/agentgate/core"
)

// Parameters of every operation, decoded from either generation into one
// form (untrusted input: decodeParams is fuzzed).

// inMessage is a client message, normalised.
type inMessage struct {
	MessageID string
	ContextID string
	TaskID    string
	Role      Role
	Texts     []string
	Data      []json.RawMessage
	// Files are the message's file parts (bytes or a URI), not yet
	// fetched or stored.
	Files []media.Source
}

type sendParams struct {
	Tenant              string
	Message             inMessage
	Blocking            bool
	HistoryLength       int // -1: all
	AcceptedOutputModes []string
	Push                *PushConfig
}

type taskParams struct {
	Tenant        string
	ID            string
	HistoryLength int // -1: all
}

type listParams struct {
	Tenant           string
	ContextID        string
	Status           State
	PageSize         int
	PageToken        string
	HistoryLength    int // default 0 for lists
	StatusAfter      int64
	IncludeArtifacts bool
}

type pushParams struct {
	Tenant   string
	TaskID   string
	ConfigID string
	Config   PushConfig // opPushSet
}

// decodeParams decodes the params of op in generation v.
func decodeParams(v Version, op operation, raw json.RawMessage) (any, *Error) {
	if len(raw) == 0 {
		raw = json.RawMessage("{}")
	}
	switch op {
	case opSend, opStream:
		decode := decodeV03Send
		if v == V1 {
			decode = decodeV1Send
		}
		p, err := decode(raw)
		if err != nil {
			return nil, err
		}
		return p, nil
	case opGet, opCancel, opSubscribe:
		var p struct {
			Tenant        string   `json:"tenant"`
			ID            string   `json:"id"`
			HistoryLength *flexInt `json:"historyLength"`
		}
		if err := unmarshalParams(raw, &p); err != nil {
			return nil, err
		}
		if p.ID == "" {
			return nil, errf(KindInvalidParams, "id (the task id) is required")
		}
		hl, err := historyLength(p.HistoryLength)
		if err != nil {
			return nil, err
		}
		return &taskParams{Tenant: p.Tenant, ID: p.ID, HistoryLength: hl}, nil
	case opList:
		var p struct {
			Tenant               string    `json:"tenant"`
			ContextID            string    `json:"contextId"`
			Status               string    `json:"status"`
			PageSize             *flexInt  `json:"pageSize"`
			PageToken            string    `json:"pageToken"`
			HistoryLength        *flexInt  `json:"historyLength"`
			StatusTimestampAfter string    `json:"statusTimestampAfter"`
			IncludeArtifacts     *flexBool `json:"includeArtifacts"`
		}
		if err := unmarshalParams(raw, &p); err != nil {
			return nil, err
		}
		lp, err := listFrom(p.Tenant, p.ContextID, p.Status, p.PageSize, p.PageToken, p.HistoryLength, p.StatusTimestampAfter, p.IncludeArtifacts)
		if err != nil {
			return nil, err
		}
		return lp, nil
	case opPushSet:
		if v == V1 {
			var p v1PushConfig
			if err := unmarshalParams(raw, &p); err != nil {
				return nil, err
			}
			if p.TaskID == "" {
				return nil, errf(KindInvalidParams, "taskId is required")
			}
			return &pushParams{Tenant: p.Tenant, TaskID: p.TaskID, Config: pushFromV1(&p)}, nil
		}
		var p v03TaskPushConfig
		if err := unmarshalParams(raw, &p); err != nil {
			return nil, err
		}
		if p.TaskID == "" {
			return nil, errf(KindInvalidParams, "taskId is required")
		}
		return &pushParams{TaskID: p.TaskID, Config: pushFromV03(p.TaskID, &p.PushNotificationConfig)}, nil
	case opPushGet, opPushList, opPushDelete:
		if v == V1 {
			var p struct {
				Tenant string `json:"tenant"`
				TaskID string `json:"taskId"`
				ID     string `json:"id"`
			}
			if err := unmarshalParams(raw, &p); err != nil {
				return nil, err
			}
			if p.TaskID == "" {
				return nil, errf(KindInvalidParams, "taskId is required")
			}
			if p.ID == "" && op != opPushList {
				return nil, errf(KindInvalidParams, "id (the push notification config id) is required")
			}
			return &pushParams{Tenant: p.Tenant, TaskID: p.TaskID, ConfigID: p.ID}, nil
		}
		var p struct {
			ID       string `json:"id"`
			ConfigID string `json:"pushNotificationConfigId"`
		}
		if err := unmarshalParams(raw, &p); err != nil {
			return nil, err
		}
		if p.ID == "" {
			return nil, errf(KindInvalidParams, "id (the task id) is required")
		}
		if p.ConfigID == "" && op == opPushDelete {
			return nil, errf(KindInvalidParams, "pushNotificationConfigId is required")
		}
		return &pushParams{TaskID: p.ID, ConfigID: p.ConfigID}, nil
	case opExtendedCard:
		var p struct {
			Tenant string `json:"tenant"`
		}
		if err := unmarshalParams(raw, &p); err != nil {
			return nil, err
		}
		return &taskParams{Tenant: p.Tenant}, nil
	}
	return nil, errf(KindMethodNotFound, "unknown operation")
}

// unmarshalParams decodes params, naming the offending field on a type
// error. Unknown fields are ignored (as the spec asks).
func unmarshalParams(raw json.RawMessage, v any) *Error {
	if err := json.Unmarshal(raw, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return errf(KindInvalidParams, "params.%s: want %s", te.Field, te.Type)
		}
		return errf(KindInvalidParams, "invalid params: %s", cleanJSONError(err))
	}
	return nil
}

func cleanJSONError(err error) string {
	return strings.TrimPrefix(err.Error(), "json: ")
}

func historyLength(n *flexInt) (int, *Error) {
	if n == nil {
		return -1, nil
	}
	if *n < 0 {
		return 0, errf(KindInvalidParams, "historyLength must not be negative")
	}
	return int(*n), nil
}

const (
	defaultPageSize = 50
	maxPageSize     = 100
)

func listFrom(tenant, contextID, status string, pageSize *flexInt, pageToken string, hl *flexInt, after string, arts *flexBool) (*listParams, *Error) {
	p := &listParams{Tenant: tenant, ContextID: contextID, PageSize: defaultPageSize, PageToken: pageToken}
	if status != "" {
		st, ok := parseState(status)
		if !ok {
			return nil, errf(KindInvalidParams, "status %q is not a task state", status)
		}
		p.Status = st
	}
	if pageSize != nil {
		switch {
		case *pageSize < 0:
			return nil, errf(KindInvalidParams, "pageSize must not be negative")
		case *pageSize > 0:
			p.PageSize = min(int(*pageSize), maxPageSize)
		}
	}
	if hl != nil {
		if *hl < 0 {
			return nil, errf(KindInvalidParams, "historyLength must not be negative")
		}
		p.HistoryLength = int(*hl)
	}
	if after != "" {
		ts, err := time.Parse(time.RFC3339Nano, after)
		if err != nil {
			return nil, errf(KindInvalidParams, "statusTimestampAfter %q is not an ISO 8601 timestamp", after)
		}
		p.StatusAfter = ts.Unix()
	}
	if arts != nil {
		p.IncludeArtifacts = bool(*arts)
	}
	return p, nil
}

func decodeV1Send(raw json.RawMessage) (*sendParams, *Error) {
	var in v1SendIn
	if err := unmarshalParams(raw, &in); err != nil {
		return nil, err
	}
	if in.Message == nil {
		return nil, errf(KindInvalidParams, "message is required")
	}
	m := in.Message
	p := &sendParams{Tenant: in.Tenant, Blocking: true, HistoryLength: -1}
	p.Message = inMessage{MessageID: m.MessageID, ContextID: m.ContextID, TaskID: m.TaskID}
	switch m.Role {
	case "ROLE_USER", "user":
		p.Message.Role = RoleUser
	case "ROLE_AGENT", "agent":
		p.Message.Role = RoleAgent
	}
	for i, part := range m.Parts {
		switch {
		case part.Text != nil:
			p.Message.Texts = append(p.Message.Texts, *part.Text)
		case len(part.Data) > 0:
			p.Message.Data = append(p.Message.Data, part.Data)
		case part.Raw != nil:
			b, err := base64.StdEncoding.DecodeString(*part.Raw)
			if err != nil {
				return nil, errf(KindInvalidParams, "message.parts[%d].raw is not base64", i)
			}
			p.Message.Files = append(p.Message.Files, media.Source{Data: b, MIMEType: part.MediaType, Name: part.Filename, Field: fmt.Sprintf("message.parts[%d]", i)})
		case part.URL != nil:
			p.Message.Files = append(p.Message.Files, media.Source{URL: *part.URL, MIMEType: part.MediaType, Name: part.Filename, Field: fmt.Sprintf("message.parts[%d]", i)})
		default:
			return nil, errf(KindInvalidParams, "message.parts[%d] has no content (text, data, raw or url)", i)
		}
	}
	if c := in.Configuration; c != nil {
		p.AcceptedOutputModes = c.AcceptedOutputModes
		p.Blocking = !bool(c.ReturnImmediately)
		hl, err := historyLength(c.HistoryLength)
		if err != nil {
			return nil, err
		}
		p.HistoryLength = hl
		if c.TaskPushNotificationConfig != nil {
			pc := pushFromV1(c.TaskPushNotificationConfig)
			p.Push = &pc
		}
	}
	return p, nil
}

func decodeV03Send(raw json.RawMessage) (*sendParams, *Error) {
	var in v03SendIn
	if err := unmarshalParams(raw, &in); err != nil {
		return nil, err
	}
	if in.Message == nil {
		return nil, errf(KindInvalidParams, "message is required")
	}
	m := in.Message
	p := &sendParams{Blocking: true, HistoryLength: -1}
	p.Message = inMessage{MessageID: m.MessageID, ContextID: m.ContextID, TaskID: m.TaskID}
	switch m.Role {
	case "user", "ROLE_USER":
		p.Message.Role = RoleUser
	case "agent", "ROLE_AGENT":
		p.Message.Role = RoleAgent
	}
	for i, part := range m.Parts {
		kind := part.Kind
		if kind == "" { // lenient: infer from the members
			switch {
			case part.Text != nil:
				kind = "text"
			case len(part.Data) > 0:
				kind = "data"
			case len(part.File) > 0:
				kind = "file"
			}
		}
		switch kind {
		case "text":
			if part.Text == nil {
				return nil, errf(KindInvalidParams, "message.parts[%d]: a text part needs text", i)
			}
			p.Message.Texts = append(p.Message.Texts, *part.Text)
		case "data":
			if len(part.Data) == 0 {
				return nil, errf(KindInvalidParams, "message.parts[%d]: a data part needs data", i)
			}
			p.Message.Data = append(p.Message.Data, part.Data)
		case "file":
			src, err := v03File(i, part.File)
			if err != nil {
				return nil, err
			}
			p.Message.Files = append(p.Message.Files, src)
		default:
			return nil, errf(KindInvalidParams, "message.parts[%d]: unknown part kind %q", i, part.Kind)
		}
	}
	if c := in.Configuration; c != nil {
		p.AcceptedOutputModes = c.AcceptedOutputModes
		if c.Blocking != nil {
			p.Blocking = bool(*c.Blocking)
		}
		hl, err := historyLength(c.HistoryLength)
		if err != nil {
			return nil, err
		}
		p.HistoryLength = hl
		if c.PushNotificationConfig != nil {
			pc := pushFromV03("", c.PushNotificationConfig)
			p.Push = &pc
		}
	}
	return p, nil
}

// v03File reads a v0.3 file part's file: {name, mimeType, bytes (base64)
// or uri}.
func v03File(i int, raw json.RawMessage) (media.Source, *Error) {
	var f struct {
		Name     string  `json:"name"`
		MIMEType string  `json:"mimeType"`
		Bytes    *string `json:"bytes"`
		URI      *string `json:"uri"`
	}
	if len(raw) == 0 || json.Unmarshal(raw, &f) != nil {
		return media.Source{}, errf(KindInvalidParams, "message.parts[%d]: a file part needs a file {name, mimeType, bytes or uri}", i)
	}
	src := media.Source{Name: f.Name, MIMEType: f.MIMEType, Field: fmt.Sprintf("message.parts[%d]", i)}
	switch {
	case f.Bytes != nil && f.URI != nil:
		return media.Source{}, errf(KindInvalidParams, "message.parts[%d].file: give bytes or uri, not both", i)
	case f.Bytes != nil:
		b, err := base64.StdEncoding.DecodeString(*f.Bytes)
		if err != nil {
			return media.Source{}, errf(KindInvalidParams, "message.parts[%d].file.bytes is not base64", i)
		}
		src.Data = b
	case f.URI != nil:
		src.URL = *f.URI
	default:
		return media.Source{}, errf(KindInvalidParams, "message.parts[%d].file needs bytes or uri", i)
	}
	return src, nil
}

// checkMessage validates what every message must be.
func checkMessage(p *sendParams) *Error {
	m := &p.Message
	if m.Role != RoleUser {
		return errf(KindInvalidParams, "message.role must be the user's")
	}
	if len(m.Texts) == 0 && len(m.Data) == 0 {
		return errf(KindInvalidParams, "message.parts must hold at least one text or data part (file parts go with one)")
	}
	if len(p.AcceptedOutputModes) > 0 {
		ok := false
		for _, mode := range p.AcceptedOutputModes {
			mt := strings.ToLower(strings.TrimSpace(strings.SplitN(mode, ";", 2)[0]))
			switch mt {
			case "text/plain", "text/*", "*/*", "text", "application/json":
				ok = true
			}
		}
		if !ok {
			return errf(KindContentTypeNotSupported, "this agent answers in text/plain (and application/json data parts); acceptedOutputModes %v exclude both", p.AcceptedOutputModes)
		}
	}
	return nil
}

// inputText is the text a new run starts with: the text parts, then each
// data part as JSON.
func (m *inMessage) inputText() string {
	parts := append([]string(nil), m.Texts...)
	for _, d := range m.Data {
		parts = append(parts, string(compactJSON(d)))
	}
	return strings.TrimSpace(strings.Join(parts, "\n"))
}

// Words that confirm or reject paused tool calls, as a reply's first word.
var (
	yesWords = map[string]bool{"yes": true, "y": true, "ok": true, "okay": true, "sure": true, "confirm": true,
		"confirmed": true, "approve": true, "approved": true, "accept": true, "allow": true, "proceed": true,
		"go": true, "true": true}
	noWords = map[string]bool{"no": true, "n": true, "reject": true, "rejected": true, "deny": true,
		"denied": true, "decline": true, "declined": true, "refuse": true, "stop": true, "false": true}
)

// decision is what a reply says about one or all paused tool calls: a
// confirmation (with a note), and for one call the values of a tool that
// requires user input or the result of one executed by the caller.
type decision struct {
	Confirmed *bool
	Note      string
	UserInput map[string]any
	Result    *string
}

// decisionsFor maps a reply to a paused run onto the decisions Continue
// needs, one per pending tool call. A data part wins over the text: it is
// either {"confirmed": bool, "note": "..."} for every call, or
// {"tools": [{"tool_call_id", "confirmed", "confirmation_note", "user_input",
// "result"}]} per call (user_input: the values of a tool that requires user
// input, by field; result: that of a tool executed by the caller); text is
// "yes" or "no", optionally followed by a note.
func decisionsFor(m *inMessage, pending []core.ToolExecution) ([]core.ToolExecution, *Error) {
	all, perTool, err := parseDecisions(m)
	if err != nil {
		if !err.textOnly || !allApproved(pending) {
			return nil, err
		}
		// Every call waits on an approval, whose decision comes from the
		// store: a text that is no yes or no (a "please go on") continues.
		all, perTool = nil, map[string]decision{}
	}
	out := make([]core.ToolExecution, 0, len(pending))
	for _, p := range pending {
		d, ok := perTool[p.ToolCallID]
		if !ok {
			if all == nil && p.ApprovalID != "" {
				continue // the approval's decision, from the store
			}
			if all == nil {
				return nil, errf(KindInvalidParams, "the task waits for a decision on tool call %s (%s): reply \"yes\" or \"no\", or send a data part {\"confirmed\": true|false}", p.ToolCallID, p.ToolName)
			}
			d = *all
		}
		te := core.ToolExecution{ToolCallID: p.ToolCallID, ToolName: p.ToolName, Confirmed: d.Confirmed, ConfirmationNote: d.Note}
		for _, name := range slices.Sorted(maps.Keys(d.UserInput)) {
			te.UserInputSchema = append(te.UserInputSchema, core.UserInputField{Name: name, Value: d.UserInput[name]})
		}
		if d.Result != nil {
			te.Result = *d.Result
		}
		out = append(out, te)
	}
	for id := range perTool {
		found := false
		for _, p := range pending {
			found = found || p.ToolCallID == id
		}
		if !found {
			return nil, errf(KindInvalidParams, "tool call %s is not waiting for a decision", id)
		}
	}
	return out, nil
}

// allApproved reports whether every pending call is covered by an approval.
func allApproved(pending []core.ToolExecution) bool {
	for _, p := range pending {
		if p.ApprovalID == "" {
			return false
		}
	}
	return len(pending) > 0
}

func parseDecisions(m *inMessage) (*decision, map[string]decision, *Error) {
	text := strings.TrimSpace(strings.Join(m.Texts, "\n"))
	perTool := map[string]decision{}
	var all *decision
	for _, raw := range m.Data {
		var d struct {
			Confirmed        *flexBool `json:"confirmed"`
			Note             *string   `json:"note"`
			ConfirmationNote *string   `json:"confirmation_note"`
			Tools            []struct {
				ToolCallID       string         `json:"tool_call_id"`
				Confirmed        *flexBool      `json:"confirmed"`
				ConfirmationNote string         `json:"confirmation_note"`
				Note             string         `json:"note"`
				UserInput        map[string]any `json:"user_input"`
				Result           *string        `json:"result"`
			} `json:"tools"`
		}
		if kindOfJSON(raw) != jsonObject {
			continue
		}
		if err := json.Unmarshal(raw, &d); err != nil {
			return nil, nil, errf(KindInvalidParams, "data part: %s", cleanJSONError(err))
		}
		for i, t := range d.Tools {
			if t.ToolCallID == "" || t.Confirmed == nil && t.UserInput == nil && t.Result == nil {
				return nil, nil, errf(KindInvalidParams, "data part: tools[%d] needs tool_call_id and confirmed (or user_input, or result)", i)
			}
			note := t.ConfirmationNote
			if note == "" {
				note = t.Note
			}
			d := decision{Note: note, UserInput: t.UserInput, Result: t.Result}
			if t.Confirmed != nil {
				c := bool(*t.Confirmed)
				d.Confirmed = &c
			}
			perTool[t.ToolCallID] = d
		}
		if d.Confirmed != nil {
			c := bool(*d.Confirmed)
			all = &decision{Confirmed: &c}
			switch {
			case d.ConfirmationNote != nil:
				all.Note = *d.ConfirmationNote
			case d.Note != nil:
				all.Note = *d.Note
			default:
				all.Note = text
			}
		}
	}
	if all == nil && len(perTool) == 0 && text != "" {
		word, rest := firstWord(text)
		switch {
		case yesWords[word]:
			yes := true
			all = &decision{Confirmed: &yes, Note: rest}
		case noWords[word]:
			no := false
			all = &decision{Confirmed: &no, Note: rest}
		default:
			e := errf(KindInvalidParams, "the task waits for a confirmation: reply \"yes\" to run the tool call or \"no\" (optionally followed by a note) to reject it, not %s", strconv.Quote(clip(text)))
			e.textOnly = true
			return nil, nil, e
		}
	}
	return all, perTool, nil
}

// firstWord splits a reply into its lower-cased first word and the rest
// (leading punctuation and spaces trimmed).
func firstWord(s string) (string, string) {
	s = strings.TrimSpace(s)
	end := strings.IndexFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && r != '\'' })
	if end < 0 {
		end = len(s)
	}
	word := strings.ToLower(s[:end])
	rest := strings.TrimLeftFunc(s[end:], func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsPunct(r) && r != '"' && r != '\''
	})
	return word, strings.TrimSpace(rest)
}

// pageToken encodes an offset into ListTasks results.
func pageToken(offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("o:" + strconv.Itoa(offset)))
}

func parsePageToken(tok string) (int, *Error) {
	if tok == "" {
		return 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err == nil && bytes.HasPrefix(b, []byte("o:")) {
		if n, err := strconv.Atoi(string(b[2:])); err == nil && n >= 0 {
			return n, nil
		}
	}
	return 0, errf(KindInvalidParams, "pageToken %s is not one this server issued", strconv.Quote(clip(tok)))
}

// idempotencyKey is the idempotency key of a message: its messageId, or
// the messageId's hash when it is not a valid key (longer than a key may
// be, or not printable ASCII); none without a messageId.
func idempotencyKey(messageID string) string {
	if messageID == "" || core.CheckIdempotencyKey("messageId", messageID) == nil {
		return messageID
	}
	sum := sha256.Sum256([]byte(messageID))
	return "sha256:" + hex.EncodeToString(sum[:])
}
