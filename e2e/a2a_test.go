package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestA2ACards: each agent's card and the gateway card are served with an
// ETag and Cache-Control, a current copy gets 304, and the URLs in them
// work (the card's JSON-RPC interface answers).
func TestA2ACards(t *testing.T) {
	t.Parallel()
	g := startGateway(t, a2aAgents)
	resp, b := callHeader(t, g, http.MethodGet, "/a2a/agents/approval-demo/.well-known/agent-card.json", nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("card: %d %s", resp.StatusCode, b)
	}
	tag, cc := resp.Header.Get("ETag"), resp.Header.Get("Cache-Control")
	if !strings.HasPrefix(tag, `"`) || !strings.Contains(cc, "max-age=") {
		t.Errorf("card headers: ETag %q, Cache-Control %q", tag, cc)
	}
	var card struct {
		Name                string `json:"name"`
		Description         string `json:"description"`
		Version             string `json:"version"`
		URL                 string `json:"url"`
		ProtocolVersion     string `json:"protocolVersion"`
		SupportedInterfaces []struct {
			URL, ProtocolBinding, ProtocolVersion, Tenant string
		} `json:"supportedInterfaces"`
		Capabilities struct {
			Streaming, PushNotifications bool
		} `json:"capabilities"`
		Skills []struct {
			ID   string   `json:"id"`
			Tags []string `json:"tags"`
		} `json:"skills"`
	}
	decode(t, b, &card)
	endpoint := g.URL + "/a2a/agents/approval-demo"
	if card.Name != "Approval demo" || card.Description != "Asks before it runs its calculator." || card.URL != endpoint ||
		card.ProtocolVersion != "0.3.0" || !card.Capabilities.Streaming || !card.Capabilities.PushNotifications {
		t.Errorf("card: %s", b)
	}
	bindings := map[string]bool{}
	for _, i := range card.SupportedInterfaces {
		if i.URL != endpoint {
			t.Errorf("interface URL %s, want %s", i.URL, endpoint)
		}
		bindings[i.ProtocolBinding+" "+i.ProtocolVersion] = true
	}
	if !bindings["JSONRPC 1.0"] || !bindings["HTTP+JSON 1.0"] || !bindings["JSONRPC 0.3"] {
		t.Errorf("interfaces: %+v", card.SupportedInterfaces)
	}
	if len(card.Skills) != 1 || card.Skills[0].ID != "approval-demo" || strings.Join(card.Skills[0].Tags, ",") != "agent,calculator" {
		t.Errorf("skills: %+v", card.Skills)
	}
	resp, b = callHeader(t, g, http.MethodGet, "/a2a/agents/approval-demo/.well-known/agent-card.json", nil, map[string]string{"If-None-Match": tag})
	if resp.StatusCode != http.StatusNotModified || len(b) != 0 {
		t.Errorf("If-None-Match: %d %q", resp.StatusCode, b)
	}

	// The gateway card: agents as skills, the gateway interface with the
	// agent as tenant.
	resp, b = callHeader(t, g, http.MethodGet, "/.well-known/agent-card.json", nil, nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") == "" {
		t.Fatalf("gateway card: %d %s", resp.StatusCode, b)
	}
	decode(t, b, &card)
	var skills, tenants []string
	for _, s := range card.Skills {
		skills = append(skills, s.ID)
	}
	for _, i := range card.SupportedInterfaces {
		if i.ProtocolBinding == "JSONRPC" {
			tenants = append(tenants, i.Tenant)
		}
	}
	if strings.Join(skills, ",") != "assistant,story,approval-demo" || strings.Join(tenants, ",") != "assistant,story,approval-demo" {
		t.Errorf("gateway card skills %v, tenants %v", skills, tenants)
	}
	// The gateway interface answers with the tenant naming the agent.
	var sent struct {
		Task a2aTask `json:"task"`
	}
	params := a2aMessage("through the gateway", nil)
	params["tenant"] = "assistant"
	a2aResult(t, g, "", "/a2a/agents", "SendMessage", params, &sent)
	if sent.Task.Status.State != "TASK_STATE_COMPLETED" || !strings.Contains(sent.Task.text(), "You said: through the gateway") {
		t.Errorf("gateway SendMessage: %+v", sent.Task)
	}
}

