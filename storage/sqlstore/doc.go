// Package sqlstore is the SQL shared by the state backends: the plain CRUD
// of the resource groups, written once over a small Dialect, for SQLite
// (storage/sqlite) and PostgreSQL (storage/postgres) alike. What the
// engines really do differently stays in the backends: the hot run paths
// with their group commit, full-text and vector search, the queue.
//
// It imports database/sql and the groups' types, never a driver: a
// backend supplies its Dialect (SQL spelling, argument mapping, error
// classification) and its Conn (where reads run, how writes commit: SQLite
// through its one writer goroutine, PostgreSQL on its pgx pool), and
// embeds the groups' stores in its own Store, so their methods are the
// Store's.
//
// # The dialect
//
// Statements are written with ? placeholders; the DB rebinds them ($1,
// $2... on PostgreSQL; see Dialect.Rebind for what it parses) and maps
// every argument (PostgreSQL stores NUL and invalid UTF-8 as U+FFFD).
// What the engines spell differently is a Dialect method: ContainsFold
// (case-insensitive substring), Greatest, ByteOrder (sort by code point),
// InStrings (IN list or = ANY(array)), JSONHasAny and JSONElements (a JSON
// array of strings: json_each or jsonb functions) and FullText (a search
// over FTS5 tables or a tsvector column, the user's words as prefixes,
// never their syntax). What they spell alike needs
// nothing: INSERT ... ON CONFLICT (key) DO UPDATE SET c = excluded.c
// (Upsert builds it), RETURNING, count(*) OVER (), row values, CAST(? AS
// BIGINT). Booleans need no mapping either: bind and scan Go bools (SQLite
// stores 0 and 1, TRUE and FALSE are keywords on both). JSON columns
// (TEXT on SQLite, JSONB on PostgreSQL) go through EncodeJSON and
// Fields.JSON, which keep nil and empty apart (NULL against "{}" or
// "[]"); lists of strings through EncodeStrings and Fields.Strings.
//
// A missing row is an error wrapping sql.ErrNoRows (ErrNoRows) from
// Row.Scan on both drivers; DB.Err classifies other driver errors as the
// backend does (core.CodeUnavailable for a lost server...), DB.IsUnique
// tells a unique violation (to answer core.ErrConflict).
//
// # Adding a group
//
// A group with a plain table needs one file here, its migration in both
// backends (the same version number, each engine's column types) and one
// line in each backend's initShared (or, from the wiring, the group's
// constructor on Store.SQL()):
//
//	var memoryColumns = sqlstore.Columns{"memory_id", "user_id", "memory", "topics", "updated_at"}
//
//	type Memories struct{ db *sqlstore.DB }
//
//	func (m *Memories) GetMemory(ctx context.Context, id string) (*memory.Memory, error) {
//		var mem memory.Memory
//		var f sqlstore.Fields
//		f.Add(&mem.ID, &mem.UserID, &mem.Memory)
//		f.JSON(m.db.Dialect(), "topics", &mem.Topics)
//		f.Add(&mem.UpdatedAt)
//		err := m.db.ReadStmt(ctx, func(ctx context.Context, q sqlstore.Querier) error {
//			return f.Scan(q.QueryRow(ctx, `SELECT `+memoryColumns.String()+
//				` FROM memories WHERE memory_id = ?`, id))
//		})
//		if errors.Is(err, sqlstore.ErrNoRows) {
//			return nil, fmt.Errorf("memory %q: %w", id, core.ErrNotFound)
//		}
//		return &mem, m.db.Err(ctx, err)
//	}
//
// Lists take their filter as conditions with ? and their arguments, a Sort
// whitelist for ORDER BY and a Page, and run as a List (one statement for
// the page and its total). Writes of one statement use DB.WriteStmt;
// statements that must commit together DB.Write, whose function may run
// again on SQLite (keep no state across calls). ServiceAccounts, Sessions,
// IdempotencyKeys, Approvals, Schedules and Memories are the groups written this way; a
// group whose rows are written with a backend's run (ClaimKey,
// SessionInsert, ApprovalInsert) also gives the backend the statement to
// run in its own transaction.
package sqlstore
