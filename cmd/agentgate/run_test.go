package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/agentgate/agentgate/core"
)

func TestRunTarget(t *testing.T) {
	for _, c := range []struct {
		team, workflow string
		args           []string
		prefix, msg    string
		fails          bool
	}{
		{args: []string{"assistant", "hi"}, prefix: "/agents/assistant", msg: "hi"},
		{team: "support", args: []string{"hi"}, prefix: "/teams/support", msg: "hi"},
		{workflow: "a b", args: []string{"hi"}, prefix: "/workflows/a%20b", msg: "hi"},
		{team: "t", workflow: "w", args: []string{"hi"}, fails: true},
		{team: "t", args: []string{"x", "hi"}, fails: true},
		{args: []string{"hi"}, fails: true},
	} {
		prefix, msg, err := runTarget(c.team, c.workflow, c.args)
		if (err != nil) != c.fails || prefix != c.prefix || msg != c.msg {
			t.Errorf("runTarget(%q, %q, %q) = %q, %q, %v", c.team, c.workflow, c.args, prefix, msg, err)
		}
	}
}

// TestRunTeamPausesAndContinues runs `agentgate run --team` against a fake
// gateway: the team's runs path, a member's forwarded tool call shown, the
// pause answered from the terminal and continued on the team's path.
func TestRunTeamPausesAndContinues(t *testing.T) {
	var mu sync.Mutex
	var paths []string
	var continued []core.ToolExecution
	frame := func(w http.ResponseWriter, ev core.Event) {
		b, _ := json.Marshal(ev)
		fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", ev.EventIndex, ev.Event, b)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.Method+" "+r.URL.Path)
		mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		pending := core.ToolExecution{ToolCallID: "c1", ToolName: "calculator", RequiresConfirmation: true}
		switch r.URL.Path {
		case "/teams/support/runs":
			frame(w, core.Event{Event: "TeamRunStarted", RunID: "r1", SessionID: "s1", EventIndex: 0})
			frame(w, core.Event{Event: core.EventToolCallStarted, RunID: "m1", ParentRunID: "r1", AgentID: "hitl", EventIndex: 1,
				Tool: &core.ToolExecution{ToolName: "calculator", ToolArgs: json.RawMessage(`{"x":1}`)}})
			frame(w, core.Event{Event: "TeamRunPaused", RunID: "r1", SessionID: "s1", EventIndex: 2, Tools: []core.ToolExecution{pending}})
		case "/teams/support/runs/r1/continue":
			_ = r.ParseForm()
			mu.Lock()
			_ = json.Unmarshal([]byte(r.PostForm.Get("tools")), &continued)
			mu.Unlock()
			frame(w, core.Event{Event: "TeamRunContinued", RunID: "r1", EventIndex: 3})
			frame(w, core.Event{Event: "TeamRunContent", RunID: "r1", EventIndex: 4, Content: "done"})
			frame(w, core.Event{Event: "TeamRunCompleted", RunID: "r1", EventIndex: 5})
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	var out, errw bytes.Buffer
	c := &client{base: srv.URL, http: srv.Client(), out: &out, errw: &errw, in: bufio.NewReader(strings.NewReader("y\n")), retries: 1}
	prefix, msg, _ := runTarget("support", "", []string{"hello"})
	if err := c.run(context.Background(), prefix, msg, ""); err != nil {
		t.Fatalf("run: %v; stderr: %s", err, errw.String())
	}
	if strings.TrimSpace(out.String()) != "done" {
		t.Errorf("stdout = %q", out.String())
	}
	if !strings.Contains(errw.String(), "[hitl: tool calculator") {
		t.Errorf("the member's tool call is not shown: %s", errw.String())
	}
	want := []string{"POST /teams/support/runs", "POST /teams/support/runs/r1/continue"}
	if strings.Join(paths, ",") != strings.Join(want, ",") {
		t.Errorf("requests = %v, want %v", paths, want)
	}
	if len(continued) != 1 || continued[0].ToolCallID != "c1" || continued[0].Confirmed == nil || !*continued[0].Confirmed {
		t.Errorf("continued with %+v", continued)
	}
}
