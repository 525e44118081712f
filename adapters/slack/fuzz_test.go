package slack

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/agentgate/agentgate/adapters/slack/fakeslack"
)

// FuzzParseEvent: any body parses or fails with ErrPayload, never panics;
// an event_callback that parses has an event id and a typed inner event,
// and what the adapter derives from it (relevance, session ids) holds.
func FuzzParseEvent(f *testing.F) {
	f.Add(fakeslack.Mention("Ev1", "C1", "U1", "1.2", "", "hi"))
	f.Add(fakeslack.DirectMessage("Ev2", "D1", "U1", "1.3", "hi"))
	f.Add(fakeslack.BotMessage("Ev3", "D1", "1.4", "me"))
	f.Add([]byte(`{"type":"url_verification","challenge":"c","token":"t"}`))
	f.Add([]byte(`{"type":"app_rate_limited","minute_rate_limited":1}`))
	f.Add([]byte(`{"type":"event_callback","event_id":"E","event":{"type":"message","subtype":"message_changed","message":{"text":"x"}}}`))
	f.Add([]byte(`{"type":"event_callback","event_id":"E","event":{"type":"app_mention","blocks":[{"type":"rich_text"}]}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		env, ev, err := ParseEvent(body)
		if err != nil {
			if env != nil || ev != nil {
				t.Fatal("an error with a result")
			}
			return
		}
		if env.Type == TypeEventCallback && (ev == nil || env.EventID == "" || ev.Type == "") {
			t.Fatalf("event_callback without event id or inner type: %+v %+v", env, ev)
		}
		if env.Type == TypeURLVerification && env.Challenge == "" {
			t.Fatal("url_verification without a challenge")
		}
		if ev != nil && relevant(ev) && validID(ev.Channel) && validTS(ev.TS) {
			a, c, ts, ok := splitSession(SessionID("agent", ev.Channel, ev.TS))
			if !ok || a != "agent" || c != ev.Channel || ts != ev.TS {
				t.Fatalf("session id of %q/%q does not round-trip", ev.Channel, ev.TS)
			}
		}
		_ = cleanText(ev0(ev).Text, "UBOT")
	})
}

func ev0(ev *InnerEvent) *InnerEvent {
	if ev == nil {
		return &InnerEvent{}
	}
	return ev
}

// FuzzParseInteraction: any form body parses or fails with ErrPayload,
// never panics (slack-go's decoders included); a decision has a run id, a
// user and a channel that are safe to use.
func FuzzParseInteraction(f *testing.F) {
	click, _ := fakeslack.ButtonClick(fakeslack.Message{Channel: "C1", TS: "1.5", ThreadTS: "1.1",
		Blocks: `[{"type":"actions","block_id":"agentgate_approval","elements":[{"type":"button","action_id":"agentgate_approve","value":"run-1"}]}]`},
		ActionApprove, "U1")
	f.Add(fakeslack.InteractionForm(click))
	f.Add(fakeslack.InteractionForm([]byte(`{"type":"block_actions","actions":[{"action_id":"agentgate_reject","block_id":"b","value":"r"}],"user":{"id":"U"},"channel":{"id":"C"}}`)))
	f.Add(fakeslack.InteractionForm([]byte(`{"type":"view_submission","view":{"state":{"values":{}}}}`)))
	f.Add(fakeslack.InteractionForm([]byte(`{"type":"block_actions","state":{"values":{"b":{"a":{"type":"plain_text_input","value":"x"}}}}}`)))
	f.Add(fakeslack.InteractionForm([]byte(`{"type":"interactive_message","actions":[{"name":"n","value":"v"}]}`)))
	f.Add(fakeslack.InteractionForm([]byte(`{"type":"block_actions","actions":[{"action_id":"agentgate_approval_approve","block_id":"b","value":"ap-1"}],"user":{"id":"U"},"channel":{"id":"C"},"container":{"message_ts":"1.2"}}`)))
	f.Add([]byte("payload=%7B"))
	f.Fuzz(func(t *testing.T, body []byte) {
		ic, err := ParseInteraction(body)
		if err != nil {
			if ic != nil {
				t.Fatal("an error with a result")
			}
			return
		}
		d, ok := DecisionOf(ic)
		if ok && (!validRunID(d.RunID) || !validID(d.UserID) || !validID(d.ChannelID)) {
			t.Fatalf("unsafe decision %+v", d)
		}
		c, ok := ApprovalClickOf(ic)
		if ok && (!validRunID(c.ApprovalID) || !validID(c.UserID) || !validID(c.ChannelID) || (c.MessageTS != "" && !validTS(c.MessageTS))) {
			t.Fatalf("unsafe approval click %+v", c)
		}
	})
}

// FuzzVerify: verification never panics, accepts exactly the request
// signed with the secret within the window, and refuses it once the body
// changes.
func FuzzVerify(f *testing.F) {
	f.Add("secret", int64(0), []byte(`{"type":"event_callback"}`), "v0=00")
	f.Add("", int64(400), []byte{}, "")
	f.Fuzz(func(t *testing.T, secret string, skew int64, body []byte, sig string) {
		now := time.Unix(1_700_000_000, 0)
		ts := strconv.FormatInt(now.Unix()+skew%1000, 10)
		_ = Verify(secret, ts, sig, body, now)
		_ = Verify(secret, sig, ts, body, now)
		good := fakeslack.Sign(secret, now.Unix()+skew%1000, body)
		err := Verify(secret, ts, good, body, now)
		inWindow := skew%1000 <= 300 && skew%1000 >= -300
		switch {
		case secret == "" && err == nil:
			t.Fatal("an empty secret verified a request")
		case secret != "" && inWindow && err != nil:
			t.Fatalf("a good signature was refused: %v", err)
		case !inWindow && err == nil:
			t.Fatal("a request outside the window was accepted")
		}
		if err == nil {
			if Verify(secret, ts, good, append(append([]byte(nil), body...), 'x'), now) == nil {
				t.Fatal("a changed body verified")
			}
		}
	})
}

// FuzzParseFiles: any files field parses or fails with ErrPayload, never
// panics; what parses is at most MaxFiles files with usable ids and sizes,
// whose labels hold no control characters.
func FuzzParseFiles(f *testing.F) {
	f.Add([]byte(`[{"id":"F1","name":"a.png","mimetype":"image/png","size":3,"url_private":"https://files.slack.com/x"}]`))
	f.Add([]byte(`[{"id":"F2","file_access":"check_file_info"}]`))
	f.Add([]byte(`[{"id":"F3","mode":"tombstone"},{"id":"F4","is_external":true}]`))
	f.Add([]byte(`null`))
	f.Add([]byte(`[{"id":"F5","name":"\u0000\n"}]`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		fs, err := ParseFiles(raw)
		if err != nil {
			if fs != nil || !errors.Is(err, ErrPayload) {
				t.Fatalf("error %v with %d files", err, len(fs))
			}
			return
		}
		if len(fs) > MaxFiles {
			t.Fatalf("%d files", len(fs))
		}
		for _, x := range fs {
			if !validID(x.ID) || x.Size < 0 {
				t.Fatalf("file %+v", x)
			}
			l := x.label()
			if l == "" || strings.ContainsFunc(l, unicode.IsControl) || utf8.RuneCountInString(l) > 201 {
				t.Fatalf("label %q", l)
			}
		}
	})
}
