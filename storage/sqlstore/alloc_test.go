package sqlstore

import (
	"github.com/agentgate/agentgate/internal/testutil"

	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"strings"
	"testing"

	"github.com/agentgate/agentgate/core"
)

// The run write path encodes a run's and its session's JSON columns and
// inserts the session with every run that creates it: these tests pin what
// that costs in allocations (deterministic, unlike its time), and that the
// reused encoding buffer never leaks one value into the next.

func TestEncodeJSONAllocs(t *testing.T) {
	lt := Dialect{Name: "sqlite", Engine: SQLite}
	m := &core.Metrics{InputTokens: 10, OutputTokens: 9, TotalTokens: 19}
	want, err := EncodeJSON(lt, "metrics", m)
	if err != nil {
		t.Fatal(err)
	}
	// The string and its boxing into the result: the encoding buffer is
	// reused (json.Marshal, or an encoder per call, took three).
	if n := testing.AllocsPerRun(100, func() { _, _ = EncodeJSON(lt, "metrics", m) }); !testutil.RaceEnabled && n > 2 {
		t.Errorf("EncodeJSON: %v allocations, want at most 2", n)
	}
	// A failed encoding, then a value too large to be kept for reuse, leave
	// nothing behind in the buffers the next encodings get.
	if _, err := EncodeJSON(lt, "col", map[string]any{"ok": 1, "f": func() {}}); err == nil {
		t.Fatal("EncodeJSON of a func: no error")
	}
	large := strings.Repeat("x", 2*maxPooledJSON)
	if got, err := EncodeJSON(lt, "col", []string{large}); err != nil || got != `["`+large+`"]` {
		t.Fatalf("EncodeJSON of a large value: %d bytes, %v", len(got.(string)), err)
	}
	for range 3 {
		if got, err := EncodeJSON(lt, "metrics", m); err != nil || got != want {
			t.Fatalf("EncodeJSON after a failure and a large value = %v, %v; want %v", got, err, want)
		}
	}
}

// recorder is a SQLQuerier that records the statement it executes.
type recorder struct {
	query string
	args  []any
	n     int64
}

func (r *recorder) ExecContext(_ context.Context, query string, args ...any) (sql.Result, error) {
	r.query, r.args = query, args
	return driver.RowsAffected(r.n), nil
}

func (r *recorder) QueryContext(context.Context, string, ...any) (*sql.Rows, error) {
	return nil, errors.New("not a query")
}

func (r *recorder) QueryRowContext(context.Context, string, ...any) *sql.Row { return nil }

func TestSessionInsertExecSQL(t *testing.T) {
	ctx := context.Background()
	s := &core.Session{SessionID: "s1", SessionType: core.SessionAgent, AgentID: "a", CreatedAt: 1000, UpdatedAt: 1000}
	upper := func(v any) any {
		if s, ok := v.(string); ok {
			return strings.ToUpper(s)
		}
		return v
	}
	for _, d := range []Dialect{
		{Name: "sqlite", Engine: SQLite},
		{Name: "postgres", Engine: Postgres, Arg: upper},
	} {
		ins, err := NewSessionInsert(d, s)
		if err != nil {
			t.Fatal(err)
		}
		rec := &recorder{n: 1}
		created, err := ins.ExecSQL(ctx, rec)
		if err != nil || !created {
			t.Fatalf("%s: ExecSQL = %v, %v", d.Name, created, err)
		}
		if want := d.Rebind(`INSERT INTO sessions (` + SessionColumns.String() + `)
		VALUES (` + SessionColumns.Placeholders() + `) ON CONFLICT (session_id) DO NOTHING`); rec.query != want {
			t.Errorf("%s: ExecSQL ran %q, want %q", d.Name, rec.query, want)
		}
		wantID := any("s1")
		if d.Arg != nil {
			wantID = d.Arg("s1") // mapped as Bind maps them
		}
		if len(rec.args) != len(SessionColumns) || rec.args[0] != wantID {
			t.Errorf("%s: ExecSQL bound %#v", d.Name, rec.args)
		}
		rec.n = 0
		if created, err := ins.ExecSQL(ctx, rec); err != nil || created {
			t.Errorf("%s: ExecSQL of an existing session = %v, %v; want false", d.Name, created, err)
		}
	}
	// On SQLite, the run path's engine, it allocates nothing: the
	// statement is built once, and no wrapper is made around the
	// transaction (Bind and FromSQL took six allocations per session).
	ins, err := NewSessionInsert(Dialect{Name: "sqlite", Engine: SQLite}, s)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{n: 1}
	if n := testing.AllocsPerRun(100, func() { _, _ = ins.ExecSQL(ctx, rec) }); !testutil.RaceEnabled && n != 0 {
		t.Errorf("ExecSQL on SQLite: %v allocations, want 0", n)
	}
}
