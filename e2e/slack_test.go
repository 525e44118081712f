package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentgate/agentgate/adapters/slack/fakeslack"
)

// The gateway under test speaks to a fake Slack Web API running in this
// test process (slack-go's slacktest plus chat.update and the streaming
// methods); the test plays Slack's side of the Events API by POSTing
// signed requests to the gateway.

const slackConfig = `
models:
  echo:
    provider: scripted
    chunks: 10
    chunk_delay: 40ms
    script:
      - reply: "Slack says {{input}} and the gateway streams this answer back in ten small pieces"
  slow:
    provider: scripted
    chunks: 5
    chunk_delay: 1s
    script:
      - reply: "slow and steady wins the race"
  approval:
    provider: scripted
    chunks: 3
    script:
      - tool_calls:
          - name: calculator
            arguments: {expression: "6*7"}
        reply: "The calculator was approved and returned {{tool_result}}."
        rejected_reply: "The calculator call was rejected. Note: {{note}}"
agents:
  - id: assistant
    model: echo
  - id: slowpoke
    model: slow
  - id: approver
    model: approval
    tools:
      - name: calculator
        requires_confirmation: true
slack:
  update_interval: 200ms
  apps:
    - name: approvals
      agent: approver
    - name: slow
      agent: slowpoke
`

const (
	slackSecret          = "e2e-main-signing-secret"
	slackApprovalsSecret = "e2e-approvals-signing-secret"
	slackSlowSecret      = "e2e-slow-signing-secret"
)

var slackTS atomic.Int64

// newSlackTS returns a fresh Slack message timestamp.
func newSlackTS() string {
	n := slackTS.Add(1)
	return fmt.Sprintf("1800001%03d.%06d", n, n)
}

// startSlackGateway starts a fake Slack and a gateway whose Slack apps
// point at it: the default app (AGENTGATE_SLACK_*: assistant), and the
// apps "approvals" and "slow" of the config, secrets from the environment.
func startSlackGateway(t *testing.T, extra ...string) (*gateway, *fakeslack.Server) {
	t.Helper()
	fake := fakeslack.New()
	t.Cleanup(fake.Close)
	g := launch(t, slackConfig, func(dir string) []string {
		return append([]string{
			"AGENTGATE_DATABASE_URL=sqlite://" + filepath.Join(dir, "state.db"),
			"AGENTGATE_SLACK_SIGNING_SECRET=" + slackSecret,
			"AGENTGATE_SLACK_BOT_TOKEN=xoxb-e2e-main",
			"AGENTGATE_SLACK_API_URL=" + fake.URL(),
			"AGENTGATE_SLACK_APPS_APPROVALS_SIGNING_SECRET=" + slackApprovalsSecret,
			"AGENTGATE_SLACK_APPS_APPROVALS_BOT_TOKEN=xoxb-e2e-approvals",
			"AGENTGATE_SLACK_APPS_SLOW_SIGNING_SECRET=" + slackSlowSecret,
			"AGENTGATE_SLACK_APPS_SLOW_BOT_TOKEN=xoxb-e2e-slow",
		}, extra...)
	}, nil)
	return g, fake
}

// slackPost sends body to path signed with secret at time at; it returns
// the status, the body and how long the answer took.
func slackPost(t *testing.T, g *gateway, path, secret string, at time.Time, body []byte, header map[string]string) (int, string, time.Duration) {
	t.Helper()
	ct := "application/json"
	if path == "/slack/interactions" {
		ct = "application/x-www-form-urlencoded"
	}
	req, err := fakeslack.Request(g.URL+path, secret, at.Unix(), ct, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), time.Since(start)
}

func slackEvent(t *testing.T, g *gateway, secret string, body []byte, header map[string]string) time.Duration {
	t.Helper()
	st, b, d := slackPost(t, g, "/slack/events", secret, time.Now(), body, header)
	if st != http.StatusOK {
		t.Fatalf("POST /slack/events: %d %s", st, b)
	}
	return d
}

