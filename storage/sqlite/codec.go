package sqlite

import (
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/agentgate/agentgate/storage/sqlstore"
)

// scanner is *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// jsonColumn encodes v for a nullable JSON TEXT column: a nil slice, map or
// pointer is NULL; anything else (including an empty slice or map) is its
// JSON text, so nil and empty survive a round trip distinctly (see
// sqlstore.EncodeJSON).
func jsonColumn(name string, v any) (any, error) { return sqlstore.EncodeJSON(dialect, name, v) }

// decodeJSON decodes a nullable JSON TEXT column into dst; NULL leaves dst
// untouched (nil).
func decodeJSON(name string, col sql.NullString, dst any) error {
	if !col.Valid {
		return nil
	}
	if err := json.Unmarshal([]byte(col.String), dst); err != nil {
		return fmt.Errorf("sqlite: decode %s: %w", name, err)
	}
	return nil
}

// placeholders returns "?, ?, ..." for n values.
func placeholders(n int) string { return sqlstore.Placeholders(n) }
