package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// The evals' REST routes through the binary, on SQLite and Postgres: each
// eval type computed end to end with the scripted provider as the agent
// and the judge (deterministic scores), a failing reliability eval, failing
// judges, background runs, AgentOS's EvalSchema shapes, the eval runs'
// engine runs (tagged eval_run_id), filters, paging, rename, delete and bad
// input with the right status.

// libs/agno/agno/os/routers/evals/schemas.py EvalSchema.
var evalShape = &shape{Name: "EvalSchema", Source: "os/routers/evals/schemas.py", Fields: []field{
	req("id", "string"), opt("agent_id", "string|null"), opt("model_id", "string|null"), opt("model_provider", "string|null"),
	opt("team_id", "string|null"), opt("workflow_id", "string|null"), opt("name", "string|null"),
	opt("evaluated_component_name", "string|null"),
	req("eval_type", "string").enum("accuracy", "agent_as_judge", "performance", "reliability"),
	req("eval_data", "object"), opt("eval_input", "object|null"),
	opt("created_at", datetime+"|null"), opt("updated_at", datetime+"|null"),
}}

var evalPageShape = &shape{Name: "PaginatedResponse[EvalSchema]", Source: "os/schema.py", Fields: []field{
	req("data", "array").of(evalShape), req("meta", "object").of(paginationShape),
}}

// agno/eval/accuracy.py AccuracyResult (asdict).
var accuracyResultShape = &shape{Name: "AccuracyResult", Source: "eval/accuracy.py", Fields: []field{
	req("results", "array").of(&shape{Name: "AccuracyEvaluation", Source: "eval/accuracy.py", Fields: []field{
		req("input", "string"), req("output", "string"), req("expected_output", "string"), req("score", "integer"), req("reason", "string"),
	}}),
	req("avg_score", "number"), req("mean_score", "number"), req("min_score", "number"), req("max_score", "number"), req("std_dev_score", "number"),
}}

// agno/eval/agent_as_judge.py AgentAsJudgeResult (asdict).
var judgeResultShape = &shape{Name: "AgentAsJudgeResult", Source: "eval/agent_as_judge.py", Fields: []field{
	req("run_id", "string"),
	req("results", "array").of(&shape{Name: "AgentAsJudgeEvaluation", Source: "eval/agent_as_judge.py", Fields: []field{
		req("input", "string"), req("output", "string"), req("criteria", "string"), req("score", "integer|null"),
		req("reason", "string"), req("passed", "boolean"),
	}}),
	req("avg_score", "number|null"), req("min_score", "number|null"), req("max_score", "number|null"),
	req("std_dev_score", "number|null"), req("pass_rate", "number"),
}}

// agno/eval/performance.py PerformanceResult (asdict).
var performanceResultShape = &shape{Name: "PerformanceResult", Source: "eval/performance.py", Fields: []field{
	req("run_times", "array").items("number"), req("avg_run_time", "number"), req("min_run_time", "number"),
	req("max_run_time", "number"), req("std_dev_run_time", "number"), req("median_run_time", "number"), req("p95_run_time", "number"),
	req("memory_usages", "array").items("number"), req("avg_memory_usage", "number"), req("min_memory_usage", "number"),
	req("max_memory_usage", "number"), req("std_dev_memory_usage", "number"), req("median_memory_usage", "number"),
	req("p95_memory_usage", "number"),
}}

// agno/eval/reliability.py ReliabilityResult (asdict).
var reliabilityResultShape = &shape{Name: "ReliabilityResult", Source: "eval/reliability.py", Fields: []field{
	req("eval_status", "string").enum("PASSED", "FAILED"), req("failed_tool_calls", "array").items("string"),
	req("passed_tool_calls", "array").items("string"),
}}

