package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// The components (/components, AgentOS §1.13) through the binary: agno's
// shapes, the draft → publish → run → new version → set-current → roll
// back cycle on both replicas of a Postgres + Redis pair (with the time a
// new current version takes to run on the other replica), a pinned
// version, and the 409 / 422 answers.

// AgentOS's ComponentResponse (agentos-api.md §1.13; agno os/schema.py).
var componentShape = &shape{Name: "ComponentResponse", Source: "os/schema.py", Fields: []field{
	req("component_id", "string"), req("component_type", "string").enum("agent", "team", "workflow"),
	req("name", "string"), opt("description", "string"), opt("current_version", "integer"),
	opt("metadata", "object"), req("created_at", datetime), opt("updated_at", datetime),
}}

// ComponentConfigResponse.
var componentConfigShape = &shape{Name: "ComponentConfigResponse", Source: "os/schema.py", Fields: []field{
	req("component_id", "string"), req("version", "integer"), opt("label", "string"),
	req("stage", "string").enum("draft", "published"), req("config", "object"), opt("notes", "string"),
	req("created_at", datetime), opt("updated_at", datetime),
}}

// agno's component routes answer with response_model_exclude_none: a
// field is absent, never null, and there is no field beyond the model's
// (routers/components/components.py, os/schema.py). conformExact and
// conformListExact check that too.
func exactKeys(t *testing.T, what string, s *shape, v any) {
	t.Helper()
	obj, _ := v.(map[string]any)
	for k, val := range obj {
		if !slices.ContainsFunc(s.Fields, func(f field) bool { return f.Name == k }) {
			t.Errorf("%s: field %q is not in agno's %s", what, k, s.Name)
		}
		if val == nil {
			t.Errorf("%s: %q is null; agno leaves a None field out (response_model_exclude_none)", what, k)
		}
	}
}

func conformExact(t *testing.T, what string, s *shape, b []byte) map[string]any {
	t.Helper()
	m := conform(t, what, s, b)
	exactKeys(t, what, s, m)
	return m
}

func conformListExact(t *testing.T, what string, s *shape, b []byte) []any {
	t.Helper()
	list := conformList(t, what, s, b)
	for i, e := range list {
		exactKeys(t, fmt.Sprintf("%s[%d]", what, i), s, e)
	}
	return list
}

var componentPageShape = &shape{Name: "PaginatedResponse[ComponentResponse]", Source: "os/schema.py", Fields: []field{
	req("data", "array").of(componentShape), req("meta", "object").of(paginationShape),
}}

// componentsConfig declares the models the components' versions use: each
// answers with its own words, so a run tells which version ran.
const componentsConfig = `
models:
  one:
    provider: scripted
    model: one-1
    script:
      - reply: "version one"
  two:
    provider: scripted
    model: two-1
    script:
      - reply: "version two"
  slow:
    provider: scripted
    model: slow-1
    chunks: 20
    chunk_delay: 100ms
    script:
      - reply: "slowly but surely"
agents:
  - id: fixed
    name: Fixed
    model: one
`

// componentRun is what a blocking run of a component answers.
type componentRun struct {
	RunID            string `json:"run_id"`
	Status           string `json:"status"`
	Content          string `json:"content"`
	ComponentVersion int    `json:"component_version"`
}

func runComponent(t *testing.T, g *gateway, agent string, form url.Values) (componentRun, int) {
	t.Helper()
	ctx := testCtx(t, 20*time.Second)
	form.Set("stream", "false")
	if form.Get("message") == "" {
		form.Set("message", "which version are you?")
	}
	resp := g.postForm(t, ctx, "/agents/"+agent+"/runs", form)
	b := readAll(t, resp)
	var r componentRun
	if resp.StatusCode == http.StatusOK {
		decode(t, b, &r)
	} else {
		r.Content = string(b) // the error, for the failure message
	}
	return r, resp.StatusCode
}

// expectVersion runs the agent and checks which version answered.
func expectVersion(t *testing.T, g *gateway, agent string, form url.Values, version int) {
	t.Helper()
	r, status := runComponent(t, g, agent, form)
	want := map[int]string{1: "version one", 2: "version two"}[version]
	if status != http.StatusOK || r.Status != "COMPLETED" || r.Content != want || r.ComponentVersion != version {
		t.Fatalf("run of %s: %d %+v; want version %d (%q)", agent, status, r, version, want)
	}
	// The stored run says the version it ran.
	ctx := testCtx(t, 10*time.Second)
	var stored map[string]any
	decode(t, expectStatus(t, g.get(t, ctx, "/agents/"+agent+"/runs/"+r.RunID), http.StatusOK), &stored)
	if stored["component_version"] != float64(version) {
		t.Fatalf("stored run of %s: component_version %v, want %d", agent, stored["component_version"], version)
	}
}

