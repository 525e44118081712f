package sqlstore

import (
	"errors"
	"testing"

	"github.com/agentgate/agentgate/core"
)

var (
	pg = Dialect{Name: "postgres", Engine: Postgres}
	lt = Dialect{Name: "sqlite", Engine: SQLite}
)

func TestRebind(t *testing.T) {
	cases := []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"a = ? AND b = ?", "a = $1 AND b = $2"},
		{"VALUES (?, ?, ?)", "VALUES ($1, $2, $3)"},
		// A ? in a string literal or a quoted identifier is not a
		// placeholder; '' is a quote inside a literal.
		{"name = '?' AND id = ?", "name = '?' AND id = $1"},
		{"name = 'it''s ?' AND id = ?", "name = 'it''s ?' AND id = $1"},
		{`"odd?col" = ? OR x = '' OR y = ?`, `"odd?col" = $1 OR x = '' OR y = $2`},
		{"x = ? || '?' || ?", "x = $1 || '?' || $2"},
		{"CAST(? AS text[])", "CAST($1 AS text[])"},
	}
	for _, c := range cases {
		if got := pg.Rebind(c.in); got != c.want {
			t.Errorf("postgres Rebind(%q) = %q, want %q", c.in, got, c.want)
		}
		if got := lt.Rebind(c.in); got != c.in {
			t.Errorf("sqlite Rebind(%q) = %q, want it unchanged", c.in, got)
		}
	}
}

func TestArgsKeepsCallersSlice(t *testing.T) {
	d := Dialect{Engine: Postgres, Arg: func(v any) any {
		if s, ok := v.(string); ok {
			return "<" + s + ">"
		}
		return v
	}}
	in := []any{"a", 1}
	out := d.args(in)
	if in[0] != "a" || out[0] != "<a>" || out[1] != 1 {
		t.Fatalf("args(%v) = %v (caller's slice now %v)", []any{"a", 1}, out, in)
	}
}

func TestEncodeJSONNullAndEmpty(t *testing.T) {
	for _, d := range []Dialect{lt, pg} {
		cases := []struct {
			name string
			v    any
			want any
		}{
			{"nil map", map[string]any(nil), nil},
			{"empty map", map[string]any{}, "{}"},
			{"nil slice", []string(nil), nil},
			{"empty slice", []string{}, "[]"},
			{"nil pointer", (*int)(nil), nil},
			{"untyped nil", nil, "null"},
			{"object", map[string]any{"a": 1}, `{"a":1}`},
			{"html stays escaped as encoding/json does", "<b>", `"\u003cb\u003e"`},
		}
		for _, c := range cases {
			got, err := EncodeJSON(d, "col", c.v)
			if err != nil || got != c.want {
				t.Errorf("%s: EncodeJSON(%s) = %#v, %v; want %#v", d.Name, c.name, got, err, c.want)
			}
		}
	}
	// JSONB refuses \u0000: PostgreSQL gets U+FFFD, SQLite the text as is.
	v := map[string]string{"k": "a\x00b"}
	if got, _ := EncodeJSON(pg, "col", v); got != `{"k":"a\ufffdb"}` {
		t.Errorf("postgres: NUL encoded as %v", got)
	}
	if got, _ := EncodeJSON(lt, "col", v); got != `{"k":"a\u0000b"}` {
		t.Errorf("sqlite: NUL encoded as %v", got)
	}
	if _, err := EncodeJSON(lt, "col", map[string]any{"f": func() {}}); err == nil {
		t.Error("EncodeJSON of a func: no error")
	}
}

