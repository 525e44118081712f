package remote

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
)

func newOS(t *testing.T, url string, timeout time.Duration) *Agent {
	t.Helper()
	a, err := New(Config{ID: "remote", AgentOS: url, AgentID: "assistant", Timeout: timeout,
		Headers: map[string]string{"Authorization": "Bearer tok"}})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestAgentOSStream: a run is POST /agents/{id}/runs as a multipart form
// with the configured headers; the remote's agno events become the run's
// (content deltas, tool calls, model requests; its own RunStarted not
// repeated) and its RunCompleted the outcome.
func TestAgentOSStream(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/agents/assistant/runs" || r.Method != http.MethodPost {
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, `{"detail":"no"}`, http.StatusUnauthorized)
			return
		}
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if r.FormValue("message") != "hello" || r.FormValue("stream") != "true" || r.FormValue("session_id") != "sess-1" {
			http.Error(w, "bad form "+r.Form.Encode(), http.StatusBadRequest)
			return
		}
		sseHeaders(w)
		writeSSE(w, "RunStarted", `{"event":"RunStarted","run_id":"r-9","session_id":"sess-1","model":"m"}`)
		writeSSE(w, "ModelRequestStarted", `{"event":"ModelRequestStarted","run_id":"r-9","model":"m","model_provider":"p"}`)
		writeSSE(w, "ToolCallStarted", `{"event":"ToolCallStarted","run_id":"r-9","tool":{"tool_call_id":"c1","tool_name":"calc","tool_args":{"x":1}}}`)
		writeSSE(w, "ToolCallCompleted", `{"event":"ToolCallCompleted","run_id":"r-9","content":"42","tool":{"tool_call_id":"c1","tool_name":"calc","result":"42"}}`)
		w.Write([]byte(": heartbeat\n\n"))
		writeSSE(w, "RunContent", `{"event":"RunContent","run_id":"r-9","content":"Hel","content_type":"str"}`)
		writeSSE(w, "", `{"event":"RunContent","run_id":"r-9","content":"lo"}`) // no event: line
		writeSSE(w, "RunIntermediateContent", `{"event":"RunIntermediateContent","run_id":"r-9","content":"x"}`)
		writeSSE(w, "RunCompleted", `{"event":"RunCompleted","run_id":"r-9","content":"Hello","metrics":{"input_tokens":3,"output_tokens":2,"total_tokens":5}}`)
	}))
	defer srv.Close()
	a := newOS(t, srv.URL, 5*time.Second)
	r := &recorder{}
	out, err := a.Execute(context.Background(), execution(r, "hello", nil))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := r.types(), "ModelRequestStarted ToolCallStarted ToolCallCompleted RunContent RunContent"; got != want {
		t.Errorf("events %q, want %q", got, want)
	}
	evs := r.list()
	if evs[0].ModelProvider != "p" || evs[1].Tool == nil || evs[1].Tool.ToolName != "calc" || string(evs[1].Tool.ToolArgs) != `{"x":1}` ||
		evs[2].Tool.Result != "42" || evs[3].Content != "Hel" || evs[4].Content != "lo" {
		t.Errorf("event payloads: %+v", evs)
	}
	if out.Content != "Hello" || out.Metrics.TotalTokens != 5 || len(out.Tools) != 1 || out.Paused != nil {
		t.Errorf("outcome %+v", out)
	}
	if len(out.Messages) != 2 || out.Messages[0].Content != "hello" || out.Messages[1].Content != "Hello" {
		t.Errorf("messages %+v", out.Messages)
	}
}

