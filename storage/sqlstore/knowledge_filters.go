package sqlstore

// Knowledge search filters compiled to SQL: agno's filter expressions
// (core/knowledge.Filter) over the JSON metadata of a chunk (ch.metadata)
// and of its content (co.metadata), in each dialect's JSON functions
// (SQLite json_type/json_extract/json_each, PostgreSQL jsonb). The SQL is
// fixed text chosen by operator and value type; every key and value is a
// bound parameter, never spliced.

import (
	"encoding/json"
	"strings"

	"github.com/agentgate/agentgate/core/knowledge"
)

// Filters returns the condition (" AND (...)" or "") selecting the chunks
// (aliased ch) of contents (aliased co) that satisfy f, with its
// arguments: a leaf holds when the chunk's metadata or its content's
// satisfies it (knowledge.Filter.Match is the reference). A malformed f is
// core.ErrInvalid.
func (k *Knowledge) Filters(f *knowledge.Filter) (string, []any, error) {
	if f == nil {
		return "", nil, nil
	}
	if err := f.Check(); err != nil {
		return "", nil, err
	}
	c := filterCompiler{pg: k.db.d.Engine == Postgres}
	c.expr(f)
	return " AND " + c.b.String(), c.args, nil
}

type filterCompiler struct {
	pg   bool
	b    strings.Builder
	args []any
}

func (c *filterCompiler) w(s string, args ...any) {
	c.b.WriteString(s)
	c.args = append(c.args, args...)
}

func (c *filterCompiler) expr(f *knowledge.Filter) {
	switch f.Op {
	case knowledge.OpAND, knowledge.OpOR:
		if len(f.Conditions) == 0 {
			// agno: all() of nothing is true, any() of nothing false.
			if f.Op == knowledge.OpAND {
				c.w("(1 = 1)")
			} else {
				c.w("(1 = 0)")
			}
			return
		}
		c.w("(")
		for i, sub := range f.Conditions {
			if i > 0 {
				c.w(" " + f.Op + " ")
			}
			c.expr(sub)
		}
		c.w(")")
	case knowledge.OpNOT:
		c.w("(NOT ")
		c.expr(f.Conditions[0])
		c.w(")")
	default:
		// A leaf is never NULL (a missing key is false), so NOT of it is
		// its negation.
		c.w("COALESCE((")
		c.leaf(f, "ch.metadata")
		c.w(") OR (")
		c.leaf(f, "co.metadata")
		c.w("), FALSE)")
	}
}

// leaf writes f's condition on the JSON document col. IN is the OR of
// its values' EQs (false of none) in both dialects.
func (c *filterCompiler) leaf(f *knowledge.Filter, col string) {
	if f.Op == knowledge.OpIN {
		if len(f.Values) == 0 {
			c.w("1 = 0")
			return
		}
		for i, v := range f.Values {
			if i > 0 {
				c.w(" OR ")
			}
			c.w("(")
			c.eq(col, f.Key, v)
			c.w(")")
		}
		return
	}
	if c.pg {
		c.pgLeaf(f, col)
		return
	}
	c.liteLeaf(f, col)
}

// eq writes the condition that the value of key in col is v.
func (c *filterCompiler) eq(col, key string, v any) {
	if c.pg {
		c.pgEQ(col, key, v)
		return
	}
	c.liteEQ(col, litePath(key), v)
}

// SQLite: the key is the path $."key" (a backslash and a double quote
// escaped with a backslash, as SQLite's path labels read them), bound.

