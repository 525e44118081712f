package agentgate

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/adapters/slack/fakeslack"
	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/internal/testutil"
	"github.com/agentgate/agentgate/transport/webhook"
)

// hookReceiver is a loopback webhook receiver; answer decides the status
// of the n-th POST (1-based).
type hookReceiver struct {
	*httptest.Server
	secret string
	mu     sync.Mutex
	posts  []hookPost
}

type hookPost struct {
	body     []byte
	header   http.Header
	verified error
	status   int
}

func newHookReceiver(t *testing.T, secret string, answer func(n int) int) *hookReceiver {
	t.Helper()
	h := &hookReceiver{secret: secret}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		n := len(h.posts) + 1
		p := hookPost{body: b, header: r.Header.Clone(), status: answer(n),
			verified: webhook.Verify(secret, r.Header.Get(webhook.HeaderSignature), b, time.Now(), 0)}
		h.posts = append(h.posts, p)
		h.mu.Unlock()
		w.WriteHeader(p.status)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookReceiver) snapshot() []hookPost {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookPost(nil), h.posts...)
}

// webhookGateway is a gateway on a fresh SQLite file whose approvals
// webhook points at url (loopback allowed by egress).
func webhookGateway(t *testing.T, dbPath, url string, mutate func(*ApprovalWebhookConfig)) *Gateway {
	t.Helper()
	cfg, err := ParseConfig([]byte("models: {m: {provider: scripted}}\nagents: [{id: a, model: m}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.DatabaseURL = "sqlite://" + dbPath
	cfg.Egress.Allow = []string{"127.0.0.1"}
	cfg.Tuning.QueuePollInterval = 50 * time.Millisecond
	cfg.Approvals.Webhook = ApprovalWebhookConfig{URL: url, Secret: "hook-secret", RetryBackoff: 100 * time.Millisecond}
	if mutate != nil {
		mutate(&cfg.Approvals.Webhook)
	}
	g, err := New(context.Background(), cfg, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = g.Shutdown(ctx)
	})
	return g
}

func testApproval() *core.Approval {
	exp := int64(1_900_000_000)
	return &core.Approval{ID: "ap-1", RunID: "run-1", SessionID: "s-1", Status: core.ApprovalPending,
		SourceType: core.KindAgent, ApprovalType: core.ApprovalRequired, PauseType: core.PauseConfirmation,
		ToolName: "delete_repo", ToolArgs: json.RawMessage(`{"name":"prod"}`), AgentID: "a", UserID: "u-1",
		ExpiresAt: &exp, CreatedAt: 1_800_000_000}
}

// A receiver that fails twice gets the delivery on attempt 3: the same
// body and delivery id each time, every attempt signed so that the
// receiver verifies it.
func TestApprovalWebhookRetriedUntilDelivered(t *testing.T) {
	t.Parallel()
	recv := newHookReceiver(t, "hook-secret", func(n int) int {
		if n <= 2 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	g := webhookGateway(t, filepath.Join(t.TempDir(), "s.db"), recv.URL+"/approvals", nil)
	if g.approvalWebhook == nil {
		t.Fatal("the webhook is configured but no observer was built")
	}
	g.approvalWebhook.ApprovalCreated(context.Background(), testApproval())
	testutil.Eventually(t, 20*time.Second, "three POSTs", func() bool { return len(recv.snapshot()) >= 3 })
	time.Sleep(500 * time.Millisecond) // and no fourth
	posts := recv.snapshot()
	if len(posts) != 3 {
		t.Fatalf("%d POSTs, want 3 (two failures, then delivered)", len(posts))
	}
	for i, p := range posts {
		if p.verified != nil {
			t.Fatalf("POST %d: the receiver could not verify the signature: %v", i+1, p.verified)
		}
		if p.header.Get(webhook.HeaderDelivery) == "" || p.header.Get(webhook.HeaderDelivery) != posts[0].header.Get(webhook.HeaderDelivery) {
			t.Fatalf("POST %d: delivery id %q, want the first one's %q", i+1, p.header.Get(webhook.HeaderDelivery), posts[0].header.Get(webhook.HeaderDelivery))
		}
		if string(p.body) != string(posts[0].body) || p.header.Get(webhook.HeaderEvent) != "approval.created" {
			t.Fatalf("POST %d differs: %s %v", i+1, p.body, p.header)
		}
	}
	var got struct {
		Event    string        `json:"event"`
		Approval core.Approval `json:"approval"`
	}
	if err := json.Unmarshal(posts[2].body, &got); err != nil {
		t.Fatal(err)
	}
	if got.Event != "approval.created" || got.Approval.ID != "ap-1" || got.Approval.ToolName != "delete_repo" ||
		string(got.Approval.ToolArgs) != `{"name":"prod"}` || got.Approval.ExpiresAt == nil || *got.Approval.ExpiresAt != 1_900_000_000 {
		t.Fatalf("payload %s", posts[2].body)
	}
}

// events: [resolved] sends only resolutions; a final 4xx is not retried.
func TestApprovalWebhookEventsAndFinalRefusal(t *testing.T) {
	t.Parallel()
	recv := newHookReceiver(t, "hook-secret", func(int) int { return http.StatusGone })
	g := webhookGateway(t, filepath.Join(t.TempDir(), "s.db"), recv.URL, func(w *ApprovalWebhookConfig) {
		w.Events = []string{"resolved"}
	})
	a := testApproval()
	g.approvalWebhook.ApprovalCreated(context.Background(), a)
	a.Status, a.ResolvedBy = core.ApprovalApproved, "alice"
	g.approvalWebhook.ApprovalResolved(context.Background(), a)
	testutil.Eventually(t, 20*time.Second, "one POST", func() bool { return len(recv.snapshot()) >= 1 })
	time.Sleep(time.Second) // 410 is final: no retry comes
	posts := recv.snapshot()
	if len(posts) != 1 {
		t.Fatalf("%d POSTs, want 1 (created is not sent; a 410 is not retried)", len(posts))
	}
	if posts[0].header.Get(webhook.HeaderEvent) != "approval.resolved" || !strings.Contains(string(posts[0].body), `"resolved_by":"alice"`) {
		t.Fatalf("POST %v %s", posts[0].header, posts[0].body)
	}
}

// A delivery queued by a gateway that shut down before its receiver came
// back is delivered by the next gateway on the same database.
func TestApprovalWebhookSurvivesRestart(t *testing.T) {
	t.Parallel()
	var up sync.Mutex
	down := true
	recv := newHookReceiver(t, "hook-secret", func(int) int {
		up.Lock()
		defer up.Unlock()
		if down {
			return http.StatusBadGateway
		}
		return http.StatusOK
	})
	db := filepath.Join(t.TempDir(), "s.db")
	g1 := webhookGateway(t, db, recv.URL, func(w *ApprovalWebhookConfig) { w.RetryBackoff = 300 * time.Millisecond })
	g1.approvalWebhook.ApprovalCreated(context.Background(), testApproval())
	testutil.Eventually(t, 20*time.Second, "a first, failed POST", func() bool { return len(recv.snapshot()) >= 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := g1.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	n := len(recv.snapshot())
	up.Lock()
	down = false
	up.Unlock()
	webhookGateway(t, db, recv.URL, nil)
	testutil.Eventually(t, 20*time.Second, "the delivery by the second gateway", func() bool {
		ps := recv.snapshot()
		return len(ps) > n && ps[len(ps)-1].status == http.StatusOK
	})
	ps := recv.snapshot()
	if ps[len(ps)-1].verified != nil || ps[len(ps)-1].header.Get(webhook.HeaderDelivery) != ps[0].header.Get(webhook.HeaderDelivery) {
		t.Fatalf("the redelivery is not the same signed delivery: %v %v", ps[len(ps)-1].verified, ps[len(ps)-1].header)
	}
}

func TestApprovalsConfigValidation(t *testing.T) {
	t.Parallel()
	base := "models: {m: {provider: scripted}}\nagents: [{id: a, model: m}]\n"
	for _, c := range []struct{ yaml, want string }{
		{"approvals: {webhook: {url: 'ftp://hooks.example.com/x'}}", "scheme must be http or https"},
		{"approvals: {webhook: {url: 'hooks.example.com/x'}}", "approvals.webhook.url"},
		{"approvals: {webhook: {url: 'https://hooks.example.com/x', events: [created, deleted]}}", `"deleted" is not created or resolved`},
		{"approvals: {webhook: {url: 'https://hooks.example.com/x', max_attempts: -1}}", "max_attempts must not be negative"},
		{"approvals: {webhook: {secret: x}}", "without a url"},
		{"approvals: {webhook: {url: 'https://hooks.example.com/x', colour: red}}", "colour"},
	} {
		cfg, err := ParseConfig([]byte(base + c.yaml))
		if err == nil {
			err = cfg.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.yaml, err, c.want)
		}
	}
	cfg, err := ParseConfig([]byte(base + "approvals: {webhook: {url: 'https://hooks.example.com/x', secret: s, events: [created, resolved], max_attempts: 3}}"))
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		t.Fatal(err)
	}
	if w := cfg.Approvals.Webhook; w.MaxAttempts != 3 || !w.sends("created") || !w.sends("resolved") {
		t.Fatalf("webhook %+v", w)
	}
	// A loopback receiver without egress.allow is refused when the gateway starts.
	cfg.Approvals.Webhook.URL = "http://127.0.0.1:1/x"
	cfg.DatabaseURL = "sqlite://" + filepath.Join(t.TempDir(), "s.db")
	if g, err := New(context.Background(), cfg, Options{Logger: slog.New(slog.DiscardHandler)}); err == nil {
		_ = g.Shutdown(context.Background())
		t.Fatal("a loopback webhook without egress.allow was accepted")
	} else if !strings.Contains(err.Error(), "approvals.webhook.url") || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("err = %v", err)
	}
}

// End to end through the gateway's own config, HTTP server and engine: an
// agent whose tool is marked approval: required pauses; the approvals
// webhook is told (signed) and the Slack app posts the approval to its
// approvals channel; resolved over REST, the Slack message is edited and
// the webhook is told of the resolution; a second run's approval is
// resolved by an approver's click at /slack/interactions, as the identity
// the approvers map gives, and the run goes on by itself (auto_continue).
func TestApprovalsNotifyEndToEnd(t *testing.T) {
	t.Parallel()
	recv := newHookReceiver(t, "hook-secret", func(int) int { return http.StatusOK })
	fake := fakeslack.New()
	t.Cleanup(fake.Close)
	const channel, signing = "CAPPROVALS", "slack-signing-secret"
	cfg, err := ParseConfig([]byte(`
models:
  m:
    provider: scripted
    script:
      - tool_calls: [{name: calculator, arguments: {expression: "6*7"}}]
        reply: "result {{tool_result}}"
        rejected_reply: "rejected"
agents:
  - id: gated
    model: m
    tools: [{name: calculator, approval: required}]
  - id: auto
    model: m
    tools: [{name: calculator, approval: required, auto_continue: true}]
approvals:
  webhook: {url: "` + recv.URL + `/hook", secret: hook-secret, events: [created, resolved], max_attempts: 3}
slack:
  apps:
    - {name: ops, agent: gated, signing_secret: ` + signing + `, bot_token: xoxb-ops, api_url: "` + fake.URL() + `",
       approvals: {channel: ` + channel + `, approvers: {UALICE: alice@example.com}}}
    - {name: ops2, agent: auto, signing_secret: ` + signing + `-2, bot_token: xoxb-ops2, api_url: "` + fake.URL() + `",
       approvals: {channel: ` + channel + `, approvers: {UALICE: alice@example.com}}}
egress: {allow: [127.0.0.1]}
tuning: {queue_poll_interval: 50ms}
`))
	if err != nil {
		t.Fatal(err)
	}
	cfg.DatabaseURL = "sqlite://" + filepath.Join(t.TempDir(), "s.db")
	ctx := context.Background()
	g, err := New(ctx, cfg, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = g.Serve(ln) }()
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = g.Shutdown(sctx)
	})
	base := "http://" + ln.Addr().String()

	// hookEvents are the verified deliveries' (event, approval) so far.
	type delivered struct {
		event    string
		approval core.Approval
	}
	hookEvents := func() []delivered {
		var out []delivered
		for _, p := range recv.snapshot() {
			if p.verified != nil {
				t.Fatalf("a delivery failed verification: %v", p.verified)
			}
			var d struct {
				Event    string        `json:"event"`
				Approval core.Approval `json:"approval"`
			}
			if err := json.Unmarshal(p.body, &d); err != nil {
				t.Fatal(err)
			}
			out = append(out, delivered{d.Event, d.Approval})
		}
		return out
	}
	hasEvent := func(event, id string, cond func(core.Approval) bool) bool {
		for _, d := range hookEvents() {
			if d.event == event && d.approval.ID == id && (cond == nil || cond(d.approval)) {
				return true
			}
		}
		return false
	}
	pausedApproval := func(agentID string) (runID, approvalID string) {
		run, err := g.Engine().Start(ctx, core.StartParams{AgentID: agentID, Message: "compute", UserID: "bob"})
		if err != nil {
			t.Fatal(err)
		}
		testutil.Eventually(t, 10*time.Second, "the pending approval", func() bool {
			list, _, err := g.Engine().ListApprovals(ctx, core.ListApprovalsParams{RunID: run.RunID})
			if err != nil || len(list) != 1 {
				return false
			}
			approvalID = list[0].ID
			return true
		})
		return run.RunID, approvalID
	}
	messageOf := func(approvalID string) fakeslack.Message {
		var msg fakeslack.Message
		testutil.Eventually(t, 10*time.Second, "the approval's Slack message", func() bool {
			ap, err := g.Engine().GetApproval(ctx, approvalID)
			if err != nil || ap.Context["slack_ts"] == nil {
				return false
			}
			for _, m := range fake.Messages(channel, "") {
				if m.TS == ap.Context["slack_ts"] {
					msg = m
					return true
				}
			}
			return false
		})
		return msg
	}

	// 1. Resolved over REST.
	runID, apID := pausedApproval("gated")
	testutil.Eventually(t, 10*time.Second, "approval.created delivered", func() bool {
		return hasEvent("approval.created", apID, func(a core.Approval) bool { return a.RunID == runID && a.ToolName == "calculator" })
	})
	msg := messageOf(apID)
	if !strings.Contains(msg.Blocks, `"value":"`+apID+`"`) || !strings.Contains(msg.Blocks, "calculator") {
		t.Fatalf("slack message %s", msg.Blocks)
	}
	resp, err := http.Post(base+"/approvals/"+apID+"/resolve", "application/json", strings.NewReader(`{"status":"rejected"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("resolve: %d %s", resp.StatusCode, b)
	}
	testutil.Eventually(t, 10*time.Second, "approval.resolved delivered", func() bool {
		return hasEvent("approval.resolved", apID, func(a core.Approval) bool { return a.Status == core.ApprovalRejected })
	})
	testutil.Eventually(t, 10*time.Second, "the Slack message edited to the REST decision", func() bool {
		for _, m := range fake.Messages(channel, "") {
			if m.TS == msg.TS {
				return m.Edits == 1 && strings.Contains(m.Blocks, "Rejected*") && !strings.Contains(m.Blocks, "agentgate_approval_reject")
			}
		}
		return false
	})

	// 2. Resolved by a click, as the mapped identity; auto_continue.
	runID, apID = pausedApproval("auto")
	msg = messageOf(apID)
	payload, err := fakeslack.ButtonClick(msg, "agentgate_approval_approve", "UALICE")
	if err != nil {
		t.Fatal(err)
	}
	form := fakeslack.InteractionForm(payload)
	req, err := fakeslack.Request(base+"/slack/interactions", signing+"-2", time.Now().Unix(), "application/x-www-form-urlencoded", form)
	if err != nil {
		t.Fatal(err)
	}
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("interaction: %d", resp.StatusCode)
	}
	testutil.Eventually(t, 10*time.Second, "approval.resolved by alice delivered", func() bool {
		return hasEvent("approval.resolved", apID, func(a core.Approval) bool {
			return a.Status == core.ApprovalApproved && a.ResolvedBy == "alice@example.com"
		})
	})
	testutil.Eventually(t, 15*time.Second, "the run to complete by itself", func() bool {
		r, err := g.Engine().Get(ctx, runID)
		return err == nil && r.Status == core.RunCompleted && strings.Contains(r.Content, "result 42")
	})
	ap, err := g.Engine().GetApproval(ctx, apID)
	if err != nil || ap.RunStatus != core.RunCompleted {
		t.Fatalf("approval run_status %q, %v: want it live (COMPLETED)", ap.RunStatus, err)
	}
}
