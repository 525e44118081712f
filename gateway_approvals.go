package agentgate

// The approvals' wiring (root package: the wiring, DESIGN.md): their sweep
// as a periodic job of the durable queue, and the gateway-wide webhook told
// of approvals created and resolved, delivered as jobs of that queue.

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/queue/riverqueue"
	"github.com/agentgate/agentgate/transport/egress"
	"github.com/agentgate/agentgate/transport/webhook"
)

// ApprovalWebhookConfig is the approvals webhook. Each delivery is a job
// of the durable queue on the state database: it survives a crash and is
// retried, on any replica, until the receiver answers 2xx, answers a final
// 4xx (anything but 408 and 429), or max_attempts are spent. The body is
// {"event": "approval.created" | "approval.resolved", "approval": <the
// approval, as GET /approvals/{id} shows it>}, signed with secret (see
// package transport/webhook: X-Agentgate-Signature: t=…,v1=…). The URL
// goes through the egress rules: an internal receiver needs egress.allow.
type ApprovalWebhookConfig struct {
	// URL receives the deliveries (http or https). Empty: no webhook.
	URL string `yaml:"url"`
	// Secret signs the deliveries (HMAC-SHA256); strongly advised.
	Secret string `yaml:"secret"`
	// Events are the events sent: created, resolved (default both).
	Events []string `yaml:"events"`
	// MaxAttempts bounds the POSTs of one delivery (default 10).
	MaxAttempts int `yaml:"max_attempts"`
	// Timeout bounds one POST (default 10s).
	Timeout time.Duration `yaml:"timeout"`
	// RetryBackoff is the wait before the first retry, doubling on each
	// further one up to 10 minutes (default 2s).
	RetryBackoff time.Duration `yaml:"retry_backoff"`
}

// Webhook events.
const (
	approvalEventCreated  = "approval.created"
	approvalEventResolved = "approval.resolved"
	// approvalWebhookJob is the queue's job name of a delivery.
	approvalWebhookJob = "approval_webhook"
)

// Defaults of ApprovalWebhookConfig.
const (
	defaultApprovalWebhookAttempts = 10
	defaultApprovalWebhookBackoff  = 2 * time.Second
	maxApprovalWebhookBackoff      = 10 * time.Minute
)

// validateWebhook checks the approvals webhook (config check refuses what
// serve refuses).
func (c ApprovalsConfig) validateWebhook() []error {
	w := c.Webhook
	var errs []error
	if w.URL == "" {
		if w.Secret != "" || len(w.Events) > 0 {
			errs = append(errs, errors.New("approvals.webhook: secret or events are set without a url"))
		}
		return errs
	}
	if err := webhook.CheckURL(w.URL); err != nil {
		errs = append(errs, fmt.Errorf("approvals.webhook.url: %w", err))
	}
	for _, e := range w.Events {
		if e != "created" && e != "resolved" {
			errs = append(errs, fmt.Errorf("approvals.webhook.events: %q is not created or resolved", e))
		}
	}
	if w.MaxAttempts < 0 {
		errs = append(errs, errors.New("approvals.webhook.max_attempts must not be negative (0 takes the default, 10)"))
	}
	if w.Timeout < 0 || w.RetryBackoff < 0 {
		errs = append(errs, errors.New("approvals.webhook: timeout and retry_backoff must not be negative"))
	}
	return errs
}

// sends reports whether the webhook sends event ("created", "resolved").
func (w ApprovalWebhookConfig) sends(event string) bool {
	return w.URL != "" && (len(w.Events) == 0 || slices.Contains(w.Events, event))
}

// approvalWebhookPayload is a delivery's job payload. The body is kept as
// a string so the queue's JSON column (jsonb on Postgres) cannot reformat
// it; the secret is not stored: the worker signs with its own config.
type approvalWebhookPayload struct {
	URL        string `json:"url"`
	Event      string `json:"event"`
	DeliveryID string `json:"delivery_id"`
	Body       string `json:"body"`
}

// approvalWebhook is the core.ApprovalObserver that turns approvals into
// durable webhook deliveries, and the job that delivers them.
type approvalWebhook struct {
	cfg    ApprovalWebhookConfig
	queue  *riverqueue.Queue
	sender *webhook.Sender
	logger *slog.Logger
}

