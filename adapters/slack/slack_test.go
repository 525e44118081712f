package slack

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/adapters/slack/fakeslack"
	"github.com/agentgate/agentgate/core"
)

// A signed app_mention gets a placeholder in the mention's thread, edited
// (throttled) into the streamed reply; the thread is the session and the
// Slack user the run's user_id.
func TestMentionStreamsThreadedReplyWithUpdates(t *testing.T) {
	hs := newHarness(t, "echo", func(c *Config) { c.UpdateInterval = 150 * time.Millisecond })
	ts := hs.ts()
	hs.event(fakeslack.Mention("Ev1", "C1", "U1", ts, "", "hello there"), nil)
	msgs := hs.waitThread("C1", ts, "the full reply", func(ms []fakeslack.Message) bool {
		return len(ms) == 1 && ms[0].Text == reply20
	})
	hs.drain()
	if msgs[0].Stream {
		t.Errorf("streaming is off: the reply should be a posted message, not a stream")
	}
	posts := hs.fake.Calls("chat.postMessage")
	if len(posts) != 1 || posts[0].Values.Get("thread_ts") != ts || posts[0].Values.Get("text") != "_Thinking…_" {
		t.Fatalf("want one placeholder posted into thread %s; got %+v", ts, posts)
	}
	updates := hs.fake.Calls("chat.update")
	if len(updates) < 2 {
		t.Errorf("the reply should stream in several edits, got %d", len(updates))
	}
	last := posts[0].At
	for i, u := range updates {
		if gap := u.At.Sub(last); gap < 150*time.Millisecond {
			t.Errorf("edit %d came %v after the previous write; want at least the update interval (150ms)", i, gap)
		}
		last = u.At
		if !strings.HasPrefix(reply20, u.Values.Get("text")) {
			t.Errorf("edit %d shows %q, not a prefix of the reply", i, u.Values.Get("text"))
		}
	}
	runs := hs.runsOf("echo:C1:" + ts)
	if len(runs) != 1 {
		t.Fatalf("session echo:C1:%s has %d runs, want 1", ts, len(runs))
	}
	if r := runs[0]; r.UserID != "U1" || r.Input.InputContent != "hello there" || r.Status != core.RunCompleted {
		t.Errorf("run: user %q input %q status %s; want U1, %q (mention removed), COMPLETED", r.UserID, r.Input.InputContent, r.Status, "hello there")
	}
}

// With streaming on, the reply is chat.startStream (in the thread, with
// the recipient), chat.appendStream for the rest, and chat.stopStream.
func TestMentionNativeStreaming(t *testing.T) {
	hs := newHarness(t, "echo", func(c *Config) { c.Streaming = true })
	ts := hs.ts()
	hs.event(fakeslack.Mention("Ev1", "C1", "U1", ts, "", "stream please"), nil)
	msgs := hs.waitThread("C1", ts, "a stopped stream", func(ms []fakeslack.Message) bool {
		return len(ms) == 1 && ms[0].Stopped
	})
	hs.drain()
	m := msgs[0]
	if !m.Stream || m.Text != reply20 || m.Recipient != "U1" {
		t.Fatalf("want one stream to U1 showing the reply; got %s", dump(msgs))
	}
	start := hs.fake.Calls("chat.startStream")
	if len(start) != 1 || start[0].Values.Get("thread_ts") != ts || start[0].Values.Get("recipient_team_id") != fakeslack.TeamID {
		t.Fatalf("chat.startStream calls: %+v", start)
	}
	if n := len(hs.fake.Calls("chat.appendStream")); n < 1 {
		t.Errorf("the rest of the reply should be appended (got %d appends)", n)
	}
	if n := len(hs.fake.Calls("chat.postMessage")) + len(hs.fake.Calls("chat.update")); n != 0 {
		t.Errorf("streaming mode posted or edited %d messages", n)
	}
}

