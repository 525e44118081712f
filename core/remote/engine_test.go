package remote

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentgate/agentgate/core"
	"github.com/agentgate/agentgate/internal/testutil"
	"github.com/agentgate/agentgate/internal/testutil/enginetest"
)

// TestInEngine runs a remote AgentOS agent in a real engine (SQLite store,
// in-memory log): a blocking run pauses on the remote's confirmation, its
// remote run id stored with the paused state; Continue resumes it from the
// store and completes; a failing remote ends a run RunError remote_error;
// Cancel cancels the remote run.
func TestInEngine(t *testing.T) {
	var cancels, pausedCancels atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseMultipartForm(1 << 20)
		switch {
		case r.URL.Path == "/agents/assistant/runs" && r.FormValue("message") == "slow":
			sseHeaders(w)
			writeSSE(w, "RunStarted", `{"event":"RunStarted","run_id":"r-slow"}`)
			writeSSE(w, "RunContent", `{"event":"RunContent","content":"..."}`)
			hold(r, nil)
		case r.URL.Path == "/agents/assistant/runs" && r.FormValue("message") == "broken":
			w.Header().Set("Content-Type", "text/event-stream")
			w.Write([]byte("data: {oops\n\n"))
		case r.URL.Path == "/agents/assistant/runs":
			sseHeaders(w)
			writeSSE(w, "RunStarted", `{"event":"RunStarted","run_id":"r-1"}`)
			writeSSE(w, "RunPaused", `{"event":"RunPaused","run_id":"r-1","tools":[{"tool_call_id":"c1","tool_name":"deploy","requires_confirmation":true}]}`)
		case r.URL.Path == "/agents/assistant/runs/r-1/continue" && strings.Contains(r.FormValue("tools"), `"confirmed":true`):
			sseHeaders(w)
			writeSSE(w, "RunContinued", `{"event":"RunContinued","run_id":"r-1"}`)
			writeSSE(w, "RunCompleted", `{"event":"RunCompleted","run_id":"r-1","content":"Deployed."}`)
		case r.URL.Path == "/agents/assistant/runs/r-slow/cancel":
			cancels.Add(1)
		case r.URL.Path == "/agents/assistant/runs/r-1/cancel":
			pausedCancels.Add(1)
		default:
			http.Error(w, "unexpected "+r.URL.Path+" "+r.Form.Encode(), http.StatusTeapot)
		}
	}))
	defer srv.Close()
	a := newOS(t, srv.URL, 5*time.Second)
	env := enginetest.New(t, enginetest.Options{}, a)
	ctx := context.Background()

	run, err := env.Engine.RunBlocking(ctx, core.StartParams{AgentID: "remote", Message: "deploy"})
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != core.RunPaused || len(run.Requirements) != 1 || run.Requirements[0].ID != "c1" {
		t.Fatalf("run %+v", run)
	}
	stored, err := env.Store.GetRun(ctx, run.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Paused == nil || !strings.Contains(string(stored.Paused.Runnable), `"run_id":"r-1"`) {
		t.Fatalf("stored paused state %+v", stored.Paused)
	}
	yes := true
	if _, _, err := env.Engine.Continue(ctx, core.ContinueParams{RunID: run.RunID,
		Tools: []core.ToolExecution{{ToolCallID: "c1", Confirmed: &yes}}}); err != nil {
		t.Fatal(err)
	}
	done := testutil.WaitRunStatus(t, env.Engine, run.RunID, core.RunCompleted, 5*time.Second)
	if done.Content != "Deployed." {
		t.Errorf("continued run %+v", done)
	}

	failed, err := env.Engine.RunBlocking(ctx, core.StartParams{AgentID: "remote", Message: "broken"})
	if err != nil {
		t.Fatal(err)
	}
	if failed.Status != core.RunError || failed.ErrorType != ErrorType {
		t.Errorf("broken remote: %+v", failed)
	}

	slow, err := env.Engine.Start(ctx, core.StartParams{AgentID: "remote", Message: "slow"})
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "the remote's content", func() bool {
		return eventCount(env, slow.RunID) >= 2 // RunStarted, the remote's RunContent
	})
	if _, err := env.Engine.Cancel(ctx, slow.RunID); err != nil {
		t.Fatal(err)
	}
	testutil.WaitRunStatus(t, env.Engine, slow.RunID, core.RunCancelled, 5*time.Second)
	if cancels.Load() != 1 {
		t.Errorf("the remote run was cancelled %d times, want 1", cancels.Load())
	}

	// A paused run cancelled here cancels the remote run it paused on.
	again, err := env.Engine.RunBlocking(ctx, core.StartParams{AgentID: "remote", Message: "deploy"})
	if err != nil || again.Status != core.RunPaused {
		t.Fatalf("second pause: %+v, %v", again, err)
	}
	if _, err := env.Engine.Cancel(ctx, again.RunID); err != nil {
		t.Fatal(err)
	}
	if got := testutil.WaitRunStatus(t, env.Engine, again.RunID, core.RunCancelled, 5*time.Second); got.Status != core.RunCancelled {
		t.Fatalf("cancelled paused run %+v", got)
	}
	if pausedCancels.Load() != 1 {
		t.Errorf("the remote's paused run was cancelled %d times, want 1", pausedCancels.Load())
	}
}

// eventCount is how many events the log holds for the run.
func eventCount(env *enginetest.Env, runID string) int {
	evs, err := env.Log.Read(context.Background(), core.ReadParams{RunID: runID, After: -1, Limit: 100})
	if err != nil {
		return 0
	}
	return len(evs)
}
