package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
)

// A chat over a WebSocket: ack, then the same events as SSE (byte for byte:
// a replay over WS equals GET .../stream's data lines), ending with
// RunCompleted; the run is stored like a REST run; the session goes on.
func TestWSChat(t *testing.T) {
	t.Parallel()
	g := startGateway(t, wsConfig(""))
	w, hello := wsDial(t, g, nil)
	if hello.AuthRequired {
		t.Errorf("auth mode none: connected frame says auth_required: %s", hello)
	}
	w.send(`{"action":"ping","id":"p"}`)
	if f := w.expect("pong"); string(f.ID) != `"p"` {
		t.Errorf("pong %s", f)
	}
	w.send(map[string]any{"action": "start", "id": 1, "agent_id": "quick", "message": "hello there"})
	ack := w.expect("ack")
	if ack.Action != "start" || string(ack.ID) != "1" || ack.RunID == "" || ack.SessionID == "" || ack.Status != "RUNNING" {
		t.Fatalf("start ack %s", ack)
	}
	evs := w.untilEnd(ack.RunID, 0)
	want := "RunStarted,ModelRequestStarted,RunContent,RunContent,RunContent,ModelRequestCompleted,RunContentCompleted,RunCompleted"
	if got := eventTypes(evs); got != want {
		t.Errorf("events %s\nwant   %s", got, want)
	}
	var content strings.Builder
	for _, f := range evs {
		if f.Event == "RunContent" {
			content.WriteString(f.Content)
		}
	}
	if content.String() != "You said: hello there" || evs[len(evs)-1].Content != "You said: hello there" {
		t.Errorf("content %q, final %q", content.String(), evs[len(evs)-1].Content)
	}
	r, _ := g.getRun(t, testCtx(t, 10*time.Second), "quick", ack.RunID)
	if r.Status != "COMPLETED" || r.EventCount != int64(len(evs)) || r.SessionID != ack.SessionID {
		t.Errorf("stored run %+v after %d events", r, len(evs))
	}

	// The same events as SSE, byte for byte.
	resp := g.get(t, testCtx(t, 10*time.Second), "/agents/quick/runs/"+ack.RunID+"/stream")
	expectSSE(t, resp)
	sse := readFrames(t, resp.Body)
	resp.Body.Close()
	if len(sse) != len(evs) {
		t.Fatalf("%d SSE frames, %d WS frames", len(sse), len(evs))
	}
	for i := range sse {
		if sse[i].Data != string(evs[i].Raw) {
			t.Errorf("event %d differs:\nSSE %s\nWS  %s", i, sse[i].Data, evs[i].Raw)
		}
	}

	// The conversation goes on in the same session.
	w.send(map[string]any{"action": "start", "id": 2, "agent_id": "quick", "message": "again", "session_id": ack.SessionID})
	ack2 := w.expect("ack")
	if ack2.SessionID != ack.SessionID || ack2.RunID == ack.RunID {
		t.Errorf("second ack %s", ack2)
	}
	w.untilEnd(ack2.RunID, 0)
}

// Two runs multiplexed on one socket: both complete, each in order without
// gaps, and their frames interleave.
func TestWSMultiplex(t *testing.T) {
	t.Parallel()
	g := startGateway(t, wsConfig(""))
	w, _ := wsDial(t, g, nil)
	w.send(`{"action":"start","id":"a","agent_id":"story","message":"first"}`)
	w.send(`{"action":"start","id":"b","agent_id":"story","message":"second"}`)
	next := map[string]int64{}
	byID := map[string]string{}
	var order []string
	ended := 0
	for ended < 2 {
		f := w.read()
		if f.Event == "ack" {
			byID[string(f.ID)] = f.RunID
			next[f.RunID] = 0
			continue
		}
		n, ok := next[f.RunID]
		if !ok || !f.isRunEvent() {
			t.Fatalf("frame before its ack or unexpected: %s", f)
		}
		if f.EventIndex != n {
			t.Fatalf("run %s: event_index %d, want %d", f.RunID, f.EventIndex, n)
		}
		next[f.RunID] = n + 1
		order = append(order, f.RunID)
		if f.Event == "RunCompleted" {
			ended++
		}
	}
	a, b := byID[`"a"`], byID[`"b"`]
	if a == "" || b == "" || a == b {
		t.Fatalf("acks %v", byID)
	}
	for _, id := range []string{a, b} {
		if next[id] != wsChunks+5 {
			t.Errorf("run %s: %d events, want %d", id, next[id], wsChunks+5)
		}
	}
	switches := 0
	for i := 1; i < len(order); i++ {
		if order[i] != order[i-1] {
			switches++
		}
	}
	if switches < 4 {
		t.Errorf("the runs' frames did not interleave (%d switches): %v", switches, order)
	}
}