// A direct message (message.im) starts a run too; the bot's own messages
// in the DM (our replies come back as message.im events) are ignored.
func TestDirectMessageAndOwnMessagesIgnored(t *testing.T) {
	hs := newHarness(t, "echo", func(c *Config) { c.Streaming = true })
	ts := hs.ts()
	hs.event(fakeslack.BotMessage("EvBot", "D1", hs.ts(), "I am the bot"), nil)
	hs.event(fakeslack.DirectMessage("EvDM", "D1", "U1", ts, "hi in private"), nil)
	msgs := hs.waitThread("D1", "", "a stopped stream", func(ms []fakeslack.Message) bool {
		return len(ms) == 1 && ms[0].Stopped
	})
	hs.drain()
	if msgs[0].ThreadTS != ts || msgs[0].Text != reply20 {
		t.Fatalf("the DM reply should stream into the thread of %s: %s", ts, dump(msgs))
	}
	if msgs[0].Recipient != "" {
		t.Errorf("a DM stream needs no recipient; got %q", msgs[0].Recipient)
	}
	if n := len(hs.fake.Messages("", "")); n != 1 {
		t.Errorf("the bot's own message must not be answered: %d messages", n)
	}
	if runs := hs.runsOf("echo:D1:" + ts); len(runs) != 1 || runs[0].UserID != "U1" {
		t.Errorf("session echo:D1:%s: %d runs", ts, len(runs))
	}
}

// A mention inside a thread continues the thread's session.
func TestThreadIsTheSession(t *testing.T) {
	hs := newHarness(t, "echo", nil)
	root := hs.ts()
	hs.event(fakeslack.Mention("Ev1", "C1", "U1", root, "", "first"), nil)
	hs.waitText("C1", root, reply20)
	hs.drain()
	hs.event(fakeslack.Mention("Ev2", "C1", "U2", hs.ts(), root, "second"), nil)
	hs.waitThread("C1", root, "two replies", func(ms []fakeslack.Message) bool {
		return len(ms) == 2 && ms[1].Text == reply20
	})
	hs.drain()
	runs := hs.runsOf("echo:C1:" + root)
	if len(runs) != 2 || runs[0].UserID != "U1" || runs[1].UserID != "U2" {
		t.Fatalf("the thread's session should hold both runs (U1, U2): %d runs", len(runs))
	}
}

// Bad signature, stale or future timestamp, missing headers: 401, nothing
// runs. url_verification is answered only when signed.
func TestSignatureChecks(t *testing.T) {
	hs := newHarness(t, "echo", nil)
	body := fakeslack.Mention("Ev1", "C1", "U1", hs.ts(), "", "hello")
	cases := []struct {
		name   string
		secret string
		at     time.Time
		header map[string]string
	}{
		{"wrong secret", "not-the-secret", time.Now(), nil},
		{"stale timestamp", testSecret, time.Now().Add(-6 * time.Minute), nil},
		{"future timestamp", testSecret, time.Now().Add(6 * time.Minute), nil},
		{"no signature", testSecret, time.Now(), map[string]string{HeaderSignature: ""}},
		{"no timestamp", testSecret, time.Now(), map[string]string{HeaderTimestamp: ""}},
		{"malformed signature", testSecret, time.Now(), map[string]string{HeaderSignature: "v0=zz"}},
		{"v1 signature", testSecret, time.Now(), map[string]string{HeaderSignature: "v1=" + strings.Repeat("a", 64)}},
	}
	for _, tc := range cases {
		for _, path := range []string{"/slack/events", "/slack/interactions"} {
			st, b, _ := hs.post(path, tc.secret, tc.at, "application/json", body, tc.header)
			if st != http.StatusUnauthorized || !strings.Contains(b, `"detail"`) {
				t.Errorf("%s on %s: %d %s; want 401 with a detail", tc.name, path, st, b)
			}
		}
	}
	// Within the window is fine.
	if st, _, _ := hs.post("/slack/events", testSecret, time.Now().Add(-4*time.Minute), "application/json",
		[]byte(`{"type":"url_verification","token":"x","challenge":"c-123"}`), nil); st != http.StatusOK {
		t.Errorf("a 4-minute-old signed request: %d, want 200", st)
	}
	st, b, _ := hs.post("/slack/events", testSecret, time.Now(), "application/json",
		[]byte(`{"type":"url_verification","token":"x","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}`), nil)
	if st != http.StatusOK || b != "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" {
		t.Errorf("url_verification: %d %q", st, b)
	}
	st, _, _ = hs.post("/slack/events", "wrong", time.Now(), "application/json",
		[]byte(`{"type":"url_verification","token":"x","challenge":"c"}`), nil)
	if st != http.StatusUnauthorized {
		t.Errorf("unsigned url_verification: %d, want 401", st)
	}
	st, _, _ = hs.post("/slack/events", testSecret, time.Now(), "application/json", []byte(`{"type":`), nil)
	if st != http.StatusBadRequest {
		t.Errorf("signed garbage: %d, want 400", st)
	}
	hs.drain()
	if calls := hs.fake.Calls("chat.postMessage"); len(calls) != 0 {
		t.Errorf("refused requests posted %d messages", len(calls))
	}
}