// TestAgentOSPauseContinue: the remote's RunPaused pauses the run with its
// tools pending and its run id in the paused state; continuing sends the
// decided tools to the remote's /continue of that run, in that session.
func TestAgentOSPauseContinue(t *testing.T) {
	var mu sync.Mutex
	var continued string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseMultipartForm(1 << 20)
		switch r.URL.Path {
		case "/agents/assistant/runs":
			sseHeaders(w)
			writeSSE(w, "RunStarted", `{"event":"RunStarted","run_id":"r-1","session_id":"remote-sess"}`)
			writeSSE(w, "RunPaused", `{"event":"RunPaused","run_id":"r-1","session_id":"remote-sess","tools":[{"tool_call_id":"c7","tool_name":"deploy","tool_args":{"env":"prod"},"requires_confirmation":true}]}`)
		case "/agents/assistant/runs/r-1/continue":
			mu.Lock()
			continued = r.FormValue("session_id") + " " + r.FormValue("tools")
			mu.Unlock()
			sseHeaders(w)
			writeSSE(w, "RunContinued", `{"event":"RunContinued","run_id":"r-1"}`)
			writeSSE(w, "ToolCallStarted", `{"event":"ToolCallStarted","run_id":"r-1","tool":{"tool_call_id":"c7","tool_name":"deploy"}}`)
			writeSSE(w, "ToolCallCompleted", `{"event":"ToolCallCompleted","run_id":"r-1","tool":{"tool_call_id":"c7","tool_name":"deploy","result":"ok"}}`)
			writeSSE(w, "RunCompleted", `{"event":"RunCompleted","run_id":"r-1","content":"Deployed."}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	a := newOS(t, srv.URL, 5*time.Second)
	out, err := a.Execute(context.Background(), execution(&recorder{}, "deploy", nil))
	if err != nil {
		t.Fatal(err)
	}
	if out.Paused == nil || len(out.Paused.Pending) != 1 || out.Paused.Pending[0].ToolCallID != "c7" || !out.Paused.Pending[0].RequiresConfirmation {
		t.Fatalf("outcome %+v", out)
	}
	if got := string(out.Paused.Runnable); got != `{"protocol":"agentos","run_id":"r-1","session_id":"remote-sess"}` {
		t.Errorf("runnable state %s", got)
	}
	// The state survives as JSON (the store's form).
	b, _ := json.Marshal(out.Paused)
	var resume core.PausedState
	if err := json.Unmarshal(b, &resume); err != nil {
		t.Fatal(err)
	}
	yes := true
	resume.Pending[0].Confirmed = &yes
	r := &recorder{}
	out, err = a.Execute(context.Background(), execution(r, "", &resume))
	if err != nil {
		t.Fatal(err)
	}
	if out.Content != "Deployed." || out.Paused != nil {
		t.Errorf("continued outcome %+v", out)
	}
	if got := r.types(); got != "ToolCallStarted ToolCallCompleted" {
		t.Errorf("continued events %q", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.HasPrefix(continued, "remote-sess [") || !strings.Contains(continued, `"confirmed":true`) || !strings.Contains(continued, `"tool_call_id":"c7"`) {
		t.Errorf("the remote's continue got %q", continued)
	}
}

// TestAgentOSCancel: cancelling the run's context cancels the remote run
// (POST .../runs/{run_id}/cancel with its session) and returns ctx's error
// promptly.
func TestAgentOSCancel(t *testing.T) {
	cancelled := make(chan string, 1)
	release := make(chan struct{})
	defer close(release)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/agents/assistant/runs":
			sseHeaders(w)
			writeSSE(w, "RunStarted", `{"event":"RunStarted","run_id":"r-5","session_id":"sess-1"}`)
			writeSSE(w, "RunContent", `{"event":"RunContent","run_id":"r-5","content":"thinking"}`)
			hold(r, release)
		case "/agents/assistant/runs/r-5/cancel":
			cancelled <- r.URL.Query().Get("session_id")
			w.Write([]byte("{}"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	a := newOS(t, srv.URL, 5*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	r := &recorder{}
	go func() {
		for len(r.list()) == 0 {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	var err error
	within(t, 3*time.Second, "a cancelled run", func() { _, err = a.Execute(ctx, execution(r, "go", nil)) })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	select {
	case s := <-cancelled:
		if s != "sess-1" {
			t.Errorf("cancel for session %q", s)
		}
	default:
		t.Fatal("the remote run was not cancelled")
	}
}

// TestAgentOSFailures: every way a remote can fail is a remote_error that
// says what happened, within the timeout — never a hang.
func TestAgentOSFailures(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	cases := []struct {
		name    string
		handler http.HandlerFunc
		want    []string
	}{
		{"status", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, `{"detail":"agent not found"}`, http.StatusNotFound)
		}, []string{"HTTP 404", "agent not found"}},
		{"not a stream", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<html>hi</html>"))
		}, []string{"not an event stream"}},
		{"garbage event", func(w http.ResponseWriter, r *http.Request) {
			sseHeaders(w)
			writeSSE(w, "RunStarted", `{"event":"RunStarted","run_id":"r"}`)
			writeSSE(w, "RunContent", `this is not json`)
		}, []string{"not agno's JSON"}},
		{"no end", func(w http.ResponseWriter, r *http.Request) {
			sseHeaders(w)
			writeSSE(w, "RunStarted", `{"event":"RunStarted","run_id":"r"}`)
			writeSSE(w, "RunContent", `{"event":"RunContent","content":"half"}`)
		}, []string{"closed the stream before the run ended"}},
		{"remote error", func(w http.ResponseWriter, r *http.Request) {
			sseHeaders(w)
			writeSSE(w, "RunError", `{"event":"RunError","content":"model exploded","error_type":"model_error"}`)
		}, []string{"model_error", "model exploded"}},
		{"remote cancelled", func(w http.ResponseWriter, r *http.Request) {
			sseHeaders(w)
			writeSSE(w, "RunCancelled", `{"event":"RunCancelled","reason":"server shutting down"}`)
		}, []string{"cancelled there", "server shutting down"}},
		{"pause without tools", func(w http.ResponseWriter, r *http.Request) {
			sseHeaders(w)
			writeSSE(w, "RunPaused", `{"event":"RunPaused","run_id":"r","tools":[]}`)
		}, []string{"without a tool call"}},
		{"no headers in time", func(w http.ResponseWriter, r *http.Request) {
			hold(r, block)
		}, []string{"no answer from the remote in 300ms"}},
		{"silent stream", func(w http.ResponseWriter, r *http.Request) {
			sseHeaders(w)
			writeSSE(w, "RunStarted", `{"event":"RunStarted","run_id":"r"}`)
			hold(r, block)
		}, []string{"sent nothing for 300ms"}},
		{"huge event", func(w http.ResponseWriter, r *http.Request) {
			sseHeaders(w)
			w.Write([]byte("data: " + strings.Repeat("x", maxEventBytes+10)))
		}, []string{"larger than"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(c.handler)
			defer srv.Close()
			idle, bound := 300*time.Millisecond, 3*time.Second
			if c.name == "huge event" {
				// The case is the size bound: 4 MiB under -race on a
				// loaded machine can pause longer than 300 ms.
				idle, bound = 5*time.Second, 20*time.Second
			}
			a := newOS(t, srv.URL, idle)
			var err error
			within(t, bound, c.name, func() { _, err = a.Execute(context.Background(), execution(&recorder{}, "x", nil)) })
			wantRemoteError(t, err, c.want...)
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		a := newOS(t, "http://"+addr, time.Second)
		within(t, 3*time.Second, "an unreachable remote", func() { _, err = a.Execute(context.Background(), execution(&recorder{}, "x", nil)) })
		wantRemoteError(t, err, "connection refused")
	})
	t.Run("lost paused state", func(t *testing.T) {
		a := newOS(t, "http://127.0.0.1:1", time.Second)
		_, err := a.Execute(context.Background(), execution(&recorder{}, "", &core.PausedState{Runnable: json.RawMessage(`{"protocol":"a2a"}`)}))
		wantRemoteError(t, err, "no remote AgentOS run")
	})
}

// TestNewChecks: a config is refused with what is wrong.
func TestNewChecks(t *testing.T) {
	cases := []struct {
		cfg  Config
		want string
	}{
		{Config{ID: "x"}, "exactly one of a2a"},
		{Config{ID: "x", A2A: "http://h/card", AgentOS: "http://h"}, "exactly one of a2a"},
		{Config{ID: "x", AgentOS: "http://h"}, "agent_id"},
		{Config{ID: "x", A2A: "ftp://h/card"}, "absolute http(s) URL"},
		{Config{ID: "x", A2A: "/card"}, "absolute http(s) URL"},
		{Config{ID: "x", AgentOS: "http://u:p@h", AgentID: "a"}, "credentials"},
		{Config{ID: "", A2A: "http://h/card"}, "id"},
	}
	for _, c := range cases {
		_, err := New(c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(%+v): %v, want an error saying %q", c.cfg, err, c.want)
		}
	}
	a, err := New(Config{ID: "w", A2A: "https://h/.well-known/agent-card.json"})
	if err != nil {
		t.Fatal(err)
	}
	if info := a.Info(); info.ID != "w" || info.Name != "w" {
		t.Errorf("info %+v", info)
	}
}