// TestA2AStreamOutlivesItsClient: a streamed task's first frame comes while
// the run is still going (the stream is live, not a replay at the end); a
// client that drops the stream does not cancel the task; resubscribing
// (HTTP+JSON, by GET) replays from the event log and follows to the end,
// with the whole answer.
func TestA2AStreamOutlivesItsClient(t *testing.T) {
	t.Parallel()
	g := startGateway(t, a2aAgents)
	body, err := json.Marshal(a2aMessage("a story", nil))
	if err != nil {
		t.Fatal(err)
	}
	next, drop := a2aSSE(t, g, "", http.MethodPost, "/a2a/agents/story/message:stream", body)
	var first []a2aStreamItem
	for len(first) < 3 {
		b, err := next()
		if err != nil {
			t.Fatalf("after %d items: %v", len(first), err)
		}
		first = append(first, a2aItems(t, [][]byte{b}, false)...)
	}
	if first[0].Task == nil {
		t.Fatalf("first item is not the task: %+v", first[0])
	}
	taskID := first[0].Task.ID
	r, _ := g.getRun(t, testCtx(t, 10*time.Second), "story", taskID)
	if r.Status != "RUNNING" {
		t.Fatalf("the run is %s after the first frames: the stream is not live", r.Status)
	}
	drop()
	// The task goes on without its stream.
	time.Sleep(200 * time.Millisecond)
	if r, _ := g.getRun(t, testCtx(t, 10*time.Second), "story", taskID); r.Status != "RUNNING" {
		t.Fatalf("the run is %s after the client dropped its stream, want RUNNING", r.Status)
	}
	next, _ = a2aSSE(t, g, "", http.MethodGet, "/a2a/agents/story/tasks/"+taskID+":subscribe", nil)
	items := a2aItems(t, a2aReadAll(t, next), false)
	if items[0].Task == nil || items[0].Task.ID != taskID {
		t.Fatalf("resubscribe: first item %+v", items[0])
	}
	if s := a2aLastState(items); s != "TASK_STATE_COMPLETED" {
		t.Fatalf("resubscribe ended %s", s)
	}
	final, _ := g.waitStatus(t, "story", taskID, "COMPLETED")
	if got := a2aText(items); got != final.Content || got != words(30) {
		t.Errorf("resubscribed answer %q, stored %q", got, final.Content)
	}
}

// TestA2APushNotifications: a config given with the message makes the
// gateway POST every update of the task to the webhook with its token; a
// webhook that fails (503) twice still gets every update, in order (at
// least once: the failed ones again).
func TestA2APushNotifications(t *testing.T) {
	t.Parallel()
	g := startGateway(t, a2aAgentsLoopbackHooks)
	var mu sync.Mutex
	var accepted []a2aStreamItem
	var tokens []string
	calls := 0
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls <= 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		var it a2aStreamItem
		if err := json.Unmarshal(b, &it); err != nil {
			t.Errorf("notification is not a StreamResponse: %s", b)
		}
		accepted = append(accepted, it)
		tokens = append(tokens, r.Header.Get("X-A2A-Notification-Token")+"|"+r.Header.Get("Authorization"))
	}))
	defer hook.Close()

	params := a2aMessage("hello", nil)
	params["configuration"] = map[string]any{"taskPushNotificationConfig": map[string]any{
		"url": hook.URL + "/notify", "token": "tok-9", "authentication": map[string]any{"scheme": "Bearer", "credentials": "hook-secret"}}}
	var sent struct {
		Task a2aTask `json:"task"`
	}
	a2aResult(t, g, "", "/a2a/agents/assistant", "SendMessage", params, &sent)
	if sent.Task.Status.State != "TASK_STATE_COMPLETED" {
		t.Fatalf("task %+v", sent.Task)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		done := a2aLastState(accepted) == "TASK_STATE_COMPLETED"
		mu.Unlock()
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no completed notification; gateway log:\n%s", tail(g.Logs(), 3000))
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if accepted[0].StatusUpdate == nil || accepted[0].StatusUpdate.Status.State != "TASK_STATE_WORKING" {
		t.Errorf("first notification %+v, want the working update (retried after the 503s)", accepted[0])
	}
	if got := a2aText(accepted); got != sent.Task.text() {
		t.Errorf("notified answer %q, want %q", got, sent.Task.text())
	}
	for _, tok := range tokens {
		if tok != "tok-9|Bearer hook-secret" {
			t.Errorf("notification credentials %q", tok)
		}
	}
	// The config is the task's: listed, then deleted.
	var list struct {
		Configs []struct{ ID, TaskID, URL string } `json:"configs"`
	}
	a2aResult(t, g, "", "/a2a/agents/assistant", "ListTaskPushNotificationConfigs", map[string]any{"taskId": sent.Task.ID}, &list)
	if len(list.Configs) != 1 || list.Configs[0].TaskID != sent.Task.ID || list.Configs[0].URL != hook.URL+"/notify" {
		t.Fatalf("configs %+v", list.Configs)
	}
	resp, b := callHeader(t, g, http.MethodDelete, "/a2a/agents/assistant/tasks/"+sent.Task.ID+"/pushNotificationConfigs/"+list.Configs[0].ID, nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("delete: %d %s", resp.StatusCode, b)
	}
}
