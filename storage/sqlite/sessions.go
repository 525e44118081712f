package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/storage/sqlstore"
)

// Sessions are storage/sqlstore's (sqlstore.go); what is here is the
// session INSERT as the run paths run it, in the write that creates a run.

// execer is a *sql.DB or a *sql.Tx.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// sessionInsert is a session's INSERT (unless it exists), its values
// encoded.
type sessionInsert struct {
	*sqlstore.SessionInsert
	id string
}

func newSessionInsert(s *core.Session) (sessionInsert, error) {
	ins, err := sqlstore.NewSessionInsert(dialect, s)
	if err != nil {
		return sessionInsert{}, err
	}
	return sessionInsert{ins, s.SessionID}, nil
}

// exec inserts the session unless one with its id exists, and reports
// whether it did.
func (ins sessionInsert) exec(ctx context.Context, tx *wtx) (bool, error) {
	created, err := ins.ExecSQL(ctx, tx)
	if err != nil {
		return false, fmt.Errorf("sqlite: create session %q: %w", ins.id, err)
	}
	return created, nil
}
