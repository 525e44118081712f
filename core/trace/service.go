package trace

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/agentgate/agentgate/core"
)

// Limits of the list routes (AgentOS's).
const (
	DefaultLimit   = 20
	MaxLimit       = 1000
	MaxSearchLimit = 100
	// DefaultRetention is how long traces are kept by default.
	DefaultRetention = 30 * 24 * time.Hour
)

// Group-by modes of a search.
const (
	GroupByRun     = "run"
	GroupBySession = "session"
)

// Scope is whose traces a caller reads: Bound (user isolation, not an
// admin) binds it to UserID's traces; unbound it reads every trace.
type Scope struct {
	Bound  bool
	UserID string
}

var errNoUser = core.Errorf(core.CodeForbidden, "user isolation: the caller has no user id")

// where is the scope's own condition on top of e (refusing a bound scope
// without a user id).
func (sc Scope) where(e *Expr) (*Expr, error) {
	if !sc.Bound {
		return e, nil
	}
	if sc.UserID == "" {
		return nil, errNoUser
	}
	return And(Cond("user_id", OpEQ, sc.UserID), e), nil
}

// ListFilter is the query of GET /traces (and, without the run, status and
// trace fields, of GET /trace_session_stats). Empty fields do not filter;
// StartTime selects the traces that start at or after it, EndTime those
// that end at or before it.
type ListFilter struct {
	RunID, SessionID, UserID, AgentID, TeamID, WorkflowID string
	Status                                                string
	StartTime, EndTime                                    time.Time
	Limit, Page                                           int
}

// expr is f as a filter expression (a status outside OK/ERROR/UNSET is
// core.CodeInvalid).
func (f ListFilter) expr(sc Scope) (*Expr, error) {
	if sc.Bound && f.UserID != "" && f.UserID != sc.UserID {
		return nil, core.Errorf(core.CodeForbidden, "user isolation: you may not read the traces of user %q", f.UserID)
	}
	var conds []*Expr
	for _, c := range []struct{ key, v string }{{"run_id", f.RunID}, {"session_id", f.SessionID}, {"user_id", f.UserID},
		{"agent_id", f.AgentID}, {"team_id", f.TeamID}, {"workflow_id", f.WorkflowID}} {
		if c.v != "" {
			conds = append(conds, Cond(c.key, OpEQ, c.v))
		}
	}
	if f.Status != "" {
		switch f.Status {
		case StatusOK, StatusError, StatusUnset:
		default:
			return nil, core.Errorf(core.CodeInvalid, "status %q: must be OK or ERROR", f.Status)
		}
		conds = append(conds, &Expr{Op: OpEQ, Field: FieldOf("status"), Value: f.Status})
	}
	if !f.StartTime.IsZero() {
		conds = append(conds, Cond("start_time", OpGTE, f.StartTime.UTC()))
	}
	if !f.EndTime.IsZero() {
		conds = append(conds, Cond("end_time", OpLTE, f.EndTime.UTC()))
	}
	return sc.where(And(conds...))
}

// SearchInput is the body of POST /traces/search.
type SearchInput struct {
	// Filter is the JSON filter expression (nil or "null": none).
	Filter  json.RawMessage
	GroupBy string // GroupByRun (default) or GroupBySession
	Limit   int
	Page    int
}

// SearchResult is a search's page: Runs (group by run) or Sessions (group
// by session), and how many there are in all.
type SearchResult struct {
	Runs     []TraceDetail
	Sessions []SessionStats
	Total    int
}

// Config configures a Service.
type Config struct {
	Store Store
	// Retention is how long traces are kept (0: DefaultRetention).
	Retention time.Duration
	// Now is the clock (default time.Now).
	Now    func() time.Time
	Logger *slog.Logger
}

// Service is the traces' service.
type Service struct {
	store     Store
	retention time.Duration
	now       func() time.Time
	logger    *slog.Logger
}

