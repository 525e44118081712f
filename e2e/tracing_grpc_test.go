package e2e

import (
	"context"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// grpcReceiver is an in-process OTLP/gRPC trace receiver: the collector's
// TraceService on a loopback listener, keeping what it is sent.
type grpcReceiver struct {
	coltrace.UnimplementedTraceServiceServer
	*otlpSpans
	keys []string // x-collector-key of each export
}

func (r *grpcReceiver) Export(ctx context.Context, req *coltrace.ExportTraceServiceRequest) (*coltrace.ExportTraceServiceResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.keys = append(r.keys, strings.Join(md.Get("x-collector-key"), ","))
	r.add(req)
	return &coltrace.ExportTraceServiceResponse{}, nil
}

func newGRPCReceiver(t *testing.T) (*grpcReceiver, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &grpcReceiver{otlpSpans: newOTLPSpans()}
	srv := grpc.NewServer()
	coltrace.RegisterTraceServiceServer(srv, r)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return r, ln.Addr().String()
}

// A REST run under a caller's traceparent, exported over OTLP/gRPC
// (observability.otlp_protocol: grpc, host:port, insecure) to an
// in-process receiver: every span of the run's trace arrives, with the
// configured header as gRPC metadata and the run span parented on the
// caller's span.
func TestTracingOTLPGRPCExport(t *testing.T) {
	t.Parallel()
	recv, addr := newGRPCReceiver(t)
	cfg := `
observability:
  otlp_endpoint: "` + addr + `"
  otlp_protocol: grpc
  otlp_insecure: true
  otlp_headers: {x-collector-key: grpc-secret}
  prometheus_addr: "off"
models:
  m:
    provider: scripted
    model: grpc-1
    script:
      - tool_calls:
          - name: current_time
        reply: "It is {{tool_result}}."
agents:
  - id: grpcer
    model: m
    tools: [current_time]
`
	g := startGateway(t, cfg)
	ctx := testCtx(t, 20*time.Second)
	const callerTrace, callerSpan = "5bf92f3577b34da6a3ce929d0e0e4737", "10f067aa0ba902b8"
	form := url.Values{"message": {"time please"}, "stream": {"false"}}
	resp := g.do(t, ctx, "POST", "/agents/grpcer/runs", strings.NewReader(form.Encode()), "application/x-www-form-urlencoded",
		map[string]string{"traceparent": "00-" + callerTrace + "-" + callerSpan + "-01"})
	var r run
	decode(t, expectStatus(t, resp, 200), &r)
	if r.Status != "COMPLETED" {
		t.Fatalf("run %s", r.Status)
	}
	// The run span, two model requests and the tool call.
	deadline := time.Now().Add(15 * time.Second)
	for len(recv.names(callerTrace)) < 4 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	names := recv.names(callerTrace)
	if len(names) != 4 {
		t.Fatalf("the gRPC collector got %d spans of the trace: %v", len(names), names)
	}
	joined := strings.Join(names, ",")
	if !strings.Contains(joined, "invoke_agent grpcer") || !strings.Contains(joined, "execute_tool current_time") ||
		!strings.Contains(joined, "chat grpc-1") {
		t.Fatalf("span names %v", names)
	}
	recv.mu.Lock()
	defer recv.mu.Unlock()
	if len(recv.keys) == 0 || recv.keys[0] != "grpc-secret" || !recv.service["agentgate"] {
		t.Fatalf("exports' x-collector-key %q, service.name agentgate %v", recv.keys, recv.service["agentgate"])
	}
	for name, parent := range recv.parents {
		if strings.HasPrefix(name, "invoke_agent") && parent != callerSpan {
			t.Fatalf("run span %q parent %s, want the caller's %s", name, parent, callerSpan)
		}
	}
}
