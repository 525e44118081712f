package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestA2ANodeClient drives e2e/node/a2a_client.mjs: the official A2A client
// @a2a-js/sdk 1.3.0 (pinned in e2e/node/package.json) against the gateway
// in three modes: A2A v1.0 over JSON-RPC, v1.0 over HTTP+JSON, and v0.3 over
// JSON-RPC (the SDK's legacyCompat mode, given the v0.3 half of the union
// agent card). Each mode sends (blocking and returnImmediately), streams,
// gets, lists (v1.0), cancels, resubscribes after dropping a stream, goes
// through input-required twice (confirm in text, reject in a data part),
// manages push notification configs and receives the notifications on a
// local webhook, and checks the A2A errors of a task that is not found or
// not cancelable. It needs node and e2e/node/node_modules (`npm ci` in
// e2e/node, or `make node-deps`); it fails rather than skips without them.
func TestA2ANodeClient(t *testing.T) {
	t.Parallel()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not installed (Node 20+ is needed for the real-client test): %v", err)
	}
	if _, err := os.Stat(filepath.Join("node", "node_modules", "@a2a-js", "sdk", "package.json")); err != nil {
		t.Fatalf("e2e/node/node_modules is missing @a2a-js/sdk: run `npm ci` in e2e/node (make node-deps): %v", err)
	}
	g := startGateway(t, a2aAgentsLoopbackHooks)
	for _, mode := range []string{"v1", "v1-rest", "v03"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			ctx := testCtx(t, 90*time.Second)
			cmd := exec.CommandContext(ctx, node, "a2a_client.mjs")
			cmd.Dir = "node"
			cmd.Env = cleanEnv("AGENTGATE_URL="+g.URL, "A2A_MODE="+mode, "TIMEOUT_MS=75000")
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			start := time.Now()
			runErr := cmd.Run()
			var failed []string
			var summary struct {
				Summary  bool           `json:"summary"`
				Failures int            `json:"failures"`
				Timings  map[string]int `json:"timings_ms"`
			}
			checks := 0
			for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
				var c struct {
					Check  string          `json:"check"`
					OK     bool            `json:"ok"`
					Detail json.RawMessage `json:"detail"`
				}
				if json.Unmarshal([]byte(line), &c) != nil {
					continue
				}
				if c.Check == "" {
					_ = json.Unmarshal([]byte(line), &summary)
					continue
				}
				checks++
				if !c.OK {
					failed = append(failed, c.Check+": "+string(c.Detail))
				}
			}
			if runErr != nil || len(failed) > 0 || !summary.Summary {
				t.Fatalf("node a2a_client.mjs (%s): %v\nfailed checks:\n  %s\nstdout:\n%s\nstderr:\n%s\ngateway log:\n%s",
					mode, runErr, strings.Join(failed, "\n  "), stdout.String(), stderr.String(), tail(g.Logs(), 3000))
			}
			if checks < 30 {
				t.Errorf("only %d checks ran:\n%s", checks, stdout.String())
			}
			t.Logf("@a2a-js/sdk %s: %d checks in %v; timings (ms): %v", mode, checks, time.Since(start).Round(time.Millisecond), summary.Timings)
		})
	}
}
