package sqlstore

// Writing spans: a batch is a few multi-row statements. A new trace's
// summary is inserted with it; an existing trace's summary is brought up
// to date incrementally (counts added, min/max taken, the root kept or
// replaced by an earlier one) from the stored summary and the batch,
// without reading the trace's stored spans again.
// Only the rare batch that replaces stored spans, or invalidates the
// stored root (its parent arrives late), or whose trace has no root (a
// cycle) summarises the trace from its stored spans.

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/agentgate/agentgate/core/trace"
)

// traceRootColumns follow traceColumns in a trace's stored row: the root
// span the summary was taken from.
var traceRootColumns = Columns{"root_span_id", "root_parent_id", "root_start"}

// traceWriteColumns are the columns a summary's write sets.
var traceWriteColumns = append(append(Columns{}, traceColumns...), traceRootColumns...)

// statementRows are the row counts of the multi-row statements, largest
// first: a batch is cut into chunks of these sizes, so the statements'
// texts are few and stay prepared (the SQLite writer and pgx keep a
// bounded cache of prepared statements). 64 rows of 22 values are well
// within both engines' limits on bound values.
var statementRows = [...]int{64, 8, 1}

// chunks cuts s into chunks of statementRows' sizes, largest first.
func chunks[T any](s []T) [][]T {
	var out [][]T
	for _, n := range statementRows {
		for len(s) >= n {
			out = append(out, s[:n:n])
			s = s[n:]
		}
	}
	return out
}

// storedTrace is a trace's stored summary and its root.
type storedTrace struct {
	t                   trace.Trace
	rootSpan, rootParen string
	rootStart           int64
}

// WriteSpans stores spans (replacing those stored by span_id) and brings
// their traces' summaries up to date, in one transaction. The spans are
// inserted first; a trace that is new (no stored row, none of its spans
// stored before nor sharing an insert statement with one, see
// insertSpans) is then inserted whole with its summary. The rows of the
// other traces are read, and locked on PostgreSQL (in trace id order):
// two batches of one trace summarise one after the other, the second
// seeing the first's summary (a batch whose insert of a trace meets a
// concurrent one's waits for it, then merges into its row).
func (s *Traces) WriteSpans(ctx context.Context, spans []trace.Span) error {
	name := s.db.d.Name
	if len(spans) == 0 {
		return nil
	}
	byTrace := map[string][]int{}
	for i := range spans {
		sp := &spans[i]
		if sp.SpanID == "" || sp.TraceID == "" {
			return invalidf("%s: write spans: span_id and trace_id are required", name)
		}
		byTrace[sp.TraceID] = append(byTrace[sp.TraceID], i)
	}
	ids := make([]string, 0, len(byTrace))
	for id := range byTrace {
		ids = append(ids, id)
	}
	slices.Sort(ids) // one lock order across writers
	now := s.now().UTC()
	rows := make([][]any, len(spans))
	for i := range spans {
		sp := &spans[i]
		a, err := EncodeAttributes(s.db.d, "attributes", sp.Attributes)
		if err != nil {
			return err
		}
		e, err := EncodeJSON(s.db.d, "events", sp.Events)
		if err != nil {
			return err
		}
		if sp.CreatedAt.IsZero() {
			sp.CreatedAt = now
		}
		if sp.DurationMS == 0 && sp.EndTime.After(sp.StartTime) {
			sp.DurationMS = sp.EndTime.Sub(sp.StartTime).Milliseconds()
		}
		rows[i] = []any{sp.SpanID, sp.TraceID, sp.ParentSpanID, sp.Name, sp.SpanKind, sp.StatusCode, sp.StatusMessage,
			nanos(sp.StartTime), nanos(sp.EndTime), sp.DurationMS, a, e, sp.RunID, sp.SessionID, sp.UserID, sp.AgentID,
			sp.TeamID, sp.WorkflowID, nanos(sp.CreatedAt)}
	}
	err := s.db.Write(ctx, func(ctx context.Context, q Querier) error {
		inserted, err := s.insertSpans(ctx, q, rows)
		if err != nil {
			return err
		}
		dirty := map[string]bool{}
		seen := make(map[string]bool, len(spans))
		for i := range spans {
			sid := spans[i].SpanID
			again := seen[sid]
			seen[sid] = true
			if !inserted[sid] || again { // stored before (or earlier in the batch): replace it
				if _, err := q.Exec(ctx, spanUpsert.SQL(), rows[i]...); err != nil {
					return err
				}
				dirty[spans[i].TraceID] = true
			}
		}
		// A trace whose spans are all new and which has no stored row is
		// written whole, its summary taken from the batch: one insert,
		// no read (the usual case: a run's spans reach the store in one
		// batch). The others are brought up to date from their rows.
		fresh := make([]storedTrace, 0, len(ids))
		for _, id := range ids {
			if !dirty[id] {
				fresh = append(fresh, summaryOf(id, pick(spans, byTrace[id])))
			}
		}
		created, err := s.insertSummaries(ctx, q, fresh)
		if err != nil {
			return err
		}
		if len(created) == len(ids) {
			return nil
		}
		rest := make([]string, 0, len(ids)-len(created))
		for _, id := range ids {
			if !created[id] {
				rest = append(rest, id)
			}
		}
		stored, err := s.lockTraces(ctx, q, rest, now)
		if err != nil {
			return err
		}
		parents, err := s.storedParents(ctx, q, spans, byTrace, stored, dirty)
		if err != nil {
			return err
		}
		out := make([]storedTrace, 0, len(rest))
		for _, id := range rest {
			var sum storedTrace
			ok := false
			switch st, found := stored[id]; {
			case dirty[id]:
			case !found || st.t.TotalSpans == 0: // a new trace: all its spans are here
				sum, ok = summaryOf(id, pick(spans, byTrace[id])), true
			default:
				if sum, ok, err = s.merge(ctx, q, st, spans, byTrace[id], parents); err != nil {
					return err
				}
			}
			if !ok {
				if sum, err = s.summarize(ctx, q, id); err != nil {
					return err
				}
			}
			out = append(out, sum)
		}
		return s.writeSummaries(ctx, q, out)
	})
	if err != nil {
		return fmt.Errorf("%s: write spans: %w", name, s.db.Err(ctx, err))
	}
	return nil
}

