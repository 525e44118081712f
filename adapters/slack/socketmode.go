package slack

import (
	"context"
	"encoding/json"
	"time"

	"github.com/slack-go/slack/socketmode"
)

// startSocketMode connects every app that has an app token over Socket
// Mode: events_api and interactive envelopes are acknowledged at once and
// handled like their HTTP deliveries (same dedup, same background work). No
// signature is involved: the connection itself is authenticated by the app
// token. slack-go reconnects when Slack asks (disconnect) or a ping is
// missed; when it gives up, the connection is opened again after a backoff.
func (h *Handler) startSocketMode() {
	for _, a := range h.apps {
		if a.AppToken == "" {
			continue
		}
		a := a
		sm := socketmode.New(a.api)
		h.sockWG.Add(2)
		go func() {
			defer h.sockWG.Done()
			backoff := time.Second
			for {
				start := time.Now()
				err := sm.RunContext(h.ctx)
				if h.ctx.Err() != nil {
					return
				}
				if time.Since(start) > time.Minute {
					backoff = time.Second
				}
				h.log.Warn("slack socket mode connection ended; reconnecting", "app", a.Name, "err", err, "in", backoff.String())
				if sleep(h.ctx, backoff) != nil {
					return
				}
				backoff = min(2*backoff, time.Minute)
			}
		}()
		go func() {
			defer h.sockWG.Done()
			for {
				select {
				case <-h.ctx.Done():
					return
				case evt := <-sm.Events:
					h.socketEvent(a, sm, evt)
				}
			}
		}()
	}
}

// socketEvent handles one event of a Socket Mode client.
func (h *Handler) socketEvent(a *app, sm *socketmode.Client, evt socketmode.Event) {
	req := evt.Request
	switch evt.Type {
	case socketmode.EventTypeConnected:
		h.log.Info("slack socket mode connected", "app", a.Name)
		return
	case socketmode.EventTypeInvalidAuth:
		h.log.Error("slack socket mode: the app token was refused", "app", a.Name)
		return
	case socketmode.EventTypeConnectionError:
		h.log.Warn("slack socket mode: could not connect", "app", a.Name, "err", evt.Data)
		return
	case socketmode.EventTypeErrorBadMessage:
		// slack-go could not decode the envelope's payload with its own
		// types; ours are more lenient, so decode the raw message again.
		bad, _ := evt.Data.(*socketmode.ErrorBadMessage)
		if bad == nil {
			return
		}
		var r socketmode.Request
		if err := json.Unmarshal(bad.Message, &r); err != nil || r.EnvelopeID == "" {
			h.log.Warn("slack socket mode: undecodable message", "app", a.Name, "err", bad.Cause)
			return
		}
		req = &r
	case socketmode.EventTypeEventsAPI, socketmode.EventTypeInteractive:
	default:
		return
	}
	if req == nil || req.EnvelopeID == "" {
		return
	}
	switch req.Type {
	case socketmode.RequestTypeEventsAPI:
		env, ev, err := ParseEvent(req.Payload)
		if err != nil {
			h.ack(a, sm, req)
			h.log.Warn("slack socket mode: invalid event", "app", a.Name, "err", err)
			return
		}
		if h.accept(a, env, ev) == acceptClosed {
			return // unacknowledged: Slack delivers it again, maybe elsewhere
		}
		h.ack(a, sm, req)
	case socketmode.RequestTypeInteractive:
		ic, err := ParseInteractionPayload(req.Payload)
		if err != nil {
			h.ack(a, sm, req)
			h.log.Warn("slack socket mode: invalid interaction", "app", a.Name, "err", err)
			return
		}
		if !h.acceptInteraction(a, ic) {
			return
		}
		h.ack(a, sm, req)
	default:
		h.ack(a, sm, req)
	}
}

func (h *Handler) ack(a *app, sm *socketmode.Client, req *socketmode.Request) {
	ctx, cancel := context.WithTimeout(h.ctx, 3*time.Second)
	defer cancel()
	if err := sm.AckCtx(ctx, req.EnvelopeID, nil); err != nil {
		h.log.Warn("slack socket mode: could not acknowledge", "app", a.Name, "err", err)
	}
}