// A background run survives its socket: after a drop, a new socket's
// subscribe with last_event_index gets exactly the missing events, then the
// live ones. A foreground run is cancelled when its socket drops and
// nobody follows it within the disconnect grace.
func TestWSReconnectResume(t *testing.T) {
	t.Parallel()
	g := startGateway(t, wsConfig("runs:\n  disconnect_grace: 200ms\n"))
	w, _ := wsDial(t, g, nil)
	w.send(`{"action":"start","id":"bg","agent_id":"story","message":"tell me","background":true}`)
	ack := w.expect("ack")
	const keep = 6
	var got []wsFrame
	for len(got) < keep {
		got = append(got, w.read())
	}
	w.drop()
	time.Sleep(300 * time.Millisecond) // the run goes on meanwhile

	w2, _ := wsDial(t, g, nil)
	last := got[keep-1].EventIndex
	w2.send(map[string]any{"action": "subscribe", "id": "re", "run_id": ack.RunID, "last_event_index": last})
	sack := w2.expect("ack")
	if sack.Action != "subscribe" || sack.RunID != ack.RunID {
		t.Fatalf("subscribe ack %s", sack)
	}
	rest := w2.untilEnd(ack.RunID, last+1)
	all := append(got, rest...)
	if n := len(all); n != wsChunks+5 || all[n-1].Event != "RunCompleted" {
		t.Fatalf("%d events in all, ending %s; want %d ending RunCompleted", n, all[n-1].Event, wsChunks+5)
	}
	for i, f := range all {
		if f.EventIndex != int64(i) {
			t.Fatalf("event %d has index %d", i, f.EventIndex)
		}
	}

	// Foreground: the drop cancels the run (after the grace).
	w3, _ := wsDial(t, g, nil)
	w3.send(`{"action":"start","id":"fg","agent_id":"story","message":"tell me"}`)
	fg := w3.expect("ack")
	w3.read()
	w3.drop()
	r := wsWaitStatus(t, g, "story", fg.RunID, "CANCELLED")
	if r.EventCount >= wsChunks+5 {
		t.Errorf("cancelled run has %d events", r.EventCount)
	}
}

// A client too slow to keep up is closed with 1013; the run is detached
// (not cancelled) and a new socket resumes it exactly.
func TestWSSlowConsumer(t *testing.T) {
	t.Parallel()
	// 300 chunks of ~16 KiB, no delay: about 5 MB, more than the loopback
	// buffers of a client that stops reading.
	word := strings.Repeat("z", 16<<10)
	reply := strings.TrimSpace(strings.Repeat(word+" ", 300))
	g := startGateway(t, fmt.Sprintf(`
ws:
  queue_size: 8
  slow_consumer_timeout: 300ms
models:
  hose:
    provider: scripted
    model: hose-1
    chunks: 300
    script:
      - reply: "%s"
agents:
  - id: hose
    name: Hose
    model: hose
`, reply))
	d := &websocket.Dialer{NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err == nil {
			_ = c.(*net.TCPConn).SetReadBuffer(64 << 10) // no autotuning: the server's queue fills
		}
		return c, err
	}}
	w, _ := wsDialWith(t, g, d, nil)
	w.send(`{"action":"start","id":"s","agent_id":"hose","message":"go"}`)
	ack := w.expect("ack")
	time.Sleep(2 * time.Second) // stop reading
	last := int64(-1)
	code := 0
	for {
		f, err := w.tryRead(20 * time.Second)
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				code = ce.Code
			}
			break
		}
		if f.EventIndex != last+1 {
			t.Fatalf("event %d after %d", f.EventIndex, last)
		}
		last = f.EventIndex
	}
	if code != websocket.CloseTryAgainLater {
		t.Fatalf("socket ended with code %d after event %d, want 1013", code, last)
	}
	t.Logf("closed with 1013 after event %d", last)
	w2, _ := wsDial(t, g, nil)
	w2.send(map[string]any{"action": "subscribe", "id": "r", "run_id": ack.RunID, "last_event_index": last})
	w2.expect("ack")
	rest := w2.untilEnd(ack.RunID, last+1)
	if end := rest[len(rest)-1]; end.Event != "RunCompleted" || end.EventIndex != 300+4 {
		t.Errorf("resumed run ended with %s at %d", end.Event, end.EventIndex)
	}
}

