package slack

import (
	"context"
	"errors"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	slackapi "github.com/slack-go/slack"

	"github.com/agentgate/agentgate/core"
)

// follow renders a run's stream after the cursor into the thread, until
// the segment ends (completed, failed, cancelled or paused).
func (h *Handler) follow(ctx context.Context, a *app, t target, runID string, after int64) {
	s, err := h.eng.Subscribe(ctx, runID, after)
	if err != nil {
		h.post(ctx, a, t, ":warning: Sorry, I lost track of the run: "+escape(core.MessageOf(err)))
		return
	}
	type item struct {
		ev  core.Event
		err error
	}
	// A reader goroutine feeds the events, so that pending text can be
	// written on a timer while the stream is silent. A Stream is used by
	// one goroutine at a time: it is closed once the reader is gone.
	rctx, stop := context.WithCancel(ctx)
	evc := make(chan item, 16)
	readerDone := make(chan struct{})
	defer func() {
		stop()
		<-readerDone
		_ = s.Close()
	}()
	go func() {
		defer close(readerDone)
		for {
			ev, err := s.Next(rctx)
			select {
			case evc <- item{ev, err}:
			case <-rctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()

	r := h.newReplier(a, t)
	r.begin(ctx)
	var timer *time.Timer
	var tick <-chan time.Time
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		if tick == nil {
			if d, ok := r.due(); ok {
				timer = time.NewTimer(d)
				tick = timer.C
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick:
			tick = nil
			r.flush(ctx, false)
		case it := <-evc:
			if it.err != nil {
				if errors.Is(it.err, io.EOF) {
					r.finish(ctx)
					return
				}
				r.fail(ctx, ":warning: Sorry, I lost track of the run: "+escape(core.MessageOf(it.err)))
				return
			}
			ev := it.ev
			if ev.Forwarded() {
				continue // a member's or step's own events: the reply is the run's
			}
			switch ev.Base() {
			case core.EventRunContent:
				r.add(ev.Content)
			case core.EventRunCompleted:
				r.complete(ctx, ev.Content)
				if ev.EventDetail != nil {
					if produced := ev.EventDetail.RunMedia.All(); len(produced) > 0 {
						h.uploadMedia(ctx, a, t, produced)
					}
				}
				return
			case core.EventRunError:
				msg := ev.Content
				if msg == "" {
					msg = ev.Error
				}
				r.fail(ctx, ":warning: Sorry, the run failed: "+escape(truncate(msg, 500)))
				return
			case core.EventRunCancelled:
				r.fail(ctx, ":no_entry_sign: The run was cancelled.")
				return
			case core.EventRunPaused:
				r.paused(ctx, runID, ev.Tools)
				return
			}
		}
	}
}

// replier writes one run's reply into a thread: a message (or several, for
// a long reply) updated at most once per interval.
type replier struct {
	h        *Handler
	a        *app
	t        target
	stream   bool
	interval time.Duration
	max      int

	ts          string // the current message ("" none yet)
	cur         string // what the current message should show (escaped)
	sent        string // what it shows
	placeholder bool   // it shows only the placeholder
	total       strings.Builder
	last        time.Time // last write to the current message
	until       time.Time // rate limited until
}

func (h *Handler) newReplier(a *app, t target) *replier {
	return &replier{h: h, a: a, t: t, stream: h.cfg.Streaming, interval: h.cfg.UpdateInterval, max: h.cfg.MaxMessageChars}
}

// begin posts the placeholder (not when streaming: a stream starts with
// the first text).
func (r *replier) begin(ctx context.Context) {
	if r.stream {
		return
	}
	if err := r.write(ctx, r.h.cfg.Placeholder, true); err != nil {
		r.h.log.Warn("slack: could not post the placeholder", "app", r.a.Name, "channel", r.t.channel, "err", err)
		return
	}
	r.placeholder = true
}

// add appends a content delta.
func (r *replier) add(delta string) {
	if delta == "" {
		return
	}
	r.total.WriteString(delta)
	r.cur += escape(delta)
}

// due says when the pending text may be written (ok false: nothing pending).
func (r *replier) due() (time.Duration, bool) {
	if r.cur == r.sent || r.cur == "" {
		return 0, false
	}
	at := r.last.Add(r.interval)
	if r.until.After(at) {
		at = r.until
	}
	d := time.Until(at)
	if d < 0 {
		d = 0
	}
	return d, true
}

// flush writes the pending text: a best effort when not final (a rate
// limit or an error leaves it for the next flush), insisting when final.
func (r *replier) flush(ctx context.Context, final bool) {
	for utf8.RuneCountInString(r.cur) > r.max {
		keep := 0 // a stream cannot take back what it sent
		if strings.HasPrefix(r.cur, r.sent) {
			keep = len(r.sent)
		}
		head, rest := split(r.cur, r.max, keep)
		r.cur = head
		if err := r.write(ctx, head, true); err != nil {
			r.h.log.Warn("slack: could not write a reply", "app", r.a.Name, "channel", r.t.channel, "err", err)
		}
		r.close(ctx)
		r.ts, r.cur, r.sent, r.placeholder = "", rest, "", false
	}
	if r.cur == r.sent || r.cur == "" {
		return
	}
	if !final && time.Now().Before(r.until) {
		return
	}
	if err := r.write(ctx, r.cur, final); err != nil {
		r.h.log.Warn("slack: could not write a reply", "app", r.a.Name, "channel", r.t.channel, "err", err)
	}
}

// write makes the current message show text: post or update (or start /
// append to the stream). A 429 sets until from Retry-After; when insist is
// set the write waits for it and tries again (up to 5 times).
func (r *replier) write(ctx context.Context, text string, insist bool) error {
	for attempt := 0; ; attempt++ {
		at := r.until
		if r.ts != "" && r.last.Add(r.interval).After(at) {
			at = r.last.Add(r.interval) // an edit: at most one per interval
		}
		if wait := time.Until(at); wait > 0 {
			if !insist {
				return nil
			}
			if err := sleep(ctx, wait); err != nil {
				return err
			}
		}
		cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		err := r.send(cctx, text)
		cancel()
		r.last = time.Now()
		var rl *slackapi.RateLimitedError
		if errors.As(err, &rl) {
			ra := rl.RetryAfter
			if ra <= 0 {
				ra = time.Second
			}
			r.until = time.Now().Add(ra)
			if insist && attempt < 5 {
				continue
			}
			return err
		}
		if err != nil {
			return err
		}
		r.sent = text
		r.placeholder = false
		return nil
	}
}

// send is one Web API call that makes the current message show text.
func (r *replier) send(ctx context.Context, text string) error {
	api, ch := r.a.api, r.t.channel
	if r.stream {
		delta := strings.TrimPrefix(text, r.sent)
		if r.ts == "" {
			opts := []slackapi.MsgOption{slackapi.MsgOptionTS(r.t.threadTS), slackapi.MsgOptionMarkdownText(delta)}
			if !strings.HasPrefix(ch, "D") {
				// Required when streaming in a channel rather than a DM.
				opts = append(opts, slackapi.MsgOptionRecipientUserID(r.t.userID))
				if r.t.teamID != "" {
					opts = append(opts, slackapi.MsgOptionRecipientTeamID(r.t.teamID))
				}
			}
			_, ts, err := api.StartStreamContext(ctx, ch, opts...)
			if err == nil {
				r.ts = ts
			}
			return err
		}
		if delta == "" {
			return nil
		}
		_, _, err := api.AppendStreamContext(ctx, ch, r.ts, slackapi.MsgOptionMarkdownText(delta))
		return err
	}
	if r.ts == "" {
		_, ts, err := api.PostMessageContext(ctx, ch, slackapi.MsgOptionText(text, false), slackapi.MsgOptionTS(r.t.threadTS))
		if err == nil {
			r.ts = ts
		}
		return err
	}
	_, _, _, err := api.UpdateMessageContext(ctx, ch, r.ts, slackapi.MsgOptionText(text, false))
	return err
}

// close ends the current message (stops the stream).
func (r *replier) close(ctx context.Context) {
	if !r.stream || r.ts == "" {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err := callWithRetry(cctx, func() error {
		_, _, err := r.a.api.StopStreamContext(cctx, r.t.channel, r.ts)
		return err
	})
	if err != nil {
		r.h.log.Warn("slack: could not stop a stream", "app", r.a.Name, "channel", r.t.channel, "err", err)
	}
}

// finish writes everything pending and ends the current message.
func (r *replier) finish(ctx context.Context) {
	r.flush(ctx, true)
	r.close(ctx)
}

// complete ends a completed run: the final content (when the agent did not
// stream all of it), then the end of the message.
func (r *replier) complete(ctx context.Context, content string) {
	got := r.total.String()
	switch {
	case got == "":
		r.add(content)
	case len(content) > len(got) && strings.HasPrefix(content, got):
		r.add(content[len(got):])
	}
	if r.total.Len() == 0 {
		r.add("(no answer)")
	}
	r.finish(ctx)
}

// fail ends the reply with a short error message: in place of the
// placeholder when nothing was written yet, else as a new message.
func (r *replier) fail(ctx context.Context, text string) {
	if r.placeholder && r.cur == "" && r.ts != "" {
		if err := r.write(ctx, text, true); err == nil {
			return
		}
	}
	r.finish(ctx)
	r.h.post(ctx, r.a, r.t, text)
}

// paused ends the text so far and shows the approval buttons.
func (r *replier) paused(ctx context.Context, runID string, tools []core.ToolExecution) {
	text, blocks := approvalMessage(runID, tools)
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	opts := []slackapi.MsgOption{slackapi.MsgOptionText(text, false), slackapi.MsgOptionBlocks(blocks...)}
	var err error
	if r.placeholder && r.cur == "" && r.ts != "" && !r.stream {
		ts := r.ts
		err = callWithRetry(cctx, func() error {
			_, _, _, err := r.a.api.UpdateMessageContext(cctx, r.t.channel, ts, opts...)
			return err
		})
	} else {
		r.finish(ctx)
		err = callWithRetry(cctx, func() error {
			_, _, err := r.a.api.PostMessageContext(cctx, r.t.channel, append(opts, slackapi.MsgOptionTS(r.t.threadTS))...)
			return err
		})
	}
	if err != nil {
		r.h.log.Warn("slack: could not post the approval request", "app", r.a.Name, "channel", r.t.channel, "run_id", runID, "err", err)
	}
}

// split cuts s after at most n runes (but not before byte keep), at the
// last line break or space of the second half when there is one, never
// inside an &entity;.
func split(s string, n, keep int) (head, rest string) {
	cut := len(s)
	count := 0
	for i := range s {
		if count == n {
			cut = i
			break
		}
		count++
	}
	if cut >= len(s) {
		return s, ""
	}
	if amp := strings.LastIndexByte(s[:cut], '&'); amp >= keep && amp > 0 && !strings.Contains(s[amp:cut], ";") && cut-amp < 6 {
		cut = amp
	}
	if i := strings.LastIndexAny(s[:cut], "\n "); i > cut/2 && i+1 >= keep {
		cut = i + 1
	}
	return s[:cut], s[cut:]
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for j := range s {
		if i == n {
			return s[:j] + "…"
		}
		i++
	}
	return s
}
