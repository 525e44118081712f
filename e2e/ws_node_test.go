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

// TestWSNodeClient drives e2e/node/ws_chat.mjs: the `ws` npm package as a
// real WebSocket client does a chat, two multiplexed runs, a reconnect with
// subscribe + last_event_index (exactly the missing events), malformed
// frames (error frames, socket kept), and a slow-consumer close (1013)
// followed by a resume. It needs node and e2e/node/node_modules (`make
// node-deps` runs `npm ci` there); it fails rather than skips without them.
func TestWSNodeClient(t *testing.T) {
	t.Parallel()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not installed (Node 20+ is needed for the real-client test): %v", err)
	}
	if _, err := os.Stat(filepath.Join("node", "node_modules", "ws", "package.json")); err != nil {
		t.Fatalf("e2e/node/node_modules is missing: run `npm ci` in e2e/node (make node-deps): %v", err)
	}
	// hose: 400 chunks of ~16 KiB at once (about 6.5 MB), more than the
	// loopback buffers of a client that stops reading.
	word := strings.Repeat("h", 16<<10)
	g := startGateway(t, wsConfigMore("ws:\n  queue_size: 8\n  slow_consumer_timeout: 500ms\n", fmt.Sprintf(`
  hose:
    provider: scripted
    model: hose-1
    chunks: 400
    script:
      - reply: "%s"
`, strings.TrimSpace(strings.Repeat(word+" ", 400))), `
  - id: hose
    name: Hose
    model: hose
`))

	ctx := testCtx(t, 90*time.Second)
	cmd := exec.CommandContext(ctx, node, "ws_chat.mjs")
	cmd.Dir = "node"
	cmd.Env = cleanEnv("AGENTGATE_WS_URL="+g.wsURL(), "TIMEOUT_MS=75000")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node ws_chat.mjs: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var sum struct {
		Chat struct {
			RunID   string `json:"run_id"`
			Events  int64  `json:"events"`
			Content string `json:"content"`
		} `json:"chat"`
		Multiplex struct {
			Runs     int `json:"runs"`
			Switches int `json:"switches"`
		} `json:"multiplex"`
		Resume struct {
			RunID  string `json:"run_id"`
			Before int    `json:"before"`
			After  int    `json:"after"`
			Total  int64  `json:"total"`
		} `json:"resume"`
		Malformed struct {
			Errors []string `json:"errors"`
		} `json:"malformed"`
		Slow struct {
			CloseCode int   `json:"close_code"`
			Last      int64 `json:"last_before_close"`
			ResumedTo int64 `json:"resumed_to"`
		} `json:"slow"`
	}
	decode(t, []byte(lines[len(lines)-1]), &sum)
	t.Logf("ws (node): %s", lines[len(lines)-1][:min(len(lines[len(lines)-1]), 600)])

	// The gateway agrees with what the client saw.
	for _, c := range []struct {
		agent, runID string
		events       int64
	}{{"quick", sum.Chat.RunID, sum.Chat.Events}, {"story", sum.Resume.RunID, sum.Resume.Total}} {
		r, b := g.getRun(t, ctx, c.agent, c.runID)
		if r.Status != "COMPLETED" || r.EventCount != c.events {
			t.Errorf("run %s after the client saw %d events: %s", c.runID, c.events, b)
		}
	}
	if sum.Resume.Total != wsChunks+5 || sum.Multiplex.Runs != 2 || len(sum.Malformed.Errors) != 4 ||
		sum.Slow.CloseCode != 1013 || sum.Slow.ResumedTo != 400+4 {
		t.Errorf("summary %+v", sum)
	}
}
