package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// The AgentOS contract: what agno's own clients (agno 2.9.0's AgentOSClient
// and RemoteAgent, and its Agent UI) decode our answers into. Each shape
// is derived from agno's pydantic models and dataclasses (agno-agi/agno,
// libs/agno/agno/...): a field without a default is required, an Optional
// one may also be null, a field with a default may be absent but, when
// present, must have its type. A pydantic datetime accepts an ISO string
// or Unix seconds. Fields marked "UI" are optional in the model but
// required by what agno's Agent UI does with them (it loads no sessions
// for an agent without db_id, and shows a listed run's run_input as the
// user's message).

// field is one member of a JSON object.
type field struct {
	Name     string
	Types    string   // "|"-separated: string number integer boolean object array null
	Required bool     // absent is an error
	Elem     *shape   // the shape of an object value, or of each element of an array
	ElemType string   // the type of each element of an array of scalars
	Enum     []string // the allowed values of a string
}

// shape is an agno model.
type shape struct {
	Name   string // agno's class
	Source string // where agno defines it
	Fields []field
}

func req(name, types string) field { return field{Name: name, Types: types, Required: true} }
func opt(name, types string) field { return field{Name: name, Types: types} }

func (f field) of(s *shape) field           { f.Elem = s; return f }
func (f field) items(types string) field    { f.ElemType = types; return f }
func (f field) enum(values ...string) field { f.Enum = values; return f }

const datetime = "string|number" // pydantic datetime: ISO 8601 or Unix seconds

var runStatuses = []string{"PENDING", "RUNNING", "COMPLETED", "PAUSED", "CANCELLED", "ERROR"}

// The shapes. --------------------------------------------------------------

// libs/agno/agno/os/schema.py HealthResponse.
var healthShape = &shape{Name: "HealthResponse", Source: "os/schema.py", Fields: []field{
	req("status", "string"), req("instantiated_at", datetime),
}}

// GET / (AgentOS's API root: name, id, version, links).
var rootShape = &shape{Name: "root", Source: "os/app.py", Fields: []field{
	req("name", "string"), req("id", "string"), req("version", "string"), req("links", "object"),
}}

// GET /info (AgentOS's public info; agentgate reports its own version,
// not an agno_version).
var infoShape = &shape{Name: "info", Source: "os/app.py", Fields: []field{
	req("os_id", "string"), opt("name", "string|null"), opt("version", "string|null"),
	req("agent_count", "integer"), req("team_count", "integer"), req("workflow_count", "integer"),
	req("mcp", "object").of(&shape{Name: "mcp", Source: "os/app.py", Fields: []field{req("enabled", "boolean"), opt("path", "string|null")}}),
	req("auth_mode", "string").enum("none", "security_key", "jwt"),
}}

// libs/agno/agno/os/schema.py InterfaceResponse.
var interfaceShape = &shape{Name: "InterfaceResponse", Source: "os/schema.py", Fields: []field{
	req("type", "string"), req("version", "string"), req("route", "string"),
}}

// libs/agno/agno/os/schema.py Model.
var summaryModelShape = &shape{Name: "Model", Source: "os/schema.py", Fields: []field{
	opt("id", "string|null"), opt("provider", "string|null"),
}}

// libs/agno/agno/os/schema.py AgentSummaryResponse (db_id: UI).
var agentSummaryShape = &shape{Name: "AgentSummaryResponse", Source: "os/schema.py", Fields: []field{
	opt("id", "string|null"), opt("name", "string|null"), opt("description", "string|null"),
	req("db_id", "string"), opt("model", "object|null").of(summaryModelShape), opt("metadata", "object|null"),
}}

// libs/agno/agno/os/config.py DatabaseConfig.
var databaseConfigShape = &shape{Name: "DatabaseConfig", Source: "os/config.py", Fields: []field{
	req("db_id", "string"), opt("domain_config", "object|null").of(&shape{Name: "SessionDomainConfig", Source: "os/config.py",
		Fields: []field{opt("display_name", "string|null")}}),
	opt("tables", "array|null").items("string"),
}}

// libs/agno/agno/os/config.py SessionConfig.
var sessionConfigShape = &shape{Name: "SessionConfig", Source: "os/config.py", Fields: []field{
	opt("display_name", "string|null"), opt("dbs", "array|null").of(databaseConfigShape),
}}