// New returns the service of cfg.
func New(cfg Config) *Service {
	s := &Service{store: cfg.Store, retention: cfg.Retention, now: cfg.Now, logger: cfg.Logger}
	if s.retention <= 0 {
		s.retention = DefaultRetention
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	return s
}

// Retention is how long traces are kept.
func (s *Service) Retention() time.Duration { return s.retention }

func page(limit, pg, max int) (int, int, error) {
	if limit == 0 {
		limit = DefaultLimit
	}
	if limit < 1 || limit > max {
		return 0, 0, core.Errorf(core.CodeUnprocessable, "limit %d: must be between 1 and %d", limit, max)
	}
	if pg == 0 {
		pg = 1
	}
	if pg < 1 {
		return 0, 0, core.Errorf(core.CodeUnprocessable, "page %d: must be at least 1", pg)
	}
	return limit, pg, nil
}

// List lists one page of the traces f selects (under isolation, the
// caller's own; naming another user is core.CodeForbidden).
func (s *Service) List(ctx context.Context, sc Scope, f ListFilter) ([]TraceSummary, int, error) {
	limit, pg, err := page(f.Limit, f.Page, MaxLimit)
	if err != nil {
		return nil, 0, err
	}
	where, err := f.expr(sc)
	if err != nil {
		return nil, 0, err
	}
	list, total, err := s.store.ListTraces(ctx, Query{Where: where, Limit: limit, Page: pg})
	if err != nil {
		return nil, 0, err
	}
	out := make([]TraceSummary, len(list))
	for i := range list {
		out[i] = list[i].Summary()
	}
	return out, total, nil
}

func notFound(id string) error { return core.Errorf(core.CodeNotFound, "trace %q not found", id) }

// get reads a trace the caller may see (another user's is not found), of
// runID when set.
func (s *Service) get(ctx context.Context, sc Scope, traceID, runID string) (*Trace, error) {
	if sc.Bound && sc.UserID == "" {
		return nil, errNoUser
	}
	t, err := s.store.GetTrace(ctx, traceID)
	if errors.Is(err, core.ErrNotFound) || err == nil && (sc.Bound && t.UserID != sc.UserID || runID != "" && t.RunID != runID) {
		return nil, notFound(traceID)
	}
	return t, err
}

// Get is a trace with its tree.
func (s *Service) Get(ctx context.Context, sc Scope, traceID, runID string) (*TraceDetail, error) {
	t, err := s.get(ctx, sc, traceID, runID)
	if err != nil {
		return nil, err
	}
	spans, err := s.store.TraceSpans(ctx, traceID)
	if err != nil {
		return nil, err
	}
	d := Detail(t, spans)
	return &d, nil
}

// Span is one span of a trace, as a node without children.
func (s *Service) Span(ctx context.Context, sc Scope, traceID, spanID, runID string) (*TraceNode, error) {
	if _, err := s.get(ctx, sc, traceID, runID); err != nil {
		return nil, err
	}
	spans, err := s.store.TraceSpans(ctx, traceID)
	if err != nil {
		return nil, err
	}
	for i := range spans {
		if spans[i].SpanID == spanID {
			n := Node(&spans[i])
			return &n, nil
		}
	}
	return nil, core.Errorf(core.CodeNotFound, "span %q not found in trace %q", spanID, traceID)
}

// SessionStats lists one page of the sessions of the traces f selects.
func (s *Service) SessionStats(ctx context.Context, sc Scope, f ListFilter) ([]SessionStats, int, error) {
	limit, pg, err := page(f.Limit, f.Page, MaxLimit)
	if err != nil {
		return nil, 0, err
	}
	f.RunID, f.SessionID, f.Status = "", "", ""
	where, err := f.expr(sc)
	if err != nil {
		return nil, 0, err
	}
	return s.store.TraceSessionStats(ctx, Query{Where: where, Limit: limit, Page: pg})
}

// Search runs a filter expression: a page of traces with their trees
// (group by run) or of sessions (group by session).
func (s *Service) Search(ctx context.Context, sc Scope, in SearchInput) (*SearchResult, error) {
	limit, pg, err := page(in.Limit, in.Page, MaxSearchLimit)
	if err != nil {
		return nil, err
	}
	e, err := ParseFilter(in.Filter)
	if err != nil {
		return nil, err
	}
	where, err := sc.where(e)
	if err != nil {
		return nil, err
	}
	q := Query{Where: where, Limit: limit, Page: pg}
	switch in.GroupBy {
	case GroupBySession:
		list, total, err := s.store.TraceSessionStats(ctx, q)
		if err != nil {
			return nil, err
		}
		return &SearchResult{Sessions: list, Total: total}, nil
	case GroupByRun, "":
	default:
		return nil, core.Errorf(core.CodeInvalid, "group_by %q: must be run or session", in.GroupBy)
	}
	list, total, err := s.store.ListTraces(ctx, q)
	if err != nil {
		return nil, err
	}
	res := &SearchResult{Runs: make([]TraceDetail, 0, len(list)), Total: total}
	for i := range list {
		spans, err := s.store.TraceSpans(ctx, list[i].TraceID)
		if err != nil {
			return nil, err
		}
		res.Runs = append(res.Runs, Detail(&list[i], spans))
	}
	return res, nil
}

// Retain deletes the traces that ended longer than the retention ago: the
// retention job (run once across replicas by the queue).
func (s *Service) Retain(ctx context.Context) error {
	cutoff := s.now().Add(-s.retention)
	n, err := s.store.DeleteTracesBefore(ctx, cutoff)
	if err != nil {
		return err
	}
	if n > 0 {
		s.logger.Info("traces: retention deleted old traces", "count", n, "ended_before", cutoff.UTC())
	}
	return nil
}
