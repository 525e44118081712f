package tracing_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/propagation"
	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/agent"
	"github.com/agentgate/agentgate/core/model/scripted"
	"github.com/agentgate/agentgate/core/team"
	"github.com/agentgate/agentgate/core/tool"
	"github.com/agentgate/agentgate/core/trace"
	"github.com/agentgate/agentgate/core/trace/tracing"
	"github.com/agentgate/agentgate/core/workflow"
	"github.com/agentgate/agentgate/internal/testutil/enginetest"
)

// memWriter is an in-memory trace.SpanWriter.
type memWriter struct {
	mu    sync.Mutex
	spans []trace.Span
	block chan struct{} // when set, WriteSpans waits for it
	fail  error
}

func (m *memWriter) WriteSpans(ctx context.Context, spans []trace.Span) error {
	if m.block != nil {
		select {
		case <-m.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if m.fail != nil {
		return m.fail
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.spans = append(m.spans, spans...)
	return nil
}

func (m *memWriter) all() []trace.Span {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]trace.Span(nil), m.spans...)
}

func newTracing(t *testing.T, w trace.SpanWriter) *tracing.Tracing {
	t.Helper()
	tr, err := tracing.New(tracing.Config{Writer: w, Store: tracing.StoreOptions{FlushInterval: 10 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
	return tr
}

func scriptedAgent(t *testing.T, id string, rules []scripted.Rule, tools ...*tool.Tool) core.Agent {
	return scriptedAgentTB(t, id, rules, tools...)
}

func tracingNew(w trace.SpanWriter) (*tracing.Tracing, error) {
	return tracing.New(tracing.Config{Writer: w})
}

func scriptedAgentTB(t testing.TB, id string, rules []scripted.Rule, tools ...*tool.Tool) core.Agent {
	t.Helper()
	a, err := agent.New(agent.Config{ID: id, Name: "Agent " + id,
		Model: scripted.New(scripted.Config{Model: id + "-model", Rules: rules}), Tools: tools})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// probe sleeps, records the span context it was called under, and answers.
type probe struct {
	mu  sync.Mutex
	scs []oteltrace.SpanContext
	hdr []string
}

func (p *probe) tool(sleep time.Duration) *tool.Tool {
	return &tool.Tool{Name: "probe", Description: "records its context", Parameters: map[string]any{"type": "object"},
		Call: func(ctx context.Context, _ json.RawMessage) (string, error) {
			time.Sleep(sleep)
			c := propagation.MapCarrier{}
			propagation.TraceContext{}.Inject(ctx, c)
			p.mu.Lock()
			p.scs = append(p.scs, oteltrace.SpanContextFromContext(ctx))
			p.hdr = append(p.hdr, c["traceparent"])
			p.mu.Unlock()
			return "probed", nil
		}}
}

func failing() *tool.Tool {
	return &tool.Tool{Name: "broken", Description: "fails", Parameters: map[string]any{"type": "object"},
		Call: func(context.Context, json.RawMessage) (string, error) { return "", errors.New("the backend is down") }}
}

// spansOf flushes tr and returns the spans of the trace of the run span
// of runID.
func spansOf(t *testing.T, tr *tracing.Tracing, w *memWriter, runID string) (root trace.Span, spans []trace.Span) {
	t.Helper()
	if err := tr.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	all := w.all()
	traceID := ""
	for _, s := range all {
		if s.RunID == runID && s.Attributes[trace.AttrSpanType] != trace.SpanLLM && s.Attributes[trace.AttrSpanType] != trace.SpanTool {
			root, traceID = s, s.TraceID
		}
	}
	if traceID == "" {
		t.Fatalf("no run span of %s among %d spans", runID, len(all))
	}
	for _, s := range all {
		if s.TraceID == traceID {
			spans = append(spans, s)
		}
	}
	return root, spans
}

func byType(spans []trace.Span, typ string) []trace.Span {
	var out []trace.Span
	for _, s := range spans {
		if s.Attributes[trace.AttrSpanType] == typ {
			out = append(out, s)
		}
	}
	return out
}

// A run with two tool calls under a caller's traceparent: the run span
// continues the caller's trace, its model requests and tool calls are its
// children with their kinds, tokens and durations, and the tools are
// called under the run's trace.
func TestRunWithTwoToolCalls(t *testing.T) {
	w := &memWriter{}
	tr := newTracing(t, w)
	p := &probe{}
	a := scriptedAgent(t, "calc", []scripted.Rule{{
		ToolCalls: []scripted.Call{{Name: "calculator", Arguments: map[string]any{"expression": "6*7"}}, {Name: "probe", Arguments: map[string]any{}}},
		Reply:     "the answer is {{tool_result}}",
	}}, tool.Calculator(), p.tool(30*time.Millisecond))
	env := enginetest.New(t, enginetest.Options{}, a)
	env.Engine.AddRunObserver(tr.Observer)

	const callerTrace, callerSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	run, err := env.Engine.RunBlocking(context.Background(), core.StartParams{AgentID: "calc", Message: "what is six times seven?",
		Interface: "rest", UserID: "ann", TraceCarrier: map[string]string{"traceparent": "00-" + callerTrace + "-" + callerSpan + "-01"}})
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != core.RunCompleted {
		t.Fatalf("run %s: %s", run.Status, run.Error)
	}
	root, spans := spansOf(t, tr, w, run.RunID)
	if root.TraceID != callerTrace || root.ParentSpanID != callerSpan {
		t.Fatalf("run span trace %s parent %s: want the caller's %s / %s", root.TraceID, root.ParentSpanID, callerTrace, callerSpan)
	}
	if root.SpanKind != "SERVER" || root.StatusCode != "OK" || root.Name != "invoke_agent Agent calc" {
		t.Fatalf("run span %q kind %s status %s", root.Name, root.SpanKind, root.StatusCode)
	}
	if root.AgentID != "calc" || root.UserID != "ann" || root.SessionID != run.SessionID || root.Attributes[trace.AttrInterface] != "rest" {
		t.Fatalf("run span identity %+v", root)
	}
	if got := root.Attributes[trace.AttrInput]; got != "what is six times seven?" {
		t.Fatalf("input %v", got)
	}
	if got, want := root.Attributes[tracing.AttrGenAIInputTokens], run.Metrics.InputTokens; got != want || want == 0 {
		t.Fatalf("run span input tokens %v, run's %d", got, want)
	}
	llms, tools := byType(spans, trace.SpanLLM), byType(spans, trace.SpanTool)
	if len(llms) != 2 || len(tools) != 2 || len(spans) != 5 {
		t.Fatalf("%d spans: %d LLM, %d tool", len(spans), len(llms), len(tools))
	}
	var in, out int64
	for _, s := range llms {
		if s.ParentSpanID != root.SpanID || s.SpanKind != "CLIENT" || s.StatusCode != "OK" {
			t.Fatalf("LLM span %+v", s)
		}
		if s.Attributes[tracing.AttrGenAIRequestModel] != "calc-model" || s.Attributes[tracing.AttrGenAIOperation] != "chat" ||
			s.Attributes[tracing.AttrGenAIProvider] == nil {
			t.Fatalf("LLM span attributes %v", s.Attributes)
		}
		in += s.Attributes[tracing.AttrGenAIInputTokens].(int64)
		out += s.Attributes[tracing.AttrGenAIOutputTokens].(int64)
	}
	if in != run.Metrics.InputTokens || out != run.Metrics.OutputTokens {
		t.Fatalf("LLM spans' tokens %d/%d, run's %d/%d", in, out, run.Metrics.InputTokens, run.Metrics.OutputTokens)
	}
	names := map[string]trace.Span{}
	for _, s := range tools {
		if s.ParentSpanID != root.SpanID || s.SpanKind != "INTERNAL" || s.StatusCode != "OK" {
			t.Fatalf("tool span %+v", s)
		}
		names[s.Attributes[tracing.AttrGenAIToolName].(string)] = s
	}
	if c := names["calculator"]; c.Attributes[trace.AttrOutput] != "42" || !strings.Contains(c.Attributes[trace.AttrInput].(string), "6*7") {
		t.Fatalf("calculator span %v", c.Attributes)
	}
	// The span runs from ToolCallStarted to ToolCallCompleted as the
	// observer sees them, each stamped as it is told: within a few ms of
	// the tool's own 30 ms, and whole milliseconds round down.
	if pr := names["probe"]; pr.DurationMS < 25 || pr.DurationMS > root.DurationMS {
		t.Fatalf("probe span lasted %dms (slept 30ms), run %dms", pr.DurationMS, root.DurationMS)
	}
	// Every span lies within the run's.
	for _, s := range spans {
		if s.StartTime.Before(root.StartTime) || s.EndTime.After(root.EndTime) {
			t.Fatalf("span %s [%v, %v] outside the run's [%v, %v]", s.Name, s.StartTime, s.EndTime, root.StartTime, root.EndTime)
		}
	}
	// The tool ran under its own span: what it injects continues the
	// trace with the tool's span as the parent (not the run's).
	pr := names["probe"]
	if len(p.scs) != 1 || p.scs[0].TraceID().String() != callerTrace || p.scs[0].SpanID().String() != pr.SpanID ||
		p.hdr[0] != "00-"+callerTrace+"-"+pr.SpanID+"-01" {
		t.Fatalf("the tool's context %v, traceparent %v: want the probe's span %s", p.scs, p.hdr, pr.SpanID)
	}
}

// A failing tool marks its span ERROR; the run goes on and completes.
func TestFailingToolMarksItsSpan(t *testing.T) {
	w := &memWriter{}
	tr := newTracing(t, w)
	a := scriptedAgent(t, "fragile", []scripted.Rule{{
		ToolCalls: []scripted.Call{{Name: "broken", Arguments: map[string]any{}}},
		Reply:     "it said {{tool_result}}",
	}}, failing())
	env := enginetest.New(t, enginetest.Options{}, a)
	env.Engine.AddRunObserver(tr.Observer)
	run, err := env.Engine.RunBlocking(context.Background(), core.StartParams{AgentID: "fragile", Message: "try it"})
	if err != nil {
		t.Fatal(err)
	}
	root, spans := spansOf(t, tr, w, run.RunID)
	if root.ParentSpanID != "" || root.SpanKind != "INTERNAL" {
		t.Fatalf("a run without a caller's trace is a root: %+v", root)
	}
	tools := byType(spans, trace.SpanTool)
	if len(tools) != 1 || tools[0].StatusCode != "ERROR" || !strings.Contains(tools[0].StatusMessage, "the backend is down") {
		t.Fatalf("tool spans %+v", tools)
	}
	if len(tools[0].Events) == 0 || tools[0].Events[0].Name != "exception" {
		t.Fatalf("tool span events %+v", tools[0].Events)
	}
	if sum := trace.Summarize(root.TraceID, spans); sum.Status != trace.StatusError || sum.ErrorCount != 1 {
		t.Fatalf("trace summary %+v", sum)
	}
}

// A run whose model fails: its span and trace are ERROR.
func TestFailingRunIsError(t *testing.T) {
	w := &memWriter{}
	tr := newTracing(t, w)
	env := enginetest.New(t, enginetest.Options{}, scriptedAgent(t, "down", []scripted.Rule{{Error: "the model is down"}}))
	env.Engine.AddRunObserver(tr.Observer)
	run, err := env.Engine.RunBlocking(context.Background(), core.StartParams{AgentID: "down", Message: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	root, spans := spansOf(t, tr, w, run.RunID)
	if run.Status != core.RunError || root.StatusCode != "ERROR" || !strings.Contains(root.StatusMessage, "the model is down") {
		t.Fatalf("run %s, span %s %q", run.Status, root.StatusCode, root.StatusMessage)
	}
	if llm := byType(spans, trace.SpanLLM); len(llm) != 1 || llm[0].StatusCode != "ERROR" {
		t.Fatalf("LLM spans %+v", llm)
	}
}

// A team run with two members: the member runs are children of the team's
// span, their model requests and tools children of theirs.
func TestTeamRunWithMembers(t *testing.T) {
	w := &memWriter{}
	tr := newTracing(t, w)
	calc := scriptedAgent(t, "researcher", []scripted.Rule{{
		ToolCalls: []scripted.Call{{Name: "calculator", Arguments: map[string]any{"expression": "6*7"}}},
		Reply:     "computed {{tool_result}}",
	}}, tool.Calculator())
	echo := scriptedAgent(t, "writer", []scripted.Rule{{Reply: "writer says: {{input}}"}})
	tm, err := team.New(team.Config{ID: "research", Name: "Research",
		Model: scripted.New(scripted.Config{Model: "lead-1", Rules: []scripted.Rule{{
			ToolCalls: []scripted.Call{
				{Name: team.ToolDelegate, Arguments: map[string]any{"member_id": "researcher", "task": "compute"}},
				{Name: team.ToolDelegate, Arguments: map[string]any{"member_id": "writer", "task": "write"}},
			},
			Reply: "Team answer: {{tool_result}}",
		}}}),
		Members: []team.Member{{ID: "researcher", Name: "Agent researcher"}, {ID: "writer", Name: "Agent writer"}}})
	if err != nil {
		t.Fatal(err)
	}
	env := enginetest.New(t, enginetest.Options{}, calc, echo, tm)
	env.Engine.AddRunObserver(tr.Observer)
	run, err := env.Engine.RunBlocking(context.Background(), core.StartParams{TeamID: "research", Message: "six times seven?", Interface: "ws"})
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != core.RunCompleted {
		t.Fatalf("team run %s: %s", run.Status, run.Error)
	}
	root, spans := spansOf(t, tr, w, run.RunID)
	if root.Attributes[trace.AttrSpanType] != trace.SpanTeam || root.TeamID != "research" || root.SpanKind != "SERVER" {
		t.Fatalf("team span %+v", root)
	}
	members := byType(spans, trace.SpanAgent)
	if len(members) != 2 {
		t.Fatalf("%d member spans", len(members))
	}
	byID := map[string]trace.Span{}
	for _, m := range members {
		if m.ParentSpanID == "" {
			t.Fatalf("member span %s is a root", m.Name)
		}
		if m.Attributes[trace.AttrParentRun] != run.RunID || m.Attributes[trace.AttrInterface] != "child" || m.StatusCode != "OK" {
			t.Fatalf("member span %+v", m)
		}
		if m.StartTime.Before(root.StartTime) || m.EndTime.After(root.EndTime) {
			t.Fatalf("member span outside the team's")
		}
		byID[m.AgentID] = m
	}
	// A member's span descends from the team's (directly or through the
	// delegating tool call's span).
	parentOf := map[string]string{}
	for _, s := range spans {
		parentOf[s.SpanID] = s.ParentSpanID
	}
	for _, m := range members {
		found := false
		for p := m.ParentSpanID; p != ""; p = parentOf[p] {
			if p == root.SpanID {
				found = true
			}
		}
		if !found {
			t.Fatalf("member %s does not descend from the team span", m.AgentID)
		}
	}
	r := byID["researcher"]
	var memberTool, memberLLM, leaderLLM int
	for _, s := range spans {
		switch {
		case s.Attributes[trace.AttrSpanType] == trace.SpanTool && s.ParentSpanID == r.SpanID:
			memberTool++
		case s.Attributes[trace.AttrSpanType] == trace.SpanLLM && s.ParentSpanID == r.SpanID:
			memberLLM++
			if s.Attributes[tracing.AttrGenAIRequestModel] != "researcher-model" {
				t.Fatalf("member LLM span %v", s.Attributes)
			}
		case s.Attributes[trace.AttrSpanType] == trace.SpanLLM && s.ParentSpanID == root.SpanID:
			leaderLLM++
		}
	}
	if memberTool != 1 || memberLLM != 2 || leaderLLM != 2 {
		t.Fatalf("researcher: %d tool, %d LLM spans; leader %d LLM spans", memberTool, memberLLM, leaderLLM)
	}
}

// A full queue drops spans, counted, without blocking the span's end; a
// failing store is counted.
func TestStoreProcessorDropsWhenFull(t *testing.T) {
	w := &memWriter{block: make(chan struct{})}
	p := tracing.NewStoreProcessor(w, tracing.StoreOptions{QueueSize: 2, BatchSize: 1, FlushInterval: time.Millisecond})
	tr, err := tracing.New(tracing.Config{})
	if err != nil {
		t.Fatal(err)
	}
	tr.Provider.RegisterSpanProcessor(p)
	tracer := tr.Provider.Tracer("test")
	start := time.Now()
	for range 100 {
		_, s := tracer.Start(context.Background(), "s")
		s.End()
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("100 span ends took %v with a blocked store", d)
	}
	if n := p.Dropped(); n < 90 {
		t.Fatalf("dropped %d of 100 with a queue of 2 and a blocked store", n)
	}
	close(w.block)
	if err := p.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := int64(len(w.all())); n != 100-p.Dropped() || n != p.Written() {
		t.Fatalf("stored %d, written %d, dropped %d", n, p.Written(), p.Dropped())
	}
	w.fail = errors.New("database is down")
	_, s := tracer.Start(context.Background(), "s")
	s.End()
	if err := p.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if p.Failed() != 1 {
		t.Fatalf("failed %d", p.Failed())
	}
	_ = p.Shutdown(context.Background())
}

// Bad configuration is refused.
func TestConfigErrors(t *testing.T) {
	for _, c := range []tracing.Config{
		{SamplingRatio: 2},
		{OTLPEndpoint: "ftp://collector:21"},
		{OTLPEndpoint: "http://"},
		{OTLPEndpoint: "localhost:4318", OTLPProtocol: "thrift"},
	} {
		if _, err := tracing.New(c); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
}

// FuzzTraceCarrier feeds untrusted traceparent and tracestate headers to a
// run's start: never a panic; a valid traceparent is continued, anything
// else starts a new root.
func FuzzTraceCarrier(f *testing.F) {
	for _, s := range [][2]string{
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "rojo=00f067aa0ba902b7"},
		{"00-00000000000000000000000000000000-00f067aa0ba902b7-01", ""},
		{"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", ""},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", ""},
		{"garbage", "a=b,,,=="},
		{"", ""},
	} {
		f.Add(s[0], s[1])
	}
	tr, err := tracing.New(tracing.Config{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
	f.Fuzz(func(t *testing.T, tp, ts string) {
		hdr := map[string]string{"traceparent": tp, "tracestate": ts}
		carrier := core.TraceCarrierOf(func(k string) string { return hdr[k] })
		run := &core.Run{RunID: "r1", AgentID: "a", SessionID: "s"}
		ctx := tr.Observer.RunBegin(context.Background(), run, core.ExecInfo{Interface: "rest", TraceCarrier: carrier})
		sc := oteltrace.SpanContextFromContext(ctx)
		if !sc.IsValid() {
			t.Fatalf("no valid span for traceparent %q", tp)
		}
		if parts := strings.Split(tp, "-"); len(parts) == 4 && len(parts[1]) == 32 && len(parts[2]) == 16 && (parts[3] == "00" || parts[3] == "01") && parts[0] == "00" &&
			parts[1] != strings.Repeat("0", 32) && parts[2] != strings.Repeat("0", 16) && isHex(parts[1]+parts[2]+parts[3]) &&
			sc.TraceID().String() != parts[1] {
			t.Fatalf("valid traceparent %q not continued: trace %s", tp, sc.TraceID())
		}
		tr.Observer.RunEvent(ctx, run, &core.Event{Event: core.EventRunCompleted, RunID: "r1", Content: ts})
		tr.Observer.RunEnd(ctx, run, core.RunCompleted, nil)
	})
}

func isHex(s string) bool {
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return false
		}
	}
	return true
}

// A workflow of two agent steps: a step span per step under the
// workflow's span, and each step's executor run beneath its step.
func TestWorkflowStepsNestUnderTheWorkflow(t *testing.T) {
	w := &memWriter{}
	tr := newTracing(t, w)
	wf, err := workflow.New(workflow.Definition{ID: "pipeline", Name: "Pipeline", Steps: []workflow.Step{
		{Name: "draft", Agent: "drafter"}, {Name: "review", Agent: "reviewer"},
	}}, workflow.Options{})
	if err != nil {
		t.Fatal(err)
	}
	env := enginetest.New(t, enginetest.Options{},
		scriptedAgent(t, "drafter", []scripted.Rule{{Reply: "draft of {{input}}"}}),
		scriptedAgent(t, "reviewer", []scripted.Rule{{Reply: "reviewed {{input}}"}}), wf)
	env.Engine.AddRunObserver(tr.Observer)
	run, err := env.Engine.RunBlocking(context.Background(), core.StartParams{WorkflowID: "pipeline", Message: "a poem"})
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != core.RunCompleted {
		t.Fatalf("workflow %s: %s", run.Status, run.Error)
	}
	root, spans := spansOf(t, tr, w, run.RunID)
	if root.Attributes[trace.AttrSpanType] != trace.SpanWorkflow || root.WorkflowID != "pipeline" {
		t.Fatalf("workflow span %+v", root)
	}
	steps := byType(spans, trace.SpanStep)
	if len(steps) != 2 {
		t.Fatalf("%d step spans", len(steps))
	}
	for _, st := range steps {
		if st.ParentSpanID != root.SpanID || st.StatusCode != "OK" {
			t.Fatalf("step span %+v", st)
		}
		var execs int
		for _, s := range byType(spans, trace.SpanAgent) {
			if s.ParentSpanID == st.SpanID {
				execs++
			}
		}
		if execs != 1 {
			t.Fatalf("step %s has %d executor runs beneath it", st.Name, execs)
		}
	}
}

// A HITL pause and its continue: RunPaused on the first segment's span,
// RunContinued on the continued segment's, which stays in the same trace
// (beneath the paused segment).
func TestPauseAndContinueAreEventsInOneTrace(t *testing.T) {
	w := &memWriter{}
	tr := newTracing(t, w)
	c := tool.Calculator()
	c.RequiresConfirmation = true
	a := scriptedAgent(t, "careful", []scripted.Rule{{
		ToolCalls: []scripted.Call{{Name: "calculator", Arguments: map[string]any{"expression": "6*7"}}},
		Reply:     "approved: {{tool_result}}", RejectedReply: "rejected",
	}}, c)
	env := enginetest.New(t, enginetest.Options{}, a)
	env.Engine.AddRunObserver(tr.Observer)
	ctx := context.Background()
	run, err := env.Engine.RunBlocking(ctx, core.StartParams{AgentID: "careful", Message: "compute", Interface: "rest"})
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != core.RunPaused || len(run.Requirements) != 1 {
		t.Fatalf("run %s with %d requirements", run.Status, len(run.Requirements))
	}
	yes := true
	id := run.Requirements[0].ToolExecution.ToolCallID
	if _, _, err := env.Engine.Continue(ctx, core.ContinueParams{RunID: run.RunID, Interface: "rest",
		Tools: []core.ToolExecution{{ToolCallID: id, Confirmed: &yes}}}); err != nil {
		t.Fatal(err)
	}
	done, err := env.Engine.Wait(ctx, run.RunID, -1)
	if err != nil || done.Status != core.RunCompleted {
		t.Fatalf("continued run %v %v", done, err)
	}
	if err := tr.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
	var segs []trace.Span
	for _, s := range w.all() {
		if s.RunID == run.RunID && s.Attributes[trace.AttrSpanType] == trace.SpanAgent {
			segs = append(segs, s)
		}
	}
	if len(segs) != 2 {
		t.Fatalf("%d run spans", len(segs))
	}
	first, second := segs[0], segs[1]
	if second.Events == nil || first.Events == nil {
		t.Fatalf("events %+v / %+v", first.Events, second.Events)
	}
	if first.Events[0].Name != "RunPaused" || first.Attributes["agentgate.run.status"] != "PAUSED" {
		t.Fatalf("first segment %+v", first)
	}
	if second.Events[0].Name != "RunContinued" || second.TraceID != first.TraceID || second.ParentSpanID != first.SpanID || second.StatusCode != "OK" {
		t.Fatalf("continued segment %+v (first %s/%s)", second, first.TraceID, first.SpanID)
	}
}

// batchWriter records the size of each batch written.
type batchWriter struct {
	mu    sync.Mutex
	sizes []int
	wrote chan struct{} // a batch was written (capacity: enough for the test)
}

func (b *batchWriter) WriteSpans(_ context.Context, spans []trace.Span) error {
	b.mu.Lock()
	b.sizes = append(b.sizes, len(spans))
	b.mu.Unlock()
	b.wrote <- struct{}{}
	return nil
}

func (b *batchWriter) batches() []int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]int(nil), b.sizes...)
}

// The store processor writes a batch as soon as a batch's worth of spans
// has ended (long before the flush interval), leaves fewer pending until
// the interval or a flush, and writes no batch larger than BatchSize.
func TestStoreProcessorBatches(t *testing.T) {
	w := &batchWriter{wrote: make(chan struct{}, 100)}
	p := tracing.NewStoreProcessor(w, tracing.StoreOptions{QueueSize: 100, BatchSize: 4, FlushInterval: time.Hour})
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	tr, err := tracing.New(tracing.Config{})
	if err != nil {
		t.Fatal(err)
	}
	tr.Provider.RegisterSpanProcessor(p)
	tracer := tr.Provider.Tracer("test")
	end := func(n int) {
		for range n {
			_, s := tracer.Start(context.Background(), "s")
			s.End()
		}
	}
	end(3)
	select {
	case <-w.wrote:
		t.Fatalf("3 spans of a batch of 4 written before the interval: %v", w.batches())
	case <-time.After(50 * time.Millisecond):
	}
	end(1)
	select {
	case <-w.wrote:
	case <-time.After(5 * time.Second):
		t.Fatal("a full batch was not written")
	}
	if got := w.batches(); len(got) != 1 || got[0] != 4 {
		t.Fatalf("batches %v, want [4]", got)
	}
	end(10) // two batches kicked, then 2 pending
	if err := p.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, n := range w.batches() {
		if n < 1 || n > 4 {
			t.Fatalf("batch of %d with BatchSize 4: %v", n, w.batches())
		}
		total += n
	}
	if total != 14 || p.Written() != 14 || p.Dropped() != 0 {
		t.Fatalf("wrote %d (%v), Written %d, Dropped %d; want 14", total, w.batches(), p.Written(), p.Dropped())
	}
}

// Spans fewer than a batch are written when the flush interval passes.
func TestStoreProcessorInterval(t *testing.T) {
	w := &batchWriter{wrote: make(chan struct{}, 100)}
	p := tracing.NewStoreProcessor(w, tracing.StoreOptions{BatchSize: 512, FlushInterval: 20 * time.Millisecond})
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	tr, err := tracing.New(tracing.Config{})
	if err != nil {
		t.Fatal(err)
	}
	tr.Provider.RegisterSpanProcessor(p)
	_, s := tr.Provider.Tracer("test").Start(context.Background(), "s")
	s.End()
	select {
	case <-w.wrote:
	case <-time.After(5 * time.Second):
		t.Fatal("a lone span was not written at the flush interval")
	}
	if got := w.batches(); len(got) != 1 || got[0] != 1 {
		t.Fatalf("batches %v, want [1]", got)
	}
}
