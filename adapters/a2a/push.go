package a2a

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/transport/egress"
	"github.com/agentgate/agentgate/transport/webhook"
)

// PushDelivery tunes push notification delivery beyond the operator's
// PushSettings. Zero values take the defaults.
type PushDelivery struct {
	// InitialBackoff is the wait before the first retry (default 500ms);
	// it doubles up to PushSettings.MaxBackoff (default 10s). A
	// Retry-After header is honoured up to MaxBackoff.
	InitialBackoff time.Duration
	// MaxConfigsPerTask bounds the configs of one task (default 10).
	MaxConfigsPerTask int
	// Egress decides which webhook URLs may be called: the URL of a config
	// is checked when it is set, and every connection of a delivery
	// (redirects included) by the guard's dialer. Default: a guard with an
	// empty allow-list (no internal address is called).
	Egress *egress.Guard
	// Client sends the POSTs (default: Egress's client, which drops the
	// notification token and Authorization on a redirect to another
	// host).
	Client *http.Client
}

// pushOptions are everything the pusher is configured with: the
// operator's settings (when Disabled, the card says so and the config
// methods answer PushNotificationNotSupportedError; MaxAttempts bounds the
// POSTs of one notification to one URL, default 6, then it is dropped and
// logged) and the delivery tuning.
type pushOptions struct {
	PushSettings
	PushDelivery
}

func (o pushOptions) withDefaults() pushOptions {
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 6
	}
	if o.InitialBackoff <= 0 {
		o.InitialBackoff = 500 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 10 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.MaxConfigsPerTask <= 0 {
		o.MaxConfigsPerTask = 10
	}
	if o.Egress == nil {
		o.Egress, _ = egress.New(egress.Config{}) // an empty allow-list does not fail
	}
	if o.Client == nil {
		o.Client = o.Egress.Client(0, tokenHeader, "Authorization")
	}
	return o
}

// pusher keeps the push notification configs of this process and delivers
// notifications. State is in memory, per task: a restart loses the configs
// and any notification not yet delivered (a client re-registers its
// configs; the task itself and its events are not affected).
//
// Per task, one watcher follows the run's events from the event log (so a
// slow or dead webhook never holds the run up: the run only appends to the
// log) and hands each rendered update to one delivery goroutine per config,
// which POSTs them in order, retrying each until it is accepted (2xx) or
// MaxAttempts is spent: at-least-once delivery while the process lives.
type pusher struct {
	eng    *core.Engine
	opt    pushOptions
	sender *webhook.Sender
	logger *slog.Logger
	newID  func() string

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// closing is closed when close starts: watchers of paused tasks stop,
	// the others finish their tasks' deliveries until close's deadline.
	closing   chan struct{}
	closeOnce sync.Once

	// mu guards tasks and everything inside each taskPush.
	mu    sync.Mutex
	tasks map[string]*taskPush
}

// taskPush is one task's configs and delivery state.
type taskPush struct {
	targets  []*pushTarget // in creation order
	watching bool          // a watcher goroutine follows the task
	kick     chan struct{} // wakes a watcher waiting on a paused run
	finished chan struct{} // closed when the task's stream ended for good
	endedAt  time.Time
	// base is the scheme://host the media routes of the task's
	// notifications are made absolute under: the public URL, or the base
	// of the request that set the task's first config.
	base string
}

// pushTarget is one config and its delivery queue.
type pushTarget struct {
	cfg   PushConfig
	queue chan []byte
	stop  chan struct{} // closed when the config is deleted
}

func newPusher(eng *core.Engine, opt pushOptions, logger *slog.Logger, newID func() string) *pusher {
	ctx, cancel := context.WithCancel(context.Background())
	opt = opt.withDefaults()
	sender := webhook.NewSender(webhook.Options{Client: opt.Client, Timeout: opt.Timeout, UserAgent: "agentgate-a2a-push"})
	return &pusher{eng: eng, opt: opt, sender: sender, logger: logger, newID: newID, ctx: ctx, cancel: cancel,
		closing: make(chan struct{}), tasks: map[string]*taskPush{}}
}

