package sqlite

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// scanner is *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// jsonColumn encodes v for a nullable JSON TEXT column: a nil slice, map or
// pointer is NULL; anything else (including an empty slice or map) is its
// JSON text, so nil and empty survive a round trip distinctly.
func jsonColumn(name string, v any) (any, error) {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Map, reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return nil, nil
		}
	}
	// Encoded straight into the string's own memory: json.Marshal's copy
	// of its buffer and a conversion to string would be two more copies of
	// a run's messages (megabytes for a large message).
	var b strings.Builder
	if err := json.NewEncoder(&b).Encode(v); err != nil {
		return nil, fmt.Errorf("sqlite: encode %s: %w", name, err)
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

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
func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?, ", n-1) + "?"
}