// evalsConfig: geo answers capitals (right for France, wrong for Spain),
// clock calls tools; judge is a scripted judge whose verdicts depend on
// what it is shown, broken a judge that fails, garbled one that answers
// no JSON.
const evalsConfig = `
models:
  agentm:
    provider: scripted
    model: agent-1
    script:
      - match: France
        reply: "The capital of France is Paris."
      - match: Spain
        reply: "The capital of Spain is Lisbon."
      - match: time
        tool_calls:
          - name: current_time
        reply: "It is {{tool_result}}."
      - match: compute
        tool_calls:
          - name: calculator
            arguments: {expression: "6*7"}
        reply: "That is {{tool_result}}."
      - match: confirm
        tool_calls:
          - name: calculator
            arguments: {expression: "1+1"}
        reply: "{{tool_result}}"
  judge:
    provider: scripted
    model: judge-1
    script:
      - system: accuracy_score
        match: "is Paris"
        reply: '{"accuracy_score": 9, "accuracy_reason": "It names Paris, as expected."}'
      - system: accuracy_score
        reply: "My verdict:\n` + "```json" + `\n{\"accuracy_score\": \"3\", \"accuracy_reason\": \"The wrong city.\"}\n` + "```" + `"
      - system: '"passed"'
        match: Paris
        reply: '{"passed": true, "reason": "It names a city."}'
      - system: '"passed"'
        reply: '{"passed": "FAIL", "reason": "No city."}'
      - system: '{"score"'
        match: Paris
        reply: 'Score follows. {"score": 8, "reason": "Polite and correct."}'
      - system: '{"score"'
        reply: '{"score": 4, "reason": "Wrong."}'
  slowm:
    provider: scripted
    model: slow-1
    chunks: 40
    chunk_delay: 100ms
    script:
      - reply: "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty twenty-one twenty-two twenty-three twenty-four twenty-five twenty-six twenty-seven twenty-eight twenty-nine thirty thirty-one thirty-two thirty-three thirty-four thirty-five thirty-six thirty-seven thirty-eight thirty-nine forty"
  broken:
    provider: scripted
    model: broken-1
    script:
      - error: "the judge is down"
  garbled:
    provider: scripted
    model: garbled-1
    script:
      - reply: "Looks fine to me."
agents:
  - id: geo
    name: Geographer
    model: agentm
  - id: clock
    name: Clock
    model: agentm
    tools: [current_time, calculator]
  - id: gated
    name: Gated
    model: agentm
    tools:
      - name: calculator
        requires_confirmation: true
  - id: slow
    name: Slow
    model: slowm
teams:
  - id: geo-team
    name: Geo team
    mode: broadcast
    members: [geo]
`

func TestEvalsREST(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		checkEvalsREST(t, startGateway(t, evalsConfig))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		b := newBackends(t, "")
		checkEvalsREST(t, startReplica(t, "pg", evalsConfig, "AGENTGATE_DATABASE_URL="+b.DatabaseURL).gateway)
	})
}