// prunedAfter is how long the configs of a finished task are kept (for
// Get/List) after its last notification was handed to delivery.
const prunedAfter = time.Hour

// Errors of set.
var (
	errTooMany = errors.New("too many push notification configs")
	errClosing = errors.New("push notifications: the server is shutting down")
)

// set stores cfg (replacing a config with the same id) and starts
// delivering the task's updates to it. final says the task already ended:
// the config is stored, and nothing will be sent. base is where the
// caller reached the gateway (see taskPush.base).
func (p *pusher) set(cfg PushConfig, final bool, base string) (PushConfig, error) {
	if cfg.ID == "" {
		cfg.ID = p.newID()
	}
	select {
	case <-p.closing:
		return PushConfig{}, errClosing
	default:
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pruneLocked()
	tp := p.tasks[cfg.TaskID]
	if tp == nil {
		tp = &taskPush{kick: make(chan struct{}, 1), finished: make(chan struct{})}
		if final {
			close(tp.finished)
			tp.endedAt = time.Now()
		}
		p.tasks[cfg.TaskID] = tp
	}
	if tp.base == "" {
		tp.base = base
	}
	for i, t := range tp.targets {
		if t.cfg.ID == cfg.ID {
			close(t.stop)
			tp.targets = append(tp.targets[:i:i], tp.targets[i+1:]...)
			break
		}
	}
	if len(tp.targets) >= p.opt.MaxConfigsPerTask {
		return PushConfig{}, errTooMany
	}
	t := &pushTarget{cfg: cfg, queue: make(chan []byte, 256), stop: make(chan struct{})}
	tp.targets = append(tp.targets, t)
	select {
	case <-tp.finished:
		return cfg, nil // the task ended: nothing more to send
	default:
	}
	p.wg.Add(1)
	go p.deliverLoop(tp, t)
	if !tp.watching {
		tp.watching = true
		p.wg.Add(1)
		go p.watch(cfg.TaskID, tp)
	}
	return cfg, nil
}

func (p *pusher) pruneLocked() {
	for id, tp := range p.tasks {
		if !tp.endedAt.IsZero() && time.Since(tp.endedAt) > prunedAfter {
			delete(p.tasks, id)
		}
	}
}

// get returns a config; an empty id means the task's first one.
func (p *pusher) get(taskID, id string) (PushConfig, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	tp := p.tasks[taskID]
	if tp == nil {
		return PushConfig{}, false
	}
	for _, t := range tp.targets {
		if id == "" || t.cfg.ID == id {
			return t.cfg, true
		}
	}
	return PushConfig{}, false
}

// list returns the task's configs in creation order.
func (p *pusher) list(taskID string) []PushConfig {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []PushConfig
	if tp := p.tasks[taskID]; tp != nil {
		for _, t := range tp.targets {
			out = append(out, t.cfg)
		}
	}
	return out
}

// remove deletes a config and stops its deliveries.
func (p *pusher) remove(taskID, id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	tp := p.tasks[taskID]
	if tp == nil {
		return false
	}
	for i, t := range tp.targets {
		if t.cfg.ID == id {
			close(t.stop)
			tp.targets = append(tp.targets[:i:i], tp.targets[i+1:]...)
			return true
		}
	}
	return false
}

// kick wakes the task's watcher when it waits for a paused run to go on
// (a continue through this adapter; others are noticed by polling).
func (p *pusher) kick(taskID string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if tp := p.tasks[taskID]; tp != nil {
		select {
		case tp.kick <- struct{}{}:
		default:
		}
	}
}

// close stops taking configs and lets the watchers of running tasks
// deliver until their tasks end (the engine ends them at shutdown) or ctx
// ends; then it stops everything (what is not delivered by then is lost)
// and waits for the goroutines to exit.
func (p *pusher) close(ctx context.Context) error {
	p.closeOnce.Do(func() { close(p.closing) })
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	p.cancel()
	<-done
	return err
}

// maxFollowFailures bounds consecutive failures to read a task's events
// (an event log outage of about this many seconds) before its watcher
// gives up.
const maxFollowFailures = 120

// watch follows the task's events from its first one and fans the rendered
// updates out to the task's targets. It stops when the task ends, when no
// config is left, or at close.
func (p *pusher) watch(taskID string, tp *taskPush) {
	defer p.wg.Done()
	r := &Renderer{}
	after := int64(-1)
	failures := 0
	for {
		terminal, err := p.follow(taskID, tp, r, &after)
		if p.ctx.Err() != nil {
			return
		}
		var ge *core.GoneError
		switch {
		case terminal:
			p.finish(tp)
			return
		case errors.As(err, &ge):
			p.logger.Warn("a2a push: events trimmed before delivery; skipping ahead", "task_id", taskID, "first_index", ge.FirstIndex)
			after = ge.FirstIndex - 1
			r = Resumed()
			continue
		case err != nil && core.CodeOf(err) == core.CodeNotFound:
			p.finish(tp)
			return
		case err != nil:
			if failures++; failures > maxFollowFailures {
				p.logger.Error("a2a push: giving up on the task's notifications", "task_id", taskID, "err", err)
				p.finish(tp)
				return
			}
			p.logger.Warn("a2a push: following the task failed; retrying", "task_id", taskID, "err", err)
			select {
			case <-p.closing:
				p.finish(tp)
				return
			default:
			}
			if !p.sleep(time.Second, nil) {
				return
			}
			continue
		}
		failures = 0
		// The segment ended without a terminal event: the run paused.
		// Wait until it goes on (or ends), then follow the rest.
		if !p.waitResumed(taskID, tp) {
			return
		}
	}
}

// follow reads one segment of the run's events after *after, handing each
// update to the targets. It reports whether a terminal event was seen.
func (p *pusher) follow(taskID string, tp *taskPush, r *Renderer, after *int64) (bool, error) {
	s, err := p.eng.Subscribe(p.ctx, taskID, *after)
	if err != nil {
		return false, err
	}
	defer s.Close()
	for {
		ev, err := s.Next(p.ctx)
		if errors.Is(err, io.EOF) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		*after = ev.EventIndex
		p.mu.Lock()
		base := tp.base
		p.mu.Unlock()
		for _, it := range r.Render(&ev) {
			// Media are named by their absolute route (no bytes: a
			// webhook's body stays small; the receiver fetches them with
			// its credentials).
			it = completeItem(p.ctx, nil, base, 0, p.logger, it)
			if !p.fanOut(tp, EncodeItem(V1, it)) {
				return false, p.ctx.Err()
			}
		}
		if ev.Terminal() {
			return true, nil
		}
	}
}

// fanOut queues body on every target (blocking while a queue is full:
// that only delays this task's watcher, never the run).
func (p *pusher) fanOut(tp *taskPush, body []byte) bool {
	p.mu.Lock()
	targets := append([]*pushTarget(nil), tp.targets...)
	p.mu.Unlock()
	for _, t := range targets {
		select {
		case t.queue <- body:
		case <-t.stop:
		case <-p.ctx.Done():
			return false
		}
	}
	return true
}

// finish marks the task's stream as ended: delivery goroutines drain
// their queues and exit.
func (p *pusher) finish(tp *taskPush) {
	p.mu.Lock()
	defer p.mu.Unlock()
	tp.watching = false
	tp.endedAt = time.Now()
	select {
	case <-tp.finished:
	default:
		close(tp.finished)
	}
}

// waitResumed polls the paused run (and listens for a kick) until it
// leaves PAUSED. It gives up, stopping the watcher, when no config is left
// or when close starts.
func (p *pusher) waitResumed(taskID string, tp *taskPush) bool {
	delay := 250 * time.Millisecond
	for {
		p.mu.Lock()
		if len(tp.targets) == 0 {
			tp.watching = false
			p.mu.Unlock()
			return false
		}
		p.mu.Unlock()
		run, err := p.eng.Get(p.ctx, taskID)
		switch {
		case err != nil && core.CodeOf(err) == core.CodeNotFound:
			p.finish(tp)
			return false
		case err == nil && run.Status != core.RunPaused:
			return true
		}
		select {
		case <-p.closing:
			p.finish(tp)
			return false
		default:
		}
		if !p.sleep(delay, tp.kick) {
			return false
		}
		delay = min(delay*2, 5*time.Second)
	}
}

// sleep waits d (or until kick fires); false at close.
func (p *pusher) sleep(d time.Duration, kick <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-kick:
	case <-p.closing:
	case <-p.ctx.Done():
		return false
	}
	return true
}

