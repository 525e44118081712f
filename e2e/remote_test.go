package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/internal/testutil"
)

// remoteBackend is the config of the second agentgate, the remote
// AgentOS server: a streaming story, a slow one (to cancel) and the
// approver (a tool that requires confirmation).
const remoteBackend = hitlConfig + `
  - id: story
    name: Story
    model: story
  - id: slow
    name: Slow
    model: slow
`

func remoteBackendConfig() string {
	return strings.Replace(remoteBackend, "models:\n", `models:
  story:
    provider: scripted
    model: story-1
    chunks: 5
    chunk_delay: 10ms
    script:
      - reply: "Once upon a time there was a gateway."
  slow:
    provider: scripted
    model: slow-1
    chunks: 100
    chunk_delay: 100ms
    script:
      - reply: "`+words(100)+`"
`, 1)
}

// streamText runs agent on g as a stream and returns its events' types,
// its content deltas joined, and the last event.
func streamText(t *testing.T, g *gateway, agent, message string) ([]frame, string, event) {
	t.Helper()
	ctx := testCtx(t, 30*time.Second)
	resp := g.postForm(t, ctx, "/agents/"+agent+"/runs", url.Values{"message": {message}, "stream": {"true"}})
	expectSSE(t, resp)
	defer resp.Body.Close()
	frames := readFrames(t, resp.Body)
	evs := events(t, frames, 0)
	var b strings.Builder
	for _, ev := range evs {
		if ev.Event == "RunContent" {
			b.WriteString(ev.Content)
		}
	}
	return frames, b.String(), evs[len(evs)-1]
}

// names is the frames' event types.
func names(frames []frame) []string {
	out := make([]string, len(frames))
	for i, f := range frames {
		out[i] = f.Event
	}
	return out
}

// startAndCancel starts a background run of agent on g, follows its
// stream until the remote's first content arrives, and cancels it; it
// returns the run once CANCELLED.
func startAndCancel(t *testing.T, g *gateway, agent string) run {
	t.Helper()
	ctx := testCtx(t, 30*time.Second)
	body := expectStatus(t, g.postForm(t, ctx, "/agents/"+agent+"/runs", url.Values{"message": {"slow please"}, "stream": {"false"}, "background": {"true"}}), http.StatusAccepted)
	var started run
	decode(t, body, &started)
	resp := g.get(t, ctx, "/agents/"+agent+"/runs/"+started.RunID+"/stream")
	expectSSE(t, resp)
	sr := newSSEReader(resp.Body)
	for {
		f, err := sr.Next()
		if err != nil {
			t.Fatalf("the stream ended before any content: %v", err)
		}
		if f.Event == "RunContent" {
			break
		}
		if f.Event == "RunError" || f.Event == "RunCompleted" {
			t.Fatalf("the run ended: %s", f.Data)
		}
	}
	resp.Body.Close()
	expectStatus(t, g.postForm(t, ctx, "/agents/"+agent+"/runs/"+started.RunID+"/cancel", nil), http.StatusOK)
	r, _ := g.waitStatus(t, agent, started.RunID, "CANCELLED")
	return r
}