func checkEvalsREST(t *testing.T, g *gateway) {
	ctx := testCtx(t, 120*time.Second)
	send := func(method, path string, body any, status int) []byte {
		t.Helper()
		return expectStatus(t, g.sendJSON(t, ctx, method, path, body), status)
	}
	get := func(path string) []byte {
		t.Helper()
		return expectStatus(t, g.get(t, ctx, path), http.StatusOK)
	}
	type evalRun struct {
		ID        string         `json:"id"`
		AgentID   *string        `json:"agent_id"`
		TeamID    *string        `json:"team_id"`
		ModelID   *string        `json:"model_id"`
		Provider  *string        `json:"model_provider"`
		Name      *string        `json:"name"`
		Component *string        `json:"evaluated_component_name"`
		EvalType  string         `json:"eval_type"`
		EvalData  map[string]any `json:"eval_data"`
		EvalInput map[string]any `json:"eval_input"`
		Status    string         `json:"status"`
		Passed    *bool          `json:"passed"`
		Error     *string        `json:"error"`
		RunIDs    []string       `json:"run_ids"`
	}
	post := func(body map[string]any) (evalRun, map[string]any) {
		t.Helper()
		b := send(http.MethodPost, "/eval-runs", body, http.StatusOK)
		m := conform(t, "POST /eval-runs", evalShape, b)
		var e evalRun
		decode(t, b, &e)
		return e, m
	}
	data := func(e evalRun, s *shape) {
		t.Helper()
		b, _ := json.Marshal(e.EvalData)
		conform(t, e.EvalType+" eval_data", s, b)
	}
	verdict := func(e evalRun, status string, passed bool) {
		t.Helper()
		if e.Status != status || e.Passed == nil || *e.Passed != passed {
			t.Fatalf("eval run %s: status %s passed %v error %v, want %s passed %v: %+v", e.EvalType, e.Status, e.Passed, e.Error, status, passed, e)
		}
	}
	ptr := func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	}

	// /config lists the evals' domain.
	cfg := conform(t, "GET /config", configShape, get("/config"))
	if ev, _ := cfg["evals"].(map[string]any); ev == nil || len(ev["dbs"].([]any)) != 1 {
		t.Errorf("/config evals = %v, want the state database", cfg["evals"])
	}

	// accuracy: the judge scores each iteration (9: Paris), with the reasons.
	acc, _ := post(map[string]any{"agent_id": "geo", "eval_type": "accuracy", "input": "What is the capital of France?",
		"expected_output": "Paris", "model_id": "judge", "num_iterations": 2, "name": "capitals"})
	verdict(acc, "completed", true)
	data(acc, accuracyResultShape)
	if acc.EvalData["avg_score"] != 9.0 || acc.EvalData["std_dev_score"] != 0.0 || len(acc.RunIDs) != 2 ||
		ptr(acc.AgentID) != "geo" || acc.TeamID != nil || ptr(acc.ModelID) != "judge" || ptr(acc.Provider) != "scripted" ||
		ptr(acc.Component) != "Geographer" || ptr(acc.Name) != "capitals" {
		t.Errorf("accuracy eval run = %+v", acc)
	}
	res := acc.EvalData["results"].([]any)[0].(map[string]any)
	if res["reason"] != "It names Paris, as expected." || res["output"] != "The capital of France is Paris." || res["score"] != 9.0 {
		t.Errorf("accuracy result = %v", res)
	}
	// Each iteration is an ordinary run of the agent, tagged with the eval run.
	for _, id := range acc.RunIDs {
		var r struct {
			run
			EvalRunID string `json:"eval_run_id"`
		}
		decode(t, get("/agents/geo/runs/"+id), &r)
		if r.Status != "COMPLETED" || r.EvalRunID != acc.ID || r.Content != "The capital of France is Paris." {
			t.Errorf("run %s of the eval = %+v, want COMPLETED with eval_run_id %s", id, r, acc.ID)
		}
	}
	// A wrong answer: the judge's fenced, string-scored answer is read (3), the eval fails its threshold.
	wrong, _ := post(map[string]any{"agent_id": "geo", "eval_type": "accuracy", "input": "What is the capital of Spain?",
		"expected_output": "Madrid", "model_id": "judge", "model_provider": "Scripted"})
	verdict(wrong, "completed", false)
	if wrong.EvalData["avg_score"] != 3.0 || wrong.EvalData["results"].([]any)[0].(map[string]any)["reason"] != "The wrong city." {
		t.Errorf("wrong accuracy = %v", wrong.EvalData)
	}

	// agent_as_judge, numeric (8 >= 7) and binary; a team as well as an agent.
	num, _ := post(map[string]any{"agent_id": "geo", "eval_type": "agent_as_judge", "input": "What is the capital of France?",
		"criteria": "Names the right city politely", "model_id": "judge", "threshold": 7})
	verdict(num, "completed", true)
	data(num, judgeResultShape)
	if num.EvalData["avg_score"] != 8.0 || num.EvalData["pass_rate"] != 100.0 || num.EvalData["run_id"] != num.ID {
		t.Errorf("numeric judge = %v", num.EvalData)
	}
	strict, _ := post(map[string]any{"agent_id": "geo", "eval_type": "agent_as_judge", "input": "What is the capital of France?",
		"criteria": "Names the right city politely", "model_id": "judge", "threshold": 9})
	verdict(strict, "completed", false)
	bin, _ := post(map[string]any{"team_id": "geo-team", "eval_type": "agent_as_judge", "input": "What is the capital of France?",
		"criteria": "Names a city", "model_id": "judge", "scoring_strategy": "binary"})
	verdict(bin, "completed", true)
	data(bin, judgeResultShape)
	r0 := bin.EvalData["results"].([]any)[0].(map[string]any)
	if r0["score"] != nil || r0["passed"] != true || bin.EvalData["avg_score"] != nil || ptr(bin.TeamID) != "geo-team" || bin.AgentID != nil {
		t.Errorf("binary judge of a team = %+v", bin)
	}
	binFail, _ := post(map[string]any{"agent_id": "clock", "eval_type": "agent_as_judge", "input": "what time is it",
		"criteria": "Names a city", "model_id": "judge", "scoring_strategy": "binary"})
	verdict(binFail, "completed", false)
	if binFail.EvalData["pass_rate"] != 0.0 {
		t.Errorf("failing binary judge = %v", binFail.EvalData)
	}

	// performance: warm-ups unmeasured, then latency and memory per run.
	perf, _ := post(map[string]any{"agent_id": "geo", "eval_type": "performance", "input": "What is the capital of France?",
		"num_iterations": 3, "warmup_runs": 2})
	verdict(perf, "completed", true)
	data(perf, performanceResultShape)
	times := perf.EvalData["run_times"].([]any)
	if len(times) != 3 || len(perf.RunIDs) != 5 || len(perf.EvalData["allocations"].([]any)) != 3 || perf.EvalData["warmup_runs"] != 2.0 {
		t.Errorf("performance = %v (runs %v)", perf.EvalData, perf.RunIDs)
	}
	mx, mn, avg := perf.EvalData["max_run_time"].(float64), perf.EvalData["min_run_time"].(float64), perf.EvalData["avg_run_time"].(float64)
	if !(mn > 0 && mn <= avg && avg <= mx) || perf.EvalData["avg_allocations"].(float64) <= 0 {
		t.Errorf("performance figures: min %v avg %v max %v allocations %v", mn, avg, mx, perf.EvalData["avg_allocations"])
	}
	t.Logf("performance of geo (scripted): avg %.4fs p95 %.4fs, %.3f MiB, %.0f allocations a run",
		avg, perf.EvalData["p95_run_time"], perf.EvalData["avg_memory_usage"], perf.EvalData["avg_allocations"])

	// reliability: passing, failing (another tool, the expected one missing), arguments.
	rel, _ := post(map[string]any{"agent_id": "clock", "eval_type": "reliability", "input": "what time is it",
		"expected_tool_calls": []string{"current_time"}})
	verdict(rel, "completed", true)
	data(rel, reliabilityResultShape)
	if rel.EvalData["eval_status"] != "PASSED" || !slices.Equal(anyStrings(rel.EvalData["passed_tool_calls"]), []string{"current_time"}) {
		t.Errorf("reliability = %v", rel.EvalData)
	}
	relFail, _ := post(map[string]any{"agent_id": "clock", "eval_type": "reliability", "input": "compute 6*7",
		"expected_tool_calls": []string{"current_time"}})
	verdict(relFail, "completed", false)
	if relFail.EvalData["eval_status"] != "FAILED" || !slices.Equal(anyStrings(relFail.EvalData["failed_tool_calls"]), []string{"calculator", "current_time"}) {
		t.Errorf("failing reliability = %v", relFail.EvalData)
	}
	extra, _ := post(map[string]any{"agent_id": "clock", "eval_type": "reliability", "input": "compute 6*7",
		"expected_tool_calls": []string{"calculator"}, "expected_tool_call_arguments": map[string]any{"calculator": map[string]any{"expression": "6*7"}}})
	verdict(extra, "completed", true)
	badArgs, _ := post(map[string]any{"agent_id": "clock", "eval_type": "reliability", "input": "compute 6*7",
		"expected_tool_calls": []string{"calculator"}, "expected_tool_call_arguments": map[string]any{"calculator": map[string]any{"expression": "2+2"}}})
	verdict(badArgs, "completed", false)
	if reasons := anyStrings(badArgs.EvalData["reasons"]); len(reasons) != 1 || !strings.Contains(reasons[0], `"2+2"`) {
		t.Errorf("bad arguments reasons = %v", reasons)
	}

	// Failing judges and runs: the eval run is failed, with the reason.
	for _, c := range []struct {
		body map[string]any
		want string
	}{
		{map[string]any{"agent_id": "geo", "eval_type": "accuracy", "input": "capital of France?", "expected_output": "Paris", "model_id": "broken"}, "the judge is down"},
		{map[string]any{"agent_id": "geo", "eval_type": "agent_as_judge", "input": "capital of France?", "criteria": "x", "model_id": "garbled"}, "no JSON object"},
		{map[string]any{"agent_id": "gated", "eval_type": "reliability", "input": "confirm it", "expected_tool_calls": []string{"calculator"}}, "paused"},
	} {
		e, _ := post(c.body)
		if e.Status != "failed" || e.Passed != nil || !strings.Contains(ptr(e.Error), c.want) {
			t.Errorf("%v: eval run %s passed %v error %q, want failed with %q", c.body, e.Status, e.Passed, ptr(e.Error), c.want)
		}
		var stored evalRun
		decode(t, get("/eval-runs/"+e.ID), &stored)
		if stored.Status != "failed" || ptr(stored.Error) != ptr(e.Error) {
			t.Errorf("stored failed eval run = %+v", stored)
		}
	}

	// background: 202 with the running eval run, then poll.
	b := send(http.MethodPost, "/eval-runs?background=true", map[string]any{"agent_id": "geo", "eval_type": "performance",
		"input": "What is the capital of France?", "num_iterations": 2}, http.StatusAccepted)
	var bg evalRun
	decode(t, conformBytes(t, "POST /eval-runs (background)", evalShape, b), &bg)
	if bg.Status != "running" || bg.Passed != nil {
		t.Errorf("background eval run = %+v, want running", bg)
	}
	deadline := time.Now().Add(30 * time.Second)
	for bg.Status == "running" && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		decode(t, get("/eval-runs/"+bg.ID), &bg)
	}
	verdict(bg, "completed", true)
	b = send(http.MethodPost, "/eval-runs", map[string]any{"agent_id": "geo", "eval_type": "performance", "input": "France", "background": true}, http.StatusAccepted)
	decode(t, b, &bg)
	if bg.Status != "running" {
		t.Errorf("background in the body = %+v", bg)
	}

	// Lists: AgentOS's page, filters, eval_types, type, paging and sorting.
	page := conform(t, "GET /eval-runs", evalPageShape, get("/eval-runs?limit=100"))
	if n := len(page["data"].([]any)); n < 15 {
		t.Errorf("GET /eval-runs listed %d, want every eval run", n)
	}
	ids := func(path string) []string {
		t.Helper()
		var p struct {
			Data []evalRun    `json:"data"`
			Meta evalPageMeta `json:"meta"`
		}
		decode(t, get(path), &p)
		var out []string
		for _, e := range p.Data {
			out = append(out, e.ID)
		}
		return out
	}
	if got := ids("/eval-runs?team_id=geo-team"); !slices.Equal(got, []string{bin.ID}) {
		t.Errorf("team_id filter = %v, want %v", got, bin.ID)
	}
	if got := ids("/eval-runs?type=team"); !slices.Equal(got, []string{bin.ID}) {
		t.Errorf("type=team = %v", got)
	}
	if got := ids("/eval-runs?agent_id=clock&eval_types=reliability&sort_order=asc"); !slices.Equal(got, []string{rel.ID, relFail.ID, extra.ID, badArgs.ID}) {
		t.Errorf("agent_id=clock reliability asc = %v", got)
	}
	if got := ids("/eval-runs?eval_types=accuracy,agent_as_judge&model_id=judge&limit=2&page=1"); len(got) != 2 {
		t.Errorf("eval_types + model_id page = %v", got)
	}
	var meta struct {
		Meta evalPageMeta `json:"meta"`
	}
	decode(t, get("/eval-runs?eval_types=accuracy&limit=1"), &meta)
	if meta.Meta.TotalCount != 3 || meta.Meta.TotalPages != 3 || meta.Meta.Limit != 1 {
		t.Errorf("accuracy meta = %+v, want 3 in 3 pages", meta.Meta)
	}

	// Rename and delete.
	var renamed evalRun
	decode(t, send(http.MethodPatch, "/eval-runs/"+acc.ID, map[string]any{"name": "renamed"}, http.StatusOK), &renamed)
	if ptr(renamed.Name) != "renamed" || renamed.EvalData["avg_score"] != 9.0 {
		t.Errorf("renamed = %+v", renamed)
	}
	send(http.MethodDelete, "/eval-runs", map[string]any{"eval_run_ids": []string{wrong.ID, strict.ID}}, http.StatusNoContent)
	expectDetail(t, g.get(t, ctx, "/eval-runs/"+wrong.ID), http.StatusNotFound)
	expectDetail(t, g.sendJSON(t, ctx, http.MethodPatch, "/eval-runs/"+wrong.ID, map[string]any{"name": "x"}), http.StatusNotFound)

	// Bad input: 422 with a detail naming the problem.
	for _, c := range []struct {
		body map[string]any
		want string
	}{
		{map[string]any{"agent_id": "nobody", "eval_type": "performance", "input": "x"}, "unknown agent"},
		{map[string]any{"team_id": "nobody", "eval_type": "performance", "input": "x"}, "unknown team"},
		{map[string]any{"agent_id": "geo", "team_id": "geo-team", "eval_type": "performance", "input": "x"}, "exactly one"},
		{map[string]any{"eval_type": "performance", "input": "x"}, "agent_id or team_id"},
		{map[string]any{"agent_id": "geo", "eval_type": "speed", "input": "x"}, "eval_type"},
		{map[string]any{"agent_id": "geo", "eval_type": "performance", "input": ""}, "input"},
		{map[string]any{"agent_id": "geo", "eval_type": "agent_as_judge", "input": "x", "criteria": "c", "model_id": "judge", "threshold": 11}, "threshold"},
		{map[string]any{"agent_id": "geo", "eval_type": "agent_as_judge", "input": "x", "criteria": "c", "model_id": "judge", "threshold": 0}, "threshold"},
		{map[string]any{"agent_id": "geo", "eval_type": "agent_as_judge", "input": "x", "criteria": "c", "model_id": "judge", "scoring_strategy": "vibes"}, "scoring_strategy"},
		{map[string]any{"agent_id": "geo", "eval_type": "performance", "input": "x", "num_iterations": 101}, "num_iterations"},
		{map[string]any{"agent_id": "geo", "eval_type": "performance", "input": "x", "warmup_runs": 11}, "warmup_runs"},
		{map[string]any{"agent_id": "geo", "eval_type": "accuracy", "input": "x", "expected_output": "y", "model_id": "nope"}, "unknown model_id"},
		{map[string]any{"agent_id": "geo", "eval_type": "accuracy", "input": "x", "expected_output": "y"}, "model_id is required"},
		{map[string]any{"agent_id": "geo", "eval_type": "accuracy", "input": "x", "model_id": "judge"}, "expected_output"},
		{map[string]any{"agent_id": "geo", "eval_type": "accuracy", "input": "x", "expected_output": "y", "model_id": "judge", "model_provider": "openai"}, "not openai"},
		{map[string]any{"agent_id": "geo", "eval_type": "agent_as_judge", "input": "x", "model_id": "judge"}, "criteria"},
		{map[string]any{"agent_id": "clock", "eval_type": "reliability", "input": "x"}, "expected_tool_calls"},
		{map[string]any{"agent_id": "clock", "eval_type": "reliability", "input": "x", "expected_tool_calls": []string{"a"},
			"expected_tool_call_arguments": map[string]any{"b": map[string]any{}}}, "not in expected_tool_calls"},
	} {
		body := expectDetail(t, g.sendJSON(t, ctx, http.MethodPost, "/eval-runs", c.body), http.StatusUnprocessableEntity)
		if d := fmt.Sprint(body["detail"]) + fmt.Sprint(body["errors"]); !strings.Contains(d, c.want) {
			t.Errorf("%v: detail %q, want it to mention %q", c.body, d, c.want)
		}
	}
	expectDetail(t, g.do(t, ctx, http.MethodPost, "/eval-runs", strings.NewReader("{not json"), "application/json", nil), http.StatusBadRequest)
	expectDetail(t, g.get(t, ctx, "/eval-runs?eval_types=speed"), http.StatusUnprocessableEntity)
	expectDetail(t, g.get(t, ctx, "/eval-runs?type=robot"), http.StatusUnprocessableEntity)
	expectDetail(t, g.get(t, ctx, "/eval-runs?sort_by=eval_data"), http.StatusUnprocessableEntity)
	expectDetail(t, g.sendJSON(t, ctx, http.MethodPatch, "/eval-runs/"+acc.ID, map[string]any{"name": ""}), http.StatusUnprocessableEntity)
	expectDetail(t, g.sendJSON(t, ctx, http.MethodDelete, "/eval-runs", map[string]any{"eval_run_ids": []string{}}), http.StatusUnprocessableEntity)
}

