// Package postgres is the shared state store: core.RunStore and the
// groups' stores on PostgreSQL, with pgx v5 (a pgxpool.Pool for every
// query).
//
// # URL
//
// Open takes a pgx connection string, usually a URL such as
//
//	postgres://agentgate:secret@db.internal:5432/agentgate?sslmode=require
//
// (a keyword/value string, "host=... dbname=...", works too). Every pgx
// setting applies, among them the pool's pool_max_conns, pool_min_conns,
// pool_max_conn_lifetime... Unknown parameters are sent to the server as
// run-time settings, so search_path=NAME works: the store's tables are then
// created in (and read from) the first schema of that path, which must
// exist.
//
// Our own parameter schema=NAME is the convenient form of the same: the
// store uses schema NAME (an identifier, taken literally: no quoting needed,
// case kept), creating it if it does not exist. It is removed before the
// string reaches the server and may not be combined with search_path.
//
// Behind a transaction-pooling PgBouncer, add default_query_exec_mode=exec
// (pgx otherwise prepares and caches statements per connection), and run
// migrations on a direct connection (they hold a session-level lock).
//
// Defaults that differ from pgx's: at most max(8, 2×GOMAXPROCS) connections
// unless pool_max_conns says otherwise, and a 10 s connect timeout unless
// connect_timeout says otherwise.
//
// # Schema
//
// The schema is versioned and embedded (migrations/*.sql, the same versions
// and shape as storage/sqlite's), applied with goose through
// storage/migrate. Open migrates to the latest version. Every migration
// (and every Version, which may create goose's version table) runs under a
// session-level pg_advisory_lock keyed on the schema, so replicas opening
// one fresh database together wait for each other instead of failing.
//
// # Errors
//
// A missing row is core.ErrNotFound, a duplicate id or a failed
// compare-and-set core.ErrConflict, bad input core.ErrInvalid (all wrapped).
// When the server cannot be reached (refused, reset, shut down, too many
// connections...) the error is a *core.Error with code
// core.CodeUnavailable, so it matches core.ErrUnavailable and adapters
// answer 503; its user-facing message does not name the server.
//
// # Text
//
// PostgreSQL cannot store the NUL character or invalid UTF-8 in text or
// JSONB. Rather than fail (a run whose tool returned a NUL byte could then
// never be saved, not even as failed), the store writes each such character
// or byte as U+FFFD, the replacement encoding/json already applies to
// invalid UTF-8. Ids are mapped the same way when they are looked up.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/storage/migrate"
	"github.com/agentgate/agentgate/storage/sqlstore"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
)

// Latest is the Migrate target that means "every embedded migration".
const Latest = migrate.Latest

// SchemaParam is the connection-string parameter naming the schema to use
// (created if missing); see the package documentation.
const SchemaParam = "schema"

// defaultConnectTimeout applies when the URL has no connect_timeout.
const defaultConnectTimeout = 10 * time.Second

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Store implements core.RunStore and auth.ServiceAccountStore on
// PostgreSQL. Create it with Open.
type Store struct {
	pool  *pgxpool.Pool
	t     target
	group *grouper // group commit of run writes; see group.go
	// onWrite, when set, observes each write transaction (ObserveWrites).
	onWrite atomic.Pointer[func(d time.Duration, group int, err error)]

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

// target is a parsed connection string.
type target struct {
	cfg    *pgxpool.Config // ready for pgxpool.NewWithConfig (copy before use)
	schema string          // from schema=; "" when not given
}

// Open connects to the database named by url (see the package
// documentation for its form), migrates it to the latest schema version and
// returns a Store. An unreachable server is an error wrapping
// core.ErrUnavailable; a malformed url one wrapping core.ErrInvalid.
func Open(ctx context.Context, url string) (*Store, error) {
	t, err := parseURL(url)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, t.cfg.Copy())
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", dbErr(ctx, err))
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open: %w", unavailable(err))
	}
	if err := migrateTo(ctx, t, pool, Latest); err != nil {
		pool.Close()
		return nil, err
	}
	st := &Store{pool: pool, t: t}
	st.initShared()
	st.startGrouper()
	return st, nil
}

// Migrate moves the schema of the database named by url up or down to
// targetVersion: Latest (-1) applies every embedded migration, 0 rolls
// every migration back (an empty schema, apart from goose's version table),
// any other value must be one of Versions (otherwise the error wraps
// core.ErrInvalid). A schema= schema is created if missing. It is what
// `agentgate migrate` uses; it holds the migration lock while it runs.
func Migrate(ctx context.Context, url string, targetVersion int64) error {
	t, err := parseURL(url)
	if err != nil {
		return err
	}
	return migrateTo(ctx, t, nil, targetVersion)
}

// Version returns the schema version of the database named by url
// (0: nothing applied). Like migrate.Migrator.Version it creates goose's
// version table (and a schema= schema) if missing.
func Version(ctx context.Context, url string) (int64, error) {
	t, err := parseURL(url)
	if err != nil {
		return 0, err
	}
	return versionOf(ctx, t, nil)
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

// Migrate moves the store's schema to targetVersion; see the package-level
// Migrate. Store methods fail while the schema is not at the latest version.
func (s *Store) Migrate(ctx context.Context, targetVersion int64) error {
	return migrateTo(ctx, s.t, s.pool, targetVersion)
}

// Version returns the schema version the store's database is at.
func (s *Store) Version(ctx context.Context) (int64, error) {
	return versionOf(ctx, s.t, s.pool)
}

// Pool returns the store's connection pool, for components that share the
// state database (a River queue, the migrate endpoint). Its connections use
// the store's schema. Do not close it; Close does.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Ping reports whether the database can be reached; its error wraps
// core.ErrUnavailable.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", unavailable(err))
	}
	return nil
}