// awaitVersion runs the agent on g until the version answers, and returns
// how long that took.
func awaitVersion(t *testing.T, g *gateway, agent string, version int, within time.Duration) time.Duration {
	t.Helper()
	want := map[int]string{1: "version one", 2: "version two"}[version]
	start := time.Now()
	for {
		r, status := runComponent(t, g, agent, url.Values{})
		if status == http.StatusOK && r.Content == want && r.ComponentVersion == version {
			return time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("%s still answers %d %+v %s after setting version %d current", agent, status, r, within, version)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestComponentsReplicas(t *testing.T) {
	t.Parallel()
	be := newBackends(t, "")
	a := startReplica(t, "A", componentsConfig, be.Env()...)
	b := startReplica(t, "B", componentsConfig, be.Env()...)
	ctx := testCtx(t, 120*time.Second)
	send := func(g *gateway, method, path string, body any, status int) []byte {
		t.Helper()
		return expectStatus(t, g.sendJSON(t, ctx, method, path, body), status)
	}

	// Create: a draft, not yet runnable.
	created := conformExact(t, "POST /components", componentShape, send(a.gateway, http.MethodPost, "/components", map[string]any{
		"name": "Helper", "component_id": "helper", "component_type": "agent", "description": "answers with its version",
		"metadata": map[string]any{"owner": "ops"}, "config": map[string]any{"model": "one", "instructions": "be brief"},
	}, http.StatusCreated))
	if created["current_version"] != nil {
		t.Fatalf("a draft-only component has current_version %v", created["current_version"])
	}
	if _, status := runComponent(t, a.gateway, "helper", url.Values{}); status != http.StatusNotFound {
		t.Fatalf("a run of a component with only a draft: %d, want 404", status)
	}
	draft := conformExact(t, "GET configs/1", componentConfigShape, send(b.gateway, http.MethodGet, "/components/helper/configs/1", nil, http.StatusOK))
	if draft["stage"] != "draft" || draft["config"].(map[string]any)["model"] != "one" {
		t.Fatalf("version 1: %v", draft)
	}
	expectDetail(t, a.sendJSON(t, ctx, http.MethodPost, "/components/helper/configs/1/set-current", nil), http.StatusConflict)

	// Publish: version 1 becomes current and runs on both replicas.
	conformExact(t, "PATCH configs/1", componentConfigShape, send(a.gateway, http.MethodPatch, "/components/helper/configs/1",
		map[string]any{"stage": "published", "label": "first"}, http.StatusOK))
	expectVersion(t, a.gateway, "helper", url.Values{}, 1)
	awaitVersion(t, b.gateway, "helper", 1, 10*time.Second)
	expectVersion(t, b.gateway, "helper", url.Values{}, 1)

	// Listed with the agents, as a component.
	var agents []map[string]any
	decode(t, send(b.gateway, http.MethodGet, "/agents", nil, http.StatusOK), &agents)
	found := false
	for _, ag := range agents {
		if ag["id"] == "helper" {
			found = true
			if ag["is_component"] != true || ag["current_version"] != float64(1) || ag["stage"] != "published" || ag["name"] != "Helper" {
				t.Errorf("GET /agents lists helper as %v", ag)
			}
		}
		if ag["id"] == "fixed" && ag["is_component"] != false {
			t.Errorf("the config file's agent: is_component %v", ag["is_component"])
		}
	}
	if !found {
		t.Fatalf("GET /agents does not list the component: %v", agents)
	}

	// Published versions are immutable.
	expectDetail(t, a.sendJSON(t, ctx, http.MethodPatch, "/components/helper/configs/1", map[string]any{"notes": "x"}), http.StatusConflict)
	expectDetail(t, a.sendJSON(t, ctx, http.MethodDelete, "/components/helper/configs/1", nil), http.StatusConflict)

	// A new version, published without becoming current, then set current
	// on A: B runs it within components.refresh.
	v2 := conformExact(t, "POST configs", componentConfigShape, send(a.gateway, http.MethodPost, "/components/helper/configs",
		map[string]any{"config": map[string]any{"model": "two"}, "stage": "published", "set_current": false, "notes": "louder"}, http.StatusCreated))
	if fmt.Sprint(v2["version"]) != "2" {
		t.Fatalf("the new version: %v", v2)
	}
	expectVersion(t, b.gateway, "helper", url.Values{}, 1)
	list := conformListExact(t, "GET configs", componentConfigShape, send(b.gateway, http.MethodGet, "/components/helper/configs", nil, http.StatusOK))
	if len(list) != 2 || fmt.Sprint(list[0].(map[string]any)["version"]) != "2" {
		t.Fatalf("versions: %v", list)
	}
	set := conformExact(t, "set-current 2", componentShape, send(a.gateway, http.MethodPost, "/components/helper/configs/2/set-current", nil, http.StatusOK))
	if fmt.Sprint(set["current_version"]) != "2" {
		t.Fatalf("set-current answered %v", set)
	}
	expectVersion(t, a.gateway, "helper", url.Values{}, 2) // at once where it was set
	took := awaitVersion(t, b.gateway, "helper", 2, 10*time.Second)
	t.Logf("version 2 made current on A ran on B after %s", took)
	if took > 3*time.Second {
		t.Errorf("propagation took %s, want within components.refresh (1s) and a run", took)
	}
	cur := conformExact(t, "configs/current", componentConfigShape, send(b.gateway, http.MethodGet, "/components/helper/configs/current", nil, http.StatusOK))
	if fmt.Sprint(cur["version"]) != "2" {
		t.Fatalf("current: %v", cur)
	}

	// A run may pin a version.
	expectVersion(t, b.gateway, "helper", url.Values{"version": {"1"}}, 1)
	if _, status := runComponent(t, b.gateway, "helper", url.Values{"version": {"9"}}); status != http.StatusNotFound {
		t.Errorf("a run pinned to a missing version: %d, want 404", status)
	}
	if _, status := runComponent(t, b.gateway, "helper", url.Values{"version": {"two"}}); status != http.StatusBadRequest && status != http.StatusUnprocessableEntity {
		t.Errorf("a run pinned to version \"two\": %d, want 400/422", status)
	}
	if _, status := runComponent(t, b.gateway, "fixed", url.Values{"version": {"1"}}); status != http.StatusBadRequest && status != http.StatusUnprocessableEntity {
		t.Errorf("a config-file agent pinned to a version: %d, want 400/422", status)
	}

	// Roll back on B: A runs version 1 again.
	send(b.gateway, http.MethodPost, "/components/helper/configs/1/set-current", nil, http.StatusOK)
	took = awaitVersion(t, a.gateway, "helper", 1, 10*time.Second)
	t.Logf("the roll back to version 1 on B ran on A after %s", took)

	// A draft can be edited and deleted.
	send(a.gateway, http.MethodPost, "/components/helper/configs", map[string]any{"config": map[string]any{"model": "two"}}, http.StatusCreated)
	conformExact(t, "PATCH draft", componentConfigShape, send(a.gateway, http.MethodPatch, "/components/helper/configs/3",
		map[string]any{"config": map[string]any{"model": "one", "max_turns": 3}, "notes": "edited"}, http.StatusOK))
	expectDetail(t, a.sendJSON(t, ctx, http.MethodPost, "/components/helper/configs/3/set-current", nil), http.StatusConflict)
	send(a.gateway, http.MethodDelete, "/components/helper/configs/3", nil, http.StatusNoContent)
	expectDetail(t, a.sendJSON(t, ctx, http.MethodGet, "/components/helper/configs/3", nil), http.StatusNotFound)

	// Delete: soft; no longer runnable or listed, on either replica.
	send(a.gateway, http.MethodDelete, "/components/helper", nil, http.StatusNoContent)
	expectDetail(t, a.sendJSON(t, ctx, http.MethodGet, "/components/helper", nil), http.StatusNotFound)
	// The replica that deleted it stops running it at once (current or
	// pinned version); the other within components.refresh.
	for _, form := range []url.Values{{}, {"version": {"1"}}} {
		if r, status := runComponent(t, a.gateway, "helper", form); status != http.StatusNotFound {
			t.Fatalf("A ran the component it deleted (%v) right after the delete: %d %+v", form, status, r)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, status := runComponent(t, b.gateway, "helper", url.Values{}); status == http.StatusNotFound {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("B still runs the deleted component")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, status := runComponent(t, b.gateway, "helper", url.Values{"version": {"1"}}); status != http.StatusNotFound {
		t.Fatalf("B runs a pinned version of the deleted component: %d", status)
	}
	expectDetail(t, a.sendJSON(t, ctx, http.MethodPost, "/components", map[string]any{
		"name": "Helper", "component_id": "helper", "component_type": "agent"}), http.StatusConflict)
}

// TestComponentsBadInput: the 409 and 422 answers, and a config checked as
// `agentgate config check` checks the file (the same field paths).
func TestComponentsBadInput(t *testing.T) {
	t.Parallel()
	g := startGateway(t, componentsConfig)
	ctx := testCtx(t, 60*time.Second)
	post := func(path string, body any, status int) map[string]any {
		t.Helper()
		return expectDetail(t, g.sendJSON(t, ctx, http.MethodPost, path, body), status)
	}
	// Shadowing the config file's agent.
	post("/components", map[string]any{"name": "x", "component_id": "fixed", "component_type": "agent"}, http.StatusConflict)
	// An undeclared model: config check's message and path.
	body := post("/components", map[string]any{"name": "Bad", "component_type": "agent", "config": map[string]any{"model": "nope"}},
		http.StatusUnprocessableEntity)
	if d := body["detail"].(string); !strings.Contains(d, `agents[0] (bad): model "nope" is not declared under models`) {
		t.Errorf("422 detail %q: want config check's message", d)
	}
	// The same file through `agentgate config check` says the same.
	out := checkConfigOutput(t, strings.Replace(componentsConfig, "agents:\n  - id: fixed", "agents:\n  - id: bad\n    model: nope\n  - id: fixed", 1))
	if !strings.Contains(out, `agents[0] (bad): model "nope" is not declared under models`) {
		t.Errorf("config check says %q", out)
	}
	// An unknown field, a wrong type, an unknown tool.
	body = post("/components", map[string]any{"name": "Odd", "component_type": "agent", "config": map[string]any{"model": "one", "colour": "red"}},
		http.StatusUnprocessableEntity)
	if d := body["detail"].(string); !strings.Contains(d, "colour") {
		t.Errorf("unknown field: %q", d)
	}
	post("/components", map[string]any{"name": "Odd", "component_type": "agent", "config": map[string]any{"model": "one", "tools": []any{"nope"}}},
		http.StatusUnprocessableEntity)
	post("/components", map[string]any{"name": "Odd", "component_type": "agent", "config": map[string]any{"model": "one", "id": "other"}},
		http.StatusUnprocessableEntity)
	post("/components", map[string]any{"name": "T", "component_type": "team", "config": map[string]any{"mode": "route", "members": []any{"nobody"}}},
		http.StatusUnprocessableEntity)
	post("/components", map[string]any{"name": "W", "component_type": "workflow", "config": map[string]any{"steps": []any{map[string]any{"name": "s", "agent": "nobody"}}}},
		http.StatusUnprocessableEntity)
	post("/components", map[string]any{"name": "", "component_type": "agent"}, http.StatusUnprocessableEntity)
	post("/components", map[string]any{"name": "x", "component_type": "robot"}, http.StatusUnprocessableEntity)
	post("/components", map[string]any{"name": "x", "component_id": "has space", "component_type": "agent"}, http.StatusUnprocessableEntity)
	post("/components", map[string]any{"name": "x", "component_type": "agent", "config": map[string]any{"model": "one"}, "set_current": true}, http.StatusConflict)

	// A team and a workflow of the file's agent, published at once.
	expectStatus(t, g.sendJSON(t, ctx, http.MethodPost, "/components", map[string]any{"name": "Crew", "component_type": "team", "stage": "published",
		"config": map[string]any{"mode": "broadcast", "members": []any{"fixed"}}}), http.StatusCreated)
	expectStatus(t, g.sendJSON(t, ctx, http.MethodPost, "/components", map[string]any{"name": "Flow", "component_type": "workflow", "stage": "published",
		"config": map[string]any{"steps": []any{map[string]any{"name": "answer", "agent": "fixed"}}}}), http.StatusCreated)
	var teams, flows []map[string]any
	decode(t, expectStatus(t, g.get(t, ctx, "/teams"), http.StatusOK), &teams)
	decode(t, expectStatus(t, g.get(t, ctx, "/workflows"), http.StatusOK), &flows)
	if len(teams) != 1 || teams[0]["id"] != "crew" || teams[0]["is_component"] != true || teams[0]["current_version"] != float64(1) {
		t.Errorf("GET /teams: %v", teams)
	}
	if len(flows) != 1 || flows[0]["id"] != "flow" || flows[0]["is_component"] != true || flows[0]["stage"] != "published" {
		t.Errorf("GET /workflows: %v", flows)
	}
	resp := g.postForm(t, ctx, "/workflows/flow/runs", url.Values{"message": {"go"}, "stream": {"false"}})
	var wr map[string]any
	decode(t, expectStatus(t, resp, http.StatusOK), &wr)
	if wr["status"] != "COMPLETED" || !strings.Contains(fmt.Sprint(wr["content"]), "version one") || wr["component_version"] != float64(1) {
		t.Errorf("workflow component run: %v", wr)
	}

	// Deleting a component lets its running runs finish.
	expectStatus(t, g.sendJSON(t, ctx, http.MethodPost, "/components", map[string]any{"name": "Slowpoke", "component_type": "agent",
		"stage": "published", "config": map[string]any{"model": "slow"}}), http.StatusCreated)
	var bg run
	decode(t, expectStatus(t, g.postForm(t, ctx, "/agents/slowpoke/runs", url.Values{"message": {"go"}, "stream": {"false"}, "background": {"true"}}),
		http.StatusAccepted), &bg)
	g.waitStatus(t, "slowpoke", bg.RunID, "RUNNING")
	expectStatus(t, g.sendJSON(t, ctx, http.MethodDelete, "/components/slowpoke", nil), http.StatusNoContent)
	// The agent is gone (its routes answer 404); its session keeps the run.
	for deadline := time.Now().Add(20 * time.Second); ; {
		var r map[string]any
		decode(t, expectStatus(t, g.get(t, ctx, "/sessions/"+bg.SessionID+"/runs/"+bg.RunID), http.StatusOK), &r)
		if r["status"] == "COMPLETED" {
			if !strings.Contains(fmt.Sprint(r["content"]), "slowly but surely") || r["component_version"] != float64(1) {
				t.Errorf("the run of the deleted component: %v", r)
			}
			break
		}
		if r["status"] != "RUNNING" || time.Now().After(deadline) {
			t.Fatalf("the run of the deleted component: %v", r)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Paging and the type filter.
	page := conform(t, "GET /components", componentPageShape,
		expectStatus(t, g.get(t, ctx, "/components?component_type=team&limit=1"), http.StatusOK))
	for i, d := range page["data"].([]any) {
		exactKeys(t, fmt.Sprintf("GET /components data[%d]", i), componentShape, d)
	}
	if data := page["data"].([]any); len(data) != 1 || data[0].(map[string]any)["component_id"] != "crew" {
		t.Errorf("teams page: %v", page)
	}
	expectDetail(t, g.get(t, ctx, "/components?limit=101"), http.StatusUnprocessableEntity)
	expectDetail(t, g.get(t, ctx, "/components/crew/configs/zero"), http.StatusBadRequest)
	expectDetail(t, g.get(t, ctx, "/components/nobody/configs/current"), http.StatusNotFound)
	expectDetail(t, g.sendJSON(t, ctx, http.MethodPatch, "/components/crew", map[string]any{"component_type": "agent"}), http.StatusUnprocessableEntity)
	expectDetail(t, g.sendJSON(t, ctx, http.MethodPatch, "/components/crew", map[string]any{"current_version": 7}), http.StatusNotFound)
}

// checkConfigOutput runs `agentgate config check` on cfg; it must fail.
func checkConfigOutput(t *testing.T, cfg string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "agentgate.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binPath, "config", "check", path)
	cmd.Env = cleanEnv()
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("config check accepted a bad config: %s", out)
	}
	return string(out)
}

// componentBody is a new agent component with version 1 at stage, on the
// auth gateways' plain model.
func componentBody(stage string) map[string]any {
	return map[string]any{"name": "Matrix component", "component_id": "matrix-c-" + randHex(6), "component_type": "agent",
		"stage": stage, "config": map[string]any{"model": "plain"}}
}

// createComponent creates a component (see componentBody) and returns its id.
func createComponent(t testing.TB, g *gateway, tok, stage string) string {
	t.Helper()
	var c struct {
		ID string `json:"component_id"`
	}
	decode(t, want(t, g, tok, http.MethodPost, "/components", jsonBody(t, componentBody(stage)), http.StatusCreated), &c)
	return c.ID
}

// TestComponentsExportImport: `agentgate components export` writes one
// gateway's components as YAML and `components import` creates them on
// another (both with a security key): the same versions, stages and
// current version, runnable there at once.
func TestComponentsExportImport(t *testing.T) {
	t.Parallel()
	cfg := "auth_mode: key\nsecurity_key: \"" + authKey + "\"\n" + componentsConfig
	src, dst := startGateway(t, cfg), startGateway(t, cfg)
	for _, b := range []map[string]any{
		{"name": "Helper", "component_id": "helper", "component_type": "agent", "stage": "published", "description": "helps",
			"metadata": map[string]any{"team": "ops"}, "config": map[string]any{"model": "one", "instructions": "be brief", "max_turns": 4}},
		{"name": "Crew", "component_type": "team", "config": map[string]any{"mode": "broadcast", "members": []any{"helper"}}},
	} {
		want(t, src, authKey, http.MethodPost, "/components", jsonBody(t, b), http.StatusCreated)
	}
	want(t, src, authKey, http.MethodPost, "/components/helper/configs", jsonBody(t, map[string]any{
		"config": map[string]any{"model": "two"}, "stage": "published", "set_current": false, "label": "v2"}), http.StatusCreated)
	want(t, src, authKey, http.MethodPost, "/components/helper/configs", jsonBody(t, map[string]any{
		"config": map[string]any{"model": "two"}, "notes": "a draft"}), http.StatusCreated)

	file := filepath.Join(t.TempDir(), "components.yaml")
	cli := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(binPath, args...)
		cmd.Env = cleanEnv()
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("agentgate %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	// Without the token: refused, saying how to pass it.
	cmd := exec.Command(binPath, "components", "export", "--url", src.URL)
	cmd.Env = cleanEnv()
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "--token") {
		t.Fatalf("export without a token: %v\n%s", err, out)
	}
	cli("components", "export", "--url", src.URL, "--token", authKey, "-o", file)
	yml, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"component_id: helper", "component_id: crew", "stage: draft", "current_version: 1", "instructions: be brief"} {
		if !strings.Contains(string(yml), s) {
			t.Errorf("the export lacks %q:\n%s", s, yml)
		}
	}
	// The team names the agent component: import creates agents first.
	out := cli("components", "import", file, "--url", dst.URL, "--token", authKey)
	if !strings.Contains(out, "imported 2 of 2 components") {
		t.Errorf("import said: %s", out)
	}
	for _, path := range []string{"/components/helper", "/components/helper/configs", "/components/crew/configs"} {
		a := want(t, src, authKey, http.MethodGet, path, nil, http.StatusOK)
		b := want(t, dst, authKey, http.MethodGet, path, nil, http.StatusOK)
		if na, nb := stripTimes(t, a), stripTimes(t, b); na != nb {
			t.Errorf("%s differs after import:\nsource: %s\nimport: %s", path, na, nb)
		}
	}
	resp, body := call(t, dst, authKey, http.MethodPost, "/agents/helper/runs", formBody(url.Values{"message": {"hi"}, "stream": {"false"}}))
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "version one") {
		t.Errorf("the imported component's run: %d %s", resp.StatusCode, body)
	}
	// Importing again: every component exists (409), reported, exit 1.
	cmd = exec.Command(binPath, "components", "import", file, "--url", dst.URL, "--token", authKey)
	cmd.Env = cleanEnv()
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "409") {
		t.Errorf("a second import: %v\n%s", err, out)
	}
}

// stripTimes is b's JSON without its created_at and updated_at fields.
func stripTimes(t *testing.T, b []byte) string {
	t.Helper()
	var v any
	decode(t, b, &v)
	var strip func(v any)
	strip = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			delete(x, "created_at")
			delete(x, "updated_at")
			for _, e := range x {
				strip(e)
			}
		case []any:
			for _, e := range x {
				strip(e)
			}
		}
	}
	strip(v)
	out, _ := json.Marshal(v)
	return string(out)
}