// evalPageMeta is AgentOS's PaginationInfo.
type evalPageMeta struct {
	Page       int `json:"page"`
	Limit      int `json:"limit"`
	TotalPages int `json:"total_pages"`
	TotalCount int `json:"total_count"`
}

// conformBytes is conform returning b.
func conformBytes(t testing.TB, what string, s *shape, b []byte) []byte {
	t.Helper()
	conform(t, what, s, b)
	return b
}

// anyStrings converts a decoded JSON array of strings.
func anyStrings(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		out = append(out, fmt.Sprint(x))
	}
	return out
}

// TestEvalsIsolation: under user isolation (on with auth) an eval run and
// its engine runs belong to the user who started it; another non-admin
// user neither lists, reads, renames nor deletes it (404 / left alone); an
// admin sees every user's.
func TestEvalsIsolation(t *testing.T) {
	t.Parallel()
	g := startGateway(t, jwtConfig("auth:\n  jwt_algorithm: HS256\n"))
	scopes := []string{"evals:read", "evals:write", "evals:delete", "agents:read", "agents:run"}
	alice, bob := mint(t, "alice", scopes...), mint(t, "bob", scopes...)
	admin := mint(t, "admin", "agent_os:admin")
	var a struct {
		ID     string   `json:"id"`
		UserID string   `json:"user_id"`
		RunIDs []string `json:"run_ids"`
	}
	decode(t, want(t, g, alice, http.MethodPost, "/eval-runs", jsonBody(t, matrixEvalBody), http.StatusOK), &a)
	if a.UserID != "alice" || len(a.RunIDs) != 1 {
		t.Fatalf("alice's eval run = %+v", a)
	}
	var r struct {
		UserID    string `json:"user_id"`
		EvalRunID string `json:"eval_run_id"`
	}
	decode(t, want(t, g, alice, http.MethodGet, "/agents/assistant/runs/"+a.RunIDs[0], nil, http.StatusOK), &r)
	if r.UserID != "alice" || r.EvalRunID != a.ID {
		t.Errorf("the eval's run = %+v, want alice's, tagged %s", r, a.ID)
	}
	want(t, g, bob, http.MethodGet, "/agents/assistant/runs/"+a.RunIDs[0], nil, http.StatusNotFound)

	count := func(tok string) int {
		var p struct {
			Data []struct {
				ID string `json:"id"`
			} `json:"data"`
		}
		decode(t, want(t, g, tok, http.MethodGet, "/eval-runs?limit=100", nil, http.StatusOK), &p)
		return len(p.Data)
	}
	if n := count(bob); n != 0 {
		t.Errorf("bob lists %d eval runs, want none of alice's", n)
	}
	if n := count(alice); n != 1 {
		t.Errorf("alice lists %d eval runs, want her 1", n)
	}
	want(t, g, bob, http.MethodGet, "/eval-runs/"+a.ID, nil, http.StatusNotFound)
	want(t, g, bob, http.MethodPatch, "/eval-runs/"+a.ID, jsonBody(t, map[string]any{"name": "bob's now"}), http.StatusNotFound)
	want(t, g, bob, http.MethodDelete, "/eval-runs", jsonBody(t, map[string]any{"eval_run_ids": []string{a.ID}}), http.StatusNoContent)
	want(t, g, alice, http.MethodGet, "/eval-runs/"+a.ID, nil, http.StatusOK) // still there
	var b struct {
		ID string `json:"id"`
	}
	decode(t, want(t, g, bob, http.MethodPost, "/eval-runs", jsonBody(t, matrixEvalBody), http.StatusOK), &b)
	if n := count(admin); n != 2 {
		t.Errorf("the admin lists %d eval runs, want both users' 2", n)
	}
	want(t, g, admin, http.MethodPatch, "/eval-runs/"+a.ID, jsonBody(t, map[string]any{"name": "by the admin"}), http.StatusOK)
	want(t, g, alice, http.MethodDelete, "/eval-runs", jsonBody(t, map[string]any{"eval_run_ids": []string{a.ID, b.ID}}), http.StatusNoContent)
	want(t, g, alice, http.MethodGet, "/eval-runs/"+a.ID, nil, http.StatusNotFound)
	want(t, g, bob, http.MethodGet, "/eval-runs/"+b.ID, nil, http.StatusOK) // alice could not delete bob's
	// Scopes: evals:read alone cannot start one.
	want(t, g, mint(t, "carol", "evals:read"), http.MethodPost, "/eval-runs", jsonBody(t, matrixEvalBody), http.StatusForbidden)
}

