package riverqueue_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/agentgate/agentgate/internal/testutil"
	"github.com/agentgate/agentgate/queue/riverqueue"
	"github.com/agentgate/agentgate/storage/sqlite"
)

// ---------------------------------------------------------------------------
// Backends

// testDB is one throwaway database (a SQLite file, a Postgres schema) that
// several queues ("replicas") share.
type testDB interface {
	// newQueue opens a new connection (pool) to the database, as another
	// process would, and creates a queue on it; kill cuts that connection
	// from the database for good, as if the process had been SIGKILLed
	// (its in-process goroutines carry on, but cannot touch the database).
	newQueue(t *testing.T, exec riverqueue.Executor, cfg riverqueue.Config) (q *riverqueue.Queue, kill func())
	// queryString runs query (no arguments) on an administrative
	// connection and returns the first column of the first row ("" when
	// there is none); exec runs a statement.
	queryString(t *testing.T, query string) string
	exec(t *testing.T, query string)
}

func forEachBackend(t *testing.T, test func(t *testing.T, newDB func(t *testing.T) testDB)) {
	t.Run("SQLite", func(t *testing.T) {
		t.Parallel()
		test(t, newSQLiteDB)
	})
	t.Run("Postgres", func(t *testing.T) {
		t.Parallel()
		test(t, newPostgresDB)
	})
}

// SQLite: a file in t.TempDir, each queue on its own sqlite.OpenDB.

type sqliteDB struct {
	path  string
	admin *sql.DB
}

func newSQLiteDB(t *testing.T) testDB {
	path := filepath.Join(t.TempDir(), "state.db")
	admin, err := sqlite.OpenDB(context.Background(), path)
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { admin.Close() })
	return &sqliteDB{path: path, admin: admin}
}

func (d *sqliteDB) newQueue(t *testing.T, exec riverqueue.Executor, cfg riverqueue.Config) (*riverqueue.Queue, func()) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.OpenDB(ctx, d.path)
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	q, err := riverqueue.NewSQLite(ctx, db, exec, cfg)
	if err != nil {
		db.Close()
		t.Fatalf("NewSQLite: %v", err)
	}
	var killed atomic.Bool
	t.Cleanup(func() {
		if killed.Load() {
			return
		}
		stopQueue(t, q)
		db.Close()
	})
	return q, func() {
		killed.Store(true)
		db.Close()
	}
}

func (d *sqliteDB) queryString(t *testing.T, query string) string {
	t.Helper()
	var s sql.NullString
	err := d.admin.QueryRow(query).Scan(&s)
	if errors.Is(err, sql.ErrNoRows) {
		return ""
	}
	if err != nil {
		t.Fatalf("query %q: %v", query, err)
	}
	return s.String
}

func (d *sqliteDB) exec(t *testing.T, query string) {
	t.Helper()
	if _, err := d.admin.Exec(query); err != nil {
		t.Fatalf("exec %q: %v", query, err)
	}
}

// Postgres: a throwaway schema on the test server, each queue on its own
// pool whose search_path is that schema.

type postgresDB struct {
	cfg   *pgxpool.Config // search_path set; copy per pool
	admin *pgxpool.Pool
}

func postgresURL() string {
	if u := strings.TrimSpace(os.Getenv("TEST_DATABASE_URL")); u != "" {
		return u
	}
	return "postgres://root@127.0.0.1:5432/test?sslmode=disable"
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func newPostgresDB(t *testing.T) testDB {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	url := postgresURL()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("cannot reach the test PostgreSQL server %s (set TEST_DATABASE_URL): %v", url, err)
	}
	schema := "riverqueue_test_" + randomHex(6)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		conn.Close(ctx)
		t.Fatalf("create schema: %v", err)
	}
	conn.Close(ctx)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})

	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	admin, err := pgxpool.NewWithConfig(ctx, cfg.Copy())
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(admin.Close) // before the schema is dropped
	return &postgresDB{cfg: cfg, admin: admin}
}

