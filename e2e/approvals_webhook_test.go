package e2e

// The approvals webhook through the binary, on two replicas: a delivery
// queued on A, whose receiver is down, survives A's SIGKILL and reaches
// the receiver from B once it is back, signed, with the same delivery id
// on every attempt; the resolution on B is delivered too.

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentgate/agentgate/transport/webhook"
)

type hookHit struct {
	status   int
	event    string
	delivery string
	verified error
	body     struct {
		Event    string `json:"event"`
		Approval struct {
			ID         string `json:"id"`
			RunID      string `json:"run_id"`
			Status     string `json:"status"`
			ToolName   string `json:"tool_name"`
			ResolvedBy string `json:"resolved_by"`
		} `json:"approval"`
	}
}

func TestReplicaApprovalWebhookSurvivesKill(t *testing.T) {
	t.Parallel()
	const secret = "e2e-hook-secret"
	var up atomic.Bool
	var mu sync.Mutex
	var hits []hookHit
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h := hookHit{status: http.StatusServiceUnavailable, event: r.Header.Get(webhook.HeaderEvent),
			delivery: r.Header.Get(webhook.HeaderDelivery),
			verified: webhook.Verify(secret, r.Header.Get(webhook.HeaderSignature), b, time.Now(), 0)}
		if up.Load() {
			h.status = http.StatusOK
		}
		_ = json.Unmarshal(b, &h.body)
		mu.Lock()
		hits = append(hits, h)
		mu.Unlock()
		w.WriteHeader(h.status)
	}))
	defer recv.Close()
	snapshot := func() []hookHit {
		mu.Lock()
		defer mu.Unlock()
		return append([]hookHit(nil), hits...)
	}
	waitHit := func(what string, d time.Duration, cond func(hookHit) bool) hookHit {
		t.Helper()
		deadline := time.Now().Add(d)
		for {
			for _, h := range snapshot() {
				if cond(h) {
					return h
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("no delivery %s within %v; got %+v", what, d, snapshot())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	be := newBackends(t, "")
	cfg := replicaConfig() + `
  - id: gated
    name: Gated
    model: approval
    tools:
      - name: calculator
        approval: required
approvals:
  webhook:
    url: "` + recv.URL + `/approvals"
    secret: ` + secret + `
    max_attempts: 100
    timeout: 1s
    retry_backoff: 300ms
egress:
  allow: [127.0.0.1]
queue:
  rescue_after: 8s
tuning:
  queue_poll_interval: 100ms
`
	a := startReplica(t, "A", cfg, be.Env()...)
	ctx := testCtx(t, 90*time.Second)
	expectStatus(t, a.postForm(t, ctx, "/agents/gated/runs", url.Values{"message": {"compute 6*7"}, "stream": {"false"}}), http.StatusOK)
	p := a.approvals(t, "status=pending&agent_id=gated")
	if len(p.Data) != 1 {
		t.Fatalf("pending approvals %+v", p.Data)
	}
	apID, runID := p.Data[0].ID, p.Data[0].RunID
	first := waitHit("attempted on A", 20*time.Second, func(h hookHit) bool { return h.body.Approval.ID == apID })
	if first.event != "approval.created" || first.verified != nil || first.delivery == "" || first.body.Approval.RunID != runID {
		t.Fatalf("first attempt %+v", first)
	}
	a.kill(t)
	up.Store(true)
	b := startReplica(t, "B", cfg, be.Env()...)

	got := waitHit("of approval.created from B", 60*time.Second, func(h hookHit) bool {
		return h.status == http.StatusOK && h.body.Approval.ID == apID && h.event == "approval.created"
	})
	if got.verified != nil || got.delivery != first.delivery || got.body.Approval.ToolName != "calculator" {
		t.Fatalf("the delivery from B is not A's signed delivery: %+v (first %+v)", got, first)
	}
	for _, h := range snapshot() {
		if h.event == "approval.created" && h.delivery != first.delivery {
			t.Fatalf("a second created delivery %+v", h)
		}
	}

	expectStatus(t, b.sendJSON(t, ctx, http.MethodPost, "/approvals/"+apID+"/resolve", map[string]any{"status": "rejected"}), http.StatusOK)
	res := waitHit("of approval.resolved", 20*time.Second, func(h hookHit) bool {
		return h.status == http.StatusOK && h.event == "approval.resolved" && h.body.Approval.ID == apID
	})
	if res.verified != nil || res.body.Approval.Status != "rejected" || res.delivery == first.delivery {
		t.Fatalf("resolved delivery %+v", res)
	}
}
