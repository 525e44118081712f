package slack

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	slackapi "github.com/slack-go/slack"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/transport/httptransport"
)

// approvalMessage renders a paused run's pending tool calls with Approve
// and Reject buttons (their value is the run id; the decision applies to
// every pending call, as the engine needs all of them decided at once).
//
// A run that waits for user input or for a result computed by the caller
// gets no buttons: Slack cannot collect those here, so the message says how
// to continue it.
func approvalMessage(runID string, tools []core.ToolExecution) (string, []slackapi.Block) {
	var needs []string
	for _, t := range tools {
		switch {
		case t.RequiresUserInput:
			names := make([]string, 0, len(t.UserInputSchema))
			for _, f := range t.UserInputSchema {
				names = append(names, f.Name)
			}
			needs = append(needs, fmt.Sprintf("`%s` needs input (%s)", escape(t.ToolName), escape(strings.Join(names, ", "))))
		case t.ExternalExecutionRequired:
			needs = append(needs, fmt.Sprintf("`%s` runs on the caller's side and needs its result", escape(t.ToolName)))
		}
	}
	if len(needs) > 0 {
		msg := ":pencil: *Input needed.* " + strings.Join(needs, "; ") + ". Slack cannot collect it here: continue run `" +
			escape(runID) + "` through the REST API (`POST /agents/{agent_id}/runs/" + escape(runID) + "/continue`), WebSocket, MCP or A2A."
		return "Input needed: " + strings.Join(needs, "; "),
			[]slackapi.Block{slackapi.NewSectionBlock(slackapi.NewTextBlockObject(slackapi.MarkdownType, truncate(msg, 2900), false, false), nil, nil)}
	}
	var b strings.Builder
	b.WriteString(":raised_hand: *Approval needed.* The agent wants to run:")
	names := make([]string, 0, len(tools))
	for _, t := range tools {
		names = append(names, t.ToolName)
		fmt.Fprintf(&b, "\n• `%s`", escape(t.ToolName))
		if args := strings.TrimSpace(string(t.ToolArgs)); args != "" && args != "null" && args != "{}" {
			fmt.Fprintf(&b, " with `%s`", escape(truncate(strings.ReplaceAll(args, "`", "'"), 300)))
		}
	}
	text := "Approval needed: " + strings.Join(names, ", ")
	section := slackapi.NewSectionBlock(slackapi.NewTextBlockObject(slackapi.MarkdownType, truncate(b.String(), 2900), false, false), nil, nil)
	approve := slackapi.NewButtonBlockElement(ActionApprove, runID, slackapi.NewTextBlockObject(slackapi.PlainTextType, "Approve", false, false)).
		WithStyle(slackapi.StylePrimary)
	reject := slackapi.NewButtonBlockElement(ActionReject, runID, slackapi.NewTextBlockObject(slackapi.PlainTextType, "Reject", false, false)).
		WithStyle(slackapi.StyleDanger)
	return text, []slackapi.Block{section, slackapi.NewActionBlock(approvalBlock, approve, reject)}
}

// serveInteractions is POST /slack/interactions: verify, parse, hand a
// button click to a goroutine and acknowledge at once.
func (h *Handler) serveInteractions(c *fiber.Ctx) error {
	a, body, err := h.verify(c)
	if err != nil {
		return refuse(c, fiber.StatusUnauthorized, err)
	}
	ic, err := ParseInteraction(body)
	if err != nil {
		return refuse(c, fiber.StatusBadRequest, err)
	}
	if !h.acceptInteraction(a, ic) {
		return httptransport.WriteError(c, fiber.StatusServiceUnavailable, httptransport.ErrorBody{Detail: "shutting down"})
	}
	return c.SendStatus(fiber.StatusOK)
}

// acceptInteraction starts processing an approval click (anything else is
// acknowledged and ignored); false once shutting down.
func (h *Handler) acceptInteraction(a *app, ic *slackapi.InteractionCallback) bool {
	if started, ok := h.acceptApprovalClick(a, ic); ok {
		return started
	}
	d, ok := DecisionOf(ic)
	if !ok {
		return true
	}
	return h.goBackground(func() { h.decide(a, d) })
}