// waitSlack waits until the thread's messages satisfy cond.
func waitSlack(t *testing.T, fake *fakeslack.Server, channel, threadTS, what string, cond func([]fakeslack.Message) bool) []fakeslack.Message {
	t.Helper()
	var msgs []fakeslack.Message
	if !fake.Wait(20*time.Second, func() bool {
		msgs = fake.Messages(channel, threadTS)
		return cond(msgs)
	}) {
		var b strings.Builder
		for _, m := range msgs {
			fmt.Fprintf(&b, "\n  ts=%s thread=%s stream=%v stopped=%v text=%q", m.TS, m.ThreadTS, m.Stream, m.Stopped, m.Text)
		}
		t.Fatalf("thread %s/%s: %s did not happen; messages:%s", channel, threadTS, what, b.String())
	}
	return msgs
}

func hasText(want string) func([]fakeslack.Message) bool {
	return func(ms []fakeslack.Message) bool {
		for _, m := range ms {
			if strings.Contains(m.Text, want) {
				return true
			}
		}
		return false
	}
}

// sessionRuns lists a session's runs over REST.
func sessionRuns(t *testing.T, g *gateway, agent, session string) []map[string]any {
	t.Helper()
	ctx := testCtx(t, 10*time.Second)
	b := expectStatus(t, g.get(t, ctx, "/agents/"+agent+"/runs?session_id="+url.QueryEscape(session)), http.StatusOK)
	var runs []map[string]any
	decode(t, b, &runs)
	return runs
}

