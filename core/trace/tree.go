package trace

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"time"
)

// Attributes the tree reads beyond span.go's: OpenTelemetry's GenAI
// semantic conventions (with OpenInference's names as fallbacks) and the
// exception event's message.
const (
	attrModel          = "gen_ai.request.model"
	attrResponseModel  = "gen_ai.response.model"
	attrInputTokens    = "gen_ai.usage.input_tokens"
	attrOutputTokens   = "gen_ai.usage.output_tokens"
	attrToolName       = "gen_ai.tool.name"
	attrToolArgs       = "gen_ai.tool.call.arguments"
	attrOIModel        = "llm.model_name"
	attrOIPromptTokens = "llm.token_count.prompt"
	attrOIComplTokens  = "llm.token_count.completion"
	attrOIToolName     = "tool.name"
	attrOIToolParams   = "tool.parameters"
	attrExceptionMsg   = "exception.message"
)

// TraceNode is one span of a trace's tree: AgentOS's TraceNode.
type TraceNode struct {
	ID        string         `json:"id"`
	Name      string         `json:"name"`
	Type      string         `json:"type" doc:"AGENT, TEAM, WORKFLOW, LLM, TOOL, STEP (UNKNOWN when the span says none)."`
	Duration  string         `json:"duration" doc:"Human-readable: 123ms, 1.50s."`
	StartTime time.Time      `json:"start_time"`
	EndTime   time.Time      `json:"end_time"`
	Status    string         `json:"status"`
	Input     *string        `json:"input,omitempty"`
	Output    *string        `json:"output,omitempty"`
	Error     *string        `json:"error,omitempty"`
	Spans     []TraceNode    `json:"spans,omitempty" doc:"Children, by start time."`
	StepType  string         `json:"step_type,omitempty"`
	Metadata  map[string]any `json:"metadata,omitempty"`
	ExtraData map[string]any `json:"extra_data,omitempty"`
}

