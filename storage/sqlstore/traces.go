package sqlstore

// The traces group's store (core/trace.Store), written once for both
// dialects: spans, the trace summaries kept as spans arrive, the filter
// DSL compiled to SQL with bound parameters, the session stats and the
// retention delete.

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/trace"
)

var (
	traceColumns = Columns{"trace_id", "name", "status", "start_time", "end_time", "duration_ms", "total_spans",
		"error_count", "input", "run_id", "session_id", "user_id", "agent_id", "team_id", "workflow_id", "created_at"}
	spanColumns = Columns{"span_id", "trace_id", "parent_span_id", "name", "span_kind", "status_code", "status_message",
		"start_time", "end_time", "duration_ms", "attributes", "events", "run_id", "session_id", "user_id", "agent_id",
		"team_id", "workflow_id", "created_at"}
	spanUpsert = Upsert{Table: "spans", Columns: spanColumns, Key: []string{"span_id"},
		Update: []string(spanColumns[2 : len(spanColumns)-1])} // a span keeps its trace and its first created_at
)

// traceFieldColumns maps the filter fields (trace.Fields) to the traces
// table's columns: nothing else of a filter ever reaches the SQL but
// bound values.
var traceFieldColumns = map[string]string{
	"trace_id": "trace_id", "name": "name", "status": "status", "start_time": "start_time", "end_time": "end_time",
	"duration_ms": "duration_ms", "run_id": "run_id", "session_id": "session_id", "user_id": "user_id",
	"agent_id": "agent_id", "team_id": "team_id", "workflow_id": "workflow_id", "created_at": "created_at",
}

// Traces implements trace.Store on a backend's traces and spans tables. A
// backend embeds it in its store.
type Traces struct {
	db  *DB
	now func() time.Time
}

// NewTraces returns the traces' store of db.
func NewTraces(db *DB) *Traces { return &Traces{db: db, now: time.Now} }

// nanos is t as stored (0 for the zero time).
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fromNanos is a stored time (the zero time for 0).
func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func (s *Traces) scanTrace(row Row, extra ...any) (trace.Trace, error) {
	var (
		t                            trace.Trace
		start, end, created          int64
		totalSpans, errorCount, durs int64
	)
	err := row.Scan(append([]any{&t.TraceID, &t.Name, &t.Status, &start, &end, &durs, &totalSpans, &errorCount,
		&t.Input, &t.RunID, &t.SessionID, &t.UserID, &t.AgentID, &t.TeamID, &t.WorkflowID, &created}, extra...)...)
	t.StartTime, t.EndTime, t.CreatedAt = fromNanos(start), fromNanos(end), fromNanos(created)
	t.DurationMS, t.TotalSpans, t.ErrorCount = durs, int(totalSpans), int(errorCount)
	return t, err
}

func (s *Traces) scanSpan(row Row) (trace.Span, error) {
	d := s.db.d
	var (
		sp                  trace.Span
		start, end, created int64
		f                   Fields
	)
	f.Add(&sp.SpanID, &sp.TraceID, &sp.ParentSpanID, &sp.Name, &sp.SpanKind, &sp.StatusCode, &sp.StatusMessage,
		&start, &end, &sp.DurationMS)
	f.JSON(d, "attributes", &sp.Attributes)
	f.JSON(d, "events", &sp.Events)
	f.Add(&sp.RunID, &sp.SessionID, &sp.UserID, &sp.AgentID, &sp.TeamID, &sp.WorkflowID, &created)
	if err := f.Scan(row); err != nil {
		return sp, err
	}
	sp.StartTime, sp.EndTime, sp.CreatedAt = fromNanos(start), fromNanos(end), fromNanos(created)
	return sp, nil
}

// spans reads a trace's spans on q, by start time.
func (s *Traces) spans(ctx context.Context, q Querier, traceID string) ([]trace.Span, error) {
	rows, err := q.Query(ctx, `SELECT `+spanColumns.String()+` FROM spans WHERE trace_id = ? ORDER BY start_time, span_id`, traceID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []trace.Span{}
	for rows.Next() {
		sp, err := s.scanSpan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, sp)
	}
	return out, rows.Err()
}

