package slack

import (
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/adapters/slack/fakeslack"
	"github.com/agentgate/agentgate/core"
)

// Socket Mode: an app with an app token and no signing secret connects
// (apps.connections.open + WebSocket); an events_api envelope is
// acknowledged and answered in the thread, and an interactive envelope (a
// button click) continues the paused run.
func TestSocketModeMentionAndApproval(t *testing.T) {
	hs := newHarness(t, "approver", func(c *Config) {
		c.SocketMode = true
		c.Apps[0].SigningSecret = ""
		c.Apps[0].AppToken = "xapp-test"
	})
	if hs.h.HasHTTPApps() {
		t.Error("a Socket Mode-only app must not be reachable over HTTP")
	}
	conn, ok := hs.fake.WaitSocket(10 * time.Second)
	if !ok {
		t.Fatal("the adapter did not open a Socket Mode connection")
	}
	if calls := hs.fake.Calls("apps.connections.open"); len(calls) == 0 || !strings.Contains(calls[0].Values.Get("token"), "xapp-test") {
		t.Errorf("apps.connections.open should use the app token: %+v", calls)
	}
	ts := hs.ts()
	id, err := hs.fake.SendEnvelope(conn, "events_api", fakeslack.Mention("EvSock", "C1", "U1", ts, "", "compute 6*7"))
	if err != nil {
		t.Fatal(err)
	}
	if !hs.fake.Wait(5*time.Second, func() bool { return hs.fake.Acked(id) }) {
		t.Fatal("the events_api envelope was not acknowledged")
	}
	msgs := hs.waitThread("C1", ts, "the approval buttons", func(ms []fakeslack.Message) bool {
		return len(ms) == 1 && strings.Contains(ms[0].Blocks, ActionApprove)
	})
	runs := hs.runsOf("approver:C1:" + ts)
	if len(runs) != 1 {
		t.Fatalf("%d runs", len(runs))
	}
	hs.waitRun(runs[0].RunID, core.RunPaused)
	// A redelivery of the same event (Slack's retry_attempt) is acked and dropped.
	id2, err := hs.fake.SendEnvelope(conn, "events_api", fakeslack.Mention("EvSock", "C1", "U1", ts, "", "compute 6*7"))
	if err != nil {
		t.Fatal(err)
	}
	payload, err := fakeslack.ButtonClick(msgs[0], ActionApprove, "U1")
	if err != nil {
		t.Fatal(err)
	}
	id3, err := hs.fake.SendEnvelope(conn, "interactive", payload)
	if err != nil {
		t.Fatal(err)
	}
	if !hs.fake.Wait(5*time.Second, func() bool { return hs.fake.Acked(id2) && hs.fake.Acked(id3) }) {
		t.Fatal("the envelopes were not acknowledged")
	}
	hs.waitText("C1", ts, "approved and returned 42")
	hs.waitRun(runs[0].RunID, core.RunCompleted)
	if n := len(hs.runsOf("approver:C1:" + ts)); n != 1 {
		t.Errorf("%d runs after a redelivered event, want 1", n)
	}
}
