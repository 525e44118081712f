package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core/trace"
	"github.com/agentgate/agentgate/storage"
)

// The traces' REST routes through the binary, on SQLite and Postgres, with
// spans written into the gateway's own database through the store (the
// tracing instrumentation writes them through the same SpanWriter):
// AgentOS's shapes (agno os/routers/traces/schemas.py), the tree, filters
// and paging, the filter DSL, bad input with the right status, user
// isolation and the retention job.

// libs/agno/agno/os/routers/traces/schemas.py TraceSummary.
var traceSummaryShape = &shape{Name: "TraceSummary", Source: "os/routers/traces/schemas.py", Fields: []field{
	req("trace_id", "string"), req("name", "string"), req("status", "string").enum("OK", "ERROR", "UNSET"),
	req("duration", "string"), req("start_time", datetime), req("end_time", datetime), req("total_spans", "integer"),
	req("error_count", "integer"), opt("input", "string|null"), opt("run_id", "string|null"), opt("session_id", "string|null"),
	opt("user_id", "string|null"), opt("agent_id", "string|null"), opt("team_id", "string|null"),
	opt("workflow_id", "string|null"), req("created_at", datetime),
}}

// TraceNode (recursive: spans holds TraceNodes).
var traceNodeShape = func() *shape {
	s := &shape{Name: "TraceNode", Source: "os/routers/traces/schemas.py"}
	s.Fields = []field{
		req("id", "string"), req("name", "string"), req("type", "string"), req("duration", "string"),
		req("start_time", datetime), req("end_time", datetime), req("status", "string"), opt("input", "string|null"),
		opt("output", "string|null"), opt("error", "string|null"), opt("spans", "array|null").of(s),
		opt("step_type", "string|null"), opt("metadata", "object|null"), opt("extra_data", "object|null"),
	}
	return s
}()

// TraceDetail.
var traceDetailShape = &shape{Name: "TraceDetail", Source: "os/routers/traces/schemas.py", Fields: []field{
	req("trace_id", "string"), req("name", "string"), req("status", "string"), req("duration", "string"),
	req("start_time", datetime), req("end_time", datetime), req("total_spans", "integer"), req("error_count", "integer"),
	opt("input", "string|null"), opt("output", "string|null"), opt("error", "string|null"), opt("run_id", "string|null"),
	opt("session_id", "string|null"), opt("user_id", "string|null"), opt("agent_id", "string|null"),
	opt("team_id", "string|null"), opt("workflow_id", "string|null"), req("created_at", datetime),
	req("tree", "array").of(traceNodeShape),
}}

// TraceSessionStats.
var traceSessionShape = &shape{Name: "TraceSessionStats", Source: "os/routers/traces/schemas.py", Fields: []field{
	req("session_id", "string"), opt("user_id", "string|null"), opt("agent_id", "string|null"), opt("team_id", "string|null"),
	opt("workflow_id", "string|null"), req("total_traces", "integer"), req("first_trace_at", datetime), req("last_trace_at", datetime),
}}

// FilterSchemaResponse.
var filterSchemaShape = &shape{Name: "FilterSchemaResponse", Source: "os/routers/traces/schemas.py", Fields: []field{
	req("fields", "array").of(&shape{Name: "FilterFieldSchema", Source: "os/routers/traces/schemas.py", Fields: []field{
		req("key", "string"), req("label", "string"), req("type", "string").enum("string", "number", "datetime", "enum"),
		req("operators", "array").items("string"), opt("values", "array|null").items("string"),
	}}),
	req("logical_operators", "array").items("string"),
}}

func pageOf(s *shape) *shape {
	return &shape{Name: "PaginatedResponse[" + s.Name + "]", Source: "os/schema.py", Fields: []field{
		req("data", "array").of(s), req("meta", "object").of(paginationShape),
	}}
}

// writeSpans writes spans into the database at dbURL, as the gateway's
// exporter does.
func writeSpans(t testing.TB, dbURL string, spans []trace.Span) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b, err := storage.Open(ctx, dbURL)
	if err != nil {
		t.Fatalf("open %s: %v", dbURL, err)
	}
	defer b.Close()
	if err := b.Store.WriteSpans(ctx, spans); err != nil {
		t.Fatalf("WriteSpans: %v", err)
	}
}