// deliverLoop POSTs the target's notifications in order until the config
// is deleted, the task ended and the queue is drained, or close.
func (p *pusher) deliverLoop(tp *taskPush, t *pushTarget) {
	defer p.wg.Done()
	for {
		select {
		case body := <-t.queue:
			p.deliver(t, body)
		case <-t.stop:
			return
		case <-p.ctx.Done():
			return
		case <-tp.finished:
			for {
				select {
				case body := <-t.queue:
					p.deliver(t, body)
				default:
					return
				}
			}
		}
	}
}

// deliver POSTs one notification, retrying with exponential backoff.
func (p *pusher) deliver(t *pushTarget, body []byte) {
	delay := p.opt.InitialBackoff
	for attempt := 1; ; attempt++ {
		retry, wait, err := p.post(t.cfg, body)
		if err == nil {
			return
		}
		if !retry || attempt >= p.opt.MaxAttempts {
			p.logger.Warn("a2a push: notification dropped", "task_id", t.cfg.TaskID, "config_id", t.cfg.ID,
				"url", redactURL(t.cfg.URL), "attempts", attempt, "err", err)
			return
		}
		select {
		case <-t.stop:
			return
		case <-p.ctx.Done():
			return
		case <-time.After(max(delay, min(wait, p.opt.MaxBackoff))):
		}
		delay = min(delay*2, p.opt.MaxBackoff)
	}
}