func TestSlackEventsAPI(t *testing.T) {
	g, fake := startSlackGateway(t)
	const want = "Slack says hello gateway and the gateway streams this answer back in ten small pieces"

	t.Run("signed mention gets a threaded streamed reply", func(t *testing.T) {
		ts := newSlackTS()
		slackEvent(t, g, slackSecret, fakeslack.Mention("EvE2E1", "C100", "U100", ts, "", "hello gateway"), nil)
		msgs := waitSlack(t, fake, "C100", ts, "the full reply", func(ms []fakeslack.Message) bool {
			return len(ms) == 1 && ms[0].Text == want
		})
		if msgs[0].Edits < 2 {
			t.Errorf("the reply should be streamed in several edits, got %d", msgs[0].Edits)
		}
		posts := fake.Calls("chat.postMessage")
		if len(posts) == 0 || posts[0].Values.Get("thread_ts") != ts || posts[0].Values.Get("channel") != "C100" {
			t.Fatalf("the placeholder should go into the mention's thread: %+v", posts)
		}
		var last time.Time
		for _, c := range fake.Calls("chat.update") {
			if c.Values.Get("ts") != msgs[0].TS {
				continue
			}
			if !last.IsZero() && c.At.Sub(last) < 200*time.Millisecond {
				t.Errorf("two edits %v apart; update_interval is 200ms", c.At.Sub(last))
			}
			last = c.At
		}
		runs := sessionRuns(t, g, "assistant", "assistant:C100:"+ts)
		if len(runs) != 1 || runs[0]["user_id"] != "U100" || runs[0]["status"] != "COMPLETED" {
			t.Fatalf("the thread's session should hold one completed run of U100: %v", runs)
		}
	})

	t.Run("url_verification", func(t *testing.T) {
		st, b, _ := slackPost(t, g, "/slack/events", slackSecret, time.Now(),
			[]byte(`{"token":"x","challenge":"e2e-challenge-42","type":"url_verification"}`), nil)
		if st != http.StatusOK || b != "e2e-challenge-42" {
			t.Fatalf("url_verification: %d %q", st, b)
		}
	})

	t.Run("bad signature and stale timestamp are 401", func(t *testing.T) {
		body := fakeslack.Mention("EvE2EBad", "C101", "U100", newSlackTS(), "", "let me in")
		for name, tc := range map[string]struct {
			secret string
			at     time.Time
		}{
			"bad signature":   {"not-the-secret", time.Now()},
			"stale timestamp": {slackSecret, time.Now().Add(-10 * time.Minute)},
		} {
			for _, path := range []string{"/slack/events", "/slack/interactions"} {
				st, b, _ := slackPost(t, g, path, tc.secret, tc.at, body, nil)
				if st != http.StatusUnauthorized {
					t.Errorf("%s on %s: %d %s, want 401", name, path, st, b)
				}
			}
		}
		if msgs := fake.Messages("C101", ""); len(msgs) != 0 {
			t.Errorf("a refused event was answered: %d messages", len(msgs))
		}
	})

	t.Run("duplicate event_id is delivered once", func(t *testing.T) {
		ts := newSlackTS()
		body := fakeslack.Mention("EvE2EDup", "C102", "U100", ts, "", "hello gateway")
		slackEvent(t, g, slackSecret, body, nil)
		for i := 1; i <= 3; i++ {
			slackEvent(t, g, slackSecret, body, map[string]string{"X-Slack-Retry-Num": fmt.Sprint(i), "X-Slack-Retry-Reason": "http_timeout"})
		}
		waitSlack(t, fake, "C102", ts, "the reply", hasText(want))
		time.Sleep(300 * time.Millisecond) // a second run would have posted its placeholder by now
		if msgs := fake.Messages("C102", ""); len(msgs) != 1 {
			t.Errorf("%d replies for one event delivered four times", len(msgs))
		}
		if runs := sessionRuns(t, g, "assistant", "assistant:C102:"+ts); len(runs) != 1 {
			t.Errorf("%d runs for one event delivered four times", len(runs))
		}
	})

	t.Run("ack within 3s while a slow model runs", func(t *testing.T) {
		ts := newSlackTS()
		took := slackEvent(t, g, slackSlowSecret, fakeslack.Mention("EvE2ESlow", "C103", "U100", ts, "", "no rush"), nil)
		if took >= 3*time.Second {
			t.Fatalf("the ack took %v; Slack's limit is 3s", took)
		}
		t.Logf("ack in %v; the model takes about 4s", took)
		// The run starts in the background, after the ack.
		waitSlack(t, fake, "C103", ts, "the placeholder", hasText("Thinking"))
		runs := sessionRuns(t, g, "slowpoke", "slowpoke:C103:"+ts)
		if len(runs) != 1 || runs[0]["status"] != "RUNNING" {
			t.Errorf("the run should still be running after the ack: %v", runs)
		}
		waitSlack(t, fake, "C103", ts, "the slow reply", hasText("slow and steady wins the race"))
		for _, c := range fake.Calls("chat.postMessage") {
			if c.Values.Get("channel") == "C103" && !strings.Contains(c.Values.Get("token"), "xoxb-e2e-slow") {
				t.Errorf("the slow app's reply used token %q", c.Values.Get("token"))
			}
		}
	})

	t.Run("approval button continues a paused run", func(t *testing.T) {
		ts := newSlackTS()
		slackEvent(t, g, slackApprovalsSecret, fakeslack.Mention("EvE2EAppr", "C104", "U104", ts, "", "compute 6*7"), nil)
		msgs := waitSlack(t, fake, "C104", ts, "the approval buttons", func(ms []fakeslack.Message) bool {
			return len(ms) == 1 && strings.Contains(ms[0].Blocks, "agentgate_approve")
		})
		runs := sessionRuns(t, g, "approver", "approver:C104:"+ts)
		if len(runs) != 1 || runs[0]["status"] != "PAUSED" {
			t.Fatalf("want one paused run: %v", runs)
		}
		payload, err := fakeslack.ButtonClick(msgs[0], "agentgate_approve", "U104")
		if err != nil {
			t.Fatal(err)
		}
		// A click signed by another app is refused.
		if st, _, _ := slackPost(t, g, "/slack/interactions", "forged", time.Now(), fakeslack.InteractionForm(payload), nil); st != http.StatusUnauthorized {
			t.Errorf("a forged click: %d, want 401", st)
		}
		st, b, took := slackPost(t, g, "/slack/interactions", slackApprovalsSecret, time.Now(), fakeslack.InteractionForm(payload), nil)
		if st != http.StatusOK || took >= 3*time.Second {
			t.Fatalf("the click: %d %s in %v", st, b, took)
		}
		waitSlack(t, fake, "C104", ts, "the rest of the run", hasText("The calculator was approved and returned 42."))
		msgs = waitSlack(t, fake, "C104", ts, "the decision in place of the buttons", hasText("approved by <@U104>"))
		if strings.Contains(msgs[0].Blocks, "agentgate_approve") {
			t.Errorf("the buttons should be gone: %s", msgs[0].Blocks)
		}
		runs = sessionRuns(t, g, "approver", "approver:C104:"+ts)
		if len(runs) != 1 || runs[0]["status"] != "COMPLETED" {
			t.Errorf("the run should be completed: %v", runs)
		}
	})
}

