package e2e

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate"
	"github.com/agentgate/agentgate/internal/testutil/runnabletest"
)

// Real clients against teams and workflows, in process: until the real
// team and workflow runnables are configurable, the gateway is embedded
// (agentgate.New, as examples/embed does) with the model-free runnables of
// internal/testutil/runnabletest registered on it (team crew: echo then
// approver, which pauses; workflows pipeline and gated), served on a
// loopback port. The node scripts are the real clients: the `ws` package
// over /ws and /workflows/ws, the MCP TypeScript SDK calling run_team, and
// @a2a-js/sdk against /a2a/teams/crew and /a2a/workflows/pipeline in both
// protocol generations.

// embeddedRunnables starts an embedded gateway with runnabletest.All().
func embeddedRunnables(t *testing.T) string {
	t.Helper()
	cfg, err := agentgate.ParseConfig([]byte("models: {m: {provider: scripted}}\nagents: [{id: assistant, model: m}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.DatabaseURL = "sqlite://" + filepath.Join(t.TempDir(), "state.db")
	g, err := agentgate.New(t.Context(), cfg, agentgate.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range runnabletest.All() {
		if err := g.RegisterAgent(r); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = g.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = g.Shutdown(ctx)
	})
	return "http://" + ln.Addr().String()
}

// runNode runs a script of e2e/node with env and returns its summary line.
func runNode(t *testing.T, script string, env ...string) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not installed (Node 20+ is needed for the real-client test): %v", err)
	}
	for _, pkg := range []string{"ws", "@a2a-js/sdk", "@modelcontextprotocol/sdk"} {
		if _, err := os.Stat(filepath.Join("node", "node_modules", pkg, "package.json")); err != nil {
			t.Fatalf("e2e/node/node_modules is missing %s: run `npm ci` in e2e/node (make node-deps): %v", pkg, err)
		}
	}
	ctx := testCtx(t, 45*time.Second)
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Dir = "node"
	cmd.Env = cleanEnv(append(env, "TIMEOUT_MS=30000")...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node %s: %v\nstdout:\n%s\nstderr:\n%s", script, err, stdout.String(), stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	return lines[len(lines)-1]
}

func TestRunnablesNodeClients(t *testing.T) {
	t.Parallel()
	base := embeddedRunnables(t)
	wsBase := "ws" + strings.TrimPrefix(base, "http")

	t.Run("ws", func(t *testing.T) {
		var sum struct {
			WSWorkflow struct {
				Events  []string `json:"events"`
				Content string   `json:"content"`
			} `json:"ws_workflow"`
			WSTeam struct {
				Content string `json:"content"`
			} `json:"ws_team"`
			AgnoStart struct {
				Events  int    `json:"events"`
				Content string `json:"content"`
			} `json:"agno_start"`
			AgnoReplay struct {
				Status string `json:"status"`
				Events int    `json:"events"`
				Last   string `json:"last"`
			} `json:"agno_replay"`
			AgnoContinue struct {
				Content string `json:"content"`
			} `json:"agno_continue"`
		}
		line := runNode(t, "ws_runnables.mjs", "AGENTGATE_WS_URL="+wsBase+"/ws", "AGENTGATE_AGNO_WS_URL="+wsBase+"/workflows/ws")
		decode(t, []byte(line), &sum)
		t.Logf("ws: %s", line)
		if sum.WSWorkflow.Content != "echo: echo: hi" || sum.WSTeam.Content != "echo: echo: go\napprover: approved" {
			t.Errorf("/ws answers: %+v", sum)
		}
		if sum.AgnoStart.Content != "echo: echo: agno" || sum.AgnoReplay.Status != "completed" ||
			sum.AgnoReplay.Events != sum.AgnoStart.Events-2 || sum.AgnoReplay.Last != "WorkflowCompleted" {
			t.Errorf("/workflows/ws: %+v", sum)
		}
		if sum.AgnoContinue.Content != "approved" {
			t.Errorf("continue-workflow: %+v", sum.AgnoContinue)
		}
	})

	t.Run("mcp", func(t *testing.T) {
		var sum struct {
			Team struct {
				Pending int    `json:"pending"`
				Content string `json:"content"`
			} `json:"team"`
			Workflow struct {
				WorkflowID string `json:"workflow_id"`
				Content    string `json:"content"`
			} `json:"workflow"`
		}
		line := runNode(t, "mcp_team.mjs", "AGENTGATE_URL="+base)
		decode(t, []byte(line), &sum)
		t.Logf("mcp: %s", line)
		if sum.Team.Pending != 1 || sum.Team.Content != "echo: echo: go\napprover: approved" ||
			sum.Workflow.WorkflowID != "pipeline" || sum.Workflow.Content != "echo: echo: flow" {
			t.Errorf("mcp: %+v", sum)
		}
	})

	for _, mode := range []string{"v1", "v03"} {
		t.Run("a2a-"+mode, func(t *testing.T) {
			var sum struct {
				TeamCard     string `json:"team_card"`
				WorkflowCard string `json:"workflow_card"`
				Team         struct {
					Member  string `json:"member"`
					Content string `json:"content"`
				} `json:"team"`
				Workflow struct {
					Content string `json:"content"`
				} `json:"workflow"`
			}
			line := runNode(t, "a2a_runnables.mjs", "AGENTGATE_URL="+base, "A2A_MODE="+mode)
			decode(t, []byte(line), &sum)
			t.Logf("a2a %s: %s", mode, line)
			if sum.TeamCard != "Team crew" || sum.WorkflowCard != "Workflow pipeline" || sum.Team.Member != "approver" ||
				sum.Workflow.Content != "echo: echo: flow" {
				t.Errorf("a2a %s: %+v", mode, sum)
			}
		})
	}
}