// lockTraces reads the stored summaries of ids; on PostgreSQL it creates
// the missing rows and locks them all, in one statement. A trace without
// stored spans has TotalSpans 0.
func (s *Traces) lockTraces(ctx context.Context, q Querier, ids []string, now time.Time) (map[string]*storedTrace, error) {
	out := make(map[string]*storedTrace, len(ids))
	for _, chunk := range chunks(ids) {
		var (
			query string
			args  []any
		)
		if s.db.d.Engine == Postgres {
			args = make([]any, 0, 2*len(chunk))
			for _, id := range chunk {
				args = append(args, id, nanos(now))
			}
			query = `INSERT INTO traces (trace_id, created_at) VALUES ` + valueRows(len(chunk), 2) +
				` ON CONFLICT (trace_id) DO UPDATE SET trace_id = excluded.trace_id RETURNING ` + traceWriteColumns.String()
		} else {
			var cond string
			cond, args = s.db.d.InStrings("trace_id", chunk)
			query = `SELECT ` + traceWriteColumns.String() + ` FROM traces WHERE ` + cond
		}
		rows, err := q.Query(ctx, query, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			st := &storedTrace{}
			t, err := s.scanTrace(rows, &st.rootSpan, &st.rootParen, &st.rootStart)
			if err != nil {
				rows.Close()
				return nil, err
			}
			st.t = t
			out[t.TraceID] = st
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// valueRows is n rows of cols placeholders: "(?, ?), (?, ?)".
func valueRows(n, cols int) string {
	row := "(" + Placeholders(cols) + ")"
	var b strings.Builder
	b.Grow(n * (len(row) + 2))
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	return b.String()
}

// insertSpans inserts the spans not stored yet, a chunk per statement,
// and returns which span ids it inserted. The usual chunk is all new
// spans: its insert's count of rows says so, without returning (and
// scanning) their ids. A chunk with spans stored before (or twice in the
// batch), rare, is reported as not inserted at all: its spans are then
// written over (the new ones with the values just inserted) and their
// traces summarised from their stored spans, as for replaced spans.
func (s *Traces) insertSpans(ctx context.Context, q Querier, rows [][]any) (map[string]bool, error) {
	inserted := make(map[string]bool, len(rows))
	for _, chunk := range chunks(rows) {
		args := make([]any, 0, len(chunk)*len(spanColumns))
		for _, r := range chunk {
			args = append(args, r...)
		}
		n, err := q.Exec(ctx, `INSERT INTO spans (`+spanColumns.String()+`) VALUES `+valueRows(len(chunk), len(spanColumns))+
			` ON CONFLICT (span_id) DO NOTHING`, args...)
		if err != nil {
			return nil, err
		}
		if int(n) == len(chunk) {
			for _, r := range chunk {
				inserted[r[0].(string)] = true
			}
		}
	}
	return inserted, nil
}

// storedParents is which parents of the batch's spans are stored in their
// trace (so those spans are not roots), for the traces merged
// incrementally: the parents not in the batch, looked up by span id.
func (s *Traces) storedParents(ctx context.Context, q Querier, spans []trace.Span, byTrace map[string][]int,
	stored map[string]*storedTrace, dirty map[string]bool) (map[string]bool, error) {
	var look []string
	for id, idx := range byTrace {
		st, ok := stored[id]
		if !ok || dirty[id] || st.t.TotalSpans == 0 {
			continue // summarised whole, or every span is in the batch
		}
		in := make(map[string]bool, len(idx))
		for _, i := range idx {
			in[spans[i].SpanID] = true
		}
		for _, i := range idx {
			if p := spans[i].ParentSpanID; p != "" && !in[p] {
				look = append(look, p)
			}
		}
	}
	found := map[string]bool{}
	for _, chunk := range chunks(look) {
		cond, args := s.db.d.InStrings("span_id", chunk)
		rows, err := q.Query(ctx, `SELECT span_id, trace_id FROM spans WHERE `+cond, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id, tid string
			if err := rows.Scan(&id, &tid); err != nil {
				rows.Close()
				return nil, err
			}
			found[tid+"/"+id] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return found, nil
}

// before reports whether the span starting at (aStart, aID) is earlier
// than the one at (bStart, bID), as trace.Summarize orders them.
func before(aStart int64, aID string, bStart int64, bID string) bool {
	if aStart != bStart {
		return aStart < bStart
	}
	return aID < bID
}

// merge is st's summary with the batch's spans idx (all of them new)
// added, and false when it cannot be had incrementally (the stored root
// lost its place, or there is no root).
func (s *Traces) merge(ctx context.Context, q Querier, st *storedTrace, spans []trace.Span, idx []int,
	parents map[string]bool) (storedTrace, bool, error) {
	id := st.t.TraceID
	batch := make([]trace.Span, len(idx))
	in := make(map[string]bool, len(idx))
	for k, i := range idx {
		batch[k] = spans[i]
		in[spans[i].SpanID] = true
	}
	if st.rootSpan == "" || (st.rootParen != "" && in[st.rootParen]) {
		return storedTrace{}, false, nil // no stored root, or it is a child after all
	}
	b := summaryOf(id, batch) // counts and times of the batch alone
	out := *st
	t := &out.t
	t.TotalSpans += b.t.TotalSpans
	t.ErrorCount += b.t.ErrorCount
	if t.ErrorCount > 0 {
		t.Status = trace.StatusError
	}
	if !b.t.StartTime.IsZero() && (t.StartTime.IsZero() || b.t.StartTime.Before(t.StartTime)) {
		t.StartTime = b.t.StartTime
	}
	if b.t.EndTime.After(t.EndTime) {
		t.EndTime = b.t.EndTime
	}
	if !b.t.CreatedAt.IsZero() && (t.CreatedAt.IsZero() || b.t.CreatedAt.Before(t.CreatedAt)) {
		t.CreatedAt = b.t.CreatedAt
	}
	if t.EndTime.Before(t.StartTime) {
		t.EndTime = t.StartTime
	}
	t.DurationMS = t.EndTime.Sub(t.StartTime).Milliseconds()
	// The batch's root candidates: no parent, or one neither in the batch
	// nor stored in the trace.
	var cand *trace.Span
	for k := range batch {
		sp := &batch[k]
		if p := sp.ParentSpanID; p != "" && (in[p] || parents[id+"/"+p]) {
			continue
		}
		if cand == nil || before(nanos(sp.StartTime), sp.SpanID, nanos(cand.StartTime), cand.SpanID) {
			cand = sp
		}
	}
	carries := func(get func(*trace.Span) string) bool {
		for k := range batch {
			if get(&batch[k]) != "" {
				return true
			}
		}
		return false
	}
	rootChanged := cand != nil && before(nanos(cand.StartTime), cand.SpanID, st.rootStart, st.rootSpan)
	if rootChanged {
		r := trace.Summarize(id, []trace.Span{*cand})
		t.Name, t.Input, t.TeamID, t.WorkflowID = r.Name, r.Input, cand.TeamID, cand.WorkflowID
		out.rootSpan, out.rootParen, out.rootStart = cand.SpanID, cand.ParentSpanID, nanos(cand.StartTime)
	}
	fields := []struct {
		col string
		dst *string
		get func(*trace.Span) string
	}{
		{"run_id", &t.RunID, func(s *trace.Span) string { return s.RunID }},
		{"session_id", &t.SessionID, func(s *trace.Span) string { return s.SessionID }},
		{"user_id", &t.UserID, func(s *trace.Span) string { return s.UserID }},
		{"agent_id", &t.AgentID, func(s *trace.Span) string { return s.AgentID }},
	}
	for _, f := range fields {
		fill := f.col != "agent_id" || (t.TeamID == "" && t.WorkflowID == "")
		switch {
		case !fill: // the root's own only
			if rootChanged {
				*f.dst = f.get(cand)
			}
		case rootChanged && f.get(cand) != "":
			*f.dst = f.get(cand) // the root's own
		case !rootChanged && !carries(f.get):
			// Neither the root nor what fills in for it changed.
		default:
			// The root's own, else the earliest span's that has it.
			var v string
			err := q.QueryRow(ctx, `SELECT COALESCE((SELECT NULLIF(`+f.col+`, '') FROM spans WHERE span_id = ?),
				(SELECT `+f.col+` FROM spans WHERE trace_id = ? AND `+f.col+` <> '' ORDER BY start_time, span_id LIMIT 1), '')`,
				out.rootSpan, id).Scan(&v)
			if err != nil {
				return storedTrace{}, false, err
			}
			*f.dst = v
		}
	}
	return out, true, nil
}

// pick is spans[idx...].
func pick(spans []trace.Span, idx []int) []trace.Span {
	out := make([]trace.Span, len(idx))
	for k, i := range idx {
		out[k] = spans[i]
	}
	return out
}

// summaryOf is the summary of a trace whose spans are all in spans, with
// its root.
func summaryOf(id string, spans []trace.Span) storedTrace {
	out := storedTrace{t: trace.Summarize(id, spans)}
	in := make(map[string]bool, len(spans))
	for i := range spans {
		in[spans[i].SpanID] = true
	}
	var root *trace.Span
	for i := range spans {
		sp := &spans[i]
		if sp.ParentSpanID != "" && in[sp.ParentSpanID] {
			continue
		}
		if root == nil || before(nanos(sp.StartTime), sp.SpanID, nanos(root.StartTime), root.SpanID) {
			root = sp
		}
	}
	if root != nil { // a cycle has none: its next batch summarises it whole
		out.rootSpan, out.rootParen, out.rootStart = root.SpanID, root.ParentSpanID, nanos(root.StartTime)
	}
	return out
}

// insertSummaries inserts the summaries of the traces that have no stored
// row, a few hundred per statement, and returns the trace ids it
// inserted (a trace with a row is left as it is).
func (s *Traces) insertSummaries(ctx context.Context, q Querier, sums []storedTrace) (map[string]bool, error) {
	created := make(map[string]bool, len(sums))
	for _, chunk := range chunks(sums) {
		rows, err := q.Query(ctx, `INSERT INTO traces (`+traceWriteColumns.String()+`) VALUES `+
			valueRows(len(chunk), len(traceWriteColumns))+` ON CONFLICT (trace_id) DO NOTHING RETURNING trace_id`,
			summaryArgs(chunk)...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, err
			}
			created[id] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return created, nil
}

// summaryArgs are the bound values of sums' rows (traceWriteColumns).
func summaryArgs(sums []storedTrace) []any {
	args := make([]any, 0, len(sums)*len(traceWriteColumns))
	for _, st := range sums {
		t := &st.t
		args = append(args, t.TraceID, t.Name, t.Status, nanos(t.StartTime), nanos(t.EndTime), t.DurationMS, t.TotalSpans,
			t.ErrorCount, t.Input, t.RunID, t.SessionID, t.UserID, t.AgentID, t.TeamID, t.WorkflowID, nanos(t.CreatedAt),
			st.rootSpan, st.rootParen, st.rootStart)
	}
	return args
}

// writeSummaries writes the traces' summaries, a few hundred per
// statement.
func (s *Traces) writeSummaries(ctx context.Context, q Querier, sums []storedTrace) error {
	set := make([]string, 0, len(traceWriteColumns)-1)
	for _, c := range traceWriteColumns[1:] {
		set = append(set, c+" = excluded."+c)
	}
	for _, chunk := range chunks(sums) {
		if _, err := q.Exec(ctx, `INSERT INTO traces (`+traceWriteColumns.String()+`) VALUES `+
			valueRows(len(chunk), len(traceWriteColumns))+` ON CONFLICT (trace_id) DO UPDATE SET `+strings.Join(set, ", "),
			summaryArgs(chunk)...); err != nil {
			return err
		}
	}
	return nil
}

// summarize is the summary of a trace's stored spans, as trace.Summarize
// makes it, computed on q with aggregates and index lookups (a long trace
// written in many batches is never read whole): the counts and times, the
// root (the earliest span without a parent in the trace) and, for the
// identity the root lacks, the earliest span carrying it.
func (s *Traces) summarize(ctx context.Context, q Querier, id string) (storedTrace, error) {
	out := storedTrace{t: trace.Trace{TraceID: id, Status: trace.StatusOK}}
	t := &out.t
	var (
		total, errs, start, end, created int64
	)
	if err := q.QueryRow(ctx, `SELECT count(*), COALESCE(SUM(CASE WHEN status_code = 'ERROR' THEN 1 ELSE 0 END), 0),
		COALESCE(min(CASE WHEN start_time <> 0 THEN start_time END), 0), COALESCE(max(end_time), 0),
		COALESCE(min(CASE WHEN created_at <> 0 THEN created_at END), 0) FROM spans WHERE trace_id = ?`, id).
		Scan(&total, &errs, &start, &end, &created); err != nil {
		return out, err
	}
	t.TotalSpans, t.ErrorCount = int(total), int(errs)
	if errs > 0 {
		t.Status = trace.StatusError
	}
	end = max(end, start)
	t.StartTime, t.EndTime, t.CreatedAt = fromNanos(start), fromNanos(end), fromNanos(created)
	t.DurationMS = (end - start) / int64(time.Millisecond)
	rootCols := `SELECT span_id, parent_span_id, start_time, name, attributes, run_id, session_id, user_id, agent_id, team_id, workflow_id FROM spans s WHERE s.trace_id = ?`
	var rootSpan, rootParent string
	var rootStart int64
	scanRoot := func(row Row) error {
		var (
			f     Fields
			attrs map[string]any
		)
		f.Add(&rootSpan, &rootParent, &rootStart, &t.Name)
		f.JSON(s.db.d, "attributes", &attrs)
		f.Add(&t.RunID, &t.SessionID, &t.UserID, &t.AgentID, &t.TeamID, &t.WorkflowID)
		if err := f.Scan(row); err != nil {
			return err
		}
		if v, ok := attrs[trace.AttrInput]; ok && v != nil {
			if str, ok := v.(string); ok {
				t.Input = str
			} else if b, err := json.Marshal(v); err == nil {
				t.Input = string(b)
			}
		}
		return nil
	}
	err := scanRoot(q.QueryRow(ctx, rootCols+` AND (s.parent_span_id = '' OR NOT EXISTS (SELECT 1 FROM spans p
		WHERE p.span_id = s.parent_span_id AND p.trace_id = s.trace_id)) ORDER BY s.start_time, s.span_id LIMIT 1`, id))
	if isNoRows(err) { // every span has a parent in the trace: a cycle (no root kept)
		err = scanRoot(q.QueryRow(ctx, rootCols+` ORDER BY s.start_time, s.span_id LIMIT 1`, id))
	} else if err == nil {
		out.rootSpan, out.rootParen, out.rootStart = rootSpan, rootParent, rootStart
	}
	if err != nil && !isNoRows(err) {
		return out, err
	}
	fill := []struct {
		col string
		dst *string
	}{{"run_id", &t.RunID}, {"session_id", &t.SessionID}, {"user_id", &t.UserID}}
	if t.TeamID == "" && t.WorkflowID == "" {
		fill = append(fill, struct {
			col string
			dst *string
		}{"agent_id", &t.AgentID})
	}
	for _, c := range fill {
		if *c.dst != "" {
			continue
		}
		err := q.QueryRow(ctx, `SELECT `+c.col+` FROM spans WHERE trace_id = ? AND `+c.col+` <> '' ORDER BY start_time, span_id LIMIT 1`, id).Scan(c.dst)
		if err != nil && !isNoRows(err) {
			return out, err
		}
	}
	return out, nil
}
