package slack

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/adapters/slack/fakeslack"
	"github.com/agentgate/agentgate/core"
)

func TestVerify(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	body := []byte(`{"type":"event_callback"}`)
	ts := strconv.FormatInt(now.Unix(), 10)
	sig := Sign("s3cret", ts, body)
	if want := fakeslack.Sign("s3cret", now.Unix(), body); sig != want {
		t.Fatalf("Sign disagrees with an independent implementation: %s vs %s", sig, want)
	}
	if err := Verify("s3cret", ts, sig, body, now); err != nil {
		t.Fatalf("a good signature: %v", err)
	}
	for name, tc := range map[string]struct {
		secret, ts, sig string
		body            []byte
		now             time.Time
		want            error
	}{
		"tampered body":  {"s3cret", ts, sig, []byte(`{"type":"event_callbacK"}`), now, ErrBadSignature},
		"other secret":   {"other", ts, sig, body, now, ErrBadSignature},
		"stale":          {"s3cret", ts, sig, body, now.Add(5*time.Minute + time.Second), ErrStaleTimestamp},
		"future":         {"s3cret", ts, sig, body, now.Add(-5*time.Minute - time.Second), ErrStaleTimestamp},
		"no signature":   {"s3cret", ts, "", body, now, ErrMissingSignature},
		"no timestamp":   {"s3cret", "", sig, body, now, ErrMissingSignature},
		"bad timestamp":  {"s3cret", "12x", sig, body, now, ErrBadSignature},
		"short hex":      {"s3cret", ts, sig[:20], body, now, ErrBadSignature},
		"uppercase v0":   {"s3cret", ts, "V0=" + sig[3:], body, now, ErrBadSignature},
		"empty secret":   {"", ts, sig, body, now, ErrBadSignature},
		"not hex":        {"s3cret", ts, "v0=" + strings.Repeat("g", 64), body, now, ErrBadSignature},
		"ts of the body": {"s3cret", strconv.FormatInt(now.Unix()+1, 10), sig, body, now, ErrBadSignature},
	} {
		if err := Verify(tc.secret, tc.ts, tc.sig, tc.body, tc.now); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
	// Within the window either way.
	for _, d := range []time.Duration{-5 * time.Minute, 5 * time.Minute} {
		if err := Verify("s3cret", ts, sig, body, now.Add(d)); err != nil {
			t.Errorf("clock off by %v: %v", d, err)
		}
	}
	// Several secrets: the one that signed is found.
	i, err := verifyAny([]string{"a", "", "s3cret", "b"}, ts, sig, body, now)
	if err != nil || i != 2 {
		t.Errorf("verifyAny: %d %v, want 2", i, err)
	}
}

func TestParseEvent(t *testing.T) {
	env, ev, err := ParseEvent(fakeslack.Mention("Ev1", "C1", "U1", "1.2", "1.1", "hi"))
	if err != nil || env.EventID != "Ev1" || env.TeamID != fakeslack.TeamID || ev.Type != EventAppMention ||
		ev.Channel != "C1" || ev.User != "U1" || ev.TS != "1.2" || ev.ThreadTS != "1.1" || len(env.Authorizations) != 1 {
		t.Fatalf("mention: %+v %+v %v", env, ev, err)
	}
	// Unknown fields and block types do not matter.
	_, ev, err = ParseEvent([]byte(`{"type":"event_callback","event_id":"E","event":{"type":"app_mention","blocks":[{"type":"brand_new","x":1}],"text":"t","user":"U","ts":"1.1","channel":"C","new_field":{"a":[1]}}}`))
	if err != nil || ev.Text != "t" {
		t.Fatalf("lenient parse: %+v %v", ev, err)
	}
	env, ev, err = ParseEvent([]byte(`{"type":"url_verification","challenge":"abc","token":"x"}`))
	if err != nil || ev != nil || env.Challenge != "abc" {
		t.Fatalf("url_verification: %+v %v", env, err)
	}
	env, _, err = ParseEvent([]byte(`{"type":"app_rate_limited","team_id":"T","minute_rate_limited":1518467820,"api_app_id":"A"}`))
	if err != nil || env.Type != TypeAppRateLimited {
		t.Fatalf("app_rate_limited: %+v %v", env, err)
	}
	for _, bad := range []string{``, `null`, `[]`, `{}`, `{"type":"url_verification"}`, `{"type":"event_callback","event":{"type":"x"}}`,
		`{"type":"event_callback","event_id":"E"}`, `{"type":"event_callback","event_id":"E","event":null}`,
		`{"type":"event_callback","event_id":"E","event":{}}`, `{"type":"event_callback","event_id":"E","event":{"type":1}}`} {
		if _, _, err := ParseEvent([]byte(bad)); !errors.Is(err, ErrPayload) {
			t.Errorf("%s: %v, want ErrPayload", bad, err)
		}
	}
}

func TestRelevant(t *testing.T) {
	for _, tc := range []struct {
		ev   InnerEvent
		want bool
	}{
		{InnerEvent{Type: "app_mention"}, true},
		{InnerEvent{Type: "message", ChannelType: "im"}, true},
		{InnerEvent{Type: "message", ChannelType: "im", Subtype: "file_share"}, true},
		{InnerEvent{Type: "message", ChannelType: "im", Subtype: "message_changed"}, false},
		{InnerEvent{Type: "message", ChannelType: "im", Subtype: "bot_message"}, false},
		{InnerEvent{Type: "message", ChannelType: "channel"}, false},
		{InnerEvent{Type: "reaction_added"}, false},
	} {
		if got := relevant(&tc.ev); got != tc.want {
			t.Errorf("%+v: %v", tc.ev, got)
		}
	}
}

func TestParseInteractionAndDecision(t *testing.T) {
	_, blocks := approvalMessage("run-1", []core.ToolExecution{{ToolCallID: "c1", ToolName: "calculator", ToolArgs: json.RawMessage(`{"expression":"6*7"}`)}})
	b, _ := json.Marshal(blocks)
	msg := fakeslack.Message{Channel: "C1", TS: "1.5", ThreadTS: "1.1", Blocks: string(b)}
	for _, action := range []string{ActionApprove, ActionReject} {
		payload, err := fakeslack.ButtonClick(msg, action, "U1")
		if err != nil {
			t.Fatal(err)
		}
		ic, err := ParseInteraction(fakeslack.InteractionForm(payload))
		if err != nil {
			t.Fatal(err)
		}
		d, ok := DecisionOf(ic)
		want := Decision{RunID: "run-1", Approve: action == ActionApprove, UserID: "U1", TeamID: fakeslack.TeamID, ChannelID: "C1", MessageTS: "1.5", ThreadTS: "1.1"}
		if !ok || d != want {
			t.Errorf("%s: %+v %v, want %+v", action, d, ok, want)
		}
	}
	for _, bad := range []string{``, `payload=`, `payload=%7B%7D`, `payload=nope`, `%zz`} {
		if _, err := ParseInteraction([]byte(bad)); !errors.Is(err, ErrPayload) {
			t.Errorf("%q: %v, want ErrPayload", bad, err)
		}
	}
	ic, err := ParseInteractionPayload([]byte(`{"type":"block_actions","user":{"id":"U1"},"channel":{"id":"C1"},"actions":[{"block_id":"b","action_id":"other","value":"r"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := DecisionOf(ic); ok {
		t.Error("a click on another app's button is not a decision")
	}
	ic, _ = ParseInteractionPayload([]byte(`{"type":"block_actions","user":{"id":"U1"},"channel":{"id":"C:1"},"actions":[{"block_id":"b","action_id":"agentgate_approve","value":"r"}]}`))
	if _, ok := DecisionOf(ic); ok {
		t.Error("an invalid channel id must be refused")
	}
}

func TestSessionIDs(t *testing.T) {
	for _, agent := range []string{"assistant", "team:a", "x"} {
		a, c, ts, ok := splitSession(SessionID(agent, "C123", "1700000000.000100"))
		if !ok || a != agent || c != "C123" || ts != "1700000000.000100" {
			t.Errorf("%s: %q %q %q %v", agent, a, c, ts, ok)
		}
	}
	for _, s := range []string{"", "a", "a:b", ":C1:1.1", "a:C 1:1.1", "a:C1:x", "a:C1:1.", "a:C1:.1"} {
		if _, _, _, ok := splitSession(s); ok {
			t.Errorf("%q should not split", s)
		}
	}
}

func TestCleanTextAndEscape(t *testing.T) {
	if got := cleanText("<@UBOT> what is 1 &lt; 2 &amp;&amp; 3 &gt; 2? <@UOTHER>", "UBOT"); got != "what is 1 < 2 && 3 > 2? <@UOTHER>" {
		t.Errorf("cleanText: %q", got)
	}
	if got := escape("<!channel> & <https://x|y>"); got != "&lt;!channel&gt; &amp; &lt;https://x|y&gt;" {
		t.Errorf("escape: %q", got)
	}
}

func TestSplit(t *testing.T) {
	s := strings.Repeat("word ", 50) // 250 bytes
	head, rest := split(s, 100, 0)
	if head+rest != s || len(head) > 100 || len(head) < 50 || !strings.HasSuffix(head, " ") {
		t.Errorf("split at a space: %q | %q", head, rest)
	}
	head, _ = split(strings.Repeat("x", 97)+"&amp;yyy", 100, 0)
	if head != strings.Repeat("x", 97) {
		t.Errorf("split inside an entity: %q", head)
	}
	head, rest = split(strings.Repeat("é", 150), 100, 0)
	if len([]rune(head)) != 100 || len([]rune(rest)) != 50 {
		t.Errorf("split counts runes: %d %d", len([]rune(head)), len([]rune(rest)))
	}
	// keep: never cut before what a stream already sent.
	s = "aaaa " + strings.Repeat("b", 200)
	head, _ = split(s, 100, 60)
	if len(head) != 100 {
		t.Errorf("split with keep: %d", len(head))
	}
	if h, r := split("short", 100, 0); h != "short" || r != "" {
		t.Errorf("short: %q %q", h, r)
	}
}

func TestMemoryDedup(t *testing.T) {
	now := time.Unix(0, 0)
	d := NewMemoryDedup(time.Minute, 3, func() time.Time { return now })
	if !d.FirstSeen("a") || d.FirstSeen("a") {
		t.Fatal("a key is new once")
	}
	now = now.Add(59 * time.Second)
	if d.FirstSeen("a") {
		t.Fatal("still remembered within the TTL")
	}
	now = now.Add(time.Second)
	if !d.FirstSeen("a") {
		t.Fatal("forgotten after the TTL")
	}
	for _, k := range []string{"b", "c", "d"} {
		d.FirstSeen(k)
	}
	if d.Len() != 3 {
		t.Fatalf("bounded to 3 keys, has %d", d.Len())
	}
	if !d.FirstSeen("a") {
		t.Error("the oldest key is forgotten first when full")
	}
	if d.FirstSeen("d") {
		t.Error("a recent key is still remembered")
	}
	// Many keys over a long time stay bounded.
	for i := 0; i < 5000; i++ {
		now = now.Add(time.Second)
		d.FirstSeen(strconv.Itoa(i))
	}
	if d.Len() > 3 || len(d.queue)-d.head > 3 {
		t.Errorf("grew: %d keys, queue %d", d.Len(), len(d.queue)-d.head)
	}
}

// A run paused for input Slack cannot collect gets no buttons, and says
// how to continue it.
func TestInputPauseHasNoButtons(t *testing.T) {
	text, blocks := approvalMessage("run-9", []core.ToolExecution{
		{ToolCallID: "c1", ToolName: "calculator", RequiresUserInput: true, UserInputSchema: []core.UserInputField{{Name: "expression"}}},
		{ToolCallID: "c2", ToolName: "lookup", ExternalExecutionRequired: true},
	})
	b, _ := json.Marshal(blocks)
	if len(blocks) != 1 || strings.Contains(string(b), ActionApprove) || !strings.Contains(string(b), "/runs/run-9/continue") ||
		!strings.Contains(text, "calculator` needs input (expression)") || !strings.Contains(text, "lookup") {
		t.Fatalf("text %q, blocks %s", text, b)
	}
	if _, blocks := approvalMessage("run-1", []core.ToolExecution{{ToolCallID: "c1", ToolName: "calculator", RequiresConfirmation: true}}); len(blocks) != 2 {
		t.Fatalf("a confirmation gets its buttons: %d blocks", len(blocks))
	}
}
