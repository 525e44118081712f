// Package sqlite is the embedded state store: core.RunStore and the groups'
// stores on SQLite files (or in-memory databases), with the pure-Go modernc.org/sqlite driver.
//
// A Store holds, for each of its databases, two connection pools: a writer pool
// whose one writing connection is owned by one goroutine, through which
// every write goes (so the process's own writers queue in Go, and commit
// together, instead of failing with SQLITE_BUSY), and a reader pool of
// several query-only connections, which WAL lets run alongside the writer.
// The WAL is checkpointed in the background (checkpoint.go), not inside a
// commit. busy_timeout covers other processes (another replica, the
// migrate command) writing to the same file.
//
// The traces' tables are in a database of their own, FILE-traces next to
// the state database FILE, with the same pools, writer and checkpointer
// (file.go, traces.go).
//
// The schema is versioned and embedded (migrations/*.sql, and
// tracemigrations/*.sql for the traces' file, applied with goose through
// storage/migrate); Open migrates both to the latest version.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"time"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/storage/migrate"
	"github.com/agentgate/agentgate/storage/sqlstore"
	"github.com/google/uuid"
	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Latest is the Migrate target that means "every embedded migration".
const Latest = migrate.Latest

// busyTimeoutMS is how long a connection waits for another process's lock.
const busyTimeoutMS = 10000

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Store implements core.RunStore and auth.ServiceAccountStore on SQLite.
// Create it with Open.
type Store struct {
	// file is the state database: every store but the traces'.
	*file
	// tr is the traces' database (traces.go), a file of its own next to
	// the state database with its own writer goroutine, WAL and
	// checkpointer: a batch of spans neither holds the runs' writer nor
	// discards its page cache.
	tr        *file
	closeOnce sync.Once

	// The groups whose plain CRUD is the shared SQL of storage/sqlstore
	// (sqlstore.go), on sql.
	sql *sqlstore.DB
	*serviceAccounts
	*sessions
	*idempotencyKeys
	*approvals
	*schedules
	*memories
	// Knowledge: the shared CRUD and this backend's searches
	// (knowledge.go).
	*knowledgeStore
	*learnings
	*evals
	*sessionMedia
	*components
	*traces
	*metrics
}

// Open opens (creating if needed) the database named by dsn and migrates it
// to the latest schema version.
//
// dsn is a file path ("agentgate.db", "/var/lib/agentgate/state.db"), the
// same with a "sqlite://" or "sqlite:" prefix ("sqlite://agentgate.db",
// "sqlite:///abs/path.db"), a SQLite "file:" URI, or ":memory:" (also
// "sqlite://:memory:") for a private in-memory database that lives until
// Close. Query parameters on a file DSN are passed to the driver.
func Open(ctx context.Context, dsn string) (*Store, error) {
	t, err := parseDSN(dsn)
	if err != nil {
		return nil, err
	}
	s := &Store{}
	if s.tr, err = openFile(ctx, t.traces(), migrateTraces); err != nil {
		return nil, err
	}
	// Traces written by a version that kept them in the state database
	// move to the traces' file before the migration that drops their
	// tables.
	state := func(ctx context.Context, w *sql.DB) error { return migrateState(ctx, w, t) }
	if s.file, err = openFile(ctx, t, state); err != nil {
		return nil, errors.Join(err, s.tr.close())
	}
	s.initShared()
	return s, nil
}

// OpenDB opens the database named by dsn (see Open) as a single-connection
// *sql.DB configured like a Store's writer, without migrating it. It is for
// tools such as `agentgate migrate` that pass it to Migrate and Version.
// An in-memory dsn gets a fresh, private database.
func OpenDB(ctx context.Context, dsn string) (*sql.DB, error) {
	t, err := parseDSN(dsn)
	if err != nil {
		return nil, err
	}
	db, err := openPool(ctx, t.writerDSN(), 1)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", t.display, err)
	}
	return db, nil
}

// Migrate moves the schema of db up or down to targetVersion: Latest (-1)
// applies every embedded migration, 0 rolls every migration back (an empty
// schema, apart from the version table), any other value must be one of
// Versions (otherwise the error wraps core.ErrInvalid).
//
// Another process may migrate the same file at the same moment (two
// replicas starting together): goose plans before it locks, so one of them
// then fails on a migration the other applied. Every migration runs in its
// own transaction and SQLite DDL is transactional, so a failed attempt
// changes nothing; Migrate plans again, a few times, before giving up.
func Migrate(ctx context.Context, db *sql.DB, targetVersion int64) error {
	return migrateRetrying(ctx, func() (*migrate.Migrator, error) { return newMigrator(db) }, targetVersion)
}

// migrateRetrying is Migrate with the migrator newM makes.
func migrateRetrying(ctx context.Context, newM func() (*migrate.Migrator, error), targetVersion int64) error {
	const attempts = 5
	for i := 1; ; i++ {
		m, err := newM()
		if err != nil {
			return err
		}
		err = m.To(ctx, targetVersion)
		if err == nil || errors.Is(err, core.ErrInvalid) || i == attempts {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(time.Duration(i*50) * time.Millisecond):
		}
	}
}

// Version returns the schema version db is at (0: nothing applied).
func Version(ctx context.Context, db *sql.DB) (int64, error) {
	m, err := newMigrator(db)
	if err != nil {
		return 0, err
	}
	return m.Version(ctx)
}

// Versions returns the embedded schema versions, ascending; the last one is
// what Open migrates to.
func Versions() []int64 {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil
	}
	var out []int64
	entries, _ := fs.ReadDir(sub, ".")
	for _, e := range entries {
		if v, err := goose.NumericComponent(e.Name()); err == nil {
			out = append(out, v)
		}
	}
	return out
}

