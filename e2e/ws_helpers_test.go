package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
)

// Shared by the ws_*_test.go files: a real WebSocket client
// (github.com/fasthttp/websocket) against the agentgate binary's /ws.

// wsConfig is a config whose agents stream at a visible pace: "story"
// answers in wsChunks chunks 40 ms apart, "quick" at once, "approver"
// pauses for confirmation first. extra is more top-level YAML.
func wsConfig(extra string) string { return wsConfigMore(extra, "", "") }

// wsConfigMore is wsConfig with more entries (indented YAML) under models:
// and agents:.
func wsConfigMore(extra, models, agents string) string {
	return extra + fmt.Sprintf(`
models:
  story:
    provider: scripted
    model: story-1
    chunks: %d
    chunk_delay: 40ms
    script:
      - reply: "%s"
  quick:
    provider: scripted
    model: quick-1
    chunks: 3
    script:
      - reply: "You said: {{input}}"
  approval:
    provider: scripted
    model: approval-1
    chunks: 2
    script:
      - tool_calls:
          - name: calculator
            arguments: {expression: "6*7"}
        reply: "The calculator returned {{tool_result}}."
        rejected_reply: "Rejected. Note: {{note}}"
%sagents:
  - id: story
    name: Story
    model: story
  - id: quick
    name: Quick
    model: quick
  - id: approver
    name: Approver
    model: approval
    tools:
      - name: calculator
        requires_confirmation: true
%s`, wsChunks, words(wsChunks), models, agents)
}

// wsChunks is the number of RunContent events of a story run, which has
// wsChunks+5 events (RunStarted, ModelRequestStarted, the chunks,
// ModelRequestCompleted, RunContentCompleted, RunCompleted).
const wsChunks = 20

// wsFrame is a decoded server frame plus its raw bytes.
type wsFrame struct {
	Raw                 []byte
	Event               string          `json:"event"`
	ID                  json.RawMessage `json:"id"`
	Action              string          `json:"action"`
	RunID               string          `json:"run_id"`
	SessionID           string          `json:"session_id"`
	EventIndex          int64           `json:"event_index"`
	Status              string          `json:"status"`
	Code                string          `json:"code"`
	Detail              string          `json:"detail"`
	Content             string          `json:"content"`
	Done                bool            `json:"done"`
	AuthRequired        bool            `json:"auth_required"`
	FirstAvailableIndex *int64          `json:"first_available_index"`
	Tools               json.RawMessage `json:"tools"`
}

// isRunEvent: run events are CamelCase, control frames lower case.
func (f wsFrame) isRunEvent() bool { return f.Event != "" && f.Event[0] >= 'A' && f.Event[0] <= 'Z' }

func (f wsFrame) String() string { return string(f.Raw) }

// wsConn is one client socket.
type wsConn struct {
	t *testing.T
	c *websocket.Conn
}

// wsURL is the gateway's /ws address.
func (g *gateway) wsURL() string { return "ws://" + g.Addr + "/ws" }

// wsDial opens a socket (header may carry Authorization) and reads the
// connected frame.
func wsDial(t *testing.T, g *gateway, header http.Header) (*wsConn, wsFrame) {
	t.Helper()
	return wsDialWith(t, g, websocket.DefaultDialer, header)
}

func wsDialWith(t *testing.T, g *gateway, d *websocket.Dialer, header http.Header) (*wsConn, wsFrame) {
	t.Helper()
	c, resp, err := d.Dial(g.wsURL(), header)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (status %d)", g.wsURL(), err, status)
	}
	t.Cleanup(func() { _ = c.Close() })
	w := &wsConn{t: t, c: c}
	f := w.read()
	if f.Event != "connected" {
		t.Fatalf("first frame %s, want connected", f)
	}
	return w, f
}

// send writes v (a string is sent verbatim) as a text frame.
func (w *wsConn) send(v any) {
	w.t.Helper()
	var b []byte
	if s, ok := v.(string); ok {
		b = []byte(s)
	} else {
		var err error
		if b, err = json.Marshal(v); err != nil {
			w.t.Fatal(err)
		}
	}
	if err := w.c.WriteMessage(websocket.TextMessage, b); err != nil {
		w.t.Fatalf("send %s: %v", b, err)
	}
}