// TestEvalsOff: evals: {enabled: false} answers /eval-runs with 503
// saying how to turn them on, and /config leaves their domain out.
func TestEvalsOff(t *testing.T) {
	t.Parallel()
	g := startGateway(t, "evals: {enabled: false}\n"+evalsConfig)
	ctx := testCtx(t, 30*time.Second)
	body := expectDetail(t, g.get(t, ctx, "/eval-runs"), http.StatusServiceUnavailable)
	if d := fmt.Sprint(body["detail"]); !strings.Contains(d, "evals.enabled") {
		t.Errorf("detail %q does not say how to turn evals on", d)
	}
	expectDetail(t, g.sendJSON(t, ctx, http.MethodPost, "/eval-runs", map[string]any{"agent_id": "geo", "eval_type": "performance", "input": "x"}),
		http.StatusServiceUnavailable)
	var cfg map[string]any
	decode(t, expectStatus(t, g.get(t, ctx, "/config"), http.StatusOK), &cfg)
	if _, ok := cfg["evals"]; ok {
		t.Errorf("/config lists evals while they are off: %v", cfg["evals"])
	}
}

// TestEvalsCancel: an eval's run is an ordinary run — its id is on the
// running eval run at once, its session is listed, and cancelling it (as
// any run) ends the eval run failed, saying so.
func TestEvalsCancel(t *testing.T) {
	t.Parallel()
	g := startGateway(t, evalsConfig)
	ctx := testCtx(t, 60*time.Second)
	var e struct {
		ID     string   `json:"id"`
		Status string   `json:"status"`
		Error  *string  `json:"error"`
		RunIDs []string `json:"run_ids"`
	}
	decode(t, expectStatus(t, g.sendJSON(t, ctx, http.MethodPost, "/eval-runs?background=true",
		map[string]any{"agent_id": "slow", "eval_type": "performance", "input": "go", "num_iterations": 3}), http.StatusAccepted), &e)
	deadline := time.Now().Add(20 * time.Second)
	for len(e.RunIDs) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		decode(t, expectStatus(t, g.get(t, ctx, "/eval-runs/"+e.ID), http.StatusOK), &e)
	}
	if len(e.RunIDs) != 1 || e.Status != "running" {
		t.Fatalf("running eval run = %+v, want its first run listed", e)
	}
	var r struct {
		run
		EvalRunID string `json:"eval_run_id"`
	}
	decode(t, expectStatus(t, g.get(t, ctx, "/agents/slow/runs/"+e.RunIDs[0]), http.StatusOK), &r)
	if r.EvalRunID != e.ID || r.SessionID == "" {
		t.Fatalf("the eval's run = %+v", r)
	}
	expectStatus(t, g.get(t, ctx, "/sessions/"+r.SessionID), http.StatusOK)
	expectStatus(t, g.postForm(t, ctx, "/agents/slow/runs/"+r.RunID+"/cancel", nil), http.StatusOK)
	for e.Status == "running" && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		decode(t, expectStatus(t, g.get(t, ctx, "/eval-runs/"+e.ID), http.StatusOK), &e)
	}
	if e.Status != "failed" || e.Error == nil || !strings.Contains(*e.Error, "was cancelled") || len(e.RunIDs) != 1 {
		t.Errorf("eval run after its run was cancelled = %+v, want failed: cancelled, no further run", e)
	}
}

