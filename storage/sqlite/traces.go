package sqlite

// The traces' database. Spans arrive in big batches (the tracing's store
// processor writes up to 512 at a time); in the state database such a
// batch held the one writer goroutine while runs' writes queued behind it,
// and its commit discarded the writer's page cache for the next batch of
// runs' writes. So the traces live in a file of their own next to the
// state database (or another in-memory database), with its own writer
// goroutine, WAL and checkpointer, and its own schema versions
// (tracemigrations/, applied by Open; the state database's Migrate and
// Version are about the state database only).

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"

	"github.com/agentgate/agentgate/storage/migrate"
	"github.com/pressly/goose/v3"
)

// tracesSuffix names the traces' file after the state database's.
const tracesSuffix = "-traces"

// lastSharedTraces is the last state database version that holds the
// traces' tables (00019 drops them).
const lastSharedTraces = 18

//go:embed tracemigrations/*.sql
var traceMigrationFiles embed.FS

// migrateTraces brings the traces' database to its latest schema (see
// Migrate: another process may be migrating the same file).
func migrateTraces(ctx context.Context, db *sql.DB) error {
	return migrateRetrying(ctx, func() (*migrate.Migrator, error) {
		sub, err := fs.Sub(traceMigrationFiles, "tracemigrations")
		if err != nil {
			return nil, err
		}
		return migrate.New(goose.DialectSQLite3, db, sub)
	}, Latest)
}

// migrateState brings the state database w of t to the latest version,
// moving the traces a version before 19 kept in it to the traces' file
// (which is migrated already) first.
func migrateState(ctx context.Context, w *sql.DB, t target) error {
	v, err := Version(ctx, w)
	if err != nil {
		return err
	}
	if v <= lastSharedTraces {
		// Up to the last version with the tables (a database before 00012
		// gets them, empty), so the rows to move have one shape.
		if err := Migrate(ctx, w, lastSharedTraces); err != nil {
			return err
		}
		if err := moveTraces(ctx, w, t.traces()); err != nil {
			return fmt.Errorf("move traces to %s: %w", t.traces().display, err)
		}
	}
	return Migrate(ctx, w, Latest)
}

// moveTraces copies the state database's traces and spans into the
// traces' database tr (attached to one of w's connections) and deletes
// them from the state database, in one transaction. Rows the traces'
// database has already (an earlier move that stopped half-way, another
// replica's) are kept as they are there.
func moveTraces(ctx context.Context, w *sql.DB, tr target) (err error) {
	if tr.memory {
		return nil // a new in-memory database has nothing to move
	}
	c, err := w.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	var rows int
	if err := c.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM traces) OR EXISTS (SELECT 1 FROM spans)`).Scan(&rows); err != nil || rows == 0 {
		return err
	}
	if _, err := c.ExecContext(ctx, `ATTACH DATABASE ? AS tracesdb`, tr.base); err != nil {
		return err
	}
	defer func() {
		if _, derr := c.ExecContext(context.WithoutCancel(ctx), `DETACH DATABASE tracesdb`); derr != nil {
			err = errors.Join(err, derr)
		}
	}()
	tx, err := c.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, q := range []string{
		`INSERT OR IGNORE INTO tracesdb.traces (` + movedTraceColumns + `) SELECT ` + movedTraceColumns + ` FROM main.traces`,
		`INSERT OR IGNORE INTO tracesdb.spans (` + movedSpanColumns + `) SELECT ` + movedSpanColumns + ` FROM main.spans`,
		`DELETE FROM main.spans`,
		`DELETE FROM main.traces`,
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// The columns of the traces' tables as of the state database's version 18.
const (
	movedTraceColumns = "trace_id, name, status, start_time, end_time, duration_ms, total_spans, error_count, input, " +
		"run_id, session_id, user_id, agent_id, team_id, workflow_id, created_at, root_span_id, root_parent_id, root_start"
	movedSpanColumns = "span_id, trace_id, parent_span_id, name, span_kind, status_code, status_message, start_time, " +
		"end_time, duration_ms, attributes, events, run_id, session_id, user_id, agent_id, team_id, workflow_id, created_at"
)
