package slack

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	slackapi "github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
)

// Envelope is the outer Events API request (the body of POST /slack/events
// and the payload of a Socket Mode events_api envelope). Only the fields the
// adapter uses are decoded: an inner event is read into InnerEvent, so an
// unknown block type or a new field in a message never makes the adapter
// drop a user's message (slackevents.ParseEvent fails the whole event when
// any part of it does not decode).
type Envelope struct {
	Type           string          `json:"type"`
	Challenge      string          `json:"challenge"`
	TeamID         string          `json:"team_id"`
	APIAppID       string          `json:"api_app_id"`
	EventID        string          `json:"event_id"`
	Event          json.RawMessage `json:"event"`
	Authorizations []Authorization `json:"authorizations"`
}

// Authorization is one installation an event is delivered for.
type Authorization struct {
	TeamID string `json:"team_id"`
	UserID string `json:"user_id"`
	IsBot  bool   `json:"is_bot"`
}

// InnerEvent is the part of an app_mention or message event the adapter uses.
type InnerEvent struct {
	Type        string `json:"type"`
	Subtype     string `json:"subtype"`
	User        string `json:"user"`
	BotID       string `json:"bot_id"`
	Text        string `json:"text"`
	TS          string `json:"ts"`
	ThreadTS    string `json:"thread_ts"`
	Channel     string `json:"channel"`
	ChannelType string `json:"channel_type"`
	Team        string `json:"team"`
	// Files are the files the message shares (Slack's file objects), read
	// with ParseFiles: kept raw here so that a file object the adapter
	// cannot read is answered in the thread, not a dropped event.
	Files json.RawMessage `json:"files"`
}

// Event types the adapter acts on.
const (
	TypeURLVerification = string(slackevents.URLVerification) // "url_verification"
	TypeEventCallback   = string(slackevents.CallbackEvent)   // "event_callback"
	TypeAppRateLimited  = string(slackevents.AppRateLimited)  // "app_rate_limited"
	EventAppMention     = string(slackevents.AppMention)      // "app_mention"
	EventMessage        = string(slackevents.Message)         // "message"
)

// ErrPayload is wrapped by every parse error (answered 400).
var ErrPayload = errors.New("invalid Slack payload")

func payloadErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrPayload, fmt.Sprintf(format, args...))
}

// ParseEvent decodes an Events API body. For an event_callback it also
// decodes the inner event (nil for other types). It never panics; an event
// of a kind the adapter does not handle parses without error.
func ParseEvent(body []byte) (*Envelope, *InnerEvent, error) {
	var env Envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, nil, payloadErr("%v", err)
	}
	switch env.Type {
	case TypeURLVerification:
		if env.Challenge == "" {
			return nil, nil, payloadErr("url_verification without a challenge")
		}
		return &env, nil, nil
	case TypeEventCallback:
	case "":
		return nil, nil, payloadErr("no type")
	default:
		return &env, nil, nil
	}
	if env.EventID == "" {
		return nil, nil, payloadErr("event_callback without an event_id")
	}
	if len(env.Event) == 0 || string(env.Event) == "null" {
		return nil, nil, payloadErr("event_callback without an event")
	}
	var ev InnerEvent
	if err := json.Unmarshal(env.Event, &ev); err != nil {
		return nil, nil, payloadErr("event: %v", err)
	}
	if ev.Type == "" {
		return nil, nil, payloadErr("event without a type")
	}
	return &env, &ev, nil
}

// validID reports whether s can be a Slack channel, user or team id: the
// adapter builds session ids ({agent}:{channel}:{thread_ts}) from them, so
// no separators, spaces or control characters.
func validID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// validTS reports whether s looks like a Slack message timestamp
// ("1700000000.000100").
func validTS(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	dot := false
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
		case r == '.' && !dot && i > 0 && i < len(s)-1:
			dot = true
		default:
			return false
		}
	}
	return true
}