// Slack's retries of an event_id (X-Slack-Retry-Num) are acknowledged and
// dropped; a message delivered as two events (app_mention and message)
// runs once.
func TestDuplicateEventDeliveredOnce(t *testing.T) {
	hs := newHarness(t, "echo", nil)
	ts := hs.ts()
	body := fakeslack.Mention("EvDup", "C1", "U1", ts, "", "only once")
	hs.event(body, nil)
	hs.event(body, map[string]string{HeaderRetryNum: "1", HeaderRetryWhy: "http_timeout"})
	hs.event(body, map[string]string{HeaderRetryNum: "2", HeaderRetryWhy: "http_timeout"})
	// The same message as a message.channels event (another event id).
	hs.event(fakeslack.DirectMessage("EvOther", "C1", "U1", ts, "<@"+fakeslack.BotUserID+"> only once"), nil)
	hs.waitText("C1", ts, reply20)
	hs.drain()
	if runs := hs.runsOf("echo:C1:" + ts); len(runs) != 1 {
		t.Fatalf("%d runs for one message, want 1", len(runs))
	}
	if msgs := hs.fake.Messages("C1", ts); len(msgs) != 1 {
		t.Fatalf("%d replies for one message, want 1: %s", len(msgs), dump(msgs))
	}
}

// The ack does not wait for the agent: a model that takes as long as it
// likes still gets its event acknowledged well within Slack's 3 s.
func TestAckWithinThreeSecondsWithSlowModel(t *testing.T) {
	hs := newHarness(t, "slow", nil)
	ts := hs.ts()
	took := hs.event(fakeslack.Mention("EvSlow", "C1", "U1", ts, "", "take your time"), nil)
	if took >= 3*time.Second {
		t.Fatalf("the ack took %v; Slack gives up after 3s", took)
	}
	t.Logf("ack took %v while the agent is still running", took)
	hs.waitText("C1", ts, "_Thinking…_")
	runs := hs.runsOf("slow:C1:" + ts)
	if len(runs) != 1 || runs[0].Status != core.RunRunning {
		t.Fatalf("the run should be running after the ack: %+v", runs)
	}
	close(hs.release)
	hs.waitText("C1", ts, "finally awake")
	hs.drain()
}

