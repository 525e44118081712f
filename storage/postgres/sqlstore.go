package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/agentgate/agentgate/auth"
	"github.com/agentgate/agentgate/storage/sqlstore"
)

// dialect is PostgreSQL's for the shared statements of storage/sqlstore:
// every bound string is stored as PostgreSQL can (txt), and errors are
// classified as the rest of the store does (dbErr).
var dialect = sqlstore.Dialect{Name: "postgres", Engine: sqlstore.Postgres, Arg: pgArg, Err: dbErr, Unique: isUnique}

// pgArg maps a bound value through txt.
func pgArg(v any) any {
	switch x := v.(type) {
	case string:
		if t := txt(x); t != x {
			return t
		}
		// Unchanged, as nearly every value is: v as it came, not the same
		// string boxed again.
	case []string:
		return txts(x)
	}
	return v
}

// isUnique reports whether err is a unique_violation.
func isUnique(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// The groups whose plain CRUD is storage/sqlstore's; Store embeds them.
type (
	serviceAccounts = sqlstore.ServiceAccounts
	sessions        = sqlstore.Sessions
	idempotencyKeys = sqlstore.IdempotencyKeys
	approvals       = sqlstore.Approvals
	schedules       = sqlstore.Schedules
	memories        = sqlstore.Memories
	learnings       = sqlstore.Learnings
	components      = sqlstore.Components
	sessionMedia    = sqlstore.SessionMedia
	traces          = sqlstore.Traces
	metrics         = sqlstore.Metrics
	evals           = sqlstore.Evals
)

// pgxQuerier is what *pgxpool.Pool, *pgx.Conn and pgx.Tx have in common.
type pgxQuerier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// querier adapts pgx to sqlstore.Querier (pgx.Rows and pgx.Row already
// are sqlstore's Rows and Row).
type querier struct{ q pgxQuerier }

func (p querier) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	tag, err := p.q.Exec(ctx, sql, args...)
	return tag.RowsAffected(), err
}

func (p querier) Query(ctx context.Context, sql string, args ...any) (sqlstore.Rows, error) {
	return p.q.Query(ctx, sql, args...)
}

func (p querier) QueryRow(ctx context.Context, sql string, args ...any) sqlstore.Row {
	return p.q.QueryRow(ctx, sql, args...)
}

// conn is the Store as storage/sqlstore uses it: every statement on the
// pool (autocommit), a transaction only where statements must commit
// together.
type conn struct{ st *Store }

func (c conn) ReadStmt(ctx context.Context, fn func(ctx context.Context, q sqlstore.Querier) error) error {
	return fn(ctx, querier{c.st.pool})
}

func (c conn) View(ctx context.Context, fn func(ctx context.Context, q sqlstore.Querier) error) error {
	return fn(ctx, querier{c.st.pool})
}

func (c conn) Write(ctx context.Context, fn func(ctx context.Context, q sqlstore.Querier) error) error {
	start := time.Now()
	err := pgx.BeginFunc(ctx, c.st.pool, func(tx pgx.Tx) error { return fn(ctx, querier{tx}) })
	if f := c.st.onWrite.Load(); f != nil {
		(*f)(time.Since(start), 1, err)
	}
	return err
}

func (c conn) WriteStmt(ctx context.Context, fn func(ctx context.Context, q sqlstore.Querier) error) error {
	return fn(ctx, querier{c.st.pool})
}

// initShared sets up the groups of storage/sqlstore.
func (s *Store) initShared() {
	s.sql = sqlstore.New(dialect, conn{s})
	s.serviceAccounts = sqlstore.NewServiceAccounts(s.sql)
	s.sessions = sqlstore.NewSessions(s.sql)
	s.idempotencyKeys = sqlstore.NewIdempotencyKeys(s.sql)
	s.approvals = sqlstore.NewApprovals(s.sql)
	s.schedules = sqlstore.NewSchedules(s.sql)
	s.memories = sqlstore.NewMemories(s.sql)
	s.knowledgeStore = newKnowledge(s)
	s.learnings = sqlstore.NewLearnings(s.sql)
	s.components = sqlstore.NewComponents(s.sql)
	s.sessionMedia = sqlstore.NewSessionMedia(s.sql)
	s.traces = sqlstore.NewTraces(s.sql)
	s.metrics = sqlstore.NewMetrics(s.sql)
	s.evals = sqlstore.NewEvals(s.sql)
}

var _ auth.ServiceAccountStore = (*Store)(nil)

// SQL returns the store's database as storage/sqlstore uses it, for a
// group whose store is written once there (wire it with the group's
// sqlstore constructor, as initShared does).
func (s *Store) SQL() *sqlstore.DB { return s.sql }
