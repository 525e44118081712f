package e2e

import (
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpSpans is what a loopback OTLP receiver (OTLP/HTTP or gRPC) keeps
// of the exports it is sent.
type otlpSpans struct {
	mu      sync.Mutex
	spans   map[string][]string // trace id → span names
	parents map[string]string   // span name → parent span id
	service map[string]bool     // service.name values seen
}

func newOTLPSpans() *otlpSpans {
	return &otlpSpans{spans: map[string][]string{}, parents: map[string]string{}, service: map[string]bool{}}
}

// add keeps the spans of an export; r.mu is held.
func (r *otlpSpans) add(ex *coltrace.ExportTraceServiceRequest) {
	for _, rs := range ex.ResourceSpans {
		for _, a := range rs.GetResource().GetAttributes() {
			if a.Key == "service.name" {
				r.service[a.GetValue().GetStringValue()] = true
			}
		}
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				id := hex.EncodeToString(s.TraceId)
				r.spans[id] = append(r.spans[id], s.Name)
				r.parents[s.Name] = hex.EncodeToString(s.ParentSpanId)
			}
		}
	}
}

// names are the names of the spans of the trace received so far.
func (r *otlpSpans) names(traceID string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.spans[traceID]...)
}

// otlpReceiver is a loopback OTLP/HTTP collector: it decodes the
// protobuf export requests the gateway sends to /v1/traces.
type otlpReceiver struct {
	*otlpSpans
	headers []http.Header
}

func newOTLPReceiver(t *testing.T) (*otlpReceiver, string) {
	r := &otlpReceiver{otlpSpans: newOTLPSpans()}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/v1/traces" || req.Method != http.MethodPost {
			http.NotFound(w, req)
			return
		}
		var body io.Reader = req.Body
		if req.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(req.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		b, err := io.ReadAll(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var ex coltrace.ExportTraceServiceRequest
		if err := proto.Unmarshal(b, &ex); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.headers = append(r.headers, req.Header.Clone())
		r.add(&ex)
		r.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
		w.Write(out)
	}))
	t.Cleanup(srv.Close)
	return r, srv.URL
}

// traceTree is what the test reads of GET /traces/{trace_id}.
type traceTree struct {
	TraceID    string      `json:"trace_id"`
	Status     string      `json:"status"`
	TotalSpans int         `json:"total_spans"`
	ErrorCount int         `json:"error_count"`
	RunID      string      `json:"run_id"`
	AgentID    string      `json:"agent_id"`
	Tree       []traceNode `json:"tree"`
}

type traceNode struct {
	ID       string         `json:"id"`
	Name     string         `json:"name"`
	Type     string         `json:"type"`
	Status   string         `json:"status"`
	Error    *string        `json:"error"`
	Metadata map[string]any `json:"metadata"`
	Spans    []traceNode    `json:"spans"`
}

// waitTrace polls GET /traces/{id} until it has want spans.
func waitTrace(t *testing.T, g *gateway, traceID string, want int) traceTree {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		resp := g.get(t, testCtx(t, 5*time.Second), "/traces/"+traceID)
		b := readAll(t, resp)
		if resp.StatusCode == http.StatusOK {
			var tr traceTree
			decode(t, b, &tr)
			if tr.TotalSpans >= want {
				return tr
			}
		}
		last = fmt.Sprintf("%d %s", resp.StatusCode, b)
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("trace %s never had %d spans: %s\n%s", traceID, want, last, tail(g.Logs(), 30))
	return traceTree{}
}

