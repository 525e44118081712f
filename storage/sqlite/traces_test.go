package sqlite_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core/trace"
	"github.com/agentgate/agentgate/storage/sqlite"
)

// TestTracesInTheirOwnFile: spans go to the traces' file next to the state
// database ("state.db-traces"), not to the state database, and are there
// after the store is opened again.
func TestTracesInTheirOwnFile(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := s.WriteSpans(ctx, []trace.Span{{SpanID: "s1", TraceID: "t1", Name: "invoke_agent a", StatusCode: trace.StatusOK,
		StartTime: at, EndTime: at.Add(time.Second), RunID: "r1"}}); err != nil {
		t.Fatal(err)
	}
	if got := tables(t, s.DB()); slices.Contains(got, "traces") || slices.Contains(got, "spans") {
		t.Fatalf("the state database has trace tables: %v", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.OpenDB(ctx, path+"-traces")
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM spans WHERE trace_id = 't1'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("spans of t1 in the traces' file: %d, %v", n, err)
	}
	db.Close()
	s, err = sqlite.Open(ctx, "sqlite://"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if tr, err := s.GetTrace(ctx, "t1"); err != nil || tr.RunID != "r1" || tr.TotalSpans != 1 {
		t.Fatalf("GetTrace after reopening: %+v, %v", tr, err)
	}
}

// TestOpenMovesTracesOutOfTheStateDatabase: a state database of a version
// that kept the traces (18) has them moved to the traces' file by Open;
// migrating the state database down and up again leaves them there.
func TestOpenMovesTracesOutOfTheStateDatabase(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := sqlite.OpenDB(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := sqlite.Migrate(ctx, db, 18); err != nil {
		t.Fatal(err)
	}
	start, end := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), time.Date(2026, 1, 2, 3, 4, 6, 0, time.UTC)
	for _, q := range []string{
		`INSERT INTO traces (trace_id, name, start_time, end_time, duration_ms, total_spans, run_id, root_span_id, root_start)
			VALUES ('t1', 'invoke_agent a', ?1, ?2, 1000, 1, 'r1', 's1', ?1)`,
		`INSERT INTO spans (span_id, trace_id, name, status_code, start_time, end_time, attributes, run_id)
			VALUES ('s1', 't1', 'invoke_agent a', 'OK', ?1, ?2, '{"agentgate.span_type":"AGENT"}', 'r1')`,
	} {
		if _, err := db.ExecContext(ctx, q, start.UnixNano(), end.UnixNano()); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	check := func(when string) {
		t.Helper()
		tr, err := s.GetTrace(ctx, "t1")
		if err != nil || tr.Name != "invoke_agent a" || tr.RunID != "r1" || !tr.EndTime.Equal(end) {
			t.Fatalf("%s: GetTrace: %+v, %v", when, tr, err)
		}
		spans, err := s.TraceSpans(ctx, "t1")
		if err != nil || len(spans) != 1 || spans[0].SpanID != "s1" || spans[0].Attributes["agentgate.span_type"] != "AGENT" {
			t.Fatalf("%s: TraceSpans: %+v, %v", when, spans, err)
		}
		// And listed.
		list, total, err := s.ListTraces(ctx, trace.Query{})
		if err != nil || total != 1 || len(list) != 1 || list[0].TraceID != "t1" {
			t.Fatalf("%s: ListTraces: %+v, %d, %v", when, list, total, err)
		}
	}
	check("after Open")
	if got := tables(t, s.DB()); slices.Contains(got, "traces") || slices.Contains(got, "spans") {
		t.Fatalf("the state database still has trace tables: %v", got)
	}
	wantVersion(t, s, slices.Max(sqlite.Versions()))

	if err := s.Migrate(ctx, 18); err != nil {
		t.Fatal(err)
	}
	if got := tables(t, s.DB()); !slices.Contains(got, "traces") {
		t.Fatalf("version 18 without its trace tables: %v", got)
	}
	check("at version 18")
	if err := s.Migrate(ctx, sqlite.Latest); err != nil {
		t.Fatal(err)
	}
	check("back at the latest version")
	if err := s.WriteSpans(ctx, []trace.Span{{SpanID: "s2", TraceID: "t1", ParentSpanID: "s1", Name: "chat m", StatusCode: trace.StatusError,
		StartTime: start.Add(time.Millisecond), EndTime: end.Add(time.Second)}}); err != nil {
		t.Fatal(err)
	}
	if tr, err := s.GetTrace(ctx, "t1"); err != nil || tr.TotalSpans != 2 || tr.ErrorCount != 1 || tr.Name != "invoke_agent a" {
		t.Fatalf("moved trace after a new span: %+v, %v", tr, err)
	}
}

// TestTraceQueriesUseIndexes: the queries the traces' store runs on every
// list and retention pass find their rows with an index of the traces'
// file, not by scanning the traces (the schema keeps only the indexes
// queries use: a dropped one must not leave a query scanning).
func TestTraceQueriesUseIndexes(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	queries := map[string]string{
		"retention": s.RetentionQuery(),
		"list":      `SELECT trace_id FROM traces ORDER BY start_time DESC, trace_id DESC LIMIT 20`,
		"user":      `SELECT trace_id FROM traces WHERE user_id = ? ORDER BY start_time DESC, trace_id DESC LIMIT 20`,
		"run":       `SELECT trace_id FROM traces WHERE run_id = ? ORDER BY start_time DESC, trace_id DESC LIMIT 20`,
		"session":   `SELECT trace_id FROM traces WHERE session_id = ? ORDER BY start_time DESC, trace_id DESC LIMIT 20`,
		"agent":     `SELECT trace_id FROM traces WHERE agent_id = ? ORDER BY start_time DESC, trace_id DESC LIMIT 20`,
		"spans":     `SELECT span_id FROM spans WHERE trace_id = ? ORDER BY start_time, span_id`,
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.OpenDB(ctx, path+"-traces")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for name, q := range queries {
		rows, err := db.QueryContext(ctx, `EXPLAIN QUERY PLAN `+q, 1, 2, 3)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		for _, d := range plan {
			if strings.HasPrefix(d, "SCAN ") && !strings.Contains(d, " INDEX ") {
				t.Errorf("%s: %q scans a table: %q", name, q, plan)
			}
		}
	}
}