func newMigrator(db *sql.DB) (*migrate.Migrator, error) {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	return migrate.New(goose.DialectSQLite3, db, sub)
}

// Migrate moves the store's schema to targetVersion; see the package-level
// Migrate. Store methods fail while the schema is not at the latest version.
func (s *Store) Migrate(ctx context.Context, targetVersion int64) error {
	return Migrate(ctx, s.w, targetVersion)
}

// Version returns the schema version the store's database is at.
func (s *Store) Version(ctx context.Context) (int64, error) {
	return Version(ctx, s.w)
}

// DB returns the state database's writer pool (one connection; the
// traces' tables are not in that database). Use it for transactions that
// must be serialised with the store's own writes; never hold one of its
// transactions while calling a Store method.
func (s *Store) DB() *sql.DB { return s.w }

// Ping reports whether the pools can reach the databases.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.w.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w: %w", core.ErrUnavailable, err)
	}
	if err := s.r.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w: %w", core.ErrUnavailable, err)
	}
	if err := s.tr.w.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping traces: %w: %w", core.ErrUnavailable, err)
	}
	return nil
}

// Close releases the pools. An in-memory database is gone afterwards.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() { err = errors.Join(s.file.close(), s.tr.close()) })
	return err
}

// target is a parsed DSN.
type target struct {
	base    string // path or file: URI, without our parameters
	memory  bool
	display string // for error messages
}

func parseDSN(dsn string) (target, error) {
	d := strings.TrimSpace(dsn)
	for _, p := range []string{"sqlite3://", "sqlite://", "sqlite3:", "sqlite:"} {
		if len(d) >= len(p) && strings.EqualFold(d[:len(p)], p) {
			d = d[len(p):]
			break
		}
	}
	if d == "" {
		return target{}, fmt.Errorf("sqlite: empty database path in %q: %w", dsn, core.ErrInvalid)
	}
	name, query, _ := strings.Cut(d, "?")
	if name == ":memory:" || name == "file::memory:" || strings.Contains(query, "mode=memory") {
		// memdb VFS: every connection that opens the same "/name" sees one
		// database, with ordinary locking (unlike a shared cache), so
		// busy_timeout applies. The name is unique per Open.
		return target{
			base:    "file:/agentgate-" + uuid.NewString() + "?vfs=memdb",
			memory:  true,
			display: ":memory:",
		}, nil
	}
	return target{base: d, display: name}, nil
}

// traces is the target of the traces' database: the file named like the
// state database with "-traces" appended ("state.db" → "state.db-traces",
// query parameters kept), or another private in-memory database.
func (t target) traces() target {
	if t.memory {
		return target{base: "file:/agentgate-traces-" + uuid.NewString() + "?vfs=memdb", memory: true, display: ":memory: (traces)"}
	}
	name, query, ok := strings.Cut(t.base, "?")
	out := target{base: name + tracesSuffix, display: t.display + tracesSuffix}
	if ok {
		out.base += "?" + query
	}
	return out
}

func (t target) with(params ...string) string {
	sep := "?"
	if strings.Contains(t.base, "?") {
		sep = "&"
	}
	return t.base + sep + strings.Join(params, "&")
}

func (t target) writerDSN(extra ...string) string {
	p := []string{
		fmt.Sprintf("_pragma=busy_timeout(%d)", busyTimeoutMS),
		"_pragma=foreign_keys(1)",
		"_pragma=synchronous(NORMAL)",
		// Savepoints (one per write of a group commit) keep their
		// sub-journal in memory instead of a temporary file.
		"_pragma=temp_store(MEMORY)",
		// A 32 MiB page cache (SQLite's default is 2 MB): a batch of
		// spans touches more index pages than the default holds, which
		// then spills them to the WAL mid-transaction and reads them
		// back (BenchmarkWriteSpansRuns: ~20% less CPU per run). It
		// grows only as pages are used.
		"_pragma=cache_size(-32768)",
		// Take the write lock at BEGIN, so a transaction never fails
		// half-way when another process holds it: it waits instead.
		"_txlock=immediate",
	}
	if !t.memory {
		p = append(p, "_pragma=journal_mode(WAL)")
	}
	return t.with(append(p, extra...)...)
}

// storeWriterDSN is writerDSN for a Store's writer pool: SQLite's automatic
// checkpoint is off, because the Store checkpoints in the background
// (checkpoint.go), and a WAL that grew during a burst is cut back to
// walSizeLimit when it restarts.
func (t target) storeWriterDSN() string {
	if t.memory {
		return t.writerDSN()
	}
	return t.writerDSN("_pragma=wal_autocheckpoint(0)", fmt.Sprintf("_pragma=journal_size_limit(%d)", walSizeLimit))
}

func (t target) readerDSN() string {
	return t.with(
		fmt.Sprintf("_pragma=busy_timeout(%d)", busyTimeoutMS),
		"_pragma=foreign_keys(1)",
		"_pragma=query_only(1)",
	)
}

func openPool(ctx context.Context, dsn string, conns int) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	// Opening sets the journal mode, which needs a lock that SQLite does
	// not wait for with busy_timeout when another process is switching the
	// same new file to WAL; retry that briefly.
	for attempt := 1; ; attempt++ {
		err = db.PingContext(ctx)
		if err == nil {
			return db, nil
		}
		if attempt == 20 || !strings.Contains(err.Error(), "SQLITE_BUSY") {
			db.Close()
			return nil, err
		}
		select {
		case <-ctx.Done():
			db.Close()
			return nil, ctx.Err()
		case <-time.After(time.Duration(attempt) * 10 * time.Millisecond):
		}
	}
}

var _ core.RunStore = (*Store)(nil)