// A paused run shows Approve / Reject; a click from the requester
// continues it, the buttons become the decision, and the rest of the run
// is posted into the thread. Others cannot decide; a second click is told
// it was already decided.
func TestApprovalButtonContinuesRun(t *testing.T) {
	for _, approve := range []bool{true, false} {
		name := "approve"
		action, want := ActionApprove, "approved and returned 42"
		if !approve {
			name, action, want = "reject", ActionReject, "rejected. Note: rejected in Slack by U1"
		}
		t.Run(name, func(t *testing.T) {
			hs := newHarness(t, "approver", nil)
			ts := hs.ts()
			hs.event(fakeslack.Mention("EvA", "C1", "U1", ts, "", "compute 6*7"), nil)
			msgs := hs.waitThread("C1", ts, "the approval buttons", func(ms []fakeslack.Message) bool {
				return len(ms) == 1 && strings.Contains(ms[0].Blocks, ActionApprove)
			})
			hs.drain()
			approval := msgs[0]
			if !strings.Contains(approval.Blocks, "calculator") || !strings.Contains(approval.Blocks, "6*7") {
				t.Errorf("the approval should name the tool and its arguments: %s", approval.Blocks)
			}
			runs := hs.runsOf("approver:C1:" + ts)
			if len(runs) != 1 || runs[0].Status != core.RunPaused {
				t.Fatalf("want one paused run: %+v", runs)
			}
			runID := runs[0].RunID

			hs.click(approval, action, "U2") // not the requester
			hs.drain()
			if r := hs.waitRun(runID, core.RunPaused); r.Status != core.RunPaused {
				t.Fatal("another user's click must not decide")
			}
			if eph := hs.fake.Calls("chat.postEphemeral"); len(eph) != 1 || eph[0].Values.Get("user") != "U2" ||
				!strings.Contains(eph[0].Values.Get("text"), "Only <@U1>") {
				t.Errorf("the other user should be told who can decide: %+v", eph)
			}

			hs.click(approval, action, "U1")
			hs.waitText("C1", ts, want)
			hs.drain()
			hs.waitRun(runID, core.RunCompleted)
			msgs = hs.fake.Messages("C1", ts)
			if strings.Contains(msgs[0].Blocks, ActionApprove) || !strings.Contains(msgs[0].Text, "by <@U1>") {
				t.Errorf("the buttons should be replaced by the decision: %s", dump(msgs[:1]))
			}
			hs.click(approval, action, "U1")
			hs.drain()
			if eph := hs.fake.Calls("chat.postEphemeral"); len(eph) != 2 || !strings.Contains(eph[1].Values.Get("text"), "already decided") {
				t.Errorf("a second click should be told it was already decided: %+v", eph)
			}
			if n := len(hs.runsOf("approver:C1:" + ts)); n != 1 {
				t.Errorf("%d runs; a click must not start another", n)
			}
		})
	}
}

// A failing run's error is posted in the thread (in place of the
// placeholder), not swallowed; so is a run that cannot start.
func TestErrorsArePosted(t *testing.T) {
	hs := newHarness(t, "failing", nil)
	ts := hs.ts()
	hs.event(fakeslack.Mention("EvF", "C1", "U1", ts, "", "explode"), nil)
	msgs := hs.waitText("C1", ts, "the model is on fire")
	hs.drain()
	if len(msgs) != 1 || !strings.HasPrefix(msgs[0].Text, ":warning:") {
		t.Errorf("want the error as one short message: %s", dump(msgs))
	}

	hs2 := newHarness(t, "no-such-agent", func(c *Config) { c.Streaming = true })
	ts = hs2.ts()
	hs2.event(fakeslack.Mention("EvN", "C1", "U1", ts, "", "anyone?"), nil)
	hs2.waitText("C1", ts, `agent "no-such-agent" not found`)
	hs2.drain()
}

// A 429 on chat.update is honoured: nothing is written to Slack before
// Retry-After has passed, and the reply still ends complete.
func TestRateLimitRetryAfterHonoured(t *testing.T) {
	hs := newHarness(t, "echo", nil)
	hs.fake.RateLimit("chat.update", 1)
	ts := hs.ts()
	hs.event(fakeslack.Mention("EvR", "C1", "U1", ts, "", "go"), nil)
	hs.waitThread("C1", ts, "the full reply", func(ms []fakeslack.Message) bool { return len(ms) == 1 && ms[0].Text == reply20 })
	hs.drain()
	calls := hs.fake.Calls("chat.update")
	if len(calls) < 2 || calls[0].Status != http.StatusTooManyRequests {
		t.Fatalf("want a 429 then more edits: %+v", calls)
	}
	if gap := calls[1].At.Sub(calls[0].At); gap < time.Second {
		t.Errorf("the next edit came %v after the 429; Retry-After was 1s", gap)
	}
}

