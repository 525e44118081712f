package e2e

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/adapters/rest"
	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/agent"
	"github.com/agentgate/agentgate/core/model/scripted"
	"github.com/agentgate/agentgate/internal/testutil/enginetest"
	"github.com/agentgate/agentgate/storage/memlog"
	"github.com/agentgate/agentgate/storage/postgres"
	"github.com/agentgate/agentgate/storage/postgres/pgtest"
	"github.com/agentgate/agentgate/transport/httptransport"
)

// The AgentOS contract of the team and workflow routes. The gateway's
// configuration has no workflows in this build (core/workflow brings
// them), so these routes are checked in process: the REST adapter over an
// engine with two scripted agents, a team that runs them in turn and a
// workflow that runs one as its step (x.RunChild), on the same shapes as
// the rest of the contract. Configured teams (core/team) are checked on
// the binary too (TestAgentOSContractConfiguredTeam).

// libs/agno/agno/os/routers/teams/schema.py TeamResponse (db_id: UI).
var teamShape = &shape{Name: "TeamResponse", Source: "os/routers/teams/schema.py", Fields: []field{
	opt("id", "string|null"), opt("name", "string|null"), req("db_id", "string"), opt("description", "string|null"),
	opt("model", "object|null").of(modelShape), opt("tools", "object|null"), opt("sessions", "object|null"),
	opt("knowledge", "object|null"), opt("memory", "object|null"), opt("reasoning", "object|null"),
	opt("default_tools", "object|null"), opt("system_message", "object|null"), opt("response_settings", "object|null"),
	opt("introduction", "string|null"), opt("streaming", "object|null"),
	opt("members", "array|null").of(agentShape), // members that are agents here
	opt("metadata", "object|null"), opt("input_schema", "object|null"),
}}

// libs/agno/agno/os/routers/workflows/schema.py WorkflowResponse (db_id: UI).
var workflowShape = &shape{Name: "WorkflowResponse", Source: "os/routers/workflows/schema.py", Fields: []field{
	opt("id", "string|null"), opt("name", "string|null"), req("db_id", "string"), opt("description", "string|null"),
	opt("input_schema", "object|null"), opt("steps", "array|null").of(&shape{Name: "step dict", Source: "workflow/workflow.py (to_dict)",
		Fields: []field{opt("name", "string|null"), opt("agent", "object").of(agentShape), opt("team", "object").of(teamShape)}}),
	opt("agent", "object|null").of(agentShape), opt("team", "object|null").of(teamShape),
	opt("metadata", "object|null"), opt("workflow_agent", "boolean"),
}}

// libs/agno/agno/run/team.py TeamRunOutput (from_dict).
var teamRunOutputShape = &shape{Name: "TeamRunOutput", Source: "run/team.py", Fields: []field{
	opt("run_id", "string|null"), opt("team_id", "string|null"), opt("team_name", "string|null"),
	opt("session_id", "string|null"), opt("parent_run_id", "string|null"), opt("user_id", "string|null"),
	opt("input", "object|null").of(&shape{Name: "TeamRunInput", Source: "run/team.py", Fields: []field{opt("input_content", "string|array|object|null")}}),
	opt("content", "string|array|object|number|boolean|null"), opt("content_type", "string"),
	opt("messages", "array|null").of(messageShape), opt("metrics", "object|null"),
	opt("model", "string|null"), opt("model_provider", "string|null"),
	opt("member_responses", "array"), opt("tools", "array|null").of(toolShape),
	opt("requirements", "array|null").of(&shape{Name: "RunRequirement", Source: "run/requirement.py",
		Fields: []field{opt("id", "string|null"), opt("tool_execution", "object|null").of(toolShape),
			opt("member_agent_id", "string|null"), opt("member_run_id", "string|null")}}),
	opt("session_state", "object|null"), opt("created_at", "integer"), opt("status", "string").enum(runStatuses...),
}}

// libs/agno/agno/run/workflow.py WorkflowRunOutput (from_dict).
var workflowRunOutputShape = &shape{Name: "WorkflowRunOutput", Source: "run/workflow.py", Fields: []field{
	opt("input", "string|object|array|null"), opt("content", "string|array|object|number|boolean|null"),
	opt("content_type", "string"), opt("workflow_id", "string|null"), opt("workflow_name", "string|null"),
	opt("run_id", "string|null"), opt("session_id", "string|null"), opt("user_id", "string|null"),
	opt("parent_run_id", "string|null"), opt("step_results", "array"), opt("step_executor_runs", "array|null"),
	opt("session_state", "object|null"), opt("metrics", "object|null"),
	opt("created_at", "integer"), opt("status", "string").enum(runStatuses...),
}}

