package postgres

import (
	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/storage/sqlstore"
)

// Sessions are storage/sqlstore's (sqlstore.go); what is here is the
// session INSERT's values as the run paths bind them (runs.go), in the
// statement that creates a run.

var sessionColumns = sqlstore.SessionColumns.String()

const sessionParams = 12 // len(sessionValues(...))

// sessionValues returns s's column values in sessionColumns order, ready
// to bind with pgx.
func sessionValues(s *core.Session) ([]any, error) {
	vals, err := sqlstore.SessionValues(dialect, s)
	if err != nil {
		return nil, err
	}
	for i, v := range vals {
		vals[i] = pgArg(v)
	}
	return vals, nil
}
