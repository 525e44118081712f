package e2e

// The gateway's limits through its real interface: the size of a message,
// of ids, and the memory that maximum-size messages cost the process.

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// limitsConfig is an echoing agent (the scripted model replies with the
// message) that streams its reply in 20 pieces.
const limitsConfig = `
models:
  echo:
    provider: scripted
    model: echo-1
    chunks: 20
    script:
      - reply: "{{input}}"
agents:
  - id: echo
    name: Echo
    model: echo
`

// procStatus reads a "VmHWM:"-style line of /proc/<pid>/status, in bytes.
func procStatus(t testing.TB, pid int, field string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("%s: %q", field, line)
			}
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// message returns n bytes of words.
func message(n int) string {
	const w = "lorem ipsum dolor sit amet "
	return strings.Repeat(w, n/len(w)+1)[:n]
}

const mib = 1 << 20

// TestMaximumMessagesMemory sends six maximum-size messages at once to an
// echoing agent, streaming, and checks the process's peak RSS (VmHWM)
// against a bound; a message one byte over the limit is refused with 413.
func TestMaximumMessagesMemory(t *testing.T) {
	const maxMessage = 8 * mib // the default limits.max_message_bytes
	g := startGateway(t, limitsConfig+"runtime:\n  memory_limit: 256MiB\n")
	pid := g.cmd.Process.Pid
	ctx := testCtx(t, 60*time.Second)

	msg := message(maxMessage)
	// Warm up (the first run opens the database's connections etc.), so
	// the base is the process at work, not at rest.
	small := g.postForm(t, ctx, "/agents/echo/runs", url.Values{"message": {"hello"}, "stream": {"false"}})
	expectStatus(t, small, http.StatusOK)
	base := procStatus(t, pid, "VmRSS")

	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp := g.postMultipart(t, ctx, "/agents/echo/runs", url.Values{"message": {msg}, "session_id": {fmt.Sprintf("mem-%d", i)}})
			expectSSE(t, resp)
			frames := readFrames(t, resp.Body)
			_ = resp.Body.Close()
			evs := events(t, frames, 0)
			last := evs[len(evs)-1]
			if last.Event != "RunCompleted" || len(last.Content) != len(msg) {
				errs <- fmt.Errorf("run %d ended %s with %d bytes of content, want RunCompleted with %d", i, last.Event, len(last.Content), len(msg))
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	peak := procStatus(t, pid, "VmHWM")
	input := int64(6 * len(msg))
	// The bound: the base plus 10 times the input in flight (measured: 6 to
	// 7 times with the 256 MiB soft limit, 10 to 11 times without one; the
	// echo agent's reply doubles what each run holds).
	bound := base + 10*input
	t.Logf("6 × %d MiB messages: RSS base %d MiB, peak %d MiB (%.1f× the input above the base), bound %d MiB",
		len(msg)/mib, base/mib, peak/mib, float64(peak-base)/float64(input), bound/mib)
	if peak > bound {
		t.Errorf("peak RSS %d MiB is over the bound of %d MiB", peak/mib, bound/mib)
	}

	// Over the limit by one byte: 413, naming the setting.
	got := expectDetail(t, g.postMultipart(t, ctx, "/agents/echo/runs", url.Values{"message": {msg + "x"}}), http.StatusRequestEntityTooLarge)
	if d := got["detail"].(string); !strings.Contains(d, "limits.max_message_bytes") {
		t.Errorf("413 detail %q does not name limits.max_message_bytes", d)
	}

	// The process gives memory back once quiet: its RSS comes down to the
	// base plus what it keeps (the in-memory event log holds each run's
	// reply for event_log.retention) plus SQLite's heap (measured: 187 MiB
	// for a base of 60).
	deadline := time.Now().Add(40 * time.Second)
	for {
		rss := procStatus(t, pid, "VmRSS")
		if rss < base+input+128*mib {
			t.Logf("RSS back to %d MiB after the burst", rss/mib)
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("RSS still %d MiB 40s after the burst (base %d MiB)", rss/mib, base/mib)
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestIDLimits: ids a caller gives are bounded (255 bytes, no whitespace
// or control characters) with 400 naming the id, on run creation, run
// lookups and session creation.
func TestIDLimits(t *testing.T) {
	g := startGateway(t, limitsConfig)
	ctx := testCtx(t, 30*time.Second)
	long := strings.Repeat("s", 100<<10)
	check := func(resp *http.Response, name string) {
		t.Helper()
		got := expectDetail(t, resp, http.StatusBadRequest)
		if d := got["detail"].(string); !strings.Contains(d, name) || len(d) > 1000 {
			t.Errorf("detail %.200q does not name %s briefly", d, name)
		}
	}
	check(g.postForm(t, ctx, "/agents/echo/runs", url.Values{"message": {"hi"}, "session_id": {long}}), "session_id")
	check(g.postForm(t, ctx, "/agents/echo/runs", url.Values{"message": {"hi"}, "user_id": {strings.Repeat("u", 256)}}), "user_id")
	check(g.postForm(t, ctx, "/agents/echo/runs", url.Values{"message": {"hi"}, "session_id": {"a\tb"}}), "session_id")
	check(g.get(t, ctx, "/agents/echo/runs/"+strings.Repeat("r", 300)), "run_id")
	check(g.sendJSON(t, ctx, http.MethodPost, "/sessions", map[string]any{"session_id": long, "agent_id": "echo"}), "session_id")
	// At the limit: accepted.
	expectStatus(t, g.postForm(t, ctx, "/agents/echo/runs", url.Values{"message": {"hi"}, "stream": {"false"},
		"session_id": {strings.Repeat("s", 255)}}), http.StatusOK)
}

// TestMessageLimitEveryInterface: a message over limits.max_message_bytes
// is refused on every interface that takes one, with that protocol's
// error, naming the setting: REST 413, a WebSocket error frame, an MCP
// tool error, an A2A JSON-RPC error.
func TestMessageLimitEveryInterface(t *testing.T) {
	g := startGateway(t, wsConfig("limits:\n  max_message_bytes: 1000\n"))
	ctx := testCtx(t, 30*time.Second)
	big := message(1001)
	const setting = "limits.max_message_bytes"

	body := expectDetail(t, g.postForm(t, ctx, "/agents/quick/runs", url.Values{"message": {big}}), http.StatusRequestEntityTooLarge)
	if d := body["detail"].(string); !strings.Contains(d, setting) {
		t.Errorf("REST: %q", d)
	}
	expectStatus(t, g.postForm(t, ctx, "/agents/quick/runs", url.Values{"message": {message(1000)}, "stream": {"false"}}), http.StatusOK)

	w, _ := wsDial(t, g, nil)
	w.send(map[string]any{"action": "start", "id": "big", "agent_id": "quick", "message": big})
	if f := w.expect("error"); f.Code != "invalid" || !strings.Contains(f.Detail, setting) {
		t.Errorf("WebSocket: %s", f)
	}

	c, err := mcpConnect(t, g, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, _, err := mcpCall(t, ctx, c, "run_agent", map[string]any{"agent_id": "quick", "message": big}, nil)
	if err == nil && (!res.IsError || !strings.Contains(mcpText(res), setting)) {
		t.Errorf("MCP: %+v", res)
	} else if err != nil && !strings.Contains(err.Error(), setting) {
		t.Errorf("MCP: %v", err)
	}

	_, out := a2aCall(t, g, "", "/a2a/agents/quick", "SendMessage", a2aMessage(big, nil))
	if out.Error == nil || !strings.Contains(out.Error.Message, setting) {
		t.Errorf("A2A: %+v", out.Error)
	}
}
