package sqlstore

import (
	"strings"
	"testing"

	"github.com/agentgate/agentgate/core"
)

// TestRunExtraKeepsTheTraceCarrier: the caller's trace context is stored
// with a run (so a queued run continues the caller's trace on any
// replica), and a run without one still has no extra column.
func TestRunExtraKeepsTheTraceCarrier(t *testing.T) {
	if col, err := EncodeRunExtra(&core.Run{RunID: "plain"}); err != nil || col != nil {
		t.Fatalf("an agent run's extra column: %v, %v; want NULL", col, err)
	}
	carrier := map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "tracestate": "k=v"}
	col, err := EncodeRunExtra(&core.Run{RunID: "r", TraceCarrier: carrier})
	if err != nil {
		t.Fatal(err)
	}
	s, ok := col.(string)
	if !ok {
		t.Fatalf("extra column %T", col)
	}
	var back core.Run
	if err := DecodeRunExtra(&back, []byte(s)); err != nil {
		t.Fatal(err)
	}
	if back.TraceCarrier["traceparent"] != carrier["traceparent"] || back.TraceCarrier["tracestate"] != "k=v" {
		t.Fatalf("decoded %v from %s", back.TraceCarrier, s)
	}
}

// TestRunExtraKeepsTheEvalRunID: an eval iteration's tag survives the
// column, and an agent run with only the tag is not NULL.
func TestRunExtraKeepsTheEvalRunID(t *testing.T) {
	col, err := EncodeRunExtra(&core.Run{RunID: "r", EvalRunID: "ev1"})
	if err != nil || col == nil {
		t.Fatalf("encode = %v, %v", col, err)
	}
	s, _ := col.(string)
	if !strings.Contains(s, `"eval_run_id":"ev1"`) {
		t.Fatalf("column %s lacks eval_run_id", s)
	}
	var back core.Run
	if err := DecodeRunExtra(&back, []byte(s)); err != nil || back.EvalRunID != "ev1" {
		t.Fatalf("decoded %q, %v", back.EvalRunID, err)
	}
}

// TestRunExtraKeepsTheComponentVersion: a component's run stores the
// version it runs under component_version (so it continues with it on any
// replica).
func TestRunExtraKeepsTheComponentVersion(t *testing.T) {
	col, err := EncodeRunExtra(&core.Run{RunID: "r", ComponentVersion: 3})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := col.(string)
	if s != `{"component_version":3}` {
		t.Fatalf("extra column %q", s)
	}
	var back core.Run
	if err := DecodeRunExtra(&back, []byte(s)); err != nil || back.ComponentVersion != 3 {
		t.Fatalf("decoded %d, %v", back.ComponentVersion, err)
	}
}