// TestRemoteAgentOS: agents of a second agentgate process, reached as
// remote AgentOS agents of the first one: streamed (the remote's deltas
// arrive as the run's own), blocking, cancelled (the remote run is
// cancelled too) and paused on the remote's confirmation and continued
// through the first gateway.
func TestRemoteAgentOS(t *testing.T) {
	t.Parallel()
	b := startGateway(t, remoteBackendConfig())
	a := startGateway(t, fmt.Sprintf(`
agents:
  - id: remote-story
    name: Remote story
    remote: {agentos: {url: %q, agent_id: story}, timeout: 10s}
  - id: remote-slow
    remote: {agentos: {url: %q, agent_id: slow}}
  - id: remote-approver
    remote: {agentos: {url: %q, agent_id: approver}, headers: {X-Test: "yes"}}
  - id: a2a-approver
    remote: {a2a: %q}
teams:
  - id: remote-crew
    mode: broadcast
    members: [remote-story, remote-approver]
`, b.URL, b.URL, b.URL, b.URL+"/a2a/agents/approver/.well-known/agent-card.json"))

	t.Run("team member", func(t *testing.T) {
		// Remote agents as members of a local team: their events are
		// forwarded into the team's stream, the remote's pause pauses the
		// team, and the team's continue continues the remote run.
		ctx := testCtx(t, 30*time.Second)
		resp := a.postForm(t, ctx, "/teams/remote-crew/runs", url.Values{"message": {"compute 6*7"}})
		expectSSE(t, resp)
		frames := readFrames(t, resp.Body)
		resp.Body.Close()
		last := frames[len(frames)-1]
		if last.Event != "TeamRunPaused" {
			t.Fatalf("team with a remote approver should pause: %v", names(frames))
		}
		storyContent := ""
		for _, f := range frames {
			if f.Event == "RunContent" && strings.Contains(f.Data, `"agent_id":"remote-story"`) && strings.Contains(f.Data, `"parent_run_id"`) {
				var ev struct {
					Content string `json:"content"`
				}
				decode(t, []byte(f.Data), &ev)
				storyContent += ev.Content
			}
		}
		if storyContent != "Once upon a time there was a gateway." {
			t.Errorf("the remote member's content, forwarded and labelled: %q in %v", storyContent, names(frames))
		}
		var paused struct {
			RunID        string           `json:"run_id"`
			Requirements []map[string]any `json:"requirements"`
		}
		decode(t, []byte(last.Data), &paused)
		if len(paused.Requirements) != 1 || paused.Requirements[0]["member_agent_id"] != "remote-approver" {
			t.Fatalf("TeamRunPaused requirements: %s", last.Data)
		}
		req := paused.Requirements[0]
		req["confirmation"] = true
		if te, ok := req["tool_execution"].(map[string]any); ok {
			te["confirmed"] = true
		}
		reqs, _ := json.Marshal([]map[string]any{req})
		cresp := a.postForm(t, ctx, "/teams/remote-crew/runs/"+paused.RunID+"/continue", url.Values{"requirements": {string(reqs)}})
		expectSSE(t, cresp)
		rest := readFrames(t, cresp.Body)
		cresp.Body.Close()
		end := rest[len(rest)-1]
		if end.Event != "TeamRunCompleted" || !strings.Contains(end.Data, "42") {
			t.Fatalf("after the continue: %v; last %s", names(rest), end.Data)
		}
	})

	t.Run("listed", func(t *testing.T) {
		body := string(expectStatus(t, a.get(t, testCtx(t, 10*time.Second), "/agents"), http.StatusOK))
		for _, id := range []string{`"remote-story"`, `"Remote story"`, `"remote-approver"`} {
			if !strings.Contains(body, id) {
				t.Errorf("/agents lacks %s: %s", id, body)
			}
		}
	})
	t.Run("stream", func(t *testing.T) {
		frames, text, last := streamText(t, a, "remote-story", "tell me")
		ts := names(frames)
		if last.Event != "RunCompleted" || text != "Once upon a time there was a gateway." || ts[0] != "RunStarted" {
			t.Fatalf("events %v, text %q", ts, text)
		}
		if n := strings.Count(strings.Join(ts, " "), "RunContent "); n < 3 {
			t.Errorf("the remote's deltas were not streamed (%d RunContent): %v", n, ts)
		}
		if c := strings.Count(strings.Join(ts, " "), "RunStarted"); c != 1 {
			t.Errorf("%d RunStarted: %v", c, ts)
		}
		var done struct {
			Content string `json:"content"`
		}
		decode(t, []byte(frames[len(frames)-1].Data), &done)
		if done.Content != text {
			t.Errorf("RunCompleted content %q", done.Content)
		}
	})
	t.Run("blocking", func(t *testing.T) {
		ctx := testCtx(t, 20*time.Second)
		body := expectStatus(t, a.postForm(t, ctx, "/agents/remote-story/runs", url.Values{"message": {"again"}, "stream": {"false"}}), http.StatusOK)
		var r run
		decode(t, body, &r)
		if r.Status != "COMPLETED" || r.Content != "Once upon a time there was a gateway." {
			t.Errorf("blocking run: %s", body)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		started := startAndCancel(t, a, "remote-slow")
		// The remote run (in the same session id) was cancelled too.
		ctx := testCtx(t, 20*time.Second)
		var remoteRuns []run
		decode(t, expectStatus(t, b.get(t, ctx, "/agents/slow/runs?session_id="+started.SessionID), http.StatusOK), &remoteRuns)
		if len(remoteRuns) != 1 {
			t.Fatalf("remote runs in the session: %+v", remoteRuns)
		}
		b.waitStatus(t, "slow", remoteRuns[0].RunID, "CANCELLED")
	})
	t.Run("pause_continue", func(t *testing.T) {
		frames, _, last := streamText(t, a, "remote-approver", "compute 6*7")
		if last.Event != "RunPaused" || len(last.Tools) != 1 {
			t.Fatalf("the run should pause on the remote's confirmation: %v", types(frames))
		}
		var tool struct {
			ToolName             string `json:"tool_name"`
			RequiresConfirmation bool   `json:"requires_confirmation"`
		}
		decode(t, last.Tools[0], &tool)
		if tool.ToolName != "calculator" || !tool.RequiresConfirmation {
			t.Fatalf("paused tool %s", last.Tools[0])
		}
		ctx := testCtx(t, 20*time.Second)
		if r, body := a.getRun(t, ctx, "remote-approver", last.RunID); r.Status != "PAUSED" {
			t.Fatalf("run: %s", body)
		}
		resp := a.postForm(t, ctx, "/agents/remote-approver/runs/"+last.RunID+"/continue",
			url.Values{"tools": {decided(t, frames[len(frames)-1], true, "")}})
		expectSSE(t, resp)
		defer resp.Body.Close()
		rest := readFrames(t, resp.Body)
		evs := events(t, rest, last.EventIndex+1)
		seq := strings.Join(names(rest), ",")
		if !strings.HasPrefix(seq, "RunContinued,ToolCallStarted,ToolCallCompleted,") || evs[len(evs)-1].Event != "RunCompleted" {
			t.Fatalf("continued events: %s", seq)
		}
		r, body := a.getRun(t, ctx, "remote-approver", last.RunID)
		if r.Status != "COMPLETED" || !strings.Contains(r.Content, "approved and returned 42") {
			t.Errorf("continued run: %s", body)
		}
	})
	// The same agent through the second gateway's A2A interface: its
	// confirmation is an input-required task answered with "yes".
	t.Run("a2a_pause_continue", func(t *testing.T) {
		frames, _, last := streamText(t, a, "a2a-approver", "compute 6*7")
		if last.Event != "RunPaused" || len(last.Tools) != 1 {
			t.Fatalf("events %v", names(frames))
		}
		var tool struct {
			ToolCallID      string `json:"tool_call_id"`
			UserInputSchema []struct {
				Description string `json:"description"`
			} `json:"user_input_schema"`
		}
		decode(t, last.Tools[0], &tool)
		if len(tool.UserInputSchema) != 1 || !strings.Contains(tool.UserInputSchema[0].Description, "calculator") {
			t.Fatalf("paused tool %s", last.Tools[0])
		}
		ctx := testCtx(t, 20*time.Second)
		decision, _ := json.Marshal([]map[string]any{{"tool_call_id": tool.ToolCallID,
			"user_input_schema": []map[string]any{{"name": "reply", "value": "yes"}}}})
		resp := a2aContinue(t, a, ctx, "a2a-approver", last.RunID, string(decision))
		rest := readFrames(t, resp.Body)
		resp.Body.Close()
		seq := strings.Join(names(rest), ",")
		if !strings.HasPrefix(seq, "RunContinued,ToolCallStarted,ToolCallCompleted,") {
			t.Errorf("continued events (the remote's tool call mapped): %s", seq)
		}
		r, body := a.getRun(t, ctx, "a2a-approver", last.RunID)
		if r.Status != "COMPLETED" || !strings.Contains(r.Content, "approved and returned 42") {
			t.Errorf("continued run: %s", body)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		g := startGateway(t, `
agents:
  - id: gone
    remote: {agentos: {url: "http://127.0.0.1:1", agent_id: x}, timeout: 2s}
`)
		_, _, last := streamText(t, g, "gone", "hello")
		if last.Event != "RunError" || last.ErrorType != "remote_error" {
			t.Errorf("last event %+v", last)
		}
	})
}

// nodeA2AServer starts e2e/node/a2a_server.mjs and returns its base URL.
func nodeA2AServer(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not installed (Node 20+ is needed for the real-server test): %v", err)
	}
	if _, err := os.Stat(filepath.Join("node", "node_modules", "@a2a-js", "sdk", "package.json")); err != nil {
		t.Fatalf("e2e/node/node_modules is missing: run `npm ci` in e2e/node (make node-deps): %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, node, "a2a_server.mjs")
	cmd.Dir = "node"
	cmd.Env = cleanEnv()
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			line <- sc.Text()
		}
		close(line)
	}()
	select {
	case l, ok := <-line:
		var v struct {
			URL string `json:"url"`
		}
		if !ok || json.Unmarshal([]byte(l), &v) != nil || v.URL == "" {
			t.Fatalf("a2a_server.mjs did not print its URL (%q); stderr: %s", l, stderr.String())
		}
		return v.URL
	case <-time.After(20 * time.Second):
		t.Fatalf("a2a_server.mjs did not start; stderr: %s", stderr.String())
	}
	return ""
}

// TestRemoteA2ANode: an A2A agent built on @a2a-js/sdk's server, reached
// as a remote A2A agent by its v1.0 card and by a v0.3 card: streamed,
// cancelled (the SDK's cancelTask runs), and its input-required turned
// into a pause that a continue answers on the same task.
func TestRemoteA2ANode(t *testing.T) {
	t.Parallel()
	srv := nodeA2AServer(t)
	g := startGateway(t, fmt.Sprintf(`
agents:
  - id: a2a-v1
    remote: {a2a: %q}
  - id: a2a-v03
    remote: {a2a: %q}
`, srv+"/.well-known/agent-card.json", srv+"/v03/agent-card.json"))

	stats := func(t *testing.T) (s struct {
		Cancelled []string `json:"cancelled"`
		Methods   []string `json:"methods"`
	}) {
		resp, err := http.Get(srv + "/stats")
		if err != nil {
			t.Fatal(err)
		}
		decode(t, readAll(t, resp), &s)
		return s
	}
	for _, agent := range []string{"a2a-v1", "a2a-v03"} {
		t.Run(agent+"/stream", func(t *testing.T) {
			frames, text, last := streamText(t, g, agent, "hello")
			if last.Event != "RunCompleted" || text != "Hello from A2A." {
				t.Fatalf("events %v, text %q", types(frames), text)
			}
		})
		t.Run(agent+"/input_required", func(t *testing.T) {
			frames, _, last := streamText(t, g, agent, "ask me the weather")
			if last.Event != "RunPaused" || len(last.Tools) != 1 {
				t.Fatalf("events %v", types(frames))
			}
			var tool struct {
				ToolCallID      string `json:"tool_call_id"`
				UserInputSchema []struct {
					Name        string `json:"name"`
					Description string `json:"description"`
				} `json:"user_input_schema"`
			}
			decode(t, last.Tools[0], &tool)
			if len(tool.UserInputSchema) != 1 || tool.UserInputSchema[0].Name != "reply" || tool.UserInputSchema[0].Description != "Which city?" {
				t.Fatalf("paused tool %s", last.Tools[0])
			}
			ctx := testCtx(t, 20*time.Second)
			decision, _ := json.Marshal([]map[string]any{{"tool_call_id": tool.ToolCallID,
				"user_input_schema": []map[string]any{{"name": "reply", "value": "Oslo"}}}})
			resp := a2aContinue(t, g, ctx, agent, last.RunID, string(decision))
			rest := readFrames(t, resp.Body)
			resp.Body.Close()
			events(t, rest, last.EventIndex+1)
			r, body := g.getRun(t, ctx, agent, last.RunID)
			if r.Status != "COMPLETED" || r.Content != "Sunny in Oslo." {
				t.Errorf("continued run (%v): %s", types(rest), body)
			}
		})
		t.Run(agent+"/cancel", func(t *testing.T) {
			before := len(stats(t).Cancelled)
			startAndCancel(t, g, agent)
			testutil.Eventually(t, 10*time.Second, "the remote task to be cancelled", func() bool {
				return len(stats(t).Cancelled) > before
			})
		})
	}
	methods := strings.Join(stats(t).Methods, ",")
	for _, m := range []string{"SendStreamingMessage 1.0", "CancelTask 1.0", "message/stream 0.3", "tasks/cancel 0.3"} {
		if !strings.Contains(methods, m) {
			t.Errorf("the node server saw no %q: %s", m, methods)
		}
	}
}

func a2aContinue(t *testing.T, g *gateway, ctx context.Context, agent, runID, tools string) *http.Response {
	t.Helper()
	resp := g.postForm(t, ctx, "/agents/"+agent+"/runs/"+runID+"/continue", url.Values{"tools": {tools}})
	expectSSE(t, resp)
	return resp
}