// Where compiles a validated filter expression into a condition on the
// traces table and its bound values (" WHERE ..." is Where's job).
func (s *Traces) where(e *trace.Expr) (string, []any, error) {
	var args []any
	var walk func(e *trace.Expr) (string, error)
	walk = func(e *trace.Expr) (string, error) {
		switch e.Op {
		case trace.OpAnd, trace.OpOr:
			if len(e.Conditions) == 0 {
				return "", invalidf("filter: %s without conditions", e.Op)
			}
			parts := make([]string, len(e.Conditions))
			for i, c := range e.Conditions {
				p, err := walk(c)
				if err != nil {
					return "", err
				}
				parts[i] = p
			}
			return "(" + strings.Join(parts, " "+e.Op+" ") + ")", nil
		case trace.OpNot:
			if len(e.Conditions) != 1 {
				return "", invalidf("filter: NOT takes one condition")
			}
			p, err := walk(e.Conditions[0])
			if err != nil {
				return "", err
			}
			return "(NOT " + p + ")", nil
		}
		if e.Field == nil {
			return "", invalidf("filter: %s without a field", e.Op)
		}
		col, ok := traceFieldColumns[e.Field.Key]
		if !ok {
			return "", invalidf("filter: unknown field %q", e.Field.Key)
		}
		val := func(v any) (string, any, error) {
			switch e.Field.Type {
			case trace.TypeDatetime:
				t, ok := v.(time.Time)
				if !ok {
					return "", nil, invalidf("filter: field %q takes a time", e.Field.Key)
				}
				return "?", nanos(t), nil
			case trace.TypeNumber:
				f, ok := v.(float64)
				if !ok {
					return "", nil, invalidf("filter: field %q takes a number", e.Field.Key)
				}
				return "CAST(? AS DOUBLE PRECISION)", f, nil
			default:
				str, ok := v.(string)
				if !ok {
					return "", nil, invalidf("filter: field %q takes a string", e.Field.Key)
				}
				return "?", str, nil
			}
		}
		switch e.Op {
		case trace.OpIn:
			if e.Field.Type == trace.TypeString || e.Field.Type == trace.TypeEnum {
				vals := make([]string, len(e.Values))
				for i, v := range e.Values {
					str, ok := v.(string)
					if !ok {
						return "", invalidf("filter: field %q takes strings", e.Field.Key)
					}
					vals[i] = str
				}
				c, a := s.db.d.InStrings(col, vals)
				args = append(args, a...)
				return "(" + c + ")", nil
			}
			if len(e.Values) == 0 {
				return "(1 = 0)", nil
			}
			ph := make([]string, len(e.Values))
			for i, v := range e.Values {
				p, a, err := val(v)
				if err != nil {
					return "", err
				}
				ph[i], args = p, append(args, a)
			}
			return "(" + col + " IN (" + strings.Join(ph, ", ") + "))", nil
		case trace.OpContains:
			str, ok := e.Value.(string)
			if !ok {
				return "", invalidf("filter: CONTAINS takes a string")
			}
			args = append(args, str)
			return "(" + s.db.d.ContainsFold(col) + ")", nil
		case trace.OpStartsWith:
			str, ok := e.Value.(string)
			if !ok {
				return "", invalidf("filter: STARTSWITH takes a string")
			}
			if s.db.d.Engine == Postgres {
				args = append(args, str)
				return "(starts_with(" + col + ", CAST(? AS TEXT)))", nil
			}
			args = append(args, str, str)
			return "(substr(" + col + ", 1, length(CAST(? AS TEXT))) = CAST(? AS TEXT))", nil
		}
		ops := map[string]string{trace.OpEQ: "=", trace.OpNEQ: "<>", trace.OpGT: ">", trace.OpGTE: ">=", trace.OpLT: "<", trace.OpLTE: "<="}
		sqlOp, ok := ops[e.Op]
		if !ok {
			return "", invalidf("filter: unknown operator %q", e.Op)
		}
		p, a, err := val(e.Value)
		if err != nil {
			return "", err
		}
		args = append(args, a)
		return "(" + col + " " + sqlOp + " " + p + ")", nil
	}
	if e == nil {
		return "", nil, nil
	}
	c, err := walk(e)
	if err != nil {
		return "", nil, err
	}
	return c, args, nil
}

// CompileTraceFilter is the SQL condition and bound values the store
// runs for e (exported for tests that check what reaches the database).
func (s *Traces) CompileTraceFilter(e *trace.Expr) (string, []any, error) { return s.where(e) }

func (s *Traces) conds(q trace.Query) ([]string, []any, error) {
	c, args, err := s.where(q.Where)
	if err != nil {
		return nil, nil, err
	}
	if c == "" {
		return nil, nil, nil
	}
	return []string{c}, args, nil
}

// ListTraces returns one page of the traces q selects, latest start
// first (ties by trace id).
func (s *Traces) ListTraces(ctx context.Context, q trace.Query) ([]trace.Trace, int, error) {
	conds, args, err := s.conds(q)
	if err != nil {
		return nil, 0, err
	}
	l := List{Columns: traceColumns.String(), From: "traces", Where: Where(conds), Args: args,
		OrderBy: " ORDER BY start_time DESC, trace_id DESC", Page: Page{Limit: q.Limit, Page: q.Page}}
	return collect(ctx, s.db, l, "list traces", s.scanTrace)
}

