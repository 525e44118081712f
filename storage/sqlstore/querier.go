package sqlstore

import (
	"context"
	"database/sql"
	"errors"
)

// Querier runs statements on a connection or in a transaction. The SQL it
// is given is the engine's own (already rebound): a backend implements it
// over its driver (FromSQL adapts database/sql; storage/postgres adapts
// pgx), and DB wraps it with the dialect.
type Querier interface {
	// Exec runs a statement and returns how many rows it changed.
	Exec(ctx context.Context, query string, args ...any) (int64, error)
	Query(ctx context.Context, query string, args ...any) (Rows, error)
	// QueryRow runs a statement returning at most one row; its Scan
	// reports no row as an error wrapping sql.ErrNoRows.
	QueryRow(ctx context.Context, query string, args ...any) Row
}

// Row is one result row (*sql.Row, pgx.Row).
type Row interface {
	Scan(dest ...any) error
}

// Rows is a result set (*sql.Rows, pgx.Rows).
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Conn is a backend's database as the shared statements use it: where
// reads run and how writes commit. Each backend keeps its own way (SQLite
// serialises every write through one writer goroutine; PostgreSQL runs
// them on its pool).
type Conn interface {
	// ReadStmt runs fn, which executes exactly one read statement.
	ReadStmt(ctx context.Context, fn func(ctx context.Context, q Querier) error) error
	// View runs fn's reads; on an engine where it is cheap (SQLite) they
	// see one snapshot. fn must not write. fn's statements use the ctx it
	// is given (in Write and WriteStmt too: a backend may detach it from
	// the caller's cancellation once the write is queued).
	View(ctx context.Context, fn func(ctx context.Context, q Querier) error) error
	// Write runs fn's statements in one transaction: they commit
	// together or not at all. fn may run again when the backend retries a
	// batch, so it must not keep state across calls.
	Write(ctx context.Context, fn func(ctx context.Context, q Querier) error) error
	// WriteStmt runs fn, which executes exactly one statement; a backend
	// with autocommit runs it without an explicit transaction.
	WriteStmt(ctx context.Context, fn func(ctx context.Context, q Querier) error) error
}

// SQLQuerier is what *sql.DB, *sql.Conn and *sql.Tx have in common.
type SQLQuerier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// FromSQL adapts a database/sql querier.
func FromSQL(q SQLQuerier) Querier { return sqlQuerier{q} }

type sqlQuerier struct{ q SQLQuerier }

func (s sqlQuerier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := s.q.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (s sqlQuerier) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	rows, err := s.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

func (s sqlQuerier) QueryRow(ctx context.Context, query string, args ...any) Row {
	return s.q.QueryRowContext(ctx, query, args...)
}

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() }

// ErrNoRows is what Row.Scan wraps when there is no row (pgx's own no-row
// error wraps it too).
var ErrNoRows = sql.ErrNoRows

// isNoRows reports whether err means no row.
func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// dialectQuerier rebinds statements and maps arguments with the dialect.
type dialectQuerier struct {
	d Dialect
	q Querier
}

func (dq dialectQuerier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	return dq.q.Exec(ctx, dq.d.Rebind(query), dq.d.args(args)...)
}

func (dq dialectQuerier) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	return dq.q.Query(ctx, dq.d.Rebind(query), dq.d.args(args)...)
}

func (dq dialectQuerier) QueryRow(ctx context.Context, query string, args ...any) Row {
	return dq.q.QueryRow(ctx, dq.d.Rebind(query), dq.d.args(args)...)
}

// DB is a backend's database with its dialect: the handle a group's shared
// store keeps. Statements given to it use ? placeholders.
type DB struct {
	d    Dialect
	conn Conn
}

// New returns the DB of a backend.
func New(d Dialect, conn Conn) *DB { return &DB{d: d, conn: conn} }

// Dialect returns the backend's dialect.
func (db *DB) Dialect() Dialect { return db.d }

// On wraps q, a querier of the backend's own (a transaction it opened for
// its hot path), with the dialect: shared statements can then run inside
// that transaction.
func (db *DB) On(q Querier) Querier { return Bind(db.d, q) }

// Bind wraps q with d: statements with ? placeholders, arguments mapped
// by d.Arg. (DB.On, for code that has the dialect but not the DB.)
func Bind(d Dialect, q Querier) Querier { return dialectQuerier{d, q} }

// ReadStmt runs fn's one read statement (see Conn.ReadStmt).
func (db *DB) ReadStmt(ctx context.Context, fn func(ctx context.Context, q Querier) error) error {
	return db.conn.ReadStmt(ctx, func(ctx context.Context, q Querier) error { return fn(ctx, db.On(q)) })
}

// View runs fn's reads (see Conn.View).
func (db *DB) View(ctx context.Context, fn func(ctx context.Context, q Querier) error) error {
	return db.conn.View(ctx, func(ctx context.Context, q Querier) error { return fn(ctx, db.On(q)) })
}

// Write runs fn's statements in one transaction (see Conn.Write).
func (db *DB) Write(ctx context.Context, fn func(ctx context.Context, q Querier) error) error {
	return db.conn.Write(ctx, func(ctx context.Context, q Querier) error { return fn(ctx, db.On(q)) })
}

// WriteStmt runs fn's one statement (see Conn.WriteStmt).
func (db *DB) WriteStmt(ctx context.Context, fn func(ctx context.Context, q Querier) error) error {
	return db.conn.WriteStmt(ctx, func(ctx context.Context, q Querier) error { return fn(ctx, db.On(q)) })
}

// Err classifies a driver error with the dialect (nil stays nil).
func (db *DB) Err(ctx context.Context, err error) error { return db.d.err(ctx, err) }

// IsUnique reports whether err is a unique-constraint violation.
func (db *DB) IsUnique(err error) bool { return err != nil && db.d.Unique != nil && db.d.Unique(err) }
