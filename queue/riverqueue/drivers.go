package riverqueue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
)

// withClient gives q its River client on driver, configured from q.
func withClient[TTx any](q *Queue, driver riverdriver.Driver[TTx]) (*Queue, error) {
	rcfg, err := q.riverConfig()
	if err != nil {
		return nil, fmt.Errorf("riverqueue: %w", err)
	}
	client, err := river.NewClient(driver, rcfg)
	if err != nil {
		return nil, fmt.Errorf("riverqueue: %w", err)
	}
	q.client = client
	return q, nil
}

// migrateLockKey is the Postgres advisory lock that serialises River
// migrations of replicas starting together ("agqriver").
const migrateLockKey int64 = 0x6167717269766572

// NewPostgres creates a queue on a Postgres pool: River's tables live in the
// first schema of the pool's search_path. It migrates River's schema first
// (under an advisory lock, so replicas may start together). exec may be nil
// (see SetExecutor). The pool must stay open until Stop returned.
func NewPostgres(ctx context.Context, pool *pgxpool.Pool, exec Executor, cfg Config) (*Queue, error) {
	if pool == nil {
		return nil, errors.New("riverqueue: nil pool")
	}
	cfg = cfg.withDefaults(DefaultPostgresPollInterval)
	driver := riverpgxv5.New(pool)
	if err := migratePostgres(ctx, pool, driver, cfg); err != nil {
		return nil, err
	}
	q := newQueue(exec, cfg)
	q.depth = func(ctx context.Context) (n int64, err error) {
		err = pool.QueryRow(ctx, depthSQL).Scan(&n)
		return n, err
	}
	q.touch = func(ctx context.Context, jobID int64, attempt int) error {
		_, err := pool.Exec(ctx, `UPDATE river_job SET attempted_at = now()
			WHERE id = $1 AND attempt = $2 AND state = 'running'`, jobID, attempt)
		return err
	}
	q.release = func(ctx context.Context, runID string, before time.Time) error {
		_, err := pool.Exec(ctx, `UPDATE river_job SET state = 'available', scheduled_at = now()
			WHERE kind = $1 AND args->>'run_id' = $2
			AND (state = 'running' AND attempted_at < $3 OR state = 'retryable')`, Kind, runID, before)
		return err
	}
	return withClient(q, driver)
}

func migratePostgres(ctx context.Context, pool *pgxpool.Pool, driver riverdriver.Driver[pgx.Tx], cfg Config) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("riverqueue: migrate: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrateLockKey); err != nil {
		return fmt.Errorf("riverqueue: migrate: lock: %w", err)
	}
	defer func() {
		bg := context.WithoutCancel(ctx)
		if _, err := conn.Exec(bg, "SELECT pg_advisory_unlock($1)", migrateLockKey); err != nil {
			// Never hand a connection holding the lock back to the pool.
			_ = conn.Conn().Close(bg)
		}
	}()
	return migrate(ctx, driver, cfg, 1)
}

// NewSQLite creates a queue on a SQLite database (River's tables go into
// the same file). db should be configured like storage/sqlite's writer
// (sqlite.OpenDB: one connection, WAL, busy_timeout), as River's SQLite
// driver recommends a single connection. It migrates River's schema first;
// replicas starting together retry a migration the other applied. exec may
// be nil (see SetExecutor). db must stay open until Stop returned.
func NewSQLite(ctx context.Context, db *sql.DB, exec Executor, cfg Config) (*Queue, error) {
	if db == nil {
		return nil, errors.New("riverqueue: nil db")
	}
	cfg = cfg.withDefaults(DefaultSQLitePollInterval)
	driver := riversqlite.New(db)
	if err := migrate(ctx, driver, cfg, 5); err != nil {
		return nil, err
	}
	q := newQueue(exec, cfg)
	q.depth = func(ctx context.Context) (n int64, err error) {
		err = db.QueryRowContext(ctx, depthSQL).Scan(&n)
		return n, err
	}
	q.touch = func(ctx context.Context, jobID int64, attempt int) error {
		// River stores SQLite times as UTC text "2006-01-02 15:04:05.000",
		// which is what datetime('now', 'subsec') gives.
		_, err := db.ExecContext(ctx, `UPDATE river_job SET attempted_at = datetime('now', 'subsec')
			WHERE id = ? AND attempt = ? AND state = 'running'`, jobID, attempt)
		return err
	}
	q.release = func(ctx context.Context, runID string, before time.Time) error {
		_, err := db.ExecContext(ctx, `UPDATE river_job SET state = 'available', scheduled_at = datetime('now', 'subsec')
			WHERE kind = ? AND json_extract(args, '$.run_id') = ?
			AND (state = 'running' AND attempted_at < ? OR state = 'retryable')`,
			Kind, runID, before.UTC().Format("2006-01-02 15:04:05.000"))
		return err
	}
	return withClient(q, driver)
}

// migrate applies River's migrations, trying up to attempts times: the
// migrator plans outside its per-migration transactions, so a replica
// migrating at the same moment can make one attempt fail on a migration
// the other applied (nothing is changed then: every migration runs in its
// own transaction).
func migrate[TTx any](ctx context.Context, driver riverdriver.Driver[TTx], cfg Config, attempts int) error {
	m, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: quiet(cfg.Logger)})
	if err != nil {
		return fmt.Errorf("riverqueue: migrate: %w", err)
	}
	for i := 1; ; i++ {
		_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
		if err == nil {
			return nil
		}
		if i >= attempts || ctx.Err() != nil {
			return fmt.Errorf("riverqueue: migrate: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("riverqueue: migrate: %w", ctx.Err())
		case <-time.After(time.Duration(i) * 50 * time.Millisecond):
		}
	}
}
