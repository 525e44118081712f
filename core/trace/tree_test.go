package trace_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core/trace"
)

var t0 = time.Date(2025, 11, 19, 10, 30, 0, 0, time.UTC)

func span(id, parent, name, typ string, startMS, durMS int64) trace.Span {
	return trace.Span{SpanID: id, TraceID: "tr", ParentSpanID: parent, Name: name, SpanKind: "INTERNAL", StatusCode: trace.StatusOK,
		StartTime: t0.Add(time.Duration(startMS) * time.Millisecond), EndTime: t0.Add(time.Duration(startMS+durMS) * time.Millisecond),
		DurationMS: durMS, Attributes: map[string]any{trace.AttrSpanType: typ}, CreatedAt: t0}
}

// runWithTwoTools is an agent run: a model call asking for two tools, the
// tools (the second fails), a last model call.
func runWithTwoTools() []trace.Span {
	root := span("root", "", "assistant.run", trace.SpanAgent, 0, 1500)
	root.RunID, root.SessionID, root.UserID, root.AgentID = "run-1", "sess-1", "ada", "assistant"
	root.Attributes[trace.AttrInput] = "What time is it in Paris and Tokyo?"
	root.Attributes[trace.AttrOutput] = "It is 10:30 in Paris."
	llm1 := span("llm1", "root", "chat scripted", trace.SpanLLM, 5, 300)
	llm1.Attributes["gen_ai.request.model"] = "scripted-1"
	llm1.Attributes["gen_ai.usage.input_tokens"] = float64(10) // as JSON decodes it
	llm1.Attributes["gen_ai.usage.output_tokens"] = 5
	tool1 := span("tool1", "root", "execute_tool current_time", trace.SpanTool, 310, 20)
	tool1.Attributes["gen_ai.tool.name"] = "current_time"
	tool1.Attributes[trace.AttrInput] = `{"tz":"Europe/Paris"}`
	tool1.Attributes[trace.AttrOutput] = "10:30"
	tool2 := span("tool2", "root", "execute_tool current_time", trace.SpanTool, 335, 15)
	tool2.Attributes["gen_ai.tool.name"] = "current_time"
	tool2.Attributes[trace.AttrOutput] = "never shown"
	tool2.StatusCode, tool2.StatusMessage = trace.StatusError, "unknown time zone Asia/Tokio"
	llm2 := span("llm2", "root", "chat scripted", trace.SpanLLM, 400, 1050)
	llm2.Attributes["gen_ai.request.model"] = "scripted-1"
	llm2.Attributes["gen_ai.usage.input_tokens"] = int64(20)
	llm2.Attributes["gen_ai.usage.output_tokens"] = json.Number("7")
	// Stored order is not start order: the tree sorts.
	return []trace.Span{llm2, tool2, root, tool1, llm1}
}

func TestDetailRunWithTwoToolCalls(t *testing.T) {
	spans := runWithTwoTools()
	tr := trace.Summarize("tr", spans)
	if tr.Name != "assistant.run" || tr.Status != trace.StatusError || tr.ErrorCount != 1 || tr.TotalSpans != 5 ||
		tr.DurationMS != 1500 || tr.RunID != "run-1" || tr.AgentID != "assistant" || tr.UserID != "ada" || tr.Input == "" {
		t.Fatalf("summary %+v", tr)
	}
	d := trace.Detail(&tr, spans)
	if d.Status != trace.StatusError || d.Duration != "1.50s" || d.Input == nil || *d.Input != "What time is it in Paris and Tokyo?" {
		t.Errorf("detail %+v", d)
	}
	if d.Output != nil || d.Error == nil || *d.Error != "unknown time zone Asia/Tokio" {
		t.Errorf("a failed trace has its error, not an output: output %v error %v", d.Output, d.Error)
	}
	if len(d.Tree) != 1 {
		t.Fatalf("roots %d", len(d.Tree))
	}
	root := d.Tree[0]
	if root.ID != "root" || root.Type != trace.SpanAgent || root.Input != nil || root.Output != nil || root.Error != nil {
		t.Errorf("root %+v", root)
	}
	if root.Metadata["total_input_tokens"] != int64(30) || root.Metadata["total_output_tokens"] != int64(12) {
		t.Errorf("root token totals %v", root.Metadata)
	}
	var got []string
	for _, c := range root.Spans {
		got = append(got, c.ID+":"+c.Type+":"+c.Duration+":"+c.Status)
	}
	want := []string{"llm1:LLM:300ms:OK", "tool1:TOOL:20ms:OK", "tool2:TOOL:15ms:ERROR", "llm2:LLM:1.05s:OK"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("children\n got %v\nwant %v", got, want)
	}
	llm1, tool1, tool2 := root.Spans[0], root.Spans[1], root.Spans[2]
	if llm1.Metadata["model"] != "scripted-1" || llm1.Metadata["input_tokens"] != int64(10) || llm1.Metadata["output_tokens"] != int64(5) {
		t.Errorf("llm metadata %v", llm1.Metadata)
	}
	if tool1.Metadata["tool_name"] != "current_time" || *tool1.Input != `{"tz":"Europe/Paris"}` || *tool1.Output != "10:30" || tool1.Error != nil {
		t.Errorf("tool1 %+v", tool1)
	}
	if tool2.Output != nil || tool2.Error == nil || *tool2.Error != "unknown time zone Asia/Tokio" {
		t.Errorf("failed tool %+v", tool2)
	}
	// The wire shape: AgentOS's field names, absent optionals left out.
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"trace_id", "name", "status", "duration", "start_time", "end_time", "total_spans", "error_count",
		"input", "error", "run_id", "session_id", "user_id", "agent_id", "created_at", "tree"} {
		if _, ok := m[k]; !ok {
			t.Errorf("TraceDetail lacks %q: %s", k, b)
		}
	}
	if m["start_time"] != "2025-11-19T10:30:00Z" {
		t.Errorf("start_time %v, want ISO 8601 UTC", m["start_time"])
	}
	node := m["tree"].([]any)[0].(map[string]any)
	for _, k := range []string{"input", "output", "error"} {
		if _, ok := node[k]; ok {
			t.Errorf("root node has %q (it is the trace's)", k)
		}
	}
	if kids := node["spans"].([]any); len(kids) != 4 || kids[0].(map[string]any)["type"] != "LLM" {
		t.Errorf("root node spans %v", kids)
	}
}

