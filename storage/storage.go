// Package storage opens the backends a URL names: the state database (every
// store of the gateway's state, its schema migrator and what the queue of
// background runs needs) and the event log. The wiring (the root package,
// cmd/agentgate) asks it for a Backend and never looks at the concrete
// stores.
package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/agentgate/agentgate/auth"
	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/component"
	"github.com/agentgate/agentgate/core/eval"
	"github.com/agentgate/agentgate/core/knowledge"
	"github.com/agentgate/agentgate/core/learning"
	"github.com/agentgate/agentgate/core/memory"
	"github.com/agentgate/agentgate/core/metric"
	"github.com/agentgate/agentgate/core/schedule"
	"github.com/agentgate/agentgate/core/trace"
	redactpkg "github.com/agentgate/agentgate/internal/redact"
	"github.com/agentgate/agentgate/queue/riverqueue"
	"github.com/agentgate/agentgate/storage/memlog"
	"github.com/agentgate/agentgate/storage/postgres"
	"github.com/agentgate/agentgate/storage/redislog"
	"github.com/agentgate/agentgate/storage/sqlite"
)

// Kinds of state database.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// Kind is SQLite or Postgres for a database URL, "" for one neither takes.
func Kind(url string) string {
	switch {
	case strings.HasPrefix(url, "sqlite:"):
		return SQLite
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return Postgres
	}
	return ""
}

// Store is every store the state database serves, one interface per
// domain.
type Store interface {
	core.RunStore
	auth.ServiceAccountStore
	schedule.Store
	memory.Store
	knowledge.Store
	learning.Store
	trace.Store
	metric.Store
	eval.Store
	core.SessionMediaStore
	component.Store
}

// Backend is an open state database.
type Backend struct {
	// Kind is SQLite or Postgres.
	Kind string
	// Store holds every store of the gateway's state.
	Store Store
	// Migrator moves the database's schema through the store's own
	// connections (POST /databases/{db_id}/migrate).
	Migrator Migrator
	// openQueue builds River on this database; queueDB is the SQLite
	// queue's own connection, closed with the backend.
	openQueue func(ctx context.Context, cfg riverqueue.Config) (*riverqueue.Queue, error)
	queueDB   *sql.DB
}

// Open opens (creating and migrating it to the latest schema) the state
// database url names: sqlite://FILE, sqlite::memory: or postgres://….
func Open(ctx context.Context, url string) (*Backend, error) {
	switch Kind(url) {
	case Postgres:
		st, err := postgres.Open(ctx, url)
		if err != nil {
			return nil, err
		}
		b := &Backend{Kind: Postgres, Store: st, Migrator: ownMigrator{st}}
		// River runs on the store's own pool.
		b.openQueue = func(ctx context.Context, cfg riverqueue.Config) (*riverqueue.Queue, error) {
			return riverqueue.NewPostgres(ctx, st.Pool(), nil, cfg)
		}
		return b, nil
	case SQLite:
		st, err := sqlite.Open(ctx, url)
		if err != nil {
			return nil, err
		}
		b := &Backend{Kind: SQLite, Store: st, Migrator: ownMigrator{st}}
		// River gets its own connection to the file: the store's writer
		// is single and batches its commits.
		b.openQueue = func(ctx context.Context, cfg riverqueue.Config) (*riverqueue.Queue, error) {
			db, err := sqlite.OpenDB(ctx, url)
			if err != nil {
				return nil, err
			}
			q, err := riverqueue.NewSQLite(ctx, db, nil, cfg)
			if err != nil {
				return nil, errors.Join(err, db.Close())
			}
			b.queueDB = db
			return q, nil
		}
		return b, nil
	}
	return nil, fmt.Errorf("database_url %q: want sqlite://FILE or postgres://…", redactpkg.URL(url))
}

// OpenQueue builds the durable queue of background runs on the database
// (River; its schema is migrated first). Stop it before Close.
func (b *Backend) OpenQueue(ctx context.Context, cfg riverqueue.Config) (*riverqueue.Queue, error) {
	return b.openQueue(ctx, cfg)
}

// Close closes the queue's connection, if any, and the store.
func (b *Backend) Close() error {
	var err error
	if b.queueDB != nil {
		err = b.queueDB.Close()
	}
	return errors.Join(err, b.Store.Close())
}

// OpenEventLog opens the event log: Redis Streams at url (redis:// or
// rediss://, keys under prefix), or, with no url, the in-memory log.
func OpenEventLog(ctx context.Context, url, prefix string, cfg core.EventLogConfig) (core.EventLog, error) {
	if url == "" {
		return memlog.New(cfg), nil
	}
	return redislog.New(ctx, redislog.Config{URL: url, Prefix: prefix, EventLog: cfg})
}

// Migrator moves a state database's schema (agentgate migrate).
type Migrator interface {
	Version(ctx context.Context) (int64, error)
	// Migrate moves to target: -1 the latest, 0 no tables, else a version.
	Migrate(ctx context.Context, target int64) error
	Close() error
}

// OpenMigrator opens the database at url for schema changes only, without
// migrating it.
func OpenMigrator(ctx context.Context, url string) (Migrator, error) {
	switch Kind(url) {
	case Postgres:
		return pgMigrator(url), nil
	case SQLite:
		db, err := sqlite.OpenDB(ctx, url)
		if err != nil {
			return nil, err
		}
		return &sqliteDBMigrator{db}, nil
	}
	return nil, fmt.Errorf("database_url %q: want sqlite://FILE or postgres://…", redactpkg.URL(url))
}

// sqliteDBMigrator migrates over one connection it holds until Close.
type sqliteDBMigrator struct{ db *sql.DB }

func (m *sqliteDBMigrator) Version(ctx context.Context) (int64, error) {
	return sqlite.Version(ctx, m.db)
}
func (m *sqliteDBMigrator) Migrate(ctx context.Context, target int64) error {
	return sqlite.Migrate(ctx, m.db, target)
}
func (m *sqliteDBMigrator) Close() error { return m.db.Close() }

// ownMigrator is an open store's own migrator (its connections, so an
// in-memory SQLite database is the one migrated); Close leaves the store
// open: Backend.Close closes it.
type ownMigrator struct {
	schema interface {
		Version(ctx context.Context) (int64, error)
		Migrate(ctx context.Context, target int64) error
	}
}

func (m ownMigrator) Version(ctx context.Context) (int64, error) { return m.schema.Version(ctx) }
func (m ownMigrator) Migrate(ctx context.Context, target int64) error {
	return m.schema.Migrate(ctx, target)
}
func (ownMigrator) Close() error { return nil }

// pgMigrator connects for each call (Migrate and Version do).
type pgMigrator string

func (m pgMigrator) Version(ctx context.Context) (int64, error) {
	return postgres.Version(ctx, string(m))
}
func (m pgMigrator) Migrate(ctx context.Context, target int64) error {
	return postgres.Migrate(ctx, string(m), target)
}
func (m pgMigrator) Close() error { return nil }
