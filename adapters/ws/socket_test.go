package ws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	fws "github.com/fasthttp/websocket"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/internal/testutil"
	"github.com/agentgate/agentgate/internal/testutil/enginetest"
	"github.com/agentgate/agentgate/transport/httptransport"
)

// Socket tests: the handler behind the real fiber app and transport
// middleware, on a loopback listener, driven by the fasthttp/websocket
// client.

// paceAgent emits n RunContent events of size bytes, delay apart, then
// completes; it stops when its run is cancelled.
type paceAgent struct {
	id    string
	n     int
	size  int
	delay time.Duration
}

func (a *paceAgent) Info() core.AgentInfo { return core.AgentInfo{ID: a.id, Name: a.id} }

func (a *paceAgent) Execute(ctx context.Context, x *core.Execution) (*core.Outcome, error) {
	chunk := strings.Repeat("x", a.size)
	for i := 0; i < a.n; i++ {
		if a.delay > 0 {
			select {
			case <-time.After(a.delay):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if err := x.Emit(ctx, core.Event{Event: core.EventRunContent, Content: chunk}); err != nil {
			return nil, err
		}
	}
	return &core.Outcome{Content: "done"}, nil
}

type wsEnv struct {
	url string // ws://127.0.0.1:PORT/ws
	h   *Handler
	eng *core.Engine
}

func startWS(t *testing.T, cfg Config, agents ...core.Agent) *wsEnv {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	eng := enginetest.New(t, enginetest.Options{Engine: core.EngineConfig{Logger: quiet, LeaseTTL: -1,
		DisconnectGrace: 300 * time.Millisecond}}, agents...).Engine
	srv := httptransport.New(httptransport.Config{Logger: quiet, Auth: cfg.Auth})
	cfg.Logger = quiet
	h := Register(srv.App, eng, cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		// The engine first, as its runs end before the sockets go (closing
		// is idempotent: enginetest closes it again with its log and store).
		_ = eng.Close(sctx)
		_ = h.Shutdown(sctx)
		_ = srv.Shutdown(sctx)
	})
	return &wsEnv{url: "ws://" + ln.Addr().String() + Path, h: h, eng: eng}
}

func (e *wsEnv) dial(t *testing.T, header http.Header) *fws.Conn {
	t.Helper()
	c, resp, err := fws.DefaultDialer.Dial(e.url, header)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (status %d)", e.url, err, status)
	}
	t.Cleanup(func() { _ = c.Close() })
	if f := readFrame(t, c); f["event"] != "connected" {
		t.Fatalf("first frame %v, want connected", f)
	}
	return c
}

func sendFrame(t *testing.T, c *fws.Conn, v any) {
	t.Helper()
	var b []byte
	switch x := v.(type) {
	case string:
		b = []byte(x)
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.WriteMessage(fws.TextMessage, b); err != nil {
		t.Fatalf("send: %v", err)
	}
}

func readFrame(t *testing.T, c *fws.Conn) map[string]any {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	mt, b, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if mt != fws.TextMessage {
		t.Fatalf("frame of type %d, want text", mt)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("frame is not a JSON object: %s", b)
	}
	return m
}

// readUntil reads frames until one whose event is want, and returns them all.
func readUntil(t *testing.T, c *fws.Conn, want string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for {
		f := readFrame(t, c)
		out = append(out, f)
		if f["event"] == want {
			return out
		}
		if len(out) > 10000 {
			t.Fatalf("no %s in 10000 frames", want)
		}
	}
}

// closeCode reads until the socket ends and returns its close code
// (1006: closed without a close frame).
func closeCode(t *testing.T, c *fws.Conn, within time.Duration) int {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(within))
	for {
		_, _, err := c.ReadMessage()
		if err == nil {
			continue
		}
		var ce *fws.CloseError
		if errors.As(err, &ce) {
			return ce.Code
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("socket still open after %v", within)
		}
		return fws.CloseAbnormalClosure
	}
}