// GetTrace returns a trace's summary or core.ErrNotFound.
func (s *Traces) GetTrace(ctx context.Context, traceID string) (*trace.Trace, error) {
	var t trace.Trace
	err := s.db.ReadStmt(ctx, func(ctx context.Context, q Querier) error {
		var err error
		t, err = s.scanTrace(q.QueryRow(ctx, `SELECT `+traceColumns.String()+` FROM traces WHERE trace_id = ?`, traceID))
		return err
	})
	if isNoRows(err) {
		return nil, fmt.Errorf("trace %q: %w", traceID, core.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: get trace %q: %w", s.db.d.Name, traceID, s.db.Err(ctx, err))
	}
	return &t, nil
}

// TraceSpans returns a trace's spans by start time.
func (s *Traces) TraceSpans(ctx context.Context, traceID string) ([]trace.Span, error) {
	var out []trace.Span
	err := s.db.ReadStmt(ctx, func(ctx context.Context, q Querier) error {
		var err error
		out, err = s.spans(ctx, q, traceID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: spans of trace %q: %w", s.db.d.Name, traceID, s.db.Err(ctx, err))
	}
	return out, nil
}

// TraceSessionStats returns one page of the sessions of the traces q
// selects, latest trace first (ties by session id).
func (s *Traces) TraceSessionStats(ctx context.Context, q trace.Query) ([]trace.SessionStats, int, error) {
	conds, args, err := s.conds(q)
	if err != nil {
		return nil, 0, err
	}
	conds = append([]string{"session_id <> ''"}, conds...)
	d := s.db.d
	l := List{Columns: "session_id, user_id, agent_id, team_id, workflow_id, total, first_at, last_at",
		From: "(SELECT session_id, max(user_id) AS user_id, max(agent_id) AS agent_id, max(team_id) AS team_id, " +
			"max(workflow_id) AS workflow_id, count(*) AS total, min(created_at) AS first_at, max(created_at) AS last_at " +
			"FROM traces" + Where(conds) + " GROUP BY session_id) st",
		Args: args, OrderBy: " ORDER BY last_at DESC, " + d.ByteOrder("session_id") + " ASC", Page: Page{Limit: q.Limit, Page: q.Page}}
	return collect(ctx, s.db, l, "trace session stats", func(row Row, extra ...any) (trace.SessionStats, error) {
		var (
			st          trace.SessionStats
			total       int64
			first, last int64
		)
		err := row.Scan(append([]any{&st.SessionID, &st.UserID, &st.AgentID, &st.TeamID, &st.WorkflowID, &total, &first, &last}, extra...)...)
		st.TotalTraces, st.FirstTraceAt, st.LastTraceAt = int(total), fromNanos(first), fromNanos(last)
		return st, err
	})
}

// deleteBatch is how many traces one transaction of DeleteTracesBefore
// deletes: a backlog is deleted in short transactions.
const deleteBatch = 500

// retentionQuery selects a batch of the traces that ended before a time
// (bound twice). A trace ends no earlier than it starts (a summary keeps
// end_time >= start_time), so the bound on start_time selects nothing
// more but lets the start time's index find the candidates: SQLite's
// traces have no index on end_time (it cost every trace write for this
// one query).
const retentionQuery = `SELECT trace_id FROM traces WHERE start_time < ? AND end_time < ? ORDER BY start_time LIMIT ?`

// RetentionQuery is the query DeleteTracesBefore selects its batches with
// (exported for tests that check its plan).
func (s *Traces) RetentionQuery() string { return retentionQuery }

// DeleteTracesBefore deletes the traces that ended before t, with their
// spans, a batch of traces per transaction, and reports how many traces.
func (s *Traces) DeleteTracesBefore(ctx context.Context, t time.Time) (int, error) {
	cut := nanos(t)
	total := 0
	for {
		var n int
		err := s.db.Write(ctx, func(ctx context.Context, q Querier) error {
			rows, err := q.Query(ctx, retentionQuery, cut, cut, deleteBatch)
			if err != nil {
				return err
			}
			var ids []string
			for rows.Next() {
				var id string
				if err := rows.Scan(&id); err != nil {
					rows.Close()
					return err
				}
				ids = append(ids, id)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			if len(ids) == 0 {
				return nil
			}
			in, args := s.db.d.InStrings("trace_id", ids)
			if _, err := q.Exec(ctx, `DELETE FROM spans WHERE `+in, args...); err != nil {
				return err
			}
			deleted, err := q.Exec(ctx, `DELETE FROM traces WHERE `+in, args...)
			n = int(deleted)
			return err
		})
		if err != nil {
			return total, fmt.Errorf("%s: delete traces before %s: %w", s.db.d.Name, t.UTC().Format(time.RFC3339), s.db.Err(ctx, err))
		}
		total += n
		if n < deleteBatch {
			return total, nil
		}
	}
}

var _ trace.Store = (*Traces)(nil)
