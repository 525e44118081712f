package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/storage/sqlite"
	"github.com/agentgate/agentgate/storage/storetest"
)

func openFile(t testing.TB) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func openMemory(t testing.TB) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), ":memory:")
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// backend is what the conformance suite tests of s: one store serves
// every domain.
func backend(s *sqlite.Store) storetest.Backend {
	return storetest.Backend{Runs: s, ServiceAccounts: s, Schedules: s, Memories: s, Knowledge: s, Learnings: s, Traces: s, Metrics: s, Evals: s, Components: s, SessionMedia: s}
}

func TestStoreFile(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) storetest.Backend { return backend(openFile(t)) })
}

func TestStoreMemory(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) storetest.Backend { return backend(openMemory(t)) })
}

// TestStoreSharedFile runs the suite with every subtest on one database, as
// a shared Postgres would: the suite must not assume an empty database.
func TestStoreSharedFile(t *testing.T) {
	t.Parallel()
	b := backend(openFile(t))
	storetest.Run(t, func(t *testing.T) storetest.Backend { return b })
}

func TestOpenDSNForms(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := t.Context()
	for _, dsn := range []string{
		filepath.Join(dir, "plain.db"),
		"sqlite://" + filepath.Join(dir, "scheme.db"),
		"sqlite:" + filepath.Join(dir, "opaque.db"),
		"file:" + filepath.Join(dir, "uri.db") + "?cache=private",
		filepath.Join(dir, "params.db") + "?_pragma=cache_size(-4000)",
		":memory:",
		"sqlite://:memory:",
		"file::memory:?cache=shared",
	} {
		s, err := sqlite.Open(ctx, dsn)
		if err != nil {
			t.Fatalf("Open(%q): %v", dsn, err)
		}
		if err := s.Ping(ctx); err != nil {
			t.Fatalf("Ping(%q): %v", dsn, err)
		}
		if err := s.CreateSession(ctx, &core.Session{SessionID: "x", SessionType: core.SessionAgent}); err != nil {
			t.Fatalf("CreateSession(%q): %v", dsn, err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close(%q): %v", dsn, err)
		}
	}
	for _, dsn := range []string{"", "sqlite://", "  "} {
		if _, err := sqlite.Open(ctx, dsn); !errors.Is(err, core.ErrInvalid) {
			t.Fatalf("Open(%q): got %v, want ErrInvalid", dsn, err)
		}
	}
}

func TestFileSettings(t *testing.T) {
	t.Parallel()
	s := openFile(t)
	ctx := t.Context()
	for pragma, want := range map[string]string{
		"journal_mode": "wal",
		"foreign_keys": "1",
		"synchronous":  "1", // NORMAL
		"busy_timeout": "10000",
	} {
		var got string
		if err := s.DB().QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", pragma, err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %s, want %s", pragma, got, want)
		}
	}
	// One connection pinned by the writer goroutine, one for Ping and DB.
	if n := s.DB().Stats().MaxOpenConnections; n != 2 {
		t.Errorf("writer pool allows %d connections, want 2", n)
	}
}