// Close closes the pool, waiting for connections in use to be returned.
func (s *Store) Close() error {
	s.stopGrouper()
	s.pool.Close()
	return nil
}

// parseURL parses url into a pool configuration with our defaults and the
// schema= parameter applied.
func parseURL(url string) (target, error) {
	if strings.TrimSpace(url) == "" {
		return target{}, fmt.Errorf("postgres: empty database url: %w", core.ErrInvalid)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgconn's parse errors redact the password.
		return target{}, fmt.Errorf("postgres: parse database url: %w: %w", core.ErrInvalid, err)
	}
	t := target{cfg: cfg}
	rp := cfg.ConnConfig.RuntimeParams
	if schema, ok := rp[SchemaParam]; ok {
		delete(rp, SchemaParam)
		if _, both := rp["search_path"]; both {
			return target{}, fmt.Errorf("postgres: database url: give schema or search_path, not both: %w", core.ErrInvalid)
		}
		if schema == "" || strings.ContainsRune(schema, 0) {
			return target{}, fmt.Errorf("postgres: database url: bad schema %q: %w", schema, core.ErrInvalid)
		}
		t.schema = schema
		rp["search_path"] = pgx.Identifier{schema}.Sanitize()
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = int32(max(8, 2*runtime.GOMAXPROCS(0)))
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	return t, nil
}

// lockKey is the pg_advisory_lock key that serialises migrations of one
// schema: different schemas of one database migrate independently.
func (t target) lockKey() int64 {
	h := fnv.New64a()
	h.Write([]byte("agentgate/storage/postgres migrate\x00"))
	h.Write([]byte(t.cfg.ConnConfig.RuntimeParams["search_path"]))
	return int64(h.Sum64())
}

// withMigrator runs f with a migrator on the target's schema, through
// pool (nil: a pool of its own), while it holds the migration lock.
func withMigrator(ctx context.Context, t target, pool *pgxpool.Pool, f func(*migrate.Migrator) error) error {
	if pool == nil {
		cfg := t.cfg.Copy()
		cfg.MaxConns, cfg.MinConns = 2, 0
		var err error
		if pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
			return fmt.Errorf("postgres: migrate: %w", dbErr(ctx, err))
		}
		defer pool.Close()
	}
	lock, release, err := lockConn(ctx, t, pool)
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", dbErr(ctx, err))
	}
	defer release()
	if _, err := lock.Exec(ctx, `SELECT pg_advisory_lock($1)`, t.lockKey()); err != nil {
		return fmt.Errorf("postgres: migrate: take the migration lock: %w", dbErr(ctx, err))
	}
	if t.schema != "" {
		if _, err := lock.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{t.schema}.Sanitize()); err != nil {
			return fmt.Errorf("postgres: create schema %q: %w", t.schema, dbErr(ctx, err))
		}
	}
	db := stdlib.OpenDBFromPool(pool) // closing it leaves the pool open
	defer db.Close()
	m, err := newMigrator(db)
	if err != nil {
		return err
	}
	return f(m)
}

// lockConn returns a connection on which to hold the (session-level)
// migration lock, and the function that unlocks and gives it back. It is
// one of pool's unless the pool cannot spare one for goose as well. A
// connection that cannot be unlocked is closed: ending its session
// releases the lock.
func lockConn(ctx context.Context, t target, pool *pgxpool.Pool) (*pgx.Conn, func(), error) {
	unlock := func(c *pgx.Conn) {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, err := c.Exec(uctx, `SELECT pg_advisory_unlock($1)`, t.lockKey()); err != nil {
			c.Close(uctx)
		}
	}
	if pool.Config().MaxConns < 2 {
		c, err := pgx.ConnectConfig(ctx, t.cfg.ConnConfig.Copy())
		if err != nil {
			return nil, nil, err
		}
		return c, func() {
			unlock(c)
			c.Close(context.WithoutCancel(ctx))
		}, nil
	}
	pc, err := pool.Acquire(ctx)
	if err != nil {
		return nil, nil, err
	}
	return pc.Conn(), func() {
		unlock(pc.Conn())
		pc.Release() // the pool drops it if unlock closed it
	}, nil
}

func migrateTo(ctx context.Context, t target, pool *pgxpool.Pool, targetVersion int64) error {
	return withMigrator(ctx, t, pool, func(m *migrate.Migrator) error {
		if err := m.To(ctx, targetVersion); err != nil {
			if errors.Is(err, core.ErrInvalid) {
				return fmt.Errorf("postgres: %w", err)
			}
			return fmt.Errorf("postgres: %w", dbErr(ctx, err))
		}
		return nil
	})
}

func versionOf(ctx context.Context, t target, pool *pgxpool.Pool) (int64, error) {
	var v int64
	err := withMigrator(ctx, t, pool, func(m *migrate.Migrator) error {
		var err error
		if v, err = m.Version(ctx); err != nil {
			return fmt.Errorf("postgres: %w", dbErr(ctx, err))
		}
		return nil
	})
	return v, err
}

func newMigrator(db *sql.DB) (*migrate.Migrator, error) {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	return migrate.New(goose.DialectPostgres, db, sub)
}

var _ core.RunStore = (*Store)(nil)
