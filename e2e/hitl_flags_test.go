package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Human-in-the-loop flags set from config on any tool: requires_user_input
// (the user supplies arguments) and external_execution (the caller runs the
// tool), each continued through POST .../continue.
const hitlFlagsConfig = `
models:
  calc:
    provider: scripted
    model: calc-1
    script:
      - tool_calls:
          - name: calculator
            arguments: {expression: "1+1"}
        reply: "The calculator returned {{tool_result}}."
  clock:
    provider: scripted
    model: clock-1
    script:
      - tool_calls:
          - name: current_time
            arguments: {timezone: "Europe/Paris"}
        reply: "Your clock says {{tool_result}}."
agents:
  - id: inputter
    model: calc
    tools:
      - name: calculator
        requires_user_input: true
        user_input_fields: [expression]
  - id: externer
    model: clock
    tools:
      - name: current_time
        external_execution: true
`

// pausedTool runs agent to its RunPaused and returns the paused run's id,
// the event index of RunPaused and its one tool, decoded.
func pausedTool(t *testing.T, g *gateway, agent string) (string, int64, map[string]any) {
	t.Helper()
	ctx := testCtx(t, 20*time.Second)
	resp := g.postForm(t, ctx, "/agents/"+agent+"/runs", url.Values{"message": {"go"}, "stream": {"true"}})
	expectSSE(t, resp)
	defer resp.Body.Close()
	frames := readFrames(t, resp.Body)
	evs := events(t, frames, 0)
	last := evs[len(evs)-1]
	if last.Event != "RunPaused" || len(last.Tools) != 1 {
		t.Fatalf("want a RunPaused with one tool: %v", types(frames))
	}
	for _, f := range frames {
		if f.Event == "ToolCallStarted" {
			t.Fatalf("the tool ran before the pause was resolved: %v", types(frames))
		}
	}
	var tool map[string]any
	decode(t, last.Tools[0], &tool)
	return last.RunID, last.EventIndex, tool
}

// continueWith continues the run with tools and returns the rest of its
// stream.
func continueWith(t *testing.T, g *gateway, agent, runID string, after int64, tools any) []event {
	t.Helper()
	b, err := json.Marshal(tools)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t, 20*time.Second)
	resp := g.postForm(t, ctx, "/agents/"+agent+"/runs/"+runID+"/continue", url.Values{"tools": {string(b)}})
	expectSSE(t, resp)
	defer resp.Body.Close()
	rest := events(t, readFrames(t, resp.Body), after+1)
	if rest[0].Event != "RunContinued" || rest[len(rest)-1].Event != "RunCompleted" {
		t.Fatalf("continued stream: %v", rest)
	}
	return rest
}

func TestHITLFlags(t *testing.T) {
	t.Parallel()
	g := startGateway(t, hitlFlagsConfig)

	t.Run("user_input", func(t *testing.T) {
		t.Parallel()
		runID, at, tool := pausedTool(t, g, "inputter")
		schema, _ := tool["user_input_schema"].([]any)
		if tool["requires_user_input"] != true || len(schema) != 1 {
			t.Fatalf("paused tool: %v", tool)
		}
		field, _ := schema[0].(map[string]any)
		if field["name"] != "expression" || field["field_type"] != "str" || field["value"] != nil {
			t.Fatalf("user input field: %v", field)
		}
		ctx := testCtx(t, 10*time.Second)
		path := "/agents/inputter/runs/" + runID + "/continue"
		// Without a value, or with a field the tool does not ask for: 400.
		b, _ := json.Marshal([]any{tool})
		expectDetail(t, g.postForm(t, ctx, path, url.Values{"tools": {string(b)}}), http.StatusBadRequest)
		bad := map[string]any{"tool_call_id": tool["tool_call_id"], "user_input_schema": []any{map[string]any{"name": "nope", "value": "1"}}}
		b, _ = json.Marshal([]any{bad})
		expectDetail(t, g.postForm(t, ctx, path, url.Values{"tools": {string(b)}}), http.StatusBadRequest)

		field["value"] = "6*7"
		rest := continueWith(t, g, "inputter", runID, at, []any{tool})
		var got string
		for _, ev := range rest {
			if ev.Event == "ToolCallCompleted" {
				got = ev.Content
			}
		}
		if got != "42" || rest[len(rest)-1].Content != "The calculator returned 42." {
			t.Fatalf("tool returned %q, reply %q", got, rest[len(rest)-1].Content)
		}
		r, raw := g.getRun(t, ctx, "inputter", runID)
		if r.Status != "COMPLETED" || !strings.Contains(string(raw), `"answered":true`) {
			t.Fatalf("stored run: %s", raw)
		}
	})

	t.Run("external_execution", func(t *testing.T) {
		t.Parallel()
		runID, at, tool := pausedTool(t, g, "externer")
		if tool["external_execution_required"] != true || !strings.Contains(mustJSON(t, tool["tool_args"]), "Europe/Paris") {
			t.Fatalf("paused tool: %v", tool)
		}
		ctx := testCtx(t, 10*time.Second)
		b, _ := json.Marshal([]any{tool})
		expectDetail(t, g.postForm(t, ctx, "/agents/externer/runs/"+runID+"/continue", url.Values{"tools": {string(b)}}), http.StatusBadRequest)
		tool["result"] = "half past four"
		rest := continueWith(t, g, "externer", runID, at, []any{tool})
		if final := rest[len(rest)-1].Content; final != "Your clock says half past four." {
			t.Fatalf("reply %q", final)
		}
	})
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
