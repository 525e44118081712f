package slack

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/agentgate/agentgate/core"
)

// The approvals channel: an app with approvals.channel set posts there
// every pending approval of its runnable's runs (the approval records of
// tools marked approval: required, whatever interface started the run),
// with Approve / Reject buttons. A click by a Slack user listed in
// approvals.approvers resolves the approval as the identity that user
// maps to (resolved_by); anyone else gets an ephemeral refusal and the
// approval stays pending. The message is then edited to say who decided
// what, without buttons; so it is too when the approval is resolved
// elsewhere (REST, expiry), from the {slack_channel, slack_ts} the app
// noted in the approval's context when it posted it.
//
// The app learns of approvals as a core.ApprovalObserver (Handler
// implements it): the observer only queues a note; one goroutine posts and
// edits the messages in order, so a resolution never overtakes the post it
// edits on this replica.

// ApprovalsChannel is an app's approvals channel (the approvals: block of
// a Slack app).
type ApprovalsChannel struct {
	// Channel is the channel id (C…, G…) the app posts the approvals to;
	// the bot must be a member. Empty: no approvals channel.
	Channel string `yaml:"channel"`
	// Approvers maps the Slack user ids allowed to click Approve / Reject
	// to the approver identity each resolves as (the approval's
	// resolved_by: typically their gateway user id).
	Approvers map[string]string `yaml:"approvers"`
}

// validate refuses a channel without approvers (nobody could decide) and
// approvers without a channel, and malformed ids.
func (c ApprovalsChannel) validate(where string) error {
	if c.Channel == "" {
		if len(c.Approvers) > 0 {
			return fmt.Errorf("%s: approvers are listed without a channel", where)
		}
		return nil
	}
	var errs []error
	if !validID(c.Channel) || !strings.ContainsAny(c.Channel[:1], "CG") {
		errs = append(errs, fmt.Errorf("%s.channel: %q is not a Slack channel id (C… or G…)", where, c.Channel))
	}
	if len(c.Approvers) == 0 {
		errs = append(errs, fmt.Errorf("%s: the channel %s has no approvers (map Slack user ids to approver identities)", where, c.Channel))
	}
	for u, id := range c.Approvers {
		if !validID(u) || !strings.ContainsAny(u[:1], "UW") {
			errs = append(errs, fmt.Errorf("%s.approvers: %q is not a Slack user id (U… or W…)", where, u))
		}
		if strings.TrimSpace(id) == "" {
			errs = append(errs, fmt.Errorf("%s.approvers.%s: the approver identity is empty", where, u))
		}
	}
	return errors.Join(errs...)
}

// ApprovalService is what the approvals channel needs of the engine.
type ApprovalService interface {
	GetApproval(ctx context.Context, id string) (*core.Approval, error)
	ResolveApproval(ctx context.Context, p core.ResolveApprovalParams) (*core.Approval, error)
	AnnotateApproval(ctx context.Context, id string, context map[string]any) error
}

// Action ids of the approvals channel's buttons; their value is the
// approval id.
const (
	ActionApprovalApprove = "agentgate_approval_approve"
	ActionApprovalReject  = "agentgate_approval_reject"
	approvalsChannelBlock = "agentgate_approvals_channel"
)

// Keys the app notes in an approval's context.
const (
	ContextSlackApp     = "slack_app"
	ContextSlackChannel = "slack_channel"
	ContextSlackTS      = "slack_ts"
)

// approvalsQueueSize bounds the notes waiting to be posted; past it a note
// is dropped (logged): the approval itself is stored, only its Slack
// message is missing.
const approvalsQueueSize = 1024

// approvalNote is one observer call to act on.
type approvalNote struct {
	created bool
	a       *core.Approval
}

// postedMessage is where an approval's message is.
type postedMessage struct {
	app     string
	channel string
	ts      string
	at      time.Time
}

