package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/agentgate/agentgate"
	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/storage/postgres"
	"github.com/agentgate/agentgate/storage/redislog"
)

// The servers of the postgres-redis profile.
const (
	envDatabaseURL     = "BENCH_DATABASE_URL"
	envRedisURL        = "BENCH_REDIS_URL"
	defaultDatabaseURL = "postgres://root@127.0.0.1:5432/test?sslmode=disable"
	defaultRedisURL    = "redis://127.0.0.1:6379/0"
)

// The targets for the postgres-redis profile.
const (
	targetBlockingRate = 2000.0                // blocking runs/s, absolute
	targetResumeP99    = 10 * time.Millisecond // resume: first replayed frame, p99
)

// pgRedis is what one run of the postgres-redis profile creates: a fresh
// schema on the PostgreSQL server and a fresh key prefix on the Redis
// server, both removed by cleanup.
type pgRedis struct {
	serverURL string // the PostgreSQL server, as given (no schema=)
	dbURL     string // serverURL with schema=<schema>: the gateway's database_url
	schema    string
	redisURL  string
	prefix    string // event_log.prefix; every key the run creates is under it
}

func envOr(name, def string) string {
	if v := strings.TrimSpace(os.Getenv(name)); v != "" {
		return v
	}
	return def
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func newPGRedis() (*pgRedis, error) {
	env := &pgRedis{
		serverURL: envOr(envDatabaseURL, defaultDatabaseURL),
		redisURL:  envOr(envRedisURL, defaultRedisURL),
		schema:    "agentbench_" + randomHex(8),
		prefix:    "agentbench:" + randomHex(6) + ":",
	}
	u, err := url.Parse(env.serverURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, fmt.Errorf("%s must be a postgres:// URL, not %q", envDatabaseURL, agentgate.Redact(env.serverURL))
	}
	q := u.Query()
	for _, p := range []string{postgres.SchemaParam, "search_path"} {
		if q.Has(p) {
			return nil, fmt.Errorf("%s must not set %s= (the profile uses a throwaway schema of its own)", envDatabaseURL, p)
		}
	}
	q.Set(postgres.SchemaParam, env.schema)
	u.RawQuery = q.Encode()
	env.dbURL = u.String()
	if !strings.HasPrefix(env.redisURL, "redis://") && !strings.HasPrefix(env.redisURL, "rediss://") {
		return nil, fmt.Errorf("%s must be a redis:// URL, not %q", envRedisURL, agentgate.Redact(env.redisURL))
	}
	return env, nil
}

// reachable fails clearly when either server cannot be reached.
func (env *pgRedis) reachable(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, env.serverURL)
	if err != nil {
		return fmt.Errorf("cannot reach PostgreSQL at %s (set %s to use another server): %w",
			agentgate.Redact(env.serverURL), envDatabaseURL, err)
	}
	_ = conn.Close(context.Background())
	rdb, err := env.redisClient()
	if err != nil {
		return err
	}
	defer rdb.Close()
	unreachable := func(err error) error {
		return fmt.Errorf("cannot reach Redis at %s (set %s to use another server): %w",
			agentgate.Redact(env.redisURL), envRedisURL, err)
	}
	// A plain dial first: go-redis would log every retry of a refused dial.
	opts := rdb.Options()
	c, err := (&net.Dialer{}).DialContext(ctx, opts.Network, opts.Addr)
	if err != nil {
		return unreachable(err)
	}
	_ = c.Close()
	if err := rdb.Ping(ctx).Err(); err != nil {
		return unreachable(err)
	}
	return nil
}

func (env *pgRedis) redisClient() (*redis.Client, error) {
	opts, err := redis.ParseURL(env.redisURL)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", envRedisURL, agentgate.Redact(env.redisURL), err)
	}
	return redis.NewClient(opts), nil
}

// cleanup drops the schema (with everything in it) and deletes every key
// under the prefix. It does not depend on the run's context, which may have
// been cancelled (Ctrl-C).
func (env *pgRedis) cleanup() error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var errs []error
	if conn, err := pgx.Connect(ctx, env.serverURL); err != nil {
		errs = append(errs, fmt.Errorf("drop schema %s: %w", env.schema, err))
	} else {
		if _, err := conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{env.schema}.Sanitize()+` CASCADE`); err != nil {
			errs = append(errs, fmt.Errorf("drop schema %s: %w", env.schema, err))
		}
		_ = conn.Close(context.Background())
	}
	if err := env.deleteKeys(ctx, ""); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// deleteKeys deletes every key under the profile's prefix + sub.
