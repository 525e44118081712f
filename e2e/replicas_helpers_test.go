package e2e

// Helpers of the multi-replica tests (replicas_test.go): shared Postgres +
// Redis backends isolated per test (a fresh schema, a fresh key prefix),
// gateway processes started with extra environment that may be SIGKILLed,
// a private redis-server, and stream checks.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/agentgate/agentgate/storage/postgres/pgtest"
)

const (
	storyChunks = 60 // ~1.8 s at 30 ms a chunk
	storyEvents = storyChunks + 5
	longChunks  = 200 // ~5 s at 25 ms a chunk
)

// replicaConfig is the config every replica of a test uses: a slow story
// agent, a long agent, a tick agent (2 s between its three chunks), the
// approval agent of hitl_test.go, and short leases.
func replicaConfig() string {
	return fmt.Sprintf(`
http:
  heartbeat: 500ms
runs:
  lease_ttl: 1s
models:
  story:
    provider: scripted
    model: story-1
    chunks: %d
    chunk_delay: 30ms
    script:
      - reply: "%s"
  long:
    provider: scripted
    model: long-1
    chunks: %d
    chunk_delay: 25ms
    script:
      - reply: "%s"
  tick:
    provider: scripted
    model: tick-1
    chunks: 3
    chunk_delay: 2s
    script:
      - reply: "one two three"
  approval:
    provider: scripted
    model: approval-1
    chunks: 3
    script:
      - tool_calls:
          - name: calculator
            arguments: {expression: "6*7"}
        reply: "The calculator was approved and returned {{tool_result}}."
        rejected_reply: "The calculator call was rejected, so I did not run it. Note: {{note}}"
agents:
  - id: story
    name: Story
    model: story
  - id: long
    name: Long
    model: long
  - id: tick
    name: Tick
    model: tick
  - id: approver
    name: Approver
    model: approval
    tools:
      - name: calculator
        requires_confirmation: true
`, storyChunks, words(storyChunks), longChunks, words(longChunks))
}

// Backends ------------------------------------------------------------------

// backends are the Postgres schema and Redis key prefix of one test.
type backends struct {
	DatabaseURL string // base URL + schema=<Schema>
	Schema      string
	RedisURL    string
	Prefix      string
}

// Env is the environment a gateway needs to use the backends.
func (b *backends) Env() []string {
	return []string{
		"AGENTGATE_DATABASE_URL=" + b.DatabaseURL,
		"AGENTGATE_REDIS_URL=" + b.RedisURL,
		"AGENTGATE_EVENT_LOG_PREFIX=" + b.Prefix,
	}
}

func testRedisURL() string {
	if u := strings.TrimSpace(os.Getenv("TEST_REDIS_URL")); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newBackends gives the test a fresh schema name on the test Postgres
// ($TEST_DATABASE_URL) and a fresh key prefix on redisURL ("" means
// $TEST_REDIS_URL or the local server). Both servers must answer: the test
// fails, never skips, otherwise. The schema is dropped and the prefix's keys
// deleted at cleanup (after the gateways, which are started later and so
// stopped first).
func newBackends(t *testing.T, redisURL string) *backends {
	t.Helper()
	if redisURL == "" {
		redisURL = testRedisURL()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	base := pgtest.BaseURL()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("the test PostgreSQL server %s is unreachable (set TEST_DATABASE_URL): %v", base, err)
	}
	_ = conn.Close(ctx)
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatalf("bad Redis URL %s: %v", redisURL, err)
	}
	rdb := redis.NewClient(opts)
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		t.Fatalf("the test Redis server %s is unreachable (set TEST_REDIS_URL): %v", redisURL, err)
	}
	_ = rdb.Close()

	b := &backends{
		Schema:   "agentgate_e2e_" + randHex(8),
		RedisURL: redisURL,
		Prefix:   "agentgate-e2e-" + randHex(8) + ":",
	}
	b.DatabaseURL = pgtest.WithParam(t, base, "schema", b.Schema)
	t.Cleanup(func() {
		pgtest.Drop(t, b.Schema)
		if err := deleteRedisPrefix(redisURL, b.Prefix); err != nil {
			t.Logf("delete Redis keys %s*: %v", b.Prefix, err)
		}
	})
	return b
}

// deleteRedisPrefix deletes every key starting with prefix.
func deleteRedisPrefix(redisURL, prefix string) error {
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		return err
	}
	opts.MaxRetries = -1
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	iter := rdb.Scan(ctx, 0, prefix+"*", 500).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return err
	}
	for len(keys) > 0 {
		n := min(len(keys), 500)
		if err := rdb.Del(ctx, keys[:n]...).Err(); err != nil {
			return err
		}
		keys = keys[n:]
	}
	return nil
}

// Replicas --------------------------------------------------------------------

// replica is a gateway process that a test may SIGKILL.
type replica struct {
	*gateway
	Name   string
	killed atomic.Bool
}