// approvalsChannel is the Handler's approvals-channel state.
type approvalsChannel struct {
	h     *Handler
	svc   ApprovalService
	notes chan approvalNote
	wg    sync.WaitGroup

	mu sync.Mutex
	// posted are the messages this replica posted (so a resolution that
	// comes before the context note is readable still finds them).
	posted map[string]postedMessage
	// clicked are the approvals resolved by a click here, whose message
	// the click already edited.
	clicked map[string]time.Time
}

// newApprovalsChannel starts the poster when an app has an approvals
// channel; nil otherwise.
func newApprovalsChannel(h *Handler, svc ApprovalService) *approvalsChannel {
	on := false
	for _, a := range h.apps {
		on = on || a.Approvals.Channel != ""
	}
	if !on {
		return nil
	}
	if svc == nil {
		h.log.Warn("slack: an approvals channel is configured but the engine serves no approvals; it stays off")
		return nil
	}
	ac := &approvalsChannel{h: h, svc: svc, notes: make(chan approvalNote, approvalsQueueSize),
		posted: map[string]postedMessage{}, clicked: map[string]time.Time{}}
	ac.wg.Add(1)
	go ac.loop()
	return ac
}

// HasApprovalsChannel reports whether an app posts approvals (the gateway
// then registers the handler as an approval observer).
func (h *Handler) HasApprovalsChannel() bool { return h.ac != nil }

// ApprovalCreated implements core.ApprovalObserver: it queues the post.
func (h *Handler) ApprovalCreated(_ context.Context, a *core.Approval) { h.ac.note(true, a) }

// ApprovalResolved implements core.ApprovalObserver: it queues the edit.
func (h *Handler) ApprovalResolved(_ context.Context, a *core.Approval) { h.ac.note(false, a) }

func (ac *approvalsChannel) note(created bool, a *core.Approval) {
	if ac == nil || a == nil || a.ApprovalType == core.ApprovalAudit {
		return
	}
	cp := *a
	select {
	case ac.notes <- approvalNote{created: created, a: &cp}:
	default:
		ac.h.log.Warn("slack: too many approvals waiting to be posted; this one is not shown", "approval_id", a.ID)
	}
}

// wait waits for the poster to stop (Handler.Shutdown cancels its context).
func (ac *approvalsChannel) wait() {
	if ac != nil {
		ac.wg.Wait()
	}
}

func (ac *approvalsChannel) loop() {
	defer ac.wg.Done()
	ctx := ac.h.ctx
	for {
		select {
		case <-ctx.Done():
			return
		case n := <-ac.notes:
			func() {
				defer func() {
					if r := recover(); r != nil {
						ac.h.log.Error("slack: panic in the approvals channel", "panic", fmt.Sprint(r))
					}
				}()
				if n.created {
					ac.post(ctx, n.a)
				} else {
					ac.resolved(ctx, n.a)
				}
			}()
		}
	}
}

// appFor is the app whose runnable the approval's run belongs to and that
// has an approvals channel.
func (ac *approvalsChannel) appFor(a *core.Approval) *app {
	for _, x := range ac.h.apps {
		if x.Approvals.Channel == "" {
			continue
		}
		r := x.Runnable()
		switch {
		case r.Kind == core.KindAgent && a.AgentID == r.ID && a.TeamID == "" && a.WorkflowID == "",
			r.Kind == core.KindTeam && a.TeamID == r.ID,
			r.Kind == core.KindWorkflow && a.WorkflowID == r.ID:
			return x
		}
	}
	return nil
}

// appNamed is the app with the name and an approvals channel.
func (ac *approvalsChannel) appNamed(name string) *app {
	for _, x := range ac.h.apps {
		if x.Name == name && x.Approvals.Channel != "" {
			return x
		}
	}
	return nil
}

