package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

var adminRE = regexp.MustCompile(`admin listener\W.*?\baddr=(\S+)`)

// adminURL waits for the gateway's admin listener line and returns its URL.
func adminURL(t *testing.T, g *gateway) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := adminRE.FindStringSubmatch(g.Logs()); m != nil {
			return "http://" + m[1]
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no admin listener line:\n%s", g.Logs())
	return ""
}

// promScrape scrapes /metrics and parses it with the official text parser.
func promScrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// promValue sums the samples of name whose labels include want (-1: no
// such family).
func promValue(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	f := fams[name]
	if f == nil {
		return -1
	}
	var sum float64
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

const promModels = `  clock:
    provider: scripted
    model: clock-1
    script:
      - tool_calls:
          - name: current_time
        reply: "It is {{tool_result}}."
`

const promAgents = `  - id: timer
    name: Timer
    model: clock
    tools: [current_time]
`

// TestPrometheusMetrics makes runs over REST (blocking, with a tool call),
// an SSE stream, a WebSocket socket and a resume, then scrapes the admin
// listener and checks the families moved. pprof is off by default.
func TestPrometheusMetrics(t *testing.T) { promRuns(t, false) }

// TestPrometheusRunCounters is TestPrometheusMetrics with the run, model
// and tool families the RunObserver records: they move once core's
// observer call sites (the tracing work) are merged.
func TestPrometheusRunCounters(t *testing.T) { promRuns(t, true) }

func promRuns(t *testing.T, runFamilies bool) {
	t.Parallel()
	g := startGateway(t, wsConfigMore("observability:\n  prometheus_addr: 127.0.0.1:0\n", promModels, promAgents))
	admin := adminURL(t, g)
	ctx := testCtx(t, 30*time.Second)
	before := promScrape(t, admin)
	for _, name := range []string{"go_goroutines", "process_start_time_seconds", "agentgate_stream_resumes_total"} {
		if before[name] == nil {
			t.Errorf("family %s missing before any run", name)
		}
	}

	// A blocking REST run with a tool call.
	resp := g.postForm(t, ctx, "/agents/timer/runs", url.Values{"message": {"time?"}, "stream": {"false"}})
	body := expectStatus(t, resp, 200)
	// An SSE stream, then a resume after its first event.
	resp = g.postForm(t, ctx, "/agents/quick/runs", url.Values{"message": {"hi"}, "stream": {"true"}})
	expectSSE(t, resp)
	frames := readFrames(t, resp.Body)
	resp.Body.Close()
	evs := events(t, frames, 0)
	runID := evs[0].RunID
	resp = g.get(t, ctx, "/agents/quick/runs/"+runID+"/stream?last_event_index=0")
	expectSSE(t, resp)
	_ = readFrames(t, resp.Body)
	resp.Body.Close()
	// A background run: a queue job.
	resp = g.postForm(t, ctx, "/agents/quick/runs", url.Values{"message": {"later"}, "stream": {"false"}, "background": {"true"}})
	expectStatus(t, resp, 202)
	// A WebSocket run; the socket stays open for the scrape.
	w, _ := wsDial(t, g, nil)
	w.send(map[string]any{"action": "start", "id": 1, "agent_id": "quick", "message": "hello"})
	ack := w.expect("ack")
	w.untilEnd(ack.RunID, 0)

	var after map[string]*dto.MetricFamily
	check := func() []string {
		after = promScrape(t, admin)
		var bad []string
		for _, c := range []struct {
			name   string
			labels map[string]string
			min    float64
		}{
			{"agentgate_eventlog_op_duration_seconds", nil, 1},
			{"agentgate_active_sockets", map[string]string{"interface": "ws"}, 1},
			{"agentgate_runs_started_total", map[string]string{"interface": "rest"}, 2},
			{"agentgate_runs_started_total", map[string]string{"interface": "ws"}, 1},
			{"agentgate_runs_finished_total", map[string]string{"status": "COMPLETED"}, 3},
			{"agentgate_run_duration_seconds", nil, 3},
			{"agentgate_run_ttfe_seconds", nil, 3},
			{"agentgate_model_request_duration_seconds", nil, 3},
			{"agentgate_tool_call_duration_seconds", map[string]string{"tool": "current_time"}, 1},
			{"agentgate_store_write_duration_seconds", map[string]string{"backend": "sqlite"}, 1},
			{"agentgate_store_write_group_size", map[string]string{"backend": "sqlite"}, 1},
			{"agentgate_stream_resumes_total", map[string]string{"outcome": "exact"}, 1},
			{"agentgate_queue_job_wait_seconds", map[string]string{"kind": "run"}, 1},
			{"agentgate_queue_job_duration_seconds", map[string]string{"kind": "run", "outcome": "ok"}, 1},
			{"agentgate_queue_depth", nil, 0},
			{"agentgate_trace_spans_dropped_total", nil, 0},
			{"agentgate_trace_spans_failed_total", map[string]string{"sink": "store"}, 0},
		} {
			if !runFamilies && strings.Contains(c.name, "_run") && !strings.Contains(c.name, "eventlog") || !runFamilies && strings.Contains(c.name, "model_") || !runFamilies && strings.Contains(c.name, "tool_") {
				continue
			}
			if got := promValue(after, c.name, c.labels); got < c.min {
				bad = append(bad, c.name)
			}
		}
		return bad
	}
	var bad []string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if bad = check(); len(bad) == 0 {
			break
		}
	}
	if len(bad) > 0 {
		for name, f := range after {
			if strings.HasPrefix(name, "agentgate_") {
				t.Logf("%s: %d series", name, len(f.Metric))
			}
		}
		t.Errorf("families that did not move: %v\n(run body %s)", bad, body)
	}
	if v := promValue(after, "agentgate_active_streams", map[string]string{"interface": "rest"}); v != 0 {
		t.Errorf("active SSE streams after they ended: %v", v)
	}
	if r, err := http.Get(admin + "/debug/pprof/"); err != nil || r.StatusCode != 404 {
		t.Errorf("pprof off by default: %v %v", r.StatusCode, err)
	}
	// /metrics on the public listener stays AgentOS's route, not Prometheus.
	resp = g.get(t, ctx, "/metrics")
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(b), "go_goroutines") {
		t.Error("the public /metrics serves Prometheus exposition")
	}
}

