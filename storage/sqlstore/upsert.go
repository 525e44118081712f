package sqlstore

import "strings"

// Upsert is an INSERT that updates the row already holding its key: both
// engines spell it INSERT ... ON CONFLICT (key) DO UPDATE SET col =
// excluded.col [WHERE ...] [RETURNING ...].
type Upsert struct {
	Table string
	// Columns are inserted, one ? each, in order.
	Columns Columns
	// Key names the unique columns (or primary key) whose conflict turns
	// the insert into an update.
	Key []string
	// Update lists the columns set from the new row; none means DO
	// NOTHING (the row that holds the key is kept).
	Update []string
	// Where, when set, limits the update to rows it is true for (refer to
	// the stored row as Table.col and to the new one as excluded.col);
	// where it is false nothing is written and RETURNING gives no row.
	Where string
	// Returning, when set, is the RETURNING list.
	Returning string
}

// SQL is the statement.
func (u Upsert) SQL() string {
	var b strings.Builder
	b.WriteString("INSERT INTO " + u.Table + " (" + u.Columns.String() + ") VALUES (" + u.Columns.Placeholders() + ")")
	b.WriteString(" ON CONFLICT (" + strings.Join(u.Key, ", ") + ")")
	if len(u.Update) == 0 {
		b.WriteString(" DO NOTHING")
	} else {
		b.WriteString(" DO UPDATE SET ")
		for i, c := range u.Update {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(c + " = excluded." + c)
		}
		if u.Where != "" {
			b.WriteString(" WHERE " + u.Where)
		}
	}
	if u.Returning != "" {
		b.WriteString(" RETURNING " + u.Returning)
	}
	return b.String()
}
