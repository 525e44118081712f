package sqlstore

import (
	"context"
	"strconv"
	"strings"
)

// Engine is the SQL spelling a Dialect writes: what SQLite and PostgreSQL
// spell differently in the statements of this package.
type Engine int

const (
	// SQLite: ? placeholders, JSON in TEXT columns, lists as JSON text.
	SQLite Engine = iota
	// Postgres: $n placeholders, JSONB columns, lists as text[] (bound and
	// scanned as []string, as pgx does).
	Postgres
)

// Dialect is what the shared statements need to know of one backend: its
// SQL spelling (Engine) and its driver (how values are bound, how errors
// are classified). A backend declares one value and passes it to New.
type Dialect struct {
	// Name prefixes the errors of the backend ("sqlite", "postgres").
	Name string
	// Engine is the SQL spelling.
	Engine Engine
	// Arg, when set, maps every bound value before it reaches the driver
	// (PostgreSQL: text without NUL or invalid UTF-8).
	Arg func(v any) any
	// Err, when set, classifies a driver error (a lost connection becomes
	// core.CodeUnavailable, a value the database cannot store
	// core.CodeInvalid); the shared code wraps what it returns.
	Err func(ctx context.Context, err error) error
	// Unique, when set, reports whether err is a unique-constraint
	// violation (see DB.Insert); nil means the driver never reports one.
	Unique func(err error) bool
}

// Rebind rewrites the ? placeholders of q into the engine's own: $1, $2...
// on PostgreSQL, unchanged on SQLite. A ? inside a string literal ('...',
// with ” as the escaped quote) or a quoted identifier ("...") is left
// alone. Comments and PostgreSQL's dollar-quoted strings are not parsed:
// the shared statements have neither, and neither may use PostgreSQL's
// ?-operators on jsonb (write jsonb_exists(...) instead).
func (d Dialect) Rebind(q string) string {
	if d.Engine != Postgres || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 8)
	n := 0
	var quote byte // the quote we are inside, or 0
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0 // a doubled quote closes and reopens: same output
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// args maps args through d.Arg (into a new slice: the caller's is kept).
func (d Dialect) args(args []any) []any {
	if d.Arg == nil || len(args) == 0 {
		return args
	}
	out := make([]any, len(args))
	for i, a := range args {
		out[i] = d.Arg(a)
	}
	return out
}

// err classifies err through d.Err.
func (d Dialect) err(ctx context.Context, err error) error {
	if err == nil || d.Err == nil {
		return err
	}
	return d.Err(ctx, err)
}

// ContainsFold is the condition "col contains the bound value, ignoring
// case" with one ? placeholder: a substring match (% and _ are plain
// characters), case-insensitive for ASCII letters on SQLite and for every
// letter PostgreSQL's lower() knows.
func (d Dialect) ContainsFold(col string) string {
	if d.Engine == Postgres {
		return "strpos(lower(" + col + "), lower(?)) > 0"
	}
	return "instr(lower(" + col + "), lower(?)) > 0"
}

// Greatest is the larger of two expressions (SQLite's two-argument max).
func (d Dialect) Greatest(a, b string) string {
	if d.Engine == Postgres {
		return "GREATEST(" + a + ", " + b + ")"
	}
	return "max(" + a + ", " + b + ")"
}

// ByteOrder is col sorted by code point (byte order of UTF-8), whatever the
// database's collation: ORDER BY d.ByteOrder("name") sorts alike on both.
func (d Dialect) ByteOrder(col string) string {
	if d.Engine == Postgres {
		return col + ` COLLATE "C"`
	}
	return col // SQLite's default collation is BINARY
}

// InStrings is the condition "col is one of vals" and its arguments: one
// array argument on PostgreSQL, one placeholder per value on SQLite (keep
// vals to a few hundred there). No value matches nothing.
func (d Dialect) InStrings(col string, vals []string) (string, []any) {
	if d.Engine == Postgres {
		return col + " = ANY(CAST(? AS text[]))", []any{vals}
	}
	if len(vals) == 0 {
		return "0", nil
	}
	args := make([]any, len(vals))
	for i, v := range vals {
		args[i] = v
	}
	return col + " IN (" + Placeholders(len(vals)) + ")", args
}

// Placeholders returns "?, ?, ..." for n values (Rebind numbers them).
func Placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?, ", n-1) + "?"
}

// JSONHasAny is the condition "the JSON array of strings in col holds one
// of vals" and its arguments: json_each on SQLite, jsonb_exists_any (the
// function behind ?|, which Rebind cannot take) on PostgreSQL. No value
// matches nothing.
func (d Dialect) JSONHasAny(col string, vals []string) (string, []any) {
	if len(vals) == 0 {
		return "1 = 0", nil
	}
	if d.Engine == Postgres {
		return "jsonb_exists_any(" + col + ", CAST(? AS text[]))", []any{vals}
	}
	in, args := d.InStrings("je.value", vals)
	return "EXISTS (SELECT 1 FROM json_each(" + col + ") AS je WHERE " + in + ")", args
}

// JSONElements is a FROM item yielding one row per string of the JSON
// array in col, as alias.value: SQLite's json_each, PostgreSQL's
// jsonb_array_elements_text.
func (d Dialect) JSONElements(col, alias string) string {
	if d.Engine == Postgres {
		return "jsonb_array_elements_text(" + col + ") AS " + alias + "(value)"
	}
	return "json_each(" + col + ") AS " + alias
}

// FullTextIndex names a table's full-text index on each engine. It is
// kept twice, stemmed and as written, so that a word matches by its stem
// ("runs" finds "running") and a word being typed by its prefix ("mornin"
// finds "morning", whose stem is "morn").
type FullTextIndex struct {
	// Tables are SQLite's FTS5 tables (external content) over the same
	// text, one per tokenizer; Rowid is the column of the indexed table
	// their rowid is.
	Tables []string
	Rowid  string
	// Vector is PostgreSQL's tsvector column: the concatenation of the
	// text's vectors in each of Configs ("english", "simple").
	Vector  string
	Configs []string
}

// FullText is the condition "the row's text has every word of query, each
// as a prefix of a word of the text, stemmed or as written" and its
// arguments: FTS5 MATCHes of "word"* on SQLite, tsqueries of word:* on
// PostgreSQL. A query without a word matches nothing.
func (d Dialect) FullText(ix FullTextIndex, query string) (string, []any) {
	terms := SearchTerms(query)
	if len(terms) == 0 {
		return "1 = 0", nil
	}
	var (
		conds []string
		args  []any
	)
	for _, t := range terms {
		var alts []string
		if d.Engine == Postgres {
			for _, c := range ix.Configs {
				alts, args = append(alts, "to_tsquery(CAST(? AS regconfig), ?)"), append(args, c, t+":*")
			}
			conds = append(conds, ix.Vector+" @@ ("+strings.Join(alts, " || ")+")")
			continue
		}
		for _, tb := range ix.Tables {
			alts = append(alts, ix.Rowid+" IN (SELECT rowid FROM "+tb+" WHERE "+tb+" MATCH ?)")
			args = append(args, `"`+t+`"*`)
		}
		conds = append(conds, "("+strings.Join(alts, " OR ")+")")
	}
	return strings.Join(conds, " AND "), args
}