// TestPrometheusAuthFailuresAndPprof counts a refused key and serves pprof
// when observability.pprof is on.
func TestPrometheusAuthFailuresAndPprof(t *testing.T) {
	t.Parallel()
	g := startGateway(t, wsConfig("auth_mode: key\nsecurity_key: s3cret-key-for-tests\nobservability:\n  prometheus_addr: 127.0.0.1:0\n  pprof: true\n"))
	admin := adminURL(t, g)
	ctx := testCtx(t, 20*time.Second)
	resp := g.do(t, ctx, http.MethodGet, "/agents", nil, "", map[string]string{"Authorization": "Bearer wrong"})
	expectStatus(t, resp, 401)
	if v := promValue(promScrape(t, admin), "agentgate_auth_failures_total", map[string]string{"reason": "invalid_key"}); v < 1 {
		t.Errorf("auth failures by reason invalid_key = %v", v)
	}
	r, err := http.Get(admin + "/debug/pprof/goroutine?debug=1")
	if err != nil || r.StatusCode != 200 {
		t.Fatalf("pprof on: %v %v", r, err)
	}
	r.Body.Close()
}

// TestPrometheusAdminOff: prometheus_addr off starts no admin listener.
func TestPrometheusAdminOff(t *testing.T) {
	t.Parallel()
	g := startGateway(t, wsConfig("observability:\n  prometheus_addr: \"off\"\n"))
	time.Sleep(300 * time.Millisecond)
	if adminRE.MatchString(g.Logs()) {
		t.Fatalf("admin listener started although off:\n%s", g.Logs())
	}
}

// TestPrometheusAuthFailuresEveryInterface: refusals are counted by reason
// and interface wherever they happen — the credential middleware (REST),
// a route that needs a credential the request lacks (MCP, A2A), a
// WebSocket's refused auth message (each one), a bad Slack signature —
// and a request is counted once.
func TestPrometheusAuthFailuresEveryInterface(t *testing.T) {
	t.Parallel()
	g := startGateway(t, wsConfig("auth_mode: jwt\njwt_key: \""+wsSecret+"\"\nauth:\n  jwt_algorithm: HS256\n"+
		"slack:\n  signing_secret: prom-slack-secret\n  bot_token: xoxb-prom-test\n  agent: quick\n"+
		"observability:\n  prometheus_addr: 127.0.0.1:0\n"))
	admin := adminURL(t, g)
	ctx := testCtx(t, 20*time.Second)
	fails := func(labels map[string]string) float64 {
		return promValue(promScrape(t, admin), "agentgate_auth_failures_total", labels)
	}
	before := max(fails(nil), 0) // -1: no family yet

	resp := g.do(t, ctx, http.MethodGet, "/agents", nil, "", map[string]string{"Authorization": "Bearer not-a-jwt"})
	expectStatus(t, resp, 401)
	if v := fails(map[string]string{"interface": "rest"}); v != 1 {
		t.Errorf("REST refusals %v, want 1 (counted once though the route refuses it too)", v)
	}
	resp = g.do(t, ctx, http.MethodPost, "/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`), "application/json",
		map[string]string{"Accept": "application/json, text/event-stream"})
	expectStatus(t, resp, 401)
	if v := fails(map[string]string{"interface": "mcp"}); v != 1 {
		t.Errorf("MCP refusals %v, want 1", v)
	}
	resp = g.do(t, ctx, http.MethodPost, "/a2a/agents/quick", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"message/send","params":{"message":{"role":"user","messageId":"m1","parts":[{"kind":"text","text":"hi"}]}}}`),
		"application/json", nil)
	resp.Body.Close()
	if v := fails(map[string]string{"interface": "a2a"}); v != 1 {
		t.Errorf("A2A refusals %v, want 1 (status %d)", v, resp.StatusCode)
	}
	w, _ := wsDial(t, g, nil)
	for i := range 2 {
		w.send(map[string]any{"action": "authenticate", "id": i + 1, "token": "garbage"})
		if f := w.expect("error"); f.Code != "unauthorized" {
			t.Fatalf("authenticate with garbage: %s", f)
		}
	}
	if v := fails(map[string]string{"interface": "ws"}); v != 2 {
		t.Errorf("WebSocket auth message refusals %v, want 2", v)
	}
	resp = g.do(t, ctx, http.MethodPost, "/slack/events", strings.NewReader(`{"type":"event_callback"}`), "application/json",
		map[string]string{"X-Slack-Request-Timestamp": fmt.Sprint(time.Now().Unix()), "X-Slack-Signature": "v0=" + strings.Repeat("0", 64)})
	expectStatus(t, resp, 401)
	if v := fails(map[string]string{"interface": "slack", "reason": "signature"}); v != 1 {
		t.Errorf("Slack signature refusals %v, want 1", v)
	}
	if v := fails(nil); v != before+6 {
		for _, m := range promScrape(t, admin)["agentgate_auth_failures_total"].GetMetric() {
			t.Logf("%v %v", m.GetLabel(), m.GetCounter().GetValue())
		}
		t.Errorf("auth failures moved by %v, want 6", v-before)
	}
}