// TestEvalsReplicaKilledMidEval SIGKILLs the replica executing a
// background eval run (a slow agent): its durable job is rescued by the
// queue and another replica on the same Postgres executes the eval run
// again from its start and completes it (it does not stay running).
func TestEvalsReplicaKilledMidEval(t *testing.T) {
	t.Parallel()
	cfg := evalsConfig + `
queue:
  rescue_after: 8s
tuning:
  queue_poll_interval: 100ms
`
	be := newBackends(t, "")
	a := startReplica(t, "A", cfg, be.Env()...)
	ctx := testCtx(t, 150*time.Second)
	var e struct {
		ID     string   `json:"id"`
		Status string   `json:"status"`
		Error  *string  `json:"error"`
		RunIDs []string `json:"run_ids"`
		Data   struct {
			RunTimes []float64 `json:"run_times"`
		} `json:"eval_data"`
	}
	decode(t, expectStatus(t, a.sendJSON(t, ctx, http.MethodPost, "/eval-runs?background=true",
		map[string]any{"agent_id": "slow", "eval_type": "performance", "input": "go", "num_iterations": 2, "warmup_runs": 0}), http.StatusAccepted), &e)
	deadline := time.Now().Add(30 * time.Second)
	for len(e.RunIDs) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("replica A never started the eval's first run: %+v\n%s", e, tail(a.Logs(), 4000))
		}
		time.Sleep(20 * time.Millisecond)
		decode(t, expectStatus(t, a.get(t, ctx, "/eval-runs/"+e.ID), http.StatusOK), &e)
	}
	killedRun := e.RunIDs[0]
	a.kill(t)
	b := startReplica(t, "B", cfg, be.Env()...)
	// River rescues the job after queue.rescue_after (its rescuer runs
	// every 30 s): B then executes the eval run again.
	deadline = time.Now().Add(120 * time.Second)
	for {
		decode(t, expectStatus(t, b.get(t, ctx, "/eval-runs/"+e.ID), http.StatusOK), &e)
		if e.Status != "running" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("eval run still running 120 s after its replica died: %+v\nB's log:\n%s", e, tail(b.Logs(), 4000))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if e.Status != "completed" || len(e.RunIDs) != 2 || slices.Contains(e.RunIDs, killedRun) || len(e.Data.RunTimes) != 2 {
		t.Fatalf("eval run after A's death = %+v (A's run %s), want completed by B with 2 new runs\nB's log:\n%s", e, killedRun, tail(b.Logs(), 4000))
	}
	for _, id := range e.RunIDs {
		var r struct {
			run
			EvalRunID string `json:"eval_run_id"`
		}
		decode(t, expectStatus(t, b.get(t, ctx, "/agents/slow/runs/"+id), http.StatusOK), &r)
		if r.EvalRunID != e.ID || r.Status != "COMPLETED" {
			t.Errorf("B's run %s of the eval = %+v", id, r)
		}
	}
}