func TestNoNULEscapes(t *testing.T) {
	cases := map[string]string{
		`"a"`:              `"a"`,
		`"\u0000"`:         `"\ufffd"`,
		`"x\u0000y\u0000"`: `"x\ufffdy\ufffd"`,
		// An escaped backslash followed by u0000 is text, not an escape.
		`"\\u0000"`:  `"\\u0000"`,
		`"\\\u0000"`: `"\\\ufffd"`,
		`"\u00001"`:  `"\ufffd1"`,
	}
	for in, want := range cases {
		if got := NoNULEscapes(in); got != want {
			t.Errorf("NoNULEscapes(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestEncodeStrings(t *testing.T) {
	for _, c := range []struct {
		d    Dialect
		v    []string
		want any
	}{
		{lt, nil, "[]"},
		{lt, []string{}, "[]"},
		{lt, []string{"a", `b"`}, `["a","b\""]`},
	} {
		if got, err := EncodeStrings(c.d, "col", c.v); err != nil || got != c.want {
			t.Errorf("sqlite EncodeStrings(%#v) = %#v, %v; want %#v", c.v, got, err, c.want)
		}
	}
	if got, _ := EncodeStrings(pg, "col", nil); got == nil || len(got.([]string)) != 0 {
		t.Errorf("postgres EncodeStrings(nil) = %#v, want an empty list (the column is NOT NULL)", got)
	}
}

func TestSpellings(t *testing.T) {
	checks := []struct{ got, want string }{
		{lt.ContainsFold("name"), "instr(lower(name), lower(?)) > 0"},
		{pg.ContainsFold("name"), "strpos(lower(name), lower(?)) > 0"},
		{lt.Greatest("a", "b"), "max(a, b)"},
		{pg.Greatest("a", "b"), "GREATEST(a, b)"},
		{lt.ByteOrder("name"), "name"},
		{pg.ByteOrder("name"), `name COLLATE "C"`},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	if c, args := lt.InStrings("id", nil); c != "0" || len(args) != 0 {
		t.Errorf("sqlite InStrings(none) = %q %v", c, args)
	}
	if c, args := lt.InStrings("id", []string{"a", "b"}); c != "id IN (?, ?)" || len(args) != 2 {
		t.Errorf("sqlite InStrings = %q %v", c, args)
	}
	if c, args := pg.InStrings("id", []string{"a", "b"}); c != "id = ANY(CAST(? AS text[]))" || len(args) != 1 {
		t.Errorf("postgres InStrings = %q %v", c, args)
	}
}

func TestSortAndPage(t *testing.T) {
	s := Sort{"name": "name", "created_at": "created_at"}
	got, err := s.OrderBy("name", true, "seq")
	if err != nil || got != " ORDER BY name ASC, seq ASC" {
		t.Errorf("OrderBy(name, asc) = %q, %v", got, err)
	}
	got, _ = s.OrderBy("created_at", false, "seq")
	if got != " ORDER BY created_at DESC, seq DESC" {
		t.Errorf("OrderBy(created_at, desc) = %q", got)
	}
	if _, err := s.OrderBy("name; DROP TABLE x", true, "seq"); !errors.Is(err, core.ErrInvalid) {
		t.Errorf("OrderBy(unknown) = %v, want core.ErrInvalid", err)
	}
	for _, c := range []struct {
		p      Page
		paged  bool
		offset int
	}{
		{Page{}, false, 0}, {Page{Limit: 10}, true, 0}, {Page{Limit: 10, Page: 0}, true, 0},
		{Page{Limit: 10, Page: -3}, true, 0}, {Page{Limit: 10, Page: 3}, true, 20},
	} {
		if c.p.Paged() != c.paged || (c.paged && c.p.Offset() != c.offset) {
			t.Errorf("%+v: Paged %v Offset %d", c.p, c.p.Paged(), c.p.Offset())
		}
	}
	if Where(nil) != "" || Where([]string{"a = ?", "b = ?"}) != " WHERE a = ? AND b = ?" {
		t.Error("Where")
	}
}

func TestUpsertSQL(t *testing.T) {
	u := Upsert{Table: "t", Columns: Columns{"k", "v"}, Key: []string{"k"}, Update: []string{"v"},
		Where: "t.v < excluded.v", Returning: "v"}
	want := "INSERT INTO t (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v WHERE t.v < excluded.v RETURNING v"
	if got := u.SQL(); got != want {
		t.Errorf("Upsert.SQL() =\n%s\nwant\n%s", got, want)
	}
	u.Update, u.Where, u.Returning = nil, "ignored without an update", ""
	if got := u.SQL(); got != "INSERT INTO t (k, v) VALUES (?, ?) ON CONFLICT (k) DO NOTHING" {
		t.Errorf("Upsert.SQL() without update = %s", got)
	}
}