// libs/agno/agno/os/schema.py ConfigResponse (teams and workflows are empty
// lists here, so their item shapes are not exercised).
var configShape = &shape{Name: "ConfigResponse", Source: "os/schema.py", Fields: []field{
	req("os_id", "string"), opt("name", "string|null"), opt("description", "string|null"),
	opt("available_models", "array|null").items("string"), opt("os_database", "string|null"),
	req("databases", "array").items("string"),
	opt("chat", "object|null"), opt("manifest", "object|null"),
	opt("session", "object|null").of(sessionConfigShape),
	opt("metrics", "object|null"), opt("memory", "object|null").of(sessionConfigShape), opt("learning", "object|null"),
	opt("knowledge", "object|null"), opt("evals", "object|null"), opt("traces", "object|null"),
	req("agents", "array").of(agentSummaryShape), req("teams", "array"), req("workflows", "array"),
	req("interfaces", "array").of(interfaceShape),
}}

// libs/agno/agno/os/schema.py ModelResponse.
var modelShape = &shape{Name: "ModelResponse", Source: "os/schema.py", Fields: []field{
	opt("name", "string|null"), opt("model", "string|null"), opt("provider", "string|null"),
}}

// libs/agno/agno/os/routers/agents/schema.py AgentResponse: every block is
// a dict (a bare tools list or streaming: true fails validation); db_id: UI.
var agentShape = &shape{Name: "AgentResponse", Source: "os/routers/agents/schema.py", Fields: []field{
	opt("id", "string|null"), opt("name", "string|null"), req("db_id", "string"),
	opt("description", "string|null"), opt("role", "string|null"), opt("is_factory", "boolean"),
	opt("model", "object|null").of(modelShape),
	opt("tools", "object|null").of(&shape{Name: "tools block", Source: "os/routers/agents/schema.py (tools_info)",
		Fields: []field{req("tools", "array").of(&shape{Name: "Function.to_dict", Source: "tools/function.py",
			Fields: []field{req("name", "string"), opt("description", "string|null"), opt("parameters", "object|null")}})}}),
	opt("sessions", "object|null"), opt("knowledge", "object|null"), opt("memory", "object|null"),
	opt("reasoning", "object|null"), opt("default_tools", "object|null"), opt("system_message", "object|null"),
	opt("extra_messages", "object|null"), opt("response_settings", "object|null"), opt("introduction", "string|null"),
	opt("streaming", "object|null").of(&shape{Name: "streaming block", Source: "os/routers/agents/schema.py (streaming_info)",
		Fields: []field{opt("stream", "boolean|null"), opt("stream_events", "boolean|null")}}),
	opt("metadata", "object|null"), opt("input_schema", "object|null"), opt("factory_input_schema", "object|null"),
	opt("is_component", "boolean"), opt("current_version", "integer|null"), opt("stage", "string|null"),
}}

// libs/agno/agno/os/schema.py PaginationInfo.
var paginationShape = &shape{Name: "PaginationInfo", Source: "os/schema.py", Fields: []field{
	opt("page", "integer"), opt("limit", "integer"), opt("total_pages", "integer"),
	opt("total_count", "integer"), opt("search_time_ms", "number"),
}}

// libs/agno/agno/os/schema.py SessionSchema.
var sessionShape = &shape{Name: "SessionSchema", Source: "os/schema.py", Fields: []field{
	req("session_id", "string"), req("session_name", "string"), opt("session_state", "object|null"),
	opt("created_at", datetime+"|null"), opt("updated_at", datetime+"|null"),
	opt("session_type", "string|null").enum("agent", "team", "workflow"), opt("user_id", "string|null"),
	opt("agent_id", "string|null"), opt("team_id", "string|null"), opt("workflow_id", "string|null"),
	opt("session_summary", "object|null"), opt("metrics", "object|null"), opt("total_tokens", "integer|null"),
	opt("metadata", "object|null"),
}}

// libs/agno/agno/os/schema.py PaginatedResponse[SessionSchema].
var sessionPageShape = &shape{Name: "PaginatedResponse[SessionSchema]", Source: "os/schema.py", Fields: []field{
	req("data", "array").of(sessionShape), req("meta", "object").of(paginationShape),
}}