// A reply longer than one message goes on in new messages of the thread.
func TestLongReplySplitsIntoMessages(t *testing.T) {
	for _, streaming := range []bool{false, true} {
		hs := newHarness(t, "echo", func(c *Config) { c.MaxMessageChars = 100; c.Streaming = streaming })
		ts := hs.ts()
		hs.event(fakeslack.Mention("EvL", "C1", "U1", ts, "", "long"), nil)
		msgs := hs.waitThread("C1", ts, "the reply over several messages", func(ms []fakeslack.Message) bool {
			var all strings.Builder
			for _, m := range ms {
				all.WriteString(m.Text)
			}
			return all.String() == reply20 && (!streaming || ms[len(ms)-1].Stopped)
		})
		hs.drain()
		if len(msgs) < 2 {
			t.Errorf("streaming=%v: %d messages for %d characters (max 100)", streaming, len(msgs), len(reply20))
		}
		for _, m := range msgs {
			if len([]rune(m.Text)) > 100 || (streaming && !m.Stopped) {
				t.Errorf("streaming=%v: message over the limit or not stopped: %s", streaming, dump(msgs))
			}
		}
	}
}

// Several apps, each bound to its agent: the signature picks the app, and
// the reply uses that app's token.
func TestSeveralApps(t *testing.T) {
	hs := newHarness(t, "echo", func(c *Config) {
		c.Apps = append(c.Apps, App{Name: "ops", AgentID: "failing", SigningSecret: "ops-secret", BotToken: "xoxb-ops", APIURL: c.Apps[0].APIURL})
	})
	ts := hs.ts()
	st, b, _ := hs.post("/slack/events", "ops-secret", time.Now(), "application/json", fakeslack.Mention("EvO", "C9", "U1", ts, "", "hi ops"), nil)
	if st != http.StatusOK {
		t.Fatalf("ops app event: %d %s", st, b)
	}
	hs.waitText("C9", ts, "the model is on fire")
	hs.drain()
	if runs := hs.runsOf("failing:C9:" + ts); len(runs) != 1 {
		t.Fatalf("the ops app should run its own agent: %d runs", len(runs))
	}
	for _, c := range hs.fake.Calls("chat.postMessage") {
		if tok := c.Values.Get("token"); !strings.Contains(tok, "xoxb-ops") {
			t.Errorf("a reply of the ops app used token %q", tok)
		}
	}
	// The same event id on the other app is another event.
	ts2 := hs.ts()
	hs.event(fakeslack.Mention("EvO", "C9", "U1", ts2, "", "hi main"), nil)
	hs.waitText("C9", ts2, reply20)
	hs.drain()
}

func TestShutdownRefusesNewWork(t *testing.T) {
	hs := newHarness(t, "echo", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.h.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	st, _, _ := hs.post("/slack/events", testSecret, time.Now(), "application/json", fakeslack.Mention("EvS", "C1", "U1", hs.ts(), "", "late"), nil)
	if st != http.StatusServiceUnavailable {
		t.Errorf("an event after shutdown: %d, want 503 (so Slack retries elsewhere)", st)
	}
}

// At shutdown the engine cancels the runs still going; their replies end
// with a message saying so, and Shutdown waits for that.
func TestShutdownEndsRepliesWithAMessage(t *testing.T) {
	hs := newHarness(t, "slow", nil)
	ts := hs.ts()
	hs.event(fakeslack.Mention("EvSd", "C1", "U1", ts, "", "never mind"), nil)
	hs.waitText("C1", ts, "_Thinking…_")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_ = hs.eng.Close(ctx) // cancels the run after 200ms
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	if err := hs.h.Shutdown(sctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	msgs := hs.fake.Messages("C1", ts)
	if len(msgs) != 1 || !strings.Contains(msgs[0].Text, "cancelled") {
		t.Fatalf("the placeholder should say the run was cancelled: %s", dump(msgs))
	}
}
