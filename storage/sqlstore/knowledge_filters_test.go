package sqlstore_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/agentgate/agentgate/core/knowledge"
	"github.com/agentgate/agentgate/storage/sqlstore"
)

// TestFiltersHostileInput: a key or value crafted as SQL (or as a JSON
// path) changes only the bound arguments, never the statement: the SQL of
// a hostile filter is the SQL of a benign one of the same shape, and the
// hostile strings travel verbatim as arguments.
func TestFiltersHostileInput(t *testing.T) {
	hostile := []string{
		`x') OR 1=1 --`, `"; DROP TABLE knowledge_chunks; --`, `$.a[0]`, `a\" OR "1"="1`, `?`, `$1`, `'`, `%_`,
		"\u2028\t\n", `\`, `COLLATE "C"`,
	}
	shapes := []func(k string, v any) map[string]any{
		func(k string, v any) map[string]any { return map[string]any{k: v} },
		func(k string, v any) map[string]any { return map[string]any{"op": "NEQ", "key": k, "value": v} },
		func(k string, v any) map[string]any { return map[string]any{"op": "GT", "key": k, "value": v} },
		func(k string, v any) map[string]any { return map[string]any{"op": "LTE", "key": k, "value": v} },
		func(k string, v any) map[string]any {
			return map[string]any{"op": "IN", "key": k, "values": []any{v, v}}
		},
		func(k string, v any) map[string]any { return map[string]any{"op": "CONTAINS", "key": k, "value": v} },
		func(k string, v any) map[string]any { return map[string]any{"op": "STARTSWITH", "key": k, "value": v} },
		func(k string, v any) map[string]any {
			return map[string]any{"op": "NOT", "condition": map[string]any{"op": "OR", "conditions": []any{
				map[string]any{"op": "EQ", "key": k, "value": v}, map[string]any{"op": "EQ", "key": "other", "value": v}}}}
		},
	}
	for _, eng := range []sqlstore.Engine{sqlstore.SQLite, sqlstore.Postgres} {
		k := sqlstore.NewKnowledge(sqlstore.New(sqlstore.Dialect{Name: "test", Engine: eng}, nil), nil)
		compile := func(m map[string]any) (string, []any) {
			t.Helper()
			f, err := knowledge.NormalizeFilters(m)
			if err != nil {
				t.Fatalf("%v: %v", m, err)
			}
			sql, args, err := k.Filters(f)
			if err != nil {
				t.Fatalf("%v: %v", m, err)
			}
			if strings.Count(sql, "?") != len(args) {
				t.Fatalf("%v: %d placeholders, %d arguments: %s", m, strings.Count(sql, "?"), len(args), sql)
			}
			return sql, args
		}
		for i, shape := range shapes {
			benignSQL, _ := compile(shape("lang", "en"))
			for _, h := range hostile {
				for _, m := range []map[string]any{shape(h, "en"), shape("lang", h), shape(h, h)} {
					sql, args := compile(m)
					if sql != benignSQL {
						t.Errorf("engine %v shape %d: %q changed the SQL:\n%s\nwant\n%s", eng, i, h, sql, benignSQL)
					}
					if !slices.ContainsFunc(args, func(a any) bool { return carries(a, h) }) {
						t.Errorf("engine %v shape %d: %q is not among the arguments %q", eng, i, h, args)
					}
				}
			}
		}
		// Numbers and booleans are bound too.
		sql, args := compile(map[string]any{"op": "GT", "key": "n", "value": 1e300})
		if strings.Contains(sql, "1e+300") || len(args) == 0 {
			t.Errorf("a number spliced: %s %v", sql, args)
		}
		if sql, _, err := k.Filters(nil); sql != "" || err != nil {
			t.Errorf("no filter: %q %v", sql, err)
		}
	}
}

// carries reports whether the argument a is h as bound: itself, ASCII
// folded, as a JSON string (PostgreSQL's jsonb values) or as SQLite's
// quoted path label.
func carries(a any, h string) bool {
	s, _ := a.(string)
	var dec string
	if json.Unmarshal([]byte(s), &dec) == nil && dec == h {
		return true
	}
	return s == h || s == knowledge.FoldASCII(h) || s == `$."`+strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(h)+`"`
}