func TestWSSocketUpgradeChecks(t *testing.T) {
	t.Parallel()
	env := startWS(t, Config{Settings: Settings{AllowedOrigins: []string{"https://chat.example.com"}}})
	httpURL := "http" + strings.TrimPrefix(env.url, "ws")
	resp, err := http.Get(httpURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired {
		t.Errorf("plain GET: status %d, want 426", resp.StatusCode)
	}
	for origin, ok := range map[string]bool{
		"":                         true, // not a browser
		"https://chat.example.com": true,
		"https://evil.example":     false,
		"http://" + strings.TrimSuffix(strings.TrimPrefix(env.url, "ws://"), Path): true, // same origin
	} {
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		c, resp, err := fws.DefaultDialer.Dial(env.url, h)
		switch {
		case ok && err != nil:
			t.Errorf("origin %q refused: %v", origin, err)
		case !ok && (err == nil || resp == nil || resp.StatusCode != http.StatusForbidden):
			t.Errorf("origin %q: err %v, want 403", origin, err)
		}
		if c != nil {
			c.Close()
		}
	}
}

// Binary and oversized frames are answered with error frames and the socket
// stays usable; a frame over 4x the limit closes it with 1009.
func TestWSSocketFrameLimits(t *testing.T) {
	t.Parallel()
	env := startWS(t, Config{Settings: Settings{MaxFrameBytes: 1024}})
	c := env.dial(t, nil)
	if err := c.WriteMessage(fws.BinaryMessage, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if f := readFrame(t, c); f["event"] != "error" || f["code"] != "invalid" || !strings.Contains(f["detail"].(string), "binary") {
		t.Errorf("binary frame answered %v", f)
	}
	sendFrame(t, c, `{"action":"ping","id":"`+strings.Repeat("y", 2000)+`"}`)
	if f := readFrame(t, c); f["event"] != "error" || !strings.Contains(f["detail"].(string), "exceeds 1024 bytes") {
		t.Errorf("oversized frame answered %v", f)
	}
	sendFrame(t, c, `{"action":"ping","id":"after"}`)
	if f := readFrame(t, c); f["event"] != "pong" || f["id"] != "after" {
		t.Errorf("ping after the errors answered %v", f)
	}
	sendFrame(t, c, strings.Repeat(" ", 5000))
	if code := closeCode(t, c, 5*time.Second); code != fws.CloseMessageTooBig {
		t.Errorf("close code %d, want 1009", code)
	}
}

// A client that stops reading is closed with 1013 once the queue stayed
// full for the slow-consumer timeout; its foreground run is detached, not
// cancelled, and can be resumed on a new socket.
func TestWSSocketSlowConsumer(t *testing.T) {
	t.Parallel()
	env := startWS(t, Config{Settings: Settings{QueueSize: 16, SlowConsumerTimeout: 500 * time.Millisecond}},
		&paceAgent{id: "firehose", n: 400, size: 32 << 10})
	c, _, err := (&fws.Dialer{NetDialContext: smallBuffers}).Dial(env.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	readFrame(t, c) // connected
	sendFrame(t, c, map[string]any{"action": "start", "id": "s", "agent_id": "firehose", "message": "go"})
	ack := readFrame(t, c)
	runID, _ := ack["run_id"].(string)
	if ack["event"] != "ack" || runID == "" {
		t.Fatalf("start answered %v", ack)
	}
	time.Sleep(2500 * time.Millisecond) // stop reading
	last := -1.0
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	code := 0
	for {
		_, b, err := c.ReadMessage()
		if err != nil {
			var ce *fws.CloseError
			if errors.As(err, &ce) {
				code = ce.Code
			}
			t.Logf("socket ended after event %v: %v", last, err)
			break
		}
		var f map[string]any
		_ = json.Unmarshal(b, &f)
		if idx, ok := f["event_index"].(float64); ok {
			if idx != last+1 {
				t.Fatalf("event %v after %v", idx, last)
			}
			last = idx
		}
	}
	if code != fws.CloseTryAgainLater {
		t.Fatalf("close code %d, want 1013", code)
	}
	// Detached, not cancelled: resume on a new socket after the last index.
	c2 := env.dial(t, nil)
	sendFrame(t, c2, map[string]any{"action": "subscribe", "id": "r", "run_id": runID, "last_event_index": int(last)})
	if ack := readFrame(t, c2); ack["event"] != "ack" {
		t.Fatalf("subscribe answered %v", ack)
	}
	for {
		_ = c2.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, b, err := c2.ReadMessage()
		if err != nil {
			t.Fatalf("resume after %v: %v", last, err)
		}
		// The head is enough (event and event_index come first); decoding
		// 32 KiB frames under -race would make this client the slow one.
		m := eventHead.FindSubmatch(b)
		if m == nil {
			t.Fatalf("resume: unexpected frame %.200s", b)
		}
		var ev struct {
			Event      string
			EventIndex float64
		}
		ev.Event = string(m[1])
		_, _ = fmt.Sscan(string(m[2]), &ev.EventIndex)
		if ev.EventIndex != last+1 {
			t.Fatalf("resume: event %v after %v", ev.EventIndex, last)
		}
		last = ev.EventIndex
		if ev.Event == "RunCompleted" {
			break
		}
	}
	if last != 401 {
		t.Errorf("the run ended at index %v, want 401", last)
	}
}

var eventHead = regexp.MustCompile(`^\{"event":"(\w+)","event_index":(\d+)`)

// smallBuffers dials with a small receive buffer, so a client that does not
// read fills the server's queue quickly.
func smallBuffers(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err == nil {
		_ = c.(*net.TCPConn).SetReadBuffer(64 << 10)
	}
	return c, err
}

// A client that goes away takes its foreground runs with it once the
// disconnect grace (300 ms here) passes with nobody following them;
// background runs go on.
func TestWSSocketDisconnectCancelsForegroundRuns(t *testing.T) {
	t.Parallel()
	env := startWS(t, Config{}, &paceAgent{id: "slow", n: 200, size: 10, delay: 20 * time.Millisecond})
	c := env.dial(t, nil)
	sendFrame(t, c, map[string]any{"action": "start", "id": "fg", "agent_id": "slow", "message": "a"})
	sendFrame(t, c, map[string]any{"action": "start", "id": "bg", "agent_id": "slow", "message": "b", "background": true})
	runs := map[string]string{}
	for len(runs) < 2 {
		if f := readFrame(t, c); f["event"] == "ack" {
			runs[f["id"].(string)] = f["run_id"].(string)
		}
	}
	readFrame(t, c)
	_ = c.WriteControl(fws.CloseMessage, fws.FormatCloseMessage(fws.CloseNormalClosure, "bye"), time.Now().Add(time.Second))
	c.Close()
	r := testutil.WaitRunStatus(t, env.eng, runs["fg"], core.RunCancelled, 10*time.Second)
	if r.Status != core.RunCancelled {
		t.Fatalf("foreground run %s", r.Status)
	}
	if r, _ := env.eng.Get(context.Background(), runs["bg"]); r.Status != core.RunRunning {
		t.Errorf("background run is %s after the socket closed, want RUNNING", r.Status)
	}
	_, _ = env.eng.Cancel(context.Background(), runs["bg"])
}

// The server pings; a client that answers stays connected, one that does
// not is dropped after ping_interval + pong_timeout.
func TestWSSocketKeepalive(t *testing.T) {
	t.Parallel()
	env := startWS(t, Config{Settings: Settings{PingInterval: 200 * time.Millisecond, PongTimeout: 400 * time.Millisecond}})
	alive := env.dial(t, nil)
	pings := 0
	alive.SetPingHandler(func(data string) error {
		pings++
		return alive.WriteControl(fws.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	_ = alive.SetReadDeadline(time.Now().Add(1500 * time.Millisecond))
	_, _, err := alive.ReadMessage() // only control frames arrive: times out
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || pings < 3 {
		t.Fatalf("answering client: %v after %d pings", err, pings)
	}

	mute := env.dial(t, nil)
	mute.SetPingHandler(func(string) error { return nil }) // never answers
	start := time.Now()
	if code := closeCode(t, mute, 5*time.Second); code != fws.CloseAbnormalClosure {
		t.Errorf("mute client: close code %d, want the connection dropped (1006)", code)
	}
	if d := time.Since(start); d < 400*time.Millisecond { // 600 ms from the server's accept, a little less from here
		t.Errorf("mute client dropped after %v, before ping_interval+pong_timeout", d)
	}
}

// Shutdown lets a live run's last frames reach the socket, then closes it
// with 1001; new sockets are refused.
func TestWSSocketShutdown(t *testing.T) {
	t.Parallel()
	env := startWS(t, Config{}, &paceAgent{id: "short", n: 5, size: 10, delay: 50 * time.Millisecond})
	c := env.dial(t, nil)
	sendFrame(t, c, map[string]any{"action": "start", "agent_id": "short", "message": "a"})
	readFrame(t, c) // ack
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- env.h.Shutdown(ctx) }()
	frames := readUntil(t, c, "RunCompleted")
	if n := len(frames); n != 7 {
		t.Errorf("%d frames before RunCompleted, want 7 (RunStarted, 5 RunContent, RunCompleted)", n)
	}
	if code := closeCode(t, c, 5*time.Second); code != fws.CloseGoingAway {
		t.Errorf("close code %d, want 1001", code)
	}
	if err := <-done; err != nil {
		t.Errorf("shutdown: %v", err)
	}
	if _, resp, err := fws.DefaultDialer.Dial(env.url, nil); err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("dial after shutdown: %v, want 503", err)
	}
}

// Two runs multiplexed on one socket each arrive complete and in order.
func TestWSSocketMultiplex(t *testing.T) {
	t.Parallel()
	env := startWS(t, Config{}, &paceAgent{id: "a", n: 30, size: 5, delay: 5 * time.Millisecond})
	c := env.dial(t, nil)
	for i := range 2 {
		sendFrame(t, c, map[string]any{"action": "start", "id": fmt.Sprint(i), "agent_id": "a", "message": "m"})
	}
	next := map[string]float64{}
	done := 0
	for done < 2 {
		f := readFrame(t, c)
		if f["event"] == "ack" {
			next[f["run_id"].(string)] = 0
			continue
		}
		run := f["run_id"].(string)
		if f["event_index"].(float64) != next[run] {
			t.Fatalf("run %s: index %v, want %v", run, f["event_index"], next[run])
		}
		next[run]++
		if f["event"] == "RunCompleted" {
			done++
		}
	}
	if len(next) != 2 {
		t.Fatalf("runs %v", next)
	}
}
