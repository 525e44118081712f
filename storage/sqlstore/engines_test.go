package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/agentgate/agentgate/storage/postgres"
	"github.com/agentgate/agentgate/storage/postgres/pgtest"
	"github.com/agentgate/agentgate/storage/sqlite"
	"github.com/agentgate/agentgate/storage/sqlstore"
)

// engines runs f against both real databases: an in-memory SQLite store
// and a PostgreSQL store on a fresh schema (which fails, never skips,
// without the server). Each gets a scratch table "items" of its own.
func engines(t *testing.T, f func(t *testing.T, db *sqlstore.DB)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		st, err := sqlite.Open(t.Context(), ":memory:")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		db := st.SQL()
		create(t, db, `CREATE TABLE items (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,
			name TEXT NOT NULL DEFAULT '', n INTEGER NOT NULL DEFAULT 0, flag BOOLEAN NOT NULL DEFAULT FALSE,
			doc TEXT, tags TEXT NOT NULL DEFAULT '[]')`)
		f(t, db)
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		url := pgtest.URL(t)
		st, err := postgres.Open(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		db := st.SQL()
		create(t, db, `CREATE TABLE items (seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, id TEXT NOT NULL UNIQUE,
			name TEXT NOT NULL DEFAULT '', n BIGINT NOT NULL DEFAULT 0, flag BOOLEAN NOT NULL DEFAULT FALSE,
			doc JSONB, tags TEXT[] NOT NULL DEFAULT '{}')`)
		f(t, db)
	})
}

func create(t *testing.T, db *sqlstore.DB, ddl string) {
	t.Helper()
	if err := db.Write(t.Context(), func(ctx context.Context, q sqlstore.Querier) error {
		_, err := q.Exec(ctx, ddl)
		return err
	}); err != nil {
		t.Fatalf("create the scratch table: %v", err)
	}
}

var itemColumns = sqlstore.Columns{"id", "name", "n", "flag", "doc", "tags"}

type item struct {
	ID   string
	Name string
	N    int64
	Flag bool
	Doc  map[string]any
	Tags []string
}

func insert(t *testing.T, db *sqlstore.DB, it item) {
	t.Helper()
	d := db.Dialect()
	doc, err := sqlstore.EncodeJSON(d, "doc", it.Doc)
	if err != nil {
		t.Fatal(err)
	}
	tags, err := sqlstore.EncodeStrings(d, "tags", it.Tags)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.WriteStmt(t.Context(), func(ctx context.Context, q sqlstore.Querier) error {
		_, err := q.Exec(ctx, `INSERT INTO items (`+itemColumns.String()+`) VALUES (`+itemColumns.Placeholders()+`)`,
			it.ID, it.Name, it.N, it.Flag, doc, tags)
		return err
	}); err != nil {
		t.Fatalf("insert %s: %v", it.ID, err)
	}
}

func scanItem(d sqlstore.Dialect, row sqlstore.Row, extra ...any) (item, error) {
	var (
		it item
		f  sqlstore.Fields
	)
	f.Add(&it.ID, &it.Name, &it.N, &it.Flag)
	f.JSON(d, "doc", &it.Doc)
	f.Strings(d, "tags", &it.Tags)
	return it, f.Scan(row, extra...)
}

func get(t *testing.T, db *sqlstore.DB, id string) (item, error) {
	t.Helper()
	var it item
	err := db.ReadStmt(t.Context(), func(ctx context.Context, q sqlstore.Querier) error {
		var err error
		it, err = scanItem(db.Dialect(), q.QueryRow(ctx, `SELECT `+itemColumns.String()+` FROM items WHERE id = ?`, id))
		return err
	})
	return it, err
}

func count(t *testing.T, db *sqlstore.DB, where string, args ...any) int {
	t.Helper()
	var n int
	if err := db.ReadStmt(t.Context(), func(ctx context.Context, q sqlstore.Querier) error {
		return q.QueryRow(ctx, `SELECT count(*) FROM items WHERE `+where, args...).Scan(&n)
	}); err != nil {
		t.Fatalf("count %s: %v", where, err)
	}
	return n
}