// startReplica starts `agentgate serve` like startGateway, with the extra
// environment env (AGENTGATE_DATABASE_URL etc.) instead of a SQLite file.
// At cleanup it is stopped with SIGTERM (and must exit 0) unless the test
// killed it; a killed one is only checked for data races in its output.
func startReplica(t *testing.T, name, cfg string, env ...string) *replica {
	t.Helper()
	r := &replica{Name: name}
	r.gateway = launch(t, cfg, func(string) []string { return env }, func(g *gateway) {
		if r.killed.Load() {
			<-g.exited
			if out := g.stderr.String(); strings.Contains(out, "WARNING: DATA RACE") {
				t.Errorf("replica %s reported a data race before it was killed:\n%s", name, tail(out, 20000))
			}
			return
		}
		g.stop()
	})
	// Registered after the stop, so it runs before it: the logs of a
	// failed test's replicas, for the report.
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("replica %s (%s) log:\n%s", name, r.Addr, tail(r.stderr.String(), 6000))
		}
	})
	return r
}

// startPair starts replicas A and B on the same backends.
func startPair(t *testing.T, b *backends) (a, bb *replica) {
	t.Helper()
	// A first: it creates and migrates the schema; B finds it ready.
	a = startReplica(t, "A", replicaConfig(), b.Env()...)
	bb = startReplica(t, "B", replicaConfig(), b.Env()...)
	return a, bb
}

// kill SIGKILLs the process and waits for it to be gone.
func (r *replica) kill(t *testing.T) {
	t.Helper()
	r.killed.Store(true)
	if err := r.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Fatalf("kill replica %s: %v", r.Name, err)
	}
	select {
	case <-r.exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("replica %s still running 10s after SIGKILL", r.Name)
	}
}

// alive reports whether the process is still running.
func (r *replica) alive() bool {
	select {
	case <-r.exited:
		return false
	default:
		return true
	}
}

// readiness is GET /ready's body.
type readiness struct {
	Ready    bool   `json:"ready"`
	Database string `json:"database"`
	EventLog string `json:"event_log"`
}

func (r *replica) ready(t testing.TB) (int, readiness, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp := r.get(t, ctx, "/ready")
	b := readAll(t, resp)
	var rd readiness
	if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusServiceUnavailable {
		decode(t, b, &rd)
	}
	return resp.StatusCode, rd, b
}