func sqliteURL(g *gateway) string { return "sqlite://" + filepath.Join(g.Dir, "state.db") }

// e2eSpan is a span of trace tid starting ms after start.
func e2eSpan(tid, id, parent, name, typ string, start time.Time, ms, dur int64) trace.Span {
	s := trace.Span{SpanID: tid + "-" + id, TraceID: tid, Name: name, SpanKind: "INTERNAL", StatusCode: trace.StatusOK,
		StartTime: start.Add(time.Duration(ms) * time.Millisecond), EndTime: start.Add(time.Duration(ms+dur) * time.Millisecond),
		DurationMS: dur, Attributes: map[string]any{trace.AttrSpanType: typ}, CreatedAt: start.Add(time.Duration(ms) * time.Millisecond)}
	if parent != "" {
		s.ParentSpanID = tid + "-" + parent
	}
	return s
}

// toolRunSpans is an agent run of user: a model call asking for two
// tools, the tools (the second fails), a last model call.
func toolRunSpans(tid, user, session string, start time.Time) []trace.Span {
	root := e2eSpan(tid, "run", "", "assistant.run", trace.SpanAgent, start, 0, 1500)
	root.RunID, root.SessionID, root.UserID, root.AgentID = "run-"+tid, session, user, "assistant"
	root.Attributes[trace.AttrInput], root.Attributes[trace.AttrOutput] = "time in Paris and Tokyo?", "10:30 in Paris"
	llm1 := e2eSpan(tid, "llm1", "run", "chat plain-1", trace.SpanLLM, start, 5, 300)
	llm1.Attributes["gen_ai.request.model"], llm1.Attributes["gen_ai.usage.input_tokens"], llm1.Attributes["gen_ai.usage.output_tokens"] = "plain-1", 11, 4
	t1 := e2eSpan(tid, "tool1", "run", "execute_tool current_time", trace.SpanTool, start, 310, 20)
	t1.Attributes["gen_ai.tool.name"], t1.Attributes[trace.AttrOutput] = "current_time", "10:30"
	t2 := e2eSpan(tid, "tool2", "run", "execute_tool current_time", trace.SpanTool, start, 335, 15)
	t2.Attributes["gen_ai.tool.name"] = "current_time"
	t2.StatusCode, t2.StatusMessage = trace.StatusError, "unknown time zone Asia/Tokio"
	llm2 := e2eSpan(tid, "llm2", "run", "chat plain-1", trace.SpanLLM, start, 400, 1050)
	llm2.Attributes["gen_ai.usage.input_tokens"], llm2.Attributes["gen_ai.usage.output_tokens"] = 30, 9
	for _, s := range []*trace.Span{&llm1, &t1, &t2, &llm2} {
		s.RunID, s.SessionID, s.UserID, s.AgentID = root.RunID, session, user, "assistant"
	}
	return []trace.Span{llm2, t2, root, t1, llm1}
}

// teamRunSpans is a team run with two members.
func teamRunSpans(tid, user, session string, start time.Time) []trace.Span {
	team := e2eSpan(tid, "team", "", "research-team.run", trace.SpanTeam, start, 0, 900)
	team.TeamID, team.RunID, team.SessionID, team.UserID = "research-team", "run-"+tid, session, user
	lead := e2eSpan(tid, "lead", "team", "chat leader", trace.SpanLLM, start, 10, 100)
	m1 := e2eSpan(tid, "m1", "team", "researcher.run", trace.SpanAgent, start, 120, 300)
	m1.AgentID, m1.RunID, m1.UserID = "researcher", "m1-"+tid, user
	m2 := e2eSpan(tid, "m2", "team", "writer.run", trace.SpanAgent, start, 430, 400)
	m2.AgentID, m2.RunID, m2.UserID = "writer", "m2-"+tid, user
	return []trace.Span{m2, lead, m1, team}
}