func TestJSONAndListsRoundTrip(t *testing.T) {
	engines(t, func(t *testing.T, db *sqlstore.DB) {
		items := []item{
			{ID: "nil", Doc: nil, Tags: nil},
			{ID: "empty", Doc: map[string]any{}, Tags: []string{}},
			{ID: "full", Doc: map[string]any{"a": 1.0, "b": []any{"x"}}, Tags: []string{"a", "b,c", `"q"`}},
		}
		for _, it := range items {
			insert(t, db, it)
		}
		for _, want := range items {
			got, err := get(t, db, want.ID)
			if err != nil {
				t.Fatalf("get %s: %v", want.ID, err)
			}
			if (got.Doc == nil) != (want.Doc == nil) || !reflect.DeepEqual(got.Doc, want.Doc) && len(want.Doc) > 0 {
				t.Errorf("%s: doc = %#v, want %#v", want.ID, got.Doc, want.Doc)
			}
			wantTags := want.Tags
			if wantTags == nil {
				wantTags = []string{}
			}
			if got.Tags == nil || !slices.Equal(got.Tags, wantTags) {
				t.Errorf("%s: tags = %#v, want %#v", want.ID, got.Tags, wantTags)
			}
		}
		// nil is stored as SQL NULL, empty as JSON, on both engines.
		if n := count(t, db, "doc IS NULL"); n != 1 {
			t.Errorf("%d rows with a NULL doc, want 1 (the nil one)", n)
		}
		if _, err := get(t, db, "missing"); !errors.Is(err, sqlstore.ErrNoRows) {
			t.Errorf("get missing: %v, want ErrNoRows", err)
		}
	})
}

func TestUpsertOnBothEngines(t *testing.T) {
	engines(t, func(t *testing.T, db *sqlstore.DB) {
		u := sqlstore.Upsert{Table: "items", Columns: sqlstore.Columns{"id", "name", "n"}, Key: []string{"id"},
			Update: []string{"name", "n"}, Where: "items.n < excluded.n", Returning: "name, n"}
		upsert := func(id, name string, n int64) (string, int64, error) {
			var (
				gotName string
				gotN    int64
			)
			err := db.WriteStmt(t.Context(), func(ctx context.Context, q sqlstore.Querier) error {
				return q.QueryRow(ctx, u.SQL(), id, name, n).Scan(&gotName, &gotN)
			})
			return gotName, gotN, err
		}
		if name, n, err := upsert("k", "first", 5); err != nil || name != "first" || n != 5 {
			t.Fatalf("insert: %q %d %v", name, n, err)
		}
		// The WHERE is false: nothing written, no row returned.
		if _, _, err := upsert("k", "older", 3); !errors.Is(err, sqlstore.ErrNoRows) {
			t.Fatalf("upsert with an older n: %v, want ErrNoRows", err)
		}
		if it, _ := get(t, db, "k"); it.Name != "first" || it.N != 5 {
			t.Fatalf("after the refused update: %+v", it)
		}
		if name, n, err := upsert("k", "newer", 9); err != nil || name != "newer" || n != 9 {
			t.Fatalf("update: %q %d %v", name, n, err)
		}
		// DO NOTHING: the stored row is kept, no row changed.
		u.Update, u.Returning = nil, ""
		var changed int64
		if err := db.WriteStmt(t.Context(), func(ctx context.Context, q sqlstore.Querier) error {
			var err error
			changed, err = q.Exec(ctx, u.SQL(), "k", "ignored", 100)
			return err
		}); err != nil || changed != 0 {
			t.Fatalf("DO NOTHING: %d rows, %v", changed, err)
		}
		if it, _ := get(t, db, "k"); it.Name != "newer" {
			t.Fatalf("DO NOTHING changed the row: %+v", it)
		}
	})
}

func TestUniqueViolationAndAtomicWrite(t *testing.T) {
	engines(t, func(t *testing.T, db *sqlstore.DB) {
		insert(t, db, item{ID: "dup"})
		ins := func(ctx context.Context, q sqlstore.Querier, id string) error {
			_, err := q.Exec(ctx, `INSERT INTO items (id) VALUES (?)`, id)
			return err
		}
		err := db.WriteStmt(t.Context(), func(ctx context.Context, q sqlstore.Querier) error { return ins(ctx, q, "dup") })
		if err == nil || !db.IsUnique(err) {
			t.Fatalf("duplicate insert: %v (IsUnique %v), want a unique violation", err, db.IsUnique(err))
		}
		err = db.WriteStmt(t.Context(), func(ctx context.Context, q sqlstore.Querier) error {
			_, err := q.Exec(ctx, `INSERT INTO no_such_table (id) VALUES (?)`, "x")
			return err
		})
		if err == nil || db.IsUnique(err) {
			t.Fatalf("insert into a missing table: %v, IsUnique %v", err, db.IsUnique(err))
		}
		// Write commits its statements together or not at all.
		err = db.Write(t.Context(), func(ctx context.Context, q sqlstore.Querier) error {
			if err := ins(ctx, q, "kept-out"); err != nil {
				return err
			}
			return ins(ctx, q, "dup")
		})
		if !db.IsUnique(err) {
			t.Fatalf("Write: %v, want the unique violation", err)
		}
		if n := count(t, db, "id = ?", "kept-out"); n != 0 {
			t.Fatalf("the first insert of a failed Write committed")
		}
	})
}