// libs/agno/agno/os/schema.py TeamSessionDetailSchema.
var teamSessionDetailShape = &shape{Name: "TeamSessionDetailSchema", Source: "os/schema.py", Fields: []field{
	req("session_id", "string"), req("session_name", "string"), opt("user_id", "string|null"),
	opt("team_id", "string|null"), opt("session_summary", "object|null"), opt("session_state", "object|null"),
	opt("metrics", "object|null"), opt("team_data", "object|null"), opt("metadata", "object|null"),
	opt("chat_history", "array|null").of(messageShape), opt("total_tokens", "integer|null"),
	opt("created_at", datetime+"|null"), opt("updated_at", datetime+"|null"),
}}

// libs/agno/agno/os/schema.py WorkflowSessionDetailSchema.
var workflowSessionDetailShape = &shape{Name: "WorkflowSessionDetailSchema", Source: "os/schema.py", Fields: []field{
	req("session_id", "string"), req("session_name", "string"), opt("user_id", "string|null"),
	opt("workflow_id", "string|null"), opt("workflow_name", "string|null"), opt("session_data", "object|null"),
	opt("session_state", "object|null"), opt("workflow_data", "object|null"), opt("metadata", "object|null"),
	opt("created_at", datetime+"|null"), opt("updated_at", datetime+"|null"),
}}

// agentEventNames are agno's RunEvent values (RUN_EVENT_TYPE_REGISTRY).
var agentEventNames = eventShape.Fields[0].Enum

// teamEventNames are the names team_run_output_event_from_dict accepts
// that agentgate sends: a RunEvent (a member's forwarded event) or the
// TeamRunEvent of one (the team's own).
func teamEventNames() []string {
	out := slices.Clone(agentEventNames)
	for _, n := range agentEventNames {
		if n != "CustomEvent" {
			out = append(out, "Team"+n)
		}
	}
	return out
}

// workflowEventNames add the WorkflowRunEvent values agentgate sends.
func workflowEventNames() []string {
	return append(teamEventNames(), "WorkflowStarted", "WorkflowCompleted", "WorkflowCancelled", "WorkflowError",
		"WorkflowPaused", "StepStarted", "StepCompleted", "StepContinued", "StepPaused", "StepError", "StepOutput")
}

// contractTeam runs its members in turn on the message.
type contractTeam struct{ members []string }

func (c *contractTeam) Info() core.AgentInfo {
	i := core.AgentInfo{ID: "pair", Name: "Pair", Kind: core.KindTeam, Mode: "coordinate"}
	for _, m := range c.members {
		i.Members = append(i.Members, core.AgentInfo{ID: m})
	}
	return i
}

func (c *contractTeam) Execute(ctx context.Context, x *core.Execution) (*core.Outcome, error) {
	var parts []string
	for _, m := range c.members {
		child, err := x.RunChild(ctx, core.ChildParams{ID: m, Message: x.Message})
		if err != nil {
			return nil, err
		}
		parts = append(parts, child.Content)
	}
	return &core.Outcome{Content: strings.Join(parts, "\n"), SessionState: map[string]any{"turns": float64(len(parts))}}, nil
}

// contractFlow is a workflow of one agent step.
type contractFlow struct{}

func (contractFlow) Info() core.AgentInfo {
	return core.AgentInfo{ID: "digest", Name: "Digest", Kind: core.KindWorkflow,
		Steps: []core.StepInfo{{Name: "summarise", StepType: "step", Executor: &core.Ref{Kind: core.KindAgent, ID: "writer"}}}}
}

func (contractFlow) Execute(ctx context.Context, x *core.Execution) (*core.Outcome, error) {
	zero := 0
	if err := x.Emit(ctx, core.Event{Event: core.EventStepStarted, StepName: "summarise", StepIndex: &zero}); err != nil {
		return nil, err
	}
	child, err := x.RunChild(ctx, core.ChildParams{Kind: core.KindAgent, ID: "writer", Message: x.Message, StepName: "summarise", StepIndex: &zero})
	if err != nil {
		return nil, err
	}
	if err := x.Emit(ctx, core.Event{Event: core.EventStepCompleted, StepName: "summarise", StepIndex: &zero, Content: child.Content}); err != nil {
		return nil, err
	}
	results, _ := json.Marshal([]map[string]any{{"step_name": "summarise", "content": child.Content, "success": true}})
	return &core.Outcome{Content: child.Content, StepResults: results}, nil
}