// libs/agno/agno/os/schema.py AgentSessionDetailSchema.
var agentSessionDetailShape = &shape{Name: "AgentSessionDetailSchema", Source: "os/schema.py", Fields: []field{
	opt("user_id", "string|null"), req("agent_session_id", "string"), req("session_id", "string"),
	req("session_name", "string"), opt("session_summary", "object|null"), opt("session_state", "object|null"),
	opt("agent_id", "string|null"), opt("total_tokens", "integer|null"), opt("agent_data", "object|null"),
	opt("metrics", "object|null"), opt("metadata", "object|null"), opt("chat_history", "array|null").of(messageShape),
	opt("created_at", datetime+"|null"), opt("updated_at", datetime+"|null"),
}}

// libs/agno/agno/models/message.py Message.
var messageShape = &shape{Name: "Message", Source: "models/message.py", Fields: []field{
	req("role", "string"), opt("content", "string|array|null"),
}}

// libs/agno/agno/models/response.py ToolExecution (the fields agentgate
// fills).
var toolShape = &shape{Name: "ToolExecution", Source: "models/response.py", Fields: []field{
	opt("tool_call_id", "string|null"), opt("tool_name", "string|null"), opt("tool_args", "object|null"),
	opt("tool_call_error", "boolean|null"), opt("result", "string|null"), opt("created_at", "integer"),
	opt("requires_confirmation", "boolean|null"), opt("confirmed", "boolean|null"),
	opt("requires_user_input", "boolean|null"), opt("user_input_schema", "array|null"),
	opt("external_execution_required", "boolean|null"),
	opt("approval_type", "string|null").enum("required", "audit"), opt("approval_id", "string|null"),
}}

// libs/agno/agno/os/schema.py RunSchema (run_input: UI).
var runSchemaShape = &shape{Name: "RunSchema", Source: "os/schema.py", Fields: []field{
	req("run_id", "string"), opt("parent_run_id", "string|null"), opt("agent_id", "string|null"),
	opt("user_id", "string|null"), opt("status", "string|null").enum(runStatuses...), req("run_input", "string"),
	opt("content", "string|object|null"), opt("run_response_format", "string|null").enum("text", "json"),
	opt("reasoning_content", "string|null"), opt("reasoning_steps", "array|null"), opt("metrics", "object|null"),
	opt("messages", "array|null").of(messageShape), opt("tools", "array|null").of(toolShape),
	opt("events", "array|null"), opt("created_at", datetime+"|null"), opt("references", "array|null"),
	opt("citations", "object|null"), opt("session_state", "object|null"), opt("input_media", "object|null"),
	opt("followups", "array|null").items("string"),
}}

// libs/agno/agno/run/agent.py RunOutput (from_dict), with
// libs/agno/agno/run/requirement.py RunRequirement and RunInput.
var runOutputShape = &shape{Name: "RunOutput", Source: "run/agent.py", Fields: []field{
	opt("run_id", "string|null"), opt("agent_id", "string|null"), opt("agent_name", "string|null"),
	opt("session_id", "string|null"), opt("user_id", "string|null"),
	opt("input", "object|null").of(&shape{Name: "RunInput", Source: "run/agent.py", Fields: []field{opt("input_content", "string|array|object|null")}}),
	opt("content", "string|array|object|number|boolean|null"), opt("content_type", "string"),
	opt("model", "string|null"), opt("model_provider", "string|null"),
	opt("messages", "array|null").of(messageShape), opt("metrics", "object|null"),
	opt("tools", "array|null").of(toolShape),
	opt("requirements", "array|null").of(&shape{Name: "RunRequirement", Source: "run/requirement.py",
		Fields: []field{opt("id", "string|null"), opt("tool_execution", "object|null").of(toolShape)}}),
	opt("created_at", "integer"), opt("status", "string").enum(runStatuses...),
}}

// libs/agno/agno/os/routers/agents/router.py: the 202 of a background run.
var backgroundShape = &shape{Name: "background 202", Source: "os/routers/agents/router.py", Fields: []field{
	req("run_id", "string"), req("session_id", "string"), req("status", "string").enum(runStatuses...),
}}