// read returns the next frame (20 s at most).
func (w *wsConn) read() wsFrame {
	w.t.Helper()
	f, err := w.tryRead(20 * time.Second)
	if err != nil {
		w.t.Fatalf("read: %v", err)
	}
	return f
}

func (w *wsConn) tryRead(d time.Duration) (wsFrame, error) {
	_ = w.c.SetReadDeadline(time.Now().Add(d))
	mt, b, err := w.c.ReadMessage()
	if err != nil {
		return wsFrame{}, err
	}
	if mt != websocket.TextMessage {
		return wsFrame{}, fmt.Errorf("frame of type %d, want text", mt)
	}
	f := wsFrame{Raw: b}
	if err := json.Unmarshal(b, &f); err != nil {
		return wsFrame{}, fmt.Errorf("frame is not JSON: %s", b)
	}
	return f, nil
}

// expect reads one frame and checks its event.
func (w *wsConn) expect(event string) wsFrame {
	w.t.Helper()
	f := w.read()
	if f.Event != event {
		w.t.Fatalf("frame %s, want a %s frame", f, event)
	}
	return f
}

// untilEnd reads the run's frames up to the event that ends its segment
// (RunCompleted, RunError, RunCancelled, RunPaused) and checks that the
// indices follow each other from first.
func (w *wsConn) untilEnd(runID string, first int64) []wsFrame {
	w.t.Helper()
	var out []wsFrame
	for {
		f := w.read()
		if f.RunID != runID || !f.isRunEvent() {
			w.t.Fatalf("unexpected frame while following %s: %s", runID, f)
		}
		if want := first + int64(len(out)); f.EventIndex != want {
			w.t.Fatalf("run %s: event_index %d, want %d (gap or duplicate)", runID, f.EventIndex, want)
		}
		out = append(out, f)
		switch f.Event {
		case "RunCompleted", "RunError", "RunCancelled", "RunPaused":
			return out
		}
	}
}

// untilN reads the run's first n events (indices from 0).
func (w *wsConn) untilN(runID string, n int) []wsFrame {
	w.t.Helper()
	var out []wsFrame
	for len(out) < n {
		f := w.read()
		if f.RunID != runID || f.EventIndex != int64(len(out)) {
			w.t.Fatalf("following %s: unexpected %s after %d events", runID, f, len(out))
		}
		out = append(out, f)
	}
	return out
}

// closeCode reads until the socket ends and returns the close code (1006
// when it ended without a close frame).
func (w *wsConn) closeCode(within time.Duration) int {
	w.t.Helper()
	code, _, _ := w.closeFrame(within)
	return code
}

// closeFrame reads until the socket ends and returns the close code and
// reason (1006 and "" without a close frame) and the frames read before.
func (w *wsConn) closeFrame(within time.Duration) (int, string, []wsFrame) {
	w.t.Helper()
	deadline := time.Now().Add(within)
	var before []wsFrame
	for {
		f, err := w.tryRead(time.Until(deadline))
		if err == nil {
			before = append(before, f)
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code, ce.Text, before
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			w.t.Fatalf("socket still open after %v", within)
		}
		return websocket.CloseAbnormalClosure, "", before
	}
}

// drop closes the TCP connection without a close frame (a network drop).
func (w *wsConn) drop() { _ = w.c.NetConn().Close() }

// eventTypes lists the frames' events.
func eventTypes(fs []wsFrame) string {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = f.Event
	}
	return strings.Join(names, ",")
}

// wsWaitStatus polls the run over REST until it has status want.
func wsWaitStatus(t *testing.T, g *gateway, agent, runID, want string) run {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		r, b := g.getRun(t, ctx, agent, runID)
		if r.Status == want {
			return r
		}
		select {
		case <-ctx.Done():
			t.Fatalf("run %s is %s, want %s: %s", runID, r.Status, want, b)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
