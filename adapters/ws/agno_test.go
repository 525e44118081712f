package ws

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	fws "github.com/fasthttp/websocket"

	"github.com/agentgate/agentgate/auth"
	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/internal/testutil/runnabletest"
)

// agnoMsg is one server message of /workflows/ws: a JSON object, or a live
// event in SSE format (live true; name is its "event:" line).
type agnoMsg struct {
	live bool
	name string
	m    map[string]any
}

func readAgno(t *testing.T, c *fws.Conn) agnoMsg {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, b, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	var out agnoMsg
	if strings.HasPrefix(string(b), "event: ") {
		head, data, ok := strings.Cut(string(b), "\ndata: ")
		if !ok || !strings.HasSuffix(data, "\n\n") {
			t.Fatalf("malformed SSE-style frame %q", b)
		}
		out.live, out.name, b = true, strings.TrimPrefix(head, "event: "), []byte(strings.TrimSuffix(data, "\n\n"))
	}
	if err := json.Unmarshal(b, &out.m); err != nil {
		t.Fatalf("frame is not JSON: %q", b)
	}
	if out.live && out.m["event"] != out.name {
		t.Fatalf("event line %q, data event %v", out.name, out.m["event"])
	}
	return out
}

func dialAgno(t *testing.T, e *wsEnv, header http.Header) (*fws.Conn, map[string]any) {
	t.Helper()
	url := strings.TrimSuffix(e.url, Path) + AgnoPath
	c, resp, err := fws.DefaultDialer.Dial(url, header)
	if err != nil {
		t.Fatalf("dial %s: %v (%v)", url, err, resp)
	}
	t.Cleanup(func() { _ = c.Close() })
	first := readAgno(t, c)
	if first.live || first.m["event"] != "connected" {
		t.Fatalf("first frame %+v", first)
	}
	return c, first.m
}

func TestAgnoWorkflowSocket(t *testing.T) {
	t.Parallel()
	all := append(runnabletest.All(), &paceAgent{id: "pace", n: 6, size: 3, delay: 60 * time.Millisecond},
		&runnabletest.Workflow{ID: "slowflow", Steps: []string{"pace"}})
	e := startWS(t, Config{}, all...)
	c, hello := dialAgno(t, e, nil)
	if hello["requires_auth"] != false {
		t.Fatalf("connected = %v", hello)
	}
	sendFrame(t, c, map[string]any{"action": "ping"})
	if m := readAgno(t, c); m.m["event"] != "pong" {
		t.Fatalf("ping → %+v", m)
	}

	// start-workflow: every event live, in SSE format, with run_id and event_index.
	sendFrame(t, c, map[string]any{"action": "start-workflow", "workflow_id": "pipeline", "message": "hi", "extra": "ignored"})
	var evs []agnoMsg
	for {
		m := readAgno(t, c)
		if !m.live {
			t.Fatalf("non-live frame while running: %+v", m)
		}
		evs = append(evs, m)
		if m.name == "WorkflowCompleted" {
			break
		}
	}
	if evs[0].name != "WorkflowStarted" || evs[0].m["event_index"] != 0.0 || evs[0].m["run_id"] == nil {
		t.Fatalf("first event %+v", evs[0])
	}
	runID := evs[0].m["run_id"].(string)
	if last := evs[len(evs)-1].m; last["content"] != "echo: echo: hi" {
		t.Fatalf("WorkflowCompleted = %v", last)
	}

	// reconnect to the finished run: replay, then the missed events as plain JSON.
	sendFrame(t, c, map[string]any{"action": "reconnect", "run_id": runID, "workflow_id": "pipeline", "last_event_index": len(evs) - 3})
	meta := readAgno(t, c)
	if meta.live || meta.m["event"] != "replay" || meta.m["status"] != "completed" || meta.m["total_events"] != 2.0 {
		t.Fatalf("replay meta = %+v", meta)
	}
	for i := 0; i < 2; i++ {
		m := readAgno(t, c)
		if m.live || m.m["event_index"] != float64(len(evs)-2+i) {
			t.Fatalf("replayed %d = %+v", i, m)
		}
	}

	// A running workflow, followed from a second socket: catch_up, the
	// missed events, subscribed, then live ones.
	sendFrame(t, c, map[string]any{"action": "start-workflow", "workflow_id": "slowflow", "message": "go"})
	var slowRun string
	for i := 0; i < 4; i++ { // WorkflowStarted, StepStarted and the member's first events
		m := readAgno(t, c)
		if i == 0 {
			slowRun, _ = m.m["run_id"].(string)
		}
	}
	_ = c.Close() // a dropped socket does not cancel the workflow (background)
	c2, _ := dialAgno(t, e, nil)
	sendFrame(t, c2, map[string]any{"action": "reconnect", "run_id": slowRun, "last_event_index": 0})
	meta = readAgno(t, c2)
	if meta.m["event"] != "catch_up" || meta.m["status"] != "running" {
		t.Fatalf("catch_up meta = %+v", meta)
	}
	missed := int(meta.m["missed_events"].(float64))
	for i := 0; i < missed; i++ {
		if m := readAgno(t, c2); m.live || m.m["event_index"] != float64(i+1) {
			t.Fatalf("caught-up event %d = %+v", i, m)
		}
	}
	if m := readAgno(t, c2); m.m["event"] != "subscribed" {
		t.Fatalf("after catch-up: %+v", m)
	}
	for {
		m := readAgno(t, c2)
		if !m.live {
			t.Fatalf("non-live frame after subscribed: %+v", m)
		}
		if m.name == "WorkflowCompleted" {
			break
		}
	}

	// A workflow paused by its step's agent, continued with step_requirements.
	sendFrame(t, c2, map[string]any{"action": "start-workflow", "workflow_id": "gated", "message": "x"})
	var paused agnoMsg
	for paused.name != "WorkflowPaused" {
		paused = readAgno(t, c2)
	}
	reqs := paused.m["requirements"].([]any)
	reqs[0].(map[string]any)["confirmation"] = false
	gatedRun := paused.m["run_id"]
	sendFrame(t, c2, map[string]any{"action": "continue-workflow", "workflow_id": "gated", "run_id": gatedRun, "step_requirements": reqs})
	var done agnoMsg
	for done.name != "WorkflowCompleted" {
		done = readAgno(t, c2)
		if !done.live {
			t.Fatalf("continue frame %+v", done)
		}
	}
	if done.m["content"] != "rejected: " {
		t.Fatalf("continued workflow = %v", done.m)
	}

	for _, bad := range []struct {
		frame map[string]any
		want  string
	}{
		{map[string]any{"action": "start-workflow", "message": "x"}, "workflow_id is required"},
		{map[string]any{"action": "start-workflow", "workflow_id": "nope", "message": "x"}, `workflow "nope" not found`},
		{map[string]any{"action": "reconnect"}, "run_id is required"},
		{map[string]any{"action": "reconnect", "run_id": "missing"}, "not found"},
		{map[string]any{"action": "continue-workflow", "workflow_id": "gated", "run_id": gatedRun}, "not paused"},
		{map[string]any{"action": "fly"}, "Unknown action: fly"},
	} {
		sendFrame(t, c2, bad.frame)
		if m := readAgno(t, c2); m.m["event"] != "error" || !strings.Contains(m.m["error"].(string), bad.want) {
			t.Errorf("%v → %+v, want error %q", bad.frame, m, bad.want)
		}
	}
	if r, _ := e.eng.Get(t.Context(), slowRun); r.Status != core.RunCompleted {
		t.Errorf("the background workflow is %s", r.Status)
	}
}

