// Package slack is agentgate's Slack interface, on slack-go: the Events API
// at POST /slack/events and button clicks at POST /slack/interactions (both
// verified with the app's signing secret), or the same over Socket Mode.
//
// A mention of the bot in a channel (app_mention) or a direct message
// (message.im) starts a run of the app's agent. The thread is the session
// ({agent}:{channel}:{thread_ts}), the Slack user id is the run's user_id,
// and the reply streams into the thread: with chat.startStream /
// appendStream / stopStream when streaming is on, else as a placeholder
// edited with chat.update at most once per UpdateInterval (honouring 429 and
// Retry-After). A run that pauses for approval shows Approve / Reject
// buttons; a click continues the run, which goes on in the thread. Errors
// are posted into the thread as a short message. Files shared in the
// message become the run's media, and the media a run produces are uploaded
// into the thread (files.go).
//
// Requests are acknowledged at once and processed in the background;
// repeated deliveries of one event_id (Slack's retries, replays) and a
// second event for the same message are dropped.
package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	slackapi "github.com/slack-go/slack"

	"github.com/agentgate/agentgate/auth"
	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/media"
	"github.com/agentgate/agentgate/transport/httptransport"
)

// Operation ids of the two routes in the auth policy.
const (
	OpEvents       = "rest:POST /slack/events"
	OpInteractions = "rest:POST /slack/interactions"
)

// Handler serves the Slack interface over one engine.
type Handler struct {
	cfg  Config
	eng  *core.Engine
	log  *slog.Logger
	apps []*app
	// ac is the approvals channel (nil: no app has one).
	ac *approvalsChannel

	ctx    context.Context // background work; cancelled by Shutdown
	cancel context.CancelFunc

	mu     sync.Mutex // guards closed and wg.Add
	closed bool
	wg     sync.WaitGroup
	sockWG sync.WaitGroup
}

// app is a configured App with its Web API client and bot identity.
type app struct {
	App
	api *slackapi.Client
	// files downloads shared files and uploads the runs' media (see
	// files.go): the bot token, over fileClient.
	files *slackapi.Client

	idMu      sync.Mutex
	botUserID string
	botID     string
	idKnown   bool
	idTried   time.Time
}

// New builds the adapter. It starts Socket Mode connections when enabled;
// Register mounts the HTTP routes.
func New(eng *core.Engine, cfg Config) (*Handler, error) {
	if eng == nil {
		return nil, errors.New("slack: no engine")
	}
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &Handler{cfg: cfg, eng: eng, log: cfg.Logger.With("interface", "slack"), ctx: ctx, cancel: cancel}
	for _, a := range cfg.Apps {
		api := slackapi.New(a.BotToken, slackapi.OptionAPIURL(a.APIURL), slackapi.OptionHTTPClient(cfg.HTTPClient),
			slackapi.OptionAppLevelToken(a.AppToken))
		var guarded *http.Client
		if cfg.Media != nil {
			guarded = cfg.Media.Client
		}
		files := slackapi.New(a.BotToken, slackapi.OptionAPIURL(a.APIURL), slackapi.OptionHTTPClient(newFileClient(a.APIURL, cfg.HTTPClient, guarded)))
		h.apps = append(h.apps, &app{App: a, api: api, files: files})
	}
	if cfg.ApprovalService == nil {
		cfg.ApprovalService = eng
	}
	h.ac = newApprovalsChannel(h, cfg.ApprovalService)
	for _, a := range h.apps {
		if r := a.Runnable(); !registered(eng, r) {
			h.log.Warn("slack app bound to a runnable that is not registered (yet)", "app", a.Name, string(r.Kind), r.ID)
		}
		a := a
		h.goBackground(func() { a.identity(h.ctx, h.log) })
	}
	if cfg.SocketMode {
		h.startSocketMode()
	}
	return h, nil
}

// Register mounts POST /slack/events and POST /slack/interactions on app.
// Apps that have no signing secret (Socket Mode only) are not reachable
// over HTTP.
func (h *Handler) Register(app *fiber.App) {
	h.cfg.Policy.Declare(Operations()...)
	app.Post("/slack/events", h.guard(OpEvents, h.serveEvents))
	app.Post("/slack/interactions", h.guard(OpInteractions, h.serveInteractions))
	h.cfg.Policy.Served(OpEvents, OpInteractions)
}

