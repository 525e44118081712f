package prom_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/core/metric/prom"
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
	for name, want := range map[string]float64{
		"exact": 1, "refused": 1,
	} {
		if got := value(f, "agentgate_stream_resumes_total", map[string]string{"outcome": name}); got != want {
			t.Errorf("resumes %s = %v", name, got)
		}
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
