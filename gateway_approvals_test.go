package agentgate

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

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