// A REST run with a caller's traceparent and two HTTP tool calls (one of
// them failing), through the binary: the caller's trace continues into the
// gateway (the run span's parent is the caller's span) and out to the HTTP
// tool (its request carries the trace); the spans are stored (GET
// /traces/{id}: the run with its model requests and tools, the failing
// tool and the trace ERROR) and exported over OTLP/HTTP to a collector.
func TestTracingRESTRunToStoreOTLPAndHTTPTool(t *testing.T) {
	t.Parallel()
	recv, otlpURL := newOTLPReceiver(t)
	var mu sync.Mutex
	var toolTraceparents []string
	toolParent := map[string]string{} // tool name → the parent span its request names
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		tp := r.Header.Get("traceparent")
		toolTraceparents = append(toolTraceparents, tp)
		if parts := strings.Split(tp, "-"); len(parts) == 4 {
			toolParent[strings.TrimPrefix(r.URL.Path, "/")] = parts[2]
		}
		mu.Unlock()
		if r.URL.Path == "/broken" {
			http.Error(w, "backend down", http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, `{"temp":21}`)
	}))
	t.Cleanup(api.Close)
	cfg := `
observability:
  otlp_endpoint: "` + otlpURL + `"
  otlp_headers: {x-collector-key: secret-key}
  prometheus_addr: "off"
models:
  m:
    provider: scripted
    model: tracer-1
    script:
      - tool_calls:
          - name: weather
          - name: broken
        reply: "Results: {{tool_result}}"
http_tools:
  weather:
    description: The weather.
    url: "` + api.URL + `/weather"
  broken:
    description: Always fails.
    url: "` + api.URL + `/broken"
agents:
  - id: tracer
    model: m
    tools: [weather, broken]
`
	g := startGateway(t, cfg)
	ctx := testCtx(t, 20*time.Second)
	const callerTrace, callerSpan = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
	form := url.Values{"message": {"weather please"}, "stream": {"false"}}
	resp := g.do(t, ctx, http.MethodPost, "/agents/tracer/runs", strings.NewReader(form.Encode()), "application/x-www-form-urlencoded",
		map[string]string{"traceparent": "00-" + callerTrace + "-" + callerSpan + "-01"})
	var r run
	decode(t, expectStatus(t, resp, http.StatusOK), &r)
	if r.Status != "COMPLETED" {
		t.Fatalf("run %s", r.Status)
	}

	// Out to the HTTP tools: the caller's trace, under the gateway's span.
	mu.Lock()
	tps := append([]string(nil), toolTraceparents...)
	mu.Unlock()
	if len(tps) != 2 {
		t.Fatalf("the tools were called %d times", len(tps))
	}
	for _, tp := range tps {
		parts := strings.Split(tp, "-")
		if len(parts) != 4 || parts[1] != callerTrace || parts[2] == callerSpan || parts[3] != "01" {
			t.Fatalf("the HTTP tool got traceparent %q: want the caller's trace %s under a gateway span", tp, callerTrace)
		}
	}

	// Stored: the run span (parent: the caller's span, not stored, so the
	// root), two model requests and two tools.
	tr := waitTrace(t, g, callerTrace, 5)
	if tr.TotalSpans != 5 || tr.Status != "ERROR" || tr.ErrorCount != 1 || tr.RunID != r.RunID || tr.AgentID != "tracer" {
		t.Fatalf("trace %+v", tr)
	}
	if len(tr.Tree) != 1 || tr.Tree[0].Type != "AGENT" || len(tr.Tree[0].Spans) != 4 {
		t.Fatalf("tree %+v", tr.Tree)
	}
	root := tr.Tree[0]
	if root.Metadata["total_input_tokens"] == nil || root.Metadata["run_id"] != r.RunID {
		t.Fatalf("root metadata %v", root.Metadata)
	}
	kinds := map[string]int{}
	for _, c := range root.Spans {
		kinds[c.Type]++
		if c.Type == "TOOL" {
			name, _ := c.Metadata["tool_name"].(string)
			switch name {
			case "broken":
				if c.Status != "ERROR" || c.Error == nil || !strings.Contains(*c.Error, "500") {
					t.Fatalf("the failing tool's span %+v", c)
				}
			case "weather":
				if c.Status != "OK" {
					t.Fatalf("the weather tool's span %+v", c)
				}
			default:
				t.Fatalf("tool span %+v", c)
			}
		}
		if c.Type == "LLM" && (c.Metadata["model"] != "tracer-1" || c.Metadata["input_tokens"] == nil) {
			t.Fatalf("LLM span %+v", c)
		}
	}
	if kinds["LLM"] != 2 || kinds["TOOL"] != 2 {
		t.Fatalf("children %v", kinds)
	}
	// Each tool's request is parented on that tool's span (not the run's).
	mu.Lock()
	parents := maps.Clone(toolParent)
	mu.Unlock()
	for _, c := range root.Spans {
		if c.Type != "TOOL" {
			continue
		}
		name, _ := c.Metadata["tool_name"].(string)
		if parents[name] != c.ID {
			t.Fatalf("the %s tool's request names parent span %q, want its tool span %s (run span %s)", name, parents[name], c.ID, root.ID)
		}
	}

	// Exported over OTLP with the configured header.
	deadline := time.Now().Add(15 * time.Second)
	for len(recv.names(callerTrace)) < 5 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	names := recv.names(callerTrace)
	if len(names) != 5 {
		t.Fatalf("the collector got %d spans of the trace: %v", len(names), names)
	}
	recv.mu.Lock()
	hdrOK, svc := recv.headers[0].Get("X-Collector-Key") == "secret-key", recv.service["agentgate"]
	recv.mu.Unlock()
	if !hdrOK || !svc {
		t.Fatalf("collector: header %v, service.name agentgate %v", hdrOK, svc)
	}
	if !strings.Contains(strings.Join(names, ","), "invoke_agent tracer") {
		t.Fatalf("span names %v", names)
	}
}

