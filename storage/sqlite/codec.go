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
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("sqlite: encode %s: %w", name, err)
	}
	return string(b), nil
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
