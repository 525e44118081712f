package slack

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/adapters/slack/fakeslack"
	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/internal/testutil/runnabletest"
)

// An app bound to a team answers with the team's content (not its
// members'); a member's pause shows the approval buttons, and a click
// continues the team. An app bound to a workflow answers with its output.
func TestAppBoundToTeamAndWorkflow(t *testing.T) {
	hs := newHarness(t, "", func(c *Config) {
		c.Apps[0].TeamID = "crew"
		c.Apps = append(c.Apps, App{Name: "flow", WorkflowID: "pipeline", SigningSecret: flowSecret, BotToken: "xoxb-flow", APIURL: c.Apps[0].APIURL})
	})
	for _, r := range []core.Runnable{&runnabletest.Team{ID: "crew", Members: []string{"echo", "approver"}},
		&runnabletest.Workflow{ID: "pipeline", Steps: []string{"echo"}}} {
		if err := hs.eng.RegisterRunnable(r); err != nil {
			t.Fatal(err)
		}
	}
	ts := hs.ts()
	hs.event(fakeslack.Mention("EvT", "C1", "U1", ts, "", "compute 6*7"), nil)
	msgs := hs.waitThread("C1", ts, "the approval buttons", func(ms []fakeslack.Message) bool {
		for _, m := range ms {
			if strings.Contains(m.Blocks, ActionApprove) {
				return true
			}
		}
		return false
	})
	hs.drain()
	runs := hs.runsOf("team:crew:C1:" + ts)
	var team *core.Run
	for _, r := range runs {
		if r.TeamID == "crew" && r.ParentRunID == "" {
			team = r
		}
	}
	if team == nil || team.Status != core.RunPaused {
		t.Fatalf("want the paused team's run in the thread's session: %+v", runs)
	}
	var approval fakeslack.Message
	for _, m := range msgs {
		if strings.Contains(m.Blocks, ActionApprove) {
			approval = m
		}
	}
	if !strings.Contains(approval.Blocks, "calculator") {
		t.Errorf("the approval should name the member's tool: %s", approval.Blocks)
	}
	hs.click(approval, ActionApprove, "U1")
	hs.waitText("C1", ts, "approver: The calculator was approved and returned 42.")
	hs.drain()
	hs.waitRun(team.RunID, core.RunCompleted)
	for _, m := range hs.fake.Messages("C1", ts) {
		if m.Text == reply20 {
			t.Errorf("a member's own answer was posted as a reply: %s", dump(hs.fake.Messages("C1", ts)))
		}
	}

	// The workflow's app (told apart by its signing secret).
	ts2 := hs.ts()
	if st, b, _ := hs.post("/slack/events", flowSecret, time.Now(), "application/json", fakeslack.Mention("EvW", "C2", "U1", ts2, "", "hello"), nil); st != http.StatusOK {
		t.Fatalf("POST /slack/events: %d %s", st, b)
	}
	hs.waitText("C2", ts2, reply20)
	hs.drain()
	if runs := hs.runsOf("workflow:pipeline:C2:" + ts2); len(runs) == 0 || runs[0].WorkflowID != "pipeline" {
		t.Fatalf("workflow runs = %+v", runs)
	}
}

const flowSecret = "0123456789abcdef0123456789abcdef"

func TestSlackBindingValidation(t *testing.T) {
	lookup := func(string) (string, bool) { return "", false }
	for _, c := range []struct {
		s    Settings
		want string // "" valid
	}{
		{Settings{SigningSecret: "s", BotToken: "b", Team: "crew"}, ""},
		{Settings{SigningSecret: "s", BotToken: "b", Agent: "a", Workflow: "w"}, "more than one"},
		{Settings{Apps: []AppSettings{{Name: "x", Workflow: "w", SigningSecret: "s", BotToken: "b"}}}, ""},
		{Settings{Apps: []AppSettings{{Name: "x", Team: "t", Agent: "a", SigningSecret: "s", BotToken: "b"}}}, "more than one"},
		{Settings{Apps: []AppSettings{{Name: "x", SigningSecret: "s", BotToken: "b"}}}, "agent is required"},
	} {
		err := c.s.Validate(lookup)
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%+v: %v, want %q", c.s, err, c.want)
		}
	}
	apps, err := Settings{Apps: []AppSettings{{Team: "crew", SigningSecret: "s", BotToken: "b"}}}.ResolveApps(func(string) (string, bool) { return "", false })
	if err != nil || len(apps) != 1 || apps[0].Name != "crew" || apps[0].Runnable() != (core.Ref{Kind: core.KindTeam, ID: "crew"}) {
		t.Fatalf("apps = %+v, %v", apps, err)
	}
}
