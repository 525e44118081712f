package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentgate/agentgate/auth"
	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/storage/postgres"
	"github.com/agentgate/agentgate/storage/postgres/pgtest"
	"github.com/agentgate/agentgate/storage/storetest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// open opens a store on url and closes it when the test ends.
func open(t testing.TB, url string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), url)
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

// openFresh opens a store on a fresh throwaway schema.
func openFresh(t testing.TB) *postgres.Store {
	t.Helper()
	return open(t, pgtest.URL(t))
}

// TestStore runs the conformance suite with a fresh schema per subtest.
func TestStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, freshStores(t, 6))
}

// backend is what the conformance suite tests of s: one store serves
// every domain.
func backend(s *postgres.Store) storetest.Backend {
	return storetest.Backend{Runs: s, ServiceAccounts: s, Schedules: s, Memories: s, Knowledge: s, Learnings: s, Traces: s, Metrics: s, Evals: s, Components: s, SessionMedia: s}
}

// freshStores returns a storetest factory handing out stores on fresh
// schemas (created by Open, from the schema= parameter), which workers
// goroutines prepare ahead of need: opening one mostly waits on the
// server, and the suite's parallel subtests run few at a time (-parallel is
// GOMAXPROCS). A subtest's store is closed when it ends and its schema
// dropped in the background; the stores nobody took, and the drops, are
// finished when t ends.
func freshStores(t *testing.T, workers int) storetest.Factory {
	type prepared struct {
		s      *postgres.Store
		schema string
		err    error
	}
	admin, err := pgxpool.New(t.Context(), pgtest.BaseURL())
	if err != nil {
		t.Fatal(err)
	}
	var drops sync.WaitGroup
	drop := func(schema string) {
		drops.Add(1)
		go func() {
			defer drops.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if _, err := admin.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`); err != nil {
				t.Errorf("drop schema %s: %v", schema, err)
			}
		}()
	}

	ready := make(chan prepared, 2)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				p := prepared{schema: pgtest.NewSchemaName()}
				u, err := url.Parse(pgtest.BaseURL())
				if p.err = err; err == nil {
					q := u.Query()
					q.Set(postgres.SchemaParam, p.schema)
					u.RawQuery = q.Encode()
					p.s, p.err = postgres.Open(ctx, u.String())
				}
				select {
				case ready <- p:
				case <-ctx.Done():
					if p.err == nil {
						p.s.Close()
					}
					drop(p.schema)
					return
				}
			}
		}()
	}
	t.Cleanup(func() {
		cancel()
		go func() { wg.Wait(); close(ready) }()
		for p := range ready {
			if p.err == nil {
				p.s.Close()
			}
			drop(p.schema)
		}
		drops.Wait()
		admin.Close()
	})
	return func(t *testing.T) storetest.Backend {
		t.Helper()
		p := <-ready
		t.Cleanup(func() {
			if p.err == nil {
				p.s.Close()
			}
			drop(p.schema)
		})
		if p.err != nil {
			t.Fatal(p.err)
		}
		return backend(p.s)
	}
}

// TestStoreShared runs the suite with every subtest on one schema and one
// store, as replicas share one database.
func TestStoreShared(t *testing.T) {
	t.Parallel()
	b := backend(openFresh(t))
	storetest.Run(t, func(t *testing.T) storetest.Backend { return b })
}

// tables lists the tables of the store's schema.
func tables(t *testing.T, s *postgres.Store) []string {
	t.Helper()
	rows, err := s.Pool().Query(t.Context(),
		`SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func wantVersion(t *testing.T, s *postgres.Store, want int64) {
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
	s := openFresh(t)
	versions := postgres.Versions()
	if len(versions) < 2 {
		t.Fatalf("Versions() = %v", versions)
	}
	latest := versions[len(versions)-1]
	wantVersion(t, s, latest)
	if got, want := tables(t, s), []string{"agentgate_db_version", "approvals", "component_configs", "components", "eval_runs", "idempotency_keys",
		"knowledge_blobs", "knowledge_chunks", "knowledge_contents", "learnings", "memories", "metrics_days", "metrics_refresh", "runs", "schedule_runs", "schedules", "service_accounts", "session_media", "sessions", "spans", "traces"}; !slices.Equal(got, want) {
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
	if got := tables(t, s); slices.Contains(got, "runs") || !slices.Contains(got, "sessions") {
		t.Fatalf("tables at version %d: %v", versions[0], got)
	}
	if _, err := s.GetSession(ctx, "s"); err != nil {
		t.Fatalf("GetSession at version %d: %v", versions[0], err)
	}
	if _, err := s.GetRun(ctx, "r"); err == nil || errors.Is(err, core.ErrNotFound) || errors.Is(err, core.ErrUnavailable) {
		t.Fatalf("GetRun without a runs table: %v", err)
	}

	// Down to empty.
	if err := s.Migrate(ctx, 0); err != nil {
		t.Fatalf("Migrate(0): %v", err)
	}
	wantVersion(t, s, 0)
	if got := tables(t, s); !slices.Equal(got, []string{"agentgate_db_version"}) {
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
	if err := s.Migrate(ctx, postgres.Latest); err != nil {
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

func TestMigrateByURL(t *testing.T) {
	// What `agentgate migrate --to VERSION` does: move the database named
	// by a URL to a target, report the version; Open finishes the job.
	t.Parallel()
	ctx := t.Context()
	u := pgtest.URL(t)
	if v, err := postgres.Version(ctx, u); err != nil || v != 0 {
		t.Fatalf("Version of a new schema: %d, %v", v, err)
	}
	first := postgres.Versions()[0]
	if err := postgres.Migrate(ctx, u, first); err != nil {
		t.Fatal(err)
	}
	if v, err := postgres.Version(ctx, u); err != nil || v != first {
		t.Fatalf("Version: %d, %v; want %d", v, err, first)
	}
	s := open(t, u)
	wantVersion(t, s, slices.Max(postgres.Versions()))
	if err := postgres.Migrate(ctx, u, 0); err != nil {
		t.Fatal(err)
	}
	wantVersion(t, s, 0)
	if err := postgres.Migrate(ctx, u, 999); !errors.Is(err, core.ErrInvalid) {
		t.Fatalf("Migrate(999): %v, want ErrInvalid", err)
	}
}

func TestConcurrentOpenFreshSchema(t *testing.T) {
	// Replicas starting together on a new database race to migrate it;
	// every Open must succeed. Both with a schema that exists (search_path)
	// and one that Open must create (schema=).
	t.Parallel()
	schema := pgtest.NewSchemaName()
	t.Cleanup(func() { pgtest.Drop(t, schema) })
	for name, u := range map[string]string{
		"search_path": pgtest.URL(t),
		"schema":      pgtest.WithParam(t, pgtest.BaseURL(), postgres.SchemaParam, schema),
	} {
		t.Run(name, func(t *testing.T) {
			var wg sync.WaitGroup
			for range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					s, err := postgres.Open(t.Context(), u)
					if err != nil {
						t.Error(err)
						return
					}
					defer s.Close()
					if v, err := s.Version(t.Context()); err != nil || v != slices.Max(postgres.Versions()) {
						t.Errorf("Version: %d, %v", v, err)
					}
					if err := s.CreateSession(t.Context(), &core.Session{SessionID: fmt.Sprint(time.Now().UnixNano())}); err != nil {
						t.Error(err)
					}
				}()
			}
			wg.Wait()
		})
	}
}

func TestSchemaParam(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	schema := "Agentgate Test " + strings.TrimPrefix(pgtest.NewSchemaName(), "agentgate_test_")
	t.Cleanup(func() { pgtest.Drop(t, schema) })
	u := pgtest.WithParam(t, pgtest.BaseURL(), postgres.SchemaParam, schema)
	s := open(t, u)
	if err := s.CreateSession(ctx, &core.Session{SessionID: "in-schema"}); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{schema, "sessions"}.Sanitize()).Scan(&n); err != nil || n != 1 {
		t.Fatalf("sessions in schema %q: %d, %v", schema, n, err)
	}
	// A second store on the same URL sees the same data.
	if _, err := open(t, u).GetSession(ctx, "in-schema"); err != nil {
		t.Fatal(err)
	}
	// Another schema does not.
	if _, err := openFresh(t).GetSession(ctx, "in-schema"); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("schemas share data: %v", err)
	}

	for _, bad := range []string{
		"",
		"  ",
		pgtest.WithParam(t, u, "search_path", "public"),
		pgtest.WithParam(t, pgtest.BaseURL(), postgres.SchemaParam, ""),
		"postgres://root@127.0.0.1:5432/test?sslmode=bogus",
		"postgres://%zz",
	} {
		if _, err := postgres.Open(ctx, bad); !errors.Is(err, core.ErrInvalid) {
			t.Errorf("Open(%q): got %v, want ErrInvalid", bad, err)
		}
	}
}

// closedPortURL returns the test URL with its address replaced by a local
// port nothing listens on.
func closedPortURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return withHost(t, pgtest.BaseURL(), addr)
}

func withHost(t *testing.T, base, hostport string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = hostport
	return u.String()
}

func TestOpenUnreachableIsUnavailable(t *testing.T) {
	t.Parallel()
	u := closedPortURL(t)
	start := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	for name, f := range map[string]func() error{
		"Open":    func() error { _, err := postgres.Open(ctx, u); return err },
		"Migrate": func() error { return postgres.Migrate(ctx, u, postgres.Latest) },
		"Version": func() error { _, err := postgres.Version(ctx, u); return err },
	} {
		err := f()
		if !errors.Is(err, core.ErrUnavailable) || core.CodeOf(err) != core.CodeUnavailable {
			t.Fatalf("%s on a closed port: got %v (code %s), want ErrUnavailable", name, err, core.CodeOf(err))
		}
		if msg := core.MessageOf(err); strings.Contains(msg, "127.0.0.1") {
			t.Errorf("%s: user-facing message names the server: %q", name, msg)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("failing took %v", d)
	}
}

// proxy forwards TCP connections to target until stop, which also cuts
// every forwarded connection.
type proxy struct {
	l     net.Listener
	mu    sync.Mutex
	conns []net.Conn
	done  atomic.Bool
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{l: l}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			if p.done.Load() {
				c.Close()
				up.Close()
			}
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
	t.Cleanup(p.stop)
	return p
}

func (p *proxy) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done.Store(true)
	p.l.Close()
	for _, c := range p.conns {
		c.Close()
	}
}

func TestServerGoneIsUnavailable(t *testing.T) {
	// A store whose server goes away answers ErrUnavailable (503), not an
	// internal error, from every method; the caller's own cancellation is
	// not reported as an outage.
	t.Parallel()
	u := pgtest.URL(t)
	cfg, err := pgx.ParseConfig(u)
	if err != nil {
		t.Fatal(err)
	}
	p := startProxy(t, net.JoinHostPort(cfg.Host, fmt.Sprint(cfg.Port)))
	s := open(t, withHost(t, u, p.l.Addr().String()))
	ctx := t.Context()
	if err := s.CreateRun(ctx, &core.Run{RunID: "r", Status: core.RunPending}); err != nil {
		t.Fatal(err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.GetRun(canceled, "r"); err == nil || errors.Is(err, core.ErrUnavailable) {
		t.Fatalf("GetRun with a cancelled context: %v", err)
	}
	p.stop()
	for name, f := range map[string]func() error{
		"Ping":   func() error { return s.Ping(ctx) },
		"GetRun": func() error { _, err := s.GetRun(ctx, "r"); return err },
		"UpdateRun": func() error {
			return s.UpdateRun(ctx, &core.Run{RunID: "r", Status: core.RunRunning}, core.UpdateRunParams{})
		},
		"ListSessions": func() error { _, _, err := s.ListSessions(ctx, core.ListSessionsParams{Limit: 1}); return err },
		"CreateRunInSession": func() error {
			_, err := s.CreateRunInSession(ctx, &core.Session{SessionID: "s"}, &core.Run{RunID: "r2", SessionID: "s"})
			return err
		},
		"CreateServiceAccount": func() error {
			return s.CreateServiceAccount(ctx, &auth.ServiceAccount{ID: "sa", TokenHash: "h"})
		},
		"GetServiceAccountByTokenHash": func() error { _, err := s.GetServiceAccountByTokenHash(ctx, "h"); return err },
		"ListServiceAccounts": func() error {
			_, _, err := s.ListServiceAccounts(ctx, auth.ListServiceAccountsParams{Limit: 1})
			return err
		},
		"RevokeServiceAccount": func() error { _, err := s.RevokeServiceAccount(ctx, "sa", 1); return err },
		"TouchServiceAccount":  func() error { return s.TouchServiceAccount(ctx, "sa", 1) },
	} {
		if err := f(); !errors.Is(err, core.ErrUnavailable) {
			t.Errorf("%s after the server went away: got %v, want ErrUnavailable", name, err)
		}
	}
}

func TestTextPostgresCannotStore(t *testing.T) {
	// NUL characters and invalid UTF-8 are stored as U+FFFD instead of
	// failing the write, in text and JSON columns, keys included.
	t.Parallel()
	ctx := t.Context()
	s := openFresh(t)
	const bad = "a\x00b\xffc"
	const want = "a\uFFFDb\uFFFDc"
	sess := &core.Session{
		SessionID: "s" + bad, SessionName: bad, SessionType: core.SessionAgent,
		SessionState: map[string]any{"k" + bad: bad, "escaped": `\u0000 stays`},
	}
	r := &core.Run{
		RunID: "r" + bad, SessionID: sess.SessionID, Status: core.RunRunning, Content: bad,
		Messages: []core.Message{{Role: "tool", Content: bad}},
		Paused:   &core.PausedState{Messages: []core.Message{{Role: "user", Content: bad}}},
	}
	if created, err := s.CreateRunInSession(ctx, sess, r); err != nil || !created {
		t.Fatalf("CreateRunInSession: %v, %v", created, err)
	}
	got, err := s.GetRun(ctx, r.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if got.RunID != "r"+want || got.SessionID != "s"+want || got.Content != want ||
		got.Messages[0].Content != want || got.Paused.Messages[0].Content != want {
		t.Fatalf("run came back as %+v", got)
	}
	if err := s.UpdateRun(ctx, r, core.UpdateRunParams{IfStatus: []core.RunStatus{core.RunRunning}}); err != nil {
		t.Fatal(err)
	}
	gs, err := s.GetSession(ctx, sess.SessionID)
	if err != nil {
		t.Fatal(err)
	}
	if gs.SessionName != want || gs.SessionState["k"+want] != want || gs.SessionState["escaped"] != `\u0000 stays` {
		t.Fatalf("session came back as %+v", gs)
	}
	ss, total, err := s.ListSessions(ctx, core.ListSessionsParams{NameLike: "\x00B", Limit: 5})
	if err != nil || total != 1 || len(ss) != 1 {
		t.Fatalf("ListSessions by a name with NUL: %d, %d, %v", len(ss), total, err)
	}
	if n, err := s.DeleteSessions(ctx, []string{sess.SessionID}); err != nil || n != 1 {
		t.Fatalf("DeleteSessions: %d, %v", n, err)
	}

	sa := &auth.ServiceAccount{ID: "sa" + bad, Name: bad, TokenHash: "h" + bad, Scopes: []string{"runs:" + bad}}
	if err := s.CreateServiceAccount(ctx, sa); err != nil {
		t.Fatalf("CreateServiceAccount: %v", err)
	}
	if err := s.TouchServiceAccount(ctx, sa.ID, 5); err != nil {
		t.Fatalf("TouchServiceAccount: %v", err)
	}
	if _, err := s.RevokeServiceAccount(ctx, sa.ID, 6); err != nil {
		t.Fatalf("RevokeServiceAccount: %v", err)
	}
	gsa, err := s.GetServiceAccountByTokenHash(ctx, sa.TokenHash)
	if err != nil {
		t.Fatalf("GetServiceAccountByTokenHash: %v", err)
	}
	if gsa.ID != "sa"+want || gsa.Name != want || gsa.Scopes[0] != "runs:"+want || gsa.LastUsedAt != 5 || gsa.RevokedAt != 6 {
		t.Fatalf("service account came back as %+v", gsa)
	}

	// An id longer than its index can hold is bad input, not an outage or
	// an internal error.
	err = s.CreateSession(ctx, &core.Session{SessionID: strings.Repeat("x", 1<<20)})
	if !errors.Is(err, core.ErrInvalid) {
		t.Fatalf("CreateSession with a 1 MiB id: %v, want ErrInvalid", err)
	}
}

func TestPoolSettings(t *testing.T) {
	t.Parallel()
	u := pgtest.URL(t)
	if n := open(t, u).Pool().Config().MaxConns; n < 8 {
		t.Errorf("default MaxConns %d, want >= 8", n)
	}
	if n := open(t, pgtest.WithParam(t, u, "pool_max_conns", "3")).Pool().Config().MaxConns; n != 3 {
		t.Errorf("MaxConns with pool_max_conns=3: %d", n)
	}
	// A one-connection pool cannot lend one for the migration lock and
	// another to goose: the lock gets a connection of its own.
	one := open(t, pgtest.WithParam(t, u, "pool_max_conns", "1"))
	if err := one.Migrate(t.Context(), postgres.Versions()[0]); err != nil {
		t.Fatalf("Migrate with pool_max_conns=1: %v", err)
	}
	if err := one.Migrate(t.Context(), postgres.Latest); err != nil {
		t.Fatalf("Migrate with pool_max_conns=1: %v", err)
	}
	wantVersion(t, one, slices.Max(postgres.Versions()))
}

func newBenchRun(id string) *core.Run {
	return &core.Run{
		RunID: id, SessionID: "bench-" + id, AgentID: "assistant", Status: core.RunPending,
		Input: core.RunInput{InputContent: "hello"},
		Messages: []core.Message{
			{Role: "user", Content: "hello"},
			{Role: "assistant", Content: "Hello! How can I help you today?"},
		},
		Metrics: &core.Metrics{InputTokens: 10, OutputTokens: 9, TotalTokens: 19},
	}
}

// BenchmarkCreateUpdateRun is a run's storage round trips on the hot path:
// CreateRunInSession (a new session each time), then the final
// compare-and-set UpdateRun.
func BenchmarkCreateUpdateRun(b *testing.B) {
	s := openFresh(b)
	ctx := context.Background()
	final := core.UpdateRunParams{IfStatus: []core.RunStatus{core.RunPending, core.RunRunning}}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		run := newBenchRun(fmt.Sprintf("run-%d", i))
		if _, err := s.CreateRunInSession(ctx, &core.Session{SessionID: run.SessionID, SessionType: core.SessionAgent}, run); err != nil {
			b.Fatal(err)
		}
		run.Status = core.RunCompleted
		if err := s.UpdateRun(ctx, run, final); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCreateUpdateRunParallel is the same from 8 goroutines per CPU,
// as many runs progress at once on a gateway.
func BenchmarkCreateUpdateRunParallel(b *testing.B) {
	s := openFresh(b)
	ctx := context.Background()
	final := core.UpdateRunParams{IfStatus: []core.RunStatus{core.RunPending, core.RunRunning}}
	var n atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			run := newBenchRun(fmt.Sprintf("run-%d", n.Add(1)))
			if _, err := s.CreateRunInSession(ctx, &core.Session{SessionID: run.SessionID, SessionType: core.SessionAgent}, run); err != nil {
				b.Error(err)
				return
			}
			run.Status = core.RunCompleted
			if err := s.UpdateRun(ctx, run, final); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// TestLeases adds to storetest's Leases area: exact ListExpiredLeases
// results on a schema of its own (order, limit, bounds, non-RUNNING runs),
// RenewLease's refusals (ErrInvalid without an owner), and the lease
// conditions of UpdateRun combined.
func TestLeases(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openFresh(t)
	const now = int64(1_750_000_000_000)
	mk := func(id string, status core.RunStatus, owner string, until int64) *core.Run {
		t.Helper()
		r := &core.Run{RunID: id, SessionID: "s", Status: status, LeaseOwner: owner, LeaseUntil: until}
		if err := s.CreateRun(ctx, r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	a := mk("a", core.RunRunning, "replica-a", now+10_000)
	b := mk("b", core.RunRunning, "replica-b", now-5_000)
	mk("c", core.RunRunning, "replica-c", now-9_000)
	mk("d", core.RunPaused, "replica-d", now-20_000) // not RUNNING: never expired
	mk("e", core.RunRunning, "replica-e", now)       // ends at now, not before

	if got, err := s.GetRun(ctx, "a"); err != nil || got.LeaseOwner != "replica-a" || got.LeaseUntil != now+10_000 {
		t.Fatalf("GetRun: lease %q %d, %v", got.LeaseOwner, got.LeaseUntil, err)
	}
	expired := func(limit int) []string {
		t.Helper()
		rs, err := s.ListExpiredLeases(ctx, now, limit)
		if err != nil {
			t.Fatal(err)
		}
		out := []string{}
		for _, r := range rs {
			out = append(out, r.RunID)
		}
		return out
	}
	if got := expired(0); !slices.Equal(got, []string{"c", "b"}) {
		t.Fatalf("ListExpiredLeases: %v, want [c b]", got)
	}
	if got := expired(1); !slices.Equal(got, []string{"c"}) {
		t.Fatalf("ListExpiredLeases limit 1: %v, want [c]", got)
	}

	// Renewal: only by the owner, only while RUNNING.
	if err := s.RenewLease(ctx, core.LeaseParams{RunID: "b", Owner: "replica-b", Until: now + 30_000}); err != nil {
		t.Fatalf("RenewLease: %v", err)
	}
	if got := expired(0); !slices.Equal(got, []string{"c"}) {
		t.Fatalf("after renewal: %v, want [c]", got)
	}
	for _, c := range []struct {
		p    core.LeaseParams
		want error
	}{
		{core.LeaseParams{RunID: "b", Owner: "replica-x", Until: now + 60_000}, core.ErrConflict},
		{core.LeaseParams{RunID: "d", Owner: "replica-d", Until: now + 60_000}, core.ErrConflict},
		{core.LeaseParams{RunID: "missing", Owner: "replica-b", Until: now}, core.ErrNotFound},
		{core.LeaseParams{RunID: "b", Until: now}, core.ErrInvalid},
	} {
		if err := s.RenewLease(ctx, c.p); !errors.Is(err, c.want) {
			t.Fatalf("RenewLease(%+v): %v, want %v", c.p, err, c.want)
		}
	}
	if got, _ := s.GetRun(ctx, "b"); got.LeaseUntil != now+30_000 || got.UpdatedAt != b.UpdatedAt {
		t.Fatalf("after refused renewals: until %d updated %d", got.LeaseUntil, got.UpdatedAt)
	}

	// A reaper takes over an expired run; the lease must still be expired.
	take := func(r *core.Run) *core.Run {
		n := *r
		n.LeaseOwner, n.LeaseUntil = "reaper", now+60_000
		return &n
	}
	err := s.UpdateRun(ctx, take(a), core.UpdateRunParams{IfStatus: []core.RunStatus{core.RunRunning}, IfLeaseExpiredBefore: now})
	if !errors.Is(err, core.ErrConflict) {
		t.Fatalf("taking over a live lease: %v, want ErrConflict", err)
	}
	c := &core.Run{RunID: "c", SessionID: "s", Status: core.RunRunning, LeaseOwner: "replica-c", LeaseUntil: now - 9_000}
	if err := s.UpdateRun(ctx, take(c), core.UpdateRunParams{IfStatus: []core.RunStatus{core.RunRunning}, IfLeaseExpiredBefore: now}); err != nil {
		t.Fatalf("taking over an expired lease: %v", err)
	}
	if got, _ := s.GetRun(ctx, "c"); got.LeaseOwner != "reaper" || got.LeaseUntil != now+60_000 {
		t.Fatalf("after take-over: %q %d", got.LeaseOwner, got.LeaseUntil)
	}
	// The old executor can neither renew nor finish it any more.
	if err := s.RenewLease(ctx, core.LeaseParams{RunID: "c", Owner: "replica-c", Until: now + 90_000}); !errors.Is(err, core.ErrConflict) {
		t.Fatalf("renewal by the former owner: %v", err)
	}
	done := *c
	done.Status = core.RunCompleted
	if err := s.UpdateRun(ctx, &done, core.UpdateRunParams{IfLeaseOwner: "replica-c"}); !errors.Is(err, core.ErrConflict) {
		t.Fatalf("finish by the former owner: %v", err)
	}
	if err := s.UpdateRun(ctx, &done, core.UpdateRunParams{IfLeaseOwner: "nobody", IfStatus: []core.RunStatus{core.RunRunning}}); !errors.Is(err, core.ErrConflict) {
		t.Fatalf("finish by another owner: %v", err)
	}
	done.LeaseOwner = "reaper"
	if err := s.UpdateRun(ctx, &done, core.UpdateRunParams{IfLeaseOwner: "reaper", IfStatus: []core.RunStatus{core.RunRunning}}); err != nil {
		t.Fatalf("finish by the owner: %v", err)
	}
	if err := s.UpdateRun(ctx, &core.Run{RunID: "missing"}, core.UpdateRunParams{IfLeaseOwner: "x"}); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("UpdateRun of a missing run: %v", err)
	}
	if got := expired(0); len(got) != 0 {
		t.Fatalf("expired leases at the end: %v", got)
	}
	if got, err := s.ListExpiredLeases(ctx, now+100_000, 0); err != nil || len(got) != 3 { // a, b, e
		t.Fatalf("ListExpiredLeases later: %d runs, %v", len(got), err)
	}
}

// After Close, a write fails as unavailable instead of waiting for a group
// writer that is gone.
func TestWriteAfterClose(t *testing.T) {
	t.Parallel()
	st := openFresh(t)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	r := &core.Run{RunID: "r-late", SessionID: "s-late", AgentID: "a", Status: core.RunRunning}
	if err := st.UpdateRun(context.Background(), r, core.UpdateRunParams{}); !errors.Is(err, core.ErrUnavailable) {
		t.Fatalf("write after close: %v", err)
	}
}

func FuzzMemorySearch(f *testing.F) { storetest.FuzzMemorySearch(f, openFresh(f)) }