// Malformed frames are answered with error frames (code invalid) and the
// socket stays usable; binary frames too.
func TestWSMalformedFrames(t *testing.T) {
	t.Parallel()
	g := startGateway(t, wsConfig("ws:\n  max_frame_bytes: 4096\n"))
	w, hello := wsDial(t, g, nil)
	if !bytes.Contains(hello.Raw, []byte(`"max_frame_bytes":4096`)) {
		t.Errorf("connected frame %s", hello)
	}
	cases := []struct{ frame, detail string }{
		{`nope`, "JSON object"},
		{`{"action":"ping"`, "truncated"},
		{`{"action":"teleport","id":"t"}`, "unknown action"},
		{`{"action":"start","id":"s","agent_id":"quick"}`, "message is required"},
		{`{"action":"subscribe","id":"r","run_id":"x","last_event_index":"7"}`, "last_event_index"},
		{`{"action":"ping","id":"` + strings.Repeat("x", 5000) + `"}`, "exceeds 4096 bytes"},
	}
	for _, c := range cases {
		w.send(c.frame)
		f := w.expect("error")
		if f.Code != "invalid" || !strings.Contains(f.Detail, c.detail) {
			t.Errorf("%.60s: answered %s, want code invalid and %q", c.frame, f, c.detail)
		}
	}
	if err := w.c.WriteMessage(websocket.BinaryMessage, []byte{0xff, 0}); err != nil {
		t.Fatal(err)
	}
	if f := w.expect("error"); f.Code != "invalid" {
		t.Errorf("binary frame answered %s", f)
	}
	for _, c := range []struct{ frame, code string }{
		{`{"action":"start","id":"u","agent_id":"nobody","message":"hi"}`, "not_found"},
		{`{"action":"subscribe","id":"v","run_id":"missing"}`, "not_found"},
	} {
		w.send(c.frame)
		if f := w.expect("error"); f.Code != c.code {
			t.Errorf("%s answered %s, want %s", c.frame, f, c.code)
		}
	}
	w.send(`{"action":"start","id":"ok","agent_id":"quick","message":"still here?"}`)
	ack := w.expect("ack")
	w.untilEnd(ack.RunID, 0)
}

// Human in the loop over WS: RunPaused ends the segment; continue with the
// decision follows the rest of the same stream (RunContinued first).
func TestWSContinue(t *testing.T) {
	t.Parallel()
	g := startGateway(t, wsConfig(""))
	w, _ := wsDial(t, g, nil)
	w.send(`{"action":"start","id":1,"agent_id":"approver","message":"compute"}`)
	ack := w.expect("ack")
	evs := w.untilEnd(ack.RunID, 0)
	paused := evs[len(evs)-1]
	if paused.Event != "RunPaused" || len(paused.Tools) == 0 {
		t.Fatalf("run did not pause: %s", eventTypes(evs))
	}
	tools := strings.Replace(string(paused.Tools), `"requires_confirmation":true`, `"requires_confirmation":true,"confirmed":true`, 1)
	w.send(`{"action":"continue","id":2,"run_id":"` + ack.RunID + `","tools":` + tools + `}`)
	cack := w.expect("ack")
	if cack.Action != "continue" || !bytes.Contains(cack.Raw, []byte(`"last_event_index":`+strconv.FormatInt(paused.EventIndex, 10))) {
		t.Errorf("continue ack %s", cack)
	}
	rest := w.untilEnd(ack.RunID, paused.EventIndex+1)
	if rest[0].Event != "RunContinued" || rest[len(rest)-1].Event != "RunCompleted" ||
		!strings.Contains(rest[len(rest)-1].Content, "42") {
		t.Errorf("after continue: %s (%s)", eventTypes(rest), rest[len(rest)-1])
	}
	w.send(`{"action":"cancel","id":3,"run_id":"` + ack.RunID + `"}`)
	if f := w.expect("ack"); f.Status != "COMPLETED" {
		t.Errorf("cancel of a finished run: %s", f)
	}
}

// An Origin that is not allowed is refused at the handshake; a listed one
// and same-origin pages are accepted.
func TestWSOrigin(t *testing.T) {
	t.Parallel()
	g := startGateway(t, wsConfig("ws:\n  allowed_origins: [\"https://chat.example.com\"]\n"))
	for origin, want := range map[string]int{
		"https://evil.example.com": http.StatusForbidden,
		"https://chat.example.com": http.StatusSwitchingProtocols,
		"http://" + g.Addr:         http.StatusSwitchingProtocols,
	} {
		c, resp, err := websocket.DefaultDialer.Dial(g.wsURL(), http.Header{"Origin": {origin}})
		if resp == nil || resp.StatusCode != want {
			t.Errorf("origin %s: %v (resp %v), want status %d", origin, err, resp, want)
		}
		if c != nil {
			c.Close()
		}
	}
}

// A graceful shutdown (SIGTERM) drains the sockets: a live run's stream
// ends with its final frame (RunCancelled: the server is shutting down),
// then the socket is closed with 1001, and the process exits 0.
func TestWSShutdown(t *testing.T) {
	t.Parallel()
	g := startGateway(t, wsConfigMore("", `
  long:
    provider: scripted
    model: long-1
    chunks: 200
    chunk_delay: 25ms
    script:
      - reply: "`+words(200)+`"
`, `
  - id: long
    name: Long
    model: long
`))
	w, _ := wsDial(t, g, nil)
	w.send(`{"action":"start","id":"l","agent_id":"long","message":"go"}`)
	ack := w.expect("ack")
	w.untilN(ack.RunID, 3)
	stopped := make(chan struct{})
	go func() { defer close(stopped); g.stop() }()
	evs := w.untilEnd(ack.RunID, 3)
	if end := evs[len(evs)-1]; end.Event != "RunCancelled" {
		t.Errorf("stream ended with %s, want RunCancelled", end)
	}
	if code := w.closeCode(10 * time.Second); code != websocket.CloseGoingAway {
		t.Errorf("close code %d, want 1001", code)
	}
	<-stopped
}
