package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestA2APushEgress: push notifications cannot be aimed inside. Through
// the real A2A interface, a config naming a loopback, private, link-local
// (metadata) address or a name resolving to loopback is refused with
// invalid params, on both method generations; the one allow-listed
// webhook (127.0.0.1:<its port>) gets its notifications; a redirect from
// it to a loopback listener that is not listed is refused at the dial, so
// that listener is never reached, and the refusal is logged once per
// notification without retries.
func TestA2APushEgress(t *testing.T) {
	t.Parallel()
	var internalHits atomic.Int64
	internal := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { internalHits.Add(1) }))
	defer internal.Close()
	var mu sync.Mutex
	var states []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, internal.URL+"/steal", http.StatusTemporaryRedirect)
			return
		}
		var it a2aStreamItem
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &it); err != nil {
			t.Errorf("notification is not a StreamResponse: %s", b)
		}
		mu.Lock()
		if it.StatusUpdate != nil {
			states = append(states, it.StatusUpdate.Status.State)
		}
		mu.Unlock()
	}))
	defer hook.Close()
	hookURL, _ := url.Parse(hook.URL)
	internalURL, _ := url.Parse(internal.URL)
	g := startGateway(t, a2aAgents+"egress:\n  allow: [\""+hookURL.Host+"\"]\n")

	var sent struct {
		Task a2aTask `json:"task"`
	}
	a2aResult(t, g, "", "/a2a/agents/assistant", "SendMessage", a2aMessage("hello", nil), &sent)
	refused := []string{
		internal.URL + "/x", // loopback, another port than the allowed one
		"http://10.1.2.3/x", // private
		"http://192.168.0.10:8080/x",
		"http://169.254.169.254/latest/meta-data/", // link-local: cloud metadata
		"http://[fe80::1]:80/x",
		"http://localhost:" + internalURL.Port() + "/x", // a name resolving to loopback
		"http://[::ffff:127.0.0.1]:" + internalURL.Port() + "/x",
		"http://0.0.0.0:" + internalURL.Port() + "/x",
	}
	for _, u := range refused {
		_, out := a2aCall(t, g, "", "/a2a/agents/assistant", "CreateTaskPushNotificationConfig", map[string]any{"taskId": sent.Task.ID, "url": u})
		if out.Error == nil || out.Error.Code != -32602 || !strings.Contains(out.Error.Message, "is refused") {
			t.Errorf("v1.0 config %s: %+v %s, want invalid params (refused)", u, out.Error, out.Result)
		}
		_, out = a2aCall(t, g, "", "/a2a/agents/assistant", "tasks/pushNotificationConfig/set",
			map[string]any{"taskId": sent.Task.ID, "pushNotificationConfig": map[string]any{"url": u}})
		if out.Error == nil || out.Error.Code != -32602 {
			t.Errorf("v0.3 config %s: %+v, want invalid params", u, out.Error)
		}
		resp, b := callHeader(t, g, http.MethodPost, "/a2a/agents/assistant/tasks/"+sent.Task.ID+"/pushNotificationConfigs",
			jsonBody(t, map[string]any{"url": u}), map[string]string{"A2A-Version": "1.0"})
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "is refused") {
			t.Errorf("HTTP+JSON config %s: %d %s, want 400 (refused)", u, resp.StatusCode, b)
		}
		params := a2aMessage("hi", nil)
		params["configuration"] = map[string]any{"taskPushNotificationConfig": map[string]any{"url": u}}
		_, out = a2aCall(t, g, "", "/a2a/agents/assistant", "SendMessage", params)
		if out.Error == nil || out.Error.Code != -32602 {
			t.Errorf("message with config %s: %+v, want invalid params", u, out.Error)
		}
	}

	// The allowed webhook works.
	params := a2aMessage("hello", nil)
	params["configuration"] = map[string]any{"taskPushNotificationConfig": map[string]any{"url": hook.URL + "/ok"}}
	a2aResult(t, g, "", "/a2a/agents/assistant", "SendMessage", params, &sent)
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		done := len(states) > 0 && states[len(states)-1] == "TASK_STATE_COMPLETED"
		mu.Unlock()
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the allowed webhook got no completed notification (states %v); gateway log:\n%s", states, tail(g.Logs(), 3000))
		}
		time.Sleep(20 * time.Millisecond)
	}

	// A redirect from the allowed webhook to loopback is refused at the
	// dial: one drop per notification, no retry.
	params = a2aMessage("hello", nil)
	params["configuration"] = map[string]any{"taskPushNotificationConfig": map[string]any{"url": hook.URL + "/redirect"}}
	a2aResult(t, g, "", "/a2a/agents/assistant", "SendMessage", params, &sent)
	// Every notification of the task (working, the artifact chunks,
	// completed) is dropped; wait for a few.
	deadline = time.Now().Add(20 * time.Second)
	for !dropsAtLeast(g.Logs(), sent.Task.ID, 3) {
		if time.Now().After(deadline) {
			t.Fatalf("refused deliveries not logged; gateway log:\n%s", tail(g.Logs(), 3000))
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, line := range strings.Split(g.Logs(), "\n") {
		if strings.Contains(line, "notification dropped") && strings.Contains(line, sent.Task.ID) {
			if !strings.Contains(line, "attempts=1") || !strings.Contains(line, "(loopback)") {
				t.Errorf("drop line %q, want one attempt refused as loopback", line)
			}
		}
	}
	if n := internalHits.Load(); n != 0 {
		t.Fatalf("the internal listener was reached %d times", n)
	}
}

// dropsAtLeast counts the log's dropped notifications of the task.
func dropsAtLeast(logs, taskID string, n int) bool {
	c := 0
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, "notification dropped") && strings.Contains(line, taskID) {
			c++
		}
	}
	return c >= n
}

