package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// A2A continues runs paused for user input or for a result the caller
// computes: the input-required status names what is needed, a plain "yes"
// is refused naming the missing field, and a data part with user_input or
// result goes on to completion.
func TestA2AUserInputAndExternalResult(t *testing.T) {
	t.Parallel()
	g := startGateway(t, hitlFlagsConfig)
	send := func(agent string, parts []any, taskID string) (a2aRPC, a2aTask) {
		msg := map[string]any{"messageId": fmt.Sprintf("m-%d", a2aRPCID.Add(1)), "role": "ROLE_USER", "parts": parts}
		if taskID != "" {
			msg["taskId"] = taskID
		}
		_, out := a2aCall(t, g, "", "/a2a/agents/"+agent, "SendMessage", map[string]any{"message": msg})
		var res struct {
			Task a2aTask `json:"task"`
		}
		if out.Error == nil {
			decode(t, out.Result, &res)
		}
		return out, res.Task
	}
	text := func(s string) []any { return []any{map[string]any{"text": s}} }
	data := func(v any) []any { return []any{map[string]any{"data": v}} }
	toolCallID := func(task a2aTask) string {
		var m struct {
			Parts []struct {
				Data struct {
					Type  string `json:"type"`
					Tools []struct {
						ToolCallID string `json:"tool_call_id"`
					} `json:"tools"`
				} `json:"data"`
			} `json:"parts"`
		}
		decode(t, task.Status.Message, &m)
		for _, p := range m.Parts {
			if p.Data.Type == "input_required" && len(p.Data.Tools) == 1 {
				return p.Data.Tools[0].ToolCallID
			}
		}
		t.Fatalf("no input_required data part: %s", task.Status.Message)
		return ""
	}

	_, task := send("inputter", text("go"), "")
	if task.Status.State != "TASK_STATE_INPUT_REQUIRED" || !strings.Contains(string(task.Status.Message), `user_input_schema`) {
		t.Fatalf("task: %s %s", task.Status.State, task.Status.Message)
	}
	id := toolCallID(task)
	if out, _ := send("inputter", text("yes"), task.ID); out.Error == nil || !strings.Contains(out.Error.Message, "expression") {
		t.Fatalf("a bare yes: %+v", out.Error)
	}
	_, done := send("inputter", data(map[string]any{"tools": []any{map[string]any{"tool_call_id": id, "user_input": map[string]any{"expression": "6*7"}}}}), task.ID)
	if done.Status.State != "TASK_STATE_COMPLETED" || done.text() != "The calculator returned 42." {
		b, _ := json.Marshal(done)
		t.Fatalf("after user input: %s", b)
	}

	_, task = send("externer", text("go"), "")
	id = toolCallID(task)
	if !strings.Contains(string(task.Status.Message), "runs on your side") {
		t.Fatalf("status message: %s", task.Status.Message)
	}
	_, done = send("externer", data(map[string]any{"tools": []any{map[string]any{"tool_call_id": id, "result": "noon"}}}), task.ID)
	if done.Status.State != "TASK_STATE_COMPLETED" || done.text() != "Your clock says noon." {
		b, _ := json.Marshal(done)
		t.Fatalf("after the result: %s", b)
	}
}