// post posts a pending approval to its app's channel and notes where.
func (ac *approvalsChannel) post(ctx context.Context, ap *core.Approval) {
	a := ac.appFor(ap)
	if a == nil || ap.Status != core.ApprovalPending {
		return
	}
	text, blocks := approvalsChannelMessage(ap)
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var ts string
	err := callWithRetry(cctx, func() error {
		var err error
		_, ts, err = a.api.PostMessageContext(cctx, a.Approvals.Channel, slackapi.MsgOptionText(text, false), slackapi.MsgOptionBlocks(blocks...))
		return err
	})
	if err != nil {
		ac.h.log.Warn("slack: could not post the approval", "app", a.Name, "channel", a.Approvals.Channel, "approval_id", ap.ID, "err", err)
		return
	}
	ac.mu.Lock()
	ac.pruneLocked()
	ac.posted[ap.ID] = postedMessage{app: a.Name, channel: a.Approvals.Channel, ts: ts, at: time.Now()}
	ac.mu.Unlock()
	note := map[string]any{ContextSlackApp: a.Name, ContextSlackChannel: a.Approvals.Channel, ContextSlackTS: ts}
	if err := ac.svc.AnnotateApproval(cctx, ap.ID, note); err != nil {
		ac.h.log.Warn("slack: could not note the approval's message in its context", "approval_id", ap.ID, "err", err)
	}
	// Resolved while it was being posted (a quick REST call): show it.
	if cur, err := ac.svc.GetApproval(cctx, ap.ID); err == nil && cur.Status != core.ApprovalPending {
		ac.update(cctx, a, a.Approvals.Channel, ts, cur)
	}
}

// pruneLocked forgets what is older than a day.
func (ac *approvalsChannel) pruneLocked() {
	for id, p := range ac.posted {
		if time.Since(p.at) > 24*time.Hour {
			delete(ac.posted, id)
		}
	}
	for id, at := range ac.clicked {
		if time.Since(at) > time.Hour {
			delete(ac.clicked, id)
		}
	}
}

// where finds an approval's message: its context, else this replica's
// memory.
func (ac *approvalsChannel) where(ap *core.Approval) (a *app, channel, ts string) {
	str := func(k string) string { s, _ := ap.Context[k].(string); return s }
	name, channel, ts := str(ContextSlackApp), str(ContextSlackChannel), str(ContextSlackTS)
	if ts == "" {
		ac.mu.Lock()
		p, ok := ac.posted[ap.ID]
		ac.mu.Unlock()
		if !ok {
			return nil, "", ""
		}
		name, channel, ts = p.app, p.channel, p.ts
	}
	if a = ac.appNamed(name); a == nil {
		a = ac.appFor(ap)
	}
	if a == nil || !validID(channel) || !validTS(ts) {
		return nil, "", ""
	}
	return a, channel, ts
}