// libs/agno/agno/run/agent.py BaseAgentRunEvent and the event classes of
// RUN_EVENT_TYPE_REGISTRY (run_output_event_from_dict refuses any other
// event name).
var eventShape = &shape{Name: "RunOutputEvent", Source: "run/agent.py", Fields: []field{
	req("event", "string").enum("RunStarted", "RunContent", "RunContentCompleted", "RunIntermediateContent",
		"RunCompleted", "RunError", "RunCancelled", "RunPaused", "RunContinued", "ReasoningStarted", "ReasoningStep",
		"ReasoningContentDelta", "ReasoningCompleted", "MemoryUpdateStarted", "MemoryUpdateCompleted",
		"ToolCallStarted", "ToolCallCompleted", "ToolCallError", "ModelRequestStarted", "ModelRequestCompleted",
		"CustomEvent"),
	opt("created_at", "integer"), opt("agent_id", "string"), opt("run_id", "string|null"), opt("session_id", "string|null"),
	opt("tool", "object|null").of(toolShape), opt("tools", "array|null").of(toolShape), opt("metrics", "object|null"),
}}

// Checking. ---------------------------------------------------------------

func jsonType(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case json.Number:
		if _, err := x.Int64(); err == nil {
			return "integer"
		}
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// typeIn reports whether the JSON type t is among types (an integer is a
// number too).
func typeIn(t, types string) bool {
	for _, want := range strings.Split(types, "|") {
		if t == want || (t == "integer" && want == "number") {
			return true
		}
	}
	return false
}

// check validates v against s; path names v in errors.
func (s *shape) check(v any, path string) []string {
	obj, ok := v.(map[string]any)
	if !ok {
		return []string{fmt.Sprintf("%s: %s, want an object (%s)", path, jsonType(v), s.Name)}
	}
	var errs []string
	for _, f := range s.Fields {
		p := path + "." + f.Name
		val, present := obj[f.Name]
		if !present {
			if f.Required {
				errs = append(errs, fmt.Sprintf("%s: missing (required by %s, agno %s)", p, s.Name, s.Source))
			}
			continue
		}
		if t := jsonType(val); !typeIn(t, f.Types) {
			errs = append(errs, fmt.Sprintf("%s: %s, want %s (%s, agno %s)", p, t, f.Types, s.Name, s.Source))
			continue
		}
		if str, ok := val.(string); ok && len(f.Enum) > 0 && !slices.Contains(f.Enum, str) {
			errs = append(errs, fmt.Sprintf("%s: %q is not one of %v", p, str, f.Enum))
		}
		switch x := val.(type) {
		case map[string]any:
			if f.Elem != nil {
				errs = append(errs, f.Elem.check(x, p)...)
			}
		case []any:
			for i, e := range x {
				ep := fmt.Sprintf("%s[%d]", p, i)
				switch {
				case f.Elem != nil:
					errs = append(errs, f.Elem.check(e, ep)...)
				case f.ElemType != "" && !typeIn(jsonType(e), f.ElemType):
					errs = append(errs, fmt.Sprintf("%s: %s, want %s", ep, jsonType(e), f.ElemType))
				}
			}
		}
	}
	return errs
}

// decodeAny decodes b keeping numbers as json.Number (to tell integers).
func decodeAny(t testing.TB, b []byte) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("not JSON: %v: %s", err, truncateBody(b))
	}
	return v
}

// conform fails t unless b is one s.
func conform(t testing.TB, what string, s *shape, b []byte) map[string]any {
	t.Helper()
	v := decodeAny(t, b)
	if errs := s.check(v, what); len(errs) > 0 {
		t.Errorf("%s does not decode into agno's %s:\n  %s\nbody: %s", what, s.Name, strings.Join(errs, "\n  "), truncateBody(b))
	}
	m, _ := v.(map[string]any)
	return m
}

// conformList fails t unless b is a JSON array of s.
func conformList(t testing.TB, what string, s *shape, b []byte) []any {
	t.Helper()
	v := decodeAny(t, b)
	list, ok := v.([]any)
	if !ok {
		t.Errorf("%s: %s, want a list of agno's %s: %s", what, jsonType(v), s.Name, truncateBody(b))
		return nil
	}
	for i, e := range list {
		if errs := s.check(e, fmt.Sprintf("%s[%d]", what, i)); len(errs) > 0 {
			t.Errorf("%s does not decode into agno's %s:\n  %s\nbody: %s", what, s.Name, strings.Join(errs, "\n  "), truncateBody(b))
		}
	}
	return list
}

// The test. ---------------------------------------------------------------

