package postgres

import (
	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/storage/sqlstore"
)

// Sessions are storage/sqlstore's (sqlstore.go); what is here is the
// session INSERT's values as the run paths bind them (runs.go), in the
// statement that creates a run.

var sessionColumns = sqlstore.SessionColumns.String()

const sessionParams = 12 // len(sqlstore.SessionColumns)

// appendSessionValues appends s's column values in sessionColumns order
// to dst, ready to bind with pgx.
func appendSessionValues(dst []any, s *core.Session) ([]any, error) {
	n := len(dst)
	vals, err := sqlstore.AppendSessionValues(dialect, dst, s)
	if err != nil {
		return nil, err
	}
	for i := n; i < len(vals); i++ {
		vals[i] = pgArg(vals[i])
	}
	return vals, nil
}
