package e2e

import (
	"bufio"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestHeartbeatOnSilence: a stream with nothing to say for longer than
// http.heartbeat carries ": heartbeat" comment frames between events.
func TestHeartbeatOnSilence(t *testing.T) {
	t.Parallel()
	g := startGateway(t, `
http:
  heartbeat: 100ms
models:
  slow:
    provider: scripted
    model: slow-1
    chunks: 3
    chunk_delay: 450ms
    script:
      - reply: "one two three"
agents:
  - id: slow
    model: slow
`)
	ctx := testCtx(t, 20*time.Second)
	resp := g.postForm(t, ctx, "/agents/slow/runs", url.Values{"message": {"x"}})
	expectSSE(t, resp)
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	heartbeats, between := 0, false
	sawContent := false
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == ": heartbeat":
			heartbeats++
			if sawContent {
				between = true
			}
		case strings.HasPrefix(line, "event: RunContent"):
			sawContent = true
		case strings.HasPrefix(line, "event: RunCompleted"):
			if heartbeats < 2 || !between {
				t.Fatalf("saw %d heartbeats (between content: %v); want some during the 450 ms silences", heartbeats, between)
			}
			return
		}
	}
	t.Fatalf("stream ended without RunCompleted: %v", sc.Err())
}