// TestEvalsTraced: an accuracy eval started with the caller's traceparent
// joins the caller's trace (GET /traces/{id}): the evaluated run's span
// and the judge's model request, a CLIENT LLM span "chat judge-1" with its
// tokens, tagged with the eval run's id.
func TestEvalsTraced(t *testing.T) {
	t.Parallel()
	g := startGateway(t, evalsConfig)
	ctx := testCtx(t, 60*time.Second)
	const callerTrace, callerSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	body, _ := json.Marshal(map[string]any{"agent_id": "geo", "eval_type": "accuracy", "input": "France?", "expected_output": "Paris", "model_id": "judge"})
	var e struct {
		ID     string   `json:"id"`
		Status string   `json:"status"`
		RunIDs []string `json:"run_ids"`
	}
	decode(t, expectStatus(t, g.do(t, ctx, http.MethodPost, "/eval-runs", bytes.NewReader(body), "application/json",
		map[string]string{"traceparent": "00-" + callerTrace + "-" + callerSpan + "-01"}), http.StatusOK), &e)
	if e.Status != "completed" || len(e.RunIDs) != 1 {
		t.Fatalf("eval run = %+v", e)
	}
	// The run (AGENT) with its model request (LLM), and the judge (LLM).
	tr := waitTrace(t, g, callerTrace, 3)
	var all []traceNode
	var walk func(ns []traceNode)
	walk = func(ns []traceNode) {
		for _, n := range ns {
			all = append(all, n)
			walk(n.Spans)
		}
	}
	walk(tr.Tree)
	var judge, agent *traceNode
	for i, n := range all {
		switch {
		case n.Name == "chat judge-1":
			judge = &all[i]
		case n.Type == "AGENT" && n.Metadata["run_id"] == e.RunIDs[0]:
			agent = &all[i]
		}
	}
	if judge == nil || agent == nil {
		t.Fatalf("trace %s: want the eval's run and the judge's request among %+v", callerTrace, all)
	}
	// Its parent (the caller's span) is not stored: it is a root of the
	// tree, whose metadata are the token totals.
	if judge.Type != "LLM" || judge.Status != "OK" || (judge.Metadata["input_tokens"] == nil && judge.Metadata["total_input_tokens"] == nil) {
		t.Errorf("judge span = %+v", judge)
	}
}