func TestSpellingsOnBothEngines(t *testing.T) {
	engines(t, func(t *testing.T, db *sqlstore.DB) {
		d := db.Dialect()
		for i, name := range []string{"Hello World", "100%", "a_b", "b", "B", "_"} {
			insert(t, db, item{ID: fmt.Sprint("s", i), Name: name, N: int64(i), Flag: i%2 == 0})
		}
		for _, c := range []struct {
			sub  string
			want int
		}{
			{"wORLD", 1}, {"hello", 1}, {"%", 1}, {"0%", 1}, {"_", 2}, {"a_b", 1}, {"b", 3}, {"zzz", 0},
		} {
			if n := count(t, db, d.ContainsFold("name"), c.sub); n != c.want {
				t.Errorf("ContainsFold(%q) matches %d, want %d", c.sub, n, c.want)
			}
		}
		if n := count(t, db, "flag = ?", true); n != 3 {
			t.Errorf("flag = true (bound): %d, want 3", n)
		}
		if n := count(t, db, "flag = TRUE"); n != 3 {
			t.Errorf("flag = TRUE: %d, want 3", n)
		}
		in, args := d.InStrings("id", []string{"s1", "s3", "nope"})
		if n := count(t, db, in, args...); n != 2 {
			t.Errorf("InStrings: %d, want 2", n)
		}
		in, args = d.InStrings("id", []string{})
		if n := count(t, db, in, args...); n != 0 {
			t.Errorf("InStrings(none): %d, want 0", n)
		}
		if n := count(t, db, d.Greatest("n", "CAST(? AS BIGINT)")+" = 3", 3); n != 4 {
			t.Errorf("Greatest(n, 3) = 3 for %d rows, want 4", n)
		}

		// Code-point order, then a list in pages with its total.
		l := sqlstore.List{Columns: itemColumns.String(), From: "items", Where: " WHERE id <> ?", Args: []any{"s0"}}
		var err error
		if l.OrderBy, err = (sqlstore.Sort{"name": d.ByteOrder("name")}).OrderBy("name", true, "seq"); err != nil {
			t.Fatal(err)
		}
		page := func(p sqlstore.Page) ([]string, int) {
			l.Page = p
			var (
				names []string
				total int
			)
			if err := db.View(t.Context(), func(ctx context.Context, q sqlstore.Querier) error {
				names = nil
				var err error
				total, err = l.Run(ctx, q, func(row sqlstore.Row, extra ...any) error {
					it, err := scanItem(d, row, extra...)
					names = append(names, it.Name)
					return err
				})
				return err
			}); err != nil {
				t.Fatalf("list %+v: %v", p, err)
			}
			return names, total
		}
		if names, total := page(sqlstore.Page{}); !slices.Equal(names, []string{"100%", "B", "_", "a_b", "b"}) || total != 5 {
			t.Errorf("all: %q, total %d", names, total)
		}
		if names, total := page(sqlstore.Page{Limit: 2, Page: 2}); !slices.Equal(names, []string{"_", "a_b"}) || total != 5 {
			t.Errorf("page 2 of 2: %q, total %d", names, total)
		}
		if names, total := page(sqlstore.Page{Limit: 2, Page: 9}); len(names) != 0 || total != 5 {
			t.Errorf("page past the end: %q, total %d, want none of 5", names, total)
		}
	})
}

func TestRebindKeepsLiterals(t *testing.T) {
	engines(t, func(t *testing.T, db *sqlstore.DB) {
		insert(t, db, item{ID: "q", Name: "what?"})
		if n := count(t, db, "name = 'what?' AND id = ?", "q"); n != 1 {
			t.Errorf("a ? in a literal: %d rows, want 1", n)
		}
		if n := count(t, db, "name = 'it''s?' OR id = ?", "q"); n != 1 {
			t.Errorf("an escaped quote before ?: %d rows, want 1", n)
		}
	})
}