// TestHTTPToolEgress: an HTTP tool whose URL template lets the arguments
// (the model, so whoever writes the prompt) choose the host is held to the
// egress rules: a call to a loopback listener that is not allowed fails
// as a refused ToolCallError without reaching it, one to the allowed
// ip:port works; a tool whose host the operator wrote is not affected.
func TestHTTPToolEgress(t *testing.T) {
	t.Parallel()
	var internalHits atomic.Int64
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		internalHits.Add(1)
		_, _ = io.WriteString(w, "internal "+r.URL.Path)
	}))
	defer internal.Close()
	allowed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "allowed") }))
	defer allowed.Close()
	ih, ah := strings.TrimPrefix(internal.URL, "http://"), strings.TrimPrefix(allowed.URL, "http://")
	cfg := `
egress:
  allow: ["` + ah + `"]
models:
  m:
    provider: scripted
    model: tools-1
    script:
      - tool_calls:
          - name: fetch_public
            arguments: {target: "` + ah + `"}
          - name: fetch_inside
            arguments: {target: "` + ih + `"}
          - name: fixed
        reply: "done"
http_tools:
  fetch_public:
    description: Fetch from any host.
    parameters: {type: object, properties: {target: {type: string}}}
    url: "http://{+target}/x"
  fetch_inside:
    description: Fetch from any host.
    parameters: {type: object, properties: {target: {type: string}}}
    url: "http://{+target}/x"
  fixed:
    description: The operator's own internal API.
    url: "` + internal.URL + `/fixed"
agents:
  - id: tooler
    model: m
    tools: [fetch_public, fetch_inside, fixed]
`
	g := startGateway(t, cfg)
	ctx := testCtx(t, 20*time.Second)
	resp := g.postForm(t, ctx, "/agents/tooler/runs", url.Values{"message": {"go"}, "stream": {"true"}})
	expectSSE(t, resp)
	defer resp.Body.Close()
	results := map[string]string{}
	for _, ev := range events(t, readFrames(t, resp.Body), 0) {
		if ev.Event != "ToolCallCompleted" && ev.Event != "ToolCallError" {
			continue
		}
		var tool struct {
			ToolName string `json:"tool_name"`
			Result   string `json:"result"`
		}
		decode(t, *ev.Tool, &tool)
		results[tool.ToolName] = ev.Event + " " + tool.Result
	}
	if r := results["fetch_public"]; r != "ToolCallCompleted allowed" {
		t.Errorf("fetch_public: %q", r)
	}
	if r := results["fetch_inside"]; !strings.HasPrefix(r, "ToolCallError") || !strings.Contains(r, "is refused (loopback)") {
		t.Errorf("fetch_inside: %q, want refused", r)
	}
	if r := results["fixed"]; r != "ToolCallCompleted internal /fixed" {
		t.Errorf("fixed: %q", r)
	}
	if n := internalHits.Load(); n != 1 {
		t.Errorf("the internal listener was reached %d times, want once (the fixed tool)", n)
	}
}