func TestDetailTeamWithMembers(t *testing.T) {
	team := span("team", "", "research-team.run", trace.SpanTeam, 0, 900)
	team.TeamID, team.RunID, team.SessionID = "research-team", "team-run", "s"
	lead := span("lead", "team", "chat leader", trace.SpanLLM, 10, 100)
	m1 := span("m1", "team", "researcher.run", trace.SpanAgent, 120, 300)
	m1.AgentID, m1.RunID = "researcher", "m1-run"
	m1llm := span("m1llm", "m1", "chat researcher", trace.SpanLLM, 130, 250)
	m1llm.Attributes["gen_ai.usage.input_tokens"] = 3
	m2 := span("m2", "team", "writer.run", trace.SpanAgent, 430, 400)
	m2.AgentID, m2.RunID = "writer", "m2-run"
	spans := []trace.Span{m2, m1llm, lead, m1, team}
	tr := trace.Summarize("tr", spans)
	if tr.TeamID != "research-team" || tr.AgentID != "" || tr.RunID != "team-run" || tr.Status != trace.StatusOK || tr.Name != "research-team.run" {
		t.Fatalf("team summary %+v", tr)
	}
	d := trace.Detail(&tr, spans)
	root := d.Tree[0]
	if root.Type != trace.SpanTeam || len(root.Spans) != 3 || root.Metadata["total_input_tokens"] != int64(3) {
		t.Fatalf("team root %+v", root)
	}
	if root.Spans[1].Type != trace.SpanAgent || root.Spans[1].Metadata["run_id"] != "m1-run" ||
		len(root.Spans[1].Spans) != 1 || root.Spans[1].Spans[0].ID != "m1llm" {
		t.Errorf("member 1 %+v", root.Spans[1])
	}
	if root.Spans[2].ID != "m2" || root.Spans[2].Spans != nil {
		t.Errorf("member 2 %+v", root.Spans[2])
	}
	if d.Output != nil || d.Error != nil {
		t.Errorf("no output attribute, no error: %v %v", d.Output, d.Error)
	}
}

// A span whose parent is missing (not yet written, or lost) is a root; a
// cycle does not loop.
func TestDetailOrphansAndCycles(t *testing.T) {
	a := span("a", "zz", "orphan", trace.SpanTool, 5, 1)
	b := span("b", "c", "b", trace.SpanTool, 0, 1)
	c := span("c", "b", "c", trace.SpanTool, 1, 1)
	tr := trace.Summarize("tr", []trace.Span{a, b, c})
	d := trace.Detail(&tr, []trace.Span{a, b, c})
	if len(d.Tree) != 1 || d.Tree[0].ID != "a" {
		t.Errorf("tree %+v", d.Tree)
	}
	if tr.Name != "orphan" {
		t.Errorf("name %q", tr.Name)
	}
	if d := trace.Detail(&trace.Trace{}, nil); d.Tree == nil || len(d.Tree) != 0 {
		t.Errorf("empty trace tree %v", d.Tree)
	}
}

func TestSpanTypeFallbacks(t *testing.T) {
	for _, c := range []struct {
		attrs map[string]any
		team  string
		want  string
	}{
		{map[string]any{trace.AttrSpanType: trace.SpanStep}, "", trace.SpanStep},
		{map[string]any{trace.AttrOpenInferenceKind: "CHAIN"}, "", trace.SpanWorkflow},
		{map[string]any{trace.AttrOpenInferenceKind: "AGENT"}, "t", trace.SpanTeam},
		{map[string]any{trace.AttrOpenInferenceKind: "AGENT"}, "", trace.SpanAgent},
		{map[string]any{trace.AttrOpenInferenceKind: "LLM"}, "", trace.SpanLLM},
		{nil, "", "UNKNOWN"},
	} {
		s := trace.Span{Attributes: c.attrs, TeamID: c.team}
		if got := trace.SpanType(&s); got != c.want {
			t.Errorf("SpanType(%v, team %q) = %q, want %q", c.attrs, c.team, got, c.want)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	for ms, want := range map[int64]string{0: "0ms", 999: "999ms", 1000: "1.00s", 1234: "1.23s", 61000: "61.00s", -5: "0ms"} {
		if got := trace.FormatDuration(ms); got != want {
			t.Errorf("FormatDuration(%d) = %q, want %q", ms, got, want)
		}
	}
}
