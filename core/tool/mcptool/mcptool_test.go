package mcptool

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/agent"
	"github.com/agentgate/agentgate/core/media/mediatest"
	"github.com/agentgate/agentgate/core/model/scripted"
	"github.com/agentgate/agentgate/core/tool"
	"github.com/agentgate/agentgate/internal/mcptestserver"
	"github.com/agentgate/agentgate/internal/testutil"
)

// serveEnv, set in a child's environment, makes the test binary serve the
// test MCP server over stdio instead of running the tests.
const serveEnv = "MCPTOOL_TEST_SERVE_STDIO"

func TestMain(m *testing.M) {
	if os.Getenv(serveEnv) == "1" {
		if err := mcptestserver.ServeStdio(); err != nil {
			fmt.Fprintln(os.Stderr, "mcptestserver:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// stdioConfig runs this test binary as the stdio server.
func stdioConfig(t *testing.T) Config {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return Config{
		// GORACE: a -race binary otherwise waits a second before exiting.
		Name: "t", Command: exe, Env: map[string]string{serveEnv: "1", "GORACE": "atexit_sleep_ms=0"}, Dir: t.TempDir(),
		Prefix: "t_", Logger: testLogger(), ConnectTimeout: 10 * time.Second,
	}
}

func httpConfig(url string) Config {
	return Config{Name: "t", URL: url, Prefix: "t_", Logger: testLogger(), ConnectTimeout: 10 * time.Second}
}

// newHTTPServer serves a fresh test server on httptest; legacy restricts it
// to the 2025-11-25 revision with stateful sessions.
func newHTTPServer(t *testing.T, legacy bool) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(streamable(legacy))
	t.Cleanup(func() {
		ts.CloseClientConnections()
		ts.Close()
	})
	return ts
}

func streamable(legacy bool) http.Handler {
	var opts []server.StreamableHTTPOption
	if legacy {
		opts = append(opts, server.WithStreamableHTTPProtocolVersions(mcp.ProtocolVersion20251125), server.WithStateful(true))
	}
	return server.NewStreamableHTTPServer(mcptestserver.New(), opts...)
}

func start(t *testing.T, cfg Config) *Source {
	t.Helper()
	s, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// transports runs f against the stdio server, the HTTP server and the
// HTTP server restricted to the session-based revision.
func transports(t *testing.T, f func(t *testing.T, cfg Config)) {
	t.Run("stdio", func(t *testing.T) {
		t.Parallel()
		f(t, stdioConfig(t))
	})
	t.Run("http", func(t *testing.T) {
		t.Parallel()
		f(t, httpConfig(newHTTPServer(t, false).URL+"/mcp"))
	})
	t.Run("http-legacy", func(t *testing.T) {
		t.Parallel()
		f(t, httpConfig(newHTTPServer(t, true).URL+"/mcp"))
	})
}

func find(tools []*tool.Tool, name string) *tool.Tool {
	for _, t := range tools {
		if t.Name == name {
			return t
		}
	}
	return nil
}

func call(t *testing.T, s *Source, name string, args map[string]any) (string, error) {
	t.Helper()
	tl := find(s.Tools(), name)
	if tl == nil {
		t.Fatalf("no tool %s in %v", name, toolNames(s.Tools()))
	}
	b, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	return tl.Call(context.Background(), b)
}

func mustCall(t *testing.T, s *Source, name string, args map[string]any) string {
	t.Helper()
	out, err := call(t, s, name, args)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return out
}

func TestToolsAndCalls(t *testing.T) {
	t.Parallel()
	transports(t, func(t *testing.T, cfg Config) {
		s := start(t, cfg)
		if s.Name() != "t" {
			t.Fatalf("Name = %q", s.Name())
		}
		names := toolNames(s.Tools())
		want := []string{"t_add", "t_add_tool", "t_chart", "t_echo", "t_fail", "t_pid", "t_slow"}
		if strings.Join(names, ",") != strings.Join(want, ",") {
			t.Fatalf("tools = %v, want %v", names, want)
		}
		echo := find(s.Tools(), "t_echo")
		if echo.Description == "" || echo.Parameters["type"] != "object" {
			t.Fatalf("echo = %+v", echo)
		}
		props, _ := echo.Parameters["properties"].(map[string]any)
		if _, ok := props["text"]; !ok {
			t.Fatalf("echo schema has no text property: %v", echo.Parameters)
		}
		if req, _ := echo.Parameters["required"].([]any); len(req) != 1 || req[0] != "text" {
			t.Fatalf("echo schema required = %v", echo.Parameters["required"])
		}
		if p := find(s.Tools(), "t_pid").Parameters; p["type"] != "object" {
			t.Fatalf("pid schema = %v", p)
		}
		if out := mustCall(t, s, "t_echo", map[string]any{"text": "hello"}); out != "hello" {
			t.Fatalf("echo = %q", out)
		}
		if out := mustCall(t, s, "t_add", map[string]any{"a": 2, "b": 3.5}); out != "5.5" {
			t.Fatalf("add = %q", out)
		}
		// Arguments come as JSON from the model; none at all is fine.
		if out, err := find(s.Tools(), "t_slow").Call(context.Background(), json.RawMessage(`{"ms":1}`)); err != nil || out != "done" {
			t.Fatalf("slow = %q, %v", out, err)
		}
		if _, err := find(s.Tools(), "t_pid").Call(context.Background(), nil); err != nil {
			t.Fatalf("pid with no arguments: %v", err)
		}
		if _, err := find(s.Tools(), "t_echo").Call(context.Background(), json.RawMessage(`[1]`)); err == nil {
			t.Fatal("non-object arguments: want an error")
		}
		if out, err := call(t, s, "t_fail", nil); err == nil || err.Error() != "boom" {
			t.Fatalf("fail = %q, %v; want error boom", out, err)
		}
		// A result with an image, audio and a binary resource: the text
		// has a placeholder for each, the output has their bytes.
		o, err := find(s.Tools(), "t_chart").CallOutput(context.Background(), nil)
		if err != nil {
			t.Fatalf("chart: %v", err)
		}
		if !strings.HasPrefix(o.Text, "a chart of 3 points\n[image image/png, ") || !strings.Contains(o.Text, "[audio audio/wav, ") {
			t.Fatalf("chart text = %q", o.Text)
		}
		if len(o.Media) != 3 || o.Media[0].MIMEType != "image/png" || !bytes.Equal(o.Media[0].Data, mediatest.PNG(4, 3)) ||
			o.Media[1].MIMEType != "audio/wav" || !bytes.Equal(o.Media[1].Data, mcptestserver.ChartWAV) ||
			o.Media[2].MIMEType != "text/csv" || o.Media[2].Name != "points.csv" || string(o.Media[2].Data) != mcptestserver.ChartCSV {
			t.Fatalf("chart media = %+v", o.Media)
		}
	})
}

func TestCallTimeout(t *testing.T) {
	t.Parallel()
	transports(t, func(t *testing.T, cfg Config) {
		cfg.CallTimeout = 300 * time.Millisecond
		s := start(t, cfg)
		begin := time.Now()
		_, err := call(t, s, "t_slow", map[string]any{"ms": 10000})
		if err == nil || err.Error() != "mcp server t: tool slow timed out after 300ms" {
			t.Fatalf("err = %v", err)
		}
		if d := time.Since(begin); d > 3*time.Second {
			t.Fatalf("timed out after %v", d)
		}
		// The connection is fine.
		if out := mustCall(t, s, "t_echo", map[string]any{"text": "still"}); out != "still" {
			t.Fatalf("echo = %q", out)
		}
	})
	if got := seconds(60 * time.Second); got != "60s" {
		t.Fatalf("seconds(60s) = %q", got)
	}
}

func TestListChanged(t *testing.T) {
	t.Parallel()
	transports(t, func(t *testing.T, cfg Config) {
		s := start(t, cfg)
		before := s.Tools()
		if find(before, "t_extra") != nil {
			t.Fatal("extra listed before add_tool")
		}
		mustCall(t, s, "t_add_tool", nil)
		testutil.Eventually(t, 10*time.Second, "t_extra listed", func() bool { return find(s.Tools(), "t_extra") != nil })
		if out := mustCall(t, s, "t_extra", nil); out != "extra" {
			t.Fatalf("extra = %q", out)
		}
		if len(before) != 7 {
			t.Fatalf("the earlier slice changed: %d tools", len(before))
		}
	})
}

func pidOf(t *testing.T, s *Source) (int, error) {
	t.Helper()
	out, err := call(t, s, "t_pid", nil)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(out)
	if err != nil {
		t.Fatalf("pid = %q", out)
	}
	return pid, nil
}

func kill(t *testing.T, pid int) {
	t.Helper()
	if pid == os.Getpid() || pid <= 1 {
		t.Fatalf("refusing to kill %d", pid)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill %d: %v", pid, err)
	}
}

func TestStdioReconnectAfterKill(t *testing.T) {
	t.Parallel()
	s := start(t, stdioConfig(t))
	pid, err := pidOf(t, s)
	if err != nil {
		t.Fatal(err)
	}
	kill(t, pid)
	_, err = call(t, s, "t_echo", map[string]any{"text": "x"})
	if err == nil || !strings.HasPrefix(err.Error(), "mcp server t: connection lost: ") {
		t.Fatalf("call after kill: err = %v", err)
	}
	if n := len(s.Tools()); n != 7 {
		t.Fatalf("Tools while disconnected: %d", n)
	}
	var pid2 int
	testutil.Eventually(t, 10*time.Second, "a call on a new process", func() bool {
		p, err := pidOf(t, s)
		pid2 = p
		return err == nil
	})
	if pid2 == pid {
		t.Fatalf("same pid %d after reconnection", pid)
	}
	if out := mustCall(t, s, "t_echo", map[string]any{"text": "back"}); out != "back" {
		t.Fatalf("echo = %q", out)
	}
	// Killed again: the process is restarted again.
	kill(t, pid2)
	testutil.Eventually(t, 10*time.Second, "a call on a third process", func() bool {
		p, err := pidOf(t, s)
		return err == nil && p != pid2
	})
}

func TestStdioKilledDuringCall(t *testing.T) {
	t.Parallel()
	cfg := stdioConfig(t)
	cfg.CallTimeout = 20 * time.Second
	s := start(t, cfg)
	pid, err := pidOf(t, s)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(300 * time.Millisecond)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}()
	begin := time.Now()
	_, err = call(t, s, "t_slow", map[string]any{"ms": 15000})
	if err == nil || !strings.Contains(err.Error(), "mcp server t: connection lost") {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(begin); d > 5*time.Second {
		t.Fatalf("the call failed after %v, not promptly", d)
	}
	testutil.Eventually(t, 10*time.Second, "a call after reconnection", func() bool {
		p, err := pidOf(t, s)
		return err == nil && p != pid
	})
}

// records counts log records by message.
type records struct {
	slog.Handler
	mu    *sync.Mutex
	count map[string]int
}

func newRecords() *records {
	return &records{Handler: slog.NewTextHandler(io.Discard, nil), mu: &sync.Mutex{}, count: map[string]int{}}
}

func (r *records) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.count[rec.Message]++
	return nil
}

func (r *records) WithAttrs([]slog.Attr) slog.Handler { return r }

func (r *records) n(msg string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.count[msg]
}

func TestConcurrentCallsReconnectOnce(t *testing.T) {
	t.Parallel()
	logs := newRecords()
	cfg := stdioConfig(t)
	cfg.Logger = slog.New(logs)
	s := start(t, cfg)
	pid, err := pidOf(t, s)
	if err != nil {
		t.Fatal(err)
	}
	kill(t, pid)
	pids := make(chan string, 16)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 100 { // until it works
				out, err := find(s.Tools(), "t_pid").Call(context.Background(), nil)
				if err == nil {
					pids <- out
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	close(pids)
	seen := map[string]bool{}
	for p := range pids {
		seen[p] = true
	}
	if len(seen) != 1 || seen[strconv.Itoa(pid)] {
		t.Fatalf("pids after reconnection = %v (killed %d)", seen, pid)
	}
	if n := logs.n("mcp server reconnected"); n != 1 {
		t.Fatalf("%d reconnections, want 1", n)
	}
	if n := logs.n("mcp server connection lost, reconnecting"); n != 1 {
		t.Fatalf("%d connection losses, want 1", n)
	}
}

// restartable is an HTTP server that can be stopped (closing its
// connections at once) and started again on the same address.
type restartable struct {
	t      *testing.T
	legacy bool
	addr   string
	mu     sync.Mutex
	srv    *http.Server
}

func newRestartable(t *testing.T, legacy bool) *restartable {
	r := &restartable{t: t, legacy: legacy, addr: "127.0.0.1:0"}
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *restartable) start() {
	r.t.Helper()
	var (
		ln  net.Listener
		err error
	)
	for range 50 { // the port may take a moment to be free again
		if ln, err = net.Listen("tcp", r.addr); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		r.t.Fatalf("listen on %s: %v", r.addr, err)
	}
	r.addr = ln.Addr().String()
	srv := &http.Server{Handler: streamable(r.legacy)}
	go func() { _ = srv.Serve(ln) }()
	r.mu.Lock()
	r.srv = srv
	r.mu.Unlock()
}

func (r *restartable) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.srv != nil {
		_ = r.srv.Close()
		r.srv = nil
	}
}

func (r *restartable) url() string { return "http://" + r.addr + "/mcp" }

func TestHTTPServerRestart(t *testing.T) {
	t.Parallel()
	for _, legacy := range []bool{false, true} {
		t.Run(fmt.Sprintf("legacy=%v", legacy), func(t *testing.T) {
			t.Parallel()
			srv := newRestartable(t, legacy)
			cfg := httpConfig(srv.url())
			cfg.CallTimeout = 20 * time.Second
			s := start(t, cfg)
			mustCall(t, s, "t_echo", map[string]any{"text": "up"})
			go func() {
				time.Sleep(300 * time.Millisecond)
				srv.stop()
			}()
			begin := time.Now()
			_, err := call(t, s, "t_slow", map[string]any{"ms": 15000})
			if err == nil || !strings.Contains(err.Error(), "mcp server t: connection lost") {
				t.Fatalf("call while the server closed: err = %v", err)
			}
			if d := time.Since(begin); d > 5*time.Second {
				t.Fatalf("the call failed after %v, not promptly", d)
			}
			// While it is down, calls fail (after one reconnection attempt).
			if _, err := call(t, s, "t_echo", map[string]any{"text": "down"}); err == nil {
				t.Fatal("call while the server is down: want an error")
			}
			if n := len(s.Tools()); n != 7 {
				t.Fatalf("Tools while disconnected: %d", n)
			}
			srv.start()
			testutil.Eventually(t, 15*time.Second, "a call after the restart", func() bool {
				out, err := call(t, s, "t_echo", map[string]any{"text": "again"})
				return err == nil && out == "again"
			})
			// The new server's list changes arrive too.
			mustCall(t, s, "t_add_tool", nil)
			testutil.Eventually(t, 10*time.Second, "t_extra listed", func() bool { return find(s.Tools(), "t_extra") != nil })

			// Restarted between calls: a session-based server has forgotten
			// the session (404), and the next call says so; a stateless one
			// just answers.
			srv.stop()
			srv.start()
			_, err = call(t, s, "t_echo", map[string]any{"text": "new"})
			if legacy && (err == nil || !strings.Contains(err.Error(), "mcp server t: connection lost")) {
				t.Fatalf("call after a restart between calls: err = %v", err)
			}
			testutil.Eventually(t, 15*time.Second, "a call after the second restart", func() bool {
				out, err := call(t, s, "t_echo", map[string]any{"text": "again"})
				return err == nil && out == "again"
			})
			if find(s.Tools(), "t_extra") != nil {
				// The restarted server has no extra: listed again on
				// reconnection (legacy) or when the listen stream reopened.
				testutil.Eventually(t, 10*time.Second, "t_extra gone", func() bool { return find(s.Tools(), "t_extra") == nil })
			}
		})
	}
}

func TestStartErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, err := Start(ctx, Config{Name: "fs", Command: "no-such-mcp-server-command", Logger: testLogger()})
	if err == nil || !strings.HasPrefix(err.Error(), `mcp server fs: start "no-such-mcp-server-command": executable file not found`) {
		t.Fatalf("missing command: err = %v", err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = Start(ctx, Config{Name: "web", URL: "http://" + addr + "/mcp", Logger: testLogger()})
	if err == nil || !strings.HasPrefix(err.Error(), "mcp server web: ") || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("refused url: err = %v", err)
	}

	// A process that exits at once: its stderr explains (when it came in
	// time: the drain is asynchronous).
	_, err = Start(ctx, Config{Name: "bad", Command: "/bin/sh", Args: []string{"-c", "echo bad config >&2; exit 3"}, Logger: testLogger()})
	if err == nil || !strings.HasPrefix(err.Error(), "mcp server bad: initialize: ") {
		t.Fatalf("exiting command: err = %v", err)
	}

	for _, cfg := range []Config{
		{Name: "x"},
		{Name: "x", Command: "a", URL: "http://b/mcp"},
		{Name: "x", URL: "ftp://b/mcp"},
		{Name: "x", Command: "a", Prefix: "bad prefix"},
	} {
		if _, err := Start(ctx, cfg); err == nil || !strings.HasPrefix(err.Error(), "mcp server x: ") {
			t.Fatalf("Start(%+v) = %v", cfg, err)
		}
	}

	// A server that never answers: bounded by ConnectTimeout.
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // so that the server notices the client leaving
		<-r.Context().Done()
	}))
	defer hang.Close()
	begin := time.Now()
	_, err = Start(ctx, Config{Name: "hang", URL: hang.URL, ConnectTimeout: 300 * time.Millisecond, Logger: testLogger()})
	if err == nil || !strings.HasPrefix(err.Error(), "mcp server hang: ") || time.Since(begin) > 5*time.Second {
		t.Fatalf("hanging server: err = %v after %v", err, time.Since(begin))
	}
}

func TestCloseIdempotent(t *testing.T) {
	// Not parallel: it counts goroutines.
	before := runtime.NumGoroutine()
	cfg := stdioConfig(t)
	s, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := pidOf(t, s)
	if err != nil {
		t.Fatal(err)
	}
	mustCall(t, s, "t_add_tool", nil)
	testutil.Eventually(t, 10*time.Second, "t_extra listed", func() bool { return find(s.Tools(), "t_extra") != nil })
	// A disconnection leaves a reconnection behind, which Close stops too.
	kill(t, pid)
	if _, err := call(t, s, "t_echo", map[string]any{"text": "x"}); err == nil {
		t.Fatal("want an error after kill")
	}
	tools := s.Tools()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := tools[0].Call(context.Background(), nil); err == nil || err.Error() != "mcp server t: closed" {
		t.Fatalf("call after Close: %v", err)
	}
	testutil.Eventually(t, 10*time.Second, "goroutines to end", func() bool { return runtime.NumGoroutine() <= before })

	// Close while calls are in flight ends them.
	s2, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for range 3 {
		wg.Go(func() {
			_, err := find(s2.Tools(), "t_slow").Call(context.Background(), json.RawMessage(`{"ms":10000}`))
			errs <- err
		})
	}
	time.Sleep(200 * time.Millisecond)
	begin := time.Now()
	if err := s2.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err == nil || err.Error() != "mcp server t: closed" {
			t.Fatalf("call during Close: %v", err)
		}
	}
	if d := time.Since(begin); d > 5*time.Second {
		t.Fatalf("Close took %v", d)
	}
	testutil.Eventually(t, 10*time.Second, "goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
}

// A run of the built-in agent calls two MCP tools; the server dies during
// the second: the run records a ToolCallError and still completes.
func TestAgentRunGoesOnWhenServerDies(t *testing.T) {
	t.Parallel()
	cfg := stdioConfig(t)
	cfg.Prefix = "fs_"
	s := start(t, cfg)
	m := scripted.New(scripted.Config{Rules: []scripted.Rule{{
		ToolCalls: []scripted.Call{{Name: "fs_pid"}, {Name: "fs_slow", Arguments: map[string]any{"ms": 15000}}},
		Reply:     "results: {{tool_result}}",
	}}})
	a, err := agent.New(agent.Config{ID: "a", Model: m, Tools: s.Tools()})
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex
		events []core.Event
		pid    int
	)
	x := &core.Execution{Message: "go", Emit: func(_ context.Context, ev core.Event) error {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, ev)
		if ev.Tool != nil && ev.Tool.ToolName == "fs_pid" && ev.Event == core.EventToolCallCompleted {
			pid, _ = strconv.Atoi(ev.Content)
		}
		if ev.Tool != nil && ev.Tool.ToolName == "fs_slow" && ev.Event == core.EventToolCallStarted {
			p := pid
			go func() {
				time.Sleep(300 * time.Millisecond)
				if p > 1 && p != os.Getpid() {
					_ = syscall.Kill(p, syscall.SIGKILL)
				}
			}()
		}
		return nil
	}}
	begin := time.Now()
	out, err := a.Execute(context.Background(), x)
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	if d := time.Since(begin); d > 10*time.Second {
		t.Fatalf("the run took %v", d)
	}
	if len(out.Tools) != 2 || out.Tools[0].ToolCallError || !out.Tools[1].ToolCallError {
		t.Fatalf("tool executions = %+v", out.Tools)
	}
	if !strings.HasPrefix(out.Content, "results: "+strconv.Itoa(pid)+"; Error: mcp server t: connection lost") {
		t.Fatalf("content = %q", out.Content)
	}
	mu.Lock()
	var toolErr *core.Event
	for i := range events {
		if events[i].Event == core.EventToolCallError {
			toolErr = &events[i]
		}
	}
	mu.Unlock()
	if toolErr == nil || toolErr.Tool.ToolName != "fs_slow" || !strings.Contains(toolErr.Error, "connection lost") {
		t.Fatalf("ToolCallError event = %+v", toolErr)
	}
	// The source recovers for the next run.
	testutil.Eventually(t, 10*time.Second, "a call after reconnection", func() bool {
		out, err := find(s.Tools(), "fs_pid").Call(context.Background(), nil)
		return err == nil && out != strconv.Itoa(pid)
	})
}