// contractConfig has a short agent (with instructions and a tool), the
// approval agent of the auth tests, and a slow one (about 1.5 s a run).
const contractConfig = `
models:
  plain:
    provider: scripted
    model: plain-1
    chunks: 2
    script:
      - reply: "You said: {{input}}"
  slow:
    provider: scripted
    model: slow-1
    chunks: 30
    chunk_delay: 50ms
    script:
      - reply: "` + "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen" + `"
  approval:
    provider: scripted
    model: approval-1
    chunks: 2
    script:
      - tool_calls:
          - name: calculator
            arguments: {expression: "6*7"}
        reply: "The calculator was approved and returned {{tool_result}}."
        rejected_reply: "Rejected. Note: {{note}}"
agents:
  - id: assistant
    name: Assistant
    model: plain
    instructions: Be brief.
    tools:
      - name: calculator
  - id: slow
    name: Slow
    model: slow
  - id: approval-demo
    name: Approval demo
    model: approval
    tools:
      - name: calculator
        requires_confirmation: true
`

// TestAgentOSContract checks every AgentOS route agentgate serves against
// the shapes agno's clients decode, on SQLite and on Postgres, along the
// path a new user of agno's Agent UI and AgentOSClient takes.
func TestAgentOSContract(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		checkAgentOSContract(t, startGateway(t, contractConfig))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		b := newBackends(t, "")
		checkAgentOSContract(t, startReplica(t, "pg", contractConfig, "AGENTGATE_DATABASE_URL="+b.DatabaseURL).gateway)
	})
}