func (env *pgRedis) deleteKeys(ctx context.Context, sub string) error {
	rdb, err := env.redisClient()
	if err != nil {
		return err
	}
	defer rdb.Close()
	pattern := env.prefix + sub + "*"
	iter := rdb.Scan(ctx, 0, pattern, 1000).Iterator()
	var keys []string
	flush := func() error {
		if len(keys) == 0 {
			return nil
		}
		err := rdb.Unlink(ctx, keys...).Err()
		keys = keys[:0]
		return err
	}
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
		if len(keys) == 500 {
			if err := flush(); err != nil {
				return fmt.Errorf("delete the keys %s: %w", pattern, err)
			}
		}
	}
	if err := iter.Err(); err != nil {
		return fmt.Errorf("scan the keys %s: %w", pattern, err)
	}
	if err := flush(); err != nil {
		return fmt.Errorf("delete the keys %s: %w", pattern, err)
	}
	return nil
}

// startPostgresRedis runs the gateway on PostgreSQL (a fresh schema, made by
// the store through the schema= parameter) and Redis (a fresh key prefix).
func startPostgresRedis(ctx context.Context, opts profileOptions) (*target, error) {
	env, err := newPGRedis()
	if err != nil {
		return nil, err
	}
	if err := env.reachable(ctx); err != nil {
		return nil, err
	}
	describe := fmt.Sprintf("postgres %s schema %s + redis %s prefix %s",
		agentgate.Redact(env.serverURL), env.schema, agentgate.Redact(env.redisURL), env.prefix)
	t, err := serveGateway(ctx, opts, backends{databaseURL: env.dbURL, redisURL: env.redisURL, prefix: env.prefix, noTracing: opts.noTracing, chunks: opts.chunks},
		describe, env.cleanup)
	if err != nil {
		return nil, err
	}
	t.components = env.components
	return t, nil
}

// postgresRedisChecks: at least 2,000 blocking runs/s, and a resume's first
// replayed frame within 10 ms at p99.
func postgresRedisChecks(r *report) []check {
	ab := r.get("agentgate", "blocking")
	ar := r.get("agentgate", "resume")
	var p99 time.Duration
	if ar.TTFE != nil {
		p99 = ar.TTFE.P99
	}
	return []check{
		{
			what: fmt.Sprintf("blocking runs/s >= %.0f", targetBlockingRate), shown: fmt.Sprintf("%.0f", ab.PerSecond),
			pass: ab.Requests > 0 && ab.PerSecond >= targetBlockingRate,
			key:  "blocking_runs_per_sec", value: ab.PerSecond, passKey: "blocking_pass",
		},
		{
			what: "resume p99 < " + targetResumeP99.String(), shown: fmtDur(p99),
			pass: ar.Requests > 0 && p99 > 0 && p99 < targetResumeP99,
			key:  "resume_p99_ms", value: ms(p99), passKey: "resume_pass",
		},
	}
}

// componentEnv is what component measurements get from run.
type componentEnv struct {
	capt        *capture
	concurrency int
	duration    time.Duration // of each measurement
	warmup      time.Duration
	prog        progress
}

// measure warms up and measures one side of a component.
func (x componentEnv) measure(ctx context.Context, what string, op func(ctx context.Context, phase string, worker int) error) result {
	if x.warmup > 0 {
		x.prog.printf("warming up %s (%s)...", what, x.warmup)
		_ = runWorkers(ctx, x.concurrency, x.warmup, false, func(ctx context.Context, w int) sample {
			return timed(func() error { return op(ctx, "w", w) })
		})
	}
	runtime.GC()
	x.prog.printf("measuring %s (%s, %d goroutines)...", what, x.duration, x.concurrency)
	return runWorkers(ctx, x.concurrency, x.duration, false, func(ctx context.Context, w int) sample {
		return timed(func() error { return op(ctx, "m", w) })
	})
}