// Operations are the policy entries of the Slack routes: public, as Slack
// signs its requests (the signing secret is the authentication).
func Operations() []auth.Operation {
	return []auth.Operation{auth.Public(OpEvents), auth.Public(OpInteractions)}
}

// HasHTTPApps reports whether any app can be reached over HTTP (has a
// signing secret).
func (h *Handler) HasHTTPApps() bool {
	for _, a := range h.apps {
		if a.SigningSecret != "" {
			return true
		}
	}
	return false
}

// guard asks the policy (the routes are public by default: the signature
// is the authentication) before fn.
func (h *Handler) guard(op string, fn fiber.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if err := h.cfg.Policy.Authorize(c.UserContext(), op, ""); err != nil {
			if httptransport.IsUnauthorized(err) {
				return httptransport.Unauthorized(c, err)
			}
			return httptransport.WriteError(c, fiber.StatusForbidden, httptransport.ErrorBody{Detail: core.MessageOf(err)})
		}
		return fn(c)
	}
}

// verify finds the app whose signing secret signed the request.
func (h *Handler) verify(c *fiber.Ctx) (*app, []byte, error) {
	body := append([]byte(nil), c.Body()...) // fasthttp reuses the buffer
	secrets := make([]string, len(h.apps))
	for i, a := range h.apps {
		secrets[i] = a.SigningSecret
	}
	i, err := verifyAny(secrets, c.Get(HeaderTimestamp), c.Get(HeaderSignature), body, h.cfg.Now())
	if err != nil {
		return nil, nil, err
	}
	return h.apps[i], body, nil
}

func refuse(c *fiber.Ctx, status int, err error) error {
	if status == fiber.StatusUnauthorized {
		httptransport.AuthRejected(c.UserContext(), "signature")
	}
	// Slack retries failed deliveries; these would fail again.
	c.Set(HeaderNoRetry, "1")
	return httptransport.WriteError(c, status, httptransport.ErrorBody{Detail: err.Error()})
}

// serveEvents is POST /slack/events: verify, answer url_verification,
// drop repeats, hand the event to a goroutine and acknowledge at once.
func (h *Handler) serveEvents(c *fiber.Ctx) error {
	a, body, err := h.verify(c)
	if err != nil {
		return refuse(c, fiber.StatusUnauthorized, err)
	}
	env, ev, err := ParseEvent(body)
	if err != nil {
		return refuse(c, fiber.StatusBadRequest, err)
	}
	if env.Type == TypeURLVerification {
		c.Set(fiber.HeaderContentType, fiber.MIMETextPlainCharsetUTF8)
		return c.SendString(env.Challenge)
	}
	if retry := c.Get(HeaderRetryNum); retry != "" {
		h.log.Debug("slack retry", "app", a.Name, "event_id", env.EventID, "retry", retry, "reason", c.Get(HeaderRetryWhy))
	}
	switch h.accept(a, env, ev) {
	case acceptClosed:
		return httptransport.WriteError(c, fiber.StatusServiceUnavailable, httptransport.ErrorBody{Detail: "shutting down"})
	default:
		return c.SendStatus(fiber.StatusOK)
	}
}

type acceptResult int

const (
	accepted acceptResult = iota
	acceptDuplicate
	acceptIgnored
	acceptClosed
)

// accept dedups an event and starts processing it in the background.
func (h *Handler) accept(a *app, env *Envelope, ev *InnerEvent) acceptResult {
	switch env.Type {
	case TypeEventCallback:
	case TypeAppRateLimited:
		h.log.Warn("Slack is rate-limiting the app's events", "app", a.Name)
		return acceptIgnored
	default:
		return acceptIgnored
	}
	if !h.cfg.Dedup.FirstSeen(a.Name + "|event|" + env.EventID) {
		h.log.Debug("slack event already seen", "app", a.Name, "event_id", env.EventID)
		return acceptDuplicate
	}
	if !relevant(ev) {
		return acceptIgnored
	}
	if !h.goBackground(func() { h.handleMessage(a, env, ev) }) {
		return acceptClosed
	}
	return accepted
}