func TestFilePersistsAcrossOpen(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	r := &core.Run{RunID: "r1", SessionID: "s1", Status: core.RunPaused, Paused: &core.PausedState{Turns: 3}}
	if err := s.CreateRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = sqlite.Open(ctx, "sqlite://"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.GetRun(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Paused == nil || got.Paused.Turns != 3 {
		t.Fatalf("paused state after reopen: %+v", got.Paused)
	}
}

func TestMemoryStoresAreSeparate(t *testing.T) {
	t.Parallel()
	a, b := openMemory(t), openMemory(t)
	ctx := t.Context()
	if err := a.CreateSession(ctx, &core.Session{SessionID: "only-in-a"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.GetSession(ctx, "only-in-a"); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("in-memory stores share data: %v", err)
	}
	if _, err := a.GetSession(ctx, "only-in-a"); err != nil {
		t.Fatal(err)
	}
}

func tables(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(),
		`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	return out
}

func wantVersion(t *testing.T, s *sqlite.Store, want int64) {
	t.Helper()
	v, err := s.Version(t.Context())
	if err != nil {
		t.Fatalf("Version: %v", err)
	}
	if v != want {
		t.Fatalf("Version = %d, want %d", v, want)
	}
}

func TestMigrateDownAndUp(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openFile(t)
	versions := sqlite.Versions()
	if len(versions) < 2 {
		t.Fatalf("Versions() = %v", versions)
	}
	latest := versions[len(versions)-1]
	wantVersion(t, s, latest)
	if got, want := tables(t, s.DB()), []string{"agentgate_db_version", "approvals", "component_configs", "components", "eval_runs", "idempotency_keys",
		"knowledge_blobs", "knowledge_chunks", "knowledge_chunks_fts", "knowledge_chunks_fts_config", "knowledge_chunks_fts_data", "knowledge_chunks_fts_docsize", "knowledge_chunks_fts_idx", "knowledge_contents",
		"learnings", "memories", "memories_fts", "memories_fts_config", "memories_fts_data", "memories_fts_docsize", "memories_fts_idx", "memories_fts_raw", "memories_fts_raw_config", "memories_fts_raw_data", "memories_fts_raw_docsize", "memories_fts_raw_idx",
		"metrics_days", "metrics_refresh", "runs", "schedule_runs", "schedules", "service_accounts", "session_media", "sessions"}; !slices.Equal(got, want) {
		t.Fatalf("tables %v, want %v", got, want)
	}
	if err := s.CreateSession(ctx, &core.Session{SessionID: "s"}); err != nil {
		t.Fatal(err)
	}

	// Down one step: runs is gone, sessions stays with its data.
	if err := s.Migrate(ctx, versions[0]); err != nil {
		t.Fatalf("Migrate(%d): %v", versions[0], err)
	}
	wantVersion(t, s, versions[0])
	if got := tables(t, s.DB()); slices.Contains(got, "runs") || !slices.Contains(got, "sessions") {
		t.Fatalf("tables at version %d: %v", versions[0], got)
	}
	if _, err := s.GetSession(ctx, "s"); err != nil {
		t.Fatalf("GetSession at version %d: %v", versions[0], err)
	}
	if _, err := s.GetRun(ctx, "r"); err == nil || errors.Is(err, core.ErrNotFound) {
		t.Fatalf("GetRun without a runs table: %v", err)
	}

	// Down to empty.
	if err := s.Migrate(ctx, 0); err != nil {
		t.Fatalf("Migrate(0): %v", err)
	}
	wantVersion(t, s, 0)
	if got := tables(t, s.DB()); !slices.Equal(got, []string{"agentgate_db_version"}) {
		t.Fatalf("tables at version 0: %v", got)
	}
	if err := s.Migrate(ctx, 0); err != nil { // already there
		t.Fatalf("Migrate(0) again: %v", err)
	}

	// Back up, one version and then the rest.
	if err := s.Migrate(ctx, versions[0]); err != nil {
		t.Fatalf("Migrate(%d): %v", versions[0], err)
	}
	wantVersion(t, s, versions[0])
	if err := s.Migrate(ctx, sqlite.Latest); err != nil {
		t.Fatalf("Migrate(Latest): %v", err)
	}
	wantVersion(t, s, latest)
	if err := s.Migrate(ctx, latest); err != nil { // already there
		t.Fatalf("Migrate(%d) again: %v", latest, err)
	}
	if _, err := s.GetSession(ctx, "s"); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("data survived a migration to 0: %v", err)
	}
	r := &core.Run{RunID: "r", Status: core.RunPending, Paused: &core.PausedState{Turns: 1}}
	if err := s.CreateRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetRun(ctx, "r"); err != nil || got.Paused == nil {
		t.Fatalf("GetRun after migrating back up: %+v, %v", got, err)
	}

	for _, bad := range []int64{-2, latest + 1, 12345} {
		if err := s.Migrate(ctx, bad); !errors.Is(err, core.ErrInvalid) {
			t.Fatalf("Migrate(%d): got %v, want ErrInvalid", bad, err)
		}
	}
	wantVersion(t, s, latest)
}

func TestMigrateWithOpenDB(t *testing.T) {
	// What `agentgate migrate --to VERSION` does: open without migrating,
	// move to the target, report the version.
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := sqlite.OpenDB(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if v, err := sqlite.Version(ctx, db); err != nil || v != 0 {
		t.Fatalf("Version of a new database: %d, %v", v, err)
	}
	first := sqlite.Versions()[0]
	if err := sqlite.Migrate(ctx, db, first); err != nil {
		t.Fatal(err)
	}
	if v, err := sqlite.Version(ctx, db); err != nil || v != first {
		t.Fatalf("Version: %d, %v; want %d", v, err, first)
	}
	// Open finishes the job.
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	v, err := s.Version(ctx)
	if latest := slices.Max(sqlite.Versions()); err != nil || v != latest {
		t.Fatalf("Version after Open: %d, %v; want %d", v, err, latest)
	}
}

func TestConcurrentOpenSameFile(t *testing.T) {
	// Two stores on one file (two replicas, or serve plus migrate) both
	// migrate and write without SQLITE_BUSY errors.
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "state.db")
	first, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	second, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := first
			if i%2 == 1 {
				s = second
			}
			r := &core.Run{RunID: fmt.Sprintf("r%d", i), SessionID: "s", Status: core.RunPending}
			if err := s.CreateRun(ctx, r); err != nil {
				errs <- err
				return
			}
			r.Status = core.RunRunning
			errs <- s.UpdateRun(ctx, r, core.UpdateRunParams{IfStatus: []core.RunStatus{core.RunPending}})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	runs, err := second.ListRuns(ctx, core.ListRunsParams{SessionID: "s", Status: core.RunRunning})
	if err != nil || len(runs) != 40 {
		t.Fatalf("ListRuns: %d runs, %v", len(runs), err)
	}
}

func BenchmarkCreateUpdateRun(b *testing.B) {
	for _, c := range []struct {
		name string
		open func(testing.TB) *sqlite.Store
	}{{"file", openFile}, {"memory", openMemory}} {
		b.Run(c.name, func(b *testing.B) {
			s := c.open(b)
			ctx := context.Background()
			run := &core.Run{
				SessionID: "bench", AgentID: "assistant", Status: core.RunPending,
				Input: core.RunInput{InputContent: "hello"},
				Messages: []core.Message{
					{Role: "user", Content: "hello"},
					{Role: "assistant", Content: "Hello! How can I help you today?"},
				},
				Metrics: &core.Metrics{InputTokens: 10, OutputTokens: 9, TotalTokens: 19},
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				run.RunID = fmt.Sprintf("run-%d", i)
				run.Status = core.RunPending
				if err := s.CreateRun(ctx, run); err != nil {
					b.Fatal(err)
				}
				run.Status = core.RunCompleted
				if err := s.UpdateRun(ctx, run, core.UpdateRunParams{IfStatus: []core.RunStatus{core.RunPending, core.RunRunning}}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkCreateUpdateRunParallel(b *testing.B) {
	s := openFile(b)
	ctx := context.Background()
	var mu sync.Mutex
	n := 0
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			mu.Lock()
			n++
			id := fmt.Sprintf("run-%d", n)
			mu.Unlock()
			run := &core.Run{RunID: id, SessionID: "bench", Status: core.RunPending}
			if err := s.CreateRun(ctx, run); err != nil {
				b.Error(err)
				return
			}
			run.Status = core.RunCompleted
			if err := s.UpdateRun(ctx, run, core.UpdateRunParams{IfStatus: []core.RunStatus{core.RunPending}}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func TestConcurrentOpenFreshFile(t *testing.T) {
	// Replicas starting together on a new file race to migrate it; every
	// Open must still succeed.
	t.Parallel()
	for range 2 {
		path := filepath.Join(t.TempDir(), "state.db")
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s, err := sqlite.Open(t.Context(), path)
				if err != nil {
					t.Error(err)
					return
				}
				if v, err := s.Version(t.Context()); err != nil || v != slices.Max(sqlite.Versions()) {
					t.Errorf("Version: %d, %v", v, err)
				}
				s.Close()
			}()
		}
		wg.Wait()
	}
}

func FuzzMemorySearch(f *testing.F) { storetest.FuzzMemorySearch(f, openMemory(f)) }