// newApprovalWebhook registers the delivery job on q (before q starts) and
// returns the observer, or nil when no webhook is configured.
func newApprovalWebhook(ctx context.Context, cfg *Config, q *riverqueue.Queue, logger *slog.Logger) (*approvalWebhook, error) {
	wc := cfg.Approvals.Webhook
	if wc.URL == "" {
		return nil, nil
	}
	if q == nil {
		return nil, errors.New("approvals.webhook needs the durable queue")
	}
	guard, err := egress.New(egress.Config{Allow: cfg.Egress.Allow, MaxRedirects: cfg.Egress.MaxRedirects})
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := guard.CheckURL(cctx, wc.URL); err != nil {
		return nil, fmt.Errorf("approvals.webhook.url: %w", err)
	}
	if wc.Secret == "" {
		logger.Warn("approvals.webhook has no secret: its deliveries are not signed")
	}
	if wc.MaxAttempts <= 0 {
		wc.MaxAttempts = defaultApprovalWebhookAttempts
	}
	if wc.RetryBackoff <= 0 {
		wc.RetryBackoff = defaultApprovalWebhookBackoff
	}
	if wc.Timeout <= 0 {
		wc.Timeout = webhook.DefaultTimeout
	}
	w := &approvalWebhook{cfg: wc, queue: q, logger: logger,
		sender: webhook.NewSender(webhook.Options{Egress: guard, Timeout: wc.Timeout, UserAgent: "agentgate-approvals/" + Version})}
	// The attempt's own bound: the POST's timeout and a margin (below the
	// queue's rescue_after, which AddJob checks).
	opts := riverqueue.JobOptions{MaxAttempts: wc.MaxAttempts, Timeout: wc.Timeout + 5*time.Second, Backoff: w.backoff}
	if err := q.AddJob(approvalWebhookJob, opts, w.deliver); err != nil {
		return nil, err
	}
	return w, nil
}

// backoff waits RetryBackoff before the first retry, doubling up to
// maxApprovalWebhookBackoff.
func (w *approvalWebhook) backoff(attempt int) time.Duration {
	d := w.cfg.RetryBackoff
	for i := 1; i < attempt && d < maxApprovalWebhookBackoff; i++ {
		d *= 2
	}
	return min(d, maxApprovalWebhookBackoff)
}

// ApprovalCreated implements core.ApprovalObserver.
func (w *approvalWebhook) ApprovalCreated(ctx context.Context, a *core.Approval) {
	if w.cfg.sends("created") {
		w.enqueue(ctx, approvalEventCreated, a)
	}
}

// ApprovalResolved implements core.ApprovalObserver.
func (w *approvalWebhook) ApprovalResolved(ctx context.Context, a *core.Approval) {
	if w.cfg.sends("resolved") {
		w.enqueue(ctx, approvalEventResolved, a)
	}
}

// enqueue stores the delivery as a job (one insert; the POST happens on
// some replica's worker).
func (w *approvalWebhook) enqueue(ctx context.Context, event string, a *core.Approval) {
	body, err := json.Marshal(struct {
		Event    string         `json:"event"`
		Approval *core.Approval `json:"approval"`
	}{event, a})
	if err != nil {
		w.logger.Error("approvals webhook: cannot encode the approval", "approval_id", a.ID, "err", err)
		return
	}
	p := approvalWebhookPayload{URL: w.cfg.URL, Event: event, DeliveryID: uuid.NewString(), Body: string(body)}
	ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := w.queue.InsertJob(ictx, approvalWebhookJob, p); err != nil {
		w.logger.Error("approvals webhook: cannot queue the delivery", "approval_id", a.ID, "event", event, "err", err)
	}
}

// deliver is one attempt of a delivery job.
func (w *approvalWebhook) deliver(ctx context.Context, raw json.RawMessage, attempt int) error {
	var p approvalWebhookPayload
	if err := json.Unmarshal(raw, &p); err != nil {
		return riverqueue.Permanent(fmt.Errorf("approvals webhook: bad job payload: %w", err))
	}
	err := w.sender.Send(ctx, webhook.Delivery{URL: p.URL, Body: []byte(p.Body), Event: p.Event, ID: p.DeliveryID, Secret: w.cfg.Secret})
	switch {
	case err == nil:
		w.logger.Debug("approvals webhook delivered", "event", p.Event, "delivery_id", p.DeliveryID, "attempt", attempt)
		return nil
	case !webhook.Retryable(err):
		return riverqueue.Permanent(err)
	}
	return err
}

// setupApprovals wires the approvals' jobs on the queue (before it
// starts): the sweep that expires them and continues auto_continue runs,
// once across replicas, and the webhook's delivery; and how approvers are
// told (the webhook's observer on the engine).
func (g *Gateway) setupApprovals(ctx context.Context) error {
	if g.queue != nil {
		every := cmp.Or(g.cfg.Approvals.SweepInterval, DefaultApprovalSweepInterval)
		if err := g.queue.AddPeriodic("approvals", every, g.eng.SweepApprovals); err != nil {
			return err
		}
	}
	w, err := newApprovalWebhook(ctx, g.cfg, g.queue, g.logger)
	if err != nil || w == nil {
		return err
	}
	g.approvalWebhook = w
	g.eng.AddApprovalObserver(w)
	return nil
}