// components measures the gateway's backends directly: the Redis event
// log's Append against raw XADDs, and the store's run writes against raw
// pgx INSERTs.
func (env *pgRedis) components(ctx context.Context, x componentEnv) ([]*component, error) {
	app, err := env.appendComponent(ctx, x)
	if err != nil {
		return nil, fmt.Errorf("event append: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st, err := env.stateComponent(ctx, x)
	if err != nil {
		return nil, fmt.Errorf("state writes: %w", err)
	}
	return []*component{app, st}, nil
}

// benchEvent returns the event the append measurement appends: the first
// RunContent event of the captured stream (the most frequent kind).
func benchEvent(capt *capture) (core.Event, error) {
	var first *core.Event
	for _, f := range capt.frames {
		typ, data, ok := frameData(f)
		if !ok {
			continue
		}
		var ev core.Event
		if err := json.Unmarshal(data, &ev); err != nil {
			return core.Event{}, fmt.Errorf("captured event: %w", err)
		}
		if typ == string(core.EventRunContent) {
			return ev, nil
		}
		if first == nil {
			first = &ev
		}
	}
	if first == nil {
		return core.Event{}, errors.New("no event captured")
	}
	return *first, nil
}

// eventJSON is ev as the event log stores it (no HTML escaping).
func eventJSON(ev *core.Event) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(ev); err != nil {
		return "", err
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

// appendComponent: C goroutines, each appending one event per call to its
// own run through redislog, against C goroutines XADDing the same payload
// with exact MAXLEN trimming to a stream each, with plain go-redis.
func (env *pgRedis) appendComponent(ctx context.Context, x componentEnv) (*component, error) {
	tmpl, err := benchEvent(x.capt)
	if err != nil {
		return nil, err
	}
	prefix := env.prefix + "append:"
	elog, err := redislog.New(ctx, redislog.Config{URL: env.redisURL, Prefix: prefix})
	if err != nil {
		return nil, err
	}
	defer elog.Close()
	maxLen := elog.Config().EventLog.MaxEventsPerRun

	// One event (and run) per worker and phase, reused call after call:
	// Append sets its index, which only matters for a stream's first event.
	events := map[string][]core.Event{}
	payloads := map[string][]string{}
	for _, phase := range []string{"w", "m"} {
		for w := range x.concurrency {
			ev := tmpl
			ev.RunID = fmt.Sprintf("append-%s-%d-%s", phase, w, randomHex(4))
			ev.EventIndex = 0
			p, err := eventJSON(&ev)
			if err != nil {
				return nil, err
			}
			events[phase] = append(events[phase], ev)
			payloads[phase] = append(payloads[phase], p)
		}
	}
	c := &component{
		Key: "event_append", Label: "event appends/s", Name: "event append", Short: "append", Unit: "events/s",
		AgentgateOp: fmt.Sprintf("redislog Append (one Lua EVALSHA: XREVRANGE + XADD MAXLEN = %d + PERSIST), one event per call", maxLen),
		BaselineOp:  fmt.Sprintf("go-redis XADD MAXLEN = %d with an explicit ID", maxLen),
		PayloadSize: len(payloads["m"][0]),
	}
	c.Agentgate = x.measure(ctx, "agentgate event appends (redislog)", func(ctx context.Context, phase string, w int) error {
		ev := &events[phase][w]
		ev.EventIndex = 0
		_, err := elog.Append(ctx, ev)
		return err
	})

	rdb, err := env.redisClient()
	if err != nil {
		return nil, err
	}
	defer rdb.Close()
	// Explicit IDs, "N-1" as redislog writes them, one counter per stream.
	seq := map[string][]int64{"w": make([]int64, x.concurrency), "m": make([]int64, x.concurrency)}
	c.Baseline = x.measure(ctx, "baseline XADDs (go-redis)", func(ctx context.Context, phase string, w int) error {
		n := seq[phase][w]
		seq[phase][w]++
		return rdb.XAdd(ctx, &redis.XAddArgs{
			Stream: fmt.Sprintf("%sraw:{%s-%d}:events", prefix, phase, w),
			MaxLen: int64(maxLen),
			ID:     strconv.FormatInt(n, 10) + "-1",
			Values: []any{"e", payloads[phase][w]},
		}).Err()
	})
	// Free the streams now rather than at the end.
	if err := env.deleteKeys(context.Background(), "append:"); err != nil {
		return nil, err
	}
	return c, nil
}

// stateComponent: C goroutines writing runs through the store
// (CreateRunInSession of a new run in a new session, then the final
// UpdateRun), against C goroutines INSERTing a run-shaped row into a
// throwaway table with plain pgx, over a pool of the same size.
func (env *pgRedis) stateComponent(ctx context.Context, x componentEnv) (*component, error) {
	var tmpl core.Run
	if err := json.Unmarshal(x.capt.runJSON, &tmpl); err != nil {
		return nil, fmt.Errorf("captured run: %w", err)
	}
	store, err := postgres.Open(ctx, env.dbURL)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	maxConns := store.Pool().Config().MaxConns

	var n atomic.Int64
	tag := randomHex(4)
	final := core.UpdateRunParams{IfStatus: []core.RunStatus{core.RunPending, core.RunRunning}}
	c := &component{
		Key: "state_write", Label: "state writes/s", Name: "state write", Short: "state", Unit: "writes/s",
		AgentgateOp: "store CreateRunInSession (new run, new session) + final UpdateRun: 2 statements per run",
		BaselineOp:  "pgx INSERT of a run-shaped row (JSON columns pre-encoded) into a throwaway table: 1 statement",
		PoolConns:   int(maxConns),
		PayloadSize: len(x.capt.runJSON),
	}
	c.Agentgate = x.measure(ctx, "agentgate state writes (postgres store)", func(ctx context.Context, _ string, _ int) error {
		r := tmpl
		id := fmt.Sprintf("state-%s-%d", tag, n.Add(1))
		r.RunID, r.SessionID, r.Status = id, "session-"+id, core.RunPending
		now := time.Now().Unix()
		r.CreatedAt, r.UpdatedAt = now, now
		sess := &core.Session{SessionID: r.SessionID, SessionType: core.SessionAgent, AgentID: r.AgentID, CreatedAt: now, UpdatedAt: now}
		if _, err := store.CreateRunInSession(ctx, sess, &r); err != nil {
			return err
		}
		r.Status = core.RunCompleted
		return store.UpdateRun(ctx, &r, final)
	})

	pcfg, err := pgxpool.ParseConfig(env.serverURL)
	if err != nil {
		return nil, err
	}
	pcfg.MaxConns = maxConns
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	table := pgx.Identifier{env.schema, "bench_raw_runs"}.Sanitize()
	if _, err := pool.Exec(ctx, `CREATE TABLE `+table+` (
		run_id     TEXT PRIMARY KEY,
		session_id TEXT NOT NULL,
		agent_id   TEXT NOT NULL,
		agent_name TEXT NOT NULL,
		status     TEXT NOT NULL,
		input      JSONB NOT NULL,
		content    TEXT NOT NULL,
		model      TEXT NOT NULL,
		messages   JSONB,
		metrics    JSONB,
		created_at BIGINT NOT NULL,
		updated_at BIGINT NOT NULL)`); err != nil {
		return nil, err
	}
	input, err := json.Marshal(tmpl.Input)
	if err != nil {
		return nil, err
	}
	messages, err := json.Marshal(tmpl.Messages)
	if err != nil {
		return nil, err
	}
	metrics, err := json.Marshal(tmpl.Metrics)
	if err != nil {
		return nil, err
	}
	insert := `INSERT INTO ` + table + ` (run_id, session_id, agent_id, agent_name, status, input, content, model,
		messages, metrics, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`
	c.Baseline = x.measure(ctx, "baseline INSERTs (pgx)", func(ctx context.Context, _ string, _ int) error {
		id := fmt.Sprintf("raw-%s-%d", tag, n.Add(1))
		now := time.Now().Unix()
		_, err := pool.Exec(ctx, insert, id, "session-"+id, tmpl.AgentID, tmpl.AgentName, string(core.RunCompleted),
			input, tmpl.Content, tmpl.Model, messages, metrics, now, now)
		return err
	})
	return c, nil
}