// post sends one notification (transport/webhook: the shared delivery and
// its verdicts; a 425 is retried here too). It reports whether a failure
// is worth a retry, and how long the receiver asked to wait (Retry-After).
func (p *pusher) post(cfg PushConfig, body []byte) (retry bool, wait time.Duration, err error) {
	h := http.Header{}
	if cfg.Token != "" {
		h.Set(tokenHeader, cfg.Token)
	}
	if cfg.AuthScheme != "" || cfg.AuthCredentials != "" {
		v := cfg.AuthCredentials
		if cfg.AuthScheme != "" {
			v = cfg.AuthScheme + " " + cfg.AuthCredentials
		}
		h.Set("Authorization", v)
	}
	err = p.sender.Send(p.ctx, webhook.Delivery{URL: cfg.URL, Body: body, ContentType: "application/a2a+json", Header: h})
	if err == nil {
		return false, 0, nil
	}
	var we *webhook.Error
	if errors.As(err, &we) {
		return we.Retry || we.Status == http.StatusTooEarly, we.RetryAfter, err
	}
	return true, 0, err
}

// tokenHeader carries a config's token to its webhook.
const tokenHeader = "X-A2A-Notification-Token"

// validatePushURL checks a webhook URL: absolute http(s), and not plainly
// internal (see egress.Guard.CheckURL; deliveries are checked again, on
// the address dialled).
func (p *pusher) validatePushURL(ctx context.Context, raw string) *Error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errf(KindInvalidParams, "the push notification url must be an absolute http(s) URL")
	}
	if err := p.opt.Egress.CheckURL(ctx, raw); err != nil {
		return errf(KindInvalidParams, "the push notification url is not allowed: %v", err)
	}
	return nil
}

// redactURL drops the query and user info of a URL for logs.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid url)"
	}
	u.User, u.RawQuery = nil, ""
	return u.String()
}