// waitReady polls /ready until it answers want (within d).
func (r *replica) waitReady(t testing.TB, want int, d time.Duration) (readiness, time.Duration) {
	t.Helper()
	start := time.Now()
	for {
		code, rd, b := r.ready(t)
		if code == want {
			return rd, time.Since(start)
		}
		if time.Since(start) > d {
			t.Fatalf("replica %s: /ready still %d (%s) after %v, want %d", r.Name, code, b, d, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitFinal polls GET .../runs/{id} on r until the run is final (or d
// passes: then it fails). It returns the run, its body and the time taken.
func (r *replica) waitFinal(t testing.TB, agent, runID string, d time.Duration) (run, []byte, time.Duration) {
	t.Helper()
	start := time.Now()
	ctx := testCtx(t, d+10*time.Second)
	last := ""
	for {
		rn, b := r.getRun(t, ctx, agent, runID)
		if rn.Status != last {
			t.Logf("%v after start of wait: run %s is %s on %s", time.Since(start).Round(time.Millisecond), runID, rn.Status, r.Name)
			last = rn.Status
		}
		switch rn.Status {
		case "COMPLETED", "CANCELLED", "ERROR":
			return rn, b, time.Since(start)
		}
		if time.Since(start) > d {
			t.Fatalf("run %s still %s on %s after %v: %s", runID, rn.Status, r.Name, d, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Streams ---------------------------------------------------------------------

// streamResult is the whole of one SSE response as a subscriber saw it.
type streamResult struct {
	Frames []frame // every frame, including a final `event: error` one
	Err    error   // nil at a clean end of the stream, else the read error
}

// follower reads an SSE response in the background.
type follower struct {
	mu     sync.Mutex
	frames []frame
	at     []time.Time   // when each frame came
	n      chan struct{} // signalled (non-blocking) after each frame
	done   chan struct{}
	res    streamResult
}

func follow(resp *http.Response) *follower {
	f := &follower{n: make(chan struct{}, 1), done: make(chan struct{})}
	go func() {
		defer close(f.done)
		defer resp.Body.Close()
		sr := newSSEReader(resp.Body)
		for {
			fr, err := sr.Next()
			if err != nil {
				f.mu.Lock()
				if !errors.Is(err, io.EOF) {
					f.res.Err = err
				}
				f.res.Frames = append([]frame(nil), f.frames...)
				f.mu.Unlock()
				return
			}
			f.mu.Lock()
			f.frames = append(f.frames, fr)
			f.at = append(f.at, time.Now())
			f.mu.Unlock()
			select {
			case f.n <- struct{}{}:
			default:
			}
		}
	}()
	return f
}

func (f *follower) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.frames)
}

// waitFrames waits until at least n frames came (or the stream ended).
func (f *follower) waitFrames(t testing.TB, n int, d time.Duration) {
	t.Helper()
	deadline := time.After(d)
	for f.count() < n {
		select {
		case <-f.n:
		case <-f.done:
			if f.count() < n {
				t.Fatalf("the stream ended after %d frames (%v), want at least %d: %v", f.count(), f.res.Err, n, types(f.res.Frames))
			}
			return
		case <-deadline:
			t.Fatalf("only %d frames within %v, want %d", f.count(), d, n)
		}
	}
}

// wait waits for the end of the stream.
func (f *follower) wait(t testing.TB, d time.Duration) streamResult {
	t.Helper()
	select {
	case <-f.done:
		return f.res
	case <-time.After(d):
		f.mu.Lock()
		n := len(f.frames)
		var last []frame
		if n > 0 {
			last = f.frames[max(0, n-3):]
		}
		f.mu.Unlock()
		t.Fatalf("the stream did not end within %v (%d frames so far, last %v)", d, n, types(last))
		return streamResult{}
	}
}

// checkDense checks a stream's frames: event frames with indices first,
// first+1, ... (no gap, no duplicate), and at most one `event: error`
// frame, only as the very last one. It returns the events and the error
// frame's data ("" if none).
func checkDense(t testing.TB, frames []frame, first int64) ([]event, string) {
	t.Helper()
	errData := ""
	evFrames := frames
	for i, f := range frames {
		if f.Event == "error" {
			if i != len(frames)-1 {
				t.Fatalf("an error frame in the middle of the stream (frame %d): %v", i, types(frames))
			}
			errData = f.Data
			evFrames = frames[:i]
		}
	}
	return events(t, evFrames, first), errData
}

// terminal reports whether typ ends a run's stream.
func terminal(typ string) bool {
	return typ == "RunCompleted" || typ == "RunError" || typ == "RunCancelled"
}

// freePort returns a loopback TCP port nothing listens on (now).
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	return port
}

// Private Redis ---------------------------------------------------------------

// redisServer is a redis-server child process on its own port, without
// persistence: restarting it loses every key.
type redisServer struct {
	t        *testing.T
	Port     int
	Password string // requirepass, when set
	mu       sync.Mutex
	cmd      *exec.Cmd
	done     chan struct{}
	out      *lockedBuffer
}

func startRedisServer(t *testing.T) *redisServer {
	t.Helper()
	return startRedisServerWith(t, "")
}

// startRedisServerWith starts a redis-server that requires password (none
// when empty).
func startRedisServerWith(t *testing.T, password string) *redisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("redis-server is not installed: %v", err)
	}
	s := &redisServer{t: t, Port: freePort(t), Password: password, out: &lockedBuffer{}}
	s.start()
	t.Cleanup(func() { s.stop() })
	return s
}

func (s *redisServer) URL() string {
	if s.Password != "" {
		return "redis://:" + url.QueryEscape(s.Password) + "@127.0.0.1:" + strconv.Itoa(s.Port) + "/0"
	}
	return "redis://127.0.0.1:" + strconv.Itoa(s.Port) + "/0"
}

func (s *redisServer) start() {
	t := s.t
	t.Helper()
	args := []string{"--port", strconv.Itoa(s.Port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "no"}
	if s.Password != "" {
		args = append(args, "--requirepass", s.Password)
	}
	cmd := exec.Command("redis-server", args...)
	cmd.Stdout, cmd.Stderr = s.out, s.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(s.Port), Password: s.Password, MaxRetries: -1})
	defer rdb.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := rdb.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		select {
		case <-done:
			t.Fatalf("redis-server exited at start:\n%s", s.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on port %d does not answer: %v\n%s", s.Port, err, s.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop SIGKILLs the server and waits for it to exit.
func (s *redisServer) stop() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-done
}

// Partitionable TCP proxy -------------------------------------------------------

// tcpProxy forwards loopback connections to target. Partition cuts every
// connection and makes new ones close at once (the server behind it keeps
// its data), until Heal.
type tcpProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
}

func startProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() {
		_ = ln.Close()
		p.Partition()
		p.wg.Wait()
	})
	return p
}

// Addr is the proxy's host:port.
func (p *tcpProxy) Addr() string { return p.ln.Addr().String() }

func (p *tcpProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			_ = c.Close()
			continue
		}
		s, err := net.DialTimeout("tcp", p.target, 5*time.Second)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			_ = c.Close()
			_ = s.Close()
			continue
		}
		p.conns[c], p.conns[s] = struct{}{}, struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		pipe := func(dst, src net.Conn) {
			defer p.wg.Done()
			_, _ = io.Copy(dst, src)
			_ = dst.Close()
			_ = src.Close()
			p.mu.Lock()
			delete(p.conns, dst)
			delete(p.conns, src)
			p.mu.Unlock()
		}
		go pipe(s, c)
		go pipe(c, s)
	}
}

// Partition closes every proxied connection and refuses new ones.
func (p *tcpProxy) Partition() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		_ = c.Close()
	}
}

// Heal lets connections through again.
func (p *tcpProxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}
