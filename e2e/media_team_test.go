package e2e

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core/media/mediatest"
)

// Media of a team run reach the leader's model and the member it
// delegates to; media of a workflow run reach every step's agent or team
// (and that team's members); each child run's stored input lists them.

const teamMediaConfig = `media:
  max_file_bytes: 100000
models:
  lead:
    provider: scripted
    model: lead-1
    script:
      - tool_calls:
          - name: delegate_task_to_member
            arguments: {member_id: looker, task: "describe the picture"}
        reply: "leader saw [{{media}}] member said [{{tool_result}}]"
  eye:
    provider: scripted
    model: eye-1
    script:
      - reply: "looker saw [{{media}}]"
  eye2:
    provider: scripted
    model: eye-2
    script:
      - reply: "checker saw [{{media}}]"
agents:
  - id: looker
    model: eye
  - id: checker
    model: eye2
teams:
  - id: crew
    model: lead
    mode: coordinate
    members: [looker]
workflows:
  - id: flow
    steps:
      - {name: look, agent: looker}
      - {name: check, agent: checker}
      - {name: crew, team: crew}
`

// sessionRun is a run of GET /sessions/{id}/runs as this test reads it.
type sessionRun struct {
	RunID       string `json:"run_id"`
	ParentRunID string `json:"parent_run_id"`
	AgentID     string `json:"agent_id"`
	TeamID      string `json:"team_id"`
	Content     string `json:"content"`
	Input       struct {
		Images []map[string]any `json:"images"`
	} `json:"input"`
}

func TestTeamAndWorkflowMedia(t *testing.T) {
	t.Parallel()
	g := startGateway(t, teamMediaConfig)
	ctx := testCtx(t, 60*time.Second)
	png := mediatest.PNG(4, 3)
	seen := fmt.Sprintf("image/png dot.png %d bytes sha256:%s", len(png), sha(png))
	post := func(path string) (rootID, sessionID, content string) {
		t.Helper()
		body := runForm(t, map[string]string{"message": "what is in it?", "stream": "false"}, mediaFile{"dot.png", "image/png", png})
		b := want(t, g, "", http.MethodPost, path, body, http.StatusOK)
		var r struct {
			RunID     string `json:"run_id"`
			SessionID string `json:"session_id"`
			Status    string `json:"status"`
			Content   string `json:"content"`
		}
		decode(t, b, &r)
		if r.Status != "COMPLETED" {
			t.Fatalf("%s: %s", path, b)
		}
		return r.RunID, r.SessionID, r.Content
	}
	// children lists the session's runs descending from root, by
	// agent or team id, checking each one's stored input lists the image.
	children := func(sessionID, root string) map[string]sessionRun {
		t.Helper()
		var runs []sessionRun
		decode(t, expectStatus(t, g.get(t, ctx, "/sessions/"+sessionID+"/runs"), http.StatusOK), &runs)
		parents := map[string]bool{root: true}
		out := map[string]sessionRun{}
		for range runs { // parents before children, whatever the order
			for _, r := range runs {
				if !parents[r.ParentRunID] || parents[r.RunID] {
					continue
				}
				parents[r.RunID] = true
				id := r.AgentID
				if r.TeamID != "" && r.AgentID == "" {
					id = r.TeamID
				}
				if len(r.Input.Images) != 1 || r.Input.Images[0]["id"] != sha(png) || r.Input.Images[0]["name"] != "dot.png" {
					t.Errorf("child run %s (%s): stored input images %v, want dot.png", r.RunID, id, r.Input.Images)
				}
				out[id] = r
			}
		}
		return out
	}

	// A team: the leader's request and the member's both carry the image.
	teamRun, sid, content := post("/teams/crew/runs")
	if want := "leader saw [" + seen + "] member said [looker saw [" + seen + "]]"; content != want {
		t.Fatalf("team content:\n got %q\nwant %q", content, want)
	}
	if kids := children(sid, teamRun); len(kids) != 1 || kids["looker"].RunID == "" {
		t.Fatalf("team's child runs: %+v", kids)
	}

	// A workflow: both agent steps see it, and so do the team step's
	// leader and member (two levels down).
	flowRun, sid, content := post("/workflows/flow/runs")
	if want := "leader saw [" + seen + "] member said [looker saw [" + seen + "]]"; content != want {
		t.Fatalf("workflow content (the team step's):\n got %q\nwant %q", content, want)
	}
	kids := children(sid, flowRun)
	if len(kids) != 3 {
		t.Fatalf("workflow's descendant runs: %+v", kids)
	}
	if c := kids["checker"].Content; c != "checker saw ["+seen+"]" {
		t.Errorf("the second step's agent: %q", c)
	}
	if _, ok := kids["crew"]; !ok {
		t.Errorf("no team step run among %v", kids)
	}
	// looker ran twice (its step and as crew's member); both saw it.
	var lookers int
	var runs []sessionRun
	decode(t, expectStatus(t, g.get(t, ctx, "/sessions/"+sid+"/runs"), http.StatusOK), &runs)
	for _, r := range runs {
		if r.AgentID == "looker" {
			lookers++
			if r.Content != "looker saw ["+seen+"]" {
				t.Errorf("looker run %s: %q", r.RunID, r.Content)
			}
		}
	}
	if lookers != 2 {
		t.Errorf("%d looker runs in the workflow's session, want 2", lookers)
	}
}
