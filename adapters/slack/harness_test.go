package slack

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentgate/agentgate/adapters/slack/fakeslack"
	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/agent"
	"github.com/agentgate/agentgate/core/model/scripted"
	"github.com/agentgate/agentgate/core/tool"
	"github.com/agentgate/agentgate/internal/testutil/enginetest"
	"github.com/agentgate/agentgate/transport/httptransport"
)

const testSecret = "8f742231b10e8888abcd99yyyzzz85a5"

// reply20 is the echo agent's reply: 20 words, streamed in 20 chunks.
const reply20 = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty"

// funcAgent is an agent whose behaviour the test writes.
type funcAgent struct {
	id string
	fn func(ctx context.Context, x *core.Execution) (*core.Outcome, error)
}

func (a *funcAgent) Info() core.AgentInfo { return core.AgentInfo{ID: a.id, Name: a.id} }
func (a *funcAgent) Execute(ctx context.Context, x *core.Execution) (*core.Outcome, error) {
	return a.fn(ctx, x)
}

// testAgents are the agents every test engine has:
//   - echo: reply20 in 20 chunks 20 ms apart;
//   - approver: calls calculator(6*7), which requires confirmation;
//   - failing: its model request fails;
//   - slow: waits for release (a channel the test closes), then answers;
//   - gated: calls calculator(6*7), marked approval: required.
func testAgents(t *testing.T, release chan struct{}) []core.Agent {
	t.Helper()
	mk := func(id string, m *scripted.Model, tools ...*tool.Tool) core.Agent {
		a, err := agent.New(agent.Config{ID: id, Model: m, ModelName: id, Tools: tools})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	calc := tool.Calculator()
	calc.RequiresConfirmation = true
	gatedCalc := tool.Calculator()
	gatedCalc.Flags = tool.Flags{Approval: core.ApprovalRequired}
	slow := &funcAgent{id: "slow", fn: func(ctx context.Context, x *core.Execution) (*core.Outcome, error) {
		select {
		case <-release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if err := x.Emit(ctx, core.Event{Event: core.EventRunContent, Content: "finally awake"}); err != nil {
			return nil, err
		}
		return &core.Outcome{Content: "finally awake"}, nil
	}}
	return []core.Agent{
		mk("echo", scripted.New(scripted.Config{Chunks: 20, ChunkDelay: 20 * time.Millisecond, Rules: []scripted.Rule{{Reply: reply20}}})),
		mk("approver", scripted.New(scripted.Config{Chunks: 3, Rules: []scripted.Rule{{
			ToolCalls:     []scripted.Call{{Name: "calculator", Arguments: map[string]any{"expression": "6*7"}}},
			Reply:         "The calculator was approved and returned {{tool_result}}.",
			RejectedReply: "The calculator call was rejected. Note: {{note}}",
		}}}), calc),
		mk("failing", scripted.New(scripted.Config{Rules: []scripted.Rule{{Error: "the model is on fire"}}})),
		slow,
		mk("gated", scripted.New(scripted.Config{Chunks: 3, Rules: []scripted.Rule{{
			ToolCalls:     []scripted.Call{{Name: "calculator", Arguments: map[string]any{"expression": "6*7"}}},
			Reply:         "The calculator was approved and returned {{tool_result}}.",
			RejectedReply: "The calculator call was rejected. Note: {{note}}",
		}}}), gatedCalc),
	}
}

// harness is an engine, the fake Slack, the adapter and an HTTP server.
type harness struct {
	t       *testing.T
	eng     *core.Engine
	fake    *fakeslack.Server
	h       *Handler
	URL     string
	release chan struct{}
	seq     atomic.Int64
}

// newHarness starts everything; mutate adjusts the adapter's config (the
// apps default to one app "main" bound to agent, signed with testSecret).
func newHarness(t *testing.T, agentID string, mutate func(*Config)) *harness {
	t.Helper()
	return newHarnessWith(t, agentID, core.EngineConfig{}, nil, mutate)
}

// newHarnessWith is newHarness on an engine configured with engCfg (its
// store and log are set), with more agents.
func newHarnessWith(t *testing.T, agentID string, engCfg core.EngineConfig, more []core.Agent, mutate func(*Config)) *harness {
	t.Helper()
	release := make(chan struct{})
	// With media, the store records sessions' media as the gateway's does.
	eng := enginetest.New(t, enginetest.Options{Engine: engCfg, SessionMedia: engCfg.Media != nil}, append(testAgents(t, release), more...)...).Engine
	fake := fakeslack.New()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(&testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	cfg := Config{
		Apps:           []App{{Name: "main", AgentID: agentID, SigningSecret: testSecret, BotToken: "xoxb-main", APIURL: fake.URL()}},
		UpdateInterval: 100 * time.Millisecond,
		Logger:         logger,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	h, err := New(eng, cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptransport.New(httptransport.Config{Logger: logger})
	h.Register(srv.App)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	hs := &harness{t: t, eng: eng, fake: fake, h: h, URL: "http://" + ln.Addr().String(), release: release}
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		if err := h.Shutdown(sctx); err != nil {
			t.Errorf("adapter shutdown: %v", err)
		}
		// The engine before the fake Slack, as its runs may still post
		// (enginetest closes it again, idempotently, with its log and store).
		_ = eng.Close(sctx)
		fake.Close()
	})
	return hs
}

type testWriter struct{ t *testing.T }

func (w *testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// ts returns a fresh, unique Slack message timestamp.
func (hs *harness) ts() string {
	n := hs.seq.Add(1)
	return fmt.Sprintf("1800000%03d.%06d", n, n)
}

// post sends a signed request (secret at time at) and returns the status,
// body and how long the answer took.
func (hs *harness) post(path, secret string, at time.Time, ct string, body []byte, header map[string]string) (int, string, time.Duration) {
	hs.t.Helper()
	req, err := fakeslack.Request(hs.URL+path, secret, at.Unix(), ct, body)
	if err != nil {
		hs.t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		hs.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), time.Since(start)
}

// event POSTs a signed Events API body and expects 200.
func (hs *harness) event(body []byte, header map[string]string) time.Duration {
	hs.t.Helper()
	st, b, d := hs.post("/slack/events", testSecret, time.Now(), "application/json", body, header)
	if st != http.StatusOK {
		hs.t.Fatalf("POST /slack/events: %d %s", st, b)
	}
	return d
}

// click POSTs a signed button click on msg and expects 200.
func (hs *harness) click(msg fakeslack.Message, actionID, user string) {
	hs.t.Helper()
	payload, err := fakeslack.ButtonClick(msg, actionID, user)
	if err != nil {
		hs.t.Fatal(err)
	}
	st, b, _ := hs.post("/slack/interactions", testSecret, time.Now(), "application/x-www-form-urlencoded", fakeslack.InteractionForm(payload), nil)
	if st != http.StatusOK {
		hs.t.Fatalf("POST /slack/interactions: %d %s", st, b)
	}
}

// drain waits until the adapter has no background work (the caller must
// not send requests meanwhile).
func (hs *harness) drain() {
	hs.t.Helper()
	done := make(chan struct{})
	go func() {
		hs.h.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		hs.t.Fatal("the adapter's background work did not end within 20s")
	}
}

// waitThread waits until the thread's messages satisfy cond.
func (hs *harness) waitThread(channel, threadTS string, what string, cond func([]fakeslack.Message) bool) []fakeslack.Message {
	hs.t.Helper()
	var msgs []fakeslack.Message
	if !hs.fake.Wait(20*time.Second, func() bool {
		msgs = hs.fake.Messages(channel, threadTS)
		return cond(msgs)
	}) {
		hs.t.Fatalf("thread %s/%s: %s did not happen; messages: %s", channel, threadTS, what, dump(msgs))
	}
	return msgs
}

// waitText waits until some message of the thread shows text containing want.
func (hs *harness) waitText(channel, threadTS, want string) []fakeslack.Message {
	hs.t.Helper()
	return hs.waitThread(channel, threadTS, fmt.Sprintf("a message with %q", want), func(ms []fakeslack.Message) bool {
		for _, m := range ms {
			if strings.Contains(m.Text, want) {
				return true
			}
		}
		return false
	})
}

func dump(ms []fakeslack.Message) string {
	var b bytes.Buffer
	for _, m := range ms {
		fmt.Fprintf(&b, "\n  ts=%s thread=%s stream=%v stopped=%v edits=%d text=%q blocks=%d bytes", m.TS, m.ThreadTS, m.Stream, m.Stopped, m.Edits, m.Text, len(m.Blocks))
	}
	return b.String()
}

// runsOf returns the runs of a session.
func (hs *harness) runsOf(session string) []*core.Run {
	hs.t.Helper()
	runs, err := hs.eng.List(context.Background(), core.ListRunsParams{SessionID: session})
	if err != nil {
		hs.t.Fatal(err)
	}
	return runs
}

// waitRun waits until the run reaches status.
func (hs *harness) waitRun(runID string, status core.RunStatus) *core.Run {
	hs.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r, err := hs.eng.Get(context.Background(), runID)
		if err != nil {
			hs.t.Fatal(err)
		}
		if r.Status == status {
			return r
		}
		if time.Now().After(deadline) {
			hs.t.Fatalf("run %s is %s, want %s", runID, r.Status, status)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