// inProcessGateway serves the REST adapter (no auth) over an engine with
// the contract's team and workflow, on store (nil: a fresh SQLite file).
func inProcessGateway(t *testing.T, store core.RunStore) *gateway {
	t.Helper()
	mk := func(id, reply string) core.Agent {
		a, err := agent.New(agent.Config{ID: id, Name: strings.ToUpper(id[:1]) + id[1:], Model: scripted.New(scripted.Config{Chunks: 3, Rules: []scripted.Rule{{Reply: reply}}})})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	runnables := []core.Agent{mk("reader", "I read it twice"), mk("writer", "Short and clear"),
		&contractTeam{members: []string{"reader", "writer"}}, contractFlow{}}
	var eng *core.Engine
	if store == nil {
		eng = enginetest.New(t, enginetest.Options{}, runnables...).Engine
	} else {
		log := memlog.New(core.EventLogConfig{})
		var err error
		if eng, err = core.NewEngine(core.EngineConfig{Store: store, Log: log}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = eng.Close(ctx)
			_ = log.Close()
		})
		for _, r := range runnables {
			if err := eng.RegisterRunnable(r); err != nil {
				t.Fatal(err)
			}
		}
	}
	srv := httptransport.New(httptransport.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	rest.Register(srv, eng, rest.Config{Databases: []rest.DatabaseInfo{{ID: "default", Kind: "sqlite"}}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return &gateway{t: t, URL: "http://" + ln.Addr().String(), Addr: ln.Addr().String()}
}

// TestAgentOSContractTeamsWorkflows checks the team and workflow routes
// against agno's schemas: descriptions, blocking run outputs, polled runs,
// streamed events (and an exact resume after index N), sessions.
func TestAgentOSContractTeamsWorkflows(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		checkRunnablesContract(t, inProcessGateway(t, nil))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		store, err := postgres.Open(context.Background(), pgtest.URL(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = store.Close() })
		checkRunnablesContract(t, inProcessGateway(t, store))
	})
}

func checkRunnablesContract(t *testing.T, g *gateway) {
	ctx := testCtx(t, 30*time.Second)
	get := func(path string) []byte {
		t.Helper()
		return expectStatus(t, g.get(t, ctx, path), http.StatusOK)
	}
	cfg := conform(t, "GET /config", configShape, get("/config"))
	if tl, _ := cfg["teams"].([]any); len(tl) != 1 {
		t.Errorf("GET /config teams = %v", cfg["teams"])
	}
	for what, list := range map[string]any{"teams": cfg["teams"], "workflows": cfg["workflows"]} {
		for _, s := range list.([]any) {
			if errs := agentSummaryShape.check(s, "GET /config "+what); len(errs) > 0 {
				t.Errorf("%v", errs)
			}
		}
	}
	if info := conform(t, "GET /info", infoShape, get("/info")); info["team_count"] != json.Number("1") || info["workflow_count"] != json.Number("1") {
		t.Errorf("GET /info = %v", info)
	}
	if l := conformList(t, "GET /teams", teamShape, get("/teams")); len(l) != 1 {
		t.Errorf("GET /teams = %v", l)
	}
	team := conform(t, "GET /teams/pair", teamShape, get("/teams/pair"))
	if m, _ := team["members"].([]any); len(m) != 2 {
		t.Errorf("GET /teams/pair members = %v", team["members"])
	}
	if l := conformList(t, "GET /workflows", workflowShape, get("/workflows")); len(l) != 1 {
		t.Errorf("GET /workflows = %v", l)
	}
	conform(t, "GET /workflows/digest", workflowShape, get("/workflows/digest"))

	// Blocking runs: TeamRunOutput, WorkflowRunOutput; polled the same.
	tr := conform(t, "POST /teams/pair/runs (blocking)", teamRunOutputShape,
		expectStatus(t, g.postForm(t, ctx, "/teams/pair/runs", url.Values{"message": {"read this"}, "stream": {"false"}}), http.StatusOK))
	if tr["status"] != "COMPLETED" || tr["team_id"] != "pair" {
		t.Fatalf("team run = %v", tr)
	}
	teamRun, teamSession := tr["run_id"].(string), tr["session_id"].(string)
	conform(t, "GET /teams/pair/runs/{id}", teamRunOutputShape, get("/teams/pair/runs/"+teamRun))
	wr := conform(t, "POST /workflows/digest/runs (blocking)", workflowRunOutputShape,
		expectStatus(t, g.postForm(t, ctx, "/workflows/digest/runs", url.Values{"message": {"digest this"}, "stream": {"false"}}), http.StatusOK))
	if wr["status"] != "COMPLETED" || wr["workflow_id"] != "digest" {
		t.Fatalf("workflow run = %v", wr)
	}
	conform(t, "GET /workflows/digest/runs/{id}", workflowRunOutputShape, get("/workflows/digest/runs/"+wr["run_id"].(string)))
	conform(t, "POST /teams/pair/runs (background)", backgroundShape,
		expectStatus(t, g.postForm(t, ctx, "/teams/pair/runs", url.Values{"message": {"x"}, "stream": {"false"}, "background": {"true"}}), http.StatusAccepted))

	// Sessions of type team and workflow.
	page := conform(t, "GET /sessions?type=team", sessionPageShape, get("/sessions?type=team"))
	if d, _ := page["data"].([]any); len(d) != 2 {
		t.Errorf("GET /sessions?type=team lists %d sessions, want 2", len(d))
	}
	td := conform(t, "GET /sessions/{team session}", teamSessionDetailShape, get("/sessions/"+teamSession))
	if td["team_id"] != "pair" || td["session_name"] != "read this" {
		t.Errorf("team session = %v", td)
	}
	if wd := conform(t, "GET /sessions/{workflow session}", workflowSessionDetailShape, get("/sessions/"+wr["session_id"].(string))); wd["workflow_id"] != "digest" || wd["workflow_name"] != "Digest" {
		t.Errorf("workflow session = %v", wd)
	}
	runs := conformList(t, "GET /sessions/{team session}/runs", runSchemaShape, get("/sessions/"+teamSession+"/runs"))
	children := 0
	for _, r := range runs {
		if r.(map[string]any)["parent_run_id"] == teamRun {
			children++
		}
	}
	if len(runs) != 3 || children != 2 {
		t.Errorf("the team session's runs: %d, %d of them the members' (parent_run_id)", len(runs), children)
	}

	// Streams: every event is one agno decodes; resume after N is exact.
	for _, c := range []struct {
		path  string
		names []string
	}{{"/teams/pair/runs", teamEventNames()}, {"/workflows/digest/runs", workflowEventNames()}} {
		resp := g.postForm(t, ctx, c.path, url.Values{"message": {"stream it"}})
		expectSSE(t, resp)
		frames := readFrames(t, resp.Body)
		resp.Body.Close()
		evs := events(t, frames, 0)
		for _, f := range frames {
			if !slices.Contains(c.names, f.Event) {
				t.Errorf("%s: event %q is not one agno decodes", c.path, f.Event)
			}
			conform(t, c.path+" event "+f.Event, &shape{Name: "event", Source: "run/*.py", Fields: eventShape.Fields[1:]}, []byte(f.Data))
		}
		runID := evs[0].RunID
		for _, n := range []int{0, 1, len(frames) / 2, len(frames) - 2} {
			resp := g.postForm(t, ctx, c.path+"/"+runID+"/resume", url.Values{"last_event_index": {strconv.Itoa(n)}})
			expectSSE(t, resp)
			tail := readFrames(t, resp.Body)
			resp.Body.Close()
			if len(tail) != len(frames)-n-1 {
				t.Fatalf("%s resume after %d: %v, want %v", c.path, n, types(tail), types(frames[n+1:]))
			}
			for i := range tail {
				if tail[i].Raw != frames[n+1+i].Raw {
					t.Errorf("%s resume after %d: frame %d differs:\n%s\nwant\n%s", c.path, n, i, tail[i].Raw, frames[n+1+i].Raw)
				}
			}
		}
	}
}

// TestAgentOSContractConfiguredTeam checks the team routes of the real
// binary on teams from its configuration (core/team, broadcast mode):
// TeamResponse, TeamRunOutput (completed and paused), team sessions, the
// event names agno decodes, an exact resume after index N, and a continue
// with agno's requirements.
func TestAgentOSContractConfiguredTeam(t *testing.T) {
	t.Parallel()
	g := startGateway(t, authAgents)
	ctx := testCtx(t, 40*time.Second)
	get := func(path string) []byte {
		t.Helper()
		return expectStatus(t, g.get(t, ctx, path), http.StatusOK)
	}
	if l := conformList(t, "GET /teams", teamShape, get("/teams")); len(l) != 2 {
		t.Errorf("GET /teams = %v, want matrix-team and matrix-gate", l)
	}
	team := conform(t, "GET /teams/matrix-team", teamShape, get("/teams/matrix-team"))
	if m, _ := team["members"].([]any); len(m) != 1 || m[0].(map[string]any)["id"] != "assistant" {
		t.Errorf("GET /teams/matrix-team members = %v", team["members"])
	}
	cfg := conform(t, "GET /config", configShape, get("/config"))
	if l, _ := cfg["teams"].([]any); len(l) != 2 {
		t.Errorf("GET /config teams = %v", cfg["teams"])
	}
	if info := conform(t, "GET /info", infoShape, get("/info")); info["team_count"] != json.Number("2") {
		t.Errorf("GET /info team_count = %v", info["team_count"])
	}

	done := conform(t, "POST /teams/matrix-team/runs (blocking)", teamRunOutputShape,
		expectStatus(t, g.postForm(t, ctx, "/teams/matrix-team/runs", url.Values{"message": {"hello team"}, "stream": {"false"}}), http.StatusOK))
	if done["status"] != "COMPLETED" || done["team_id"] != "matrix-team" {
		t.Fatalf("team run = %v", done)
	}
	runID, sessionID := done["run_id"].(string), done["session_id"].(string)
	conform(t, "GET /teams/matrix-team/runs/{id}", teamRunOutputShape, get("/teams/matrix-team/runs/"+runID))
	conform(t, "GET /sessions?type=team", sessionPageShape, get("/sessions?type=team"))
	if d := conform(t, "GET /sessions/{team session}", teamSessionDetailShape, get("/sessions/"+sessionID)); d["team_id"] != "matrix-team" {
		t.Errorf("team session = %v", d)
	}
	kids := 0
	for _, r := range conformList(t, "GET /sessions/{id}/runs", runSchemaShape, get("/sessions/"+sessionID+"/runs")) {
		if r.(map[string]any)["parent_run_id"] == runID {
			kids++
		}
	}
	if kids != 1 {
		t.Errorf("the team session lists %d member runs, want 1", kids)
	}

	// The stream: names agno decodes; resume after N replays exactly.
	resp := g.postForm(t, ctx, "/teams/matrix-team/runs", url.Values{"message": {"stream it"}})
	expectSSE(t, resp)
	frames := readFrames(t, resp.Body)
	resp.Body.Close()
	evs := events(t, frames, 0)
	names := teamEventNames()
	for _, f := range frames {
		if !slices.Contains(names, f.Event) {
			t.Errorf("team event %q is not one agno decodes", f.Event)
		}
	}
	if frames[0].Event != "TeamRunStarted" || frames[len(frames)-1].Event != "TeamRunCompleted" {
		t.Fatalf("team stream = %v", types(frames))
	}
	for _, n := range []int{0, len(frames) / 2, len(frames) - 2} {
		resp := g.postForm(t, ctx, "/teams/matrix-team/runs/"+evs[0].RunID+"/resume", url.Values{"last_event_index": {strconv.Itoa(n)}})
		expectSSE(t, resp)
		tail := readFrames(t, resp.Body)
		resp.Body.Close()
		if len(tail) != len(frames)-n-1 {
			t.Fatalf("resume after %d: %v, want %v", n, types(tail), types(frames[n+1:]))
		}
		for i := range tail {
			if tail[i].Raw != frames[n+1+i].Raw {
				t.Errorf("resume after %d: frame %d differs:\n%s\nwant\n%s", n, i, tail[i].Raw, frames[n+1+i].Raw)
			}
		}
	}

	// A member's pause pauses the team; agno's requirements continue it.
	paused := conform(t, "POST /teams/matrix-gate/runs (paused)", teamRunOutputShape,
		expectStatus(t, g.postForm(t, ctx, "/teams/matrix-gate/runs", url.Values{"message": {"compute"}, "stream": {"false"}}), http.StatusOK))
	reqs, _ := paused["requirements"].([]any)
	if paused["status"] != "PAUSED" || len(reqs) != 1 || reqs[0].(map[string]any)["member_agent_id"] != "approval-demo" {
		t.Fatalf("paused team run = %v", paused)
	}
	q := reqs[0].(map[string]any)
	q["confirmation"] = true
	b, _ := json.Marshal([]any{q})
	resp = g.postForm(t, ctx, "/teams/matrix-gate/runs/"+paused["run_id"].(string)+"/continue", url.Values{"requirements": {string(b)}})
	expectSSE(t, resp)
	tail := readFrames(t, resp.Body)
	resp.Body.Close()
	if len(tail) == 0 || tail[0].Event != "TeamRunContinued" || tail[len(tail)-1].Event != "TeamRunCompleted" {
		t.Fatalf("continued team stream = %v", types(tail))
	}
	if !slices.ContainsFunc(tail, func(f frame) bool { return f.Event == "ToolCallCompleted" }) {
		t.Errorf("the member's confirmed tool call is not in the continued stream: %v", types(tail))
	}
}