// With AGENTGATE_SLACK_STREAMING=true the reply is Slack's native stream.
func TestSlackNativeStreaming(t *testing.T) {
	g, fake := startSlackGateway(t, "AGENTGATE_SLACK_STREAMING=true")
	ts := newSlackTS()
	slackEvent(t, g, slackSecret, fakeslack.Mention("EvE2EStream", "C200", "U200", ts, "", "stream it"), nil)
	msgs := waitSlack(t, fake, "C200", ts, "a stopped stream", func(ms []fakeslack.Message) bool {
		return len(ms) == 1 && ms[0].Stopped
	})
	if m := msgs[0]; !m.Stream || m.Recipient != "U200" ||
		m.Text != "Slack says stream it and the gateway streams this answer back in ten small pieces" {
		t.Fatalf("stream: %+v", m)
	}
	if n := len(fake.Calls("chat.appendStream")); n < 1 {
		t.Errorf("%d chat.appendStream calls; the reply should be appended as it streams", n)
	}
	if n := len(fake.Calls("chat.update")); n != 0 {
		t.Errorf("%d chat.update calls in streaming mode", n)
	}
}

// A half-configured Slack app stops the gateway with a clear error.
func TestSlackMisconfigured(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(binPath, "serve", "--addr", "127.0.0.1:0")
	cmd.Dir = dir
	cmd.Env = cleanEnv("AGENTGATE_DATABASE_URL=sqlite://"+filepath.Join(dir, "state.db"), "AGENTGATE_SLACK_BOT_TOKEN=xoxb-only")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(out.String(), "signing secret") {
			t.Fatalf("want a failed start naming the signing secret; err %v, output:\n%s", err, out.String())
		}
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("the gateway started with a bot token and no signing secret:\n%s", out.String())
	}
}

// With auth on, the Slack routes stay public (Slack cannot send a bearer
// token; the signature is the authentication) and the rest still needs
// credentials.
func TestSlackWithAuthKey(t *testing.T) {
	g, fake := startSlackGateway(t, "AGENTGATE_AUTH_MODE=key", "AGENTGATE_SECURITY_KEY=e2e-security-key-0123456789")
	ts := newSlackTS()
	slackEvent(t, g, slackSecret, fakeslack.Mention("EvE2EKey", "C300", "U300", ts, "", "hello gateway"), nil)
	waitSlack(t, fake, "C300", ts, "the reply", hasText("Slack says hello gateway"))
	if st, _, _ := slackPost(t, g, "/slack/events", "wrong", time.Now(), fakeslack.Mention("EvE2EKey2", "C300", "U300", newSlackTS(), "", "x"), nil); st != http.StatusUnauthorized {
		t.Errorf("a bad signature with auth on: %d, want 401", st)
	}
	ctx := testCtx(t, 10*time.Second)
	expectStatus(t, g.get(t, ctx, "/agents/assistant/runs?session_id=assistant:C300:"+ts), http.StatusUnauthorized)
}

// Socket Mode (no public URL): the gateway opens apps.connections.open with
// the app token, dials the WebSocket it returns, acknowledges an
// events_api envelope and answers the mention in the thread.
func TestSlackSocketMode(t *testing.T) {
	g, fake := startSlackGateway(t, "AGENTGATE_SLACK_SOCKET_MODE=true", "AGENTGATE_SLACK_APP_TOKEN=xapp-e2e")
	conn, ok := fake.WaitSocket(15 * time.Second)
	if !ok {
		t.Fatalf("the gateway did not connect over Socket Mode:\n%s", tail(g.Logs(), 4000))
	}
	ts := newSlackTS()
	id, err := fake.SendEnvelope(conn, "events_api", fakeslack.Mention("EvE2ESock", "C400", "U400", ts, "", "over the socket"))
	if err != nil {
		t.Fatal(err)
	}
	if !fake.Wait(5*time.Second, func() bool { return fake.Acked(id) }) {
		t.Fatal("the envelope was not acknowledged")
	}
	waitSlack(t, fake, "C400", ts, "the reply", hasText("Slack says over the socket"))
	if calls := fake.Calls("apps.connections.open"); len(calls) == 0 || !strings.Contains(calls[0].Values.Get("token"), "xapp-e2e") {
		t.Errorf("apps.connections.open should use the app token: %+v", calls)
	}
}
