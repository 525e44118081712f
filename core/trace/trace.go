package trace

import (
	"context"
	"time"
)

// Trace is one stored trace: the summary of its spans, kept by the store as
// spans arrive (see Summarize). Times are UTC.
type Trace struct {
	TraceID string
	// Name is the root span's name.
	Name string
	// Status is ERROR when a span errored, else OK.
	Status     string
	StartTime  time.Time // the earliest span start
	EndTime    time.Time // the latest span end
	DurationMS int64
	TotalSpans int
	ErrorCount int
	// Input is the root span's input.value.
	Input string
	// Identity, from the root span (or, for what it lacks, the earliest
	// span carrying it).
	RunID      string
	SessionID  string
	UserID     string
	AgentID    string
	TeamID     string
	WorkflowID string
	// CreatedAt is when the trace's first span was stored.
	CreatedAt time.Time
}

// SessionStats is one row of /trace_session_stats: AgentOS's
// TraceSessionStats.
type SessionStats struct {
	SessionID    string    `json:"session_id"`
	UserID       string    `json:"user_id,omitempty"`
	AgentID      string    `json:"agent_id,omitempty"`
	TeamID       string    `json:"team_id,omitempty"`
	WorkflowID   string    `json:"workflow_id,omitempty"`
	TotalTraces  int       `json:"total_traces"`
	FirstTraceAt time.Time `json:"first_trace_at"`
	LastTraceAt  time.Time `json:"last_trace_at"`
}

// Query selects traces: Where (nil: every trace) is a validated filter
// expression (see ParseFilter, And, Cond). Limit 0 is the default (20);
// Page counts from 1.
type Query struct {
	Where *Expr
	Limit int
	Page  int
}

// Store keeps spans and the traces they form. A missing trace is
// core.ErrNotFound (wrapped).
type Store interface {
	// WriteSpans stores spans (replacing those already stored by span_id)
	// and brings the summary of each of their traces up to date, in one
	// transaction.
	SpanWriter
	// ListTraces lists one page of the traces q selects, latest start
	// first, and how many it selects in all.
	ListTraces(ctx context.Context, q Query) ([]Trace, int, error)
	// GetTrace reads one trace's summary.
	GetTrace(ctx context.Context, traceID string) (*Trace, error)
	// TraceSpans reads every span of a trace, by start time (none: an
	// empty list).
	TraceSpans(ctx context.Context, traceID string) ([]Span, error)
	// TraceSessionStats lists one page of the sessions of the traces q
	// selects (traces with no session are left out), latest trace first,
	// and how many sessions there are.
	TraceSessionStats(ctx context.Context, q Query) ([]SessionStats, int, error)
	// DeleteTracesBefore deletes the traces (and their spans) that ended
	// before t and reports how many traces.
	DeleteTracesBefore(ctx context.Context, t time.Time) (int, error)
}

// Status codes of spans and traces.
const (
	StatusOK    = "OK"
	StatusError = "ERROR"
	StatusUnset = "UNSET"
)

// earlier orders spans by start time, then span id.
func earlier(a, b *Span) bool {
	if !a.StartTime.Equal(b.StartTime) {
		return a.StartTime.Before(b.StartTime)
	}
	return a.SpanID < b.SpanID
}

// Summarize is the summary of a trace's spans (all of them, as stored): the
// root is the span without a parent (or whose parent is not among spans),
// the earliest (by start time, then span id) if there are several. Stores
// keep the same summary (computing it as they like); it is the reference
// the conformance suite checks them against.
func Summarize(traceID string, spans []Span) Trace {
	t := Trace{TraceID: traceID, TotalSpans: len(spans), Status: StatusOK}
	if len(spans) == 0 {
		return t
	}
	ids := make(map[string]bool, len(spans))
	for i := range spans {
		ids[spans[i].SpanID] = true
	}
	var root *Span
	for i := range spans {
		s := &spans[i]
		if s.StatusCode == StatusError {
			t.ErrorCount++
		}
		if !s.StartTime.IsZero() && (t.StartTime.IsZero() || s.StartTime.Before(t.StartTime)) {
			t.StartTime = s.StartTime
		}
		if s.EndTime.After(t.EndTime) {
			t.EndTime = s.EndTime
		}
		if !s.CreatedAt.IsZero() && (t.CreatedAt.IsZero() || s.CreatedAt.Before(t.CreatedAt)) {
			t.CreatedAt = s.CreatedAt
		}
		if s.ParentSpanID == "" || !ids[s.ParentSpanID] {
			if root == nil || earlier(s, root) {
				root = s
			}
		}
	}
	if t.ErrorCount > 0 {
		t.Status = StatusError
	}
	if t.EndTime.Before(t.StartTime) {
		t.EndTime = t.StartTime
	}
	t.DurationMS = t.EndTime.Sub(t.StartTime).Milliseconds()
	if root == nil { // every span has a parent among them: a cycle
		root = &spans[0]
		for i := range spans {
			if earlier(&spans[i], root) {
				root = &spans[i]
			}
		}
	}
	t.Name = root.Name
	t.Input = attrString(root.Attributes, AttrInput)
	t.RunID, t.SessionID, t.UserID = root.RunID, root.SessionID, root.UserID
	t.AgentID, t.TeamID, t.WorkflowID = root.AgentID, root.TeamID, root.WorkflowID
	// What the root lacks comes from the earliest span that has it.
	fill := func(dst *string, get func(*Span) string) {
		if *dst != "" {
			return
		}
		var best *Span
		for i := range spans {
			if v := get(&spans[i]); v != "" && (best == nil || earlier(&spans[i], best)) {
				best = &spans[i]
			}
		}
		if best != nil {
			*dst = get(best)
		}
	}
	fill(&t.RunID, func(s *Span) string { return s.RunID })
	fill(&t.SessionID, func(s *Span) string { return s.SessionID })
	fill(&t.UserID, func(s *Span) string { return s.UserID })
	if t.TeamID == "" && t.WorkflowID == "" {
		fill(&t.AgentID, func(s *Span) string { return s.AgentID })
	}
	return t
}