func TestResultText(t *testing.T) {
	t.Parallel()
	res := &mcp.CallToolResult{Content: []mcp.Content{
		mcp.TextContent{Type: "text", Text: "one"},
		mcp.ImageContent{Type: "image", MIMEType: "image/png", Data: "AAAA"},
		mcp.AudioContent{Type: "audio", MIMEType: "audio/wav", Data: "AAA="},
		mcp.EmbeddedResource{Type: "resource", Resource: mcp.TextResourceContents{URI: "file:///a", Text: "two"}},
		mcp.EmbeddedResource{Type: "resource", Resource: mcp.BlobResourceContents{URI: "file:///b", MIMEType: "application/pdf", Blob: "AAAAAAAA"}},
		mcp.ResourceLink{Type: "resource_link", URI: "file:///c", Name: "c"},
	}}
	want := "one\n[image image/png, 3 bytes]\n[audio audio/wav, 2 bytes]\ntwo\n[resource file:///b application/pdf, 6 bytes]\n[resource file:///c]"
	if got := resultText(res); got != want {
		t.Fatalf("resultText = %q, want %q", got, want)
	}
	structured := &mcp.CallToolResult{Content: []mcp.Content{}, StructuredContent: map[string]any{"n": 1}}
	if got := resultText(structured); got != `{"n":1}` {
		t.Fatalf("structured = %q", got)
	}
	var parsed mcp.CallToolResult
	if err := json.Unmarshal([]byte(`{"content":[],"structuredContent":{"b": 2}}`), &parsed); err != nil {
		t.Fatal(err)
	}
	if got := resultText(&parsed); got != `{"b": 2}` {
		t.Fatalf("parsed structured = %q", got)
	}
}