func TestTracesREST(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		g := startGateway(t, contractConfig)
		checkTracesREST(t, g, sqliteURL(g))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		b := newBackends(t, "")
		checkTracesREST(t, startReplica(t, "pg", contractConfig, "AGENTGATE_DATABASE_URL="+b.DatabaseURL).gateway, b.DatabaseURL)
	})
}

func checkTracesREST(t *testing.T, g *gateway, dbURL string) {
	ctx := testCtx(t, 60*time.Second)
	get := func(path string) []byte {
		t.Helper()
		return expectStatus(t, g.get(t, ctx, path), http.StatusOK)
	}
	post := func(body any, status int) []byte {
		t.Helper()
		return expectStatus(t, g.sendJSON(t, ctx, http.MethodPost, "/traces/search", body), status)
	}
	detail := func(b []byte) string {
		var e struct {
			Detail string `json:"detail"`
		}
		decode(t, b, &e)
		return e.Detail
	}
	// Recent (the retention job of this gateway keeps 30 days).
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Millisecond)
	sess := "sess-" + randHex(6)
	var spans []trace.Span
	spans = append(spans, toolRunSpans("tr-run", "ada", sess, base)...)
	spans = append(spans, teamRunSpans("tr-team", "ada", sess, base.Add(time.Minute))...)
	other := e2eSpan("tr-bob", "run", "", "x' OR '1'='1", trace.SpanAgent, base.Add(2*time.Minute), 0, 50)
	other.UserID, other.AgentID, other.SessionID, other.RunID = "bob", "assistant", "sess-bob", "run-bob"
	spans = append(spans, other)
	writeSpans(t, dbURL, spans)

	// /config names the traces' domain.
	cfg := conform(t, "GET /config", configShape, get("/config"))
	if tr, _ := cfg["traces"].(map[string]any); tr == nil || len(tr["dbs"].([]any)) != 1 {
		t.Errorf("/config traces = %v", cfg["traces"])
	}

	// The list: latest first, AgentOS's summary.
	page := conform(t, "GET /traces", pageOf(traceSummaryShape), get("/traces"))
	var order []string
	for _, d := range page["data"].([]any) {
		order = append(order, d.(map[string]any)["trace_id"].(string))
	}
	if strings.Join(order, ",") != "tr-bob,tr-team,tr-run" {
		t.Errorf("GET /traces order %v", order)
	}
	run := page["data"].([]any)[2].(map[string]any)
	if run["name"] != "assistant.run" || run["status"] != "ERROR" || run["duration"] != "1.50s" || jsonInt(run["total_spans"]) != 5 ||
		jsonInt(run["error_count"]) != 1 || run["input"] != "time in Paris and Tokyo?" || run["run_id"] != "run-tr-run" || run["agent_id"] != "assistant" {
		t.Errorf("summary of the tool run: %v", run)
	}
	if st, err := time.Parse(time.RFC3339Nano, run["start_time"].(string)); err != nil || !st.Equal(base) {
		t.Errorf("start_time %v: %v", run["start_time"], err)
	}
	for q, want := range map[string]string{
		"status=ERROR": "tr-run", "team_id=research-team": "tr-team", "user_id=bob": "tr-bob", "run_id=run-tr-team": "tr-team",
		"agent_id=assistant&session_id=" + sess: "tr-run", "status=OK&user_id=ada": "tr-team",
		"start_time=" + url.QueryEscape(base.Add(30*time.Second).Format(time.RFC3339Nano)):                                   "tr-bob,tr-team",
		"end_time=" + url.QueryEscape(base.Add(1500*time.Millisecond).In(time.FixedZone("", 3600)).Format(time.RFC3339Nano)): "tr-run",
		"limit=1&page=2": "tr-team",
	} {
		var p struct {
			Data []struct {
				TraceID string `json:"trace_id"`
			} `json:"data"`
		}
		decode(t, get("/traces?"+q), &p)
		var got []string
		for _, d := range p.Data {
			got = append(got, d.TraceID)
		}
		if strings.Join(got, ",") != want {
			t.Errorf("GET /traces?%s = %v, want %s", q, got, want)
		}
	}
	var meta struct {
		Meta struct {
			Page       int `json:"page"`
			Limit      int `json:"limit"`
			TotalPages int `json:"total_pages"`
			TotalCount int `json:"total_count"`
		} `json:"meta"`
	}
	decode(t, get("/traces?limit=2"), &meta)
	if meta.Meta.Page != 1 || meta.Meta.Limit != 2 || meta.Meta.TotalCount != 3 || meta.Meta.TotalPages != 2 {
		t.Errorf("meta %+v", meta.Meta)
	}

	// The tree of the run with two tool calls.
	d := conform(t, "GET /traces/tr-run", traceDetailShape, get("/traces/tr-run"))
	if d["status"] != "ERROR" || d["error"] != "unknown time zone Asia/Tokio" || d["output"] != nil || d["input"] != "time in Paris and Tokyo?" {
		t.Errorf("detail: %v", d)
	}
	tree := d["tree"].([]any)
	if len(tree) != 1 {
		t.Fatalf("tree %v", tree)
	}
	root := tree[0].(map[string]any)
	if root["type"] != "AGENT" || root["id"] != "tr-run-run" || root["duration"] != "1.50s" {
		t.Errorf("root %v", root)
	}
	if md := root["metadata"].(map[string]any); jsonInt(md["total_input_tokens"]) != 41 || jsonInt(md["total_output_tokens"]) != 13 {
		t.Errorf("root token totals %v", md)
	}
	var kids []string
	for _, k := range root["spans"].([]any) {
		m := k.(map[string]any)
		kids = append(kids, fmt.Sprintf("%s:%s:%s:%s", m["id"], m["type"], m["duration"], m["status"]))
	}
	if want := "tr-run-llm1:LLM:300ms:OK tr-run-tool1:TOOL:20ms:OK tr-run-tool2:TOOL:15ms:ERROR tr-run-llm2:LLM:1.05s:OK"; strings.Join(kids, " ") != want {
		t.Errorf("children\n got %s\nwant %s", strings.Join(kids, " "), want)
	}
	llm1 := root["spans"].([]any)[0].(map[string]any)
	if md := llm1["metadata"].(map[string]any); md["model"] != "plain-1" || jsonInt(md["input_tokens"]) != 11 || jsonInt(md["output_tokens"]) != 4 {
		t.Errorf("llm metadata %v", md)
	}
	tool2 := root["spans"].([]any)[2].(map[string]any)
	if tool2["error"] != "unknown time zone Asia/Tokio" || tool2["metadata"].(map[string]any)["tool_name"] != "current_time" {
		t.Errorf("failed tool %v", tool2)
	}

	// One span; a span or trace that is not there.
	n := conform(t, "GET /traces/tr-run?span_id", traceNodeShape, get("/traces/tr-run?span_id=tr-run-tool1"))
	if n["id"] != "tr-run-tool1" || n["output"] != "10:30" || n["spans"] != nil {
		t.Errorf("span node %v", n)
	}
	if got := detail(expectStatus(t, g.get(t, ctx, "/traces/tr-run?span_id=tr-team-m1"), http.StatusNotFound)); !strings.Contains(got, "tr-team-m1") {
		t.Errorf("span of another trace: %q", got)
	}
	expectStatus(t, g.get(t, ctx, "/traces/nope"), http.StatusNotFound)
	expectStatus(t, g.get(t, ctx, "/traces/tr-run?run_id=run-other"), http.StatusNotFound)
	expectStatus(t, g.get(t, ctx, "/traces?db_id=nope"), http.StatusNotFound)

	// The team run: the team at the root, its members below.
	d = conform(t, "GET /traces/tr-team", traceDetailShape, get("/traces/tr-team"))
	root = d["tree"].([]any)[0].(map[string]any)
	kids = nil
	for _, k := range root["spans"].([]any) {
		m := k.(map[string]any)
		kids = append(kids, fmt.Sprintf("%s:%s", m["name"], m["type"]))
	}
	if d["team_id"] != "research-team" || d["agent_id"] != nil || root["type"] != "TEAM" ||
		strings.Join(kids, ",") != "chat leader:LLM,researcher.run:AGENT,writer.run:AGENT" {
		t.Errorf("team trace %v; members %v", d, kids)
	}

	// Session stats.
	st := conform(t, "GET /trace_session_stats", pageOf(traceSessionShape), get("/trace_session_stats?user_id=ada"))
	if rows := st["data"].([]any); len(rows) != 1 || rows[0].(map[string]any)["session_id"] != sess || jsonInt(rows[0].(map[string]any)["total_traces"]) != 2 {
		t.Errorf("session stats %v", st["data"])
	}

	// The filter schema.
	fs := conform(t, "GET /traces/filter-schema", filterSchemaShape, get("/traces/filter-schema"))
	if len(fs["fields"].([]any)) != 13 {
		t.Errorf("filter schema fields %v", fs["fields"])
	}

	// Search, by run and by session.
	res := conform(t, "POST /traces/search", pageOf(traceDetailShape), post(map[string]any{
		"filter": map[string]any{"op": "AND", "conditions": []any{
			map[string]any{"op": "EQ", "key": "status", "value": "ERROR"},
			map[string]any{"op": "GT", "key": "duration_ms", "value": 1000},
		}}, "group_by": "run", "page": 1, "limit": 20}, http.StatusOK))
	if rows := res["data"].([]any); len(rows) != 1 || rows[0].(map[string]any)["trace_id"] != "tr-run" || len(rows[0].(map[string]any)["tree"].([]any)) != 1 {
		t.Errorf("search by run %v", res["data"])
	}
	res = conform(t, "POST /traces/search session", pageOf(traceSessionShape), post(map[string]any{
		"filter": map[string]any{"op": "CONTAINS", "key": "agent_id", "value": "ASSIST"}, "group_by": "session"}, http.StatusOK))
	if rows := res["data"].([]any); len(rows) != 2 {
		t.Errorf("search by session %v", res["data"])
	}
	res = conform(t, "POST /traces/search all", pageOf(traceDetailShape), post(map[string]any{}, http.StatusOK))
	if rows := res["data"].([]any); len(rows) != 3 {
		t.Errorf("search without a filter: %d rows", len(rows))
	}
	// A hostile value is a value: it matches only the trace so named.
	res = conform(t, "POST /traces/search hostile", pageOf(traceDetailShape), post(map[string]any{
		"filter": map[string]any{"op": "EQ", "key": "name", "value": "x' OR '1'='1"}}, http.StatusOK))
	if rows := res["data"].([]any); len(rows) != 1 || rows[0].(map[string]any)["trace_id"] != "tr-bob" {
		t.Errorf("hostile value matched %v", rows)
	}
	res = conform(t, "POST /traces/search hostile 2", pageOf(traceDetailShape), post(map[string]any{
		"filter": map[string]any{"op": "NOT", "condition": map[string]any{"op": "IN", "key": "user_id", "values": []any{"') OR 1=1 --"}}}}, http.StatusOK))
	if rows := res["data"].([]any); len(rows) != 3 {
		t.Errorf("NOT IN a hostile value: %d rows", len(rows))
	}

	// Bad input: 400 naming the field or operator, 422 for dates and limits.
	for _, c := range []struct {
		body   any
		status int
		want   string
	}{
		{map[string]any{"filter": map[string]any{"op": "EQ", "key": "password", "value": "x"}}, 400, `unknown field "password"`},
		{map[string]any{"filter": map[string]any{"op": "GT", "key": "agent_id", "value": "x"}}, 400, `operator GT is not allowed for field "agent_id"`},
		{map[string]any{"filter": map[string]any{"op": "GT", "key": "duration_ms", "value": "slow"}}, 400, `field "duration_ms" takes a number`},
		{map[string]any{"filter": map[string]any{"op": "XOR", "conditions": []any{}}}, 400, `unknown operator "XOR"`},
		{map[string]any{"filter": map[string]any{"op": "GT", "key": "start_time", "value": "last tuesday"}}, 422, `"last tuesday" is not an ISO 8601 datetime`},
		{map[string]any{"limit": 101}, 422, "limit"},
		{map[string]any{"group_by": "user"}, 422, "group_by"},
	} {
		if got := detail(post(c.body, c.status)); !strings.Contains(got, c.want) {
			t.Errorf("POST /traces/search %v: %q, want it to name %q", c.body, got, c.want)
		}
	}
	expectStatus(t, g.sendJSON(t, ctx, http.MethodPost, "/traces/search", "not an object"), http.StatusUnprocessableEntity)
	if got := detail(expectStatus(t, g.get(t, ctx, "/traces?start_time=yesterday"), http.StatusUnprocessableEntity)); !strings.Contains(got, "start_time") {
		t.Errorf("bad start_time: %q", got)
	}
	expectStatus(t, g.get(t, ctx, "/trace_session_stats?end_time=2025-99-99"), http.StatusUnprocessableEntity)
	expectStatus(t, g.get(t, ctx, "/traces?status=BROKEN"), http.StatusUnprocessableEntity)
}