// relevant reports whether the inner event is one the adapter answers: a
// mention, or a plain direct message.
func relevant(ev *InnerEvent) bool {
	if ev == nil {
		return false
	}
	switch ev.Type {
	case EventAppMention:
		return ev.Subtype == "" || ev.Subtype == "file_share"
	case EventMessage:
		// message.im only; edits, deletions, joins, bot_message... are not
		// questions.
		return ev.ChannelType == "im" && (ev.Subtype == "" || ev.Subtype == "file_share")
	}
	return false
}

// goBackground runs fn in a goroutine Shutdown waits for; false once
// shutting down.
func (h *Handler) goBackground(fn func()) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		defer func() {
			if r := recover(); r != nil {
				h.log.Error("slack: panic while processing", "panic", fmt.Sprint(r))
			}
		}()
		fn()
	}()
	return true
}

// Shutdown stops Socket Mode, takes no more work, and waits until ctx ends
// for the replies being written (runs the engine cancels at shutdown end
// with a final message); then it cancels the rest.
func (h *Handler) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	done := make(chan struct{})
	go func() {
		h.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	h.cancel()
	<-done
	h.sockWG.Wait()
	h.ac.wait()
	return err
}

// identity learns the bot's user id and bot id (auth.test), to ignore the
// bot's own messages. A failure is retried at most every 30 s.
func (a *app) identity(ctx context.Context, log *slog.Logger) (userID, botID string, ok bool) {
	a.idMu.Lock()
	defer a.idMu.Unlock()
	if a.idKnown {
		return a.botUserID, a.botID, true
	}
	if !a.idTried.IsZero() && time.Since(a.idTried) < 30*time.Second {
		return "", "", false
	}
	a.idTried = time.Now()
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	res, err := a.api.AuthTestContext(cctx)
	if err != nil {
		log.Warn("slack auth.test failed (tried again on a later event); until then the bot's own messages are recognised from the events' authorizations", "app", a.Name, "err", err)
		return "", "", false
	}
	a.botUserID, a.botID, a.idKnown = res.UserID, res.BotID, true
	return a.botUserID, a.botID, true
}

// fromSelf reports whether the event is the bot's own message.
func (a *app) fromSelf(ctx context.Context, log *slog.Logger, env *Envelope, ev *InnerEvent) bool {
	userID, botID, ok := a.identity(ctx, log)
	if ok {
		return (userID != "" && ev.User == userID) || (botID != "" && ev.BotID == botID)
	}
	for _, au := range env.Authorizations {
		if au.IsBot && au.UserID != "" && ev.User == au.UserID {
			return true
		}
	}
	// Identity unknown: never answer a bot in a DM (it may be us).
	return ev.Type == EventMessage && ev.BotID != ""
}

// target is where a reply goes.
type target struct {
	channel  string
	threadTS string
	userID   string
	teamID   string
}