func TestAgnoWorkflowSocketAuth(t *testing.T) {
	t.Parallel()
	const secret = "ws-agno-hs256-secret-0123456789abcdef-01"
	authn, err := auth.New(auth.Config{Mode: auth.ModeJWT, JWT: auth.JWTConfig{Algorithm: auth.AlgHS256, Key: secret}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := startWS(t, Config{Auth: authn}, runnabletest.All()...)
	c, hello := dialAgno(t, e, nil)
	if hello["requires_auth"] != true {
		t.Fatalf("connected = %v", hello)
	}
	sendFrame(t, c, map[string]any{"action": "start-workflow", "workflow_id": "pipeline", "message": "x"})
	if m := readAgno(t, c); m.m["event"] != "auth_required" {
		t.Fatalf("before authenticate: %+v", m)
	}
	sendFrame(t, c, map[string]any{"action": "authenticate"})
	if m := readAgno(t, c); m.m["event"] != "auth_error" || m.m["error"] != "Token is required" {
		t.Fatalf("no token: %+v", m)
	}
	sendFrame(t, c, map[string]any{"action": "authenticate", "token": "nope"})
	if m := readAgno(t, c); m.m["event"] != "auth_error" || m.m["error_type"] != "invalid_token" {
		t.Fatalf("bad token: %+v", m)
	}
	tok, err := auth.MintJWT(auth.MintConfig{Algorithm: auth.AlgHS256}, secret, "u1", []string{"workflows:pipeline:run"}, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	sendFrame(t, c, map[string]any{"action": "authenticate", "token": tok})
	if m := readAgno(t, c); m.m["event"] != "authenticated" || m.m["user_id"] != "u1" {
		t.Fatalf("authenticate: %+v", m)
	}
	sendFrame(t, c, map[string]any{"action": "start-workflow", "workflow_id": "gated", "message": "x"})
	if m := readAgno(t, c); m.m["event"] != "error" || !strings.Contains(m.m["error"].(string), "insufficient permissions") {
		t.Fatalf("without the workflow's scope: %+v", m)
	}
	sendFrame(t, c, map[string]any{"action": "start-workflow", "workflow_id": "pipeline", "message": "x", "user_id": "someone-else"})
	first := readAgno(t, c)
	if !first.live || first.name != "WorkflowStarted" {
		t.Fatalf("start: %+v", first)
	}
	run, err := e.eng.Get(t.Context(), first.m["run_id"].(string))
	if err != nil || run.UserID != "u1" {
		t.Fatalf("the run's user is %q (want the token's), %v", run.UserID, err)
	}
	// A header credential works as on /ws.
	c2, hello2 := dialAgno(t, e, http.Header{"Authorization": {"Bearer " + tok}})
	if hello2["requires_auth"] != false {
		t.Fatalf("connected with a header credential = %v", hello2)
	}
	sendFrame(t, c2, map[string]any{"action": "ping"})
	if m := readAgno(t, c2); m.m["event"] != "pong" {
		t.Fatalf("ping: %+v", m)
	}
}
