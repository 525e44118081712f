package sqlite

import (
	"context"
	"errors"

	"github.com/agentgate/agentgate/auth"
	"github.com/agentgate/agentgate/storage/sqlstore"
	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// dialect is SQLite's for the shared statements of storage/sqlstore.
var dialect = sqlstore.Dialect{Name: "sqlite", Engine: sqlstore.SQLite, Unique: isUnique}

// isUnique reports whether err is a UNIQUE or PRIMARY KEY violation.
func isUnique(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
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

// conn is a Store's file as storage/sqlstore uses it: reads on the reader pool,
// in one read transaction (one snapshot), and every write through the
// writer goroutine (group commit).
type conn struct{ st *file }

func (c conn) ReadStmt(ctx context.Context, fn func(ctx context.Context, q sqlstore.Querier) error) error {
	return fn(ctx, sqlstore.FromSQL(c.st.r))
}

func (c conn) View(ctx context.Context, fn func(ctx context.Context, q sqlstore.Querier) error) error {
	tx, err := c.st.r.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	return fn(ctx, sqlstore.FromSQL(tx))
}

func (c conn) Write(ctx context.Context, fn func(ctx context.Context, q sqlstore.Querier) error) error {
	return c.st.write(ctx, func(ctx context.Context, tx *wtx) error {
		return fn(ctx, sqlstore.FromSQL(tx))
	})
}

func (c conn) WriteStmt(ctx context.Context, fn func(ctx context.Context, q sqlstore.Querier) error) error {
	return c.Write(ctx, fn)
}

// initShared sets up the groups of storage/sqlstore.
func (s *Store) initShared() {
	s.sql = sqlstore.New(dialect, conn{s.file})
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
	s.traces = sqlstore.NewTraces(sqlstore.New(dialect, conn{s.tr}))
	s.metrics = sqlstore.NewMetrics(s.sql)
	s.evals = sqlstore.NewEvals(s.sql)
}

var _ auth.ServiceAccountStore = (*Store)(nil)

// SQL returns the store's database as storage/sqlstore uses it, for a
// group whose store is written once there (wire it with the group's
// sqlstore constructor, as initShared does).
func (s *Store) SQL() *sqlstore.DB { return s.sql }