func jsonInt(v any) int {
	switch n := v.(type) {
	case float64:
		return int(n)
	case interface{ Int64() (int64, error) }:
		i, _ := n.Int64()
		return int(i)
	}
	return -1
}

// TestTracesIsolation: under user isolation a non-admin lists, reads and
// searches only their own traces.
func TestTracesIsolation(t *testing.T) {
	t.Parallel()
	g := startGateway(t, jwtConfig("auth:\n  jwt_algorithm: HS256\n"))
	base := time.Now().UTC().Add(-time.Hour)
	spans := toolRunSpans("iso-ada", "ada", "s-ada", base)
	spans = append(spans, toolRunSpans("iso-bob", "bob", "s-bob", base.Add(time.Minute))...)
	writeSpans(t, sqliteURL(g), spans)
	ada := mint(t, "ada", "traces:read")
	admin := mint(t, "root", "agent_os:admin")

	ids := func(b []byte) string {
		var p struct {
			Data []struct {
				TraceID   string `json:"trace_id"`
				SessionID string `json:"session_id"`
			} `json:"data"`
		}
		decode(t, b, &p)
		var out []string
		for _, d := range p.Data {
			if d.TraceID != "" {
				out = append(out, d.TraceID)
			} else {
				out = append(out, d.SessionID)
			}
		}
		return strings.Join(out, ",")
	}
	want := func(tok, method, path string, body *reqBody, status int) []byte {
		t.Helper()
		resp, b := call(t, g, tok, method, path, body)
		if resp.StatusCode != status {
			t.Fatalf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, status, truncateBody(b))
		}
		return b
	}
	if got := ids(want(ada, "GET", "/traces", nil, 200)); got != "iso-ada" {
		t.Errorf("ada lists %s", got)
	}
	if got := ids(want(admin, "GET", "/traces", nil, 200)); got != "iso-bob,iso-ada" {
		t.Errorf("admin lists %s", got)
	}
	want(ada, "GET", "/traces?user_id=bob", nil, 403)
	want(ada, "GET", "/traces/iso-bob", nil, 404)
	want(ada, "GET", "/traces/iso-bob?span_id=iso-bob-tool1", nil, 404)
	want(ada, "GET", "/traces/iso-ada", nil, 200)
	if got := ids(want(ada, "POST", "/traces/search", jsonBody(t, map[string]any{"filter": map[string]any{"op": "EQ", "key": "user_id", "value": "bob"}}), 200)); got != "" {
		t.Errorf("ada's search for bob's traces found %s", got)
	}
	if got := ids(want(ada, "POST", "/traces/search", jsonBody(t, map[string]any{"group_by": "session"}), 200)); got != "s-ada" {
		t.Errorf("ada's sessions %s", got)
	}
	if got := ids(want(ada, "GET", "/trace_session_stats", nil, 200)); got != "s-ada" {
		t.Errorf("ada's session stats %s", got)
	}
	want(mint(t, "ada", "sessions:read"), "GET", "/traces", nil, 403)
	want("", "GET", "/traces", nil, 401)
}