// An unreachable OTLP collector neither fails nor slows runs; the spans
// are still stored.
func TestTracingUnreachableCollector(t *testing.T) {
	t.Parallel()
	// A port that refuses: listen, note it, close.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	cfg := `
observability:
  otlp_endpoint: "http://` + dead + `"
  prometheus_addr: "off"
models:
  m:
    provider: scripted
    model: quick-1
    script:
      - reply: "hello"
agents:
  - id: quick
    model: m
`
	g := startGateway(t, cfg)
	ctx := testCtx(t, 30*time.Second)
	start := time.Now()
	var last run
	for range 20 {
		resp := g.postForm(t, ctx, "/agents/quick/runs", url.Values{"message": {"hi"}, "stream": {"false"}})
		decode(t, expectStatus(t, resp, http.StatusOK), &last)
		if last.Status != "COMPLETED" {
			t.Fatalf("run %s", last.Status)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("20 runs took %v with an unreachable collector", d)
	}
	// The spans are stored all the same.
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		resp := g.get(t, ctx, "/traces?run_id="+last.RunID)
		b := readAll(t, resp)
		if resp.StatusCode == http.StatusOK && bytes.Contains(b, []byte(last.RunID)) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	b := readAll(t, g.get(t, ctx, "/traces?run_id="+last.RunID))
	if !bytes.Contains(b, []byte(last.RunID)) {
		t.Fatalf("the last run's trace is not stored: %s", b)
	}
	// The failures are logged, at a bounded rate.
	deadline = time.Now().Add(15 * time.Second)
	for !strings.Contains(g.Logs(), "OTLP export failed") && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if n := strings.Count(g.Logs(), "OTLP export failed"); n < 1 || n > 3 {
		t.Fatalf("logged %d OTLP failures:\n%s", n, tail(g.Logs(), 20))
	}
}

// A team run through the binary: its stored trace is the team's span with
// one member run span per member beneath it, each with its own model
// request (and the calculating member its tool call).
func TestTracingTeamRunWithMembers(t *testing.T) {
	t.Parallel()
	cfg := `
observability:
  prometheus_addr: "off"
models:
  calc:
    provider: scripted
    model: calc-1
    script:
      - tool_calls:
          - name: calculator
            arguments: {expression: "6*7"}
        reply: "computed {{tool_result}}"
  echo:
    provider: scripted
    model: echo-1
    script:
      - reply: "echo: {{input}}"
agents:
  - id: researcher
    model: calc
    tools: [calculator]
  - id: writer
    model: echo
teams:
  - id: crew
    name: Crew
    mode: broadcast
    members: [researcher, writer]
`
	g := startGateway(t, cfg)
	ctx := testCtx(t, 30*time.Second)
	var r run
	decode(t, expectStatus(t, g.postForm(t, ctx, "/teams/crew/runs", url.Values{"message": {"six times seven"}, "stream": {"false"}}), http.StatusOK), &r)
	if r.Status != "COMPLETED" {
		t.Fatalf("team run %s: %s", r.Status, r.Error)
	}
	var traceID string
	deadline := time.Now().Add(15 * time.Second)
	for traceID == "" && time.Now().Before(deadline) {
		var p struct {
			Data []struct {
				TraceID string `json:"trace_id"`
			} `json:"data"`
		}
		decode(t, expectStatus(t, g.get(t, ctx, "/traces?run_id="+r.RunID), http.StatusOK), &p)
		if len(p.Data) > 0 {
			traceID = p.Data[0].TraceID
		}
		time.Sleep(100 * time.Millisecond)
	}
	if traceID == "" {
		t.Fatalf("no trace of team run %s", r.RunID)
	}
	// team + 2 members + their 3 model requests + 1 tool.
	tr := waitTrace(t, g, traceID, 7)
	if len(tr.Tree) != 1 || tr.Tree[0].Type != "TEAM" || tr.Status != "OK" {
		t.Fatalf("tree %+v", tr.Tree)
	}
	members := map[string]traceNode{}
	for _, c := range tr.Tree[0].Spans {
		if c.Type == "AGENT" {
			members[c.Name] = c
		}
	}
	if len(members) != 2 {
		t.Fatalf("member spans under the team: %+v", tr.Tree[0].Spans)
	}
	count := func(n traceNode, typ string) int {
		k := 0
		for _, c := range n.Spans {
			if c.Type == typ {
				k++
			}
		}
		return k
	}
	for name, m := range members {
		switch {
		case strings.Contains(name, "researcher"):
			if count(m, "LLM") != 2 || count(m, "TOOL") != 1 {
				t.Fatalf("researcher's children %+v", m.Spans)
			}
		case strings.Contains(name, "writer"):
			if count(m, "LLM") != 1 || count(m, "TOOL") != 0 {
				t.Fatalf("writer's children %+v", m.Spans)
			}
		default:
			t.Fatalf("member span %q", name)
		}
	}
}

// TestTracingQueuedRunContinuesTheCallersTrace: a background run is
// stored and executed by a queue worker; the caller's traceparent is kept
// with it, so its spans are in the caller's trace.
func TestTracingQueuedRunContinuesTheCallersTrace(t *testing.T) {
	t.Parallel()
	g := startGateway(t, `
observability:
  prometheus_addr: "off"
models:
  echo:
    provider: scripted
    model: echo-1
    script:
      - reply: "echo: {{input}}"
agents:
  - id: echo
    model: echo
`)
	ctx := testCtx(t, 30*time.Second)
	callerTrace, callerSpan := "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	resp := g.do(t, ctx, http.MethodPost, "/agents/echo/runs", strings.NewReader(url.Values{"message": {"later"}, "stream": {"false"}, "background": {"true"}}.Encode()),
		"application/x-www-form-urlencoded", map[string]string{"traceparent": "00-" + callerTrace + "-" + callerSpan + "-01"})
	var acc struct {
		RunID string `json:"run_id"`
	}
	decode(t, expectStatus(t, resp, http.StatusAccepted), &acc)
	g.waitStatus(t, "echo", acc.RunID, "COMPLETED")
	tr := waitTrace(t, g, callerTrace, 2) // the run and its model request
	if tr.RunID != acc.RunID || len(tr.Tree) != 1 || tr.Tree[0].Type != "AGENT" {
		t.Fatalf("trace %+v", tr)
	}
}
