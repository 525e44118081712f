package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/agentgate/agentgate/auth"
)

// TestA2AAuth: in jwt mode the cards stay public (and name the bearer
// scheme); a JSON-RPC call without a token, or with a bad one, is refused
// with HTTP 401 and a JSON-RPC error (so are HTTP+JSON and streaming calls);
// a token without agents:<id>:run gets 403; with the scope every method
// works, in both generations; under user isolation another user's task is
// not found and lists show only one's own.
func TestA2AAuth(t *testing.T) {
	t.Parallel()
	g := startGateway(t, jwtConfig("auth:\n  jwt_algorithm: HS256\n"))
	const ep = "/a2a/agents/assistant"

	// Public cards.
	for _, path := range []string{ep + "/.well-known/agent-card.json", "/.well-known/agent-card.json"} {
		resp, b := call(t, g, "", http.MethodGet, path, nil)
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"bearerFormat":"JWT"`) || !strings.Contains(string(b), `"security":[{"bearer":[]}]`) {
			t.Errorf("%s without a token: %d %s", path, resp.StatusCode, truncateBody(b))
		}
	}

	// No token, a bad token: 401 with the challenge and a JSON-RPC error.
	for _, tok := range []string{"", "not-a-jwt", mintMC(t, auth.MintConfig{}, "alice", -time.Hour, "agents:run")} {
		for _, method := range []string{"SendMessage", "message/send", "SendStreamingMessage", "GetTask"} {
			params := a2aMessage("hi", nil)
			if method == "GetTask" {
				params = map[string]any{"id": "x"}
			}
			if method == "message/send" {
				params = map[string]any{"message": map[string]any{"kind": "message", "messageId": "m", "role": "user",
					"parts": []any{map[string]any{"kind": "text", "text": "hi"}}}}
			}
			resp, out := a2aCall(t, g, tok, ep, method, params)
			if resp.StatusCode != http.StatusUnauthorized || out.Error == nil || out.Error.Code != -32000 ||
				!strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s with token %.12q: %d %+v", method, tok, resp.StatusCode, out.Error)
			}
		}
		resp, b := call(t, g, tok, http.MethodPost, ep+"/message:send", jsonBody(t, a2aMessage("hi", nil)))
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(b), `"status":"UNAUTHENTICATED"`) {
			t.Errorf("HTTP+JSON with token %.12q: %d %s", tok, resp.StatusCode, truncateBody(b))
		}
	}

	// A token for another agent: 403, naming the scope needed.
	other := mint(t, "alice", "agents:approval-demo:run")
	for _, method := range []string{"SendMessage", "GetTask", "CancelTask", "CreateTaskPushNotificationConfig"} {
		resp, out := a2aCall(t, g, other, ep, method, map[string]any{"id": "x", "taskId": "x", "url": "http://127.0.0.1:9/x"})
		if resp.StatusCode != http.StatusForbidden || out.Error == nil || !strings.Contains(out.Error.Message, "agents:assistant:run") {
			t.Errorf("%s with another agent's scope: %d %+v", method, resp.StatusCode, out.Error)
		}
	}
	resp, b := call(t, g, other, http.MethodGet, ep+"/tasks", nil)
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("ListTasks (HTTP+JSON) with another agent's scope: %d %s", resp.StatusCode, truncateBody(b))
	}

	// With the scope: both generations work.
	alice := mint(t, "alice", "agents:assistant:run")
	var sent struct {
		Task a2aTask `json:"task"`
	}
	a2aResult(t, g, alice, ep, "SendMessage", a2aMessage("from alice", nil), &sent)
	if sent.Task.Status.State != "TASK_STATE_COMPLETED" {
		t.Fatalf("alice's task %+v", sent.Task)
	}
	var v03 struct {
		Kind   string                 `json:"kind"`
		ID     string                 `json:"id"`
		Status struct{ State string } `json:"status"`
	}
	a2aResult(t, g, alice, ep, "tasks/get", map[string]any{"id": sent.Task.ID}, &v03)
	if v03.Kind != "task" || v03.ID != sent.Task.ID || v03.Status.State != "completed" {
		t.Errorf("tasks/get: %+v", v03)
	}

	// Another user with the same rights does not see alice's task or
	// conversation.
	bob := mint(t, "bob", "agents:run")
	_, out := a2aCall(t, g, bob, ep, "GetTask", map[string]any{"id": sent.Task.ID})
	if out.Error == nil || out.Error.Code != -32001 {
		t.Errorf("bob's GetTask of alice's task: %+v %s", out.Error, out.Result)
	}
	_, out = a2aCall(t, g, bob, ep, "SendMessage", a2aMessage("into alice's conversation", map[string]any{"contextId": sent.Task.ContextID}))
	if out.Error == nil || out.Error.Code != -32602 {
		t.Errorf("bob writing into alice's context: %+v %s", out.Error, out.Result)
	}
	resp, b = call(t, g, bob, http.MethodGet, ep+"/tasks/"+sent.Task.ID, nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("bob's HTTP+JSON GetTask of alice's task: %d %s", resp.StatusCode, truncateBody(b))
	}
	var list struct {
		Tasks     []a2aTask `json:"tasks"`
		TotalSize int       `json:"totalSize"`
	}
	a2aResult(t, g, bob, ep, "ListTasks", map[string]any{}, &list)
	if list.TotalSize != 0 {
		t.Errorf("bob lists %d tasks", list.TotalSize)
	}
	a2aResult(t, g, alice, ep, "ListTasks", map[string]any{}, &list)
	if list.TotalSize != 1 || list.Tasks[0].ID != sent.Task.ID {
		t.Errorf("alice lists %+v", list)
	}
}