// TestTracesRetention: the retention job (a periodic job of the queue)
// deletes the traces that ended longer than observability.trace_retention
// ago, and keeps the others.
func TestTracesRetention(t *testing.T) {
	t.Parallel()
	g := startGateway(t, "observability:\n  trace_retention: 2s\n"+contractConfig)
	now := time.Now().UTC()
	spans := toolRunSpans("ret-old", "ada", "s", now.Add(-48*time.Hour))
	spans = append(spans, toolRunSpans("ret-new", "ada", "s", now.Add(time.Hour))...) // ends in an hour
	writeSpans(t, sqliteURL(g), spans)
	ctx := testCtx(t, 60*time.Second)
	deadline := time.Now().Add(40 * time.Second)
	for {
		resp := g.get(t, ctx, "/traces/ret-old")
		readAll(t, resp)
		if resp.StatusCode == http.StatusNotFound {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the old trace is still there after 40s:\n%s", tail(g.Logs(), 30))
		}
		time.Sleep(250 * time.Millisecond)
	}
	expectStatus(t, g.get(t, ctx, "/traces/ret-new"), http.StatusOK)
}

// toolsConfig has an agent whose model calls two tools, then answers.
const toolsConfig = `
models:
  twotools:
    provider: scripted
    model: twotools-1
    chunks: 2
    script:
      - tool_calls:
          - name: calculator
            arguments: {expression: "6*7"}
          - name: calculator
            arguments: {expression: "1/0"}
        reply: "Done: {{tool_result}}"
agents:
  - id: calc
    name: Calc
    model: twotools
    tools:
      - name: calculator
`

