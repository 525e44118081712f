package prom_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/agent"
	"github.com/agentgate/agentgate/core/metric/prom"
	"github.com/agentgate/agentgate/core/model/scripted"
	"github.com/agentgate/agentgate/internal/testutil/enginetest"
	"github.com/agentgate/agentgate/storage/memlog"
)

func scrape(t *testing.T, m *prom.Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(rec.Body.String()))
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// value sums the family's samples whose labels include want.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	var sum float64
	f := fams[name]
	if f == nil {
		return -1
	}
next:
	for _, m := range f.Metric {
		got := map[string]string{}
		for _, l := range m.Label {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if got[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum
}

func TestObserverRunModelTool(t *testing.T) {
	m := prom.New()
	o := m.Observer()
	run := &core.Run{RunID: "r1", AgentID: "assistant"}
	ctx := o.RunBegin(context.Background(), run, core.ExecInfo{Interface: "rest"})
	if v := value(scrape(t, m), "agentgate_runs_active", map[string]string{"interface": "rest"}); v != 1 {
		t.Fatalf("active runs %v", v)
	}
	ev := func(e core.Event) { e.RunID = "r1"; o.RunEvent(ctx, run, &e) }
	ev(core.Event{Event: core.EventRunStarted})
	ev(core.Event{Event: core.EventModelRequestStarted, Model: "m1"})
	ev(core.Event{Event: core.EventModelRequestCompleted, Model: "m1", InputTokens: 7, OutputTokens: 3})
	ev(core.Event{Event: core.EventToolCallStarted, Tool: &core.ToolExecution{ToolCallID: "c1", ToolName: "current_time"}})
	ev(core.Event{Event: core.EventToolCallCompleted, Tool: &core.ToolExecution{ToolCallID: "c1", ToolName: "current_time"}})
	ev(core.Event{Event: "TeamToolCallStarted", Tool: &core.ToolExecution{ToolCallID: "c2", ToolName: "calc"}})
	ev(core.Event{Event: core.EventToolCallError, Tool: &core.ToolExecution{ToolCallID: "c2", ToolName: "calc", ToolCallError: true}})
	ev(core.Event{Event: core.EventRunContent, Content: "hi"})
	o.RunEnd(ctx, run, core.RunStatus("COMPLETED"), nil)

	f := scrape(t, m)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"agentgate_runs_started_total", map[string]string{"kind": "agent", "interface": "rest"}, 1},
		{"agentgate_runs_finished_total", map[string]string{"kind": "agent", "status": "COMPLETED", "interface": "rest"}, 1},
		{"agentgate_runs_active", map[string]string{"interface": "rest"}, 0},
		{"agentgate_run_duration_seconds", map[string]string{"kind": "agent"}, 1},
		{"agentgate_run_ttfe_seconds", map[string]string{"kind": "agent"}, 1},
		{"agentgate_model_request_duration_seconds", map[string]string{"model": "m1"}, 1},
		{"agentgate_model_tokens_total", map[string]string{"model": "m1", "direction": "input"}, 7},
		{"agentgate_model_tokens_total", map[string]string{"model": "m1", "direction": "output"}, 3},
		{"agentgate_tool_call_duration_seconds", nil, 2},
		{"agentgate_tool_calls_total", map[string]string{"tool": "current_time", "outcome": "ok"}, 1},
		{"agentgate_tool_call_errors_total", map[string]string{"tool": "calc"}, 1},
	} {
		if got := value(f, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if f["go_goroutines"] == nil || f["process_start_time_seconds"] == nil {
		t.Error("Go runtime or process collector missing")
	}
}

func TestObserverBoundsLabels(t *testing.T) {
	m := prom.New()
	o := m.Observer()
	run := &core.Run{RunID: "r", AgentID: "a"}
	ctx := o.RunBegin(context.Background(), run, core.ExecInfo{})
	for i := range prom.MaxLabelValues + 10 {
		o.RunEvent(ctx, run, &core.Event{Event: core.EventToolCallError, Tool: &core.ToolExecution{ToolCallID: "x", ToolName: "t" + string(rune('A'+i%26)) + string(rune('a'+i/26))}})
	}
	f := scrape(t, m)
	if n := len(f["agentgate_tool_call_errors_total"].Metric); n > prom.MaxLabelValues+1 {
		t.Fatalf("%d tool label values", n)
	}
	if value(f, "agentgate_tool_call_errors_total", map[string]string{"tool": "other"}) != 10 {
		t.Fatal("overflow not counted as other")
	}
}

func TestEventLogWrapperKeepsInterfacesAndCountsResumes(t *testing.T) {
	m := prom.New()
	inner := memlog.New(core.EventLogConfig{MaxEventsPerRun: 2})
	log := prom.WrapEventLog(inner, m)
	defer log.Close()
	for _, ok := range []bool{
		func() bool { _, ok := log.(core.BatchAppender); return ok }(),
		func() bool { _, ok := log.(core.CancelNotifier); return ok }(),
		func() bool { p, ok := log.(core.ProcessLocal); return ok && p.ProcessLocal() }(),
	} {
		if !ok {
			t.Fatal("an optional interface of memlog was lost by the wrapper")
		}
	}
	if _, ok := log.(core.FinishingAppender); ok {
		t.Fatal("the wrapper claims FinishingAppender, which memlog does not have")
	}
	ctx := context.Background()
	for range 4 {
		if _, err := log.Append(ctx, &core.Event{RunID: "r", Event: core.EventRunContent}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := log.(core.BatchAppender).AppendAll(ctx, []*core.Event{{RunID: "r", Event: core.EventRunCompleted}}, true); err != nil {
		t.Fatal(err)
	}
	sub, err := log.Subscribe(ctx, core.ReadParams{RunID: "r", After: 3})
	if err != nil {
		t.Fatal(err)
	}
	if v := value(scrape(t, m), "agentgate_eventlog_subscriptions", nil); v != 1 {
		t.Fatalf("subscriptions %v", v)
	}
	sub.Close()
	sub.Close()
	var ge *core.GoneError
	if _, err := log.Subscribe(ctx, core.ReadParams{RunID: "r", After: 0}); !errors.As(err, &ge) {
		t.Fatalf("old cursor: %v, want GoneError", err)
	}
	f := scrape(t, m)
	// Resumes are the engine's to count (TestResumesCountedHoweverServed):
	// the wrapper must not count them again.
	if got := value(f, "agentgate_stream_resumes_total", nil); got != 0 {
		t.Errorf("resumes counted by the log wrapper: %v", got)
	}
	if value(f, "agentgate_eventlog_subscriptions", nil) != 0 {
		t.Error("subscription gauge not back to 0")
	}
	if value(f, "agentgate_eventlog_op_duration_seconds", map[string]string{"op": "append"}) != 4 ||
		value(f, "agentgate_eventlog_op_duration_seconds", map[string]string{"op": "append_all"}) != 1 {
		t.Error("append latencies not recorded")
	}
	if value(f, "agentgate_eventlog_errors_total", nil) > 0 {
		t.Errorf("a refused resume counted as a log failure: %v", f["agentgate_eventlog_errors_total"])
	}
}

// A resume is counted however the engine serves it: from the cache of
// ended runs or a replayed segment (no log subscription), and a cursor
// whose events are gone is refused.
func TestResumesCountedHoweverServed(t *testing.T) {
	m := prom.New()
	a, err := agent.New(agent.Config{ID: "echo", Name: "Echo", Model: scripted.New(scripted.Config{Model: "m",
		Rules: []scripted.Rule{{Reply: "one two three four five six seven eight"}}})})
	if err != nil {
		t.Fatal(err)
	}
	env := enginetest.New(t, enginetest.Options{Log: core.EventLogConfig{MaxEventsPerRun: 3}}, a)
	env.Engine.AddRunObserver(m.Observer())
	ctx := context.Background()
	run, err := env.Engine.RunBlocking(ctx, core.StartParams{AgentID: "echo", Message: "go"})
	if err != nil || run.Status != core.RunCompleted {
		t.Fatalf("run %v %v", run, err)
	}
	resumes := func() (exact, refused float64) {
		f := scrape(t, m)
		return value(f, "agentgate_stream_resumes_total", map[string]string{"outcome": "exact"}),
			value(f, "agentgate_stream_resumes_total", map[string]string{"outcome": "refused"})
	}
	stored, err := env.Store.GetRun(ctx, run.RunID)
	if err != nil {
		t.Fatal(err)
	}
	// After the next-to-last event: still kept.
	s, err := env.Engine.SubscribeRun(ctx, stored, stored.EventCount-2)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if e, r := resumes(); e != 1 || r != 0 {
		t.Fatalf("after an exact resume: exact %v refused %v", e, r)
	}
	// A fresh subscription (no cursor) is not a resume.
	s, err = env.Engine.SubscribeRun(ctx, stored, -1)
	if err == nil {
		s.Close()
	}
	if e, r := resumes(); e != 1 || r != 0 {
		t.Fatalf("a subscription from the start counted as a resume: exact %v refused %v", e, r)
	}
	// After the first event: trimmed away (3 kept of %d).
	var ge *core.GoneError
	if s, err := env.Engine.SubscribeRun(ctx, stored, 0); !errors.As(err, &ge) {
		if s != nil {
			s.Close()
		}
		t.Fatalf("resume after event 0 of %d with 3 kept: %v, want a GoneError", stored.EventCount, err)
	}
	if e, r := resumes(); e != 1 || r != 1 {
		t.Fatalf("after a refused resume: exact %v refused %v", e, r)
	}
}

// The store's write transactions, the trace exporter's counts: present and
// moving.
func TestStoreWritesAndTraceSpans(t *testing.T) {
	m := prom.New()
	var dropped, failed int64
	if err := m.TraceSpans(func() int64 { return dropped }, func() int64 { return failed }, func() int64 { return 0 }); err != nil {
		t.Fatal(err)
	}
	env := enginetest.New(t, enginetest.Options{})
	env.Store.ObserveWrites(func(d time.Duration, group int, err error) { m.StoreWrite("sqlite", d, group, err) })
	if err := env.Store.CreateRun(context.Background(), &core.Run{RunID: "r1", AgentID: "a", SessionID: "s", Status: core.RunRunning}); err != nil {
		t.Fatal(err)
	}
	depth := int64(4)
	if err := m.QueueDepth(func(context.Context) (int64, error) { return depth, nil }); err != nil {
		t.Fatal(err)
	}
	m.QueueJob("run", 20*time.Millisecond, time.Second, nil)
	m.QueueJob("job", 0, time.Millisecond, errors.New("down"))
	dropped, failed = 3, 2
	// The writer observes a transaction after it has answered the writes
	// in it: wait for the observation rather than race it.
	f := scrape(t, m)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); f = scrape(t, m) {
		if g := f["agentgate_store_write_group_size"]; g != nil && g.Metric[0].Histogram.GetSampleSum() >= 1 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if v := value(f, "agentgate_queue_depth", nil); v != 4 {
		t.Errorf("queue depth %v", v)
	}
	if v := value(f, "agentgate_queue_job_wait_seconds", map[string]string{"kind": "run"}); v != 1 {
		t.Errorf("job waits %v", v)
	}
	if v := value(f, "agentgate_queue_job_duration_seconds", map[string]string{"kind": "job", "outcome": "error"}); v != 1 {
		t.Errorf("failed job attempts %v", v)
	}
	if v := value(f, "agentgate_store_write_duration_seconds", map[string]string{"backend": "sqlite"}); v < 1 {
		t.Errorf("store write latency samples %v", v)
	}
	if g := f["agentgate_store_write_group_size"]; g == nil || g.Metric[0].Histogram.GetSampleSum() < 1 {
		t.Errorf("store write group sizes %v", g)
	}
	if v := value(f, "agentgate_trace_spans_dropped_total", nil); v != 3 {
		t.Errorf("dropped spans %v", v)
	}
	if v := value(f, "agentgate_trace_spans_failed_total", map[string]string{"sink": "store"}); v != 2 {
		t.Errorf("failed spans %v", v)
	}
}