// TraceSummary is one row of /traces: AgentOS's TraceSummary.
type TraceSummary struct {
	TraceID    string    `json:"trace_id"`
	Name       string    `json:"name"`
	Status     string    `json:"status"`
	Duration   string    `json:"duration"`
	StartTime  time.Time `json:"start_time"`
	EndTime    time.Time `json:"end_time"`
	TotalSpans int       `json:"total_spans"`
	ErrorCount int       `json:"error_count"`
	Input      string    `json:"input,omitempty"`
	RunID      string    `json:"run_id,omitempty"`
	SessionID  string    `json:"session_id,omitempty"`
	UserID     string    `json:"user_id,omitempty"`
	AgentID    string    `json:"agent_id,omitempty"`
	TeamID     string    `json:"team_id,omitempty"`
	WorkflowID string    `json:"workflow_id,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
}

// TraceDetail is a trace with its tree: AgentOS's TraceDetail.
type TraceDetail struct {
	TraceID    string      `json:"trace_id"`
	Name       string      `json:"name"`
	Status     string      `json:"status"`
	Duration   string      `json:"duration"`
	StartTime  time.Time   `json:"start_time"`
	EndTime    time.Time   `json:"end_time"`
	TotalSpans int         `json:"total_spans"`
	ErrorCount int         `json:"error_count"`
	Input      *string     `json:"input,omitempty"`
	Output     *string     `json:"output,omitempty"`
	Error      *string     `json:"error,omitempty"`
	RunID      string      `json:"run_id,omitempty"`
	SessionID  string      `json:"session_id,omitempty"`
	UserID     string      `json:"user_id,omitempty"`
	AgentID    string      `json:"agent_id,omitempty"`
	TeamID     string      `json:"team_id,omitempty"`
	WorkflowID string      `json:"workflow_id,omitempty"`
	CreatedAt  time.Time   `json:"created_at"`
	Tree       []TraceNode `json:"tree"`
}

// FormatDuration is AgentOS's human duration: "150ms" under a second,
// "1.50s" from one.
func FormatDuration(ms int64) string {
	if ms < 1000 {
		return fmt.Sprintf("%dms", max(ms, 0))
	}
	return fmt.Sprintf("%.2fs", float64(ms)/1000)
}

// Summary is t as a row of /traces.
func (t *Trace) Summary() TraceSummary {
	return TraceSummary{TraceID: t.TraceID, Name: t.Name, Status: t.Status, Duration: FormatDuration(t.DurationMS),
		StartTime: t.StartTime, EndTime: t.EndTime, TotalSpans: t.TotalSpans, ErrorCount: t.ErrorCount, Input: t.Input,
		RunID: t.RunID, SessionID: t.SessionID, UserID: t.UserID, AgentID: t.AgentID, TeamID: t.TeamID,
		WorkflowID: t.WorkflowID, CreatedAt: t.CreatedAt}
}

// SpanType is the TraceNode type of s: its agentgate.span.type, else
// what its OpenInference kind says (CHAIN: a workflow; AGENT with a team
// id: a team), else UNKNOWN.
func SpanType(s *Span) string {
	if v := attrString(s.Attributes, AttrSpanType); v != "" {
		return v
	}
	switch k := attrString(s.Attributes, AttrOpenInferenceKind); k {
	case "":
		return "UNKNOWN"
	case "CHAIN":
		return SpanWorkflow
	case "AGENT":
		if s.TeamID != "" || attrString(s.Attributes, AttrTeamID) != "" {
			return SpanTeam
		}
		return SpanAgent
	default:
		return k
	}
}

// Node is s as a TraceNode without children.
func Node(s *Span) TraceNode {
	typ := SpanType(s)
	n := TraceNode{ID: s.SpanID, Name: s.Name, Type: typ, Duration: FormatDuration(s.DurationMS),
		StartTime: s.StartTime, EndTime: s.EndTime, Status: statusOf(s.StatusCode),
		StepType: attrString(s.Attributes, AttrStepType)}
	n.Input = attrPtr(s.Attributes, AttrInput)
	n.Output = attrPtr(s.Attributes, AttrOutput)
	if s.StatusCode == StatusError {
		n.Error, n.Output = spanError(s), nil
	}
	md := map[string]any{}
	switch typ {
	case SpanAgent, SpanTeam, SpanWorkflow:
		if s.RunID != "" {
			md["run_id"] = s.RunID
		}
	case SpanLLM:
		if m := firstString(s.Attributes, attrModel, attrResponseModel, attrOIModel); m != "" {
			md["model"] = m
		}
		if v, ok := firstInt(s.Attributes, attrInputTokens, attrOIPromptTokens); ok {
			md["input_tokens"] = v
		}
		if v, ok := firstInt(s.Attributes, attrOutputTokens, attrOIComplTokens); ok {
			md["output_tokens"] = v
		}
	case SpanTool:
		if v := firstString(s.Attributes, attrToolName, attrOIToolName); v != "" {
			md["tool_name"] = v
		}
		if v, ok := s.Attributes[attrToolArgs]; ok {
			md["parameters"] = v
		} else if v, ok := s.Attributes[attrOIToolParams]; ok {
			md["parameters"] = v
		}
	}
	if s.SessionID != "" {
		md["session_id"] = s.SessionID
	}
	if s.UserID != "" {
		md["user_id"] = s.UserID
	}
	if len(md) > 0 {
		n.Metadata = md
	}
	return n
}

// Detail is t with the tree of its spans: roots (spans without a parent
// among spans) and every node's children by start time. The root nodes
// carry the trace's timing and, as metadata, the input and output tokens
// of every LLM span; their input, output and error are the trace's.
func Detail(t *Trace, spans []Span) TraceDetail {
	d := TraceDetail{TraceID: t.TraceID, Name: t.Name, Status: t.Status, Duration: FormatDuration(t.DurationMS),
		StartTime: t.StartTime, EndTime: t.EndTime, TotalSpans: t.TotalSpans, ErrorCount: t.ErrorCount,
		RunID: t.RunID, SessionID: t.SessionID, UserID: t.UserID, AgentID: t.AgentID, TeamID: t.TeamID,
		WorkflowID: t.WorkflowID, CreatedAt: t.CreatedAt, Tree: []TraceNode{}}
	ids := make(map[string]bool, len(spans))
	for i := range spans {
		ids[spans[i].SpanID] = true
	}
	children := map[string][]*Span{}
	var roots []*Span
	var inTokens, outTokens int64
	for i := range spans {
		s := &spans[i]
		if s.ParentSpanID == "" || !ids[s.ParentSpanID] || s.ParentSpanID == s.SpanID {
			roots = append(roots, s)
		} else {
			children[s.ParentSpanID] = append(children[s.ParentSpanID], s)
		}
		if SpanType(s) == SpanLLM {
			if v, ok := firstInt(s.Attributes, attrInputTokens, attrOIPromptTokens); ok {
				inTokens += v
			}
			if v, ok := firstInt(s.Attributes, attrOutputTokens, attrOIComplTokens); ok {
				outTokens += v
			}
		}
	}
	byStart := func(l []*Span) {
		sort.SliceStable(l, func(i, j int) bool {
			if !l[i].StartTime.Equal(l[j].StartTime) {
				return l[i].StartTime.Before(l[j].StartTime)
			}
			return l[i].SpanID < l[j].SpanID
		})
	}
	byStart(roots)
	seen := map[string]bool{}
	var build func(s *Span) TraceNode
	build = func(s *Span) TraceNode {
		seen[s.SpanID] = true
		n := Node(s)
		kids := children[s.SpanID]
		byStart(kids)
		for _, c := range kids {
			if !seen[c.SpanID] {
				n.Spans = append(n.Spans, build(c))
			}
		}
		return n
	}
	for i, r := range roots {
		n := build(r)
		if i == 0 {
			d.Input = attrPtr(r.Attributes, AttrInput)
			if t.Status == StatusError || r.StatusCode == StatusError {
				d.Error = spanError(r)
				if d.Error == nil && t.Status == StatusError {
					d.Error = firstError(spans)
				}
			} else {
				d.Output = attrPtr(r.Attributes, AttrOutput)
			}
		}
		n.Input, n.Output, n.Error = nil, nil, nil
		n.StartTime, n.EndTime, n.Duration = t.StartTime, t.EndTime, FormatDuration(t.DurationMS)
		md := map[string]any{}
		if inTokens > 0 {
			md["total_input_tokens"] = inTokens
		}
		if outTokens > 0 {
			md["total_output_tokens"] = outTokens
		}
		if s := n.Metadata["run_id"]; s != nil {
			md["run_id"] = s
		}
		n.Metadata = nil
		if len(md) > 0 {
			n.Metadata = md
		}
		d.Tree = append(d.Tree, n)
	}
	return d
}

// firstError is the error of the earliest failed span.
func firstError(spans []Span) *string {
	var best *Span
	for i := range spans {
		if spans[i].StatusCode == StatusError && (best == nil || spans[i].StartTime.Before(best.StartTime)) {
			best = &spans[i]
		}
	}
	if best == nil {
		return nil
	}
	return spanError(best)
}

func spanError(s *Span) *string {
	if s.StatusMessage != "" {
		m := s.StatusMessage
		return &m
	}
	if v := attrPtr(s.Attributes, attrExceptionMsg); v != nil {
		return v
	}
	for _, e := range s.Events {
		if v := attrPtr(e.Attributes, attrExceptionMsg); v != nil {
			return v
		}
	}
	return nil
}

func statusOf(code string) string {
	if code == "" {
		return StatusUnset
	}
	return code
}

// attrString is the attribute as a string: a string as it is, another
// value as JSON, "" when absent.
func attrString(attrs map[string]any, key string) string {
	v, ok := attrs[key]
	if !ok || v == nil {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func attrPtr(attrs map[string]any, key string) *string {
	if _, ok := attrs[key]; !ok {
		return nil
	}
	s := attrString(attrs, key)
	return &s
}

func firstString(attrs map[string]any, keys ...string) string {
	for _, k := range keys {
		if v := attrString(attrs, k); v != "" {
			return v
		}
	}
	return ""
}

// firstInt is the first of keys holding a whole number (as Go or JSON
// decoding gives it).
func firstInt(attrs map[string]any, keys ...string) (int64, bool) {
	for _, k := range keys {
		switch v := attrs[k].(type) {
		case int:
			return int64(v), true
		case int64:
			return v, true
		case int32:
			return int64(v), true
		case float64:
			if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
				return int64(v), true
			}
		case json.Number:
			if n, err := v.Int64(); err == nil {
				return n, true
			}
		}
	}
	return 0, false
}
