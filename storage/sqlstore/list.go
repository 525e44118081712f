package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/agentgate/agentgate/core"
)

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), core.ErrInvalid)
}

// Page is a list's paging as the API gives it: Limit <= 0 means every row
// (Page is then ignored), Page < 1 is page 1.
type Page struct {
	Limit, Page int
}

// Paged reports whether the list is cut into pages.
func (p Page) Paged() bool { return p.Limit > 0 }

// Offset is the number of rows before the page.
func (p Page) Offset() int { return (max(p.Page, 1) - 1) * p.Limit }

// Sort is a whitelist of sort keys: the API's name of each key to its SQL
// expression (use Dialect.ByteOrder for text that must sort alike on both
// engines). Nothing else ever reaches ORDER BY.
type Sort map[string]string

// OrderBy returns " ORDER BY <key's expression> <dir>, <tie> <dir>" for
// the key by, ascending or not; tie (usually the insertion sequence, seq)
// makes the order total. An unknown key is an error wrapping
// core.ErrInvalid.
func (s Sort) OrderBy(by string, asc bool, tie string) (string, error) {
	expr, ok := s[by]
	if !ok {
		return "", invalidf("unknown sort key %q", by)
	}
	dir := " DESC"
	if asc {
		dir = " ASC"
	}
	return " ORDER BY " + expr + dir + ", " + tie + dir, nil
}

// Where joins conditions with AND into " WHERE ..." ("" for none).
func Where(conds []string) string {
	if len(conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conds, " AND ")
}

// List is one page of a filtered list and how many rows match in all.
type List struct {
	// Columns and From are "SELECT <Columns> FROM <From>"; Where and Args
	// the filter (Where from the Where function, Args its values);
	// OrderBy from Sort.OrderBy or a fixed order.
	Columns, From, Where, OrderBy string
	Args                          []any
	Page                          Page
}

// Run queries the page and the total on q and calls scan for each row,
// which must scan the row with extra after its own destinations (they read
// the window count). With paging, the total
// is a window count over the same filter read in the same statement as
// the page; only a page past the end (which has no row to carry it)
// counts again, on q (inside DB.View that is the same snapshot on SQLite).
// Without paging the total is the number of rows.
func (l List) Run(ctx context.Context, q Querier, scan func(row Row, extra ...any) error) (int, error) {
	sel := "SELECT " + l.Columns
	args := l.Args
	if l.Page.Paged() {
		sel += ", count(*) OVER ()"
	}
	sel += " FROM " + l.From + l.Where + l.OrderBy
	if l.Page.Paged() {
		sel += " LIMIT ? OFFSET ?"
		args = append(args[:len(args):len(args)], l.Page.Limit, l.Page.Offset())
	}
	rows, err := q.Query(ctx, sel, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var total int64
	var extra []any
	if l.Page.Paged() {
		extra = []any{&total}
	}
	n := 0
	for rows.Next() {
		if err := scan(rows, extra...); err != nil {
			return 0, err
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	rows.Close()
	switch {
	case !l.Page.Paged():
		return n, nil
	case n == 0:
		if err := q.QueryRow(ctx, "SELECT count(*) FROM "+l.From+l.Where, l.Args...).Scan(&total); err != nil {
			return 0, fmt.Errorf("count: %w", err)
		}
	}
	return int(total), nil
}

// collect runs l in a read-only view of db and returns every row it scans
// (an empty, non-nil slice when none) and the total List.Run gives; what
// names the records in the error ("list sessions").
func collect[T any](ctx context.Context, db *DB, l List, what string, scan func(row Row, extra ...any) (T, error)) ([]T, int, error) {
	var (
		out   []T
		total int
	)
	err := db.View(ctx, func(ctx context.Context, q Querier) error {
		out = []T{}
		var err error
		total, err = l.Run(ctx, q, func(row Row, extra ...any) error {
			v, err := scan(row, extra...)
			if err == nil {
				out = append(out, v)
			}
			return err
		})
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %s: %w", db.d.Name, what, db.Err(ctx, err))
	}
	return out, total, nil
}
