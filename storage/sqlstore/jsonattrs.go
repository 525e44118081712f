package sqlstore

import (
	"bytes"
	"fmt"

	gojson "github.com/goccy/go-json"
)

// EncodeAttributes is EncodeJSON(d, name, m) for a map of a span's
// attributes: the same text (keys sorted, HTML escaped) and the same NULL
// for a nil map, through goccy/go-json, which writes encoding/json's text
// without its reflection over the map (a traced run's attributes cost
// about a hundred allocations through encoding/json).
func EncodeAttributes(d Dialect, name string, m map[string]any) (any, error) {
	if m == nil {
		return nil, nil
	}
	b, err := gojson.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("%s: encode %s: %w", d.Name, name, err)
	}
	if d.Engine == Postgres && bytes.Contains(b, []byte(nulEscape)) {
		return NoNULEscapes(string(b)), nil
	}
	return string(b), nil
}