// decide continues a paused run with the clicked decision, replaces the
// buttons with the outcome, and follows the rest of the run in the thread.
func (h *Handler) decide(a *app, d Decision) {
	ctx := h.ctx
	t := target{channel: d.ChannelID, threadTS: d.ThreadTS, userID: d.UserID, teamID: d.TeamID}
	notFound := func() { h.ephemeral(ctx, a, t, d.UserID, "That request is no longer available.") }
	run, err := h.eng.Get(ctx, d.RunID)
	if err != nil {
		if core.CodeOf(err) == core.CodeNotFound {
			notFound()
		} else {
			h.post(ctx, a, t, ":warning: Sorry, I could not read the run: "+escape(core.MessageOf(err)))
		}
		return
	}
	agent, channel, threadTS, ok := splitSession(run.SessionID)
	// An app only decides runs of its own agent (team, workflow), started
	// in this channel.
	if !ok || agent != a.sessionKey() || run.Ref() != a.Runnable() || channel != d.ChannelID {
		notFound()
		return
	}
	t.threadTS = threadTS
	if run.Status != core.RunPaused {
		h.ephemeral(ctx, a, t, d.UserID, "This request was already decided.")
		return
	}
	if !h.cfg.AnyoneCanApprove && run.UserID != "" && run.UserID != d.UserID {
		h.ephemeral(ctx, a, t, d.UserID, fmt.Sprintf("Only <@%s> can approve or reject this.", run.UserID))
		return
	}
	pending := pendingTools(run)
	verdict := "rejected"
	if d.Approve {
		verdict = "approved"
	}
	tools := make([]core.ToolExecution, 0, len(pending))
	for _, p := range pending {
		confirmed := d.Approve
		te := core.ToolExecution{ToolCallID: p.ToolCallID, ToolName: p.ToolName, Confirmed: &confirmed}
		if !d.Approve {
			te.ConfirmationNote = "rejected in Slack by " + d.UserID
		}
		tools = append(tools, te)
	}
	_, pausedAt, err := h.eng.Continue(ctx, core.ContinueParams{RunID: run.RunID, Tools: tools, Approver: "slack:" + d.UserID})
	if err != nil {
		var gate *core.ApprovalPendingError
		if errors.As(err, &gate) {
			// A thread click is no approver's: the run waits for its
			// approval, and the clicker is told which one (the buttons
			// stay, for a click once it is resolved).
			h.ephemeral(ctx, a, t, d.UserID, fmt.Sprintf(":lock: This call needs an approver: approval `%s` must be resolved first "+
				"(`POST /approvals/%s/resolve`, or the approvals channel). Click again once it is, or it continues by itself if set to.",
				escape(gate.ApprovalID), escape(gate.ApprovalID)))
			return
		}
		if errors.Is(err, core.ErrConflict) {
			h.ephemeral(ctx, a, t, d.UserID, "This request was already decided.")
			return
		}
		h.post(ctx, a, t, ":warning: Sorry, I could not continue the run: "+escape(core.MessageOf(err)))
		return
	}
	h.markDecided(ctx, a, t, d, pending, verdict)
	// The rest of the run is the requester's reply.
	t.userID = run.UserID
	if t.userID == "" {
		t.userID = d.UserID
	}
	h.follow(ctx, a, t, run.RunID, pausedAt)
}

// pendingTools returns the tool calls a paused run waits for.
func pendingTools(run *core.Run) []core.ToolExecution {
	if run.Paused != nil && len(run.Paused.Pending) > 0 {
		return run.Paused.Pending
	}
	out := make([]core.ToolExecution, 0, len(run.Requirements))
	for _, req := range run.Requirements {
		if req.ToolExecution != nil {
			out = append(out, *req.ToolExecution)
		}
	}
	return out
}

// markDecided replaces the approval message's buttons with the decision.
func (h *Handler) markDecided(ctx context.Context, a *app, t target, d Decision, tools []core.ToolExecution, verdict string) {
	if d.MessageTS == "" {
		return
	}
	names := make([]string, 0, len(tools))
	for _, p := range tools {
		names = append(names, "`"+escape(p.ToolName)+"`")
	}
	icon := ":white_check_mark:"
	if verdict == "rejected" {
		icon = ":x:"
	}
	text := fmt.Sprintf("%s %s %s by <@%s>.", icon, strings.Join(names, ", "), verdict, d.UserID)
	block := slackapi.NewSectionBlock(slackapi.NewTextBlockObject(slackapi.MarkdownType, text, false, false), nil, nil)
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err := callWithRetry(cctx, func() error {
		_, _, _, err := a.api.UpdateMessageContext(cctx, t.channel, d.MessageTS,
			slackapi.MsgOptionText(text, false), slackapi.MsgOptionBlocks(block))
		return err
	})
	if err != nil {
		h.log.Warn("slack: could not update the approval message", "app", a.Name, "channel", t.channel, "err", err)
	}
}