func TestConvertSkipsBadNames(t *testing.T) {
	t.Parallel()
	s := &Source{cfg: Config{Name: "t", Prefix: "p_"}, log: testLogger()}
	tools := s.convert([]mcp.Tool{
		mcp.NewTool("ok", mcp.WithDescription("fine")),
		mcp.NewTool("has space"),
		mcp.NewTool(strings.Repeat("x", 63)),
		mcp.NewToolWithRawSchema("raw", "raw schema", json.RawMessage(`{"type":"object","properties":{"q":{"type":"string"}},"anyOf":[{"required":["q"]}]}`)),
	})
	names := toolNames(tools)
	if strings.Join(names, ",") != "p_ok,p_raw" {
		t.Fatalf("names = %v", names)
	}
	raw := find(tools, "p_raw")
	if _, ok := raw.Parameters["anyOf"]; !ok || raw.Description != "raw schema" {
		t.Fatalf("raw = %+v", raw)
	}
}

// A result larger than MaxResultBytes fails the call instead of flooding
// the model's context and the event log.
func TestResultSizeLimit(t *testing.T) {
	t.Parallel()
	cfg := httpConfig(newHTTPServer(t, false).URL + "/mcp")
	cfg.MaxResultBytes = 10
	s := start(t, cfg)
	if out := mustCall(t, s, "t_echo", map[string]any{"text": "0123456789"}); out != "0123456789" {
		t.Fatalf("at the limit: %q", out)
	}
	_, err := find(s.Tools(), "t_echo").Call(context.Background(), json.RawMessage(`{"text":"0123456789x"}`))
	if err == nil || !strings.Contains(err.Error(), "result larger than 10 bytes") {
		t.Fatalf("over the limit: %v", err)
	}
}