var litePathEscape = strings.NewReplacer(`\`, `\\`, `"`, `\"`)

func litePath(key string) string { return `$."` + litePathEscape.Replace(key) + `"` }

func (c *filterCompiler) liteLeaf(f *knowledge.Filter, col string) {
	path := litePath(f.Key)
	typ := "json_type(" + col + ", ?)"
	val := "json_extract(" + col + ", ?)"
	switch f.Op {
	case knowledge.OpEQ:
		c.liteEQ(col, path, f.Value)
	case knowledge.OpNEQ:
		c.w(typ+" IS NOT NULL AND NOT (", path)
		c.liteEQ(col, path, f.Value)
		c.w(")")
	case knowledge.OpGT, knowledge.OpGTE, knowledge.OpLT, knowledge.OpLTE:
		is := " = 'text'"
		if _, num := f.Value.(float64); num {
			is = " IN ('integer', 'real')"
		}
		c.w(typ+is+" AND "+val+" "+cmpOp(f.Op)+" ?", path, path, f.Value)
	case knowledge.OpSTARTSWITH:
		c.w(typ+" = 'text' AND instr(lower("+val+"), ?) = 1", path, path, knowledge.FoldASCII(f.Value.(string)))
	case knowledge.OpCONTAINS:
		if s, ok := f.Value.(string); ok {
			s = knowledge.FoldASCII(s)
			c.w("("+typ+" = 'text' AND instr(lower("+val+"), ?) > 0) OR ("+typ+
				" = 'array' AND EXISTS (SELECT 1 FROM json_each("+col+", ?) je WHERE je.type = 'text' AND lower(je.value) = ?))",
				path, path, s, path, path, s)
			return
		}
		c.w(typ+" = 'array' AND EXISTS (SELECT 1 FROM json_each("+col+", ?) je WHERE ", path, path)
		switch v := f.Value.(type) {
		case bool:
			c.w("je.type = " + liteBool(v))
		case float64:
			c.w("je.type IN ('integer', 'real') AND je.value = ?", v)
		}
		c.w(")")
	}
}

func liteBool(v bool) string {
	if v {
		return "'true'"
	}
	return "'false'"
}

// liteEQ: the value at path is v, of v's JSON type (numbers by value).
func (c *filterCompiler) liteEQ(col, path string, v any) {
	typ := "json_type(" + col + ", ?)"
	switch x := v.(type) {
	case bool:
		c.w(typ+" = "+liteBool(x), path)
	case string:
		c.w(typ+" = 'text' AND json_extract("+col+", ?) = ?", path, path, x)
	case float64:
		c.w(typ+" IN ('integer', 'real') AND json_extract("+col+", ?) = ?", path, path, x)
	}
}

// PostgreSQL: the key is a bound text (col -> key); values are compared as
// jsonb (numbers by value), strings as text in code point order (COLLATE
// "C", as SQLite and Go compare), case folded for ASCII only (as SQLite's
// lower()).

const pgFold = "translate(%s, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')"

func pgFoldOf(s string) string { return strings.Replace(pgFold, "%s", s, 1) }

func (c *filterCompiler) pgLeaf(f *knowledge.Filter, col string) {
	x := pgAt(col)
	key := f.Key
	switch f.Op {
	case knowledge.OpEQ:
		c.pgEQ(col, key, f.Value)
	case knowledge.OpNEQ:
		c.w(x+" <> CAST(? AS jsonb)", key, pgJSON(f.Value))
	case knowledge.OpGT, knowledge.OpGTE, knowledge.OpLT, knowledge.OpLTE:
		op := cmpOp(f.Op)
		if s, ok := f.Value.(string); ok {
			c.w("jsonb_typeof("+x+") = 'string' AND ("+x+" #>> '{}') COLLATE \"C\" "+op+" CAST(? AS text)", key, key, pgText(s))
			return
		}
		c.w("jsonb_typeof("+x+") = 'number' AND "+x+" "+op+" CAST(? AS jsonb)", key, key, pgJSON(f.Value))
	case knowledge.OpSTARTSWITH:
		c.w("jsonb_typeof("+x+") = 'string' AND strpos("+pgFoldOf(x+" #>> '{}'")+", CAST(? AS text)) = 1",
			key, key, pgText(knowledge.FoldASCII(f.Value.(string))))
	case knowledge.OpCONTAINS:
		// CASE: jsonb_array_elements of a non-array is an error, and AND
		// does not order its evaluation.
		if s, ok := f.Value.(string); ok {
			s = pgText(knowledge.FoldASCII(s))
			c.w("CASE jsonb_typeof("+x+") WHEN 'string' THEN strpos("+pgFoldOf(x+" #>> '{}'")+", CAST(? AS text)) > 0"+
				" WHEN 'array' THEN EXISTS (SELECT 1 FROM jsonb_array_elements("+x+") je(v) WHERE jsonb_typeof(je.v) = 'string' AND "+
				pgFoldOf("je.v #>> '{}'")+" = CAST(? AS text)) ELSE FALSE END", key, key, s, key, s)
			return
		}
		c.w("CASE WHEN jsonb_typeof("+x+") = 'array' THEN EXISTS (SELECT 1 FROM jsonb_array_elements("+x+
			") je(v) WHERE je.v = CAST(? AS jsonb)) ELSE FALSE END", key, key, pgJSON(f.Value))
	}
}

// pgAt is the value of col at the bound key.
func pgAt(col string) string { return "(" + col + " -> CAST(? AS text))" }

// pgEQ: the value of key is v (as jsonb: numbers by value).
func (c *filterCompiler) pgEQ(col, key string, v any) {
	c.w(pgAt(col)+" = CAST(? AS jsonb)", key, pgJSON(v))
}

// pgJSON is a scalar as JSON text; a NUL becomes U+FFFD as in stored
// metadata.
func pgJSON(v any) string {
	b, _ := json.Marshal(v) // a string, float64 or bool (Filter.Check)
	return NoNULEscapes(string(b))
}

// pgText is a string as PostgreSQL text holds it (a NUL becomes U+FFFD,
// as in stored metadata).
func pgText(s string) string { return strings.ReplaceAll(s, "\x00", "\ufffd") }

func cmpOp(op string) string {
	switch op {
	case knowledge.OpGT:
		return ">"
	case knowledge.OpGTE:
		return ">="
	case knowledge.OpLT:
		return "<"
	}
	return "<="
}