// Action ids of the approval buttons; their value is the run id.
const (
	ActionApprove = "agentgate_approve"
	ActionReject  = "agentgate_reject"
	approvalBlock = "agentgate_approval"
)

// Decision is a click on an approval button.
type Decision struct {
	RunID     string
	Approve   bool
	UserID    string
	TeamID    string
	ChannelID string
	// MessageTS is the approval message (to replace its buttons).
	MessageTS string
	ThreadTS  string
}

// ParseInteraction decodes the body of POST /slack/interactions: a form
// whose payload field is the interaction's JSON.
func ParseInteraction(body []byte) (*slackapi.InteractionCallback, error) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, payloadErr("form: %v", err)
	}
	payload := form.Get("payload")
	if payload == "" {
		return nil, payloadErr("no payload")
	}
	return ParseInteractionPayload([]byte(payload))
}

// ParseInteractionPayload decodes an interaction's JSON (the payload form
// field, or a Socket Mode interactive envelope's payload).
func ParseInteractionPayload(payload []byte) (cb *slackapi.InteractionCallback, err error) {
	defer func() {
		// slack-go's decoders are not ours to trust with untrusted input.
		if r := recover(); r != nil {
			cb, err = nil, payloadErr("payload: %v", r)
		}
	}()
	var ic slackapi.InteractionCallback
	if err := json.Unmarshal(payload, &ic); err != nil {
		return nil, payloadErr("payload: %v", err)
	}
	if ic.Type == "" {
		return nil, payloadErr("payload without a type")
	}
	return &ic, nil
}

// DecisionOf returns the approval decision an interaction carries: a
// block_actions click on one of our buttons with a plausible run id, user
// and channel. ok is false for anything else (ignored).
func DecisionOf(ic *slackapi.InteractionCallback) (d Decision, ok bool) {
	if ic == nil || ic.Type != slackapi.InteractionTypeBlockActions {
		return Decision{}, false
	}
	for _, a := range ic.ActionCallback.BlockActions {
		if a == nil || (a.ActionID != ActionApprove && a.ActionID != ActionReject) {
			continue
		}
		d = Decision{RunID: a.Value, Approve: a.ActionID == ActionApprove, UserID: ic.User.ID, TeamID: ic.Team.ID}
		d.ChannelID = ic.Channel.ID
		if d.ChannelID == "" {
			d.ChannelID = ic.Container.ChannelID
		}
		d.MessageTS = ic.Container.MessageTs
		if d.MessageTS == "" {
			d.MessageTS = ic.Message.Timestamp
		}
		d.ThreadTS = ic.Container.ThreadTs
		if d.ThreadTS == "" {
			d.ThreadTS = ic.Message.ThreadTimestamp
		}
		if !validRunID(d.RunID) || !validID(d.UserID) || !validID(d.ChannelID) {
			return Decision{}, false
		}
		if d.MessageTS != "" && !validTS(d.MessageTS) {
			d.MessageTS = ""
		}
		if d.TeamID != "" && !validID(d.TeamID) {
			d.TeamID = ""
		}
		return d, true
	}
	return Decision{}, false
}

func validRunID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || r > 0x7e {
			return false
		}
	}
	return true
}

// SessionID is the session of a Slack thread: {agent}:{channel}:{thread_ts}.
func SessionID(agent, channel, threadTS string) string {
	return agent + ":" + channel + ":" + threadTS
}

// splitSession undoes SessionID (the agent id may itself contain ':').
func splitSession(s string) (agent, channel, threadTS string, ok bool) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return "", "", "", false
	}
	threadTS = s[i+1:]
	j := strings.LastIndexByte(s[:i], ':')
	if j <= 0 {
		return "", "", "", false
	}
	agent, channel = s[:j], s[j+1:i]
	if !validID(channel) || !validTS(threadTS) {
		return "", "", "", false
	}
	return agent, channel, threadTS, true
}