func checkAgentOSContract(t *testing.T, g *gateway) {
	ctx := testCtx(t, 50*time.Second)
	get := func(path string) []byte {
		t.Helper()
		return expectStatus(t, g.get(t, ctx, path), http.StatusOK)
	}

	conform(t, "GET /health", healthShape, get("/health"))
	conform(t, "GET /", rootShape, get("/"))
	info := conform(t, "GET /info", infoShape, get("/info"))
	if fmt.Sprint(info["agent_count"]) != "3" || info["auth_mode"] != "none" {
		t.Errorf("GET /info: %v, want 3 agents and auth_mode none", info)
	}
	models := conformList(t, "GET /models", summaryModelShape, get("/models"))
	if len(models) == 0 {
		t.Error("GET /models lists no model")
	}

	cfg := conform(t, "GET /config", configShape, get("/config"))
	dbs, _ := cfg["databases"].([]any)
	if len(dbs) == 0 {
		t.Fatalf("GET /config names no database: %v", cfg)
	}
	dbID, _ := dbs[0].(string)
	// db_id names one of /config's databases; another is not ignored.
	expectStatus(t, g.get(t, ctx, "/sessions?db_id=no-such-db"), http.StatusNotFound)
	// The schema migration routes (to the latest version: a no-op here).
	var migrated map[string]any
	decode(t, expectStatus(t, g.sendJSON(t, ctx, http.MethodPost, "/databases/"+url.PathEscape(dbID)+"/migrate?target_version=latest", nil), http.StatusOK), &migrated)
	if migrated["db_id"] != dbID || migrated["to_version"] != migrated["from_version"] {
		t.Errorf("POST /databases/%s/migrate: %v", dbID, migrated)
	}
	expectStatus(t, g.sendJSON(t, ctx, http.MethodPost, "/databases/all/migrate", nil), http.StatusOK)
	expectStatus(t, g.sendJSON(t, ctx, http.MethodPost, "/databases/no-such-db/migrate", nil), http.StatusNotFound)

	agents := conformList(t, "GET /agents", agentShape, get("/agents"))
	if len(agents) != 3 {
		t.Errorf("GET /agents lists %d agents, want 3", len(agents))
	}
	for _, a := range agents {
		if m, _ := a.(map[string]any); m["db_id"] != dbID {
			t.Errorf("agent %v: db_id %v, want %q (a database of /config)", m["id"], m["db_id"], dbID)
		}
	}
	agent := conform(t, "GET /agents/assistant", agentShape, get("/agents/assistant"))
	if tools, _ := agent["tools"].(map[string]any); tools == nil || len(tools["tools"].([]any)) != 1 {
		t.Errorf("GET /agents/assistant: tools %v, want {tools: [calculator]}", agent["tools"])
	}
	if st, _ := agent["streaming"].(map[string]any); st == nil || st["stream"] != true {
		t.Errorf("GET /agents/assistant: streaming %v, want {stream: true}", agent["streaming"])
	}
	for path, s := range map[string]*shape{"/teams": teamShape, "/workflows": workflowShape} {
		if l := conformList(t, "GET "+path, s, get(path)); len(l) != 0 {
			t.Errorf("GET %s: %v, want []", path, l)
		}
	}

	// POST /sessions as agno's AgentOSClient.create_session sends it:
	// every field of CreateSessionRequest, null when unset.
	resp := g.sendJSON(t, ctx, http.MethodPost, "/sessions?type=agent", map[string]any{
		"session_id": nil, "session_name": "from agno", "session_state": nil, "metadata": nil,
		"user_id": nil, "agent_id": "assistant", "team_id": nil, "workflow_id": nil,
	})
	created := conform(t, "POST /sessions", agentSessionDetailShape, expectStatus(t, resp, http.StatusCreated))
	if created["session_name"] != "from agno" || created["agent_id"] != "assistant" {
		t.Errorf("POST /sessions: %v", created)
	}

	// A blocking run in a new session: RunOutput; the session is named
	// after the message.
	const msg = "What is the answer?"
	done := conform(t, "POST /agents/assistant/runs (blocking)", runOutputShape,
		expectStatus(t, g.postForm(t, ctx, "/agents/assistant/runs", url.Values{"message": {msg}, "stream": {"false"}}), http.StatusOK))
	runID, _ := done["run_id"].(string)
	sessionID, _ := done["session_id"].(string)
	if done["status"] != "COMPLETED" || runID == "" || sessionID == "" {
		t.Fatalf("blocking run: %v", done)
	}

	// A session created unnamed is named after its first run's message
	// when read, as AgentOS does.
	unnamed := conform(t, "POST /sessions (unnamed)", agentSessionDetailShape, expectStatus(t, g.sendJSON(t, ctx, http.MethodPost, "/sessions?type=agent", map[string]any{
		"session_id": nil, "session_name": nil, "session_state": nil, "metadata": nil,
		"user_id": nil, "agent_id": "assistant", "team_id": nil, "workflow_id": nil,
	}), http.StatusCreated))
	unnamedID, _ := unnamed["session_id"].(string)
	expectStatus(t, g.postForm(t, ctx, "/agents/assistant/runs", url.Values{"message": {"first words"}, "stream": {"false"}, "session_id": {unnamedID}}), http.StatusOK)

	page := conform(t, "GET /sessions", sessionPageShape, get("/sessions?type=agent&component_id=assistant&db_id="+url.QueryEscape(dbID)))
	names := map[string]any{}
	for _, s := range page["data"].([]any) {
		m := s.(map[string]any)
		names[m["session_id"].(string)] = m["session_name"]
	}
	if names[sessionID] != msg || names[unnamedID] != "first words" {
		t.Errorf("GET /sessions names the sessions %v, want %s named after its first message %q, and %s %q",
			names, sessionID, msg, unnamedID, "first words")
	}
	if d := conform(t, "GET /sessions/{id} (unnamed)", agentSessionDetailShape, get("/sessions/"+unnamedID)); d["session_name"] != "first words" {
		t.Errorf("GET /sessions/{id} of the unnamed session: session_name %v", d["session_name"])
	}
	detail := conform(t, "GET /sessions/{id}", agentSessionDetailShape, get("/sessions/"+sessionID))
	if h, _ := detail["chat_history"].([]any); len(h) < 2 {
		t.Errorf("GET /sessions/{id}: chat_history %v, want the question and the answer", detail["chat_history"])
	}
	for what, path := range map[string]string{
		"GET /sessions/{id}/runs":              "/sessions/" + sessionID + "/runs",
		"GET /agents/{id}/runs?session_id=...": "/agents/assistant/runs?session_id=" + sessionID,
	} {
		runs := conformList(t, what, runSchemaShape, get(path))
		if len(runs) != 1 || runs[0].(map[string]any)["run_input"] != msg {
			t.Errorf("%s: %v, want the run with run_input %q", what, runs, msg)
		}
	}
	one := conform(t, "GET /sessions/{id}/runs/{run_id}", runSchemaShape, get("/sessions/"+sessionID+"/runs/"+runID))
	if one["run_input"] != msg {
		t.Errorf("GET /sessions/{id}/runs/{run_id}: run_input %v, want %q", one["run_input"], msg)
	}
	conform(t, "GET /agents/{id}/runs/{run_id}", runOutputShape, get("/agents/assistant/runs/"+runID+"?session_id="+sessionID))

	// A streaming run: every event is one of agno's; while it runs, the
	// session's runs already carry run_input (the Agent UI asks then).
	const slowMsg = "Tell me a slow story"
	f := follow(g.postForm(t, ctx, "/agents/slow/runs", url.Values{"message": {slowMsg}}))
	f.waitFrames(t, 2, 20*time.Second)
	f.mu.Lock()
	first := f.frames[0]
	f.mu.Unlock()
	started := conform(t, "SSE "+first.Event, eventShape, []byte(first.Data))
	slowSession, _ := started["session_id"].(string)
	running := conformList(t, "GET /sessions/{id}/runs during the run", runSchemaShape, get("/sessions/"+slowSession+"/runs"))
	if len(running) != 1 || running[0].(map[string]any)["run_input"] != slowMsg || running[0].(map[string]any)["status"] != "RUNNING" {
		t.Errorf("GET /sessions/{id}/runs during the run: %v, want the RUNNING run with run_input %q", running, slowMsg)
	}
	res := f.wait(t, 30*time.Second)
	if res.Err != nil || len(res.Frames) == 0 || res.Frames[len(res.Frames)-1].Event != "RunCompleted" {
		t.Fatalf("the slow stream: %v %v", res.Err, types(res.Frames))
	}
	for _, fr := range res.Frames {
		conform(t, "SSE "+fr.Event, eventShape, []byte(fr.Data))
	}

	// Background: the 202, then the poll.
	bg := conform(t, "POST /agents/assistant/runs (background)", backgroundShape, expectStatus(t,
		g.postForm(t, ctx, "/agents/assistant/runs", url.Values{"message": {"later"}, "stream": {"false"}, "background": {"true"}}), http.StatusAccepted))
	_, polled := g.waitStatus(t, "assistant", bg["run_id"].(string), "COMPLETED")
	conform(t, "GET /agents/{id}/runs/{run_id} (background)", runOutputShape, polled)

	// A blocking run that pauses answers its paused tools and content, as
	// agno's RunOutput has them; agno's client continues with those tools.
	paused := conform(t, "POST /agents/approval-demo/runs (paused)", runOutputShape,
		expectStatus(t, g.postForm(t, ctx, "/agents/approval-demo/runs", url.Values{"message": {"6*7?"}, "stream": {"false"}}), http.StatusOK))
	tools, _ := paused["tools"].([]any)
	if paused["status"] != "PAUSED" || len(tools) != 1 || paused["content"] == "" || paused["content"] == nil {
		t.Fatalf("paused blocking run: %v, want PAUSED with the tool to confirm and a content", paused)
	}
	tool := tools[0].(map[string]any)
	if tool["tool_name"] != "calculator" || tool["requires_confirmation"] != true {
		t.Errorf("paused tool: %v", tool)
	}
	// As agno's ToolExecution.to_dict sends it back: every field, null
	// when unset (libs/agno/agno/models/response.py).
	agnoTool := map[string]any{}
	for _, k := range []string{"tool_call_id", "tool_name", "tool_args", "tool_call_error", "result", "metrics", "child_run_id",
		"confirmation_note", "requires_user_input", "user_input_schema", "user_feedback_schema", "answered",
		"external_execution_required", "external_execution_silent", "approval_type", "approval_id"} {
		agnoTool[k] = nil
	}
	agnoTool["stop_after_tool_call"] = false
	for k, v := range tool {
		agnoTool[k] = v
	}
	agnoTool["confirmed"] = true
	decided, _ := json.Marshal([]any{agnoTool})
	cont := conform(t, "POST .../continue (blocking)", runOutputShape, expectStatus(t, g.postForm(t, ctx,
		"/agents/approval-demo/runs/"+paused["run_id"].(string)+"/continue",
		url.Values{"tools": {string(decided)}, "session_id": {paused["session_id"].(string)}, "stream": {"false"}}), http.StatusOK))
	if cont["status"] != "COMPLETED" || !strings.Contains(fmt.Sprint(cont["content"]), "42") {
		t.Errorf("continued run: %v", cont)
	}
}