// resolved edits the message of an approval resolved elsewhere.
func (ac *approvalsChannel) resolved(ctx context.Context, ap *core.Approval) {
	ac.mu.Lock()
	_, byClick := ac.clicked[ap.ID]
	delete(ac.clicked, ap.ID)
	ac.mu.Unlock()
	if byClick {
		return // the click already edited it
	}
	a, channel, ts := ac.where(ap)
	if a == nil {
		// Maybe posted by another replica, and noted after this copy was
		// read.
		cur, err := ac.svc.GetApproval(ctx, ap.ID)
		if err != nil {
			return
		}
		if a, channel, ts = ac.where(cur); a == nil {
			return
		}
		ap = cur
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ac.update(cctx, a, channel, ts, ap)
}

// update edits an approval's message to show its state.
func (ac *approvalsChannel) update(ctx context.Context, a *app, channel, ts string, ap *core.Approval) {
	text, blocks := approvalsChannelMessage(ap)
	err := callWithRetry(ctx, func() error {
		_, _, _, err := a.api.UpdateMessageContext(ctx, channel, ts, slackapi.MsgOptionText(text, false), slackapi.MsgOptionBlocks(blocks...))
		return err
	})
	if err != nil {
		ac.h.log.Warn("slack: could not update the approval message", "app", a.Name, "channel", channel, "approval_id", ap.ID, "err", err)
	}
}

// ApprovalClick is a click on an approvals-channel button.
type ApprovalClick struct {
	ApprovalID string
	Approve    bool
	UserID     string
	ChannelID  string
	MessageTS  string
}

// ApprovalClickOf returns the approvals-channel click an interaction
// carries; ok is false for anything else.
func ApprovalClickOf(ic *slackapi.InteractionCallback) (c ApprovalClick, ok bool) {
	if ic == nil || ic.Type != slackapi.InteractionTypeBlockActions {
		return ApprovalClick{}, false
	}
	for _, act := range ic.ActionCallback.BlockActions {
		if act == nil || (act.ActionID != ActionApprovalApprove && act.ActionID != ActionApprovalReject) {
			continue
		}
		c = ApprovalClick{ApprovalID: act.Value, Approve: act.ActionID == ActionApprovalApprove, UserID: ic.User.ID,
			ChannelID: ic.Channel.ID, MessageTS: ic.Container.MessageTs}
		if c.ChannelID == "" {
			c.ChannelID = ic.Container.ChannelID
		}
		if c.MessageTS == "" {
			c.MessageTS = ic.Message.Timestamp
		}
		if !validRunID(c.ApprovalID) || !validID(c.UserID) || !validID(c.ChannelID) {
			return ApprovalClick{}, false
		}
		if c.MessageTS != "" && !validTS(c.MessageTS) {
			c.MessageTS = ""
		}
		return c, true
	}
	return ApprovalClick{}, false
}

// acceptApprovalClick starts processing an approvals-channel click; ok is
// false when the interaction is not one (started is false once shutting
// down).
func (h *Handler) acceptApprovalClick(a *app, ic *slackapi.InteractionCallback) (started, ok bool) {
	c, ok := ApprovalClickOf(ic)
	if !ok {
		return false, false
	}
	return h.goBackground(func() { h.ac.click(h.ctx, a, c) }), true
}

// click resolves the clicked approval under the app's approvers map.
func (ac *approvalsChannel) click(ctx context.Context, a *app, c ApprovalClick) {
	if ac == nil {
		return // no approvals channel
	}
	h := ac.h
	t := target{channel: c.ChannelID}
	if a.Approvals.Channel == "" || c.ChannelID != a.Approvals.Channel {
		return // not this app's approvals channel: not ours to decide
	}
	identity, allowed := a.Approvals.Approvers[c.UserID]
	if !allowed {
		h.ephemeral(ctx, a, t, c.UserID, "You are not an approver here: only the approvers configured for this channel can approve or reject.")
		return
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ap, err := ac.svc.GetApproval(cctx, c.ApprovalID)
	if err != nil || ac.appFor(ap) != a {
		h.ephemeral(ctx, a, t, c.UserID, "That approval is no longer available.")
		return
	}
	ts := c.MessageTS
	if ts == "" {
		_, _, ts = ac.where(ap)
	}
	if ap.Status != core.ApprovalPending {
		if ts != "" {
			ac.update(cctx, a, c.ChannelID, ts, ap)
		}
		h.ephemeral(ctx, a, t, c.UserID, "This approval was already "+string(ap.Status)+".")
		return
	}
	status := core.ApprovalRejected
	if c.Approve {
		status = core.ApprovalApproved
	}
	// Marked before resolving: the engine tells the observers (this
	// handler too) as soon as it is stored.
	ac.mu.Lock()
	ac.clicked[ap.ID] = time.Now()
	ac.mu.Unlock()
	res, err := ac.svc.ResolveApproval(cctx, core.ResolveApprovalParams{ID: ap.ID, Status: status, ResolvedBy: identity,
		ResolvedAt: time.Now().Unix()})
	if err != nil {
		ac.mu.Lock()
		delete(ac.clicked, ap.ID)
		ac.mu.Unlock()
		if core.CodeOf(err) == core.CodeConflict || errors.Is(err, core.ErrConflict) {
			if cur, gerr := ac.svc.GetApproval(cctx, ap.ID); gerr == nil {
				if ts != "" {
					ac.update(cctx, a, c.ChannelID, ts, cur)
				}
				h.ephemeral(ctx, a, t, c.UserID, "This approval was already "+string(cur.Status)+".")
				return
			}
		}
		h.ephemeral(ctx, a, t, c.UserID, "Sorry, I could not resolve the approval: "+escape(core.MessageOf(err)))
		return
	}
	if ts != "" {
		ac.update(cctx, a, c.ChannelID, ts, res)
	}
}

// approvalsChannelMessage renders an approval: pending with Approve /
// Reject buttons (value: the approval id), or its outcome without
// buttons. A pending approval that needs user input or an external result
// gets no buttons: Slack cannot collect those.
func approvalsChannelMessage(ap *core.Approval) (string, []slackapi.Block) {
	var b strings.Builder
	tool := "`" + escape(ap.ToolName) + "`"
	if ap.ToolName == "" {
		tool = "a tool"
	}
	switch ap.Status {
	case core.ApprovalPending:
		fmt.Fprintf(&b, ":raised_hand: *Approval needed:* %s", tool)
	case core.ApprovalApproved:
		fmt.Fprintf(&b, ":white_check_mark: *Approved* by %s: %s", escape(ap.ResolvedBy), tool)
	case core.ApprovalRejected:
		fmt.Fprintf(&b, ":x: *Rejected* by %s: %s", escape(ap.ResolvedBy), tool)
	case core.ApprovalExpired:
		fmt.Fprintf(&b, ":hourglass: *Expired* unresolved: %s", tool)
	default:
		fmt.Fprintf(&b, ":no_entry_sign: *%s*: %s", escape(string(ap.Status)), tool)
	}
	if args := strings.TrimSpace(string(ap.ToolArgs)); args != "" && args != "null" && args != "{}" {
		fmt.Fprintf(&b, " with `%s`", escape(truncate(strings.ReplaceAll(args, "`", "'"), 500)))
	}
	fmt.Fprintf(&b, "\nRun `%s`", escape(ap.RunID))
	if src := ap.AgentID; src != "" {
		fmt.Fprintf(&b, " of agent `%s`", escape(src))
	} else if ap.TeamID != "" {
		fmt.Fprintf(&b, " of team `%s`", escape(ap.TeamID))
	} else if ap.WorkflowID != "" {
		fmt.Fprintf(&b, " of workflow `%s`", escape(ap.WorkflowID))
	}
	if ap.UserID != "" {
		fmt.Fprintf(&b, " · user `%s`", escape(ap.UserID))
	}
	if ap.ExpiresAt != nil && ap.Status == core.ApprovalPending {
		at := time.Unix(*ap.ExpiresAt, 0).UTC()
		fmt.Fprintf(&b, " · expires <!date^%d^{date_short_pretty} {time}|%s>", *ap.ExpiresAt, at.Format(time.RFC3339))
	}
	text := truncate(b.String(), 2900)
	if ap.Status == core.ApprovalPending && ap.PauseType != "" && ap.PauseType != core.PauseConfirmation {
		text += "\n_It needs " + strings.ReplaceAll(ap.PauseType, "_", " ") + ": resolve it through the REST API (`POST /approvals/" +
			escape(ap.ID) + "/resolve`)._"
	}
	section := slackapi.NewSectionBlock(slackapi.NewTextBlockObject(slackapi.MarkdownType, text, false, false), nil, nil)
	plain := strings.SplitN(stripMrkdwn(text), "\n", 2)[0]
	if ap.Status != core.ApprovalPending || (ap.PauseType != "" && ap.PauseType != core.PauseConfirmation) {
		return plain, []slackapi.Block{section}
	}
	approve := slackapi.NewButtonBlockElement(ActionApprovalApprove, ap.ID, slackapi.NewTextBlockObject(slackapi.PlainTextType, "Approve", false, false)).
		WithStyle(slackapi.StylePrimary)
	reject := slackapi.NewButtonBlockElement(ActionApprovalReject, ap.ID, slackapi.NewTextBlockObject(slackapi.PlainTextType, "Reject", false, false)).
		WithStyle(slackapi.StyleDanger)
	return plain, []slackapi.Block{section, slackapi.NewActionBlock(approvalsChannelBlock, approve, reject)}
}

// stripMrkdwn drops the emphasis marks of a notification's fallback text.
func stripMrkdwn(s string) string {
	return strings.NewReplacer("*", "", "`", "").Replace(s)
}
