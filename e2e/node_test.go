package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestNodeEventSourceResume drives e2e/node/sse_resume.mjs: the `eventsource`
// npm package follows a background run through a proxy that cuts the first
// connection; the library reconnects with Last-Event-ID by itself and must
// receive every event exactly once, ending with RunCompleted. It needs node
// and e2e/node/node_modules (`make node-deps` runs `npm ci` there); it fails
// rather than skips without them.
func TestNodeEventSourceResume(t *testing.T) {
	t.Parallel()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not installed (Node 20+ is needed for the real-client test): %v", err)
	}
	if _, err := os.Stat(filepath.Join("node", "node_modules", "eventsource", "package.json")); err != nil {
		t.Fatalf("e2e/node/node_modules is missing: run `npm ci` in e2e/node (make node-deps): %v", err)
	}
	// About 40 × 100 ms: the library's reconnect (3 s by default) lands
	// while the run is still going, so it gets a replay and then live events.
	g := startGateway(t, fmt.Sprintf(`
models:
  story:
    provider: scripted
    model: story-1
    chunks: 40
    chunk_delay: 100ms
    script:
      - reply: "%s"
agents:
  - id: story
    name: Story
    model: story
`, words(40)))

	ctx := testCtx(t, 45*time.Second)
	cmd := exec.CommandContext(ctx, node, "sse_resume.mjs")
	cmd.Dir = "node"
	cmd.Env = cleanEnv("AGENTGATE_URL="+g.URL, "AGENTGATE_AGENT=story", "TIMEOUT_MS=30000")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node sse_resume.mjs: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var sum struct {
		RunID       string `json:"run_id"`
		Events      int64  `json:"events"`
		Last        string `json:"last"`
		Connections int    `json:"connections"`
		Cut         int64  `json:"cut_after_events"`
		Resumed     string `json:"resumed_with_last_event_id"`
	}
	decode(t, []byte(lines[len(lines)-1]), &sum)
	t.Logf("eventsource: %+v", sum)
	// The gateway agrees: the run completed with as many events as arrived.
	r, b := g.getRun(t, ctx, "story", sum.RunID)
	if r.Status != "COMPLETED" || r.EventCount != sum.Events || sum.Last != "RunCompleted" {
		t.Errorf("run after the EventSource finished (%d events): %s", sum.Events, b)
	}
	if sum.Connections < 2 {
		t.Errorf("no reconnect happened: %+v", sum)
	}
}