// TestTracesRunWithTwoToolCalls runs an agent that calls two tools and
// reads its stored tree through /traces. It needs the tracing
// instrumentation (core/trace/tracing) to write the run's spans: until it
// is wired, no trace appears and this test fails.
func TestTracesRunWithTwoToolCalls(t *testing.T) {
	t.Parallel()
	g := startGateway(t, toolsConfig)
	ctx := testCtx(t, 60*time.Second)
	b := expectStatus(t, g.postForm(t, ctx, "/agents/calc/runs", url.Values{"message": {"compute"}, "stream": {"false"}}), http.StatusOK)
	var r struct {
		RunID string `json:"run_id"`
	}
	decode(t, b, &r)
	var traceID string
	deadline := time.Now().Add(20 * time.Second)
	for traceID == "" {
		var p struct {
			Data []struct {
				TraceID string `json:"trace_id"`
			} `json:"data"`
		}
		decode(t, expectStatus(t, g.get(t, ctx, "/traces?run_id="+r.RunID), http.StatusOK), &p)
		if len(p.Data) > 0 {
			traceID = p.Data[0].TraceID
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no trace of run %s after 20s (the tracing instrumentation writes them)", r.RunID)
		}
		time.Sleep(200 * time.Millisecond)
	}
	d := conform(t, "GET /traces/{id}", traceDetailShape, expectStatus(t, g.get(t, ctx, "/traces/"+traceID), http.StatusOK))
	if d["run_id"] != r.RunID || d["agent_id"] != "calc" {
		t.Errorf("trace identity %v", d)
	}
	root := d["tree"].([]any)[0].(map[string]any)
	if root["type"] != "AGENT" {
		t.Errorf("root type %v", root["type"])
	}
	var tools, llms int
	var walk func(n map[string]any)
	walk = func(n map[string]any) {
		switch n["type"] {
		case "TOOL":
			tools++
			if md, _ := n["metadata"].(map[string]any); md["tool_name"] != "calculator" {
				t.Errorf("tool span metadata %v", n["metadata"])
			}
		case "LLM":
			llms++
		}
		kids, _ := n["spans"].([]any)
		for _, k := range kids {
			walk(k.(map[string]any))
		}
	}
	walk(root)
	if tools != 2 || llms < 2 {
		t.Errorf("tree has %d tool and %d model spans, want 2 and at least 2: %v", tools, llms, root)
	}
}
