package mcptool

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	oteltrace "go.opentelemetry.io/otel/trace"
)

// A tool call made under a run's span carries its W3C trace context to the
// MCP server: in the request's _meta and, over HTTP, in its headers.
func TestCallCarriesTraceContext(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var headers []string
	var bodies []string
	inner := streamable(false)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(b))
		if bytes.Contains(b, []byte(`"tools/call"`)) {
			mu.Lock()
			headers = append(headers, r.Header.Get("traceparent"))
			bodies = append(bodies, string(b))
			mu.Unlock()
		}
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	s := start(t, httpConfig(ts.URL+"/mcp"))
	tid, _ := oteltrace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := oteltrace.SpanIDFromHex("00f067aa0ba902b7")
	ctx := oteltrace.ContextWithSpanContext(context.Background(),
		oteltrace.NewSpanContext(oteltrace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: oteltrace.FlagsSampled}))
	want := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	if _, err := find(s.Tools(), "t_echo").Call(ctx, []byte(`{"text":"hi"}`)); err != nil {
		t.Fatal(err)
	}
	// Without a span: nothing is sent.
	if _, err := find(s.Tools(), "t_echo").Call(context.Background(), []byte(`{"text":"hi"}`)); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(headers) != 2 || headers[0] != want || headers[1] != "" {
		t.Fatalf("traceparent headers %q", headers)
	}
	var first, second struct {
		Params struct {
			Meta map[string]any `json:"_meta"`
		} `json:"params"`
	}
	if err := json.Unmarshal([]byte(bodies[0]), &first); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(bodies[1]), &second); err != nil {
		t.Fatal(err)
	}
	if first.Params.Meta["traceparent"] != want || second.Params.Meta["traceparent"] != nil {
		t.Fatalf("_meta %v, then %v", first.Params.Meta, second.Params.Meta)
	}
}