// handleMessage starts a run for a mention or DM and follows it.
func (h *Handler) handleMessage(a *app, env *Envelope, ev *InnerEvent) {
	ctx := h.ctx
	if !validID(ev.Channel) || !validTS(ev.TS) || (ev.ThreadTS != "" && !validTS(ev.ThreadTS)) {
		h.log.Debug("slack event without a usable channel or ts", "app", a.Name, "event_id", env.EventID)
		return
	}
	if a.fromSelf(ctx, h.log, env, ev) {
		return
	}
	if ev.User == "" || !validID(ev.User) {
		return
	}
	// A channel message can arrive as several events (app_mention and
	// message.* are different event ids): one run per message.
	if !h.cfg.Dedup.FirstSeen(a.Name + "|msg|" + ev.Channel + "|" + ev.TS) {
		return
	}
	t := target{channel: ev.Channel, threadTS: ev.ThreadTS, userID: ev.User, teamID: ev.Team}
	if t.threadTS == "" {
		t.threadTS = ev.TS
	}
	if t.teamID == "" || !validID(t.teamID) {
		t.teamID = env.TeamID
	}
	files, err := ParseFiles(ev.Files)
	if err != nil {
		h.log.Warn("slack: the files of a message do not parse", "app", a.Name, "event_id", env.EventID, "err", err)
		h.post(ctx, a, t, ":warning: Sorry, I could not read the files of your message, so I did not start: "+escape(truncate(err.Error(), 300)))
		return
	}
	botUserID, _, _ := a.identity(ctx, h.log)
	text := cleanText(ev.Text, botUserID)
	if text == "" && len(files) == 0 {
		h.post(ctx, a, t, "Ask me something after the mention, and I will answer in this thread.")
		return
	}
	var refs []core.MediaRef
	var up *media.Upload
	started := false
	if len(files) > 0 {
		// The upload keeps the files' bytes until the run has recorded
		// them (Start returns after that): bytes a deleted session's
		// orphan delete removes in between are stored again. The files
		// of a message that starts no run are deleted again unless a
		// session carries them.
		var problems []string
		up, refs, problems = h.takeFiles(ctx, a, files)
		if up != nil {
			defer func() { up.End(ctx, h.eng, started) }()
		}
		if len(problems) > 0 {
			h.log.Info("slack: shared files refused", "app", a.Name, "channel", t.channel, "problems", strings.Join(problems, "; "))
			h.post(ctx, a, t, filesProblem(problems))
			return
		}
		if text == "" {
			text = filesText(refs)
		}
	}
	p := a.start(core.StartParams{
		Message: text, SessionID: SessionID(a.sessionKey(), t.channel, t.threadTS), UserID: t.userID, Interface: "slack",
		Media: refs,
	})
	if up != nil {
		p.MediaSource = up
	}
	run, err := h.eng.Start(ctx, p)
	if err != nil {
		h.log.Warn("slack: could not start a run", "app", a.Name, "runnable", a.Runnable().String(), "err", err)
		h.post(ctx, a, t, ":warning: Sorry, I could not start: "+escape(core.MessageOf(err)))
		return
	}
	started = true
	up.Close() // recorded: following the run keeps no spool
	h.follow(ctx, a, t, run.RunID, -1)
}

// registered reports whether the engine has the runnable r.
func registered(eng *core.Engine, r core.Ref) bool {
	_, err := eng.Runnable(r.Kind, r.ID)
	return err == nil
}

// cleanText turns a Slack message's text into the agent's input: the
// bot's own mention removed, Slack's &amp; &lt; &gt; unescaped.
func cleanText(text, botUserID string) string {
	if botUserID != "" {
		text = strings.ReplaceAll(text, "<@"+botUserID+">", "")
	}
	text = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(text)
	return strings.TrimSpace(text)
}

// escape makes text safe to show in a Slack message: & < > are control
// characters there (<!channel> would notify a whole channel).
func escape(text string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(text)
}

// post posts a short message into the thread (errors and notices).
func (h *Handler) post(ctx context.Context, a *app, t target, text string) {
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := callWithRetry(cctx, func() error {
		_, _, err := a.api.PostMessageContext(cctx, t.channel, slackapi.MsgOptionText(text, false), slackapi.MsgOptionTS(t.threadTS))
		return err
	}); err != nil {
		h.log.Warn("slack: could not post a message", "app", a.Name, "channel", t.channel, "err", err)
	}
}

// ephemeral shows text to one user only.
func (h *Handler) ephemeral(ctx context.Context, a *app, t target, userID, text string) {
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	opts := []slackapi.MsgOption{slackapi.MsgOptionText(text, false)}
	if t.threadTS != "" {
		opts = append(opts, slackapi.MsgOptionTS(t.threadTS))
	}
	if _, err := a.api.PostEphemeralContext(cctx, t.channel, userID, opts...); err != nil {
		h.log.Warn("slack: could not post an ephemeral message", "app", a.Name, "channel", t.channel, "err", err)
	}
}

// callWithRetry calls fn again after a 429 (waiting Retry-After), up to
// three times, within ctx.
func callWithRetry(ctx context.Context, fn func() error) error {
	for attempt := 0; ; attempt++ {
		err := fn()
		var rl *slackapi.RateLimitedError
		if !errors.As(err, &rl) || attempt >= 3 {
			return err
		}
		if err := sleep(ctx, rl.RetryAfter); err != nil {
			return err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