func (d *postgresDB) newQueue(t *testing.T, exec riverqueue.Executor, cfg riverqueue.Config) (*riverqueue.Queue, func()) {
	t.Helper()
	ctx := context.Background()
	app := "riverqueue_test_" + randomHex(6)
	pcfg := d.cfg.Copy()
	pcfg.ConnConfig.RuntimeParams["application_name"] = app
	var killed atomic.Bool
	pcfg.BeforeConnect = func(context.Context, *pgx.ConnConfig) error {
		if killed.Load() {
			return errors.New("replica killed")
		}
		return nil
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	q, err := riverqueue.NewPostgres(ctx, pool, exec, cfg)
	if err != nil {
		pool.Close()
		t.Fatalf("NewPostgres: %v", err)
	}
	t.Cleanup(func() {
		if killed.Load() {
			return
		}
		stopQueue(t, q)
		pool.Close()
	})
	return q, func() {
		killed.Store(true)
		if _, err := d.admin.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
			WHERE application_name = $1`, app); err != nil {
			t.Errorf("terminate backends: %v", err)
		}
	}
}

func (d *postgresDB) queryString(t *testing.T, query string) string {
	t.Helper()
	rows, err := d.admin.Query(context.Background(), query)
	if err != nil {
		t.Fatalf("query %q: %v", query, err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			t.Fatalf("query %q: %v", query, err)
		}
		return ""
	}
	vals, err := rows.Values()
	if err != nil {
		t.Fatalf("query %q: %v", query, err)
	}
	if vals[0] == nil {
		return ""
	}
	return fmt.Sprint(vals[0])
}

func (d *postgresDB) exec(t *testing.T, query string) {
	t.Helper()
	if _, err := d.admin.Exec(context.Background(), query); err != nil {
		t.Fatalf("exec %q: %v", query, err)
	}
}

func stopQueue(t *testing.T, q *riverqueue.Queue) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := q.Stop(ctx); err != nil {
		t.Errorf("Stop: %v", err)
	}
}

// ---------------------------------------------------------------------------
// Fake executor and helpers

type call struct {
	runID   string
	attempt int
}

type fakeExec struct {
	fn func(ctx context.Context, runID string, attempt int) error

	mu         sync.Mutex
	calls      []call
	running    int
	maxRunning int
	notify     chan call
}

func newFake(fn func(ctx context.Context, runID string, attempt int) error) *fakeExec {
	return &fakeExec{fn: fn, notify: make(chan call, 1000)}
}

func (f *fakeExec) ExecuteQueued(ctx context.Context, runID string, attempt int) error {
	c := call{runID, attempt}
	f.mu.Lock()
	f.calls = append(f.calls, c)
	f.running++
	f.maxRunning = max(f.maxRunning, f.running)
	f.mu.Unlock()
	f.notify <- c
	defer func() {
		f.mu.Lock()
		f.running--
		f.mu.Unlock()
	}()
	if f.fn != nil {
		return f.fn(ctx, runID, attempt)
	}
	return nil
}

func (f *fakeExec) snapshot() (calls []call, running, maxRunning int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]call(nil), f.calls...), f.running, f.maxRunning
}

// next waits for the next call.
func (f *fakeExec) next(t *testing.T, within time.Duration) call {
	t.Helper()
	select {
	case c := <-f.notify:
		return c
	case <-time.After(within):
		calls, _, _ := f.snapshot()
		t.Fatalf("no executor call within %v (calls so far: %v)", within, calls)
		return call{}
	}
}

// quiet asserts that no call comes for d.
func (f *fakeExec) quiet(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case c := <-f.notify:
		t.Fatalf("unexpected executor call %+v", c)
	case <-time.After(d):
	}
}

// logRecorder is a slog.Handler that keeps messages (Warn and above are
// also written to the test log) and can be muted (a killed replica).
type logRecorder struct {
	t     *testing.T
	mu    *sync.Mutex
	msgs  *[]string
	muted *atomic.Bool
	attrs []slog.Attr
}

func newLogger(t *testing.T) (*slog.Logger, *logRecorder) {
	h := &logRecorder{t: t, mu: &sync.Mutex{}, msgs: &[]string{}, muted: &atomic.Bool{}}
	return slog.New(h), h
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecorder) WithGroup(string) slog.Handler            { return h }
func (h *logRecorder) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return &c
}

func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	if h.muted.Load() {
		return nil
	}
	var b strings.Builder
	b.WriteString(r.Level.String() + " " + r.Message)
	for _, a := range h.attrs {
		b.WriteString(" " + a.String())
	}
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.String())
		return true
	})
	h.mu.Lock()
	*h.msgs = append(*h.msgs, b.String())
	h.mu.Unlock()
	if r.Level >= slog.LevelWarn {
		h.t.Log(b.String())
	}
	return nil
}

func (h *logRecorder) has(substr string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range *h.msgs {
		if strings.Contains(m, substr) {
			return true
		}
	}
	return false
}

// ---------------------------------------------------------------------------
// Tests

// An enqueued run is executed once, with attempt 1; enqueueing it again
// while its job waits is a no-op. The executor may be set after
// construction.
func TestExecutesOnce(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, newDB func(t *testing.T) testDB) {
		db := newDB(t)
		ctx := context.Background()
		logger, _ := newLogger(t)
		q, _ := db.newQueue(t, nil, riverqueue.Config{Logger: logger})
		if err := q.Start(ctx); err == nil {
			t.Fatal("Start without an executor succeeded")
		}
		exec := newFake(nil)
		q.SetExecutor(exec)
		for range 2 {
			if err := q.Enqueue(ctx, "run-1"); err != nil {
				t.Fatalf("Enqueue: %v", err)
			}
		}
		if n := db.queryString(t, "SELECT count(*) FROM river_job"); n != "1" {
			t.Fatalf("%s jobs after enqueueing the same run twice, want 1", n)
		}
		if err := q.Start(ctx); err != nil {
			t.Fatalf("Start: %v", err)
		}
		if c := exec.next(t, 10*time.Second); c != (call{"run-1", 1}) {
			t.Fatalf("call = %+v, want run-1 attempt 1", c)
		}
		testutil.Eventually(t, 5*time.Second, "the job to complete", func() bool {
			return db.queryString(t, "SELECT state FROM river_job") == "completed"
		})
		exec.quiet(t, 500*time.Millisecond)
	})
}

// At most Workers runs execute at once on a replica.
func TestConcurrencyBounded(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, newDB func(t *testing.T) testDB) {
		db := newDB(t)
		ctx := context.Background()
		release := make(chan struct{})
		exec := newFake(func(ctx context.Context, _ string, _ int) error {
			select {
			case <-release:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		logger, _ := newLogger(t)
		q, _ := db.newQueue(t, exec, riverqueue.Config{Workers: 3, Logger: logger})
		if err := q.Start(ctx); err != nil {
			t.Fatalf("Start: %v", err)
		}
		const runs = 8
		for i := range runs {
			if err := q.Enqueue(ctx, fmt.Sprintf("run-%d", i)); err != nil {
				t.Fatalf("Enqueue: %v", err)
			}
		}
		testutil.Eventually(t, 10*time.Second, "3 runs executing", func() bool {
			_, running, _ := exec.snapshot()
			return running == 3
		})
		time.Sleep(500 * time.Millisecond) // more fetch rounds: still 3
		if calls, running, maxRunning := exec.snapshot(); running != 3 || maxRunning != 3 || len(calls) != 3 {
			t.Fatalf("running %d, max %d, calls %d; want 3, 3, 3", running, maxRunning, len(calls))
		}
		close(release)
		testutil.Eventually(t, 15*time.Second, "every run executed", func() bool {
			calls, _, _ := exec.snapshot()
			return len(calls) == runs
		})
		calls, _, maxRunning := exec.snapshot()
		if maxRunning != 3 {
			t.Fatalf("max concurrent runs %d, want 3", maxRunning)
		}
		seen := map[string]bool{}
		for _, c := range calls {
			if seen[c.runID] || c.attempt != 1 {
				t.Fatalf("calls %v: want each run once with attempt 1", calls)
			}
			seen[c.runID] = true
		}
	})
}

// A failing executor is retried with River's backoff and the attempt
// incremented; after the last attempt the job is discarded and the failure
// logged.
func TestRetriesFailures(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, newDB func(t *testing.T) testDB) {
		db := newDB(t)
		ctx := context.Background()
		exec := newFake(func(context.Context, string, int) error { return errors.New("model unavailable") })
		logger, logs := newLogger(t)
		q, _ := db.newQueue(t, exec, riverqueue.Config{MaxAttempts: 2, Logger: logger})
		if err := q.Start(ctx); err != nil {
			t.Fatalf("Start: %v", err)
		}
		if err := q.Enqueue(ctx, "run-f"); err != nil {
			t.Fatalf("Enqueue: %v", err)
		}
		first := exec.next(t, 10*time.Second)
		start := time.Now()
		second := exec.next(t, 10*time.Second)
		if first != (call{"run-f", 1}) || second != (call{"run-f", 2}) {
			t.Fatalf("calls %+v, %+v; want run-f attempts 1 and 2", first, second)
		}
		if d := time.Since(start); d < 500*time.Millisecond {
			t.Fatalf("retried after %v, want River's backoff (~1 s)", d)
		}
		testutil.Eventually(t, 5*time.Second, "the job to be discarded", func() bool {
			return db.queryString(t, "SELECT state FROM river_job") == "discarded"
		})
		if !logs.has("giving up") {
			t.Fatal("the last failure was not logged")
		}
		exec.quiet(t, 1500*time.Millisecond)
	})
}

// A run longer than RescueAfter is not cut short (River's per-job timeout
// does not reach it) and its job is kept alive by the heartbeat.
func TestLongRunHeartbeat(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, newDB func(t *testing.T) testDB) {
		db := newDB(t)
		ctx := context.Background()
		var cutShort atomic.Bool
		exec := newFake(func(ctx context.Context, _ string, _ int) error {
			select {
			case <-time.After(1500 * time.Millisecond):
				return nil
			case <-ctx.Done():
				cutShort.Store(true)
				return ctx.Err()
			}
		})
		logger, _ := newLogger(t)
		q, _ := db.newQueue(t, exec, riverqueue.Config{RescueAfter: 400 * time.Millisecond, Logger: logger})
		if err := q.Start(ctx); err != nil {
			t.Fatalf("Start: %v", err)
		}
		if err := q.Enqueue(ctx, "run-long"); err != nil {
			t.Fatalf("Enqueue: %v", err)
		}
		exec.next(t, 10*time.Second)
		const attemptedAt = "SELECT CAST(attempted_at AS TEXT) FROM river_job"
		at0 := db.queryString(t, attemptedAt)
		time.Sleep(500 * time.Millisecond)
		if at1 := db.queryString(t, attemptedAt); at1 == at0 {
			t.Fatalf("attempted_at still %s after 500 ms: no heartbeat", at0)
		}
		testutil.Eventually(t, 5*time.Second, "the job to complete", func() bool {
			return db.queryString(t, "SELECT state FROM river_job") == "completed"
		})
		if cutShort.Load() {
			t.Fatal("the run's context ended before the run did")
		}
	})
}

// A replica killed mid-run (its connection cut, never completing its job)
// loses the job to another replica: once the dead one's leadership lapses,
// the new leader's rescuer puts the job back and the live replica executes
// it with the next attempt.
func TestRescuedAfterCrash(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, newDB func(t *testing.T) testDB) {
		db := newDB(t)
		ctx := context.Background()
		cfg := riverqueue.Config{RescueAfter: time.Second}

		var aCtxEnded atomic.Bool
		execA := newFake(func(ctx context.Context, _ string, _ int) error {
			<-ctx.Done() // hangs until the (dead) process's goroutines are stopped
			aCtxEnded.Store(true)
			return ctx.Err()
		})
		loggerA, logsA := newLogger(t)
		cfgA := cfg
		cfgA.Logger = loggerA
		qa, killA := db.newQueue(t, execA, cfgA)
		if err := qa.Start(ctx); err != nil {
			t.Fatalf("Start A: %v", err)
		}
		if err := qa.Enqueue(ctx, "run-crash"); err != nil {
			t.Fatalf("Enqueue: %v", err)
		}
		if c := execA.next(t, 10*time.Second); c != (call{"run-crash", 1}) {
			t.Fatalf("A got %+v, want run-crash attempt 1", c)
		}
		testutil.Eventually(t, 10*time.Second, "A to lead", func() bool {
			return db.queryString(t, "SELECT count(*) FROM river_leader") == "1"
		})

		execB := newFake(nil)
		loggerB, _ := newLogger(t)
		cfgB := cfg
		cfgB.Logger = loggerB
		qb, _ := db.newQueue(t, execB, cfgB)
		if err := qb.Start(ctx); err != nil {
			t.Fatalf("Start B: %v", err)
		}
		// B does not take the job A is running.
		execB.quiet(t, 1500*time.Millisecond)

		logsA.muted.Store(true) // a dead process logs nothing
		killA()
		killedAt := time.Now()
		// Past RescueAfter without a heartbeat; then fast-forward the dead
		// leader's lease (River's leader TTL is 15 s) instead of waiting.
		time.Sleep(cfg.RescueAfter + 300*time.Millisecond)
		db.exec(t, "DELETE FROM river_leader")

		c := execB.next(t, 25*time.Second)
		if c != (call{"run-crash", 2}) {
			t.Fatalf("B got %+v, want run-crash attempt 2", c)
		}
		t.Logf("rescued and re-executed %v after the kill", time.Since(killedAt).Round(100*time.Millisecond))
		if aCtxEnded.Load() {
			t.Fatal("A's run context ended: A was stopped, not killed")
		}
		if calls, _, _ := execA.snapshot(); len(calls) != 1 {
			t.Fatalf("A calls %v, want 1", calls)
		}
		testutil.Eventually(t, 5*time.Second, "the job to complete", func() bool {
			return db.queryString(t, "SELECT state FROM river_job") == "completed"
		})
	})
}

// Stop waits for running jobs until its ctx ends, then cancels them: the
// job goes back to available without using an attempt, and another replica
// executes it with the same attempt number.
func TestStopWaitsThenCancels(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, newDB func(t *testing.T) testDB) {
		db := newDB(t)
		ctx := context.Background()
		logger, _ := newLogger(t)

		// Graceful: the running job finishes within Stop's ctx.
		execA := newFake(func(context.Context, string, int) error {
			time.Sleep(300 * time.Millisecond)
			return nil
		})
		qa, _ := db.newQueue(t, execA, riverqueue.Config{Logger: logger})
		if err := qa.Start(ctx); err != nil {
			t.Fatalf("Start: %v", err)
		}
		if err := qa.Enqueue(ctx, "run-a"); err != nil {
			t.Fatalf("Enqueue: %v", err)
		}
		execA.next(t, 10*time.Second)
		stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := qa.Stop(stopCtx); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		if s := db.queryString(t, "SELECT state FROM river_job"); s != "completed" {
			t.Fatalf("job %s after a graceful stop, want completed", s)
		}
		db.exec(t, "DELETE FROM river_job")

		// Too slow: cancelled when Stop's ctx ends.
		execB := newFake(func(ctx context.Context, _ string, _ int) error {
			<-ctx.Done()
			return ctx.Err()
		})
		qb, _ := db.newQueue(t, execB, riverqueue.Config{Logger: logger})
		if err := qb.Start(ctx); err != nil {
			t.Fatalf("Start: %v", err)
		}
		if err := qb.Enqueue(ctx, "run-b"); err != nil {
			t.Fatalf("Enqueue: %v", err)
		}
		execB.next(t, 10*time.Second)
		stopCtx, cancel = context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		if err := qb.Stop(stopCtx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Stop = %v, want a deadline error", err)
		}
		if s := db.queryString(t, "SELECT state || ' ' || CAST(attempt AS TEXT) FROM river_job"); s != "available 0" {
			t.Fatalf("job %q after a cancelling stop, want %q", s, "available 0")
		}

		execC := newFake(nil)
		qc, _ := db.newQueue(t, execC, riverqueue.Config{Logger: logger})
		if err := qc.Start(ctx); err != nil {
			t.Fatalf("Start: %v", err)
		}
		if c := execC.next(t, 10*time.Second); c != (call{"run-b", 1}) {
			t.Fatalf("call %+v, want run-b attempt 1", c)
		}
	})
}

// Stop is idempotent and safe before Start; Enqueue and Start fail after it.
func TestStopLifecycle(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, newDB func(t *testing.T) testDB) {
		db := newDB(t)
		ctx := context.Background()
		logger, _ := newLogger(t)

		q1, _ := db.newQueue(t, newFake(nil), riverqueue.Config{Logger: logger})
		if err := q1.Stop(ctx); err != nil {
			t.Fatalf("Stop before Start: %v", err)
		}
		if err := q1.Enqueue(ctx, "run-x"); !errors.Is(err, riverqueue.ErrStopped) {
			t.Fatalf("Enqueue after Stop = %v, want ErrStopped", err)
		}

		q2, _ := db.newQueue(t, newFake(nil), riverqueue.Config{Logger: logger})
		for range 2 {
			if err := q2.Start(ctx); err != nil {
				t.Fatalf("Start: %v", err)
			}
		}
		for range 2 {
			if err := q2.Stop(ctx); err != nil {
				t.Fatalf("Stop: %v", err)
			}
		}
		if err := q2.Enqueue(ctx, "run-y"); !errors.Is(err, riverqueue.ErrStopped) {
			t.Fatalf("Enqueue after Stop = %v, want ErrStopped", err)
		}
		if err := q2.Start(ctx); !errors.Is(err, riverqueue.ErrStopped) {
			t.Fatalf("Start after Stop = %v, want ErrStopped", err)
		}
		if n := db.queryString(t, "SELECT count(*) FROM river_job"); n != "0" {
			t.Fatalf("%s jobs, want 0", n)
		}
	})
}

// Rescue (the engine's reaper found the run's lease ended) hands a dead
// worker's job to a live replica at once, without River's rescuer (which
// would wait RescueAfter, here the default minute, and its 30 s period);
// a job whose attempt was heard of after the lease's end is left alone.
func TestRescueHandsALostJobOverAtOnce(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, newDB func(t *testing.T) testDB) {
		db := newDB(t)
		ctx := context.Background()
		execA := newFake(func(ctx context.Context, _ string, _ int) error {
			<-ctx.Done()
			return ctx.Err()
		})
		loggerA, logsA := newLogger(t)
		qa, killA := db.newQueue(t, execA, riverqueue.Config{Logger: loggerA})
		if err := qa.Start(ctx); err != nil {
			t.Fatalf("Start A: %v", err)
		}
		if err := qa.Enqueue(ctx, "run-lost"); err != nil {
			t.Fatalf("Enqueue: %v", err)
		}
		if c := execA.next(t, 10*time.Second); c != (call{"run-lost", 1}) {
			t.Fatalf("A got %+v, want run-lost attempt 1", c)
		}
		execB := newFake(func(_ context.Context, runID string, attempt int) error {
			if runID == "run-retry" && attempt < 3 {
				return errors.New("still leased elsewhere")
			}
			return nil
		})
		loggerB, _ := newLogger(t)
		qb, _ := db.newQueue(t, execB, riverqueue.Config{Logger: loggerB})
		if err := qb.Start(ctx); err != nil {
			t.Fatalf("Start B: %v", err)
		}
		// A lease that ended before the attempt started: the attempt is
		// newer than the loss, so it is left alone.
		if err := qb.Rescue(ctx, "run-lost", time.Now().Add(-time.Hour)); err != nil {
			t.Fatalf("Rescue: %v", err)
		}
		execB.quiet(t, 1500*time.Millisecond)
		if n := db.queryString(t, "SELECT count(*) FROM river_job"); n != "1" {
			t.Fatalf("%s jobs after rescuing a run with a running job, want 1", n)
		}

		logsA.muted.Store(true)
		killA()
		lost := time.Now()
		if err := qb.Rescue(ctx, "run-lost", lost); err != nil {
			t.Fatalf("Rescue: %v", err)
		}
		// Well within RescueAfter (a minute): the dead process's SQLite
		// connection may hold the write lock for a few seconds.
		c := execB.next(t, 15*time.Second)
		if c != (call{"run-lost", 2}) {
			t.Fatalf("B got %+v, want run-lost attempt 2", c)
		}
		t.Logf("re-executed %v after Rescue", time.Since(lost).Round(10*time.Millisecond))
		testutil.Eventually(t, 5*time.Second, "the job to complete", func() bool {
			return db.queryString(t, "SELECT state FROM river_job") == "completed"
		})
		// A run without a live job is enqueued again.
		if err := qb.Rescue(ctx, "run-lost", time.Now()); err != nil {
			t.Fatalf("Rescue: %v", err)
		}
		if c := execB.next(t, 5*time.Second); c != (call{"run-lost", 1}) {
			t.Fatalf("B got %+v, want run-lost enqueued again (attempt 1)", c)
		}
		// A job waiting for its retry (River's backoff: 16 s after a second
		// failure) is tried again at once.
		if err := qb.Enqueue(ctx, "run-retry"); err != nil {
			t.Fatal(err)
		}
		execB.next(t, 5*time.Second)
		execB.next(t, 5*time.Second) // attempt 2 fails too: the next retry is far off
		testutil.Eventually(t, 5*time.Second, "the job to wait for its retry", func() bool {
			return db.queryString(t, "SELECT state FROM river_job WHERE CAST(args AS TEXT) LIKE '%run-retry%'") == "retryable"
		})
		if err := qb.Rescue(ctx, "run-retry", time.Now()); err != nil {
			t.Fatalf("Rescue: %v", err)
		}
		if c := execB.next(t, 5*time.Second); c != (call{"run-retry", 3}) {
			t.Fatalf("B got %+v, want run-retry attempt 3 at once", c)
		}
	})
}
